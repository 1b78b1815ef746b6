"""Reading WAV files people actually have: 8/16/24/32-bit integer PCM and 32/64-bit float, plain or
WAVE_FORMAT_EXTENSIBLE, mono or multi-channel, and files cut short (a partial last frame is dropped).
Anything else is one clear sentence (``WavError``) saying what the file is and what to do.

The header is read first, so a file too long for a turn is refused before its audio is loaded.
"""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
SAMPLE_BITS = {PCM: (8, 16, 24, 32), IEEE_FLOAT: (32, 64)}  # the sample sizes read, per format
FORMAT_NAMES = {0x0002: "Microsoft ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0011: "IMA ADPCM",
                0x0031: "GSM 6.10", 0x0055: "MP3"}
MAX_SECONDS = 15 * 60  # one push-to-talk turn; a longer file is refused before it is read
CONVERT_HINT = "convert it to 16-bit PCM WAV, e.g. `sox IN -b 16 OUT.wav` or `ffmpeg -i IN -c:a pcm_s16le OUT.wav`"


class WavError(ValueError):
    """A file that cannot be used as audio; the message names the file, the reason and the fix."""


@dataclass(frozen=True)
class WavAudio:
    samples: np.ndarray  # int16, shape (frames, channels)
    rate: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])


@dataclass(frozen=True)
class _Format:
    tag: int
    channels: int
    rate: int
    bits: int


def read_wav_file(path: str | Path) -> WavAudio:
    path = Path(path)
    try:
        with path.open("rb") as f:
            return _read(f, path)
    except FileNotFoundError:
        raise WavError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise WavError(f"{path} is a folder, not a WAV file") from None
    except OSError as exc:
        raise WavError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read(f: BinaryIO, path: Path) -> WavAudio:
    _check_header(f.read(12), path)
    fmt: _Format | None = None
    while True:
        chunk = f.read(8)
        if len(chunk) < 8:
            raise WavError(f"{path} has no audio data (no 'data' chunk): the file is cut short or damaged")
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"fmt ":
            fmt = _format(f.read(size), path)
        elif cid == b"data":
            if fmt is None:
                raise WavError(f"{path} is damaged: its audio comes before its format description")
            return _data(f, size, fmt, path)
        else:
            f.seek(size, 1)
        if size % 2:
            f.seek(1, 1)  # chunks are padded to an even length


def _check_header(head: bytes, path: Path) -> None:
    if not head:
        raise WavError(f"{path} is empty (0 bytes), not a WAV file")
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        raise WavError(f"{path} is not a WAV file (it does not start with a RIFF/WAVE header); {CONVERT_HINT}")


def _format(body: bytes, path: Path) -> _Format:
    if len(body) < 16:
        raise WavError(f"{path} is damaged: its format description is {len(body)} bytes long")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack("<H", body[24:26])[0]  # the sub-format GUID starts with the plain format tag
    if tag not in SAMPLE_BITS:
        name = FORMAT_NAMES.get(tag, f"format {tag}")
        raise WavError(f"{path} holds {name} audio, not PCM: {CONVERT_HINT}")
    if channels < 1 or rate < 1:
        raise WavError(f"{path} is damaged: it says {channels} channels at {rate} Hz")
    if bits not in SAMPLE_BITS[tag]:
        kind = "integer" if tag == PCM else "float"
        raise WavError(f"{path} has {bits}-bit {kind} samples, which are not supported: {CONVERT_HINT}")
    return _Format(tag, channels, rate, bits)


def _data(f: BinaryIO, size: int, fmt: _Format, path: Path) -> WavAudio:
    frame_bytes = fmt.channels * fmt.bits // 8
    here = f.tell()
    left = f.seek(0, 2) - here
    f.seek(here)
    # a streamed WAV leaves the size unset (0xFFFFFFFF); a cut file has less than it says
    size = left if size == 0xFFFFFFFF else min(size, left)
    seconds = size / frame_bytes / fmt.rate
    if seconds > MAX_SECONDS:
        raise WavError(f"{path} is {seconds / 60:.0f} minutes long; one turn takes at most "
                       f"{MAX_SECONDS // 60} minutes of audio")
    raw = f.read(size)
    raw = raw[:len(raw) - len(raw) % frame_bytes]  # a file cut mid-frame: the partial frame is dropped
    if not raw:
        raise WavError(f"{path} has no audio (0 samples)")
    return WavAudio(_to_int16(raw, fmt).reshape(-1, fmt.channels), fmt.rate)


def _to_int16(raw: bytes, fmt: _Format) -> np.ndarray:
    if fmt.tag == IEEE_FLOAT:
        x = np.frombuffer(raw, dtype="<f4" if fmt.bits == 32 else "<f8")
        scaled: np.ndarray = (np.clip(np.nan_to_num(x), -1.0, 1.0) * 32767).astype(np.int16)
        return scaled
    if fmt.bits == 8:  # unsigned, centred on 128
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if fmt.bits == 16:
        return np.frombuffer(raw, dtype="<i2").copy()
    if fmt.bits == 24:  # keep the top two bytes of each little-endian 3-byte sample
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        top: np.ndarray = (b[:, 1].astype(np.uint16) | (b[:, 2].astype(np.uint16) << 8)).view(np.int16)
        return top
    return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)


def write_wav(path: str | Path, pcm: bytes, rate: int = 16000) -> Path:
    """Mono 16-bit PCM (``pcm``, little-endian) to a WAV file at ``path``; returns the path."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return Path(path)
