"""How a checkpoint's MSFD weights and FusionNet counts behave on a split with ground
truth (sample benchmark version 2): the spread of each modality's weight within a
routine, and whether a degraded modality's weight drops inside its degradation stretch.

    python bench/bench_msfd.py --data sample_data --checkpoint assets/checkpoints [--split test]

Every routine is explained in the dashboard's deterministic mode (its MSFD weights follow
the PolicyNet's argmax). Per fusion stage: the mean weight of V, F, A; the within-routine
standard deviation and range (max - min) of each weight, averaged over routines; the
FusionNet counts as Fig. 5 defines them (`pamfn.decisions`): the stochastic policy's
expected share of steps per count, its mean normalised entropy, the within-routine
standard deviation and range of each step's expected count sum_k k P_k, and the argmax's
shares as a labelled alternative. Then, stage 2 (`pamfn.groundtruth.degradation_weights`): for
every degradation stretch, the degraded modality's mean weight on the steps inside it
against the rest of the routine, summarised per modality (share of stretches whose
weight dropped inside). For a fair baseline the same is computed for the modalities that
are NOT degraded in each stretch (how often their weight drops by chance).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pamfn import MODALITIES
from pamfn.catalog import load_catalog
from pamfn.decisions import expected_count, normalised_entropy
from pamfn.explain import explain_routine
from pamfn.groundtruth import degradation_summary, degradation_weights, detail, read_events
from pamfn.routine import RoutineFeatures
from pamfn.serving import CheckpointSet


def collect(data: Path, checkpoint: Path, split: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(steps: routine_id, stage, start_s, end_s, V, F, A, argmax count, P_1..P_K, expected
    count, entropy) of every routine of the split, and the routines' metadata."""
    catalog = load_catalog(data)
    checkpoints = CheckpointSet(checkpoint)
    rows = catalog.routines[catalog.routines["split"] == split]
    steps = []
    for rid, row in rows.iterrows():
        loaded = checkpoints.load(str(row["action"]))
        expl = explain_routine(loaded, RoutineFeatures.load(row["features_path"]), action=str(row["action"]))
        for st in expl.stages:
            if st.msfd_weights is None:
                continue
            frame = pd.DataFrame(st.msfd_weights, columns=list(MODALITIES))
            count = st.fusion_count if st.fusion_count is not None else np.full(len(frame), np.nan)
            frame = frame.assign(routine_id=rid, stage=st.stage, start_s=st.start_s, end_s=st.end_s, count=count)
            if st.policy_probs is not None:
                probs = np.asarray(st.policy_probs, dtype=np.float64)
                frame = frame.assign(expected=expected_count(probs), entropy=normalised_entropy(probs),
                                     **{f"P{k + 1}": probs[:, k] for k in range(probs.shape[1])})
            steps.append(frame)
    return pd.concat(steps, ignore_index=True), rows


def _print_counts(g: pd.DataFrame) -> None:
    """One stage's FusionNet counts: the stochastic policy's expected shares (Fig. 5), its
    entropy and the within-routine spread of the expected count; the argmax's shares."""
    p_cols = [c for c in g.columns if c.startswith("P") and c[1:].isdigit()]
    if p_cols and g[p_cols].notna().all().all():
        shares = g[p_cols].mean()
        per = g.groupby("routine_id")["expected"]
        print("  FusionNet counts, expected share of steps (stochastic policy): "
              + ", ".join(f"{c[1:]}: {v:.2f}" for c, v in shares.items())
              + f" | entropy {g['entropy'].mean():.2f} | expected count {g['expected'].mean():.2f},"
              + f" within-routine sd {per.std().mean():.3f}, range {(per.max() - per.min()).mean():.3f}")
    argmax = g["count"].dropna().value_counts(normalize=True).sort_index()
    print("  FusionNet counts, argmax share of steps (deterministic mode): "
          + ", ".join(f"{int(k)}: {v:.2f}" for k, v in argmax.items()))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ROOT / "sample_data")
    p.add_argument("--checkpoint", type=Path, default=ROOT / "assets" / "checkpoints")
    p.add_argument("--split", default="test")
    args = p.parse_args()
    torch.set_num_threads(1)
    steps, rows = collect(args.data, args.checkpoint, args.split)
    print(f"{len(rows)} {args.split} routines, checkpoint {args.checkpoint}")
    for stage, g in steps.groupby("stage"):
        per = g.groupby("routine_id")[list(MODALITIES)]
        sd, rng = per.std().mean(), (per.max() - per.min()).mean()
        print(f"stage {stage}: mean weight " + ", ".join(f"{m} {g[m].mean():.3f}" for m in MODALITIES)
              + " | within-routine sd " + ", ".join(f"{m} {sd[m]:.3f}" for m in MODALITIES)
              + " | range " + ", ".join(f"{m} {rng[m]:.3f}" for m in MODALITIES))
        _print_counts(g)
    events = read_events(args.data / "events.csv")
    events = events[events["routine_id"].isin(rows.index)]
    stage2 = steps[steps["stage"] == 2]
    table = degradation_weights(stage2, events)
    print("\nstage-2 weight of the DEGRADED modality, inside its stretch vs the rest of the routine")
    print(degradation_summary(table).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    stretches = events[events["kind"] == "degradation"].assign(modality=lambda e: detail(e, "modality"))
    others = []
    for m in MODALITIES:  # the same stretches, read for a modality that is not degraded there
        swapped = stretches[stretches["modality"] != m].assign(detail=f"modality={m}")
        others.append(degradation_weights(stage2, swapped))
    print("\nbaseline: the same stretches, weight of a modality that is NOT degraded there")
    print(degradation_summary(pd.concat(others, ignore_index=True)).to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
