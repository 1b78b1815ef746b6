"""Response bodies are read within a limit, compressed ones inflated within it; waits are said as they are."""

from __future__ import annotations

import gzip
import zlib

import pytest

from desktop.codegen.body import BodyTooLarge, BodyUndecodable, BoundedBody
from desktop.codegen.client import _duration, _retry_after


def _feed(body: BoundedBody, data: bytes, step: int = 65536) -> bytes:
    for i in range(0, len(data), step):
        body.feed(data[i:i + step])
    return body.finish()


@pytest.mark.parametrize("encoding, encode", [(None, lambda b: b), ("gzip", gzip.compress),
                                              ("deflate", zlib.compress)])
def test_bodies_within_the_limit_come_through_whole(encoding, encode):
    data = b'{"items": [' + b'{"id": 1}, ' * 5000 + b"]}"
    assert _feed(BoundedBody(1 << 20, encoding), encode(data)) == data


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    with pytest.raises(BodyTooLarge) as info:
        BoundedBody(1000, None, "1073741824")
    assert info.value.declared == 1 << 30


def test_a_gzip_bomb_never_inflates_past_the_limit():
    bomb = gzip.compress(bytes(64 << 20), 9)  # ~64 KB of gzip, 64 MiB of zeros
    body = BoundedBody(1 << 20, "gzip")
    with pytest.raises(BodyTooLarge):
        _feed(body, bomb, step=len(bomb))  # all at once: one call must not expand it all
    assert len(body._data) <= (1 << 20) + 1


def test_unasked_encodings_and_broken_data_are_refused():
    with pytest.raises(BodyUndecodable, match="'br'"):
        BoundedBody(1000, "br")
    with pytest.raises(BodyUndecodable, match="does not inflate"):
        _feed(BoundedBody(1000, "gzip"), b"\x1f\x8b this is not gzip")


@pytest.mark.parametrize("seconds, said", [(1, "1 second"), (45, "45 seconds"), (119, "119 seconds"),
                                           (600, "10 minutes"), (7200, "2 hours"), (999999, "12 days")])
def test_durations_are_said_as_they_are(seconds, said):
    assert _duration(seconds) == said


def test_retry_after_is_not_clamped():
    assert _retry_after("999999", 1.0) == 999999 and _retry_after("nan", 1.0) == 1.0
    assert _retry_after("soon", 2.0) == 2.0 and _retry_after(None, 3.0) == 3.0
