"""A local library of analysed routines that persists across restarts.

The library is a folder (default ``~/.pamfn-studio/library``, or ``$PAMFN_LIBRARY``).
Each entry is a sub-folder named by its id holding:

- ``features.npz``: the routine's :class:`~pamfn.routine.RoutineFeatures`,
- ``media<suffix>``: a copy of the source video, when there is one,
- ``explanation.json``: the :class:`~pamfn.explanation.Explanation`, when there is one,
- ``metadata.json``: name, creation time, scores, source file name and hash.

An entry is assembled in a hidden staging folder beside the others and renamed into
place in one step, so a listing never sees half an entry and a failed write leaves
nothing behind. Removal renames the entry out of the listing before deleting it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pamfn.atomic import write_text_atomic
from pamfn.errors import PamfnError
from pamfn.explanation import Explanation
from pamfn.routine import RoutineFeatures

ENV_VAR = "PAMFN_LIBRARY"
DEFAULT_ROOT = Path("~/.pamfn-studio/library")
FORMAT_VERSION = 1

FEATURES_FILE = "features.npz"
EXPLANATION_FILE = "explanation.json"
METADATA_FILE = "metadata.json"
MEDIA_STEM = "media"

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,95}$")
_STAGING_PREFIX = ".staging-"
_TRASH_PREFIX = ".trash-"


class LibraryError(PamfnError, KeyError):
    """A library entry that does not exist, has an invalid id, or cannot be read."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def default_root() -> Path:
    """The library folder: ``$PAMFN_LIBRARY`` if set, else ``~/.pamfn-studio/library``."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_ROOT).expanduser()


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60] or "routine"


@dataclass(frozen=True)
class LibraryEntry:
    """One saved routine: its folder and its metadata."""

    entry_id: str
    path: Path
    metadata: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.entry_id)

    @property
    def created(self) -> str:
        return str(self.metadata.get("created", ""))

    @property
    def saved_at(self) -> str:
        """When it was saved, to the minute (``YYYY-MM-DD HH:MM``, UTC)."""
        return self.created.replace("T", " ")[:16]

    @property
    def features_path(self) -> Path:
        return self.path / FEATURES_FILE

    @property
    def explanation_path(self) -> Path | None:
        path = self.path / EXPLANATION_FILE
        return path if path.is_file() else None

    @property
    def media_path(self) -> Path | None:
        """The entry's own media file; None when there is none, or when its metadata names a
        file elsewhere (a path, or a link leading out of the entry's folder): an entry
        copied from someone else never makes the dashboard play another file of the user's."""
        media = self.metadata.get("media_file")
        if not isinstance(media, str) or not media or Path(media).name != media or media.startswith("."):
            return None
        path = self.path / media
        if not path.is_file() or path.resolve().parent != self.path.resolve():
            return None
        return path

    def load_features(self) -> RoutineFeatures:
        return RoutineFeatures.load(self.features_path)

    def load_explanation(self) -> Explanation | None:
        path = self.explanation_path
        if path is None:
            return None
        try:
            return Explanation.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError) as exc:
            raise LibraryError(f"library entry {self.entry_id}: unreadable {EXPLANATION_FILE} ({exc})") from exc

    def explanation(self) -> Explanation:
        """The saved explanation; LibraryError when the entry was saved without one."""
        expl = self.load_explanation()
        if expl is None:
            raise LibraryError(f"library entry {self.name} has no explanation")
        return expl


