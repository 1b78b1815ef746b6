import asyncio

import pytest

from desktop.events import EventBus, ProfileChanged
from desktop.power import NO_BATTERY, PowerMonitor, PowerState, choose_profile, fake_source, power_source
from desktop.quality import BALANCED, PERFORMANCE, SAVER


@pytest.mark.parametrize("spec, profile, words", [
    ("fake:80,true", PERFORMANCE, "mains"),
    ("fake:10,true", PERFORMANCE, "mains"),
    ("fake:31,false", BALANCED, "> 30 %"),
    ("fake:30,false", SAVER, "<= 30 %"),
    ("fake:5,false", SAVER, "<= 30 %"),
])
def test_auto_policy_under_each_battery_state(spec, profile, words):
    chosen, reason = choose_profile(fake_source(spec)())
    assert chosen == profile and words in reason


def test_no_battery_threshold_and_manual_override():
    assert choose_profile(NO_BATTERY)[0] == PERFORMANCE
    assert choose_profile(PowerState(50, False), saver_below_percent=60)[0] == SAVER
    chosen, reason = choose_profile(PowerState(90, True), manual="saver")
    assert chosen == SAVER and "settings" in reason


@pytest.mark.parametrize("spec", ["fake:", "fake:120,true", "fake:20,maybe", "battery", "fake:x,true"])
def test_bad_power_source_is_a_clear_error(spec):
    with pytest.raises(ValueError, match="PERCENT,PLUGGED"):
        power_source(spec)


def test_psutil_source_never_raises():
    state = power_source("auto")()
    assert state.percent is None or 0 <= state.percent <= 100


def test_every_profile_is_valid_for_the_pipeline():
    from audio.frames import Chunker

    for p in (PERFORMANCE, BALANCED, SAVER):
        assert Chunker(p.chunk_ms).chunk_bytes == p.chunk_ms * 32
        assert p.vad_frame_ms in (10, 20, 30) and 0 <= p.denoise_level <= 4
    assert SAVER.chunk_ms / PERFORMANCE.chunk_ms >= 5  # a fifth of the messages per second


async def test_monitor_emits_profile_changes_when_the_battery_changes():
    state = {"s": PowerState(90, True, "fake")}
    bus = EventBus()
    seen = []
    bus.subscribe(seen.append)
    clock = {"t": 0.0}
    mon = PowerMonitor(lambda: state["s"], bus, interval_s=0.05, clock=lambda: clock["t"])
    assert mon.profile == PERFORMANCE
    mon.start()
    state["s"] = PowerState(20, False, "fake")
    for _ in range(100):
        clock["t"] += 0.1
        await asyncio.sleep(0.01)
        if seen:
            break
    await mon.stop()
    assert seen and isinstance(seen[0], ProfileChanged) and seen[0].profile == "saver"
    assert not mon.check()  # no change, no event
