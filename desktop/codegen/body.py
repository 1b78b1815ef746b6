"""A response body read within a byte limit, decompressed here rather than by httpx.

httpx decodes a compressed chunk in one call, however far it expands: a few kilobytes of gzip can become
gigabytes.  ``BoundedBody`` takes the raw bytes off the wire and inflates them with ``max_length``, so the
decoded body never grows past ``limit`` (plus one chunk of the wire), whatever the server sends.
Only gzip / deflate are asked for and accepted.
"""

from __future__ import annotations

import zlib

ACCEPT_ENCODING = "gzip, deflate"


class BodyTooLarge(Exception):
    def __init__(self, declared: int | None = None) -> None:
        super().__init__(declared)
        self.declared = declared  # the size the server announced, when it did


class BodyUndecodable(Exception):
    """A content encoding that was not asked for, or compressed data that does not inflate."""


class BoundedBody:
    def __init__(self, limit: int, encoding: str | None = None, declared: str | None = None) -> None:
        self.limit = limit
        enc = (encoding or "identity").strip().lower()
        if enc in ("identity", ""):
            self._inflate = None
            if declared and declared.strip().isdigit() and int(declared) > limit:
                raise BodyTooLarge(int(declared))
        elif enc in ("gzip", "x-gzip", "deflate"):
            self._inflate = zlib.decompressobj(32 + zlib.MAX_WBITS)  # gzip or zlib header, detected
        else:
            raise BodyUndecodable(f"content encoding {enc!r}, which was not asked for")
        self._data = bytearray()

    def feed(self, chunk: bytes) -> None:
        if self._inflate is None:
            self._data += chunk
        else:
            try:
                self._data += self._inflate.decompress(chunk, self.limit - len(self._data) + 1)
            except zlib.error as exc:
                raise BodyUndecodable(f"compressed data that does not inflate ({exc})") from None
            if self._inflate.unconsumed_tail:  # more output was due than the limit allows
                raise BodyTooLarge()
        if len(self._data) > self.limit:
            raise BodyTooLarge()

    def finish(self) -> bytes:
        if self._inflate is not None:
            self._data += self._inflate.flush()
            if len(self._data) > self.limit:
                raise BodyTooLarge()
        return bytes(self._data)
