"""The Live session core without sockets: every resilience case fed as frames, ticks and closes."""

from __future__ import annotations

import json

import pytest

from desktop.live import protocol as p
from desktop.live.errors import LiveError
from desktop.live.session import (
    MAX_TURN_TEXT,
    SEED_CHARS_PER_TEXT,
    TRUNCATED,
    ActivityEnd,
    ActivityStart,
    Fail,
    Link,
    LiveSession,
    Reconnect,
    Reconnected,
    Renewal,
    SendAudio,
    SendText,
    SendToolResponse,
    Transcript,
    TurnBegun,
    TurnPhase,
    Why,
)

PCM = b"\x01\x00" * 320  # 20 ms


def up(**kw) -> LiveSession:
    s = LiveSession(p.SetupOptions(), jitter=lambda: 0.5, **kw)
    s.connection_made(0.0)
    return s


def turn(s: LiveSession, chunks: int = 3, now: float = 1.0) -> list[str]:
    s.send(ActivityStart(), now)
    assert s.events_received()[-1] == TurnBegun(s.turns_begun)  # what follows belongs to the new turn
    for _ in range(chunks):
        s.send(SendAudio(PCM), now)
    s.send(ActivityEnd(), now)
    return s.data_to_send()


def keys(frames: list[str]) -> list[str]:
    """The realtimeInput field of each frame (activityStart / audio / activityEnd / ...)."""
    out = []
    for f in frames:
        msg = json.loads(f)
        body = msg.get("realtimeInput") or {}
        out.append(next(iter(body)) if body else next(iter(msg)))
    return out


def test_a_turn_is_encoded_in_order_and_the_reply_completes_it():
    s = up()
    frames = turn(s)
    assert keys(frames) == ["activityStart", "audio", "audio", "audio", "activityEnd"]
    assert p.parse_client_message(frames[1]).data == PCM
    assert s.phase is TurnPhase.AWAITING
    s.receive_data(p.server_audio(b"\0\0" * 240), 1.5)
    s.receive_data(p.server_content(turn_complete=True), 1.6)
    assert s.phase is TurnPhase.IDLE
    assert [type(e) for e in s.events_received()] == [p.AudioChunk, p.TurnComplete]


def test_resumption_handles_are_kept_and_used_by_the_next_setup():
    s = up()
    s.receive_data(p.server_resumption_update("h1", True), 1.0)
    s.receive_data(p.server_resumption_update("", False), 1.1)  # mid-generation: not resumable, keep h1
    assert s.handle == "h1"
    setup = json.loads(s.setup_message())["setup"]
    assert setup["sessionResumption"] == {"handle": "h1"}


def test_go_away_between_turns_asks_for_a_reconnect_at_once():
    s = up()
    s.receive_data(p.server_go_away(50), 1.0)
    assert s.take_reconnect() == Renewal(Why.GO_AWAY)
    assert s.take_reconnect() is None  # asking clears it


def test_go_away_mid_turn_waits_for_the_reply_to_complete():
    s = up()
    turn(s)
    s.receive_data(p.server_go_away(50), 1.0)
    assert s.take_reconnect() is None
    s.receive_data(p.server_content(turn_complete=True), 1.2)
    assert s.take_reconnect() == Renewal(Why.GO_AWAY)


def test_a_1011_mid_reply_reconnects_and_replays_the_turn_first_with_what_was_said_meanwhile():
    s = up()
    sent = turn(s, chunks=2)
    decision = s.connection_lost(1011, "internal error")
    assert isinstance(decision, Reconnect) and decision.reason == Renewal(Why.CLOSED, 1011, "internal error")
    s.begin_reconnect()
    # while the link is down nothing goes out; the turn is kept
    s.send(SendAudio(PCM), 2.0)
    assert s.data_to_send() == []
    s.connection_made(3.0, decision.reason)
    replay = s.data_to_send()
    assert replay == sent  # the whole turn, once, in order (audio after activityEnd is not part of it)
    (ev,) = s.events_received()
    assert isinstance(ev, Reconnected) and ev.replayed_turn and not ev.resumed and not ev.planned


