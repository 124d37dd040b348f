"""Each segment's highlight probability for one routine, as a tidy table on the time axis."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pamfn.checkpoint import LoadedCheckpoint, check_compatible
from pamfn.errors import CheckpointError
from pamfn.routine import RoutineFeatures
from pamfn.serving.scorer import routine_inputs, run_model


def require_detector(ck: LoadedCheckpoint) -> None:
    """CheckpointError unless ``ck`` is a highlight detector."""
    if ck.config.task != "highlight":
        where = f"{ck.path}: " if ck.path is not None else ""
        raise CheckpointError(f"{where}a {ck.config.task!r} checkpoint, not a highlight detector (train with --task highlight)")


def highlight_table(ck: LoadedCheckpoint, features: RoutineFeatures) -> pd.DataFrame:
    """``segment, start_s, end_s, probability``: the highlight detector's output per
    segment (segment t covers [t*L/fps, (t+1)*L/fps) seconds)."""
    require_detector(ck)
    check_compatible(ck.config, features)
    probability = run_model(ck.model, routine_inputs(ck.model, features)).score[0].float().cpu().numpy()
    step = features.segment_seconds
    t = np.arange(len(probability))
    return pd.DataFrame({"segment": t, "start_s": t * step, "end_s": (t + 1) * step, "probability": probability})
