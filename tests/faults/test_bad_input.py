"""Items 14 and 15: bad input (odd WAV files, out-of-range ports, broken URLs) and a silent server are one clear
line with the right exit code, never a traceback, an empty reason or a long wait."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audio.sources import read_wav
from tests.faults.conftest import FAKE_KEY, FAKE_TOKEN, wav
from tests.faults.peers import SilentPeer
from tests.wavs import write_wav


def _speech() -> np.ndarray:
    """The status request (16 kHz mono int16)."""
    return np.frombuffer(read_wav(wav("status.wav")), dtype="<i2")


def _stereo_cut_mid_frame(path: Path) -> Path:
    stereo = np.repeat(_speech(), 2).astype("<i2").tobytes()
    return write_wav(path, stereo[:-3], channels=2)  # the last frame cut: an odd number of bytes


def _pcm24(path: Path) -> Path:
    samples = _speech().astype("<i4") << 8
    return write_wav(path, b"".join(int(v).to_bytes(3, "little", signed=True) for v in samples), bits=24,
                     extensible=True)


def _no_samples(path: Path) -> Path:
    return write_wav(path, b"")


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


WAVS = [
    # (item, what, file, command, exit code, words on stderr or in the transcript)
    (14, "a stereo WAV cut mid-frame (odd data length)", _stereo_cut_mid_frame, "run", 0,
     "What is the status of my last task"),
    (14, "the same stereo file cut mid-frame", _stereo_cut_mid_frame, "vad", 0, "speech"),
    (15, "a 24-bit WAV (WAVE_FORMAT_EXTENSIBLE, 'unknown format: 65534' before)", _pcm24, "run", 0,
     "What is the status of my last task"),
    (15, "a WAV header with no samples (waited 61 s before)", _no_samples, "run", 2, "has no audio (0 samples)"),
    (15, "an empty file ('()' before)", _empty, "run", 2, "is empty (0 bytes)"),
]


@pytest.mark.parametrize("item, what, make, command, rc, words", WAVS, ids=[w[1][:30] for w in WAVS])
def test_item14_15_odd_wav_files(app, reliability, tmp_path, item, what, make, command, rc, words):
    path = make(tmp_path / "input.wav")
    args = ["run", "--wav", str(path), "--offline", "--fast"] if command == "run" else ["audio", "vad", str(path)]
    result = app.run(*args, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.rc == rc and result.seconds < 15, (result.rc, result.stderr[-2000:])
    if rc:
        line = result.one_line_error()
        assert words in line, line
        shown = f"`{line.removeprefix('gemini-codegen: error: ').replace(str(tmp_path), 'TMP')}`"
    else:
        assert words in result.stdout, result.stdout[-2000:]
        shown = "read (whole frames kept, mixed down, converted to 16-bit); the turn completes" if command == "run" \
            else "the speech segments are printed"
    reliability(item, f"`{' '.join(args[:2] if command == 'run' else args[:2])}` with {what}", shown, result)


SETTINGS = [
    (14, "`--metrics-port 99999`", ["run", "--offline", "--fast", "--wav", wav("status.wav"), "--metrics-port", "99999"],
     "99999 is outside 0..65535"),
    (14, "`--live-url ws://127.0.0.1:99999`", ["run", "--fast", "--wav", wav("status.wav"),
                                              "--live-url", "ws://127.0.0.1:99999"], "not a usable URL"),
    (14, "`--codegen-url http://127.0.0.1:99999`", ["runs", "list", "--codegen-url", "http://127.0.0.1:99999"],
     "not a usable URL"),
    (15, "`--codegen-url 'not a url'`", ["runs", "list", "--codegen-url", "not a url"],
     "must start with http:// or https://"),
    (15, "`--codegen-url ftp://example.com`", ["runs", "list", "--codegen-url", "ftp://example.com"],
     "must start with http:// or https://"),
    (15, "`--codegen-url ''`", ["runs", "list", "--codegen-url", ""], "must not be empty"),
]


@pytest.mark.parametrize("item, what, args, words", SETTINGS, ids=[s[1] for s in SETTINGS])
def test_item14_15_bad_ports_and_urls(app, reliability, item, what, args, words):
    result = app.run(*args, env=app.env(GEMINI_API_KEY=FAKE_KEY, CODEGEN_API_TOKEN=FAKE_TOKEN, CODEGEN_ORG_ID="1"),
                     timeout=30)
    line = result.one_line_error()
    assert result.rc == 2 and words in line and result.seconds < 5, line
    reliability(item, what, f"refused at once: `{line.removeprefix('gemini-codegen: error: ')}`", result)


def test_item15_a_silent_handshake_says_why(app, peers, reliability):
    peer = peers.call(SilentPeer().start())
    result = app.run("run", "--fast", "--wav", wav("status.wav"), "--live-url", f"wss://127.0.0.1:{peer.port}",
                     env=app.env(GEMINI_API_KEY=FAKE_KEY, GEMINI_CODEGEN_SETUP_TIMEOUT_S="1"), timeout=30)
    peers.call(peer.stop())
    line = result.one_line_error()
    assert result.rc == 1 and "no answer to the connection handshake within 1 s" in line, line
    assert not line.rstrip().endswith(":") and result.seconds < 5
    reliability(15, "a Live server that accepts the connection and never answers (setup timeout shrunk to 1 s)",
                f"`{line.removeprefix('gemini-codegen: error: ').replace(str(peer.port), 'PORT')}`", result)
