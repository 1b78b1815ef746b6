"""Text that arrives from elsewhere (Gemini, CodeGen, the user, an error) on screen: always as text.

Qt renders any string that ``Qt.mightBeRichText`` likes as HTML when a label, a tool tip or a notification is
left to guess (``Qt.AutoText``): ``<img src="file:///dev/zero">`` then makes Qt read the file (the process
aborts), nested tables take exponential layout time, ``<h1>`` changes the layout.  So every surface puts such
text on screen in one of two ways:

* ``PlainLabel`` (or ``shown()`` for a widget that only ever paints plain text, e.g. a list item): the label's
  format is ``Qt.PlainText``, so nothing in the text is ever interpreted or loaded;
* ``escape()`` for the few surfaces that format the text themselves (links, steps, search highlights, tool
  tips): the untrusted parts are HTML-escaped, only our own markup is markup.

Both first make the text paintable: lone surrogates become U+FFFD, NULs and other control characters
U+FFFD, bidirectional embeddings/overrides/isolates (U+202A-U+202E, U+2066-U+2069) are dropped so a string
cannot reorder what is painted after it, runs of more than ``BREAK_EVERY`` characters without a space get
break opportunities (U+200B) so one long "word" cannot widen the window, and what is painted per surface is
capped (``MAX_CHARS`` characters, ``MAX_LINES`` lines; elided with "…").  The stored text stays whole: only
what is painted is cut.
"""

from __future__ import annotations

import html
import re
import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

MAX_CHARS = 5_000  # per label: two pages; laying out and painting it takes ~20 ms, a wrapped 10k ~40 ms
MAX_LINES = 300
TOOLTIP_CHARS = 1_000
NOTIFICATION_CHARS = 300
BREAK_EVERY = 32  # a longer run of non-space characters gets a break opportunity every this many
ELLIPSIS = "…"
ZWSP = "\u200b"
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 (but tab and newline) and C1, after \r -> \n
LONG_RUN = re.compile(r"[^\s\u200b]{%d,}" % (BREAK_EVERY + 1))
PRE_WRAP = "<span style='white-space:pre-wrap'>{}</span>"  # keeps the text's own spaces and line breaks


def clean(text: str) -> str:
    """``text`` made paintable, whole: no lone surrogates, control characters or bidi overrides."""
    if not isinstance(text, str):
        text = str(text)
    # pairs written as two code points join; a lone half becomes U+FFFD (PySide6 would drop or reject it)
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROLS.sub("\ufffd", text)
    return BIDI_CONTROLS.sub("", text)


def _breakable(match: re.Match[str]) -> str:
    run = match.group(0)
    return ZWSP.join(run[i:i + BREAK_EVERY] for i in range(0, len(run), BREAK_EVERY))


def shown(text: str, limit: int = MAX_CHARS, *, tail: bool = False) -> str:
    """What a plain-text surface paints of ``text``: cleaned, at most ``limit`` characters and ``MAX_LINES``
    lines (the head, or with ``tail`` the end, of a longer text, marked with "…")."""
    if not isinstance(text, str):
        text = str(text)
    cut = len(text) > limit
    part = clean(text[-limit:] if tail else text[:limit]) if cut else clean(text)
    if part.count("\n") >= MAX_LINES:
        lines = part.split("\n")
        part = "\n".join(lines[-MAX_LINES:] if tail else lines[:MAX_LINES])
        cut = True
    part = LONG_RUN.sub(_breakable, part)
    if cut:
        part = ELLIPSIS + part if tail else part + ELLIPSIS
    return part


def readable(painted: str) -> str:
    """What the reader sees of a painted string (the break opportunities are invisible)."""
    return painted.replace(ZWSP, "")


def escape(text: str, limit: int = MAX_CHARS) -> str:
    """``text`` as a piece of rich text that shows it literally (for surfaces with markup of their own)."""
    return html.escape(shown(text, limit), quote=True)


def highlighted(text: str, words: list[str], style: str, limit: int = MAX_CHARS) -> str:
    """Rich text showing ``text`` literally, each occurrence of one of ``words`` in a span with ``style``
    (the match is found in the text itself, then each piece is escaped: a query can never form markup)."""
    plain = shown(text, limit)
    words = [w for w in words if w.strip()]
    if not words:
        return PRE_WRAP.format(html.escape(plain, quote=True))
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(plain):
        out.append(html.escape(plain[pos:m.start()], quote=True))
        out.append(f"<span style='{html.escape(style, quote=True)}'>{html.escape(m.group(0), quote=True)}</span>")
        pos = m.end()
    out.append(html.escape(plain[pos:], quote=True))
    return PRE_WRAP.format("".join(out))


def tooltip(text: str) -> str:
    """A tool tip that shows ``text`` literally (Qt renders a tool tip as HTML whenever it looks like HTML, so
    it is always given as escaped rich text)."""
    if not text:
        return ""
    return "<p style='white-space:pre-wrap'>" + escape(text, TOOLTIP_CHARS) + "</p>"


def notification(text: str) -> str:
    """A desktop notification's body: freedesktop notification servers read body markup (links, images), so
    on Linux it is escaped; elsewhere the body is plain text."""
    body = shown(text, NOTIFICATION_CHARS)
    return html.escape(body, quote=False) if sys.platform.startswith("linux") else body


class PlainLabel(QLabel):
    """A label for text from elsewhere: always ``Qt.PlainText``, cleaned and capped (``shown``).

    ``full_text`` keeps what was given; ``text()`` is what is painted.  ``tail``: a long text keeps its end
    (a streamed reply), else its beginning.  ``show_marked`` shows rich text built by this module's escaping
    helpers (search highlights); the next ``setText`` is plain again.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None, *, limit: int = MAX_CHARS,
                 tail: bool = False):
        super().__init__(parent)
        self.limit, self.tail = limit, tail
        self.full_text = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        self.full_text = text
        if self.textFormat() != Qt.TextFormat.PlainText:
            self.setTextFormat(Qt.TextFormat.PlainText)
        super().setText(shown(text, self.limit, tail=self.tail))

    def show_marked(self, markup: str, text: str) -> None:
        """Rich text from ``highlighted``/``escape`` (never raw text); ``text`` is what it shows."""
        self.full_text = text
        self.setTextFormat(Qt.TextFormat.RichText)
        super().setText(markup)
