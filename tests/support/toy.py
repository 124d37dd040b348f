"""A tiny learnable dataset in our format, for tests and benchmarks (not the bundled sample).

Each routine has two hidden qualities, one visible in RGB and flow features, one in
audio features; its score mixes both, so a model has to use more than one modality.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pamfn.atomic import write_text_atomic
from pamfn.routine import RoutineFeatures


def write_toy_dataset(
    root: str | os.PathLike[str],
    *,
    actions: Sequence[str] = ("ball", "hoop"),
    n_train: int = 24,
    n_test: int = 8,
    lengths: tuple[int, int] = (10, 16),
    dims: dict[str, int] | None = None,
    label_scale: float = 25.0,
    seed: int = 0,
) -> Path:
    """Write dataset.json, labels.csv and features/*.npz under ``root``; return ``root``."""
    root = Path(root)
    dims = dims or {"V": 12, "F": 10, "A": 8}
    rng = np.random.default_rng(seed)
    directions = {m: rng.standard_normal(d).astype(np.float32) for m, d in dims.items()}
    rows = []
    for action in actions:
        for i in range(n_train + n_test):
            rid = f"{action}_{i:03d}"
            look, listen = rng.uniform(0, 1, size=2)
            T = int(rng.integers(lengths[0], lengths[1] + 1))
            quality = {"V": look, "F": look, "A": listen}
            feats = {
                m: (rng.standard_normal((T, d)) * 0.5 + (quality[m] - 0.5) * 2 * directions[m]).astype(np.float32)
                for m, d in dims.items()
            }
            RoutineFeatures(features=feats, routine_id=rid).save(root / "features" / f"{rid}.npz", dtype="float16")
            score = label_scale * (0.15 + 0.5 * look + 0.3 * listen)
            rows.append(
                {
                    "routine_id": rid,
                    "action": action,
                    "split": "train" if i < n_train else "test",
                    "score": round(float(score), 3),
                    "features": f"features/{rid}.npz",
                }
            )
    write_text_atomic(root / "labels.csv", pd.DataFrame(rows).to_csv(index=False))
    meta = {"name": "toy", "label_scale": label_scale, "actions": list(actions)}
    write_text_atomic(root / "dataset.json", json.dumps(meta, indent=2))
    return root


def write_toy_highlights(root: str | os.PathLike[str], *, actions: tuple[str, ...] = ("ball", "hoop"), n_train: int = 16,
                         n_test: int = 6, seed: int = 0) -> Path:
    """A tiny generated highlight data set (for tests and development): the toy data set's
    features plus ``highlights.csv``, where a highlight segment carries a pattern spread
    across the modalities (visible in V and F, audible in A, stronger when both agree)."""
    from pamfn.data.dataset import load_dataset
    from pamfn.routine import RoutineFeatures

    root = write_toy_dataset(root, actions=actions, n_train=n_train, n_test=n_test, lengths=(16, 24), seed=seed)
    data = load_dataset(root)
    rng = np.random.default_rng(seed + 1)
    directions = {m: rng.standard_normal(a.shape[1]).astype(np.float32)
                  for m, a in next(iter(data.features.values())).items()}
    frames = []
    for sample in data.samples:
        arrays = {m: a.copy() for m, a in data.features[sample.features].items()}
        T = next(iter(arrays.values())).shape[0]
        label = np.zeros(T, dtype=np.int8)
        for start in rng.choice(T - 2, size=max(1, T // 8), replace=False):
            label[start : start + 2] = 1
        for m, a in arrays.items():
            a += np.outer(label * rng.uniform(0.4, 1.0, size=T), directions[m]).astype(np.float32)
        RoutineFeatures(features=arrays, routine_id=sample.routine_id).save(root / sample.features, dtype="float16")
        frames.append(pd.DataFrame({"video": sample.routine_id, "segment": np.arange(T), "label": label}))
    pd.concat(frames, ignore_index=True).to_csv(root / "highlights.csv", index=False)
    return root
