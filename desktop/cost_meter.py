"""What the conversation has cost so far: this session's and today's tokens and their estimated price.

Subscribed to the ``EventBus``, the meter adds each ``UsageReported`` to the session's and the day's totals
and puts a ``CostUpdate`` on the bus (the window's cost line and `run --json` show it).  Today's total
starts from what the history database holds for the day (earlier sessions', also those before a restart)
and starts again from zero when the local date changes.  Prices come from the settings' price table
(``desktop.pricing``): estimates, always called so.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from desktop.events import CostUpdate, EventBus, UsageReported
from desktop.live.usage import Usage
from desktop.pricing import PriceTable, dollars, tokens
from desktop.state.usage import local_day


class CostMeter:
    def __init__(self, bus: EventBus, prices: PriceTable, today: Usage | None = None, *, day: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``today``: what the history already holds for ``day`` (the local date now, by default)."""
        self.bus = bus
        self.prices = prices
        self.clock = clock
        self.day = day or local_day(clock())
        self.today = today or Usage()
        self.session = Usage()

    def attach(self) -> Callable[[], None]:
        """Start counting; returns the function that stops it."""
        return self.bus.on(UsageReported, self._on_usage)

    def _on_usage(self, ev: UsageReported) -> None:
        day = local_day(self.clock())
        if day != self.day:
            self.day, self.today = day, Usage()
        self.session = self.session + ev.report
        self.today = self.today + ev.report
        self.announce()

    def announce(self) -> CostUpdate:
        """Put the totals as they are on the bus (also at the start, so today's shows before the first turn)."""
        update = CostUpdate(self.session, self.today, self.prices.estimate(self.session),
                            self.prices.estimate(self.today), self.day, self.prices.date)
        self.bus.emit(update)
        return update


def cost_line(update: CostUpdate) -> str:
    """The totals in one line, as the window and the command line show them."""
    return (f"Estimated cost: this session {tokens(update.session.total_tokens)} tokens ≈ "
            f"{dollars(update.session_usd)} · today {tokens(update.today.total_tokens)} tokens ≈ "
            f"{dollars(update.today_usd)}")


def cost_details(update: CostUpdate, prices: PriceTable | None = None) -> str:
    """The totals by side, and where the prices come from (the cost line's tool tip and accessible text)."""
    s, t = update.session, update.today
    where = f"prices noted {update.prices_date}" + (f" from {prices.source}" if prices is not None else "")
    return (f"Estimated from Gemini's token counts ({where}; change them in the settings file's [prices] "
            f"table). This session: {s.prompt_tokens:,} in, {s.response_tokens:,} out, ≈ "
            f"{dollars(update.session_usd)}. Today ({update.day}): {t.prompt_tokens:,} in, "
            f"{t.response_tokens:,} out, ≈ {dollars(update.today_usd)}.")
