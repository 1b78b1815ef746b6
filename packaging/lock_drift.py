"""Prints how the running environment's packages differ from the lock file (used by `make test-latest`).

    python packaging/lock_drift.py requirements.lock

Each line names a package whose installed version is not the locked one, so a failure in the suite that
follows can be traced to the dependency that moved.  Exit status 0 either way: drift is information.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata

from packaging.markers import Marker
from packaging.utils import canonicalize_name


def locked(path: str) -> dict[str, str]:
    """name -> version of every pin in the lock whose environment marker holds here."""
    pins: dict[str, str] = {}
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^([A-Za-z0-9._-]+)==([^\s;]+)\s*(?:;\s*(.+))?$", line.strip())
        if m and (m.group(3) is None or Marker(m.group(3)).evaluate()):
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def main(path: str) -> None:
    pins = locked(path)
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    moved = sorted((name, pins[name], installed[name]) for name in pins.keys() & installed.keys()
                   if pins[name] != installed[name])
    if not moved:
        print(f"the newest allowed versions are the locked ones ({len(pins)} packages)")
        return
    print(f"{len(moved)} of {len(pins)} packages differ from {path}:")
    for name, old, new in moved:
        print(f"  {name}: {old} (locked), {new} (installed)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "requirements.lock")
