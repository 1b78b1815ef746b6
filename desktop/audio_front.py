"""The audio front end: where a session's microphone frames come from and how they reach the engine.

``AudioFrontEnd`` (built by the composition root, ``desktop.session.open_session``) owns the capture device:
it opens it (``open_microphone``; headless sessions never do and call ``feed`` themselves), mutes it (mute
closes the stream, after an open turn's silent tail), and looks for it again when it is missing or lost
(re-plug).  Every frame passes ``feed``: muted, or the assistant audible while ``half_duplex`` is on (a
speaker without echo cancellation), the microphone is replaced by silence, so a turn still closes on time.
The engine then runs the input chain and the push-to-talk gate (``SessionEngine.feed_frame``); between
push-to-talk turns the microphone keeps the pre-roll itself (``SessionEngine.capture``).  ``open_speaker``
opens the speaker replies play on (or says why there is none).  No Qt here: the window's bridge only
forwards the user's intents (mute, press, release).
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING

from audio.frames import FRAME_BYTES, FRAME_MS
from desktop.events import ErrorEvent, EventBus, Notice
from desktop.problems import short_reason

if TYPE_CHECKING:
    import asyncio

    from audio.capture import MicCapture
    from audio.devices import DeviceLost
    from audio.playback import SpeakerPlayer
    from desktop.config import Settings
    from desktop.engine import SessionEngine
    from desktop.metrics import Metrics

log = logging.getLogger(__name__)

MIC_RETRY_S = 2.0  # a lost microphone is looked for again this often
_SILENT_FRAME = bytes(FRAME_BYTES)


class AudioFrontEnd:
    def __init__(self, engine: SessionEngine, bus: EventBus, loop: asyncio.AbstractEventLoop, *,
                 half_duplex: bool = False, device: str | int | None = None, speaker: SpeakerPlayer | None = None):
        self.engine = engine
        self.bus = bus
        self.loop = loop
        self.half_duplex = half_duplex  # silence while the assistant speaks (no echo cancellation)
        self.device = device  # the input device setting (None: the system's default)
        self.speaker = speaker  # closed and opened again when PortAudio must list its devices anew
        self.muted = False
        self.mic: MicCapture | None = None  # None: no capture device (headless, or none in this build)
        self._watched: MicCapture | None = None  # the microphone being looked for (missing or lost)

    # ------------------------------------------------------------------ frames
    def feed(self, frame: bytes, captured_at: float | None = None) -> None:
        """One 10 ms frame, on the engine loop (from the microphone, or a file source when headless).

        Muted, or the assistant audible in half-duplex: silence instead, so a turn that is open still
        closes on time."""
        if self.muted or (self.half_duplex and self.engine.assistant_audible):
            frame = _SILENT_FRAME
        self.engine.feed_frame(frame, captured_at)

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

        def on_lost(problem: DeviceLost) -> None:
            bus.emit(ErrorEvent("no_microphone", _sentence(problem.message), "Plug it back in: listening resumes "
                                "by itself. Or choose another input device in Settings."))
            self._watch(mic)

        mic = MicCapture(self.loop, self.feed, on_lost, device=self.device, block_ms=FRAME_MS)
        self.engine.capture = mic  # between push-to-talk turns it keeps the pre-roll itself and wakes nobody
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
        mic, engine = self.mic, self.engine
        if mic is None:
            return
        if muted:
            if not mic.is_open:
                return
            from audio.gate import GateState

            frames = (engine.options.tail_ms + 100) // FRAME_MS
            while engine.gate.state is not GateState.IDLE and frames > 0:  # the open turn's tail
                engine.feed_frame(_SILENT_FRAME, time.perf_counter())
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
        loop = self.loop
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
