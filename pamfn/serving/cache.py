"""Where serving keeps its shared results on disk (finished prediction tables, batch
explanations): ``PAMFN_CACHE``, else the checkout's ``cache/dashboard`` folder (an
installed package: ``~/.cache/pamfn-studio/dashboard``). The CLI and the
dashboard both read it here, so a batch the CLI explains is the one the dashboard finds,
from whatever folder either was started."""

from __future__ import annotations

import os
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]


def _default_cache() -> Path:
    """The checkout's ``cache/dashboard`` when running from a source checkout (a
    ``pyproject.toml`` beside the package), else the user's cache folder: an installed
    package never writes into its own installation."""
    if (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT / "cache" / "dashboard"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pamfn-studio" / "dashboard"


CACHE_DIR = _default_cache()


def file_stamp(path: str | os.PathLike[str]) -> str:
    """What a cache key knows of a file: its path, size and modification time (``|None|None``
    when it is absent), so a rewritten file changes every key built on it."""
    stat = os.stat(path) if os.path.exists(path) else None
    return f"{path}|{stat and stat.st_size}|{stat and stat.st_mtime_ns}"


def folder_stamp(folder: str | os.PathLike[str]) -> str:
    """:func:`file_stamp` of every file directly in ``folder`` (nothing deeper is read, so
    a large folder costs one listing): changes when one of them is added, removed or rewritten."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    return ";".join(file_stamp(p) for p in files)


def cache_dir() -> Path:
    """``PAMFN_CACHE`` when set, else :data:`CACHE_DIR`."""
    return Path(os.environ.get("PAMFN_CACHE", CACHE_DIR))
