"""Text cut to a length for what Gemini says and what the window shows."""

from __future__ import annotations

# words that lead into the rest of a phrase: a cut never ends on them ("…the flaky login test in the…")
LEADING_WORDS = frozenset(
    "a an the and or but nor of in on at to for from by with into onto about over under than that which who "
    "whose where when while so as if is are was were be its their our your my his her this these those".split())


def shorten(text: str, n: int) -> str:
    """``text`` on one line, at most ``n`` characters: cut at the last whole word that fits, marked with "…",
    and before any words there that only lead into the rest ("in the") -- a word longer than the room is cut
    where the room ends."""
    text = " ".join(text.split())
    if len(text) <= n:
        return text
    cut = text[: n - 1]
    if text[n - 1] != " " and " " in cut:  # the cut lands inside a word: keep the words before it
        cut = cut.rsplit(" ", 1)[0]
    words = cut.split(" ")
    while len(words) > 1 and words[-1].lower() in LEADING_WORDS:
        words.pop()
    return " ".join(words).rstrip(" ,;:-") + "…"
