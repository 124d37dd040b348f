"""One routine of a data set, served: its explanation and its occlusion scan, read from
the batch folder of ``pamfn explain --data`` when the routine is there (computed once,
on any engine), computed with the checkpoint that serves its action otherwise."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from pamfn.catalog import Catalog
from pamfn.occlusion import WINDOW
from pamfn.routine import RoutineFeatures

if TYPE_CHECKING:
    import pandas as pd

    from pamfn.checkpoint import LoadedCheckpoint
    from pamfn.explanation import Explanation

Loader = Callable[[str], "LoadedCheckpoint"]
"""Action -> the checkpoint that serves it (e.g. ``CheckpointSet.load``)."""
Features = Callable[[str], RoutineFeatures]
"""Routine id -> its features (a cache, or ``RoutineFeatures.load`` of the catalog's path)."""
Progress = Callable[[str, int, int], None]
"""(what is being done, batches done, batches in all): fed after each batch of a long step."""
SUPPORT_STEP = "Measuring which stretch each step depends on"
SCAN_STEP = "Scanning each window's score impact"


def routine_explanation(catalog: Catalog, routine_id: str, load: Loader, features: Features, *, support: bool = False,
                        batch: str | os.PathLike[str] | None = None) -> Explanation:
    """What PAMFN did on one routine of ``catalog`` (deterministic), with the judges' score."""
    from pamfn.batch_explain import read_routine
    from pamfn.explain import explain_routine

    saved = read_routine(batch, routine_id) if batch is not None else None
    if saved is not None:
        return saved[0]
    row = catalog.routine(routine_id)
    action = str(row["action"])
    return explain_routine(_checkpoint(catalog, action, load), features(routine_id), action=action,
                           judged_score=float(row["score"]), support=support)


def _checkpoint(catalog: Catalog, action: str, load: Loader) -> LoadedCheckpoint:
    """The checkpoint serving ``action``, checked against the data set's score scale."""
    from pamfn.checkpoint import check_scale

    return check_scale(load(action), catalog.label_scale)


def routine_occlusion(catalog: Catalog, routine_id: str, load: Loader, features: Features, *, window: int = WINDOW,
                      batch: str | os.PathLike[str] | None = None, device: str = "cpu") -> pd.DataFrame:
    """The occlusion scan of one routine of ``catalog`` (:func:`pamfn.occlusion.occlusion_scan`)."""
    from pamfn.batch_explain import read_routine
    from pamfn.occlusion import occlusion_scan

    saved = read_routine(batch, routine_id) if batch is not None and window == WINDOW else None
    if saved is not None:
        return saved[1]
    ckpt = _checkpoint(catalog, str(catalog.routine(routine_id)["action"]), load)
    return occlusion_scan(ckpt.model, features(routine_id), ckpt.config.label_scale, window=window, device=device)


def explain_with_occlusion(ckpt: LoadedCheckpoint, features: RoutineFeatures, *, action: str | None = None,
                           judged_score: float | None = None, device: str = "cpu",
                           progress: Progress | None = None) -> tuple[Explanation, pd.DataFrame]:
    """A new routine (an upload) scored and explained, with its occlusion scan (empty for a
    routine longer than ``LONGEST_SCAN_S``); ``progress`` hears of both long steps
    (``SUPPORT_STEP``, then ``SCAN_STEP``)."""
    from pamfn.explain import explain_routine
    from pamfn.occlusion import LONGEST_SCAN_S, occlusion_scan, scan_from_dict

    def step(what: str) -> Callable[[int, int], None] | None:
        return None if progress is None else lambda done, total: progress(what, done, total)

    explanation = explain_routine(ckpt, features, action=action, judged_score=judged_score, support=True,
                                  on_batch=step(SUPPORT_STEP))
    if features.T * features.segment_seconds > LONGEST_SCAN_S:  # the segments scanned, not the media's tail
        return explanation, scan_from_dict(None)
    return explanation, occlusion_scan(ckpt.model, features, ckpt.label_scale, device=device, on_batch=step(SCAN_STEP))
