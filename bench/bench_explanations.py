"""Explanations checked against what really happened, on a split of a generated data set
with ground truth events (sample benchmark version 2: ``events.csv``).

    python bench/bench_explanations.py                                  # bundled set and checkpoint, test split
    python bench/bench_explanations.py --data DIR --checkpoint CKPT --out runs/explanations-results.json

For every routine of the split: the explanation (with each step's measured support), the
occlusion scan (each 4-segment window swapped with up to 24 partner windows) and the coach sentences,
exactly as the dashboard computes them. Then (``pamfn.groundtruth``):

- neutrality: mean impact over all windows and its routine-clustered standard error;
- fault ranking: ROC AUC of -impact ranking windows holding a drop / a loss of balance /
  other faults above clean windows (target >= 0.75 for drops and losses of balance);
- degradations: whether a modality's stage-2 MSFD weight drops inside its degradation
  stretches (share of stretches, mean weight inside vs outside);
- sentences: how often a coach sentence's stretch overlaps a real fault of a moment
  (drop, loss of balance, tremor) or a degradation, beside the chance rate of a window
  (``sentences_any_fault`` adds the off-beat and off-energy sections).

With ``--probe`` (DATA's training split generated): the fault probe of
``pamfn.fault_probe`` beside the impacts, i.e. how well the features themselves find each
fault kind (trained on the events), and how well a detector trained on one number per
routine (the score, the execution score, the number of drops) finds them.

Writes the figures as JSON (``--out``, default docs/explanations-results.json; the
research view shows them) and prints them. Without events.csv it measures neutrality
only and says what is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pamfn import MODALITIES
from pamfn.atomic import write_text_atomic
from pamfn.catalog import load_catalog
from pamfn.errors import DatasetError
from pamfn.explain import explain_routine
from pamfn.fault_probe import dataset_probe
from pamfn.groundtruth import (
    DEGRADATION,
    FAULTS,
    LOCAL_FAULTS,
    RESULTS_NAME,
    degradation_summary,
    degradation_weights,
    fault_auc,
    label_windows,
    neutrality,
    read_events,
    sentence_hits,
)
from pamfn.insights import coach_insights
from pamfn.occlusion import DRAWS, occlusion_scan
from pamfn.routine import RoutineFeatures
from pamfn.serving import CheckpointSet


def scan_split(data: Path, checkpoint: Path, split: str, draws: int, per_action: int | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Windows (occlusion scans), stage-2 MSFD weights and coach sentences of every routine
    of the split (the first ``per_action`` of each action, in labels order, if given)."""
    catalog = load_catalog(data)
    checkpoints = CheckpointSet(checkpoint)
    rows = catalog.routines[catalog.routines["split"] == split]
    rows = rows.groupby("action", sort=False).head(per_action) if per_action else rows
    windows, weights, sentences = [], [], []
    for rid, row in tqdm(list(rows.iterrows()), desc=f"explaining {split}", unit="routine"):
        loaded = checkpoints.load(str(row["action"]))
        feats = RoutineFeatures.load(row["features_path"])
        expl = explain_routine(loaded, feats, action=str(row["action"]), support=True)
        scan = occlusion_scan(loaded.model, feats, loaded.config.label_scale, draws=draws)
        windows.append(scan.assign(routine_id=rid, action=row["action"]))
        stage2 = next((s for s in expl.stages if s.stage == 2 and s.msfd_weights is not None), None)
        if stage2 is not None:
            w = pd.DataFrame(stage2.msfd_weights, columns=list(MODALITIES))
            weights.append(w.assign(routine_id=rid, start_s=stage2.start_s, end_s=stage2.end_s))
        for insight in coach_insights(expl, scan):
            sentences.append({"routine_id": rid, "kind": insight.kind, "start_s": insight.start_s, "end_s": insight.end_s,
                              "text": insight.text})
    sentence_table = pd.DataFrame(sentences, columns=["routine_id", "kind", "start_s", "end_s", "text"])
    return pd.concat(windows, ignore_index=True), pd.concat(weights, ignore_index=True), sentence_table


def records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def shown(path: Path) -> str:
    """A path as written in the results: relative to the repository when inside it, else its name."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT / "sample_data")
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "assets" / "checkpoints")
    parser.add_argument("--events", type=Path, help="events.csv (default: DATA/events.csv)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--draws", type=int, default=DRAWS)
    parser.add_argument("--per-action", type=int, help="only the first N routines of each action in the split")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / RESULTS_NAME)
    parser.add_argument("--probe", action="store_true",
                        help="also run the fault probe (pamfn.fault_probe: can the features find the faults?); needs DATA's "
                             "training split (pamfn synth DATA --split train)")
    parser.add_argument("--tables", type=Path, help="also write windows.csv (every scanned window, labelled) and "
                                                  "sentences.csv (every coach sentence) to this folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    events_path = args.events or args.data / "events.csv"
    missing = []
    try:
        events = read_events(events_path)
    except DatasetError as exc:
        events = None
        missing.append(str(exc))
    windows, weights, sentences = scan_split(args.data, args.checkpoint, args.split, args.draws, args.per_action)
    result: dict = {
        "command": " ".join(["python bench/bench_explanations.py", *sys.argv[1:]]),
        "data": shown(args.data), "checkpoint": shown(args.checkpoint), "split": args.split, "draws": args.draws,
        "events": shown(events_path), "commit": git_commit(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "dataset_version": json.loads((args.data / "dataset.json").read_text(encoding="utf-8")).get("generator_version"),
        "neutrality": neutrality(windows),
        "missing": missing,
    }
    if events is not None:
        split_events = events[events["routine_id"].isin(windows["routine_id"].unique())]
        if split_events.empty:
            result["missing"].append(f"{events_path}: no event of a {args.split} routine")
        labelled = label_windows(windows, split_events)
        result["fault_auc"] = records(fault_auc(labelled, FAULTS))
        result["fault_auc_local"] = records(fault_auc(labelled, FAULTS, clean="clean_local"))
        result["fault_auc_z"] = records(fault_auc(labelled, FAULTS, score="z"))
        result["clean_windows"] = int(labelled["clean"].sum())
        result["clean_local_windows"] = int(labelled["clean_local"].sum())
        result["degradation"] = records(degradation_summary(degradation_weights(weights, split_events)))
        result["sentences"] = records(sentence_hits(sentences, windows, split_events, (*LOCAL_FAULTS, DEGRADATION)))
        result["sentences_any_fault"] = records(sentence_hits(sentences, windows, split_events))
    if args.probe:
        if args.split != "test" or args.per_action or args.events:
            result["missing"].append("the fault probe learns on DATA's training split and scores its whole test split "
                                     "with DATA/events.csv, whatever --split, --per-action and --events say")
        try:
            events_probe, score_probe = dataset_probe(args.data)
            result["fault_probe"], result["fault_probe_scores"] = records(events_probe), records(score_probe)
        except DatasetError as exc:
            result["missing"].append(str(exc))
    if args.tables:
        labelled = label_windows(windows, events) if events is not None else windows
        write_text_atomic(args.tables / "windows.csv", labelled.to_csv(index=False))
        write_text_atomic(args.tables / "sentences.csv", sentences.to_csv(index=False))
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["load_average"] = round(os.getloadavg()[0], 1)
    write_text_atomic(args.out, json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items()}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