def test_a_turn_begun_while_reconnecting_is_sent_when_the_link_is_back():
    s = up()
    s.receive_data(p.server_resumption_update("h9", True), 0.5)
    s.events_received()
    s.connection_lost(1006, "")
    s.begin_reconnect()
    frames_before = turn(s, chunks=1)
    assert frames_before == []
    s.connection_made(2.0, Renewal(Why.CLOSED, 1006))
    assert keys(s.data_to_send()) == ["activityStart", "audio", "activityEnd"]
    (ev,) = s.events_received()
    assert ev.resumed and not ev.replayed_turn  # sent for the first time, not resent


def test_a_fatal_close_fails_the_session_with_the_users_error():
    s = up()
    decision = s.connection_lost(1008, "model not found")
    assert isinstance(decision, Fail) and decision.error.kind == "model"
    assert s.link is Link.CLOSED
    (ev,) = s.events_received()
    assert isinstance(ev, LiveError) and ev.fatal and ev.kind == "model"


def test_a_close_we_asked_for_is_not_a_failure():
    s = up()
    assert s.suspend() and s.suspended
    assert s.connection_lost(1000, "") is None
    assert s.resume() and s.link is Link.RECONNECTING
    s.connection_made(5.0, Renewal(Why.IDLE), planned=True)
    (ev,) = s.events_received()
    assert ev.planned


def test_suspend_is_refused_mid_turn():
    s = up()
    turn(s)
    assert not s.suspend() and s.connected


def test_a_stalled_reply_times_out_once_and_asks_for_a_fresh_connection():
    s = up(turn_timeout_s=5)
    turn(s, now=10.0)
    s.tick(14.0)
    assert s.events_received() == [] and s.take_reconnect() is None
    s.receive_data(p.server_content(output_text="thinking"), 14.5)  # any server activity resets the clock
    s.events_received()
    s.tick(19.0)
    assert s.events_received() == []
    s.tick(19.6)
    (ev,) = s.events_received()
    assert isinstance(ev, LiveError) and ev.kind == "timeout" and "5 s" in ev.message
    assert s.phase is TurnPhase.IDLE and s.take_reconnect() == Renewal(Why.TURN_TIMEOUT)
    s.tick(100.0)
    assert s.events_received() == []  # reported once


def test_a_malformed_frame_is_one_protocol_error_and_the_session_goes_on():
    s = up()
    s.receive_data(b"{not json", 1.0)
    s.receive_data(p.server_content(output_text="hi"), 1.1)
    errors, text = s.events_received()
    assert isinstance(errors, LiveError) and errors.kind == "protocol"
    assert isinstance(text, Transcript) and text.text == "hi" and not text.user


def test_reconnect_backoff_grows_and_gives_up_as_a_fatal_error():
    s = up(max_reconnects=3)
    s.connection_lost(1006, "")
    s.begin_reconnect()
    err = LiveError("network", "unreachable", fatal=False)
    delays = [s.connect_failed(err, attempt) for attempt in range(3)]
    assert delays[0] == pytest.approx(0.1) and delays[1] == pytest.approx(0.2)
    assert delays[2] is None and s.link is Link.CLOSED
    (ev,) = s.events_received()
    assert ev.fatal and ev.kind == "network"


def test_a_fatal_connect_error_is_not_retried():
    s = up()
    s.begin_reconnect()
    assert s.connect_failed(LiveError("auth", "bad key"), 0) is None


def test_a_typed_request_is_replayed_like_a_spoken_one():
    s = up()
    s.send(SendText("hello"), 1.0)
    sent = s.data_to_send()
    s.connection_lost(1011, "")
    s.begin_reconnect()
    s.connection_made(2.0, Renewal(Why.CLOSED, 1011))
    assert s.data_to_send() == sent and s.phase is TurnPhase.AWAITING


def test_tool_responses_are_sent_with_the_nudge_and_never_replayed():
    s = up()
    s.send(SendToolResponse((p.FunctionResult("c1", "list_runs", output={"runs": []}),)), 1.0)
    frames = s.data_to_send()
    assert [next(iter(json.loads(f))) for f in frames] == ["toolResponse", "realtimeInput"]
    assert json.loads(frames[1]) == {"realtimeInput": {"text": " "}}
    quiet = up(nudge_after_tool_response=False)
    quiet.send(SendToolResponse((p.FunctionResult("c1", "x", output={}),)), 1.0)
    assert len(quiet.data_to_send()) == 1


