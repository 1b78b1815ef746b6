"""What every `gemini-codegen` subcommand shares: the settings flags, the user-error type and serving a
stand-in.  A leaf module: feature command lines (``desktop.state.cli``, ``desktop.codegen.cli``, ...)
import it, and ``desktop.cli`` imports them, so no module imports its parent back.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Protocol

from desktop.config import Settings, load_settings

EXIT_USAGE = 2


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def common_parser(default: object = None) -> argparse.ArgumentParser:
    """The shared flags.  Sub-commands get them with ``argparse.SUPPRESS`` defaults, so a flag given before
    the sub-command (``gemini-codegen --data-dir X db stats``) is not reset by the sub-command's default."""
    common = argparse.ArgumentParser(add_help=False, argument_default=default)
    g = common.add_argument_group("settings (override the settings file and the environment)")
    g.add_argument("--offline", action="store_true", default=default,
                   help="use the built-in local stand-ins for Gemini and CodeGen (no keys needed)")
    g.add_argument("--live-url", help="Gemini Live endpoint (env GEMINI_LIVE_URL)")
    g.add_argument("--model", help="Gemini Live model (env GEMINI_MODEL; default gemini-3.8-live)")
    g.add_argument("--codegen-url", help="CodeGen API base URL (env CODEGEN_API_URL)")
    g.add_argument("--codegen-org-id", type=int, help="CodeGen organisation id (env CODEGEN_ORG_ID)")
    g.add_argument("--data-dir", help="where the local database lives (env GEMINI_CODEGEN_DATA_DIR)")
    g.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log verbosity")
    return common


SETTING_FLAGS = ("offline", "live_url", "model", "codegen_url", "codegen_org_id", "data_dir", "log_level",
                 "denoise", "vad_mode", "power_source", "quality_profile", "metrics_port", "metrics_jsonl")


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name, None) for name in SETTING_FLAGS}
    return load_settings(overrides)


class Emulator(Protocol):
    @property
    def url(self) -> str: ...

    async def start(self) -> object: ...

    async def stop(self) -> None: ...


def serve_emulator(emu: Emulator, name: str, host: str, port: int, notes: Sequence[str] = ()) -> int:
    """Run a local stand-in server until Ctrl-C; print where it listens (scripts read that line)."""

    async def serve() -> None:
        await emu.start()
        print(f"{name} emulator listening on {emu.url}", flush=True)
        for note in notes:
            print(note, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await emu.stop()

    try:
        asyncio.run(serve())
    except ValueError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return 0

