"""A folder nobody can write to, for the storage tests (root included: the immutable attribute)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only_folder(directory: Path) -> Iterator[None]:
    """``directory`` cannot be written inside the block: chmod 555, or for root (who ignores modes)
    ``chattr +i``; skipped with the reason when root has no chattr."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("needs chattr to make a folder read-only for root")
        subprocess.run(["chattr", "+i", str(directory)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        return
    directory.chmod(0o555)
    try:
        yield
    finally:
        directory.chmod(0o755)
