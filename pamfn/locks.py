"""Exclusive locks between processes (POSIX ``flock``), for work that two processes must
not do at once: a run folder trained twice, a batch written twice, librosa's numba cache
compiled twice. A lock dies with its process, so a killed run never leaves one held."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike[str], *, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` (a folder, or a file made when absent) while the
    block runs. Yields True when held, False when another process holds it and ``wait`` is
    False, and True without a lock on a file system that has none. OSError when ``path``
    cannot be opened."""
    path = Path(path)
    fd = os.open(path, os.O_RDONLY if path.is_dir() else os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        except OSError:  # a file system without locks: nothing to hold
            pass
        yield True
    finally:
        os.close(fd)  # closing releases the lock

