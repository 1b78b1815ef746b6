"""Which build this is: version, commit and platform (``gemini-codegen --version``, ``selftest --json``).

A packaged app reads ``build_info.json``, which the PyInstaller spec writes next to this module at build time
(with the native libraries it bundled).  A source checkout asks git, and only when asked: nothing here runs
on a normal launch.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from desktop import __version__

FILE = Path(__file__).with_name("build_info.json")


@dataclass(frozen=True, slots=True)
class BuildInfo:
    version: str
    commit: str  # short hash ("+dirty" when built from changed files), or "unknown"
    platform: str  # e.g. linux-x86_64, macos-arm64, windows-amd64
    packaged: bool  # a PyInstaller bundle (False: running from source)
    python: str
    components: tuple[str, ...] = ()  # optional native libraries the bundle was built with
    repository: str = ""  # GitHub "owner/name" the release was built from (its releases are the update feed)

    def line(self) -> str:
        kind = "packaged" if self.packaged else "from source"
        return (f"gemini-codegen {self.version} (commit {self.commit}, {self.platform}, {kind}, "
                f"Python {self.python})")

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["components"] = list(self.components)
        return out


def platform_tag() -> str:
    system = {"darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    return f"{system}-{platform.machine().lower() or 'unknown'}"


def git_commit(root: Path) -> str:
    """The checkout's short commit hash, with ``+dirty`` for uncommitted changes; "unknown" without git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def current() -> BuildInfo:
    if FILE.exists():
        data = json.loads(FILE.read_text(encoding="utf-8"))
        return BuildInfo(data["version"], data["commit"], data["platform"], True, data["python"],
                         tuple(data.get("components", ())), repository_name(data.get("repository")))
    return BuildInfo(__version__, git_commit(Path(__file__).resolve().parent.parent), platform_tag(), False,
                     platform.python_version())


REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")


def repository_name(value: object) -> str:
    """``value`` if it is a GitHub "owner/name", else ""."""
    return value if isinstance(value, str) and REPOSITORY.fullmatch(value) else ""


def write(path: Path, commit: str, components: tuple[str, ...]) -> BuildInfo:
    """The file a bundle carries (called by the PyInstaller spec).  A build on GitHub Actions records the
    repository it ran in (``GITHUB_REPOSITORY``): the packaged app looks for updates among its releases."""
    info = BuildInfo(__version__, commit, platform_tag(), True, platform.python_version(), components,
                     repository_name(os.environ.get("GITHUB_REPOSITORY", "")))
    data = info.as_dict()
    del data["packaged"]
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return info
