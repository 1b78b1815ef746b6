"""Battery monitoring and the automatic choice of a quality profile.

``PowerState`` comes from psutil's ``sensors_battery()`` (None on machines without a battery; the function
is missing on some platforms) or from a fake source (``fake:PERCENT,PLUGGED``, e.g. ``fake:20,false``) for
tests and demos.  ``choose_profile`` is the policy; ``PowerMonitor`` re-reads the source every 30 s and after
a resume from sleep, and emits ``ProfileChanged`` on the bus when the profile it chooses changes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from desktop.events import EventBus, ProfileChanged
from desktop.quality import BALANCED, PERFORMANCE, SAVER, QualityProfile, profile_named


@dataclass(frozen=True, slots=True)
class PowerState:
    percent: float | None  # None: no battery
    plugged: bool | None
    source: str = "psutil"

    @property
    def has_battery(self) -> bool:
        return self.percent is not None


NO_BATTERY = PowerState(None, None, "none")
PowerSource = Callable[[], PowerState]


def psutil_source() -> PowerState:
    import psutil

    read = getattr(psutil, "sensors_battery", None)
    if read is None:
        return PowerState(None, None, "unsupported")
    try:
        battery = read()
    except (OSError, RuntimeError, NotImplementedError):
        return PowerState(None, None, "unavailable")
    if battery is None:
        return NO_BATTERY
    return PowerState(float(battery.percent), bool(battery.power_plugged) if battery.power_plugged is not None else None)


def fake_source(spec: str) -> PowerSource:
    """``fake:PERCENT,PLUGGED`` -> a source that always reports that state."""
    try:
        body = spec.split(":", 1)[1]
        percent_s, plugged_s = body.split(",", 1)
        percent = float(percent_s)
        plugged = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}[plugged_s.strip().lower()]
        if not 0 <= percent <= 100:
            raise ValueError
    except (IndexError, ValueError, KeyError):
        raise ValueError(f"bad power source {spec!r}: expected fake:PERCENT,PLUGGED such as fake:20,false") from None
    state = PowerState(percent, plugged, "fake")
    return lambda: state


def power_source(setting: str) -> PowerSource:
    if setting == "auto":
        return psutil_source
    if setting.startswith("fake:"):
        return fake_source(setting)
    raise ValueError(f"bad power source {setting!r}: use auto or fake:PERCENT,PLUGGED")


def choose_profile(state: PowerState, manual: str = "auto", saver_below_percent: int = 30
                   ) -> tuple[QualityProfile, str]:
    """The profile and a sentence saying why."""
    if manual != "auto":
        return profile_named(manual), f"chosen in settings ({manual})"
    if not state.has_battery:
        return PERFORMANCE, "no battery (desktop or mains power)"
    assert state.percent is not None
    if state.plugged:
        return PERFORMANCE, f"on mains power (battery {state.percent:.0f} %)"
    if state.percent <= saver_below_percent:
        return SAVER, f"on battery at {state.percent:.0f} % (<= {saver_below_percent} %)"
    return BALANCED, f"on battery at {state.percent:.0f} % (> {saver_below_percent} %)"


class PowerMonitor:
    def __init__(self, source: PowerSource, bus: EventBus, *, manual: str = "auto", saver_below_percent: int = 30,
                 interval_s: float = 30.0, clock: Callable[[], float] = time.time):
        self.source, self.bus = source, bus
        self.manual, self.saver_below_percent = manual, saver_below_percent
        self.interval_s, self.clock = interval_s, clock
        self.state = source()
        self.profile, self.reason = choose_profile(self.state, manual, saver_below_percent)
        self._task: asyncio.Task[None] | None = None

    def announce(self) -> ProfileChanged:
        ev = ProfileChanged(self.profile.name, self.reason)
        self.bus.emit(ev)
        return ev

    def check(self) -> bool:
        """Re-read the source; emit ProfileChanged and return True if the profile changed."""
        self.state = self.source()
        profile, reason = choose_profile(self.state, self.manual, self.saver_below_percent)
        changed = profile != self.profile
        self.profile, self.reason = profile, reason
        if changed:
            self.announce()
        return changed

    def set_manual(self, manual: str) -> None:
        self.manual = manual
        self.check()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="power-monitor")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        last = self.clock()
        while True:
            # wake often enough to notice a resume from sleep (the wall clock jumps), read every interval
            await asyncio.sleep(min(5.0, self.interval_s))
            now = self.clock()
            if now - last >= self.interval_s:  # also true right after a resume: the wall clock jumped
                last = now
                self.check()
