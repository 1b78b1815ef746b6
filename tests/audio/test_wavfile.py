"""WAV files as people have them: every PCM width, float, extensible headers, cut files; and one clear
sentence for everything else."""

from __future__ import annotations

import numpy as np
import pytest

from audio.sources import read_wav
from audio.wavfile import MAX_SECONDS, WavError, read_wav_file
from tests.wavs import write_wav

TONE = (np.sin(np.arange(1600) / 1600 * 2 * np.pi * 40) * 0.5)  # 0.1 s at 16 kHz, half scale


@pytest.mark.parametrize("bits, tag, encode", [
    (8, 1, lambda x: (x * 127 + 128).astype(np.uint8).tobytes()),
    (16, 1, lambda x: (x * 32767).astype("<i2").tobytes()),
    (24, 1, lambda x: b"".join(int(v).to_bytes(3, "little", signed=True) for v in (x * 8388607).astype(int))),
    (32, 1, lambda x: (x * 2147483647).astype("<i4").tobytes()),
    (32, 3, lambda x: x.astype("<f4").tobytes()),
    (64, 3, lambda x: x.astype("<f8").tobytes()),
])
@pytest.mark.parametrize("extensible", [False, True])
def test_every_pcm_width_reads_as_the_same_16_bit_signal(tmp_path, bits, tag, encode, extensible):
    path = write_wav(tmp_path / "x.wav", encode(TONE), tag=tag, bits=bits, extensible=extensible)
    got = read_wav_file(path).samples[:, 0].astype(float) / 32767
    assert got.shape == TONE.shape and np.max(np.abs(got - TONE)) < 0.01


def test_a_stereo_file_cut_mid_frame_keeps_its_whole_frames(tmp_path):
    stereo = np.repeat((TONE * 32767).astype("<i2"), 2).tobytes()
    path = write_wav(tmp_path / "cut.wav", stereo[:-3], channels=2)  # cut inside the last frame, odd length
    audio = read_wav_file(path)
    assert audio.channels == 2 and len(audio.samples) == len(TONE) - 1
    assert len(read_wav(path)) == (len(TONE) - 1) * 2


def test_a_data_size_bigger_than_the_file_reads_what_is_there(tmp_path):
    path = write_wav(tmp_path / "short.wav", (TONE * 32767).astype("<i2").tobytes(), data_size=10**9)
    assert len(read_wav_file(path).samples) == len(TONE)


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    (lambda p: p.write_bytes(b"hello, not audio" * 10), "not a WAV file"),
    (lambda p: write_wav(p, b""), "has no audio (0 samples)"),
    (lambda p: write_wav(p, b"\x01"), "has no audio (0 samples)"),
    (lambda p: write_wav(p, b"\x00" * 100, tag=7, bits=8), "mu-law audio, not PCM"),
    (lambda p: write_wav(p, b"\x00" * 100, tag=1, bits=12), "12-bit integer samples"),
    (lambda p: p.write_bytes(b"RIFF\x04\x00\x00\x00WAVE"), "no 'data' chunk"),
    (lambda p: write_wav(p, b"\x00" * (MAX_SECONDS * 8000 + 2), rate=8000, bits=8), "minutes long"),
])
def test_unusable_files_are_one_clear_sentence(tmp_path, make, words):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(WavError) as info:
        read_wav(path)
    message = str(info.value)
    assert words in message and str(path) in message and "\n" not in message


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(WavError, match="no such file"):
        read_wav(tmp_path / "nope.wav")
    with pytest.raises(WavError, match="is a folder"):
        read_wav(tmp_path)
