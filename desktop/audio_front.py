"""The audio front end: where a session's microphone frames come from and how they become turns and frames.

``AudioFrontEnd`` (built with its engine, ``SessionEngine.audio``; the composition root,
``desktop.session.open_session``, gives it the devices) owns the capture device: it opens it
(``open_microphone``; headless sessions never do and call ``feed`` themselves), mutes it (mute closes the
stream, after an open turn's silent tail), and looks for it again when it is missing or lost (re-plug).
Every frame passes ``feed``: muted, or the assistant audible while ``half_duplex`` is on (a speaker without
echo cancellation), the microphone is replaced by silence, so a turn still closes on time.  ``process`` then
runs the input chain (denoise, level, VAD) and the push-to-talk gate; between turns the chain rests and the
raw frames are only kept for the pre-roll (the microphone keeps it itself when it can: ``capture``), and
hands-free, the VAD's speech start and end press and release the key.  What leaves is turns and frames for
the engine (``TurnSide``: a voice turn begun, its audio, its end).  ``open_speaker`` opens the speaker
replies play on (or says why there is none).  No Qt here: the window's bridge only forwards the user's
intents (mute, press, release).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Protocol

from audio.frames import FRAME_BYTES, FRAME_MS, frames_for_ms
from audio.gate import GateState, PushToTalkGate
from audio.level import FLOOR_DBFS
from desktop.events import AudioLevel, ErrorEvent, EventBus, Notice
from desktop.problems import short_reason

if TYPE_CHECKING:
    from audio.capture import MicCapture
    from audio.devices import DeviceLost
    from audio.pipeline import InputPipeline
    from audio.playback import SpeakerPlayer
    from audio.vad import VadEvent
    from desktop.config import Settings
    from desktop.metrics import Metrics
    from desktop.turn import Turn

log = logging.getLogger(__name__)

MIC_RETRY_S = 2.0  # a lost microphone is looked for again this often
_SILENT_FRAME = bytes(FRAME_BYTES)


class TurnSide(Protocol):
    """What the front end hands its turns and frames to (``desktop.engine.SessionEngine``)."""

    metrics: Metrics
    turn: Turn | None
    failure: ErrorEvent | None

    @property
    def assistant_audible(self) -> bool:
        """The assistant is speaking, or its reply is still queued for the device."""
        ...

    @property
    def replying(self) -> bool:
        """A reply is coming or playing, or the speaker is still running (its echo)."""
        ...

    @property
    def chunk_ms(self) -> int:
        """The audio chunk in force (the quality profile's)."""
        ...

    def begin_voice_turn(self, at: float) -> None:
        """A voice turn begins (the key went down at ``at``): barge in, open it on the wire."""
        ...

    def send_audio(self, frame: bytes, captured_at: float) -> None:
        """One 10 ms frame of the open turn, for the wire."""
        ...

    def listening(self) -> None:
        """The pre-roll of a new voice turn is on its way: the user is heard."""
        ...

    def end_voice_turn(self) -> None:
        """The gate closed: the turn's audio is complete."""
        ...

    def speech_heard(self, ev: VadEvent) -> None:
        """A VAD event (the engine times where speech really ended)."""
        ...


class HeldCapture(Protocol):
    """A microphone that keeps the pre-roll itself between turns, waking nobody (``audio.capture.MicCapture``)."""

    @property
    def held(self) -> bool: ...

    def hold(self, keep_ms: int) -> bool:
        """Keep the newest ``keep_ms`` and stop delivering frames; False: not now (ask again on a later frame)."""
        ...

    def wake(self) -> list[tuple[bytes, float]]:
        """Deliver frames again; returns those kept meanwhile (oldest first, with their capture times)."""
        ...


class AudioFrontEnd:
    def __init__(self, turns: TurnSide, bus: EventBus, *, pipeline: InputPipeline | None = None,
                 preroll_ms: int = 300, tail_ms: int = 200, hands_free: bool = False,
                 chain_between_turns: bool = False):
        self.turns = turns
        self.bus = bus
        self.pipeline = pipeline  # denoise -> level -> VAD before the gate (audio.pipeline.InputPipeline)
        self.gate = PushToTalkGate(preroll_ms, tail_ms)
        self.tail_ms = tail_ms
        # turns opened and closed by the local VAD (needs a pipeline): speech start = key down (the pre-roll
        # covers the VAD's start delay), speech end = key up
        self.hands_free = hands_free
        # run the input chain on every frame, between turns too (the bench's baseline for the idle cost)
        self.chain_between_turns = chain_between_turns
        self.half_duplex = False  # silence while the assistant speaks (no echo cancellation)
        self.device: str | int | None = None  # the input device setting (None: the system's default)
        self.speaker: SpeakerPlayer | None = None  # closed and opened again when PortAudio must list devices anew
        self.muted = False
        self.mic: MicCapture | None = None  # None: no capture device (headless, or none in this build)
        self._watched: MicCapture | None = None  # the microphone being looked for (missing or lost)
        self._loop: asyncio.AbstractEventLoop | None = None  # the engine loop, once the microphone is opened
        # Idle costs nothing: the input chain runs for turns and replies only.  Between them the raw frames are
        # kept for the pre-roll (hands-free: the VAD alone listens); a key press runs them through the chain
        # (``_backlog``, a chunk at a time so the first one is on the wire at once), and the chain rests again
        # once the turn and its playback are over.
        self._chain_on = False
        self._raw: deque[tuple[bytes, float, bool]] = deque(maxlen=self.gate.preroll.maxlen)
        self._backlog: deque[tuple[bytes, float, bool, float]] = deque()  # frame, captured, heard, sent as of
        self._catching_up = False
        self._turn_news = True  # a turn began since the last frame (or nothing was checked yet)
        # the microphone, when it can keep the pre-roll itself: push-to-talk, resting, it delivers no frames at
        # all (the loop sleeps); a new turn (the key, a typed request) wakes it and takes what it kept
        self.capture: HeldCapture | None = None

    def use_devices(self, *, half_duplex: bool, device: str | int | None, speaker: SpeakerPlayer | None) -> None:
        """The composition root's device settings: half-duplex, the input device, the speaker to reopen."""
        self.half_duplex, self.device, self.speaker = half_duplex, device, speaker

    # ------------------------------------------------------------------ frames
    def feed(self, frame: bytes, captured_at: float | None = None) -> None:
        """One 10 ms frame, on the engine loop (from the microphone, or a file source when headless).

        Muted, or the assistant audible in half-duplex: silence instead, so a turn that is open still
        closes on time."""
        if self.muted or (self.half_duplex and self.turns.assistant_audible):
            frame = _SILENT_FRAME
        self.process(frame, captured_at)

    @property
    def key_held(self) -> bool:
        """A turn's audio is open: the key is down, or its tail still runs."""
        return self.gate.state is not GateState.IDLE

    def press(self, at: float | None = None) -> None:
        """Push-to-talk key down (``at``: perf_counter of the key event).  Barges in on a reply."""
        at = time.perf_counter() if at is None else at
        if self.gate.state is GateState.OPEN or self.turns.failure is not None:
            return
        self.turns.begin_voice_turn(at)
        preroll = self.gate.press()
        resting = self.pipeline is not None and not self._chain_on
        if resting:  # the newest pre-roll is raw (kept while the chain rested): fewer processed ones before it
            preroll = preroll[max(0, len(preroll) + len(self._raw) - (self.gate.preroll.maxlen or 1)):]
        for frame in preroll:
            self.turns.send_audio(frame, at)
        if resting:
            self._start_chain(at)
        self.turns.listening()

    def release(self) -> None:
        self._catch_up(None)  # the VAD must have heard everything up to the release
        turn = self.turns.turn
        if self.gate.state is GateState.OPEN and turn is not None:
            turn.timings.released_at = time.perf_counter()
        if self.gate.release(self._trailing_silence()):
            self.turns.end_voice_turn()

    def turn_begun(self) -> None:
        """A turn begins (spoken, typed or the app's): the microphone delivers again, and what it kept while
        resting is the newest pre-roll."""
        self._turn_news = True
        capture = self.capture
        if capture is not None and capture.held:
            kept = capture.wake()
            self.turns.metrics.counters["frames_captured"] += len(kept)
            self._raw.extend((frame, at, False) for frame, at in kept)

    def _trailing_silence(self) -> float | None:
        """How long the local VAD has heard silence (None without a pipeline: the gate keeps its fixed tail)."""
        return self.pipeline.vad.trailing_silence_s if self.pipeline is not None else None

    def process(self, frame: bytes, captured_at: float | None = None) -> None:
        """One 10 ms frame past mute and half-duplex (called on the engine loop).  Never blocks, never awaits.

        With a ``pipeline`` the frame is denoised, metered (``AudioLevel`` events, at most 30 a second)
        and run through the VAD before the gate, while a turn or a reply needs it; between them the frame is
        only kept for the pre-roll (hands-free: and heard by the VAD alone)."""
        self.turns.metrics.counters["frames_captured"] += 1
        at = time.perf_counter() if captured_at is None else captured_at
        if self.pipeline is not None:
            # resting, only a new turn can need the chain (a key press starts it itself): no check per frame
            wanted = self._chain_wanted() if self._chain_on or self._turn_news else False
            self._turn_news = False
            if wanted != self._chain_on:
                if wanted:
                    self._start_chain(None)
                else:
                    self._stop_chain()
            if not wanted:
                self._rest(frame, at)
                return
            if self._backlog:  # still running the pre-roll through the chain: this frame waits its turn
                self._backlog.append((frame, at, False, at))
                return
            frame = self._run_chain(frame, at, True)
        self._gate_frame(frame, at)

    def _run_chain(self, frame: bytes, at: float, vad: bool) -> bytes:
        assert self.pipeline is not None
        out = self.pipeline.process(frame, at, vad=vad)
        if out.level is not None:
            self.bus.emit(AudioLevel(out.level.rms_dbfs, out.level.peak_dbfs, out.speaking))
        if out.vad is not None:
            self._on_vad(out.vad)
        return out.frame

    def _chain_wanted(self) -> bool:
        """A turn is open, a reply is coming or playing, or the speaker is still running (its echo); and always
        hands-free: with the VAD alone between turns, a reply's echo tail through shared speakers (no echo
        canceller, no double-talk check) was seen opening a turn of its own."""
        if self.chain_between_turns or self.hands_free or self.key_held or self._backlog:
            return True
        return self.turns.replying

    def _rest(self, frame: bytes, at: float) -> None:
        """Between turns: keep the raw frame for the pre-roll; hands-free, the VAD alone hears it (a start
        presses the key, which runs the kept frames through the rest of the chain)."""
        heard = self.hands_free
        self._raw.append((frame, at, heard))
        if heard:
            assert self.pipeline is not None
            ev = self.pipeline.listen(frame, at)
            if ev is not None:
                self._on_vad(ev)
        elif self.capture is not None:
            self.capture.hold((self._raw.maxlen or 0) * FRAME_MS)

    def _start_chain(self, pressed_at: float | None) -> None:
        """Run the kept raw frames through the chain (warming it), a chunk now and the rest a chunk per loop
        pass, so the first audio of a key press is on the wire at once.  ``pressed_at``: the pre-roll is sent
        as of the key press (as a processed pre-roll is), else the frames keep their capture times."""
        self._chain_on = True
        self._backlog.extend((f, t, heard, t if pressed_at is None else pressed_at) for f, t, heard in self._raw)
        self._raw.clear()
        if pressed_at is None:
            self._catch_up(None)  # no one waits on the wire: warm it now
            return
        self._catch_up(frames_for_ms(self.turns.chunk_ms))
        self._schedule_catch_up()

    def _schedule_catch_up(self) -> None:
        if self._backlog and not self._catching_up:
            self._catching_up = True
            asyncio.get_running_loop().call_soon(self._catch_up_later)

    def _catch_up_later(self) -> None:
        self._catching_up = False
        self._catch_up(frames_for_ms(self.turns.chunk_ms))
        self._schedule_catch_up()

    def _catch_up(self, limit: int | None) -> None:
        """Up to ``limit`` frames of the backlog (all: None) through the chain and the gate."""
        backlog = self._backlog
        n = 0
        while backlog and (limit is None or n < limit):
            frame, at, heard, send_at = backlog.popleft()
            self._gate_frame(self._run_chain(frame, at, not heard), send_at)
            n += 1

    def _stop_chain(self) -> None:
        """The turn and its playback are over: the chain rests, the level meter shows silence."""
        assert self.pipeline is not None
        self._chain_on = False
        self.pipeline.suspend()
        self.bus.emit(AudioLevel(FLOOR_DBFS, FLOOR_DBFS, False))

    def _gate_frame(self, frame: bytes, at: float) -> None:
        send, ended = self.gate.push(frame, self._trailing_silence())
        if send:
            self.turns.send_audio(frame, at)
        if ended:
            self.turns.end_voice_turn()

    def _on_vad(self, ev: VadEvent) -> None:
        """Hands-free, the VAD's speech start and end press and release the key; the engine hears every event."""
        if self.hands_free:
            if ev.kind == "speech_start" and self.gate.state is not GateState.OPEN:
                self.press(ev.confirmed_at)
            elif ev.kind == "speech_end":
                self.release()
        self.turns.speech_heard(ev)

    # ------------------------------------------------------------------ the capture device
    def open_microphone(self) -> None:
        """Open the microphone (on the engine loop); its frames go through ``feed``.  A missing one is said
        once and looked for until it comes."""
        try:
            from audio.capture import MicCapture  # absent in a build without audio capture
            from audio.devices import AudioUnavailable
        except ImportError:
            self.bus.emit(Notice("Microphone capture is not available in this build: type your request instead",
                                 kind="no_microphone"))
            return
        bus = self.bus
        self._loop = asyncio.get_running_loop()

        def on_lost(problem: DeviceLost) -> None:
            bus.emit(ErrorEvent("no_microphone", _sentence(problem.message), "Plug it back in: listening resumes "
                                "by itself. Or choose another input device in Settings."))
            self._watch(mic)

        mic = MicCapture(self._loop, self.feed, on_lost, device=self.device, block_ms=FRAME_MS)
        self.capture = mic  # between push-to-talk turns it keeps the pre-roll itself and wakes nobody
        self.mic = mic  # not open on failure: looked for until it comes
        try:
            mic.open()
        except AudioUnavailable as exc:  # its message is one line for the user (what to connect or install)
            if exc.detail:
                log.warning("the microphone could not be opened: %s", exc.detail)  # the library's words
            bus.emit(ErrorEvent("no_microphone", _sentence(str(exc)),
                                "Plug one in or choose another input device in Settings, or type your request. "
                                "Listening starts by itself once a microphone is there."))
            self._watch(mic)
        except Exception:  # noqa: BLE001 - any device failure is the same message for the user
            log.warning("the microphone could not be opened", exc_info=True)  # the library's words: in the log
            bus.emit(ErrorEvent("no_microphone", "The microphone could not be opened.",
                                "Choose another input device in Settings, or type your request."))
            self._watch(mic)

    def set_muted(self, muted: bool) -> None:
        """On the engine loop: mute closes the microphone's stream (nothing is captured; the system's
        microphone indicator goes off), after the silent tail of a turn still open, so it ends on time;
        unmute opens it again."""
        self.muted = muted
        mic = self.mic
        if mic is None:
            return
        if muted:
            if not mic.is_open:
                return
            frames = (self.tail_ms + 100) // FRAME_MS
            while self.key_held and frames > 0:  # the open turn's tail
                self.process(_SILENT_FRAME, time.perf_counter())
                frames -= 1
            mic.close()
            return
        if mic.is_open:
            return
        try:
            mic.open()
        except Exception as exc:  # noqa: BLE001 - any device failure is the same message for the user
            log.warning("the microphone could not be opened again: %s", getattr(exc, "detail", "") or exc)
            self.bus.emit(ErrorEvent("no_microphone", "The microphone could not be opened again.",
                                     "Plug it in or choose another input device in Settings, or type your request. "
                                     "Listening starts by itself once a microphone is there."))
            self._watch(mic)

    def close(self) -> None:
        """The session ends: the microphone is closed and no longer looked for."""
        mic, self.mic = self.mic, None
        if mic is not None:
            with contextlib.suppress(Exception):
                mic.close()

    def _watch(self, mic: MicCapture) -> None:
        """On the engine loop: a missing microphone is opened as soon as it can be (plugged in or back in, or
        the sound server's default moved to another one), tried every ``MIC_RETRY_S`` while it is missing and
        its session lasts (nothing runs while it is there: idle costs nothing); unmuting opens it anyway, so
        nothing is tried while muted.  PortAudio lists devices once: when its list has no device to open, it
        is initialised again first (between replies: that closes the speaker's stream, opened again after)."""
        loop = self._loop
        assert loop is not None  # (set when the microphone was opened)
        if self._watched is mic:
            return  # (already looking for it)
        self._watched = mic

        def again() -> None:
            if self.mic is not mic or mic.is_open or loop.is_closed():
                self._watched = None
                return  # the session ended, or opened meanwhile (unmute)
            if not self.muted:
                self._refresh_devices(mic)
                try:
                    mic.open()
                except Exception as exc:  # noqa: BLE001 - still not there: try again later
                    log.debug("microphone still unavailable: %s", getattr(exc, "detail", "") or exc)
                else:
                    self._watched = None
                    self.bus.emit(Notice(f"Microphone ready: {mic.label}", kind="microphone_back"))
                    return
            loop.call_later(MIC_RETRY_S, again)

        loop.call_later(MIC_RETRY_S, again)

    def _refresh_devices(self, mic: MicCapture) -> None:
        """PortAudio initialised again when its device list has nothing for ``mic`` (a device plugged in since
        it was initialised only shows up then), unless the speaker is playing a reply."""
        from audio.devices import input_listed, refresh

        speaker = self.speaker
        if input_listed(mic.device_spec) or (speaker is not None and speaker.running):
            return
        if speaker is not None:
            speaker.close()
        refresh()
        if speaker is not None:
            try:
                speaker.open()
            except Exception:  # noqa: BLE001 - replies are then shown as text only
                log.warning("the speaker could not be opened again", exc_info=True)
                self.speaker = None


def open_speaker(settings: Settings, bus: EventBus, metrics: Metrics) -> SpeakerPlayer | None:
    """The speaker for replies, or None (replies are then shown as text only) with a notice saying so."""
    try:
        from audio.devices import AudioUnavailable
        from audio.playback import SpeakerPlayer
    except ImportError:
        return None
    player = SpeakerPlayer(metrics=metrics, device=settings.output_device, jitter_ms=settings.jitter_ms)
    try:
        player.open()
    except AudioUnavailable as exc:
        bus.emit(Notice(f"No speaker: replies are shown as text only ({short_reason(exc)})", kind="audio"))
        return None
    except Exception as exc:  # noqa: BLE001 - a device failure is a notice, never a crash
        bus.emit(Notice(f"The speaker could not be opened ({short_reason(exc)}): replies are shown as text only",
                        kind="audio"))
        return None
    return player


def _sentence(text: str) -> str:
    """A message as a sentence: capital first letter, full stop."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
