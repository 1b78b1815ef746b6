"""Text from elsewhere made safe to print on a terminal: no control sequences, no control characters.

Gemini's and CodeGen's words, transcripts, run titles and error messages reach the command line's output. A
terminal acts on escape sequences in what it prints: ``ESC [ 2 J`` clears the screen, ``ESC ] 0 ; … BEL`` sets
the window title, ``ESC ] 52 ; …`` writes the clipboard, ``ESC ] 8 ; ; file://… ST`` hides a link behind text,
and the 8-bit forms (``U+009B`` for CSI, ``U+009D`` for OSC) do the same on terminals that take them.  Bidi
overrides make text read differently from what it is.  ``plain`` removes all of that and keeps the visible
text, newlines and tabs.  ``--json`` output needs none of it: ``json.dumps`` escapes every such character.
"""

from __future__ import annotations

import logging
import re

# The string introducers (OSC, DCS, SOS, PM, APC, 7-bit and 8-bit) take everything up to BEL or ST (ESC \ or
# U+009C) as their payload, or the rest of the text when it never ends: none of the payload is shown.
_STRING = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x9c\x1b]*(?:\x07|\x9c|\x1b\\|(?=\x1b)|\Z)"
# CSI: parameters, intermediates, one final byte (or the end of the text, when it stops short).
_CSI = r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*(?:[\x40-\x7e]|\Z)"
# Any other escape: intermediates and a final byte (ESC c resets the terminal, ESC ( 0 switches charsets).
_ESC = r"\x1b[\x20-\x2f]*[\x30-\x7e]?"
_SEQUENCES = re.compile(f"{_STRING}|{_CSI}|{_ESC}")
# What is left: C0 except tab and newline, DEL, C1, and the bidi embeddings, overrides and isolates.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: object) -> str:
    """``text`` (any value, as ``str``) without terminal control sequences or control characters: whole
    ESC/CSI/OSC/DCS sequences go (an OSC's payload with it), then any C0 character but newline and tab, DEL,
    C1 and the bidi override characters."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():  # the common case: nothing to remove (newline and tab are not "printable")
        return s
    return _CONTROLS.sub("", _SEQUENCES.sub("", s))


class PlainFormatter(logging.Formatter):
    """A log formatter whose lines are ``plain``: a logged server message cannot drive the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return plain(super().format(record))
