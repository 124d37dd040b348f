"""Our own dataset format, and the in-memory dataset every trainer and evaluator uses.

A dataset folder holds::

    dataset.json          {"label_scale": 25, "actions": ["ball", ...], "name": "...", ...}
    labels.csv            one row per (routine, action): routine_id, action, split, score,
      (or labels.parquet)   other score columns, features (path relative to the folder)
    features/<id>.npz     RoutineFeatures files (see pamfn.routine)

Scores stay in the dataset's units here; the trainer divides by ``label_scale``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pamfn import MODALITIES
from pamfn.errors import DatasetError, FeatureError
from pamfn.routine import RoutineFeatures

REQUIRED_COLUMNS = ("routine_id", "action", "split", "score", "features")
SAFE_ID = re.compile(r"[^./\\\x00][^/\\\x00]*")
"""A routine id: a plain file name (outputs are named after it): no folder separators, no
leading '.' (so neither '..' nor hidden files)."""
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Sample:
    """One labelled routine of one action."""

    routine_id: str
    action: str
    split: str
    score: float
    """Judged score in the dataset's units."""
    features: str
    """Key of the routine's features in :attr:`AQADataset.features` (its relative path)."""
    extra: dict[str, float] = field(default_factory=dict)
    """Further score columns of the labels table (e.g. difficulty, execution)."""


@dataclass
class AQADataset:
    """Labelled routines with all their features in memory as float32 arrays."""

    root: Path
    label_scale: float
    actions: list[str]
    samples: list[Sample]
    features: dict[str, dict[str, np.ndarray]]
    segment_seconds: dict[str, float] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    extractors: dict[str, str] = field(default_factory=dict)
    """Modality -> extractor name of the features (from the first features file)."""

    @property
    def dims(self) -> dict[str, int]:
        first = next(iter(self.features.values()))
        return {m: int(first[m].shape[1]) for m in MODALITIES}

    def select(self, action: str, split: str) -> list[Sample]:
        """The samples of one action and split, in labels-table order; never empty."""
        if action not in self.actions:
            raise DatasetError(f"{self.root}: unknown action {action!r}; the dataset has {self.actions}")
        if not any(s.action == action for s in self.samples):
            raise DatasetError(f"{self.root}: action {action!r} has no routines (named in dataset.json, not in the labels)")
        chosen = [s for s in self.samples if s.action == action and s.split == split]
        if not chosen:
            hint = ""
            if "generator_version" in self.info:
                hint = f" (a generated set may carry its test split only: `pamfn synth {self.root} --split {split}` makes it)"
            raise DatasetError(f"{self.root}: the {split!r} split of action {action!r} is empty{hint}")
        return chosen

    def check_dims(self, expected: dict[str, int], *, what: str = "the checkpoint") -> None:
        """Raise DatasetError if the feature dims differ from ``expected`` (per modality)."""
        for key, arrays in self.features.items():
            for m, dim in expected.items():
                if m in arrays and arrays[m].shape[1] != dim:
                    raise DatasetError(
                        f"{self.root / key}: modality {m} has {arrays[m].shape[1]}-dim features, "
                        f"{what} expects {dim}"
                    )


