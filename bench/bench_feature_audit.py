"""What the lite features keep of what the musicality judge measures, checked against the
generator's ground truth on TRAINING routines (the test split is never read).

Musicality (docs/sample-benchmark.md) is half ``beat_sync`` (movement accents against the
beats) and half ``energy_match`` (per bar, the movement's energy against the music's). A
model can only learn it if the features carry both sides. For the first ``--per-action``
training routines of each apparatus the audit rebuilds the routine in memory with the
set's own generator (plan, animation, music; nothing is rendered unless ``--render``) and
compares its features file with the truth:

- beat phase: correlation of the A beat-phase profile (cos 2 pi phase at 40 ms, from the
  beat tracker) with the true beats' inside the music;
- motion: per-frame correlation of the F motion-energy profile with the true mean speed of
  hands and feet, and the share of its variance (R^2) that the background's whole-pixel
  jumps explain (the renderer crops the arena at whole pixels, the performer moves smoothly);
- beat sync: Spearman's rho over routines of a simple sync estimate (the motion energy less
  its 1-s moving average, against the tracked beat phase) with ``beat_sync``, once from the
  true speed (what a perfect motion measurement would give) and once from the features;
- bars: per bar, the A loudness against the true music level and the F motion energy
  against the true movement level (``pamfn.synth.scoring.bar_energies``), correlated within
  each routine (mean over routines) and across routines (routine means).

With ``--render WIDTH ...`` each routine is rendered again, that many pixels wide, and its
motion energy measured four ways: the flow as the extractor computes it, its
mean (at the features' size a check: it must match the file) or its 99th percentile, and
the same with the camera removed by stabilising (the previous frame shifted by the median
flow, then the flow again).

    python bench/bench_feature_audit.py DATA [--per-action 40] [--render 80 [160 ...]]

``--write OUT [--motion true|p99] [--workers 2]`` writes a counterfactual set instead: the
training routines' features with F's motion energy (mean, 40-ms profile, accent statistics)
replaced by the true speed of hands and feet (what a perfect measurement would give) or by
the flow's 99th percentile (a measure the extractor could keep at no cost), in the
extractor's units, for ``bench_synth.py OUT`` and ``bench_learning_curve.py OUT`` to read.

A probe: it selects nothing and changes no table.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_synth import A_BEATS, A_RMS, F_PROFILE

from pamfn.errors import DatasetError
from pamfn.features.lite import FARNEBACK, PROFILE, one_cv2_thread
from pamfn.metrics import spearman_rho
from pamfn.routine import RoutineFeatures
from pamfn.synth.config import SynthConfig
from pamfn.synth.dataset import (
    Routine,
    RoutineSpec,
    config_from_meta,
    in_processes,
    make_routine,
    read_meta,
    routine_specs,
)
from pamfn.synth.motion import J
from pamfn.synth.plan import RoutinePlan
from pamfn.synth.render import Renderer, render_frames
from pamfn.synth.scoring import bar_bounds, bar_energies

ENDS = [J["hand_r"], J["hand_l"], J["foot_r"], J["foot_l"]]
F_ENERGY, F_ACCENTS = 0, slice(70, 73)
"""Lite F (version 2): mean motion energy of the segment, and its accent statistics (std, peak over median,
mean absolute change)."""
MOTION_SOURCES = ("true", "p99")
"""Where a counterfactual set's motion energy comes from (:func:`motion_energy`)."""
MEASURES = ("mean", "p99", "stabilised", "stabilised p99")
"""Ways of measuring a rendered frame pair's motion energy; ``mean`` is the extractor's."""
TREND_S = 1.0
"""The sync estimate removes the energy's moving average over this long (slow changes of
energy are the other half of musicality)."""


def true_speed(routine: Routine) -> np.ndarray:
    """Per frame: mean distance moved by hands and feet since the previous frame (metres)."""
    p = routine.motion.joints[:, ENDS].astype(np.float64)
    speed = np.zeros(p.shape[0])
    speed[1:] = np.linalg.norm(p[1:] - p[:-1], axis=2).mean(1)
    return speed


def true_beat_cos(plan: RoutinePlan, t: np.ndarray) -> np.ndarray:
    """cos(2 pi beat phase) at times ``t``, 0 outside the music (the beat-phase feature's convention)."""
    beats = plan.music.beat_times()
    inside = (t >= beats[0]) & (t <= beats[-1])
    return np.where(inside, np.cos(2 * np.pi * (t - beats[0]) / plan.music.beat_s), 0.0)


def sync_estimate(energy: np.ndarray, beat_cos: np.ndarray, fps: float) -> float:
    """Normalised correlation of the motion energy's fast part with the beat phase: high when
    movement peaks on the beats."""
    n = min(energy.size, beat_cos.size)
    e, b = energy[:n].astype(np.float64), beat_cos[:n].astype(np.float64)
    k = max(1, round(TREND_S * fps))
    trend = np.convolve(np.pad(e, (k // 2, k - 1 - k // 2), mode="edge"), np.ones(k) / k, mode="valid")
    fast = e - trend
    return float(np.sum(fast * b) / (np.sqrt(np.sum(fast * fast) * np.sum(b * b)) + 1e-12))


def explained_share(y: np.ndarray, x: np.ndarray) -> float:
    """R^2 of a straight-line fit of ``y`` on ``x`` (0 when either is constant)."""
    if np.std(x) < 1e-12 or np.std(y) < 1e-12:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1] ** 2)


def frame_size(cfg: SynthConfig, width: int) -> tuple[int, int]:
    """The features' frame size scaled to ``width`` pixels."""
    fw, fh = cfg.feature_size
    return width, round(width * fh / fw)


def background_shift(routine: Routine, cfg: SynthConfig, width: int) -> np.ndarray:
    """Per frame: how far (whole pixels, + to the right) the background moved on screen since
    the previous frame, in frames rendered ``width`` pixels wide."""
    renderer = Renderer(routine.plan, routine.motion, frame_size(cfg, width), cfg.fps)
    x0 = np.array([renderer.background_x(i) for i in range(routine.plan.n_frames)])
    return -np.diff(x0, prepend=x0[:1]).astype(np.float64)


def steady_camera(plan: RoutinePlan, n: int, fps: float) -> np.ndarray:
    """Frames outside the stretches where the flow is degraded on purpose (a shaking or cutting camera)."""
    t = np.arange(n) / fps
    keep = np.ones(n, dtype=bool)
    for d in plan.degradations:
        if d.modality == "F":
            keep &= (t < d.start_s) | (t > d.end_s)
    return keep


def bar_means(x: np.ndarray, plan: RoutinePlan, fps: float) -> np.ndarray:
    """Mean of a per-frame series over each bar of the music (NaN for bars past its end)."""
    out = np.full(plan.music.n_bars, np.nan)
    for b in range(plan.music.n_bars):
        f0, f1 = bar_bounds(plan, b, fps)
        if min(f1, x.size) > f0:
            out[b] = x[f0 : min(f1, x.size)].mean()
    return out


def rendered_energies(
    routine: Routine, cfg: SynthConfig, width: int, stabilise: bool = True
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-frame motion energy of the routine rendered ``width`` pixels wide (the features'
    aspect), in the extractor's units (percent of the width per frame): the flow as the
    extractor computes it, the median flow removed, then its mean or its 99th percentile;
    with ``stabilise``, also stabilised first (the previous frame shifted by the median flow,
    the flow again). Also the camera's horizontal motion as the extractor estimates it (the
    median flow, pixels)."""
    scale = 100.0 / width
    frames = render_frames(routine.plan, routine.motion, frame_size(cfg, width), cfg.fps)
    greys = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    out: dict[str, list[float]] = {name: [] for name in MEASURES}
    camera = [0.0]
    with one_cv2_thread():
        for a, b in itertools.pairwise(greys):
            flow = cv2.calcOpticalFlowFarneback(a, b, None, **FARNEBACK) * scale
            cam = np.median(flow[::2, ::2].reshape(-1, 2), axis=0)
            rel = np.linalg.norm(flow - cam, axis=2)
            out["mean"].append(float(rel.mean()))
            out["p99"].append(float(np.percentile(rel, 99)))
            camera.append(float(cam[0] / scale))
            if stabilise:
                shift = np.float32([[1, 0, cam[0] / scale], [0, 1, cam[1] / scale]])
                steady = cv2.warpAffine(
                    a, shift, a.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
                )
                stab = np.linalg.norm(cv2.calcOpticalFlowFarneback(steady, b, None, **FARNEBACK) * scale, axis=2)
                out["stabilised"].append(float(stab.mean()))
                out["stabilised p99"].append(float(np.percentile(stab, 99)))
    energies = {f"{name} @{width}px": np.array([v[0], *v]) for name, v in out.items() if v}  # frame 0 repeats field 1
    return energies, np.array(camera)


def audit_routine(
    routine: Routine, feats: RoutineFeatures, cfg: SynthConfig, widths: tuple[int, ...] = ()
) -> dict[str, float]:
    """One routine's figures (see the module docstring); per way of measuring motion energy
    ``<name>|speed``, ``|sync``, ``|jumps``, ``|bars`` and ``|mean``."""
    plan, fps = routine.plan, cfg.fps
    f, a = feats.features["F"].astype(np.float64), feats.features["A"].astype(np.float64)
    profile, beat_cos = f[:, F_PROFILE].reshape(-1), a[:, A_BEATS].reshape(-1)
    t = np.arange(beat_cos.size) / fps
    truth = true_beat_cos(plan, t)
    inside = truth != 0
    speed = true_speed(routine)
    own_width = cfg.feature_size[0]
    shifts = {w: background_shift(routine, cfg, w) for w in {own_width, *widths}}
    n = min(profile.size, speed.size)
    level, move, _ = bar_energies(routine.motion, routine.music, plan, fps, cfg.sample_rate)
    loud = bar_means(np.repeat(a[:, A_RMS], PROFILE), plan, fps)
    row = {"beat_sync": routine.realised.beat_sync, "beat_phase_corr": float(np.corrcoef(beat_cos[inside], truth[inside])[0, 1]),
           "music_level": float(np.mean(level)),
           "move_level": float(np.mean(move)), "loudness": float(np.nanmean(loud)),
           "loudness_bars": _corr(loud, level)}  # fmt: skip
    energies, width_of = {"true speed": speed, "features": profile}, {"true speed": own_width, "features": own_width}
    for width in widths:
        measured, camera = rendered_energies(routine, cfg, width)
        energies |= measured
        width_of |= dict.fromkeys(measured, width)
        m = min(camera.size, shifts[width].size)
        keep = steady_camera(plan, m, fps)
        row[f"camera error @{width}px"] = float(np.abs(camera[:m] - shifts[width][:m])[keep].mean())
    for name, e in energies.items():
        bars, jumps = bar_means(e, plan, fps), np.abs(shifts[width_of[name]])
        row |= {f"{name}|speed": float(np.corrcoef(e[:n], speed[:n])[0, 1]), f"{name}|sync": sync_estimate(e, beat_cos, fps),
                f"{name}|jumps": explained_share(e[:n], jumps[:n]), f"{name}|bars": _corr(bars, move),
                f"{name}|mean": float(np.nanmean(bars))}  # fmt: skip
    own = f"mean @{own_width}px"
    if own in energies:
        row["recomputed_vs_file"] = float(np.corrcoef(energies[own][:n], profile[:n])[0, 1])
    return row


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    return (
        float(np.corrcoef(x[ok], y[ok])[0, 1])
        if ok.sum() > 2 and np.std(x[ok]) > 0 and np.std(y[ok]) > 0
        else float("nan")
    )


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per way of measuring motion energy: its per-frame correlation with the true
    speed, its sync estimate's rank correlation with beat_sync, the share of its variance the
    background's whole-pixel jumps explain, its bar energies' correlation with the true
    movement level within routines and across routines."""
    names = [c.split("|")[0] for c in rows.columns if c.endswith("|speed")]
    return pd.DataFrame(
        [(name, rows[f"{name}|speed"].mean(), spearman_rho(rows[f"{name}|sync"].to_numpy(), rows["beat_sync"].to_numpy()),
          rows[f"{name}|jumps"].mean(), rows[f"{name}|bars"].mean(),
          _corr(rows[f"{name}|mean"].to_numpy(), rows["move_level"].to_numpy()))
         for name in names],
        columns=["motion energy", "corr with true speed", "rho(sync estimate, beat_sync)", "jumps R2", "bars: within",
                 "bars: across"],
    )  # fmt: skip


def training_specs(data: Path, per_action: int) -> tuple[SynthConfig, list[RoutineSpec]]:
    """The set's configuration and its first ``per_action`` training routines per apparatus
    whose features are on disk."""
    cfg = config_from_meta(read_meta(data))
    if cfg.version < 2:
        raise DatasetError(f"{data}: the audit needs a version-2 set (musicality judged bar by bar)")
    specs = [s for s in routine_specs(cfg) if s.split == "train" and s.index < per_action
             and (data / "features" / f"{s.routine_id}.npz").is_file()]  # fmt: skip
    if not specs:
        raise DatasetError(f"{data}: no training routine's features found under features/")
    return cfg, specs


def audit(data: Path, per_action: int, widths: tuple[int, ...] = (), progress: bool = True) -> pd.DataFrame:
    """The per-routine figures of the first ``per_action`` training routines of each apparatus."""
    cfg, specs = training_specs(data, per_action)
    rows = []
    for spec in tqdm(specs, desc="auditing", disable=not progress):
        feats = RoutineFeatures.load(data / "features" / f"{spec.routine_id}.npz")
        rows.append({"routine_id": spec.routine_id, **audit_routine(make_routine(spec, cfg), feats, cfg, widths)})
    return pd.DataFrame(rows)


def motion_energy(routine: Routine, cfg: SynthConfig, source: str) -> np.ndarray:
    """Per-frame motion energy in the extractor's units (percent of the width per frame):
    ``true``, the true speed of hands and feet; ``p99``, the 99th percentile of the flow
    relative to the camera (what the extractor already computes per flow field, descriptor
    4, but keeps only as the segment's mean)."""
    width = cfg.feature_size[0]
    if source == "true":
        px_per_m = Renderer(routine.plan, routine.motion, cfg.feature_size, cfg.fps).scale
        return true_speed(routine) * px_per_m * 100.0 / width
    if source == "p99":
        return rendered_energies(routine, cfg, width, stabilise=False)[0][f"p99 @{width}px"]
    raise ValueError(f"unknown motion source {source!r} (one of {', '.join(MOTION_SOURCES)})")


def with_motion_energy(feats: RoutineFeatures, per_frame: np.ndarray, source: str) -> RoutineFeatures:
    """A counterfactual: ``feats`` with F's motion energy (its mean, its 40-ms profile and its
    accent statistics) taken from ``per_frame`` (one value per video frame)."""
    T = feats.T
    profile = np.pad(per_frame, (0, max(0, T * PROFILE - per_frame.size)), mode="edge")[: T * PROFILE].reshape(
        T, PROFILE
    )
    f = feats.features["F"].astype(np.float64).copy()
    f[:, F_PROFILE] = profile
    f[:, F_ENERGY] = profile.mean(1)
    f[:, F_ACCENTS] = np.stack(
        [profile.std(1), profile.max(1) - np.median(profile, 1), np.abs(np.diff(profile, axis=1)).mean(1)], axis=1
    )
    extractors = {**feats.extractors, "F": f"{feats.extractors.get('F', 'F')}+{source}-motion"}
    return replace(feats, features={**feats.features, "F": f.astype(np.float32)}, extractors=extractors)


def _write_one(job: tuple[Path, Path, RoutineSpec, SynthConfig, str]) -> str:
    data, out, spec, cfg, source = job
    feats = RoutineFeatures.load(data / "features" / f"{spec.routine_id}.npz")
    energy = motion_energy(make_routine(spec, cfg), cfg, source)
    with_motion_energy(feats, energy, source).save(out / "features" / f"{spec.routine_id}.npz", dtype="float16")
    return spec.routine_id


def write_motion_set(
    data: Path, out: Path, per_action: int, source: str, workers: int = 1, progress: bool = True
) -> int:
    """Write ``out``: the set's description, labels and events, and the counterfactual features
    (:func:`with_motion_energy`, motion from ``source``) of its first ``per_action`` training
    routines per apparatus, for the other probes (``bench_synth.py``, ``bench_learning_curve.py``)
    to read. Returns how many routines were written."""
    if source not in MOTION_SOURCES:
        raise ValueError(f"unknown motion source {source!r} (one of {', '.join(MOTION_SOURCES)})")
    cfg, specs = training_specs(data, per_action)
    if out.resolve() == data.resolve():
        raise DatasetError(f"{out}: the counterfactual set must not overwrite the real one")
    (out / "features").mkdir(parents=True, exist_ok=True)
    for name in ("dataset.json", "labels.csv", "events.csv"):
        if (data / name).is_file():
            shutil.copyfile(data / name, out / name)
    jobs = [(data, out, spec, cfg, source) for spec in specs]
    done = map(_write_one, jobs) if workers <= 1 else in_processes(_write_one, jobs, workers)
    for _ in tqdm(done, total=len(jobs), desc=f"{source} motion", disable=not progress):
        pass
    return len(jobs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="a version-2 set with its training split (pamfn synth DATA --split train)")
    ap.add_argument("--per-action", type=int, default=40, help="training routines per apparatus (default 40)")
    ap.add_argument(
        "--render",
        type=int,
        nargs="*",
        default=[],
        metavar="WIDTH",
        help="also measure motion from frames re-rendered this many pixels wide (slow; 80: the features' size)",
    )
    ap.add_argument(
        "--write",
        type=Path,
        metavar="OUT",
        help="instead, write a counterfactual set whose F motion energy comes from --motion (training routines)",
    )
    ap.add_argument(
        "--motion",
        choices=MOTION_SOURCES,
        default="true",
        help="the counterfactual's motion energy: true speed of hands and feet, or the flow's 99th percentile",
    )
    ap.add_argument("--workers", type=int, default=1, help="processes for --write (default 1)")
    args = ap.parse_args()
    try:
        if args.write:
            n = write_motion_set(args.data, args.write, args.per_action, args.motion, args.workers)
            print(f"{n} training routines with {args.motion} motion energy written to {args.write}")
            return 0
        rows = audit(args.data, args.per_action, tuple(args.render))
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    pd.set_option("display.width", 200)
    print(f"{len(rows)} training routines")
    print(
        f"beat phase (A) against the true beats: corr {rows['beat_phase_corr'].mean():.3f} "
        f"(min {rows['beat_phase_corr'].min():.3f})"
    )
    for column in (c for c in rows.columns if c.startswith("camera error")):
        print(
            f"{column}: the median flow against the background's true shift, outside shaking or cutting "
            f"stretches: {rows[column].mean():.3f} px (worst routine {rows[column].max():.3f})"
        )
    print(
        f"loudness (A) against the true music level per bar: within routines {rows['loudness_bars'].mean():.2f}, "
        f"across routines {_corr(rows['loudness'].to_numpy(), rows['music_level'].to_numpy()):.2f}"
    )
    if "recomputed_vs_file" in rows:
        print(
            f"check: motion energy recomputed from the rendered frames against the file: corr {rows['recomputed_vs_file'].min():.4f} (min)"
        )
    print(summarise(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
