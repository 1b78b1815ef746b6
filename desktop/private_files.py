"""The user's local files are theirs alone: every folder the app makes is 0700, every file it writes 0600.

The one place that makes a private folder (``private_dir``), writes a private file (``write_private``,
atomically), locks one that several processes share (``exclusive``), opens one for appending (``open_private``) or creates one for another library to fill
(``create_private``: SQLite gives its ``-wal`` and ``-shm`` files the main file's mode).  Whatever the
umask, nothing the app writes is readable by another account.  ``secure_folder`` fixes an install made
before this rule (a 0755 folder, 0644 files): it chmods the folder and only the files the app itself keeps
there (named by patterns), never anything else a user keeps in a folder they chose.

Outside POSIX (Windows) the modes mean little and a chmod that fails is only logged: the folders live in the
user's profile, which the OS already keeps private.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600


def _chmod(path: Path, mode: int) -> bool:
    """Take from ``path`` every permission bit outside ``mode`` (group and others'); the owner's own bits are
    kept as they are (a read-only folder stays read-only).  True if it is private now.  A link is left alone
    (it may point anywhere); a file of another account cannot be changed (logged)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        return False
    current = stat.S_IMODE(st.st_mode)
    if current & ~mode == 0:
        return True
    try:
        path.chmod(current & mode)
    except OSError as exc:
        log.warning("could not make %s private (mode %o): %s", path, current & mode, exc.strerror or exc)
        return False
    return True


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner can enter: made (with any missing parents, each 0700) if absent;
    if present, group and others lose their access to it.  Raises ``OSError`` as ``mkdir`` does when it cannot be made."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            folder.mkdir(mode=DIR_MODE)  # (the umask can only take bits away)
    if path.is_dir():
        _chmod(path, DIR_MODE)
    elif path.exists():
        raise NotADirectoryError(20, "Not a directory", str(path))
    return path


def private_file(path: Path) -> bool:
    """An existing file closed to group and others (True if it is private now; False if absent or not
    changeable)."""
    return _chmod(Path(path), FILE_MODE)


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (for a library that creates its own files
    with the umask's mode, such as SQLite); an existing file only gets its mode fixed."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        private_file(path)
        return
    os.close(fd)
    private_file(path)


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Held by one process at a time: an advisory lock on ``path`` (a 0600 file, made if absent), for a
    read-modify-write of a file that several processes share.  Blocks until the lock is free.  Its folder is
    made (private) if absent."""
    path = Path(path)
    if not path.parent.exists():
        private_dir(path.parent)
    create_private(path)
    with open(path, "r+b") as f:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)  # the first byte, even of an empty file
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def open_private(path: Path, mode: str = "a", *, encoding: str = "utf-8") -> IO[str]:
    """``open(path, mode)`` for text, creating the file 0600 (an existing one made 0600 too); its folder is
    made private if the app makes it."""
    path = Path(path)
    if not path.parent.exists():
        private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, encoding=encoding)
    except BaseException:
        os.close(fd)
        raise


def write_private(path: Path, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` atomically (a 0600 temporary file beside it, then renamed over it); the
    folder is made private first."""
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    body = data.encode(encoding) if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, FILE_MODE)  # a temporary file left by a crash may have had another mode
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def secure_folder(folder: Path, patterns: Iterable[str]) -> list[Path]:
    """Fix an existing install: ``folder`` closed to group and others, and so are the entries matching
    ``patterns`` (glob, this folder only): files, and folders along with the files in them.  Returns the paths made private.
    Nothing happens when the folder does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    fixed = [folder] if _chmod(folder, DIR_MODE) else []
    seen: set[Path] = set()
    for pattern in patterns:
        for entry in sorted(folder.glob(pattern)):
            if entry in seen or entry.is_symlink():
                continue
            seen.add(entry)
            if entry.is_dir():
                if _chmod(entry, DIR_MODE):
                    fixed.append(entry)
                fixed.extend(f for f in sorted(entry.iterdir())
                             if f.is_file() and not f.is_symlink() and _chmod(f, FILE_MODE))
            elif entry.is_file() and _chmod(entry, FILE_MODE):
                fixed.append(entry)
    return fixed
