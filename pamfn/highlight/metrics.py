"""Highlight detection metrics: average precision per video, its mean per topic (action),
and the mean over topics (Table IX's Average)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Non-interpolated AP of one video's segments: the mean precision at each highlight's
    rank, segments ranked by score (ties in segment order). NaN without any highlight."""
    labels = np.asarray(labels).astype(bool)
    if not labels.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = labels[order]
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float(precision[hits].mean())


def mean_average_precision(per_video: Mapping[str, float]) -> float:
    """Mean AP over the videos that have a highlight (NaN if none has)."""
    values = [v for v in per_video.values() if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def summarize_map(per_topic: Mapping[str, float]) -> dict[str, float]:
    """Per-topic mAP plus their mean under ``"avg"`` (as the paper's Average column)."""
    out = {topic: float(v) for topic, v in per_topic.items()}
    return {**out, "avg": mean_average_precision(out)}


ROW_NAMES = {"PAMFN": "RGB+Flow+Audio (PAMFN)", "V": "RGB branch", "F": "Flow branch", "A": "Audio branch"}
PAPER_TOPICS = ("Dog", "Gymnastics", "Parkour", "Skating", "Skiing", "Surfing", "Average")
PAPER_TABLE_IX: dict[str, tuple[float, ...]] = {
    "PAMFN": (0.720, 0.690, 0.822, 0.722, 0.720, 0.810, 0.747),
    "V": (0.652, 0.677, 0.591, 0.629, 0.710, 0.825, 0.681),
    "F": (0.626, 0.657, 0.662, 0.420, 0.672, 0.684, 0.620),
    "A": (0.502, 0.639, 0.720, 0.467, 0.655, 0.737, 0.620),
}
"""Table IX, PAMFN's rows (YouTube Highlights, UMT RGB/audio and I3D flow features)."""


def map_table(per_action: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """``{action: {"PAMFN" | "V" | "F" | "A": mAP}}`` -> rows PAMFN and branches x actions + Average."""
    import pandas as pd

    names = [n for n in ROW_NAMES if any(n in r for r in per_action.values())]
    records = []
    for name in names:
        rec: dict[str, object] = {"model": ROW_NAMES[name]}
        rec.update({a: r.get(name, float("nan")) for a, r in per_action.items()})
        rec["Average"] = summarize_map({a: r.get(name, float("nan")) for a, r in per_action.items()})["avg"]
        records.append(rec)
    return pd.DataFrame(records)


def paper_map_table() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([{"model": ROW_NAMES[n], **dict(zip(PAPER_TOPICS, v))} for n, v in PAPER_TABLE_IX.items()])
