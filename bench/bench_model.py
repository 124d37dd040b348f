"""Benchmark of the PAMFN forward pass: fast (grouped) vs reference (per-FusionNet) path.

    python bench/bench_model.py                      # rg T=70 and fisv T=130, batch 1 and 32, CPU (+ CUDA)
    python bench/bench_model.py --batch 1 --repeats 30
    python bench/bench_model.py --clock cpu          # process CPU time instead of wall clock

Median latency of a full eval-mode forward (deterministic decisions, inference mode) on
random features, with the two paths measured alternately so that load on a shared
machine hits both alike. Also times the K FusionNets alone (all three stages). Prints
the ratio fast/reference (below 1: the fast path is faster) and checks equal outputs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pamfn.model import PAMFNConfig, build_model, set_fast_fusionnets
from pamfn.model.layers import global_pool, halve_time

LENGTHS = {"rg": 70, "fisv": 130}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def alternate(fns: dict[str, Callable[[], object]], repeats: int, device: str, clock: str) -> dict[str, float]:
    """Median seconds of each function, run in alternation after one warm-up each."""
    now = CLOCKS["wall" if device == "cuda" else clock]
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            start = now()
            fn()
            _sync(device)
            times[name].append(now() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_case(preset: str, batch: int, device: str, repeats: int, clock: str) -> None:
    cfg = PAMFNConfig.preset(preset)
    model = build_model(cfg).to(device).eval()
    T = LENGTHS[preset]
    gen = torch.Generator().manual_seed(0)
    x = {m: torch.randn(batch, T, dim, generator=gen).to(device) for m, dim in cfg.input_dims.items()}

    def forward(fast: bool) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            set_fast_fusionnets(model, fast)
            return model(x, policy="argmax").score

        return run

    lengths = [T, max(T // 2, 1), max(T // 4, 1)]
    pools = [halve_time, halve_time, global_pool]
    prev = [[torch.randn(batch, cfg.d, n, generator=gen).to(device) for _ in cfg.modalities] for n in lengths]
    nets = [stage.afm.fusion_nets for stage in model.stages]

    def fusionnets(fast: bool) -> Callable[[], None]:
        def run() -> None:
            for net, p, pool in zip(nets, prev, pools):
                net.fast = fast
                net(p, pool)

        return run

    with torch.inference_mode():
        a, b = forward(True)(), forward(False)()
        diff = float((a - b).abs().max())
        full = alternate({"fast": forward(True), "reference": forward(False)}, repeats, device, clock)
        part = alternate({"fast": fusionnets(True), "reference": fusionnets(False)}, repeats, device, clock)
    for label, t in (("full model ", full), ("FusionNets ", part)):
        print(
            f"{preset:<4} {device:<4} B={batch:<3} T={T:<4} {label} fast {t['fast'] * 1e3:9.2f} ms   "
            f"reference {t['reference'] * 1e3:9.2f} ms   fast/reference {t['fast'] / t['reference']:.2f}"
        )
    print(f"{preset:<4} {device:<4} B={batch:<3} T={T:<4} max |score fast - score reference| = {diff:.2e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["rg", "fisv"], choices=sorted(LENGTHS))
    parser.add_argument("--batch", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per path (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (the machine is shared)")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, plus cuda when available")
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="wall",
        help="wall-clock latency, or this process's CPU time (steadier on a busy shared machine; CPU runs only)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print(f"torch {torch.__version__}, {args.threads} CPU thread(s), median of {args.repeats} runs, {args.clock} clock")
    for device in devices:
        for preset in args.presets:
            for batch in args.batch:
                repeats = args.repeats if batch == 1 or device == "cuda" else max(3, args.repeats // 3)
                bench_case(preset, batch, device, repeats, args.clock)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
