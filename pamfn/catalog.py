"""Catalog of a data set in our folder format: ``dataset.json`` plus the labels table.

``dataset.json`` holds at least ``label_scale`` and ``actions``; ``labels.csv`` has one
row per routine with ``routine_id, action, split, score`` (optional ``difficulty,
execution, musicality``), the ``features`` path and the ``media`` path (may be empty),
both relative to the data set folder. The catalog only reads the tables; features and
media are opened by whoever needs them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pamfn.data.dataset import read_dataset_info, read_labels
from pamfn.errors import DatasetError

REQUIRED_COLUMNS: tuple[str, ...] = ("routine_id", "action", "split", "score", "features")
OPTIONAL_COLUMNS: tuple[str, ...] = ("difficulty", "execution", "musicality", "media")


@dataclass(frozen=True)
class Catalog:
    """The routines of one data set, with absolute features and media paths."""

    root: Path
    label_scale: float
    actions: tuple[str, ...]
    routines: pd.DataFrame
    """One row per routine, indexed by ``routine_id``: action, split, score, the optional
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

    def media_file(self, routine_id: str) -> tuple[Path | None, str]:
        """The routine's media file and ``""``, or None and the reason there is none to play."""
        path = self.media_path(routine_id)
        if path is None:
            return None, "this routine has features only (labels.csv names no media file)"
        if not path.is_file():
            return None, f"its media file is missing: {path}"
        return path, ""


def load_catalog(root: str | os.PathLike[str]) -> Catalog:
    """Read ``dataset.json`` and ``labels.csv`` of a data set folder.

    Raises DatasetError naming the file and the problem (missing folder or file,
    unreadable JSON or CSV, missing columns, duplicate routine ids, no routines).
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise DatasetError(f"{root} not found: a data set folder needs dataset.json and a labels table")
    meta, label_scale = read_dataset_info(root)
    table, labels_path = read_labels(root, meta.get("labels"))
    for column in ("routine_id", "action", "split", "features", "media"):
        if column in table.columns:
            table[column] = table[column].astype("string").fillna("").astype(str)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(f"{labels_path}: missing column(s) {missing}")
    if table.empty:
        raise DatasetError(f"{labels_path}: has no routines")
    duplicated = table["routine_id"][table["routine_id"].duplicated()].tolist()
    if duplicated:
        raise DatasetError(f"{labels_path}: duplicate routine ids {duplicated[:5]}")
    for column in OPTIONAL_COLUMNS:
        if column not in table.columns:
            table[column] = "" if column == "media" else float("nan")
    table["media"] = table["media"].fillna("")
    table["features_path"] = [str(root / p) for p in table["features"]]
    table["media_path"] = [str(root / p) if p else "" for p in table["media"]]
    actions = tuple(meta.get("actions") or sorted(table["action"].unique()))
    return Catalog(root=root, label_scale=label_scale, actions=actions, routines=table.set_index("routine_id"))
