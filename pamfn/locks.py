"""Exclusive locks between processes (POSIX ``flock``), for work that two processes must
not do at once: a run folder trained twice, a batch written twice, librosa's numba cache
compiled twice. A lock dies with its process, so a killed run never leaves one held."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not a POSIX system: no locks
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike[str], *, wait: bool = True) -> Iterator[bool | None]:
    """Hold an exclusive lock on ``path`` (a folder, or a file made when absent) while the
    block runs. Yields True when held, False when another process holds it and ``wait`` is
    False, None where the system cannot lock it (no ``flock``, or a network file system that
    refuses it): the block then runs unprotected, and must not act as if it were alone.
    OSError when ``path`` cannot be opened."""
    if fcntl is None:
        yield None
        return
    path = Path(path)
    fd = os.open(path, os.O_RDONLY if path.is_dir() else os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        except OSError:
            yield None
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock
