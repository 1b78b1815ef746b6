"""The pipeline's unit of audio: 10 ms of 16 kHz mono PCM16 (160 samples, 320 bytes)."""

from __future__ import annotations

RATE = 16000
FRAME_MS = 10
FRAME_SAMPLES = RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2


def frames_for_ms(ms: int) -> int:
    return max(0, -(-ms // FRAME_MS))


class Chunker:
    """Groups 10 ms frames into Live messages of ``chunk_ms`` (20-40 ms recommended; 100 ms on battery)."""

    __slots__ = ("chunk_bytes", "_buf")

    def __init__(self, chunk_ms: int = 20):
        if chunk_ms % FRAME_MS or not 10 <= chunk_ms <= 1000:
            raise ValueError(f"chunk_ms must be a multiple of {FRAME_MS} between 10 and 1000, got {chunk_ms}")
        self.chunk_bytes = chunk_ms * RATE * 2 // 1000
        self._buf = bytearray()

    def push(self, frame: bytes) -> bytes | None:
        self._buf += frame
        if len(self._buf) >= self.chunk_bytes:
            out = bytes(self._buf)
            self._buf.clear()
            return out
        return None

    def flush(self) -> bytes | None:
        if not self._buf:
            return None
        out = bytes(self._buf)
        self._buf.clear()
        return out
