"""Text cut to a length for what Gemini says and what the window shows."""

from __future__ import annotations


def shorten(text: str, n: int) -> str:
    """``text`` on one line, at most ``n`` characters: cut at the last whole word that fits, marked with "…"
    (a word longer than the room is cut where the room ends)."""
    text = " ".join(text.split())
    if len(text) <= n:
        return text
    cut = text[: n - 1]
    if text[n - 1] != " " and " " in cut:  # the cut lands inside a word: keep the words before it
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"
