"""How the audio library reports its timings without knowing who collects them.

Anything with ``observe_s(stage, seconds)`` is a ``StageTimer`` (the app's ``desktop.metrics.Metrics`` is
one); ``NullTimer`` drops the samples, for use without an app around the library.
"""

from __future__ import annotations

from typing import Protocol


class StageTimer(Protocol):
    def observe_s(self, stage: str, seconds: float) -> None: ...


class NullTimer:
    def observe_s(self, stage: str, seconds: float) -> None:
        pass
