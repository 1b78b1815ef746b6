"""``plain``: the text a terminal shows, without the sequences and characters that would drive the terminal."""

from __future__ import annotations

import logging

import pytest

from desktop.state.store import fts_literal
from desktop.terminal_text import PlainFormatter, plain

CASES = [
    ("clear screen (CSI 2J) and home", "before\x1b[2J\x1b[Hafter", "beforeafter"),
    ("SGR colour", "\x1b[1;31mred\x1b[0m", "red"),
    ("window title (OSC 0, BEL)", "a\x1b]0;pwned title\x07b", "ab"),
    ("window title (OSC 2, ST)", "a\x1b]2;pwned title\x1b\\b", "ab"),
    ("clipboard write (OSC 52)", "x\x1b]52;c;cm0gLXJmIH4K\x07y", "xy"),
    ("hidden link (OSC 8)", "\x1b]8;;file:///etc/passwd\x1b\\click me\x1b]8;;\x1b\\", "click me"),
    ("8-bit CSI", "\x9b2J\x9b31mvisible", "visible"),
    ("8-bit OSC ended by 8-bit ST", "\x9d0;title\x9cvisible", "visible"),
    ("DCS with payload", "\x1bP1$qm\x1b\\visible", "visible"),
    ("APC / PM / SOS", "\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\visible", "visible"),
    ("an OSC that never ends hides only its own payload", "ok\x1b]0;rest of it", "ok"),
    ("an OSC cut short by another escape", "a\x1b]0;t\x1b[2Jb", "ab"),
    ("a CSI cut off at the end", "ok\x1b[12", "ok"),
    ("reset (ESC c) and charset switch (ESC ( 0)", "\x1bc\x1b(0text", "text"),
    ("a lone ESC", "a\x1b", "a"),
    ("C0 but newline and tab", "n\x00u\x07l\x08l\r\x0b\x0c\x1f!", "null!"),
    ("DEL and C1", "a\x7fb\x85c\x9ad\x80e", "abcde"),
    ("an 8-bit APC hides what follows, as a terminal would", "a\x9fhidden", "a"),
    ("bidi overrides and isolates", "abc\u202edcba\u202c \u2066x\u2069 \u202a\u202b\u202d", "abcdcba x "),
    ("newline and tab stay", "line 1\n\tline 2\n", "line 1\n\tline 2\n"),
    ("ordinary text stays", "Grüße, 日本語, emoji 🎉, <b>markup</b> & \"quotes\"", None),
]


@pytest.mark.parametrize("what, text, expected", CASES, ids=[c[0] for c in CASES])
def test_plain_removes_sequences_and_keeps_the_visible_text(what, text, expected):
    out = plain(text)
    assert out == (text if expected is None else expected)
    assert not any(ord(c) < 0x20 and c not in "\n\t" or 0x7F <= ord(c) <= 0x9F for c in out)


def test_plain_takes_any_value_and_is_idempotent():
    assert plain(42) == "42"
    assert plain(ValueError("bad \x1b[2Jthing")) == "bad thing"
    mixed = "".join(chr(n) for n in range(0x00, 0xA0)) + "\u202e\u2066" * 3 + "\x9cend"
    once = plain(mixed)
    assert plain(once) == once
    assert once.endswith("end") and "\t" in once and "\n" in once


def test_plain_is_linear_on_long_hostile_text():
    import time

    text = ("\x1b]" + "x" * 1000) * 1000 + "\x1b[" * 100_000 + "\x9b" * 100_000
    t0 = time.perf_counter()
    assert plain(text) == ""
    assert time.perf_counter() - t0 < 2.0


def test_log_lines_are_plain():
    record = logging.LogRecord("codegen", logging.WARNING, __file__, 1, "server said %s", ("\x1b]0;t\x07hi",), None)
    assert PlainFormatter("%(message)s").format(record) == "server said hi"


@pytest.mark.parametrize("text, expected", [
    ('"', '""""'),
    ('say "hello', '"say" """hello"'),
    ("NEAR( a* OR b", '"NEAR(" "a*" "OR" "b"'),
    ("  ", ""),
])
def test_fts_literal_quotes_every_term(text, expected):
    assert fts_literal(text) == expected
