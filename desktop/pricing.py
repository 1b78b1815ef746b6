"""The estimated price of Gemini Live tokens: a small, dated price table, and the user's changes to it.

Gemini bills the Live API by the token, at a rate per million tokens that depends on the modality and on
the side (input: the prompt, output: the response).  The default table below was noted on ``DEFAULT_DATE``
from ``DEFAULT_SOURCE`` (the paid tier's native-audio Live rates).  Rates change: the settings file can
replace any of them, in a ``[prices]`` table::

    [prices]
    date = "2027-01-15"        # when you checked (shown next to the estimate)
    source = "my invoice"
    audio = { input = 3.0, output = 12.0 }   # US dollars per million tokens
    text = { input = 0.5, output = 2.0 }

Modalities: ``text``, ``audio``, ``image``, ``video``.  Parts a report does not name a modality for
(``unspecified``) are priced at the audio rate (the costlier one, so an estimate errs high, never low);
``document`` parts and thinking tokens at the text rate.  A bad value is reported by name and that rate
keeps its default; the app never stops for it.  Every figure computed here is an estimate, and is called so
wherever it is shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from desktop.live.usage import PROMPT, THOUGHTS, UNSPECIFIED, Usage

DEFAULT_DATE = "2026-12-08"
DEFAULT_SOURCE = "https://ai.google.dev/gemini-api/docs/pricing (Live API, native audio, paid tier)"
PRICED_MODALITIES = ("text", "audio", "image", "video")
MAX_RATE = 1_000.0  # US dollars per million tokens: a rate above this is a typo
SIDES = {"input": 0, "output": 1}
_PRICED_AS = {UNSPECIFIED: "audio", "document": "text", THOUGHTS: "text"}


@dataclass(frozen=True, slots=True)
class PriceTable:
    """US dollars per million tokens, (input, output) by modality."""

    rates: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_RATES))
    date: str = DEFAULT_DATE
    source: str = DEFAULT_SOURCE

    def rate(self, modality: str, side: str) -> float:
        """Dollars per million tokens of ``modality`` on the prompt (input) or response (output) ``side``."""
        rates = self.rates.get(_PRICED_AS.get(modality, modality)) or self.rates["audio"]
        return rates[0] if side == PROMPT else rates[1]

    def estimate(self, usage: Usage) -> float:
        """The estimated price of ``usage`` in US dollars."""
        return sum(tokens * self.rate(modality, side) for side, modality, tokens in usage.parts()) / 1e6

    def changes(self) -> dict[str, Any]:
        """What differs from the default table, as the settings file's ``[prices]`` table holds it."""
        out: dict[str, Any] = {}
        if self.date != DEFAULT_DATE:
            out["date"] = self.date
        if self.source != DEFAULT_SOURCE:
            out["source"] = self.source
        for modality, (rate_in, rate_out) in self.rates.items():
            if DEFAULT_RATES.get(modality) != (rate_in, rate_out):
                out[modality] = {"input": rate_in, "output": rate_out}
        return out


DEFAULT_RATES: Mapping[str, tuple[float, float]] = {
    "text": (0.50, 2.00),
    "audio": (3.00, 12.00),
    "image": (3.00, 12.00),
    "video": (3.00, 12.00),
}
DEFAULT_PRICES = PriceTable()


def _rate(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: expected a number of US dollars per million tokens, got {value!r}")
    if not math.isfinite(value) or not 0 <= value <= MAX_RATE:
        raise ValueError(f"{where}: {value!r} is outside 0..{MAX_RATE:g} US dollars per million tokens")
    return float(value)


def parse_prices(data: Any, source: str) -> tuple[PriceTable, list[str]]:
    """The ``[prices]`` table of the settings file at ``source`` over the defaults, and what was wrong in it
    (one line each, naming the entry; a bad entry keeps its default)."""
    where = f"price table in {source}"
    if not isinstance(data, Mapping):
        return DEFAULT_PRICES, [f"{where}: expected a table ([prices]), got {data!r}; using the default prices"]
    rates = dict(DEFAULT_RATES)
    table = DEFAULT_PRICES
    problems: list[str] = []
    for key, value in data.items():
        if key in ("date", "source"):
            if isinstance(value, str) and value.strip() and len(value) <= 200:
                table = replace(table, date=value.strip()) if key == "date" else replace(table, source=value.strip())
            else:
                problems.append(f"{where}: {key} must be short text, got {value!r}; using the default")
            continue
        if key not in PRICED_MODALITIES:
            problems.append(f"{where}: unknown entry {key!r} (known: date, source, "
                            f"{', '.join(PRICED_MODALITIES)}); ignored")
            continue
        if not isinstance(value, Mapping):
            problems.append(f"{where}: {key} must be a table like {{ input = 3.0, output = 12.0 }}, got "
                            f"{value!r}; using the default {key} rates")
            continue
        pair = list(rates[key])
        for side, amount in value.items():
            if side not in SIDES:
                problems.append(f"{where}: {key}.{side} is not input or output; ignored")
                continue
            try:
                pair[SIDES[side]] = _rate(amount, f"{key}.{side}")
            except ValueError as exc:
                problems.append(f"{where}: {exc}; using the default ({DEFAULT_RATES[key][SIDES[side]]:g})")
        rates[key] = (pair[0], pair[1])
    return replace(table, rates=rates), problems


def dollars(amount: float) -> str:
    """An estimated price as shown: cents below a dollar get more digits, since a turn costs fractions of one."""
    if amount < 0.01:
        return f"${amount:.4f}"
    if amount < 1:
        return f"${amount:.3f}"
    return f"${amount:,.2f}"


def tokens(n: int) -> str:
    """A token count as shown: 950, 12.3k, 4.1M."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1e3:.1f}k"
    return f"{n / 1e6:.1f}M"
