from __future__ import annotations

import numpy as np
import pytest

from audio.frames import FRAME_BYTES, FRAME_MS
from audio.level import FLOOR_DBFS, LevelMeter, assess_recording, frame_level
from audio.sources import silence, tone


def test_frame_level_of_silence_and_full_scale_sine():
    assert frame_level(b"\0" * FRAME_BYTES) == (FLOOR_DBFS, FLOOR_DBFS)
    rms, peak = frame_level(tone(10, 1000, 32767)[0])
    assert rms == pytest.approx(-3.01, abs=0.1)
    assert peak == pytest.approx(0.0, abs=0.1)


def test_meter_is_decimated_to_at_most_30_per_second_and_keeps_peaks():
    meter = LevelMeter(30)
    frames = silence(1000)
    click = np.zeros(160, dtype="<i2")
    click[5] = 16384
    frames[41] = click.tobytes()  # a click between two reports
    levels = [lv for f in frames if (lv := meter.push(f)) is not None]
    assert 1 <= len(levels) <= 30
    assert 1000.0 / (FRAME_MS * meter.every) <= 30  # readings per second
    assert max(lv.peak_dbfs for lv in levels) == pytest.approx(-6.02, abs=0.1)
    with pytest.raises(ValueError):
        LevelMeter(0)


def test_assessment_advice():
    rng = np.random.default_rng(1)
    noise = [(rng.normal(0, 300, 160)).astype("<i2").tobytes() for _ in range(200)]
    quiet_room = silence(1000) + tone(1000, 300, 8000)
    assert "good" in assess_recording(quiet_room).advice[0]
    assert any("noisy room" in a for a in assess_recording(noise + tone(500, 300, 2000)).advice)
    assert any("too quiet" in a for a in assess_recording(tone(2000, 300, 50)).advice)
    with pytest.raises(ValueError):
        assess_recording([])
