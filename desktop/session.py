"""The composition root: settings in, a running ``Session`` out — for the window, the commands, the
selftest, the bench and the load test alike.

``open_session`` wires the quality profile's power monitor, the local store and its recorder, the Live
transport (the real endpoint when credentials are set, or the local stand-ins on loopback for the offline
demo, clearly labelled), the CodeGen tools and run tracker, the run reporter (run news spoken through the
engine), monitoring and the engine, and yields them as one typed ``Session``; leaving the context closes
them in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from audio.frames import FRAME_BYTES
from audio.pipeline import InputPipeline
from desktop.audio_front import AudioFrontEnd, open_speaker
from desktop.codegen.client import CodegenClient
from desktop.codegen.emulator import CodegenEmulator
from desktop.codegen.tools import NOT_CONFIGURED, CodegenTools
from desktop.codegen.tracker import RunTracker
from desktop.config import ConfigError, MissingCredentials, Settings, spoken_languages
from desktop.cost_meter import CostMeter
from desktop.engine import EngineOptions, Player, SessionEngine, ToolHandler
from desktop.events import ErrorEvent, EventBus, Notice, ProfileChanged
from desktop.input_chain import input_chain, needs_half_duplex
from desktop.instructions import system_instruction
from desktop.live import protocol as p
from desktop.live.client import LiveClient, LiveConfig
from desktop.live.emulator import LiveEmulator
from desktop.live.usage import Usage
from desktop.live.wire import choose_deflate
from desktop.metrics import Metrics
from desktop.monitoring import monitoring
from desktop.power import PowerMonitor, power_source
from desktop.quality import QualityProfile, profile_named
from desktop.redaction import remember_secrets
from desktop.run_reporter import RunReporter, run_reports
from desktop.state.recorder import Recorder
from desktop.state.store import NewerDatabase, Store, data_dir_for, open_store
from desktop.state.usage import local_day
from desktop.tls import endpoint_context, loopback_identity
from desktop.tracing import Tracer, tracing
from desktop.vocabulary import CACHE_FILE, Vocabulary, build_vocabulary, code_folders

OFFLINE_KEY = "offline-demo"



@dataclass
class Endpoints:
    live_url: str
    api_key: str
    offline: bool
    ssl_context: ssl.SSLContext | None = None  # None: the default trust store (wss:// to Google)


@contextlib.asynccontextmanager
async def live_endpoint(settings: Settings, *, model_delay_s: float = 0.4) -> AsyncIterator[Endpoints]:
    """The Live endpoint: Google's by default; offline, the local emulator over TLS (wss://, trusted through
    its own certificate for this connection only), so the offline demo runs the code that talks to Google."""
    if settings.offline:
        identity = loopback_identity()
        async with LiveEmulator(model_delay_s=model_delay_s, tls=identity.server_context()) as emu:
            yield Endpoints(p.live_url(emu.url, settings.api_version), OFFLINE_KEY, True, identity.client_context())
        return
    if not settings.gemini_api_key:
        raise MissingCredentials(
            "no Gemini API key: set GEMINI_API_KEY (or store one in Settings), or add --offline for the local demo")
    yield Endpoints(p.live_url(settings.live_url, settings.api_version), settings.gemini_api_key, False,
                    endpoint_context(settings.ca_file))


def live_config(settings: Settings, endpoints: Endpoints, tools: ToolHandler | None = None,
                vocabulary: Vocabulary | None = None) -> LiveConfig:
    # hands-free turns are opened and closed by the local VAD with activity signals, like push-to-talk.
    # The spoken languages go as languageCodes (the SDK's languageHints is deprecated in their favour; none:
    # Gemini detects the language), the names of the user's code as customVocabulary.
    setup = p.SetupOptions(model=settings.model, voice=settings.voice, language=settings.language,
                           system_instruction=system_instruction(vocabulary), push_to_talk=True,
                           tools=tuple(tools.declarations) if tools is not None else (),
                           spoken_languages=spoken_languages(settings.spoken_languages),
                           vocabulary=vocabulary.terms if vocabulary is not None else ())
    return LiveConfig(url=endpoints.live_url, api_key=endpoints.api_key, setup=setup,
                      setup_timeout_s=settings.setup_timeout_s, turn_timeout_s=settings.turn_timeout_s,
                      nudge_after_tool_response=settings.model.startswith("gemini-3"),
                      ssl_context=endpoints.ssl_context)


OFFLINE_CODEGEN_ORG = 1
OFFLINE_STEP_S = 2.5  # the offline demo's runs finish in about 12 s
OFFLINE_CODEGEN_STATE = "codegen-demo.json"  # the demo CodeGen's runs, in the data dir


@contextlib.asynccontextmanager
async def codegen_tools(settings: Settings, *, bus: EventBus | None = None, metrics: Metrics | None = None,
                        emulator_step_s: float | None = None, store: Store | None = None,
                        tracer: Tracer | None = None) -> AsyncIterator[CodegenTools]:
    """The CodeGen tool table for Gemini with its run tracker on ``bus`` (the local CodeGen emulator over
    https:// when offline, its runs taking ``emulator_step_s`` per step, default ``OFFLINE_STEP_S``, kept in
    the data dir across restarts).  Without credentials the tools answer that CodeGen is not configured.
    With a ``store``, API responses are cached in it and the runs a previous session did not see finish are
    followed again at once.  With a ``tracer``, every CodeGen request is a client span."""
    bus = bus or EventBus()
    tls: ssl.SSLContext | None
    async with contextlib.AsyncExitStack() as stack:
        if settings.offline:
            identity = loopback_identity()
            emu = await stack.enter_async_context(CodegenEmulator(
                step_s=OFFLINE_STEP_S if emulator_step_s is None else emulator_step_s,
                state_path=data_dir_for(settings) / OFFLINE_CODEGEN_STATE, tls=identity.server_context()))
            url, token, org, tls = emu.url, OFFLINE_KEY, OFFLINE_CODEGEN_ORG, identity.client_context()
        elif settings.has_codegen_credentials:
            url, token, org = settings.codegen_url, settings.codegen_token or "", settings.codegen_org_id or 0
            tls = endpoint_context(settings.ca_file)
        else:
            bus.emit(Notice(NOT_CONFIGURED, kind="codegen"))
            yield CodegenTools(None, None, settings.confirm_before_create)
            return
        cache = store.api_cache if store is not None else None
        client = await stack.enter_async_context(CodegenClient(url, token, org, bus=bus, metrics=metrics,
                                                               backend=cache, ssl_context=tls,
                                                               deadline_s=settings.codegen_timeout_s,
                                                               tracer=tracer))
        tracker = RunTracker(client, bus)
        if store is not None:
            for run in await asyncio.to_thread(store.runs.active):
                tracker.track(run.run_id, run.prompt)
        tracker.start()
        stack.push_async_callback(tracker.stop)
        tools = CodegenTools(client, tracker, settings.confirm_before_create)
        stack.callback(tools.attach(bus))  # the user's turns and their answers to read-backs
        yield tools


async def session_vocabulary(settings: Settings, tools: CodegenTools, bus: EventBus, *,
                             keep: bool = True) -> Vocabulary:
    """The names of the user's code for this session (``desktop.vocabulary``): bounded in time, what did not
    answer comes from last time (``keep``: saved in the data dir for the next time; a session that records
    nothing keeps nothing); each problem (a folder missing, CodeGen slow) is told once."""
    vocabulary = await build_vocabulary(tools.client, code_folders(settings.code_folders),
                                        cache=data_dir_for(settings) / CACHE_FILE if keep else None)
    for problem in vocabulary.problems:
        bus.emit(Notice(problem, kind="vocabulary"))
    return vocabulary


@contextlib.asynccontextmanager
async def recording(settings: Settings, bus: EventBus, metrics: Metrics | None) -> AsyncIterator[Store]:
    """The local state store with a recorder on ``bus``; flushed and closed on exit (off the loop thread).
    A database written by a newer version is left alone: this session's history then stays in memory."""
    try:
        store = await asyncio.to_thread(open_store, settings, metrics=metrics)
    except NewerDatabase as exc:
        store = Store.open(None, metrics=metrics, secrets=settings.secrets())
        store.message = f"{exc} This session's history is kept in memory only."
    if store.message and (store.in_memory or store.read_only):  # this session's history is not being saved
        bus.emit(ErrorEvent("storage", store.message, "Choose a writable folder with --data-dir."))
    elif store.message:
        bus.emit(Notice(store.message, kind="storage"))
    recorder = Recorder(store, model=settings.model, offline=settings.offline).attach(bus)
    try:
        yield store
    finally:
        await asyncio.to_thread(recorder.close)
        await asyncio.to_thread(store.close)


