"""What every `gemini-codegen` subcommand shares: the settings flags, the user-error type and serving a
stand-in (plain, or TLS with its own certificate).  A leaf module: feature command lines (``desktop.state.cli``, ``desktop.codegen.cli``, ...)
import it, and ``desktop.cli`` imports them, so no module imports its parent back.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # a window launch reads the flags before its first frame: nothing heavy is loaded here
    import ssl

    from desktop.config import Settings

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
    g.add_argument("--ca-file", help="extra CA certificates (PEM) to trust for the Live and CodeGen endpoints, "
                                     "e.g. a company proxy's or a local stand-in's (env GEMINI_CODEGEN_CA_FILE)")
    g.add_argument("--data-dir", help="where the local database lives (env GEMINI_CODEGEN_DATA_DIR)")
    g.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log verbosity")
    return common


def window_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of a launch without a subcommand (the window), beyond the shared settings flags."""
    parser.add_argument("--exit-after-ms", type=int, metavar="N",
                        help="close the window after N ms and print when it was shown (smoke tests)")


SETTING_FLAGS = ("offline", "live_url", "model", "codegen_url", "codegen_org_id", "ca_file", "data_dir",
                 "log_level", "denoise", "vad_mode", "power_source", "quality_profile", "metrics_port",
                 "metrics_jsonl")


def settings_from_args(args: argparse.Namespace, *, use_keyring: bool = True) -> Settings:
    """The settings for this run.  What was wrong in the settings file (each bad value fell back to its
    default) is one line each on stderr; a bad flag or environment value raises ``ConfigError``."""
    import sys

    from desktop.config import load_settings

    overrides = {name: getattr(args, name, None) for name in SETTING_FLAGS}
    settings = load_settings(overrides, use_keyring=use_keyring)
    for problem in settings.file_problems:
        print(f"gemini-codegen: warning: {problem}", file=sys.stderr, flush=True)
    return settings


class Emulator(Protocol):
    @property
    def url(self) -> str: ...

    async def start(self) -> object: ...

    async def stop(self) -> None: ...


def serve_emulator(emu: Emulator, name: str, host: str, port: int, notes: Sequence[str] = ()) -> int:
    """Run a local stand-in server until Ctrl-C; print where it listens (scripts read that line)."""
    import asyncio

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


def add_tls_flags(parser: argparse.ArgumentParser, scheme: str) -> None:
    """``--tls`` / ``--tls-cert`` / ``--tls-key`` for a local stand-in server."""
    parser.add_argument("--tls", action="store_true", help=f"serve {scheme} with a fresh self-signed certificate")
    parser.add_argument("--tls-cert", type=Path, help="certificate PEM to serve (with --tls-key)")
    parser.add_argument("--tls-key", type=Path, help="private key PEM")


def tls_from_args(args: argparse.Namespace, name: str) -> tuple[ssl.SSLContext | None, list[str]]:
    """The server TLS context the ``add_tls_flags`` flags ask for (None: plain), and a note on what to trust."""
    import ssl

    from desktop.config import config_dir
    from desktop.tls import make_self_signed_cert, server_context

    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            raise UserError("--tls-cert and --tls-key go together")
        files = (args.tls_cert, args.tls_key)
    elif args.tls:
        files = make_self_signed_cert(config_dir() / f"{name}-tls")
    else:
        return None, []
    try:
        ctx = server_context(*files)
    except (OSError, ssl.SSLError) as exc:
        raise UserError(f"cannot load the TLS certificate {files[0]} / key {files[1]}: "
                        f"{getattr(exc, 'strerror', None) or exc}") from None
    return ctx, [f"TLS certificate: {files[0]} (trust it in the client with --ca-file or GEMINI_CODEGEN_CA_FILE)"]
