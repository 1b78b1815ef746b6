"""A local Gemini Live server, faithful to the wire reference, for the offline demo, tests and benchmarks.

It speaks the real protocol (``protocol.py``) over a real WebSocket: path normalisation, API key in the
``x-goog-api-key`` header or ``?key=``, ``setup`` first, camelCase and snake_case input, binary JSON
frames out, push-to-talk (activityStart/End) and automatic-VAD turns, a model delay before the first
output, 24 kHz speech streamed faster than real time with output transcripts, tool calls from the rules
in ``scenario.toml``, barge-in (``interrupted`` + ``toolCallCancellation``), session resumption handles,
the Gemini 3.8 fields (``voiceActivity`` when speech starts and ends, ``interimInputTranscription`` before the
final transcript, ``interactionStatus``, ``turnCompleteReason`` NEED_MORE_INPUT and ``waitingForInput`` after
a question; on 3.8 only BLOCKING calls are cancelled by new input, older models cancel every pending call),
``goAway``, the Gemini 3.x "wait for input after a tool response" quirk, per-connection fault
injection, and ``Conditions``: how the service misbehaves over a long session (goAway every few minutes,
late pongs while generating, expiring resumption handles, resumes refused while the old socket is open,
context-compression latency spikes, latency drift).  What it hears in an audio turn comes from
``hearing.py``: no speech (by its own voice check) gives no transcript and a spoken "I did not hear
anything"; speech is matched against the phrases it knows, and an unknown sentence gets "Sorry, I did not
catch that" without an invented transcript.  The answers come from the rules in ``scenario.toml`` (run news
the app sends as a client turn is read out in a canned voice of its kind, its sentence as the transcript).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import secrets
import ssl
import time
import tomllib
import wave
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import webrtcvad
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State

from desktop.assets import asset
from desktop.live import protocol as p
from desktop.live.conditions import Conditions
from desktop.live.hearing import Phrasebook, phrasebook
from desktop.live.usage import Usage

log = logging.getLogger(__name__)

LIVE_MODELS = {"gemini-3.8-live", "gemini-3.1-flash-live-preview", "gemini-2.5-flash-native-audio-preview-12-2025"}
SHUT_DOWN_MODELS = {"gemini-live-2.5-flash-preview", "gemini-2.0-flash-live-001"}
# freeze: after the first reply the connection goes silent (reads nothing, answers no ping), like a link
# that died without a close
FAULTS = ("close_1011_mid_turn", "stall", "malformed", "goaway", "slow_setup", "freeze")
_PATH_RE = re.compile(r"^/ws/google\.ai\.generativelanguage\.(v1|v1beta|v1alpha)\.GenerativeService\."
                      r"(BidiGenerateContent|BidiGenerateContentConstrained)$")
_WORD_RE = re.compile(r"[a-z']+")
REPLIES_PATH = "/emulator/replies"  # ?key=API_KEY: EmulatorStats.replies of that key, as JSON
MAX_CLIENT_MESSAGE = 1 << 20  # a client's largest message: setup with its tools (audio chunks are ~1 KB)
QUESTIONS = frozenset({"confirm", "sorry", "unheard"})  # canned replies that ask the user something
AUDIO_TOKENS_PER_S = 25  # what the service counts for a second of audio, heard or spoken
CHARS_PER_TEXT_TOKEN = 4


def audio_tokens(pcm: bytes, rate: int) -> int:
    """The tokens ``pcm`` (16-bit mono at ``rate``) is counted as."""
    return round(len(pcm) / 2 / rate * AUDIO_TOKENS_PER_S)


def text_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TEXT_TOKEN) if text else 0


def turn_usage(audio: bytes | None, text: str | None, reply_pcm: bytes) -> Usage:
    """What the service reports for one reply: the turn's audio or typed text in, the spoken reply out."""
    heard = audio_tokens(audio, p.INPUT_RATE) if audio is not None else 0
    typed = text_tokens(text or "") if audio is None else 0
    return Usage.from_parts([("prompt", "audio", heard), ("prompt", "text", typed),
                             ("response", "audio", audio_tokens(reply_pcm, p.OUTPUT_RATE))])


