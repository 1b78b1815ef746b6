"""Tokens Gemini Live says a response used (``usageMetadata``), without any I/O.

A server message may carry ``usageMetadata`` at its top level: ``promptTokenCount``, ``responseTokenCount``,
``thoughtsTokenCount``, ``toolUsePromptTokenCount``, ``totalTokenCount`` and, by modality,
``promptTokensDetails`` / ``responseTokensDetails`` (lists of ``{modality, tokenCount}``).

**Per message, never cumulative.**  The SDK documents the counts as those of the response the message
belongs to, and a live probe of the service showed one report per turn whose prompt count includes the
conversation so far (the context is billed again every turn; summing every report is what matches the
bill).  So each report is taken for what it says and added: a turn's usage is the sum of the reports that
arrive while it is the turn in progress, a session's the sum of its turns'.  Nothing is ever subtracted
from an earlier report, so a server that sends one report per turn and one that sends several smaller
ones are both counted right.

**Breakdown.**  Each side (prompt, response) is split by modality (``text``, ``audio``, ``image``,
``video``, ``document``); the part of a count its details do not cover is ``unspecified``.  Thinking tokens
are a response part of their own (``thoughts``, billed as output text), tool-use prompt tokens a prompt
text part.  ``totalTokenCount`` is checked like the others but not used: the total is the sum of the parts.

**One bad report costs that report only.**  A count that is not a whole number, is negative or is beyond
``MAX_TOKENS``, or details of the wrong shape make ``parse_usage`` raise ``BadUsage``; the parser then drops
the report and keeps the rest of the message (its transcript, its ``turnComplete``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MODALITIES = {"TEXT": "text", "AUDIO": "audio", "IMAGE": "image", "VIDEO": "video", "DOCUMENT": "document"}
UNSPECIFIED = "unspecified"  # a count its modality details do not cover (or an unknown modality)
THOUGHTS = "thoughts"  # thinking tokens (response side)
PROMPT, RESPONSE = "prompt", "response"
# One report's count at most: far above any Live session's context window, far below what overflows a sum.
MAX_TOKENS = 10_000_000
MAX_DETAILS = 32  # entries in one details list (there are five modalities)


class BadUsage(ValueError):
    """A ``usageMetadata`` that cannot be counted (the message says which field)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens by modality on each side; only parts above zero are kept."""

    prompt: Mapping[str, int] = field(default_factory=dict)
    response: Mapping[str, int] = field(default_factory=dict)

    @property
    def prompt_tokens(self) -> int:
        return sum(self.prompt.values())

    @property
    def response_tokens(self) -> int:
        return sum(self.response.values())

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.response_tokens

    def __bool__(self) -> bool:
        return bool(self.prompt or self.response)

    def __add__(self, other: Usage) -> Usage:
        return Usage(_merged(self.prompt, other.prompt), _merged(self.response, other.response))

    def parts(self) -> Iterable[tuple[str, str, int]]:
        """(side, modality, tokens) of every part."""
        for side, counts in ((PROMPT, self.prompt), (RESPONSE, self.response)):
            for modality, tokens in counts.items():
                yield side, modality, tokens

    @classmethod
    def from_parts(cls, parts: Iterable[tuple[str, str, int]]) -> Usage:
        prompt: dict[str, int] = {}
        response: dict[str, int] = {}
        for side, modality, tokens in parts:
            if tokens > 0:
                counts = prompt if side == PROMPT else response
                counts[modality] = counts.get(modality, 0) + int(tokens)
        return cls(prompt, response)

    def as_dict(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "response_tokens": self.response_tokens,
                "total_tokens": self.total_tokens, "prompt": dict(sorted(self.prompt.items())),
                "response": dict(sorted(self.response.items()))}


def _merged(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    out = dict(a)
    for modality, tokens in b.items():
        out[modality] = out.get(modality, 0) + tokens
    return out


def _get(obj: Mapping[str, Any], camel: str, snake: str) -> Any:
    return obj[camel] if camel in obj else obj.get(snake)


def _count(value: Any, what: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise BadUsage(f"{what} must be a whole number, got {value!r}")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        value = int(value)  # int64 fields travel as strings in proto-JSON
    if not isinstance(value, int):
        raise BadUsage(f"{what} must be a whole number, got {type(value).__name__}")
    if not 0 <= value <= MAX_TOKENS:
        raise BadUsage(f"{what} {value} is outside 0..{MAX_TOKENS}")
    return value


def _details(value: Any, what: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, list) or len(value) > MAX_DETAILS:
        raise BadUsage(f"{what} must be a list of at most {MAX_DETAILS} entries")
    out: dict[str, int] = {}
    for entry in value:
        if not isinstance(entry, Mapping):
            raise BadUsage(f"{what} entries must be objects")
        modality = entry.get("modality", UNSPECIFIED)
        if not isinstance(modality, str):
            raise BadUsage(f"{what}.modality must be text")
        name = MODALITIES.get(modality.upper(), UNSPECIFIED)
        out[name] = out.get(name, 0) + _count(_get(entry, "tokenCount", "token_count"), f"{what}.tokenCount")
    return out


def _side(count: int, details: dict[str, int]) -> dict[str, int]:
    """A side's parts: its details, and what they leave of ``count`` as ``unspecified``."""
    covered = sum(details.values())
    if count > covered:
        details[UNSPECIFIED] = details.get(UNSPECIFIED, 0) + count - covered
    return {k: v for k, v in details.items() if v > 0}


def parse_usage(um: Any) -> Usage:
    """One ``usageMetadata`` object (camelCase or snake_case) as a ``Usage``.  Raises ``BadUsage``."""
    if not isinstance(um, Mapping):
        raise BadUsage(f"usageMetadata must be an object, got {type(um).__name__}")
    prompt = _count(_get(um, "promptTokenCount", "prompt_token_count"), "promptTokenCount")
    response = _count(_get(um, "responseTokenCount", "response_token_count"), "responseTokenCount")
    thoughts = _count(_get(um, "thoughtsTokenCount", "thoughts_token_count"), "thoughtsTokenCount")
    tool = _count(_get(um, "toolUsePromptTokenCount", "tool_use_prompt_token_count"), "toolUsePromptTokenCount")
    _count(_get(um, "totalTokenCount", "total_token_count"), "totalTokenCount")
    prompt_side = _side(prompt, _details(_get(um, "promptTokensDetails", "prompt_tokens_details"),
                                         "promptTokensDetails"))
    response_side = _side(response, _details(_get(um, "responseTokensDetails", "response_tokens_details"),
                                             "responseTokensDetails"))
    if tool:
        prompt_side["text"] = prompt_side.get("text", 0) + tool
    if thoughts:
        response_side[THOUGHTS] = thoughts
    return Usage(prompt_side, response_side)


def usage_message(usage: Usage) -> dict[str, Any]:
    """The ``usageMetadata`` object that reports ``usage`` (the emulator's side)."""
    def details(counts: Mapping[str, int]) -> list[dict[str, Any]]:
        return [{"modality": m.upper(), "tokenCount": n} for m, n in sorted(counts.items())
                if m.upper() in MODALITIES]

    response = {m: n for m, n in usage.response.items() if m != THOUGHTS}
    body: dict[str, Any] = {"promptTokenCount": usage.prompt_tokens, "responseTokenCount": sum(response.values()),
                            "totalTokenCount": usage.total_tokens}
    if usage.prompt:
        body["promptTokensDetails"] = details(usage.prompt)
    if response:
        body["responseTokensDetails"] = details(response)
    if usage.response.get(THOUGHTS):
        body["thoughtsTokenCount"] = usage.response[THOUGHTS]
    return body
