"""Catalog of a data set in our folder format: ``dataset.json`` plus the labels table.

``dataset.json`` holds at least ``label_scale`` and ``actions``; ``labels.csv`` has one
row per routine and action (a Fis-V routine has two: TES and PCS) with ``routine_id, action, split, score`` (optional ``difficulty,
execution, musicality``), the ``features`` path and the ``media`` path (may be empty),
both relative to the data set folder. The catalog only reads the tables; features and
media are opened by whoever needs them.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pamfn.data.dataset import Sample, read_labelled
from pamfn.errors import DatasetError

SUB_SCORES: tuple[str, ...] = ("difficulty", "execution", "musicality")
"""The judges' components labels.csv may carry beside the total."""
OPTIONAL_COLUMNS: tuple[str, ...] = (*SUB_SCORES, "media")


@dataclass(frozen=True)
class Catalog:
    """The routines of one data set, with absolute features and media paths."""

    root: Path
    label_scale: float
    actions: tuple[str, ...]
    routines: pd.DataFrame
    """One row per labels row, indexed by its key (:func:`routine_keys`, index name
    ``routine_id``): ``video_id`` (the labels' routine_id), action, split, score, the optional
    sub-scores, ``features_path`` (str) and ``media_path`` (str, empty when there is none)."""

    def routine(self, routine_id: str) -> pd.Series:
        """The row of one routine; DatasetError if the id is unknown."""
        if routine_id not in self.routines.index:
            raise DatasetError(f"{self.root}: no routine {routine_id!r} in labels.csv")
        return self.routines.loc[routine_id]

    def media_path(self, routine_id: str) -> Path | None:
        """The routine's media file if labels.csv names one, else None (the file may be absent)."""
        value = self.routine(routine_id)["media_path"]
        return Path(value) if value else None

    def playable(self) -> pd.Series:
        """Per routine (the catalog's index): whether its media file is there to play."""
        return self.routines["media_path"].map(lambda p: bool(p) and Path(p).is_file())

    def media_file(self, routine_id: str) -> tuple[Path | None, str]:
        """The routine's media file and ``""``, or None and the reason there is none to play."""
        path = self.media_path(routine_id)
        if path is None:
            return None, "this routine has features only (labels.csv names no media file)"
        if not path.is_file():
            what = ("is a folder, not a media file" if path.is_dir() else
                    "is a broken or looping link" if path.is_symlink() else "is missing")
            return None, f"its media file {what}: {path}"
        return path, ""

    def routines_by_media(self) -> dict[str, str]:
        """Content hash (sha256) of each media file the labels name -> its routine (to know
        an upload of a video the data set already holds); reads every media file once."""
        from pamfn.features.media import file_sha256

        media = self.routines["media_path"][self.playable()]
        return {file_sha256(v): str(rid) for rid, v in media.items()}


def routine_keys(samples: list[Sample]) -> list[str]:
    """The catalog's key of each labels row: the routine id, or ``"<routine_id> · <action>"``
    for a routine labelled under several actions (Fis-V's TES and PCS share one video)."""
    counts = Counter(s.routine_id for s in samples)
    return [s.routine_id if counts[s.routine_id] == 1 else f"{s.routine_id} · {s.action}" for s in samples]


def load_catalog(root: str | os.PathLike[str]) -> Catalog:
    """Read ``dataset.json`` and the labels table of a data set folder with the data set's
    one reader (:func:`pamfn.data.dataset.read_labelled`, the rules training applies).

    Raises DatasetError naming the file and the problem (missing folder or file,
    unreadable JSON or CSV, missing columns, a routine twice under one action, no routines).
    """
    root = Path(root).resolve()
    labelled = read_labelled(root)
    table = labelled.table.copy()
    for column in ("routine_id", "action", "split", "features", "media"):
        if column in table.columns:
            table[column] = table[column].astype("string").fillna("").astype(str)
    for column in OPTIONAL_COLUMNS:
        if column not in table.columns:
            table[column] = "" if column == "media" else float("nan")
    table["features_path"] = [str(root / p) for p in table["features"]]
    table["media_path"] = [str(root / p) if p else "" for p in table["media"]]
    table.index = pd.Index(routine_keys(labelled.samples), name="routine_id")
    table = table.rename(columns={"routine_id": "video_id"})
    return Catalog(root=root, label_scale=labelled.label_scale, actions=tuple(labelled.actions), routines=table)
