"""Training throughput of phase 2 (the mixed-modality branch), ``rg`` preset (d=256, K=10,
input dims 1024/1024/768), batch 32, crops of T=70 segments: routines per second on the
CPU, and on CUDA when present. Also the share of a step spent building the batch
(device-resident gather) and what a naive per-step host-side batch would cost.

    python bench/bench_train.py [--routines 64] [--epochs 3] [--threads N] [--d 256 --K 10] [--amp]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pamfn.data.dataset import AQADataset, Sample
from pamfn.data.tensors import SplitTensors
from pamfn.model import PAMFNConfig, build_model
from pamfn.model.config import PAPER_INPUT_DIMS
from pamfn.train.loop import fit
from pamfn.train.recipe import train_preset
from pamfn.train.run import joint_stage


def synthetic_dataset(n: int, seed: int = 0) -> AQADataset:
    """n routines of 70-110 segments with the paper's feature dims, in memory."""
    rng = np.random.default_rng(seed)
    samples, features = [], {}
    for i in range(n):
        T = int(rng.integers(70, 111))
        key = f"features/r{i:04d}.npz"
        features[key] = {m: rng.standard_normal((T, d), dtype=np.float32) for m, d in PAPER_INPUT_DIMS.items()}
        samples.append(Sample(f"r{i:04d}", "ball", "train", float(rng.uniform(10, 20)), key))
    return AQADataset(Path("synthetic"), 25.0, ["ball"], samples, features)


def naive_batch(data: AQADataset, samples: list[Sample], crop: int, device: torch.device, rng: np.random.Generator) -> dict:
    """What a per-step host-side batch costs: numpy crops, stacked, copied to the device."""
    out = {}
    starts = [int(rng.integers(0, data.features[s.features]["V"].shape[0] - crop + 1)) for s in samples]
    for m in PAPER_INPUT_DIMS:
        batch = np.stack([data.features[s.features][m][t : t + crop] for s, t in zip(samples, starts)])
        out[m] = torch.from_numpy(batch).to(device)
    return out


def bench(device: torch.device, args: argparse.Namespace) -> None:
    data = synthetic_dataset(args.routines)
    cfg = PAMFNConfig.preset("rg", d=args.d, K=args.K, input_dims=dict(PAPER_INPUT_DIMS))
    torch.manual_seed(0)
    model = build_model(cfg).to(device)
    train = SplitTensors(data, data.samples, device, min_length=70)
    select = SplitTensors(data, data.samples[:2], device)
    recipe = dataclasses.replace(train_preset("rg").phase2, epochs=args.epochs, epochs_per_action={}, batch_size=32)
    stage = joint_stage("phase2", model, recipe, args.epochs)
    with tempfile.TemporaryDirectory() as state:
        result = fit(stage, train, select, crop=70, seed=0, state_dir=state, save_every=10**6, eval_every=10**6,
                     amp=args.amp, progress=False)
    timed = [r["seconds"] for r in result.rows[1:-1]]  # first epoch warms up, the last one also evaluates
    per_epoch = float(np.mean(timed))
    steps = -(-args.routines // 32)
    print(f"[{device}] phase 2, rg preset (d={args.d}, K={args.K}), batch 32, T=70, amp={args.amp and device.type == 'cuda'}, "
          f"threads={torch.get_num_threads()}")
    print(f"  {args.routines / per_epoch:8.1f} routines/s   ({1000 * per_epoch / steps:.0f} ms per step of 32, mean of {len(timed)} epochs)")

    gen = torch.Generator().manual_seed(0)
    index = torch.arange(32)
    reps = 20
    t0 = time.perf_counter()
    for _ in range(reps):
        train.crops(index, 70, gen)
    if device.type == "cuda":
        torch.cuda.synchronize()
    resident = (time.perf_counter() - t0) / reps
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(reps):
        naive_batch(data, data.samples[:32], 70, device, rng)
    if device.type == "cuda":
        torch.cuda.synchronize()
    naive = (time.perf_counter() - t0) / reps
    step = per_epoch / steps
    print(f"  batch building: device-resident gather {1000 * resident:.2f} ms ({100 * resident / step:.1f}% of a step), "
          f"naive host-side crop+copy {1000 * naive:.2f} ms ({100 * naive / step:.1f}%); ratio naive/resident {naive / resident:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routines", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per device; the first and last are not timed")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--K", type=int, default=10)
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast on CUDA")
    parser.add_argument("--cpu-only", action="store_true")
    args = parser.parse_args()
    if args.epochs < 3:
        parser.error("--epochs must be at least 3 (one warm-up, one timed, one with evaluation)")
    if args.threads:
        torch.set_num_threads(args.threads)
    bench(torch.device("cpu"), args)
    if torch.cuda.is_available() and not args.cpu_only:
        bench(torch.device("cuda"), args)


if __name__ == "__main__":
    main()