def effective_profile(settings: Settings, profile: QualityProfile) -> QualityProfile:
    """A denoise backend the user chose (anything but "auto") or a level they set wins over the profile's."""
    default = Settings()
    changes: dict[str, Any] = {}
    if settings.denoise != "auto":
        changes["denoise"] = settings.denoise
    if settings.denoise_level != default.denoise_level:
        changes["denoise_level"] = settings.denoise_level
    return dataclasses.replace(profile, **changes) if changes else profile


@contextlib.asynccontextmanager
async def power_monitor(settings: Settings, bus: EventBus) -> AsyncIterator[PowerMonitor]:
    """The battery watcher choosing the quality profile (announced at once with a ``ProfileChanged``)."""
    try:
        source = power_source(settings.power_source)
    except ValueError as exc:
        raise ConfigError(f"setting 'power_source': {exc}") from None
    monitor = PowerMonitor(source, bus, manual=settings.quality_profile,
                           saver_below_percent=settings.saver_below_percent)
    monitor.start()
    try:
        yield monitor
    finally:
        await monitor.stop()


@dataclass(frozen=True)
class Session:
    """Everything one conversation runs on (closed together when ``open_session`` exits)."""

    engine: SessionEngine
    bus: EventBus
    metrics: Metrics
    store: Store | None  # None: not recorded (e.g. the load test)
    tools: CodegenTools
    power: PowerMonitor
    offline: bool  # the far ends are the local stand-ins (offline demo)
    audio: AudioFrontEnd  # where microphone frames come in (the device, mute, half-duplex)
    reporter: RunReporter | None = None  # tells the user about their runs (desktop.run_reporter)

    @property
    def tracker(self) -> RunTracker | None:
        return self.tools.tracker


def network_summary(engine: SessionEngine) -> dict[str, Any] | None:
    """The Live connection's bytes each way by kind, the compression negotiated, and the rates per minute of
    speech (None: the engine's transport is not a ``LiveClient``).  The reply's length is what the player
    was handed (known when it counts, as the headless ``NullPlayer`` does)."""
    live = engine.transport
    if not isinstance(live, LiveClient):
        return None
    user_s = engine.metrics.counters.get("frames_sent", 0) * FRAME_BYTES / (p.INPUT_RATE * 2)
    reply_s = getattr(engine.player, "bytes_written", 0) / (p.OUTPUT_RATE * 2)
    return live.wire.summary(user_audio_s=user_s, reply_audio_s=reply_s)


async def cost_meter(settings: Settings, bus: EventBus, store: Store | None) -> CostMeter:
    """This session's and today's tokens and estimated price; today starts from the history (after a restart)."""
    day = local_day()
    today = await asyncio.to_thread(store.usage.day, day) if store is not None else Usage()
    return CostMeter(bus, settings.prices, today, day=day)


def input_side(settings: Settings, bus: EventBus, player: Player | None) -> tuple[InputPipeline, bool]:
    """The input chain for ``settings`` (its echo canceller fed by a real speaker's reference), and whether the
    microphone must be muted while the assistant speaks (no echo cancellation with a speaker): each said once."""
    reference = player.reference if player is not None else None  # a real speaker: its echo can be cancelled
    pipeline, echo_missing = input_chain(settings, reference)
    if pipeline.fallback is not None:
        bus.emit(Notice(pipeline.fallback.message, kind="audio"))
    half_duplex = settings.half_duplex or needs_half_duplex(settings, pipeline, reference is not None)
    if half_duplex and not settings.half_duplex:
        bus.emit(Notice(f"No echo cancellation ({echo_missing or 'turned off'}): the microphone is muted while "
                        "the assistant speaks; use headphones to talk over a reply", kind="audio"))
    return pipeline, half_duplex


def follow_profiles(settings: Settings, bus: EventBus, power: PowerMonitor, engine: SessionEngine, live: LiveClient,
                    tools: CodegenTools, *, chunk_ms: int | None, pinned: QualityProfile | None) -> None:
    """Apply the quality profile (``pinned``, or the power monitor's, followed as it changes) to the engine, the
    Live connection's compression offer and the run tracker's polling."""
    def use(chosen: QualityProfile) -> None:
        chosen = effective_profile(settings, chosen)
        if chunk_ms is not None:
            chosen = dataclasses.replace(chosen, chunk_ms=chunk_ms)
        engine.apply_profile(chosen)
        live.deflate = choose_deflate(settings.live_compression, chosen.compression)  # from the next connection
        if tools.tracker is not None:
            tools.tracker.multiplier = chosen.tracker_multiplier

    use(pinned or power.profile)
    if pinned is None:
        bus.on(ProfileChanged, lambda ev: use(profile_named(ev.profile)))
    power.announce()


