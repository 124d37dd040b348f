"""Catalog of a data set in our folder format: ``dataset.json`` plus ``labels.csv``.

``dataset.json`` holds at least ``label_scale`` and ``actions``; ``labels.csv`` has one
row per routine with ``routine_id, action, split, score`` (optional ``difficulty,
execution, musicality``), the ``features`` path and the ``media`` path (may be empty),
both relative to the data set folder. The catalog only reads the tables; features and
media are opened by whoever needs them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

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


def load_catalog(root: str | os.PathLike[str]) -> Catalog:
    """Read ``dataset.json`` and ``labels.csv`` of a data set folder.

    Raises DatasetError naming the file and the problem (missing folder or file,
    unreadable JSON or CSV, missing columns, duplicate routine ids, no routines).
    """
    root = Path(root).resolve()
    meta_path, labels_path = root / "dataset.json", root / "labels.csv"
    for path in (meta_path, labels_path):
        if not path.is_file():
            raise DatasetError(f"{path} not found: a data set folder needs dataset.json and labels.csv")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        label_scale = float(meta["label_scale"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{meta_path}: needs a JSON object with a numeric 'label_scale' ({exc})") from exc
    try:
        table = pd.read_csv(labels_path, dtype={"routine_id": str, "action": str, "split": str, "features": str, "media": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{labels_path}: not a readable CSV table ({exc})") from exc
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
