r"""Writing files so that nothing a user saved is lost: atomic replacement, and refusing what is not a file.

``atomic_write(path, data)`` writes ``data`` (bytes, or a function that writes to a binary file object) to a
hidden temporary file beside the target, flushes and fsyncs it, and renames it over the target
(``os.replace``). A crash at any point, SIGKILL included, leaves the old file or the new one, never a mix.

What the target may be (``output_target``):

* a regular file or nothing yet (missing folders are created);
* a symbolic link: the write goes through it to the file it points to (followed to its end), and the link
  stays a link;
* a directory, a device (``/dev/null``), a FIFO or a socket is refused with ``IsADirectoryError`` /
  ``ValueError`` before anything is written: replacing it would turn it into a regular file.

Temporary files are named ``.NAME.<random>.tmp`` and held under an exclusive ``flock`` while being written.
A writer killed before its rename leaves its temporary file behind; the next save of the same target removes
those of its temporaries that no live process holds (the lock of a dead process is gone), never a
concurrent writer's. Where ``fcntl`` is missing (Windows) stale files are left alone.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["atomic_write", "atomic_write_text", "output_target", "remove_stale_temporaries"]

#: the mode of a new file (an existing target keeps its own)
NEW_FILE_MODE = 0o644


def output_target(path) -> Path:
    """The file a save to ``path`` replaces: ``path``, or the end of its chain of symbolic links. Refuses a
    directory (``IsADirectoryError``) and anything that is not a regular file (``ValueError``)."""
    if os.fspath(path) == "":
        raise ValueError("output path: expected a file name, got an empty path")
    path = Path(path)
    target = Path(os.path.realpath(path))
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{path}: is a directory; expected a file name to write to")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a character device" if stat.S_ISCHR(info.st_mode) else "a block device" if stat.S_ISBLK(info.st_mode)
                else "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode)
                else "not a regular file")
        raise ValueError(f"{path}: is {kind}; saving replaces the target with a regular file, so it is refused")
    return target


def _prefix(target: Path) -> str:
    return f".{target.name}."


def _is_temporary_of(name: str, target: Path) -> bool:
    return name.startswith(_prefix(target)) and name.endswith(".tmp") and len(name) > len(_prefix(target)) + 4


def remove_stale_temporaries(target) -> list[Path]:
    """Remove the temporary files of ``target`` that no live writer holds; returns the paths removed."""
    target = Path(target)
    if fcntl is None or not target.parent.is_dir():
        return []
    removed = []
    for name in os.listdir(target.parent):
        if not _is_temporary_of(name, target):
            continue
        candidate = target.parent / name
        try:
            fd = os.open(candidate, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue  # gone already, or a link / something we may not open: not ours to remove
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live writer holds it
            try:
                same = os.fstat(fd).st_ino == os.lstat(candidate).st_ino
            except FileNotFoundError:
                continue
            if same and stat.S_ISREG(os.fstat(fd).st_mode):
                os.unlink(candidate)
                removed.append(candidate)
        finally:
            os.close(fd)
    return removed


def _open_temporary(target: Path) -> tuple[int, str]:
    """A new temporary file beside ``target``, locked by this process (retried if a cleaner removed it
    between its creation and the lock)."""
    for _ in range(100):
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_prefix(target), suffix=".tmp")
        if fcntl is None:
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink > 0:
            return fd, tmp
        os.close(fd)
    raise OSError(f"{target}: could not create a temporary file beside it")  # pragma: no cover


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, data: bytes | Callable) -> Path:
    """Replace the file at ``path`` (see ``output_target``) with ``data`` atomically; returns the target written.

    ``data``: bytes, or a callable ``write(file)`` given the open binary temporary file (for writers that
    stream, such as ``torch.save`` or ``json.dump`` through a wrapper)."""
    target = output_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    fd, tmp = _open_temporary(target)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)  # while the lock is held: a cleaner never sees a finished temporary
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(target.parent)
    return target


def atomic_write_text(path, text: str) -> Path:
    """``atomic_write`` of ``text`` encoded as UTF-8."""
    return atomic_write(path, text.encode("utf-8"))
