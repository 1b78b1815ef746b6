"""Command line for CodeGen runs: `runs list/show/follow/create` and `emulate codegen`.

They read the same settings as the app (CODEGEN_API_TOKEN, CODEGEN_ORG_ID, CODEGEN_API_URL; --offline uses
an in-process local emulator).  `runs follow` exits 0 when the run completes, 1 when it fails, 3 on timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from desktop.codegen.api import RunCategory
from desktop.terminal_text import plain

if TYPE_CHECKING:
    from desktop.codegen.api import Run
    from desktop.codegen.client import CodegenClient
    from desktop.codegen.tools import CodegenTools
    from desktop.events import EventBus

EXIT_FAILED, EXIT_TIMEOUT = 1, 3


def register_cli(sub: Any, common: argparse.ArgumentParser, groups: dict[str, Any]) -> None:
    from desktop.commands import add_tls_flags

    runs = sub.add_parser("runs", help="CodeGen agent runs: list, show, follow, create")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    ls = runs_sub.add_parser("list", parents=[common], help="recent runs, newest first")
    ls.add_argument("--limit", type=int, default=10, metavar="N", help="how many (1-100, default 10)")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.set_defaults(handler=cmd_runs_list)
    show = runs_sub.add_parser("show", parents=[common], help="one run's status, summary and pull requests")
    show.add_argument("run_id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=cmd_runs_show)
    follow = runs_sub.add_parser("follow", parents=[common], help="live progress until the run ends")
    follow.add_argument("run_id", type=int, metavar="ID")
    follow.add_argument("--timeout", type=float, default=3600.0, metavar="S", help="give up after S seconds")
    follow.add_argument("--json", action="store_true", help="one JSON object per line")
    follow.set_defaults(handler=cmd_runs_follow)
    create = runs_sub.add_parser("create", parents=[common], help="start a run (prints its id and link)")
    create.add_argument("prompt", metavar="PROMPT")
    create.add_argument("--repo-id", type=int, help="numeric repository id")
    create.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(handler=cmd_runs_create)
    groups["runs"] = runs_sub

    emu = groups["emulate"].add_parser("codegen", help="local CodeGen API server")
    emu.add_argument("--port", type=int, default=0, help="port (0 = any free port)")
    emu.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1", "localhost"])
    emu.add_argument("--token", help="accept only this API token (default: any non-empty token)")
    emu.add_argument("--org-id", type=int, help="accept only this organisation id (default: any)")
    emu.add_argument("--step-seconds", type=float, default=3.0, help="seconds per run step (0 = finish at once)")
    add_tls_flags(emu, "https://")
    emu.add_argument("--fault", action="append", default=[], metavar="NAME[=VALUE]",
                     help="5xx=N, drop=N, slow=SECONDS, lowercase, extra (repeatable)")
    emu.set_defaults(handler=cmd_emulate_codegen)


# ------------------------------------------------------------------------------------------ runs
def _with_tools(args: argparse.Namespace, body: Callable[[CodegenTools, EventBus], Awaitable[int]]) -> int:
    """Run ``body(tools, bus)`` with the CodeGen client and tracker from the settings."""
    from desktop.codegen.client import CodegenError
    from desktop.codegen.tools import NOT_CONFIGURED
    from desktop.commands import UserError, settings_from_args
    from desktop.events import EventBus
    from desktop.session import codegen_tools

    settings = settings_from_args(args)
    if not settings.offline and not settings.has_codegen_credentials:
        raise UserError(f"{NOT_CONFIGURED} (or add --offline for the local demo)")

    async def main() -> int:
        bus = EventBus()
        async with codegen_tools(settings, bus=bus) as tools:
            return await body(tools, bus)

    try:
        return asyncio.run(main())
    except CodegenError as exc:
        print(f"gemini-codegen: error: {plain(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _plain_run(run: Any) -> Any:
    """The run with every text the service sent made ``plain`` (what the human-readable output prints)."""
    from dataclasses import fields, replace

    prs = tuple(replace(p, title=plain(p.title), url=plain(p.url)) for p in run.pull_requests)
    text = {f.name: plain(getattr(run, f.name)) for f in fields(run) if isinstance(getattr(run, f.name), str)}
    return replace(run, pull_requests=prs, **text)


def _client(tools: CodegenTools) -> CodegenClient:
    from desktop.codegen.tools import NOT_CONFIGURED
    from desktop.commands import UserError

    if tools.client is None:
        raise UserError(NOT_CONFIGURED)
    return tools.client


def _run_line(run: Run) -> str:
    run = _plain_run(run)
    prs = "".join(f"\n    PR: {p.title} {p.url}" for p in run.pull_requests)
    what = run.prompt or run.summary or ""
    return f"{run.id:>8}  {run.status:<12} {what[:60]}\n    {run.web_url}{prs}"


def cmd_runs_list(args: argparse.Namespace) -> int:
    from desktop.codegen.tools import run_result

    async def body(tools: CodegenTools, bus: EventBus) -> int:
        page = await _client(tools).list_runs(limit=args.limit)
        for run in page.items:
            print(json.dumps(run_result(run) | {"prompt": run.prompt}) if args.json else _run_line(run))
        if not args.json and not page.items:
            print("no runs")
        return 0

    return _with_tools(args, body)


def cmd_runs_show(args: argparse.Namespace) -> int:
    from desktop.codegen.tools import describe, run_result

    async def body(tools: CodegenTools, bus: EventBus) -> int:
        run = await _client(tools).get_run(args.run_id)
        if args.json:
            print(json.dumps(run_result(run) | {"prompt": run.prompt, "created_at": run.created_at}))
        else:
            print(_run_line(run))
            print(describe(_plain_run(run)))
        return 0

    return _with_tools(args, body)


def cmd_runs_create(args: argparse.Namespace) -> int:
    from desktop.codegen.tools import run_result

    async def body(tools: CodegenTools, bus: EventBus) -> int:
        run = await _client(tools).create_run(args.prompt, repo_id=args.repo_id,
                                            metadata={"source": "gemini-codegen-cli"})
        print(json.dumps(run_result(run)) if args.json else f"started run {run.id}: {plain(run.web_url)}")
        return 0

    return _with_tools(args, body)


def cmd_runs_follow(args: argparse.Namespace) -> int:
    async def body(tools: CodegenTools, bus: EventBus) -> int:
        return await follow_run(tools, bus, args.run_id, args.timeout, as_json=args.json)

    return _with_tools(args, body)


async def follow_run(tools: Any, bus: Any, run_id: int, timeout_s: float, *, as_json: bool = False) -> int:
    """Print the run's progress until it ends: 0 done, 1 failed, 3 timed out."""
    from dataclasses import asdict

    from desktop.events import ErrorEvent, RunFinished, RunStep, RunUpdate

    done: asyncio.Future[RunFinished] = asyncio.get_running_loop().create_future()

    def show(ev: Any) -> None:
        if isinstance(ev, RunUpdate | RunStep | RunFinished | ErrorEvent) and getattr(ev, "run_id", run_id) == run_id:
            _print_progress(ev, as_json)
            if isinstance(ev, RunFinished) and not done.done():
                done.set_result(ev)

    unsubscribe = bus.subscribe(show)
    try:
        run = await _client(tools).get_run(run_id)
        tools.tracker.track(run_id, run.prompt, focus=True)
        try:
            finished = await asyncio.wait_for(done, timeout_s)
        except TimeoutError:
            print(f"run {run_id} has not ended after {timeout_s:g} s", file=sys.stderr)
            return EXIT_TIMEOUT
    finally:
        unsubscribe()
    if as_json:
        print(json.dumps({"event": "Result", **asdict(finished)}))
    return 0 if finished.category == RunCategory.DONE else EXIT_FAILED