@contextlib.asynccontextmanager
async def open_session(settings: Settings, *, bus: EventBus | None = None, metrics: Metrics | None = None,
                       player: Player | None = None, devices: bool = False, chunk_ms: int | None = None,
                       model_delay_s: float = 0.4, record: bool = True, endpoints: Endpoints | None = None,
                       tools: CodegenTools | Literal["off"] | None = None,
                       profile: QualityProfile | None = None) -> AsyncIterator[Session]:
    """``record=False`` keeps the session out of the local history database (e.g. the load test);
    ``chunk_ms`` pins the audio per Live message (default: the quality profile's).  ``devices``: open the
    speaker (the ``player``) and the microphone (the window; headless sessions feed ``Session.audio``).

    The bench and the load test inject what they run themselves: ``endpoints``, an already-running Live
    endpoint (e.g. the stand-in in a child process; ``live_endpoint`` is skipped); ``tools``, a CodeGen tool
    table they opened (e.g. one per load-test user against one shared stand-in), or "off" for a session that
    offers Gemini no tools; ``profile``, a quality profile pinned for the whole session (the power monitor's
    choice and its changes are not applied)."""
    bus = bus or EventBus()
    metrics = metrics or Metrics()
    remember_secrets(settings.secrets())  # the bus scrubs them from every event, the log filter from every line
    if settings.file_problems:  # the app started anyway, on the defaults for these
        bus.emit(Notice("Settings file: " + " · ".join(settings.file_problems), kind="settings"))
    async with contextlib.AsyncExitStack() as stack:
        power = await stack.enter_async_context(power_monitor(settings, bus))
        store = await stack.enter_async_context(recording(settings, bus, metrics)) if record else None
        meter = await cost_meter(settings, bus, store)
        stack.callback(meter.attach())
        if endpoints is None:
            endpoints = await stack.enter_async_context(live_endpoint(settings, model_delay_s=model_delay_s))
        if endpoints.offline:
            bus.emit(Notice("Offline demo: local stand-ins for Gemini and CodeGen, nothing leaves this machine",
                            kind="offline"))
        # spans of the conversation, its turns, tool calls and CodeGen requests (None unless OTEL_* asks)
        tracer = await stack.enter_async_context(tracing(bus, model=settings.model, offline=endpoints.offline))
        # before the run tracker starts: run news is told through the engine once it runs (desktop.run_reporter)
        reporter = await stack.enter_async_context(run_reports(settings, bus, store, metrics))
        offered: CodegenTools | None = None
        if tools is None:
            offered = await stack.enter_async_context(codegen_tools(settings, bus=bus, metrics=metrics, store=store,
                                                                    tracer=tracer))
        elif tools != "off":
            offered = tools
        table = offered or CodegenTools(None, None, settings.confirm_before_create)  # the run tracker's home
        speaker = open_speaker(settings, bus, metrics) if devices else None
        if speaker is not None:
            stack.callback(speaker.close)
            player = speaker
        pipeline, half_duplex = input_side(settings, bus, player)
        vocabulary = await session_vocabulary(settings, table, bus, keep=record)
        live = LiveClient(live_config(settings, endpoints, offered, vocabulary), metrics)
        engine = SessionEngine(live, bus=bus, metrics=metrics, tools=offered, player=player,
                               options=EngineOptions(settings.preroll_ms, settings.tail_ms,
                                                     hands_free=settings.ptt_mode == "hands-free"),
                               pipeline=pipeline, tracer=tracer)
        audio = engine.audio
        audio.use_devices(half_duplex=half_duplex, device=settings.input_device, speaker=speaker)

        follow_profiles(settings, bus, power, engine, live, table, chunk_ms=chunk_ms, pinned=profile)
        await stack.enter_async_context(monitoring(metrics, bus, jsonl_path=settings.metrics_jsonl,
                                                   port=settings.metrics_port))
        try:
            await engine.start()
        except BaseException:  # failed, or cancelled by a caller's deadline: nothing half-open stays behind
            await live.close()
            raise
        reporter.speak_through(engine)
        meter.announce()
        if devices:
            audio.open_microphone()
        try:
            yield Session(engine, bus, metrics, store, table, power, endpoints.offline, audio, reporter)
        finally:
            audio.close()
            await engine.stop()