@dataclass(frozen=True)
class Rule:
    words: tuple[str, ...]
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    say: str = "sorry"
    reply: str = ""
    cancel: bool = False  # forget the request waiting for a yes

    def matches(self, text: str) -> bool:
        low = " " + " ".join(_WORD_RE.findall(text.lower())) + " "
        return any(f" {w} " in low for w in self.words)


@dataclass(frozen=True)
class Scenario:
    rules: tuple[Rule, ...]
    fallback: Rule
    unheard: Rule  # the turn had no speech at all

    @classmethod
    def load(cls, path: Path | None = None) -> Scenario:
        path = path or Path(__file__).with_name("scenario.toml")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        rules = tuple(Rule(tuple(r.get("words", ())), r.get("tool"), dict(r.get("args", {})),
                           r.get("say", "sorry"), r.get("reply", ""), bool(r.get("cancel", False)))
                      for r in data.get("rule", []))
        fb, unheard = data.get("fallback", {}), data.get("unheard", {})
        return cls(rules, Rule((), None, {}, fb.get("say", "sorry"), fb.get("reply", "Sorry?")),
                   Rule((), None, {}, unheard.get("say", "unheard"), unheard.get("reply", "I heard nothing.")))

    def rule_for(self, text: str) -> Rule:
        return next((r for r in self.rules if r.matches(text)), self.fallback)


@lru_cache(maxsize=32)
def phrase_pcm(name: str) -> bytes:
    """A canned 24 kHz reply from assets/speech (rendered once with espeak-ng)."""
    with wave.open(str(asset("speech", f"{name}.wav")), "rb") as w:
        return w.readframes(w.getnframes())


@dataclass
class SessionMemory:
    """What a resumption handle restores."""

    pending_prompt: str = ""
    turns: int = 0
    issued_at: float = field(default_factory=time.monotonic)
    issued_by: ServerConnection | None = None  # the connection that handed out the handle


@dataclass
class EmulatorStats:
    connections: int = 0
    resumed: int = 0
    turns: int = 0
    tool_calls: int = 0
    messages_in: int = 0
    audio_bytes_in: int = 0
    rejected: int = 0
    goaways: int = 0
    cuts: int = 0  # connections closed at the end of a goAway's time left (the client had not left)
    pongs_delayed: int = 0
    handles_expired: int = 0
    resumes_refused: int = 0  # resumes while the session's previous connection was still open
    compressions: int = 0
    deflate_offered: int = 0  # connections whose client offered permessage-deflate
    deflate_accepted: int = 0  # ... and that this server accepted it on
    heard_voiced: list[int] = field(default_factory=list)  # voiced 30 ms frames of each audio turn received
    tool_responses: list[str] = field(default_factory=list)  # the call ids of the function responses received
    # per API key, each reply's first audio: when it was sent (time.monotonic(), one clock for every process on
    # the machine) and this server's own share of the turn in ms (turn received -> first audio sent, less the
    # time spent waiting for the client's tool responses): what a bench subtracts to get the client's share
    replies: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