def _print_progress(ev: Any, as_json: bool) -> None:
    from dataclasses import asdict

    from desktop.events import RunFinished, RunStep, RunUpdate

    if as_json:
        print(json.dumps({"event": type(ev).__name__, **asdict(ev)}, default=str), flush=True)
    elif isinstance(ev, RunUpdate):
        prs = "".join(f"  PR: {plain(p.url)}" for p in ev.pull_requests)
        print(f"run {ev.run_id}: {plain(ev.status)}{prs}", flush=True)
    elif isinstance(ev, RunStep):
        print(f"  step {ev.index + 1} [{plain(ev.message_type)}] {plain(ev.text)}", flush=True)
    elif isinstance(ev, RunFinished):
        print(f"run {ev.run_id} {'completed' if ev.category == RunCategory.DONE else 'failed'}: {plain(ev.summary)}",
              flush=True)
    else:
        print(f"  ({plain(ev.kind)}) {plain(ev.message)}", flush=True)


# ------------------------------------------------------------------------------------ emulate codegen
def cmd_emulate_codegen(args: argparse.Namespace) -> int:
    from desktop.codegen.emulator import CodegenEmulator
    from desktop.commands import UserError, serve_emulator, tls_from_args

    faults: list[tuple[str, float]] = []
    for spec in args.fault:
        name, _, value = spec.partition("=")
        try:
            faults.append((name, float(value or 1)))
        except ValueError:
            raise UserError(f"--fault {spec}: the value must be a number") from None

    tls, notes = tls_from_args(args, "codegen-emulator")
    emu = CodegenEmulator(args.host, args.port, token=args.token, org_id=args.org_id, step_s=args.step_seconds,
                          tls=tls)
    try:
        for name, value in faults:
            emu.inject(name, value)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return serve_emulator(emu, "CodeGen", args.host, args.port, notes)
