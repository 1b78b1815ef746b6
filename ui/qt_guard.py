"""Guard against a reference-counting defect of PySide6 6.12 on Python 3.11.

PySide6 6.12.0's stable-ABI wheels drop one reference to ``None`` on every call of a ``void`` Qt method
(``setText``, ``update``, ``processEvents``...) and one to ``True`` on every ``Signal.emit()``.  On Python
3.12+ those objects are immortal and nothing happens; on Python 3.11 the count reaches zero after a few
thousand calls and the interpreter aborts ("deallocating None").  Checked on this project's machine:
``QLabel.setText`` x1000 lowers ``sys.getrefcount(None)`` by exactly 1000; 6.11.x does not.

Until the dependency is pinned below 6.12 (or the project moves to Python 3.12), ``install()`` gives the
three singletons a reference count no run can exhaust, which is what Python 3.12 does for them.  It does
nothing on Python 3.12+ or with another PySide6 version, and it never imports Qt.
"""

from __future__ import annotations

import ctypes
import sys
from importlib import metadata

_BUMP = 1 << 40
_installed = False


def pyside_version() -> str:
    for dist in ("PySide6-Essentials", "PySide6"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return ""


def needed(version: str | None = None, python: tuple[int, int] | None = None) -> bool:
    version = pyside_version() if version is None else version
    python = sys.version_info[:2] if python is None else python
    return python < (3, 12) and version.startswith("6.12")


def install() -> bool:
    """Apply the guard once when this PySide6 and Python need it; returns True if it is active."""
    global _installed
    if _installed:
        return True
    if not needed():
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BUMP  # ob_refcnt is the first field of every object
    _installed = True
    return True