def validation_split(samples: list[Sample], fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Carve a seeded validation split from training samples: (train, validation).

    At least one routine goes to each side; the draw depends only on the seed and the
    routine ids, not on the order of the labels table.
    """
    if len(samples) < 2:
        raise DatasetError(f"need at least 2 training routines to carve a validation split, got {len(samples)}")
    if not 0.0 < fraction < 1.0:
        raise DatasetError(f"validation fraction must be in (0, 1), got {fraction}")
    ordered = sorted(samples, key=lambda s: s.routine_id)
    order = np.random.default_rng(seed).permutation(len(ordered))
    n_val = min(max(1, round(fraction * len(ordered))), len(ordered) - 1)
    val_ids = {ordered[i].routine_id for i in order[:n_val]}
    train = [s for s in samples if s.routine_id not in val_ids]
    val = [s for s in samples if s.routine_id in val_ids]
    return train, val


def read_dataset_info(root: Path) -> tuple[dict, float]:
    """``dataset.json`` of a dataset folder and its (positive) label scale; DatasetError otherwise."""
    meta_path = root / "dataset.json"
    if not meta_path.is_file():
        raise DatasetError(f"{root}: not a PAMFN dataset folder (no dataset.json)")
    try:
        info = json.loads(meta_path.read_text(encoding="utf-8"))
        scale = info["label_scale"]
        label_scale = float(scale)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{meta_path}: unreadable or lacks a numeric label_scale ({exc})") from exc
    if isinstance(scale, bool) or not 0 < label_scale < math.inf:
        raise DatasetError(f"{meta_path}: label_scale must be a positive number (the top of the score scale), got {scale!r}")
    actions, labels = info.get("actions"), info.get("labels")
    if actions is not None and not (isinstance(actions, list) and actions and all(isinstance(a, str) and a for a in actions)):
        raise DatasetError(f"{meta_path}: actions must be a list of action names, got {actions!r}")
    if labels is not None and not (isinstance(labels, str) and Path(labels).name == labels
                                   and Path(labels).suffix in (".csv", ".parquet")):
        raise DatasetError(f"{meta_path}: labels must name a .csv or .parquet file in the folder, got {labels!r}")
    return info, label_scale


def read_labels(root: Path, name: str | None = None) -> tuple[pd.DataFrame, Path]:
    """The labels table of a dataset folder (``name``, else labels.csv or labels.parquet) and its path."""
    candidates = [root / name] if name else [root / "labels.csv", root / "labels.parquet"]
    for path in candidates:
        if path.is_file():
            try:
                table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype={"routine_id": str, "features": str, "media": str})
            except Exception as exc:  # pandas raises many parser error types
                raise DatasetError(f"{path}: unreadable labels table ({exc})") from exc
            return table, path
    raise DatasetError(f"{root}: no labels table (looked for {', '.join(p.name for p in candidates)})")


@dataclass(frozen=True)
class LabelsTable:
    """A data set's labels as read and checked by :func:`read_labelled`, the one reader of
    a data set folder (training, evaluation and the dashboard's catalog all use it)."""

    info: dict
    label_scale: float
    actions: list[str]
    table: pd.DataFrame
    """The labels table as read (one row per routine and action)."""
    path: Path
    samples: list[Sample]
    """The rows, checked: one row per ``(routine_id, action)``, a known action and split,
    a numeric score within ``0..label_scale`` (sub-scores within the ranges dataset.json's
    ``sub_scores`` declares) and a features path. A routine may appear under several actions
    (Fis-V: TES and PCS)."""


def read_labelled(root: str | os.PathLike[str]) -> LabelsTable:
    """``dataset.json`` and the labels table of a data set folder, checked (DatasetError)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} not found: a data set folder needs dataset.json and a labels table")
    info, label_scale = read_dataset_info(root)
    table, path = read_labels(root, info.get("labels"))
    if table.empty:
        raise DatasetError(f"{path}: has no routines")
    if "action" in table.columns:
        table["action"] = table["action"].astype(str)
    actions = [str(a) for a in info.get("actions") or sorted(table["action"].unique())] if "action" in table.columns else []
    sub_scales = _sub_score_scales(info, root / "dataset.json")
    return LabelsTable(info, label_scale, actions, table, path, _samples_from_table(table, path, actions, label_scale, sub_scales))


def _sub_score_scales(info: dict, meta_path: Path) -> dict[str, float]:
    """Column -> top of its range, from dataset.json's optional ``sub_scores`` (the generated
    sets declare difficulty, execution and musicality); DatasetError when malformed."""
    declared = info.get("sub_scores")
    if declared is None:
        return {}
    try:
        scales = {str(c): float(top) for c, top in declared.items()}
    except (AttributeError, TypeError, ValueError) as exc:
        raise DatasetError(f"{meta_path}: sub_scores must map score columns to their top values ({exc})") from exc
    bad = {c: top for c, top in scales.items() if not (math.isfinite(top) and top > 0)}
    if bad:
        raise DatasetError(f"{meta_path}: sub_scores must be positive numbers, got {bad}")
    return scales


def _checked_score(value: object, what: str, scale: float, scale_name: str, path: Path, rid: str, action: str) -> float:
    """``value`` as a float in ``0..scale``; DatasetError naming the routine, value and scale."""
    try:
        score = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: routine {rid} ({action}) has a non-numeric {what} {value!r}") from None
    if not math.isfinite(score):
        raise DatasetError(f"{path}: routine {rid} ({action}) has no finite {what} ({value!r})")
    if not 0.0 <= score <= scale:
        raise DatasetError(f"{path}: routine {rid} ({action}) has {what} {score:g}, outside 0..{scale:g} "
                           f"(dataset.json {scale_name})")
    return score


def _samples_from_table(
    table: pd.DataFrame, path: Path, actions: list[str], label_scale: float, sub_scales: dict[str, float]
) -> list[Sample]:
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(f"{path}: labels table lacks columns {missing} (needs {list(REQUIRED_COLUMNS)})")
    extra_cols = [c for c in table.columns if c not in REQUIRED_COLUMNS and pd.api.types.is_numeric_dtype(table[c])]
    columns = list(table.columns)
    samples, seen = [], set()
    owners: dict[str, str] = {}
    where = "line" if path.suffix == ".csv" else "row"
    for number, row in enumerate(table.itertuples(index=False), start=2 if where == "line" else 1):  # a CSV's line 1: the header
        blank = [c for c in ("routine_id", "action", "split") if pd.isna(getattr(row, c)) or not str(getattr(row, c)).strip()]
        if blank:
            raise DatasetError(f"{path}: {where} {number} has no {' and no '.join(blank)}")
        rid, action, split = str(row.routine_id), str(row.action), str(row.split)
        if not SAFE_ID.fullmatch(rid):
            raise DatasetError(f"{path}: routine id {rid!r} is not a plain file name (no '/' or '\\', not starting "
                               "with '.'): outputs are named after it")
        if (rid, action) in seen:
            raise DatasetError(f"{path}: routine {rid} appears twice for action {action!r}")
        seen.add((rid, action))
        if split not in SPLITS:
            raise DatasetError(f"{path}: routine {rid} has split {split!r}, expected one of {list(SPLITS)}")
        if action not in actions:
            raise DatasetError(f"{path}: routine {rid} has action {action!r}, not among dataset.json actions {actions}")
        score = _checked_score(row.score, "score", label_scale, "label_scale", path, rid, action)
        if not isinstance(row.features, str) or not row.features:
            raise DatasetError(f"{path}: routine {rid} has no features path")
        _check_inside(row.features, "features", path, rid)
        if isinstance(getattr(row, "media", None), str):
            _check_inside(row.media, "media", path, rid)
        owner = owners.setdefault(os.path.normpath(row.features), rid)
        if owner != rid:
            raise DatasetError(f"{path}: routines {owner} and {rid} share the features file {row.features}: "
                               "one features file belongs to one routine (a copied line?)")
        extra = {c: float(getattr(row, c)) for c in extra_cols if pd.notna(getattr(row, c))}
        for c, top in sub_scales.items():
            if c in columns and pd.notna(row[columns.index(c)]):
                extra[c] = _checked_score(row[columns.index(c)], c, top, "sub_scores", path, rid, action)
        samples.append(Sample(rid, action, split, score, row.features, extra))
    return samples


def _check_inside(value: str, column: str, path: Path, rid: str) -> None:
    """Features and media paths are relative to the data set folder and stay in it: a table
    from someone else must not make training or the dashboard read files elsewhere."""
    if os.path.isabs(value):
        raise DatasetError(f"{path}: routine {rid}'s {column} path {value!r} is absolute; "
                           "a labels table gives paths relative to the data set folder")
    if os.path.normpath(value).split(os.sep)[0] == os.pardir:
        raise DatasetError(f"{path}: routine {rid}'s {column} path {value!r} leads outside the data set folder")


def _load_features(
    root: Path, samples: Iterable[Sample]
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float], dict[str, str]]:
    arrays: dict[str, dict[str, np.ndarray]] = {}
    seconds: dict[str, float] = {}
    extractors: dict[str, str] = {}
    for s in samples:
        if s.features in arrays:
            continue
        path = root / s.features
        if not path.is_file():
            what = "is a folder, not a features file" if path.is_dir() else "does not exist"
            raise DatasetError(f"routine {s.routine_id} ({s.action}): labels without features, {path} {what}")
        try:
            rf = RoutineFeatures.load(path)
        except FeatureError as exc:
            raise DatasetError(f"routine {s.routine_id} ({s.action}): {exc}") from exc
        arrays[s.features] = {m: np.ascontiguousarray(rf.features[m], dtype=np.float32) for m in MODALITIES}
        seconds[s.features] = rf.segment_seconds
        extractors = extractors or dict(rf.extractors)
    dims = None
    for key, feats in arrays.items():
        these = {m: a.shape[1] for m, a in feats.items()}
        if dims is None:
            dims, first = these, key
        elif these != dims:
            raise DatasetError(f"{root / key}: feature dims {these} differ from {root / first}'s {dims}")
    return arrays, seconds, extractors


def _unlabelled_features(root: Path, samples: list[Sample]) -> list[str]:
    folder = root / "features"
    if not folder.is_dir():
        return []
    labelled = {os.path.normpath(s.features) for s in samples}
    return sorted(
        str(p.relative_to(root)) for p in folder.rglob("*.npz") if os.path.normpath(p.relative_to(root)) not in labelled
    )


def load_dataset(root: str | os.PathLike[str], *, allow_unlabelled: bool = False) -> AQADataset:
    """Read a dataset folder in our format; every problem raises DatasetError naming it.

    Features files under ``features/`` that no label row refers to are an error
    (features without labels) unless ``allow_unlabelled``. An action without routines, or
    an empty split, is refused when it is asked for (:meth:`AQADataset.select`).
    """
    root = Path(root)
    labelled = read_labelled(root)
    info, label_scale, actions, samples = labelled.info, labelled.label_scale, labelled.actions, labelled.samples
    if not allow_unlabelled:
        orphans = _unlabelled_features(root, samples)
        if orphans:
            shown = ", ".join(orphans[:3]) + (" ..." if len(orphans) > 3 else "")
            raise DatasetError(f"{root}: {len(orphans)} features file(s) without labels: {shown}")
    features, seconds, extractors = _load_features(root, samples)
    return AQADataset(root, label_scale, actions, samples, features, seconds, info, extractors)
