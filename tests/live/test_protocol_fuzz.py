"""Whatever bytes arrive, the parsers return typed events or raise ProtocolError - nothing else."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from desktop.live import protocol as p

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)
keys = st.sampled_from(["setupComplete", "serverContent", "toolCall", "toolCallCancellation", "goAway",
                        "sessionResumptionUpdate", "usageMetadata", "modelTurn", "parts", "inlineData", "data",
                        "functionCalls", "ids", "timeLeft", "turnComplete", "outputTranscription", "text"])
shaped = st.recursive(json_values, lambda c: st.dictionaries(keys, c, max_size=4), max_leaves=25)


def _check(frame):
    try:
        events = p.parse_server_message(frame)
    except p.ProtocolError:
        return
    assert isinstance(events, list)
    assert all(isinstance(e, p.ServerEvent) for e in events)  # the parser's declared union, nothing else


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data):
    _check(data)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(keys, shaped, max_size=3))
def test_arbitrary_json_shaped_like_server_messages(obj):
    _check(json.dumps(obj))
    try:
        p.parse_client_message(json.dumps(obj))
    except p.ProtocolError:
        pass
