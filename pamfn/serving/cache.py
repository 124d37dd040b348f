"""Where serving keeps its shared results on disk (finished prediction tables, batch
explanations): the project's ``cache/dashboard`` folder, or ``PAMFN_CACHE``. The CLI and the
dashboard both read it here, so a batch the CLI explains is the one the dashboard finds,
from whatever folder either was started."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR = Path(__file__).resolve().parents[2] / "cache" / "dashboard"


def file_stamp(path: str | os.PathLike[str]) -> str:
    """What a cache key knows of a file: its path, size and modification time (``|None|None``
    when it is absent), so a rewritten file changes every key built on it."""
    stat = os.stat(path) if os.path.exists(path) else None
    return f"{path}|{stat and stat.st_size}|{stat and stat.st_mtime_ns}"


def cache_dir() -> Path:
    """``PAMFN_CACHE`` when set, else :data:`CACHE_DIR`."""
    return Path(os.environ.get("PAMFN_CACHE", CACHE_DIR))