def test_the_replay_buffer_is_bounded():
    s = up(max_replay=10)
    turn(s, chunks=50)
    s.connection_lost(1011, "")
    s.begin_reconnect()
    s.connection_made(2.0, Renewal(Why.CLOSED, 1011))
    assert len(s.data_to_send()) == 10


# ---- long sessions: goAway timing, refused handles, keepalive policy, fresh sessions
def say(s: LiveSession, user: str, assistant: str, now: float = 1.0) -> None:
    """One complete typed turn with its transcripts."""
    s.send(SendText(user), now)
    s.data_to_send()
    s.receive_data(p.server_content(output_text=assistant, turn_complete=True), now + 0.5)
    s.events_received()


def test_the_reconnect_gap_runs_from_go_away_to_the_new_setup_complete():
    s = up()
    s.receive_data(p.server_go_away(50), 10.0)
    assert s.take_reconnect()
    s.begin_reconnect()
    s.connection_made(10.25, Renewal(Why.GO_AWAY))
    ev = s.events_received()[-1]
    assert isinstance(ev, Reconnected) and ev.gap_ms == pytest.approx(250.0) and ev.resumed is False


def test_a_drop_is_timed_from_the_moment_it_was_seen():
    s = up()
    s.connection_lost(1006, "", 20.0)
    s.begin_reconnect()
    s.connection_made(21.5, Renewal(Why.CLOSED, 1006))
    assert s.events_received()[-1].gap_ms == pytest.approx(1500.0)


def test_a_refused_handle_opens_a_fresh_session_told_the_last_turns_then_replays_the_turn():
    s = up()
    say(s, "list my runs", "You have two runs.")
    s.receive_data(p.server_resumption_update("h1", True), 2.0)
    s.events_received()
    turn(s, chunks=1, now=3.0)
    s.connection_lost(1011, "Deadline expired.", 4.0)
    s.begin_reconnect()
    err = LiveError("session_expired", "Gemini could not resume the session", fatal=False)
    assert s.connect_failed(err, 0) == 0.0  # at once, without the handle
    assert s.handle is None and json.loads(s.setup_message())["setup"]["sessionResumption"] == {}
    s.connection_made(4.3, Renewal(Why.CLOSED, 1011))
    seed, *replay = s.data_to_send()
    msg = p.parse_client_message(seed)
    assert isinstance(msg, p.ClientContent) and not msg.turn_complete  # context, not a request
    assert "User: list my runs" in msg.text and "You: You have two runs." in msg.text
    assert keys(replay) == ["activityStart", "audio", "activityEnd"]
    (ev,) = s.events_received()
    assert ev.fresh and not ev.resumed and ev.replayed_turn and not ev.lost_context
    assert s.fresh_sessions == 1


def test_a_fresh_session_says_when_older_turns_could_not_be_carried():
    s = up()
    for i in range(8):
        say(s, f"question {i}", f"answer {i}", now=float(i))
    assert s.turns_completed == 8
    assert s.start_fresh(10.0) and s.take_reconnect() == Renewal(Why.FRESH)
    s.begin_reconnect()
    s.connection_made(10.2, Renewal(Why.FRESH))
    (seed,) = s.data_to_send()
    text = p.parse_client_message(seed).text
    assert "question 7" in text and "question 2" in text and "question 1" not in text  # the last six
    (ev,) = s.events_received()
    assert ev.fresh and ev.lost_context and ev.gap_ms == pytest.approx(200.0)


def test_a_fresh_session_is_refused_mid_turn_and_a_seed_is_bounded():
    s = up()
    turn(s)
    assert not s.start_fresh(1.0)
    s.receive_data(p.server_content(turn_complete=True), 1.1)
    say(s, "x" * 5000, "y" * 5000)
    assert s.start_fresh(2.0)
    s.begin_reconnect()
    s.connection_made(2.1, Renewal(Why.FRESH))
    (seed,) = s.data_to_send()
    assert len(p.parse_client_message(seed).text) < 1000


