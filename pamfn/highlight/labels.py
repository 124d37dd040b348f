"""Segment-level highlight labels: one table ``video, segment, label`` (CSV or Parquet).

``video`` is a routine id of the dataset, ``segment`` the 0-based index of a feature
segment, ``label`` 1 (highlight) or 0. Every segment of a labelled video must be labelled
once; a video the dataset lacks, a segment past its features or a label other than 0/1
is an error naming the row.

The generated task (:func:`labels_from_events`): on the bundled benchmark the highlights
are the elements (leaps, pivots, balances, throws) whose ground-truth times are in
``sample_data/events.csv`` (``routine_id, kind, start_s, end_s, detail``). A segment is a
highlight when an element covers at least half of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from pamfn.data.dataset import AQADataset
from pamfn.errors import DatasetError
from pamfn.features.segments import SEGMENT_SECONDS
from pamfn.groundtruth import ELEMENT_KINDS, read_events

COLUMNS = ("video", "segment", "label")
MIN_COVER = 0.5
"""Share of a segment an element must cover for the segment to count as a highlight."""


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DatasetError(f"highlight labels file not found: {path}")
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pandas raises many kinds for a bad file
        raise DatasetError(f"{path}: not a readable highlight labels table ({exc})") from exc


def read_highlight_labels(path: str | os.PathLike[str], data: AQADataset) -> dict[str, np.ndarray]:
    """Routine id -> per-segment labels (T,) int8, checked against ``data``'s features."""
    path = Path(path)
    table = _read_table(path)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(f"{path}: highlight labels need columns {list(COLUMNS)}; missing {missing}")
    for column in ("segment", "label"):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = table.index[values.isna() | (values != values.round())]
        if len(bad):
            raise DatasetError(f"{path}, row {int(bad[0]) + 2}: {column} {table.loc[bad[0], column]!r} is not an integer")
        table[column] = values.astype(np.int64)
    bad = table.index[~table["label"].isin((0, 1))]
    if len(bad):
        raise DatasetError(f"{path}, row {int(bad[0]) + 2}: label {table.loc[bad[0], 'label']} is not 0 or 1")
    lengths = {s.routine_id: next(iter(data.features[s.features].values())).shape[0] for s in data.samples}
    out: dict[str, np.ndarray] = {}
    for video, rows in table.groupby(table["video"].astype(str), sort=False):
        if video not in lengths:
            raise DatasetError(f"{path}: video {video!r} is not a routine of {data.root}")
        T = lengths[video]
        segments = rows["segment"].to_numpy()
        if segments.min() < 0 or segments.max() >= T:
            raise DatasetError(f"{path}: video {video} has segments 0..{T - 1}, the table names segment {int(segments.max() if segments.max() >= T else segments.min())}")
        if len(np.unique(segments)) != len(segments):
            raise DatasetError(f"{path}: video {video} labels a segment twice")
        if len(segments) != T:
            raise DatasetError(f"{path}: video {video} has {T} segments, the table labels {len(segments)}")
        labels = np.zeros(T, dtype=np.int8)
        labels[segments] = rows["label"].to_numpy()
        out[video] = labels
    if not out:
        raise DatasetError(f"{path}: no highlight labels")
    return out


def labels_from_events(events: pd.DataFrame, data: AQADataset, kinds: tuple[str, ...] = ELEMENT_KINDS) -> pd.DataFrame:
    """The generated task: every segment of every routine of ``data``, label 1 where an
    element of ``kinds`` covers at least :data:`MIN_COVER` of it. ``events``: as
    :func:`pamfn.groundtruth.read_events` returns it."""
    elements = events[events["kind"].isin(kinds)]
    by_routine = {rid: g[["start_s", "end_s"]].to_numpy(float) for rid, g in elements.groupby("routine_id")}
    frames = []
    for sample in {s.routine_id: s for s in data.samples}.values():
        T = next(iter(data.features[sample.features].values())).shape[0]
        step = data.segment_seconds.get(sample.features, SEGMENT_SECONDS)
        start = np.arange(T) * step
        cover = np.zeros(T)
        for s, e in by_routine.get(sample.routine_id, np.zeros((0, 2))):
            cover += np.clip(np.minimum(start + step, e) - np.maximum(start, s), 0, None)
        frames.append(pd.DataFrame({"video": sample.routine_id, "segment": np.arange(T),
                                    "label": (cover >= MIN_COVER * step).astype(np.int8)}))
    return pd.concat(frames, ignore_index=True)


def default_labels(data: AQADataset, given: str | os.PathLike[str] | None) -> tuple[dict[str, np.ndarray], str]:
    """The labels to use and where they come from: ``given``, else ``<data>/highlights.csv``,
    else the generated task from ``<data>/events.csv``."""
    if given is not None:
        return read_highlight_labels(given, data), str(given)
    own = data.root / "highlights.csv"
    if own.is_file():
        return read_highlight_labels(own, data), str(own)
    events = data.root / "events.csv"
    if events.is_file():
        table = labels_from_events(read_events(events), data)
        if not table["label"].any():
            raise DatasetError(f"{events}: no element ({', '.join(ELEMENT_KINDS)}) covers any segment of the data set's "
                               "routines: no highlight to detect")
        return {v: g["label"].to_numpy(np.int8) for v, g in table.groupby("video", sort=False)}, f"{events} (elements)"
    raise DatasetError(f"{data.root}: no highlight labels: give --highlights TABLE (video, segment, label), "
                       "or a data set with highlights.csv or events.csv (sample benchmark version 2)")
