"""WAV files of any layout for tests: a RIFF header written by hand around the given sample bytes."""

from __future__ import annotations

import struct
from pathlib import Path


def write_wav(path: Path, data: bytes, *, tag: int = 1, channels: int = 1, rate: int = 16000, bits: int = 16,
              extensible: bool = False, data_size: int | None = None) -> Path:
    """``data`` as a WAV: ``tag`` 1 PCM / 3 float / other; ``extensible`` wraps it in WAVE_FORMAT_EXTENSIBLE;
    ``data_size`` overrides the size the header claims (a cut file)."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * block, block, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", 4) + b"INFO"  # a chunk to skip
    body += b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