def test_pongs_are_judged_only_between_turns():
    s = up(idle_pong_timeout_s=7.0)
    assert s.pong_timeout() == 7.0
    turn(s)
    assert s.pong_timeout() is None  # Gemini answers pings late while it generates
    s.receive_data(p.server_content(turn_complete=True), 2.0)
    assert s.pong_timeout() == 7.0
    s.connection_lost(1006, "", 3.0)
    assert s.pong_timeout() is None


def test_refusals_of_a_resume_are_told_apart_by_their_text():
    from desktop.live.errors import close_error

    assert close_error(1007, "Session resumption handle has expired.", "m").kind == "session_expired"
    assert close_error(1007, "Invalid session resumption handle.", "m").kind == "session_expired"
    busy = close_error(1011, "The session is still active on another connection.", "m")
    assert busy.kind == "service" and not busy.fatal  # retried with backoff


def test_a_resume_refused_twice_falls_back_to_a_fresh_session_but_a_network_outage_keeps_resuming():
    s = up()
    say(s, "hi", "Hello.")
    s.receive_data(p.server_resumption_update("h1", True), 2.0)
    s.connection_lost(1006, "", 3.0)
    s.begin_reconnect()
    busy = LiveError("service", "still active on another connection", fatal=False)
    assert s.connect_failed(busy, 0) > 0 and s.handle == "h1"  # maybe the old socket was just slow to close
    assert s.connect_failed(busy, 1) == 0.0 and s.handle is None  # fresh, at once
    t = up()
    t.receive_data(p.server_resumption_update("h2", True), 2.0)
    t.connection_lost(1006, "", 3.0)
    t.begin_reconnect()
    offline = LiveError("network", "unreachable", fatal=False)
    for attempt in range(3):
        assert t.connect_failed(offline, attempt) > 0
    assert t.handle == "h2"  # the context is worth waiting for


def test_a_go_away_mid_turn_is_timed_from_the_end_of_the_turn_it_let_finish():
    s = up()
    turn(s, now=10.0)
    s.receive_data(p.server_go_away(50), 10.5)
    s.receive_data(p.server_content(turn_complete=True), 12.0)  # the old connection still served the turn
    assert s.take_reconnect()
    s.begin_reconnect()
    s.connection_made(12.1, Renewal(Why.GO_AWAY))
    assert s.events_received()[-1].gap_ms == pytest.approx(100.0)


def test_a_flood_beyond_the_reply_budget_fails_the_turn_and_asks_for_a_fresh_connection():
    s = up()
    s.guard.max_messages = 50
    turn(s)
    for _ in range(51):
        s.receive_data(p.server_content(output_text="a"), 2.0)
    events = s.events_received()
    (err,) = [e for e in events if isinstance(e, LiveError)]
    assert err.turn_failed and not err.fatal and "more than 50 messages for one reply (51 transcript pieces)" in err.message
    assert len([e for e in events if isinstance(e, Transcript)]) == 50
    assert s.phase is TurnPhase.IDLE and s.take_reconnect() == Renewal(Why.RESET, detail=err.message)
    s.connection_made(3.0, Renewal(Why.RESET))
    assert s.guard.messages == 0 and s.data_to_send() == []  # a fresh budget; the failed turn is not replayed


def test_malformed_frames_are_reported_once_then_counted_until_the_limit():
    s = up()
    s.guard.max_malformed = 5
    for _ in range(4):
        s.receive_data(b"not json", 1.0)
    assert [e.kind for e in s.events_received()] == ["protocol"] and s.take_reconnect() is None
    s.receive_data(b"not json", 1.0)
    (err,) = s.events_received()
    assert err.turn_failed and "5 malformed messages" in err.message and s.take_reconnect()


def test_a_frame_refused_for_its_size_fails_the_turn_and_reconnects():
    s = up()
    turn(s)
    decision = s.connection_lost(None, "", 2.0, sent_code=1009)
    assert isinstance(decision, Reconnect) and "larger than 1 MB" in decision.reason.detail
    (err,) = s.events_received()
    assert err.turn_failed and s.phase is TurnPhase.IDLE


def test_a_server_that_keeps_dropping_the_reply_ends_the_session():
    s = up(max_reconnects=3)
    delays = []
    for n in range(4):
        turn(s, now=float(n))
        decision = s.connection_lost(1011, "Internal error encountered.", float(n) + 0.5)
        if isinstance(decision, Fail):
            break
        delays.append(decision.delay_s)
        s.connection_made(float(n) + 0.6, decision.reason)
        s.data_to_send()
    assert isinstance(decision, Fail) and "closed the connection 4 times" in decision.error.message
    assert delays[0] == 0 and 0 < delays[1] < delays[2]  # the first drop reconnects at once, then backs off
    assert s.link is Link.CLOSED


def test_an_idle_connection_closed_after_a_while_is_not_a_drop():
    s = up(max_reconnects=1)
    for n in range(3):
        decision = s.connection_lost(1000, "", 60.0 * (n + 1))
        assert isinstance(decision, Reconnect) and decision.delay_s == 0
        s.connection_made(60.0 * (n + 1) + 1)


def test_what_a_fresh_session_remembers_of_a_turn_is_bounded():
    s = up()
    s.send(SendText("open a PR"), 1.0)
    for _ in range(1000):
        s.receive_data(p.server_content(output_text="x" * 1000), 1.5)  # a megabyte of transcript
    s.receive_data(p.server_content(turn_complete=True), 2.0)
    assert s._history[-1][0] == "open a PR" and len(s._history[-1][1]) <= 2 * SEED_CHARS_PER_TEXT


# ---- the turn: counted, transcribed and barged in on here (the engine reads it)
def test_the_core_counts_turns_and_keeps_their_transcript_bounded():
    s = up()
    assert s.begin_turn("list my runs") == 1 and s.user_text == "list my runs"
    s.send(SendText("list my runs", begun=True), 1.0)  # begun already: not counted twice
    s.receive_data(p.server_content(output_text="x" * 40_000), 1.5)
    (_, said) = s.events_received()
    assert isinstance(said, Transcript) and not said.user and said.text == s.assistant_text
    assert len(s.assistant_text) == MAX_TURN_TEXT + len(TRUNCATED) and said.delta == said.text
    turn(s, chunks=1)  # a command without begin_turn begins its own turn
    assert s.turns_begun == 2 and s.user_text == s.assistant_text == ""


def test_barging_in_drops_the_rest_of_the_old_reply_and_keeps_the_new_turn_going():
    s = up()
    turn(s)
    s.receive_data(p.server_content(input_text="what runs", output_text="You have"), 1.5)
    s.events_received()
    assert s.begin_turn() == 2 and s.interrupting  # the reply was still due: barged in on
    s.send(ActivityStart(begun=True), 2.0)
    s.send(ActivityEnd(), 2.1)
    s.receive_data(p.server_audio(b"\0\0" * 240), 2.2)  # the old reply's tail
    s.receive_data(p.server_content(output_text=" two runs", interrupted=True), 2.3)
    s.receive_data(p.server_content(turn_complete=True), 2.4)  # ... and its end, not the new turn's
    assert [type(e) for e in s.events_received()] == [TurnBegun]
    assert not s.interrupting and s.phase is TurnPhase.AWAITING and s.assistant_text == ""
    s.receive_data(p.server_content(output_text="Stopped.", turn_complete=True), 3.0)
    assert [type(e) for e in s.events_received()] == [Transcript, p.TurnComplete] and s.phase is TurnPhase.IDLE
    assert list(s._history) == [("what runs", "You have"), ("", "Stopped.")]


def test_a_replayed_turn_is_transcribed_again_from_the_start():
    s = up()
    turn(s)
    s.receive_data(p.server_content(input_text="open a PR", output_text="Sure"), 1.5)
    s.connection_lost(1011, "internal error", 1.6)
    s.begin_reconnect()
    s.connection_made(2.0, Renewal(Why.CLOSED, 1011))
    s.events_received()
    s.receive_data(p.server_content(input_text="open a PR"), 2.5)
    (heard,) = s.events_received()
    assert heard == Transcript(True, "open a PR", "open a PR", False) and s.assistant_text == ""


def test_the_core_says_when_a_connection_is_set_up():
    s = LiveSession(p.SetupOptions())
    assert not s.setup_reply(p.server_content(output_text="early"), 1.0) and not s.connected  # passed over
    assert s.setup_reply('{"setupComplete": {}}', 1.1) and s.connected and s.connects == 1
    with pytest.raises(p.ProtocolError):
        LiveSession(p.SetupOptions()).setup_reply(b"{not json", 1.0)
