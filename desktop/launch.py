"""The `gemini-codegen` entry point: a window launch paints the window's first frame before anything else.

Without a subcommand the program is a window, and the window should be on screen before the command line's
modules (every command, the engine, the stand-ins, the audio stack) are imported.  So the entry point first
checks, with the shared settings flags alone, whether this is a window launch; if it is and there is a
display, it paints the launch frame (``ui.first_frame``).  Then ``desktop.cli`` runs as for any command:
it parses the whole command line, reads the settings and opens the window in the frame's place (or prints
the one-line error that ends the launch).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import TracebackType

from desktop.commands import common_parser, window_flags


def window_launch(argv: Sequence[str]) -> argparse.Namespace | None:
    """The flags of a window launch, or None when ``argv`` asks for anything else (a subcommand, --help,
    --version, a flag with a bad value: the full command line answers those)."""
    parser = argparse.ArgumentParser(add_help=False, parents=[common_parser()], exit_on_error=False)
    window_flags(parser)
    try:
        args, rest = parser.parse_known_args(list(argv))
    except argparse.ArgumentError:
        return None
    return None if rest else args


def _plain_traceback(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """An unexpected error's traceback, printed without control sequences (its message may quote a service)."""
    import traceback

    from desktop.terminal_text import plain

    sys.stderr.write(plain("".join(traceback.format_exception(kind, exc, tb))))


def main(argv: Sequence[str] | None = None) -> int:
    sys.excepthook = _plain_traceback
    args = list(sys.argv[1:] if argv is None else argv)
    window = window_launch(args)
    if window is not None:
        from ui.app import display_problem

        if display_problem() is None:  # else desktop.cli prints why the window cannot open
            from ui.first_frame import paint_launch_frame

            paint_launch_frame(report=window.exit_after_ms is not None)
    from desktop.cli import main as cli_main

    return cli_main(args)
