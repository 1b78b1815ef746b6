"""usageMetadata: parsed by side and modality, one bad report dropped alone (the rest of its message stands),
and the Live stand-in's counts (25 tokens per second of audio each way, a token per 4 typed characters)."""

from __future__ import annotations

import json

import pytest

from desktop.live import protocol as p
from desktop.live.emulator import turn_usage
from desktop.live.usage import MAX_TOKENS, BadUsage, Usage, parse_usage


def test_counts_are_split_by_modality_and_the_uncovered_rest_is_unspecified():
    usage = parse_usage({"promptTokenCount": 522, "responseTokenCount": 42, "totalTokenCount": 564,
                         "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 332},
                                                 {"modality": "AUDIO", "tokenCount": 165}],
                         "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 42}],
                         "thoughtsTokenCount": 136})
    assert usage.prompt == {"text": 332, "audio": 165, "unspecified": 25}
    assert usage.response == {"audio": 42, "thoughts": 136}
    assert (usage.prompt_tokens, usage.response_tokens, usage.total_tokens) == (522, 178, 700)


def test_snake_case_string_counts_tool_prompts_and_unknown_modalities():
    usage = parse_usage({"prompt_token_count": "40", "tool_use_prompt_token_count": 5,
                         "prompt_tokens_details": [{"modality": "SMELL", "token_count": 10},
                                                   {"modality": "audio", "tokenCount": 30}]})
    assert usage.prompt == {"unspecified": 10, "audio": 30, "text": 5} and not usage.response
    assert parse_usage({}) == Usage() and not Usage()


def test_reports_add_up_and_print_as_plain_numbers():
    a, b = Usage({"audio": 100}, {"audio": 50}), Usage({"audio": 10, "text": 3}, {"thoughts": 4})
    total = a + b
    assert total == Usage({"audio": 110, "text": 3}, {"audio": 50, "thoughts": 4})
    assert json.loads(json.dumps(total.as_dict())) == {
        "prompt_tokens": 113, "response_tokens": 54, "total_tokens": 167,
        "prompt": {"audio": 110, "text": 3}, "response": {"audio": 50, "thoughts": 4}}
    assert Usage.from_parts(total.parts()) == total


BAD = [
    ("a string", {"promptTokenCount": "lots"}),
    ("a negative", {"responseTokenCount": -5}),
    ("a huge number", {"promptTokenCount": MAX_TOKENS + 1}),
    ("a huge digit string", {"totalTokenCount": "9" * 40}),
    ("a float", {"promptTokenCount": 1.5}),
    ("a bool", {"responseTokenCount": True}),
    ("a list", [1, 2]),
    ("details as text", {"promptTokensDetails": "AUDIO"}),
    ("a detail as a number", {"promptTokensDetails": [7]}),
    ("a modality as a number", {"responseTokensDetails": [{"modality": 7, "tokenCount": 1}]}),
    ("a negative detail", {"responseTokensDetails": [{"modality": "AUDIO", "tokenCount": -1}]}),
    ("too many details", {"promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1}] * 1000}),
]


@pytest.mark.parametrize("why, body", BAD, ids=[b[0] for b in BAD])
def test_a_bad_report_is_refused_and_the_rest_of_its_message_is_kept(why, body):
    with pytest.raises(BadUsage):
        parse_usage(body)
    frame = json.dumps({"serverContent": {"outputTranscription": {"text": "done"}, "turnComplete": True},
                        "usageMetadata": body})
    events = p.parse_server_message(frame)
    assert events == [p.OutputTranscript("done"), p.TurnComplete()]
    assert p.parse_server_message(json.dumps({"usageMetadata": body})) == []  # alone: nothing, and no error


def test_the_stand_in_counts_25_tokens_a_second_of_audio_and_one_per_4_typed_characters():
    one_second_heard, two_seconds_said = b"\0\0" * p.INPUT_RATE, b"\0\0" * p.OUTPUT_RATE * 2
    assert turn_usage(one_second_heard, "heard words", two_seconds_said) == Usage({"audio": 25}, {"audio": 50})
    assert turn_usage(None, "what is the status", b"") == Usage({"text": 5}, {})
    sent = p.server_content(turn_complete=True, usage=Usage({"audio": 25, "text": 5}, {"audio": 50}))
    body = json.loads(sent)["usageMetadata"]
    assert body["promptTokenCount"] == 30 and body["responseTokenCount"] == 50 and body["totalTokenCount"] == 80
    assert p.parse_server_message(sent)[-1] == Usage({"audio": 25, "text": 5}, {"audio": 50})