class RoutineLibrary:
    """Saved routines in one folder: add, list, get and remove entries."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()

    def add(
        self,
        features: RoutineFeatures,
        explanation: Explanation | None = None,
        media: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> LibraryEntry:
        """Save a routine as a new entry and return it; all or nothing (and first :meth:`sweep`).

        ``media`` is copied (the caller keeps its file). ``metadata`` adds free-form
        JSON-serialisable facts (e.g. the original upload's file name).
        """
        name = name or features.routine_id or (Path(media).stem if media else "routine")
        created = datetime.now(timezone.utc)
        entry_id = f"{_slug(name)}-{created:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        media_path = Path(media) if media is not None else None
        if media_path is not None and not media_path.is_file():
            raise LibraryError(f"cannot save {name!r}: media file not found: {media_path}")
        meta: dict[str, Any] = {
            **(metadata or {}),
            "format_version": FORMAT_VERSION,
            "entry_id": entry_id,
            "name": name,
            "created": created.isoformat(timespec="microseconds"),  # orders entries saved in one second
            "routine_id": features.routine_id,
            "duration_s": features.length_s,
            "segments": features.T,
            "extractors": features.extractors,
            "media_sha256": features.media_sha256,
            "media_file": f"{MEDIA_STEM}{media_path.suffix.lower()}" if media_path is not None else None,
        }
        if explanation is not None:
            meta.update(
                score=explanation.score,
                judged_score=explanation.judged_score,
                action=explanation.action,
                checkpoint=explanation.checkpoint,
            )
        json.dumps(meta)  # fail before touching the disk if metadata is not JSON

        self.root.mkdir(parents=True, exist_ok=True)
        self.sweep()  # what an interrupted save or removal left behind goes before a new one
        staging = self.root / f"{_STAGING_PREFIX}{entry_id}"
        staging.mkdir()
        try:
            features.save(staging / FEATURES_FILE)
            if media_path is not None:
                shutil.copyfile(media_path, staging / meta["media_file"])
            if explanation is not None:
                write_text_atomic(staging / EXPLANATION_FILE, explanation.to_json())
            write_text_atomic(staging / METADATA_FILE, json.dumps(meta, indent=2))
            os.replace(staging, self.root / entry_id)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return LibraryEntry(entry_id, self.root / entry_id, meta)

    def entries(self) -> list[LibraryEntry]:
        """All complete entries, newest first; unreadable folders are skipped."""
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.iterdir():
            if path.name.startswith(".") or not path.is_dir():
                continue
            try:
                found.append(self._read(path))
            except LibraryError:
                continue
        return sorted(found, key=lambda e: (e.created, e.entry_id), reverse=True)

    def get(self, entry_id: str) -> LibraryEntry:
        """The entry with this id; LibraryError if it is absent or unreadable."""
        return self._read(self._entry_dir(entry_id))

    def remove(self, entry_id: str) -> None:
        """Delete an entry: it leaves the listing at once, then its files go."""
        path = self._entry_dir(entry_id)
        if not path.is_dir():
            raise LibraryError(f"no library entry {entry_id!r} in {self.root}")
        trash = self.root / f"{_TRASH_PREFIX}{entry_id}-{uuid.uuid4().hex[:6]}"
        os.replace(path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def sweep(self, older_than_s: float = 3600.0) -> int:
        """Delete staging and trash folders an interrupted process left behind.

        Only folders untouched for ``older_than_s`` seconds go, so a save in progress
        in another process is safe. Returns how many were deleted.
        """
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        stale = [
            p
            for p in self.root.iterdir()
            if p.name.startswith((_STAGING_PREFIX, _TRASH_PREFIX)) and p.stat().st_mtime <= cutoff
        ]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        return len(stale)

    def _entry_dir(self, entry_id: str) -> Path:
        if not isinstance(entry_id, str) or not _ID_RE.match(entry_id):
            raise LibraryError(f"invalid library entry id {entry_id!r}")
        return self.root / entry_id

    def _read(self, path: Path) -> LibraryEntry:
        meta_path = path / METADATA_FILE
        if not meta_path.is_file() or not (path / FEATURES_FILE).is_file():
            raise LibraryError(f"no library entry {path.name!r} in {self.root}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LibraryError(f"library entry {path.name}: unreadable {METADATA_FILE} ({exc})") from exc
        if not isinstance(meta, dict):
            raise LibraryError(f"library entry {path.name}: {METADATA_FILE} is not a JSON object")
        return LibraryEntry(path.name, path, meta)
