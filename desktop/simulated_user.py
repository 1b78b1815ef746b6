"""A simulated person at the push-to-talk key, for headless runs: `run`, `selftest`, the bench, the load test.

``speak_frames`` plays audio frames as one push-to-talk turn the way a person would: the key goes down
after the pre-roll and comes up shortly after the last word (``release_index``, found by the local VAD),
unless the caller says when (``run --press-at/--release-at``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from audio.frames import frames_for_ms
from audio.sources import paced
from desktop.engine import SessionEngine

REACTION_MS = 150  # how long after their last word a person lets go of the key


def release_index(frames: list[bytes], tail_ms: int, reaction_ms: int = REACTION_MS) -> int:
    """The frame at which a person releases push-to-talk: ``reaction_ms`` after the last speech ends
    (found by the local VAD), and never later than the end of the audio minus the tail."""
    from audio.vad import VadOptions, VoiceActivityDetector, segments

    vad = VoiceActivityDetector(VadOptions(mode=2))
    events = [ev for i, f in enumerate(frames) if (ev := vad.process(f, (i + 1) / 100)) is not None]
    spans = segments(events + vad.finish())
    latest = len(frames) - frames_for_ms(tail_ms)
    if not spans:
        return max(0, latest)
    return max(0, min(latest, int((spans[-1][1] * 1000 + reaction_ms) / 10)))


Utterance = tuple[list[bytes], int]  # 10 ms frames, and the frame at which the key is released


def load_utterances(paths: Sequence[Path], tail_ms: int) -> list[Utterance]:
    """WAV files read once, each with its key-release frame found once (the VAD pass is not loop work)."""
    from audio.sources import WavSource

    out = []
    for path in paths:
        frames = WavSource(path).frames
        out.append((frames, release_index(frames, tail_ms)))
    return out


async def speak_frames(engine: SessionEngine, frames: list[bytes], *, realtime: bool = True,
                       release_at: int | None = None, press_at: int | None = None,
                       feed: Callable[[bytes, float], None] | None = None) -> None:
    """One push-to-talk turn from ``frames`` the way a person does it: the key goes down after the pre-roll
    (or at frame ``press_at``), comes up shortly after the last word (``release_index``, pass it in to skip
    the VAD pass; or at frame ``release_at``), and the gate ends the turn as soon as the person is done.
    The audio after the release keeps flowing, as a live microphone does.  Stops early when the session
    fails.  ``feed``: where the frames go (a session's ``audio.feed``: its mute and half-duplex; default:
    straight to ``engine.feed_frame``)."""
    opts = engine.options
    if press_at is None:
        press_at = frames_for_ms(opts.preroll_ms)
    press_at = max(0, min(press_at, len(frames)))
    if release_at is None:
        release_at = release_index(frames, opts.tail_ms)
    release_at = max(press_at, release_at)
    feed = engine.feed_frame if feed is None else feed
    i = 0
    block = engine.profile.capture_block_ms // 10 if engine.profile else 1
    async for frame, captured in paced(frames, realtime, block=block):
        if engine.failure is not None:  # the session ended (wrong key, quota...): nobody is listening
            return
        if i == press_at:
            engine.press()
        if i == release_at:
            engine.release()
        feed(frame, captured)
        i += 1
    if release_at >= len(frames):
        engine.release()
