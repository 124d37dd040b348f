"""Each segment's highlight probability for one routine, as a tidy table on the time axis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from pamfn.checkpoint import LoadedCheckpoint, check_compatible
from pamfn.errors import CheckpointError
from pamfn.routine import RoutineFeatures


@torch.inference_mode()
def highlight_table(ck: LoadedCheckpoint, features: RoutineFeatures) -> pd.DataFrame:
    """``segment, start_s, end_s, probability``: the highlight detector's output per
    segment (segment t covers [t*L/fps, (t+1)*L/fps) seconds)."""
    if ck.config.task != "highlight":
        raise CheckpointError(f"a {ck.config.task!r} checkpoint is not a highlight detector (train with --task highlight)")
    check_compatible(ck.config, features)
    device = next(ck.model.parameters()).device
    x = {m: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None].to(device) for m, a in features.features.items()}
    probability = ck.model.eval()(x).score[0].float().cpu().numpy()
    step = features.segment_seconds
    t = np.arange(len(probability))
    return pd.DataFrame({"segment": t, "start_s": t * step, "end_s": (t + 1) * step, "probability": probability})