class _Conn:
    """One client connection: turn handling and fault behaviour."""

    def __init__(self, emu: LiveEmulator, ws: ServerConnection, faults: set[str], key: str = ""):
        self.emu, self.ws, self.faults, self.key = emu, ws, faults, key
        self.turn_received = 0.0  # time.monotonic() when the turn in reply arrived
        self.client_wait_s = 0.0  # ... and how long it has waited for the client since (tool responses)
        self.setup: p.ClientSetup | None = None
        self.memory = SessionMemory()
        self.audio = bytearray()
        self.in_activity = False
        self.reply: asyncio.Task[None] | None = None
        self.pending_calls: dict[str, asyncio.Future[p.FunctionResult]] = {}
        self.blocking_calls: set[str] = set()  # pending calls that new input cancels
        self.voice_heard = False  # voiceActivity ACTIVITY_START sent for the speech in progress
        self.audio_ms = 0  # of this activity: voiceActivity's audioOffset
        self.input_after_tool = asyncio.Event()
        self.vad = webrtcvad.Vad(2)
        self.silence_ms = 0
        self.heard_speech = False
        self.frozen = False
        if emu.conditions.pong_delay_s is not None:
            self._hold_pongs_while_generating(emu.conditions.pong_delay_s)

    def _hold_pongs_while_generating(self, delay: tuple[float, float]) -> None:
        """Pongs are sent late (like the service's) while a reply is being generated."""
        protocol, send_frame = self.ws.protocol, self.ws.protocol.send_frame
        loop = asyncio.get_running_loop()

        def release(frame: Frame) -> None:
            if self.ws.protocol.state is State.OPEN:
                send_frame(frame)
                self.ws.send_data()

        def send(frame: Frame) -> None:
            if frame.opcode is Opcode.PONG and self.reply is not None and not self.reply.done():
                self.emu.stats.pongs_delayed += 1
                loop.call_later(random.uniform(*delay), release, frame)
                return
            send_frame(frame)

        protocol.send_frame = send  # type: ignore[method-assign]

    async def send(self, text: str) -> None:
        await self.ws.send(text.encode("utf-8"))  # the real server sends JSON in binary frames

    async def run(self) -> None:
        try:
            first = await asyncio.wait_for(self.ws.recv(), 30)
            try:
                msg = p.parse_client_message(first)
            except p.ProtocolError as exc:
                await self.ws.close(1007, f"Invalid JSON payload received. {exc}"[:120])
                return
            if not isinstance(msg, p.ClientSetup):
                await self.ws.close(1007, "The first message must be setup.")
                return
            if not await self._accept_setup(msg):
                return
            async for frame in self.ws:
                self.emu.stats.messages_in += 1
                try:
                    msg = p.parse_client_message(frame)
                except p.ProtocolError as exc:
                    await self.ws.close(1007, f"Invalid request: {exc}"[:120])
                    return
                await self._handle(msg)
        except (ConnectionClosed, TimeoutError):
            pass
        finally:
            if self.reply:
                self.reply.cancel()

    async def _accept_setup(self, setup: p.ClientSetup) -> bool:
        model = setup.model.removeprefix("models/")
        if model not in LIVE_MODELS:
            why = "has been shut down" if model in SHUT_DOWN_MODELS else "is not found for API version v1beta"
            await self.ws.close(1008, f"models/{model} {why}, or is not supported for bidiGenerateContent.")
            return False
        if setup.resumption_handle:
            mem = self.emu.sessions.get(setup.resumption_handle)
            ttl = self.emu.conditions.handle_ttl_s
            if mem is None:
                await self.ws.close(1007, "Invalid session resumption handle.")
                return False
            if ttl is not None and time.monotonic() - mem.issued_at > ttl:
                self.emu.stats.handles_expired += 1
                await self.ws.close(1007, "Session resumption handle has expired.")
                return False
            if mem.issued_by is not None and mem.issued_by.state is State.OPEN:
                self.emu.stats.resumes_refused += 1
                await self.ws.close(1011, "The session is still active on another connection.")
                return False
            self.memory = SessionMemory(mem.pending_prompt, mem.turns)
            self.emu.stats.resumed += 1
        self.setup = self.emu.last_setup = setup
        if "slow_setup" in self.faults:
            await asyncio.sleep(self.emu.stall_s)
        await self.send(p.SERVER_SETUP_COMPLETE)
        every = self.emu.conditions.goaway_every_s
        if every is not None:
            asyncio.get_running_loop().call_later(every, lambda: asyncio.ensure_future(self._go_away()))
        return True

    async def _go_away(self) -> None:
        """The service's routine end of a connection: goAway with the time left, then the cut."""
        if self.ws.state is not State.OPEN:
            return
        left = self.emu.conditions.goaway_time_left_s
        self.emu.stats.goaways += 1
        with contextlib.suppress(ConnectionClosed):
            await self.send(p.server_go_away(left))
        await asyncio.sleep(left)
        if self.ws.state is State.OPEN:
            self.emu.stats.cuts += 1
            await self.ws.close(1011, "Deadline expired.")

    async def _handle(self, msg: Any) -> None:
        assert self.setup is not None
        if isinstance(msg, p.ClientAudio):
            self.emu.stats.audio_bytes_in += len(msg.data)
            if self.setup.push_to_talk:
                if self.in_activity:
                    self.audio += msg.data
                    await self._hear_voice(msg.data)
            else:
                await self._auto_vad(msg.data)
        elif isinstance(msg, p.ClientActivityStart):
            if not self.setup.push_to_talk:
                await self.ws.close(1007, "activityStart is only allowed when automatic activity detection is disabled.")
                return
            await self._barge_in()
            self.in_activity = True
            self.audio = bytearray()
            self.audio_ms = 0
        elif isinstance(msg, p.ClientActivityEnd):
            if self.in_activity:
                self.in_activity = False
                await self._voice_ended()
                self._start_reply(audio=bytes(self.audio))
        elif isinstance(msg, p.ClientAudioStreamEnd):
            if not self.setup.push_to_talk and self.heard_speech:
                await self._end_auto_turn()
        elif isinstance(msg, p.ClientText):
            self.input_after_tool.set()
            if msg.text.strip():
                await self._barge_in()
                self._start_reply(text=msg.text)
        elif isinstance(msg, p.ClientContent):
            if msg.turn_complete and msg.text.strip():
                await self._barge_in()
                self._start_reply(text=msg.text)
        elif isinstance(msg, p.ClientToolResponse):
            self.emu.stats.tool_responses.extend(r.id for r in msg.responses)
            for r in msg.responses:
                fut = self.pending_calls.pop(r.id, None)
                if fut and not fut.done():
                    fut.set_result(r)

    async def _hear_voice(self, pcm: bytes) -> None:
        """Push-to-talk: ``voiceActivity`` ACTIVITY_START at the first speech of the activity."""
        if self.voice_heard:
            self.audio_ms += len(pcm) // 32
            return
        for i in range(0, len(pcm) - 319, 320):  # 10 ms frames
            self.audio_ms += 10
            if not self.voice_heard and self.vad.is_speech(pcm[i:i + 320], 16000):
                self.voice_heard = True
                await self.send(p.server_voice_activity(True, self.audio_ms / 1000))

    async def _voice_ended(self) -> None:
        if self.voice_heard:
            self.voice_heard = False
            await self.send(p.server_voice_activity(False, self.audio_ms / 1000))

    async def _auto_vad(self, pcm: bytes) -> None:
        for i in range(0, len(pcm) - 319, 320):  # 10 ms frames
            self.audio_ms += 10
            speech = self.vad.is_speech(pcm[i:i + 320], 16000)
            if speech:
                if not self.heard_speech:
                    await self._barge_in()
                    self.voice_heard = True
                    await self.send(p.server_voice_activity(True, self.audio_ms / 1000))
                self.heard_speech = True
                self.silence_ms = 0
            elif self.heard_speech:
                self.silence_ms += 10
        if self.heard_speech:
            self.audio += pcm
            limit = self.setup.silence_duration_ms if self.setup and self.setup.silence_duration_ms else 500
            if self.silence_ms >= limit:
                await self._end_auto_turn()

    async def _end_auto_turn(self) -> None:
        await self._voice_ended()
        audio = bytes(self.audio)
        self.audio = bytearray()
        self.heard_speech = False
        self.silence_ms = 0
        self._start_reply(audio=audio)

    async def _barge_in(self) -> None:
        if self.reply and not self.reply.done():
            self.reply.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await self.reply
            # Gemini 3.8 cancels only BLOCKING calls (a NON_BLOCKING one goes on: its late result is taken);
            # older models cancel every pending call
            cancel = [cid for cid in self.pending_calls if cid in self.blocking_calls or not self._is_38()]
            if cancel:
                await self.send(p.server_tool_cancellation(cancel))
                for cid in cancel:
                    self.pending_calls.pop(cid, None)
                    self.blocking_calls.discard(cid)
            await self.send(p.server_content(interrupted=True))
            await self.send(p.server_content(turn_complete=True))

    def _start_reply(self, *, audio: bytes | None = None, text: str | None = None) -> None:
        self.reply = asyncio.create_task(self._reply(audio, text))

    async def _reply(self, audio: bytes | None, text: str | None) -> None:
        emu = self.emu
        emu.stats.turns += 1
        self.turn_received, self.client_wait_s = time.monotonic(), 0.0
        if self.setup and self.setup.resumption_requested:
            await self.send(p.server_resumption_update("", False))
        if "stall" in self.faults:
            await asyncio.sleep(emu.stall_s)
            return
        rule: Rule | None = None
        started = asyncio.get_running_loop().time()
        await self.send(p.server_content(interaction_status="IN_PROGRESS"))
        typed = text
        if audio is not None:
            heard = await asyncio.to_thread(emu.phrasebook.match, audio)
            emu.stats.heard_voiced.append(heard.voiced)
            text = heard.text
            if not heard.speech:
                rule = emu.scenario.unheard
            elif text is None:
                rule = emu.scenario.fallback
            if text and self.setup and self.setup.input_transcription:
                # this stand-in recognises a turn whole: its interim transcripts (the words so far, each
                # replacing the last) come just before the final transcript, not while the audio arrives
                words = text.split()
                for n in range(1, len(words)):
                    await self.send(p.server_content(interim_text=" ".join(words[:n])))
                half = len(text) // 2
                cut = text.rfind(" ", 0, half) + 1 or half
                await self.send(p.server_content(input_text=text[:cut]))
                await self.send(p.server_content(input_text=text[cut:], input_finished=True))
        # listening is part of the model's delay, as at the real service: the first output comes
        # model_delay_s after the turn ended, however long recognising it took (when that was shorter)
        await asyncio.sleep(max(0.0, emu.model_delay_s - (asyncio.get_running_loop().time() - started)))
        if "malformed" in self.faults:
            self.faults.discard("malformed")
            await self.ws.send(b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": 42}}]}}')
        await asyncio.sleep(self._extra_delay())
        if rule is None:
            rule = emu.scenario.rule_for(text or "")
        if rule.cancel:
            self.memory.pending_prompt = ""
        say, reply = rule.say, rule.reply.replace("{news}", (text or "").strip().rsplit("\n", 1)[-1])
        if rule.tool and self.setup and rule.tool in self.setup.tools:
            say, reply = await self._call_tool(rule, text or "")
        elif rule.tool:
            say, reply = "error", f"Sorry, I have no {rule.tool} tool in this session."
        await self._speak(say, reply, audio, typed)

    async def _call_tool(self, rule: Rule, text: str) -> tuple[str, str]:
        assert rule.tool
        args = {k: (v.replace("{text}", text).replace("{pending_prompt}", self.memory.pending_prompt or text)
                    if isinstance(v, str) else v) for k, v in rule.args.items()}
        if rule.tool == "create_agent_run" and not args.get("confirmed"):
            self.memory.pending_prompt = args.get("prompt", text)
        call = p.FunctionCall(f"call-{secrets.token_hex(4)}", rule.tool, args)
        fut: asyncio.Future[p.FunctionResult] = asyncio.get_running_loop().create_future()
        self.pending_calls[call.id] = fut
        if self.setup and rule.tool in self.setup.blocking_tools:
            self.blocking_calls.add(call.id)
        self.input_after_tool.clear()
        self.emu.stats.tool_calls += 1
        await self.send(p.server_tool_call([call]))
        waiting = time.monotonic()
        result = await asyncio.wait_for(fut, self.emu.tool_timeout_s)
        self.blocking_calls.discard(call.id)
        if self.emu.wait_for_input_after_tool and self.setup and self.setup.model.removeprefix("models/").startswith("gemini-3"):
            # Gemini 3.x quirk: no inference after a toolResponse until new realtime input arrives.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.input_after_tool.wait(), self.emu.tool_timeout_s)
        self.client_wait_s += time.monotonic() - waiting
        await asyncio.sleep(self.emu.model_delay_s / 2)
        out = dict(result.output or {})
        if result.error is not None:
            err = result.error if isinstance(result.error, str) else result.error.get("message", str(result.error))
            return "error", f"Sorry, that did not work: {err}"
        speech = str(out.get("speech") or out.get("summary") or out.get("message") or "Done.")
        if rule.tool == "create_agent_run":
            say = ("confirm" if out.get("needs_confirmation") else "nothing" if out.get("nothing_pending")
                   else "started")
            if not out.get("needs_confirmation"):
                self.memory.pending_prompt = ""
        else:
            say = {"get_run_status": "status", "list_runs": "list", "resume_run": "resumed",
                   "get_run_logs": "logs"}.get(rule.tool, "status")
        return say, speech

    async def _speak(self, say: str, reply: str, audio: bytes | None, typed: str | None) -> None:
        pcm = phrase_pcm(say)
        chunk = int(p.OUTPUT_RATE * 2 * self.emu.chunk_ms / 1000)
        chunks = [pcm[i:i + chunk] for i in range(0, len(pcm), chunk)]
        words = reply.split()
        per = max(1, -(-len(words) // max(1, len(chunks))))
        pause = self.emu.chunk_ms / 1000 / self.emu.speedup
        for n, data in enumerate(chunks):
            await self.send(p.server_audio(data))
            if n == 0:
                sent = time.monotonic()
                own_ms = (sent - self.turn_received - self.client_wait_s) * 1e3
                self.emu.stats.replies.setdefault(self.key, []).append((sent, own_ms))
            piece = words[n * per:(n + 1) * per]
            if piece and self.setup and self.setup.output_transcription:
                await self.send(p.server_content(output_text=(" " if n else "") + " ".join(piece)))
            if n == 2 and "close_1011_mid_turn" in self.faults:
                self.faults.discard("close_1011_mid_turn")
                await self.ws.close(1011, "Internal error encountered.")
                raise asyncio.CancelledError
            await asyncio.sleep(pause)
        await self._finish(turn_usage(audio, typed, pcm), question=say in QUESTIONS)

    def _is_38(self) -> bool:
        return self.setup is not None and self.setup.model.removeprefix("models/").startswith("gemini-3.8")

    def _extra_delay(self) -> float:
        """Context compression spikes and latency drift, by the session's turn count (resumption keeps it)."""
        cond, turns = self.emu.conditions, self.memory.turns + 1
        extra = 0.0
        if cond.drift and turns > cond.drift_after_turns:
            extra += cond.drift * self.emu.model_delay_s
        if cond.compress_every_turns and turns % cond.compress_every_turns == 0:
            self.emu.stats.compressions += 1
            extra += cond.compress_delay_s
        return extra

    async def _finish(self, usage: Usage, *, question: bool = False) -> None:
        await self.send(p.server_content(generation_complete=True))
        # after a question the model waits for the user's answer (3.8): it says so with the turn's end; the usage
        # comes in the same message, as the service sends it
        await self.send(p.server_content(turn_complete=True, interaction_status="IDLE",
                                         turn_complete_reason="NEED_MORE_INPUT" if question else None,
                                         waiting_for_input=question, usage=usage))
        self.memory.turns += 1
        if self.setup and self.setup.resumption_requested:
            handle = secrets.token_urlsafe(12)
            self.emu.sessions[handle] = SessionMemory(self.memory.pending_prompt, self.memory.turns,
                                                      issued_by=self.ws)
            await self.send(p.server_resumption_update(handle, True))
        if "freeze" in self.faults:
            self.faults.discard("freeze")
            self.frozen = True
            self.ws.transport.pause_reading()
        if "goaway" in self.faults:
            self.faults.discard("goaway")
            await self.send(p.server_go_away(self.emu.goaway_s))
            asyncio.get_running_loop().call_later(
                self.emu.goaway_s, lambda: asyncio.ensure_future(self.ws.close(1000, "Session ended (goAway).")))


class LiveEmulator:
    """``async with LiveEmulator() as emu: ... emu.url ...`` — or ``await start()`` / ``await stop()``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, model_delay_s: float = 0.4,
                 speedup: float = 4.0, chunk_ms: int = 40, api_key: str | None = None,
                 scenario: Scenario | None = None, tls: ssl.SSLContext | None = None,
                 tool_timeout_s: float = 30.0, stall_s: float = 3600.0, goaway_s: float = 5.0,
                 wait_for_input_after_tool: bool = True, conditions: Conditions | None = None,
                 deflate: bool = True, hearing: Phrasebook | None = None):
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the emulator only listens on loopback")
        self.host, self.port = host, port
        self.model_delay_s, self.speedup, self.chunk_ms = model_delay_s, speedup, chunk_ms
        self.api_key = api_key
        self.scenario = scenario or Scenario.load()
        self.phrasebook = hearing or phrasebook()
        self.tls = tls
        self.tool_timeout_s, self.stall_s, self.goaway_s = tool_timeout_s, stall_s, goaway_s
        self.wait_for_input_after_tool = wait_for_input_after_tool
        self.conditions = conditions or Conditions()
        self.deflate = deflate  # accept permessage-deflate when a client offers it (websockets' server defaults)
        self.sessions: dict[str, SessionMemory] = {}
        self.last_setup: p.ClientSetup | None = None  # the latest setup a client sent (as it came, in ``raw``)
        self.stats = EmulatorStats()
        self._queued_faults: list[set[str]] = []
        self._server: Server | None = None
        self._conns: set[_Conn] = set()

    @property
    def url(self) -> str:
        scheme = "wss" if self.tls is not None else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def inject(self, *faults: str, connections: int = 1) -> None:
        """Apply ``faults`` to the next ``connections`` connections."""
        for f in faults:
            if f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}; choose from {', '.join(FAULTS)}")
        self._queued_faults.extend(set(faults) for _ in range(connections))

    async def start(self) -> LiveEmulator:
        self._server = await serve(self._handler, self.host, self.port, ssl=self.tls,
                                   compression="deflate" if self.deflate else None,
                                   max_size=MAX_CLIENT_MESSAGE, process_request=self._check_request,
                                   ping_interval=None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server:
            for conn in self._conns:
                if conn.frozen:  # it reads nothing, not even a close
                    conn.ws.transport.abort()
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 3)

    async def __aenter__(self) -> LiveEmulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _check_request(self, conn: ServerConnection, request: Request) -> Response | None:
        path = p.normalise_path(request.path)
        if path == REPLIES_PATH:  # a bench's view of this server's share of each turn (plain HTTP GET)
            replies = self.stats.replies.get(_query(request.path, "key") or "", [])
            return _http(200, json.dumps(replies), "application/json")
        if not _PATH_RE.match(path):
            self.stats.rejected += 1
            return _http(404, f"Not found: {path}")
        key = request.headers.get("x-goog-api-key") or _query(request.path, "key") or _query(request.path, "access_token")
        if not key:
            self.stats.rejected += 1
            return _http(401, "Missing API key: send x-goog-api-key or ?key=")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        self.stats.connections += 1
        request = ws.request
        assert request is not None  # the handler runs after the opening handshake
        if "permessage-deflate" in request.headers.get("Sec-WebSocket-Extensions", ""):
            self.stats.deflate_offered += 1
            self.stats.deflate_accepted += any(e.name == "permessage-deflate" for e in ws.protocol.extensions)
        key = request.headers.get("x-goog-api-key") or _query(request.path, "key") or ""
        if self.api_key is not None and key != self.api_key:
            await ws.close(1007, "API key not valid. Please pass a valid API key.")
            return
        faults = self._queued_faults.pop(0) if self._queued_faults else set()
        faults |= {f for f in (_query(request.path, "fault") or "").split(",") if f in FAULTS}
        conn = _Conn(self, ws, faults, key)
        self._conns.add(conn)
        try:
            await conn.run()
        finally:
            self._conns.discard(conn)


def _query(path: str, name: str) -> str | None:
    values = parse_qs(urlsplit(path).query).get(name)
    return values[0] if values else None


def _http(status: int, body: str, content_type: str = "text/plain") -> Response:
    reason = {200: "OK", 401: "Unauthorized", 404: "Not Found"}.get(status, "Error")
    data = body.encode()
    return Response(status, reason, Headers([("Content-Type", content_type), ("Content-Length", str(len(data)))]),
                    data)
