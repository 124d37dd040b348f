"""Explanations checked against what really happened: the generated benchmark's events.

``events.csv`` (sample benchmark version 2, :mod:`pamfn.synth.events`) lists for every
routine its elements, faults (loss of balance, drop, tremor, off-beat and off-energy
sections) and degradation stretches of one modality's evidence (``detail`` holds
``modality=V|F|A``). Pure functions of tables:

- :func:`fault_auc`: how well occlusion impacts rank the windows holding a fault of one
  kind above clean windows (ROC AUC; a fault lowers the score, so the ranking score is
  ``-impact``). ``clean``: no fault and no degradation overlaps the window;
  ``clean_local``: no fault of a moment (drop, loss of balance, tremor) and no
  degradation (the window may lie in an off-beat or off-energy section).
- :func:`neutrality`: the mean impact over all windows with its standard error
  (clustered by routine: the standard error of the per-routine means).
- :func:`degradation_weights`: for every degradation stretch of modality m, the mean
  stage-2 MSFD weight of m on the steps inside it against the rest of the routine.
- :func:`sentence_hits`: how often a coach sentence's stretch overlaps a real event,
  beside the share of all windows that do (the chance rate).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from pamfn.errors import DatasetError

EVENT_COLUMNS = ("routine_id", "kind", "start_s", "end_s", "detail")
FAULTS = ("loss_of_balance", "drop", "tremor", "off_beat", "off_energy")
"""Event kinds that are faults of the performance (the score formula penalises them)."""
LOCAL_FAULTS = ("loss_of_balance", "drop", "tremor")
"""Faults of a moment (seconds long); off-beat and off-energy are whole sections (often
half the routine or more)."""
DEGRADATION = "degradation"
ELEMENT_KINDS = ("leap", "pivot", "balance", "throw")
"""The elements a routine is built of (the highlight task's positives)."""
KINDS = (*ELEMENT_KINDS, *FAULTS, DEGRADATION)


def read_events(path: str | os.PathLike[str]) -> pd.DataFrame:
    """events.csv as a table; DatasetError naming the file and what is wrong."""
    try:
        events = pd.read_csv(path, dtype={"routine_id": str, "kind": str, "detail": str}, keep_default_na=False)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no events file (the ground truth comes with sample benchmark version 2)") from None
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable events CSV ({exc})") from None
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise DatasetError(f"{path}: events table lacks columns {missing} (has {list(events.columns)})")
    for column in ("start_s", "end_s"):
        events[column] = pd.to_numeric(events[column], errors="coerce")
    bad = events[events[["start_s", "end_s"]].isna().any(axis=1) | (events["end_s"] < events["start_s"])
                 | (events["start_s"] < 0)]
    if len(bad):
        raise DatasetError(f"{path}: {len(bad)} event(s) without a valid 0 <= start_s <= end_s, first at line {bad.index[0] + 2}")
    unknown = events[~events["kind"].isin(KINDS)]
    if len(unknown):
        raise DatasetError(f"{path}: line {unknown.index[0] + 2} has kind {unknown['kind'].iloc[0]!r}; events are of the "
                           f"kinds {', '.join(KINDS)}")
    return events


def detail(events: pd.DataFrame, key: str) -> pd.Series:
    """One ``key=value`` field of the ``detail`` column (empty where absent)."""
    def field(text: str) -> str:
        for part in str(text).split(";"):
            k, _, v = part.partition("=")
            if k.strip() == key:
                return v.strip()
        return ""

    return events["detail"].map(field)


def overlaps(windows: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """(windows, events) bool: window [start_s, end_s) and event [start_s, end_s] share time
    (an instantaneous event counts inside the window holding it)."""
    ws, we = windows["start_s"].to_numpy()[:, None], windows["end_s"].to_numpy()[:, None]
    es, ee = events["start_s"].to_numpy()[None], events["end_s"].to_numpy()[None]
    return (es < we) & (ee >= ws)


def label_windows(windows: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Per window (with ``routine_id``): one bool column per fault kind and ``degradation``,
    ``clean`` (none of them) and ``clean_local`` (no fault of a moment, no degradation).
    Windows of routines without events are clean."""
    out = windows.copy()
    kinds = (*FAULTS, DEGRADATION)
    for kind in kinds:
        out[kind] = False
    for rid, part in out.groupby("routine_id", sort=False):
        mine = events[events["routine_id"] == rid]
        for kind in kinds:
            of_kind = mine[mine["kind"] == kind]
            if len(of_kind):
                out.loc[part.index, kind] = overlaps(part, of_kind).any(axis=1)
    out["clean"] = ~out[list(kinds)].any(axis=1)
    out["clean_local"] = ~out[[*LOCAL_FAULTS, DEGRADATION]].any(axis=1)
    return out


def roc_auc(positive: Iterable[float], negative: Iterable[float]) -> float:
    """P(a positive outranks a negative) + 0.5 P(tie): the ROC AUC (NaN if a side is empty)."""
    pos, neg = np.asarray(list(positive), float), np.asarray(list(negative), float)
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = pd.Series(np.concatenate([pos, neg])).rank().to_numpy()
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def fault_auc(labelled: pd.DataFrame, kinds: Iterable[str] = FAULTS, score: str = "impact", clean: str = "clean") -> pd.DataFrame:
    """ROC AUC of ``-score`` ranking each fault kind's windows above the ``clean`` (or
    ``clean_local``) windows. Columns: kind, windows (holding it), clean (windows), auc."""
    clean = -labelled.loc[labelled[clean], score]
    rows = [(k, int(labelled[k].sum()), len(clean), roc_auc(-labelled.loc[labelled[k], score], clean)) for k in kinds]
    return pd.DataFrame(rows, columns=["kind", "windows", "clean", "auc"])


def _clustered_se(per_routine: pd.Series) -> float:
    n = len(per_routine)
    return float(per_routine.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


def edge_and_interior(windows: pd.DataFrame) -> dict[str, float]:
    """Where the swap scan's zero mean can fail: the mean impact of each routine's first and
    last windows (a copy over them has one splice point only) and of its other windows,
    averaged over routines, each with its routine-clustered standard error. ``windows``:
    routine_id, start_s, impact."""
    order = windows.sort_values(["routine_id", "start_s"])
    position = order.groupby("routine_id").cumcount()
    count = order.groupby("routine_id")["impact"].transform("size")
    edge = (position == 0) | (position == count - 1)
    per_edge = order[edge].groupby("routine_id")["impact"].mean()
    per_interior = order[~edge].groupby("routine_id")["impact"].mean()
    return {
        "edge_mean_impact": float(per_edge.mean()),
        "edge_se": _clustered_se(per_edge),
        "interior_mean_impact": float(per_interior.mean()),
        "interior_se": _clustered_se(per_interior),
    }


def neutrality(windows: pd.DataFrame) -> dict[str, float]:
    """Mean impact over all windows, its routine-clustered standard error, the share of
    windows that raised the score and the share beyond their noise, and the mean impact of
    the edge and interior windows (:func:`edge_and_interior`)."""
    per_routine = windows.groupby("routine_id")["impact"].mean()
    n = len(per_routine)
    return {
        "windows": len(windows),
        "routines": int(n),
        "mean_impact": float(windows["impact"].mean()),
        "se": _clustered_se(per_routine),
        "share_positive": float((windows["impact"] > 0).mean()),
        "share_significant": float(windows["significant"].mean()),
        "median_abs_impact": float(windows["impact"].abs().median()),
        "median_noise": float(windows["noise"].median()),
        **edge_and_interior(windows),
    }


def degradation_weights(weights: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """For every degradation stretch: the degraded modality's mean MSFD weight on the steps
    inside the stretch (their centre inside it) and on the other steps of the routine.

    ``weights``: stage-2 steps with ``routine_id, start_s, end_s, V, F, A``. Columns:
    routine_id, modality, start_s, end_s, inside, outside, steps_inside, drop (outside -
    inside; positive: the weight fell inside the stretch)."""
    stretches = events[events["kind"] == DEGRADATION].assign(modality=lambda e: detail(e, "modality"))
    rows = []
    for ev in stretches.itertuples():
        mine = weights[weights["routine_id"] == ev.routine_id]
        if mine.empty or ev.modality not in mine:
            continue
        centre = (mine["start_s"] + mine["end_s"]) / 2
        inside = (centre >= ev.start_s) & (centre < ev.end_s)
        if not inside.any() or inside.all():
            continue
        w = mine[ev.modality]
        rows.append((ev.routine_id, ev.modality, ev.start_s, ev.end_s, float(w[inside].mean()), float(w[~inside].mean()),
                     int(inside.sum())))
    table = pd.DataFrame(rows, columns=["routine_id", "modality", "start_s", "end_s", "inside", "outside", "steps_inside"])
    table["drop"] = table["outside"] - table["inside"]
    return table


def degradation_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per modality and overall: stretches, share whose weight dropped inside, mean weight
    inside and outside, mean drop with its standard error."""
    groups = [(m, g) for m, g in table.groupby("modality", sort=True)] + [("all", table)]
    rows = []
    for name, g in groups:
        n = len(g)
        rows.append((name, n, float((g["drop"] > 0).mean()) if n else float("nan"), float(g["inside"].mean()) if n else float("nan"),
                     float(g["outside"].mean()) if n else float("nan"), float(g["drop"].mean()) if n else float("nan"),
                     float(g["drop"].std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")))
    return pd.DataFrame(rows, columns=["modality", "stretches", "share_dropped", "inside", "outside", "mean_drop", "se"])


def sentence_hits(sentences: pd.DataFrame, windows: pd.DataFrame, events: pd.DataFrame,
                  kinds: Iterable[str] = (*FAULTS, DEGRADATION)) -> pd.DataFrame:
    """How often coach sentences point at a real event of ``kinds``.

    ``sentences``: routine_id, kind (moment / modality / fusion), start_s, end_s.
    Columns: kind, sentences, hits (share whose stretch overlaps an event), chance (share
    of all scanned windows that overlap one)."""
    chosen = events[events["kind"].isin(list(kinds))]

    def share(table: pd.DataFrame) -> float:
        if table.empty:
            return float("nan")
        hit = np.zeros(len(table), bool)
        for rid, part in table.reset_index(drop=True).groupby("routine_id", sort=False):
            mine = chosen[chosen["routine_id"] == rid]
            if len(mine):
                hit[part.index] = overlaps(part, mine).any(axis=1)
        return float(hit.mean())

    chance = share(windows)
    groups = [(k, g) for k, g in sentences.groupby("kind", sort=True)] + [("all", sentences)]
    return pd.DataFrame([(k, len(g), share(g), chance) for k, g in groups], columns=["kind", "sentences", "hits", "chance"])


RESULTS_NAME = "explanations-results.json"
"""The file ``bench/bench_explanations.py`` writes and the research view reads."""


def find_results(roots: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Every results file under the given folders, newest first."""
    found = [p for root in roots if Path(root).is_dir() for p in Path(root).rglob(RESULTS_NAME)]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


NEUTRALITY_KEYS: tuple[str, ...] = ("mean_impact", "se", "share_positive", "share_significant")
"""What every results file's ``neutrality`` holds (newer ones also the edge and interior figures)."""
RESULT_TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "fault_auc": ("kind", "windows", "clean", "auc"), "fault_auc_local": ("kind", "windows", "clean", "auc"),
    "fault_probe": ("kind", "features", "auc"), "fault_probe_scores": ("kind", "trained_on", "auc"),
    "degradation": ("modality", "stretches"), "sentences": ("sentences",),
}
"""The records each table of a results file must hold (the views read these columns)."""


def read_results(path: str | os.PathLike[str]) -> dict:
    """A results file as a dict; DatasetError when it is not readable JSON of the bench."""
    try:
        result = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable results file of bench_explanations.py ({exc})") from None
    if not isinstance(result, dict) or not isinstance(result.get("neutrality"), dict):
        raise DatasetError(f"{path}: not a results file of bench_explanations.py (no neutrality figures)")
    missing = [k for k in NEUTRALITY_KEYS if not isinstance(result["neutrality"].get(k), (int, float))]
    if missing:
        raise DatasetError(f"{path}: its neutrality figures lack {', '.join(missing)} (a number each)")
    for key, columns in RESULT_TABLE_COLUMNS.items():
        records = result.get(key)
        if records is None:
            continue
        if not isinstance(records, list) or not all(isinstance(r, dict) and all(c in r for c in columns) for r in records):
            raise DatasetError(f"{path}: {key!r} is not a list of records with {', '.join(columns)}")
    return result


def result_tables(result: dict) -> dict[str, pd.DataFrame]:
    """The bench's figures as tables: neutrality (one row), fault_auc, fault_auc_local,
    fault_probe and fault_probe_scores (:mod:`pamfn.fault_probe`), degradation, sentences (those present)."""
    tables = {"neutrality": pd.DataFrame([result["neutrality"]])}
    for key in ("fault_auc", "fault_auc_local", "fault_probe", "fault_probe_scores", "degradation", "sentences"):
        if result.get(key) is not None:
            table = pd.DataFrame(result[key])
            shares = [c for c in table.columns if c not in ("kind", "modality", "features", "windows", "clean", "stretches",
                                                            "sentences", "train_windows", "test_windows", "trained_on")]
            tables[key] = table.astype({c: float for c in shares})  # JSON null -> NaN
    return tables
