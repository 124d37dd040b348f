"""The generated benchmark on disk: one routine at a time (features, labels, showcase
video), the whole set in a process pool, and the bit-for-bit check of a bundled set.

Layout of a set (read by training and the dashboard)::

    dataset.json               name, label scale, actions, extractor, generator seed/version, config
    labels.csv                 one row per routine: split, scores, paths, realised facts
    events.csv                 version 2: the ground truth events of every routine (pamfn.synth.events)
    manifest.json              version 2: hashes of each routine's features, label row and events
                               and its features' fingerprint, recorded the first time it was generated
    features/<routine_id>.npz  lite features (RoutineFeatures, float16)
    media/<routine_id>.mp4     showcase routines only (H.264 + AAC)

A split can be generated alone (``split``): its rows are merged into labels.csv and
events.csv and each routine already recorded in manifest.json is checked against it, so a
repository can carry the test split and regenerate the training split bit for bit on demand.
On a CPU whose float kernels differ from the recording machine's, features can differ in
float rounding only; their fingerprint (:mod:`pamfn.synth.fingerprint`) tells that apart
from a real difference.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from pamfn.atomic import write_text_atomic
from pamfn.errors import ConfigError, DatasetError
from pamfn.synth.config import ACTIONS, GENERATOR_VERSIONS, SynthConfig
from pamfn.synth.events import EVENT_COLUMNS, events_csv, routine_events
from pamfn.synth.fingerprint import agree, fingerprint
from pamfn.synth.motion import Motion, animate
from pamfn.synth.music import mix_soundtrack, synthesize_music
from pamfn.synth.plan import RoutinePlan, plan_routine, routine_seed
from pamfn.synth.render import render_frames
from pamfn.synth.scoring import D_MAX, E_MAX, M_MAX, Realised, Scores, realise, score

J = TypeVar("J")
G = TypeVar("G")

DATASET_NAME = "PAMFN synthetic RG"
LABEL_SCALE = D_MAX + E_MAX + M_MAX
LABEL_COLUMNS = ["routine_id", "action", "split", "score", "difficulty", "execution", "musicality", "features", "media"]
EXTRA_COLUMNS = [
    "noiseless_score", "seed", "latent_difficulty", "latent_execution", "latent_musicality",
    *[f.name for f in fields(Realised)],
]  # fmt: skip
V2_ONLY_COLUMNS = ("energy_match",)
SPLITS = ("train", "test")


def label_columns(version: int) -> list[str]:
    """The labels.csv columns of a generator version."""
    extra = EXTRA_COLUMNS if version >= 2 else [c for c in EXTRA_COLUMNS if c not in V2_ONLY_COLUMNS]
    return LABEL_COLUMNS + extra
DESCRIPTION = (
    "Generated rhythmic-gymnastics-like routines: an articulated performer with an apparatus "
    "(ball, clubs, hoop, ribbon) set to generated music. Scores come from a documented formula of "
    "the realised routine (difficulty, execution, musicality); see docs/sample-benchmark.md."
)


@dataclass(frozen=True)
class RoutineSpec:
    routine_id: str
    action: str
    index: int
    split: str
    seed: tuple[int, ...]
    showcase: bool


@dataclass
class Routine:
    """A generated routine in memory: plan, animation, soundtrack and scores."""

    plan: RoutinePlan
    motion: Motion
    music: np.ndarray
    audio: np.ndarray
    realised: Realised
    scores: Scores


def routine_specs(cfg: SynthConfig) -> list[RoutineSpec]:
    """All routines of a set: per apparatus, ``per_action_train`` training routines then
    ``per_action_test`` test routines. Showcase routines (with a video): the first
    ``showcase_per_action`` test routines (version 1), or those chosen by
    :func:`choose_showcase` (version 2)."""
    specs = []
    for action in ACTIONS:
        for k in range(cfg.per_action_train + cfg.per_action_test):
            split = "train" if k < cfg.per_action_train else "test"
            specs.append(
                RoutineSpec(
                    routine_id=f"{action}_{k:03d}",
                    action=action,
                    index=k,
                    split=split,
                    seed=routine_seed(cfg.seed, action, k),
                    showcase=split == "test" and k - cfg.per_action_train < cfg.showcase_per_action,
                )
            )
    if cfg.version >= 2:
        chosen = choose_showcase(specs, cfg)
        specs = [replace(s, showcase=s.routine_id in chosen) for s in specs]
    return specs


SHOWCASE_CANDIDATES = 30
"""Version 2: showcase routines are chosen among the first 30 test routines of each apparatus."""


def _plan_kinds(plan: RoutinePlan) -> set[str]:
    """What a routine shows: its faults, off-beat/off-energy sections and degradation kinds."""
    kinds = {f"degradation:{d.kind}" for d in plan.degradations}
    kinds |= {"loss_of_balance"} if any(el.stumble > 0 for el in plan.elements) else set()
    kinds |= {"drop"} if any(el.dropped for el in plan.elements) else set()
    kinds |= {"tremor"} if plan.tremor_stretches else set()
    kinds |= {"off_beat"} if any(not s.in_sync for s in plan.sections) else set()
    kinds |= {"off_energy"} if any(not s.follows_energy for s in plan.sections) else set()
    return kinds


def choose_showcase(specs: list[RoutineSpec], cfg: SynthConfig) -> set[str]:
    """Version 2: per apparatus, ``showcase_per_action`` test routines chosen greedily (from
    the plans alone) so that together they show every fault and degradation kind; ties go
    to the lower index."""
    covered: set[str] = set()
    chosen: set[str] = set()
    for action in ACTIONS:
        tests = [s for s in specs if s.action == action and s.split == "test"][:SHOWCASE_CANDIDATES]
        kinds = {s.routine_id: _plan_kinds(plan_routine(s.routine_id, action, s.seed, cfg)) for s in tests}
        for _ in range(min(cfg.showcase_per_action, len(tests))):
            best = max((s for s in tests if s.routine_id not in chosen),
                       key=lambda s: (len(kinds[s.routine_id] - covered), len(kinds[s.routine_id]), -s.index))  # fmt: skip
            chosen.add(best.routine_id)
            covered |= kinds[best.routine_id]
    return chosen


def make_routine(spec: RoutineSpec, cfg: SynthConfig) -> Routine:
    """Plan, animate, compose and score one routine (no rendering yet)."""
    plan = plan_routine(spec.routine_id, spec.action, spec.seed, cfg)
    motion = animate(plan, cfg.fps)
    n_samples = plan.n_frames * cfg.samples_per_frame
    music = synthesize_music(plan, cfg.sample_rate, n_samples)
    audio = mix_soundtrack(plan, music, motion.impacts, cfg.sample_rate)
    realised = realise(plan, motion, music, cfg.fps, cfg.sample_rate)
    scores = score(realised, np.random.default_rng(list(spec.seed) + [9001]), plan.version)
    return Routine(plan, motion, music, audio, realised, scores)


def _fmt(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4f}"
    return str(value)


def label_row_media(spec: RoutineSpec) -> str:
    """The labels.csv ``media`` entry of a routine: its showcase video, or empty."""
    return f"media/{spec.routine_id}.mp4" if spec.showcase else ""


def label_row(spec: RoutineSpec, routine: Routine) -> dict[str, str]:
    """The labels.csv row of a routine (all values as fixed-format strings)."""
    s, lat = routine.scores, routine.plan.latents
    row: dict[str, Any] = {
        "routine_id": spec.routine_id,
        "action": spec.action,
        "split": spec.split,
        "score": s.total,
        "difficulty": s.difficulty,
        "execution": s.execution,
        "musicality": s.musicality,
        "features": f"features/{spec.routine_id}.npz",
        "media": label_row_media(spec),
        "noiseless_score": s.noiseless_total,
        "seed": "-".join(str(x) for x in spec.seed),
        "latent_difficulty": lat.difficulty,
        "latent_execution": lat.execution,
        "latent_musicality": lat.musicality,
        **asdict(routine.realised),
    }
    return {k: _fmt(row[k]) for k in label_columns(routine.plan.version)}


@dataclass
class Generated:
    """What generating one routine gives back: its label row and its events (version 2)."""

    row: dict[str, str]
    events: list[dict[str, str]]


def generate_routine(spec: RoutineSpec, cfg: SynthConfig, out_dir: Path, resume: bool = False) -> Generated:
    """Write one routine's features (and showcase video) under ``out_dir``; return its label
    row and events.

    With ``resume``, files already there are kept (the label row is always recomputed)."""
    from pamfn.features import extract_from_arrays
    from pamfn.synth.video import encode_mp4

    routine = make_routine(spec, cfg)
    plan = routine.plan
    feat_path = out_dir / "features" / f"{spec.routine_id}.npz"
    if not (resume and feat_path.is_file()):
        frames = render_frames(plan, routine.motion, cfg.feature_size, cfg.fps)
        feats = extract_from_arrays(
            frames, routine.audio, cfg.sample_rate, fps=cfg.fps, extractor=cfg.extractor, routine_id=spec.routine_id
        )
        feats.save(feat_path, dtype="float16")
    media_path = out_dir / "media" / f"{spec.routine_id}.mp4"
    if spec.showcase and not (resume and media_path.is_file()):
        frames = render_frames(plan, routine.motion, cfg.showcase_size, cfg.fps)
        encode_mp4(media_path, frames, cfg.showcase_size, cfg.fps, routine.audio, cfg.sample_rate)
    events = routine_events(plan, routine.motion) if plan.version >= 2 else []
    return Generated(label_row(spec, routine), events)


def labels_csv(rows: Iterable[dict[str, str]], version: int = 2) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=label_columns(version), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def dataset_meta(cfg: SynthConfig) -> dict[str, Any]:
    return {
        "name": DATASET_NAME,
        "label_scale": LABEL_SCALE,
        "actions": list(ACTIONS),
        "extractor": cfg.extractor,
        "generator_seed": cfg.seed,
        "generator_version": cfg.generator_version,
        "description": DESCRIPTION,
        "sub_scores": {"difficulty": D_MAX, "execution": E_MAX, "musicality": M_MAX},
        "score_formula": "docs/sample-benchmark.md",
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
    }


def config_from_meta(meta: dict[str, Any]) -> SynthConfig:
    """The SynthConfig a set was generated with, from its dataset.json."""
    raw = meta.get("config")
    versions = {name: v for v, name in GENERATOR_VERSIONS.items()}
    if not isinstance(raw, dict) or meta.get("generator_version") not in versions:
        raise DatasetError(
            f"dataset.json: generated by {meta.get('generator_version')!r} without a readable config; "
            f"this generator reproduces {sorted(versions)}"
        )
    known = {f.name for f in fields(SynthConfig)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in known}
    values["version"] = versions[meta["generator_version"]]
    return SynthConfig(**values)


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def _run_one(job: tuple[RoutineSpec, SynthConfig, str, bool]) -> Generated:
    spec, cfg, out_dir, resume = job
    return generate_routine(spec, cfg, Path(out_dir), resume)


def _progress_key(spec: RoutineSpec, cfg: SynthConfig) -> float:
    """Position of a routine within its split, in [0, 1): generating the showcase routines,
    then the test split, then the training split, each in this order, keeps any prefix of
    the work balanced over apparatus."""
    if spec.split == "train":
        return spec.index / max(1, cfg.per_action_train)
    return (spec.index - cfg.per_action_train) / max(1, cfg.per_action_test)


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _events_by_routine(path: Path) -> dict[str, list[dict[str, str]]]:
    """A set's events.csv as each routine's rows, in the file's order (an absent file: none)."""
    events: dict[str, list[dict[str, str]]] = {}
    for e in _read_csv(path):
        events.setdefault(e.get("routine_id") or "", []).append({c: e.get(c) or "" for c in EVENT_COLUMNS})
    return events


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def routine_hashes(out: Path, row: dict[str, str], events: list[dict[str, str]]) -> dict[str, Any]:
    """sha256 of a routine's features arrays (not the npz zip, which carries write times),
    of its label row and of its events, as written; and the features' fingerprint."""
    path = out / row["features"]
    arrays = _npz_contents(path)
    feats = hashlib.sha256(b"".join(k.encode() + arrays[k] for k in sorted(arrays))).hexdigest()
    cols = list(row)
    return {
        "features": feats,
        "fingerprint": fingerprint(_npz_arrays(path)),
        "labels": hashlib.sha256(",".join(row[c] for c in cols).encode()).hexdigest(),
        "events": hashlib.sha256(events_csv(events).encode()).hexdigest(),
    }


def _same_events(written: list[dict[str, str]], regenerated: list[dict[str, str]]) -> bool:
    """A routine's rows of events.csv against the regenerated ones, cell by cell (:func:`_same_cell`)."""
    return len(written) == len(regenerated) and all(
        _same_cell(w.get(c), r[c]) for w, r in zip(written, regenerated, strict=True) for c in EVENT_COLUMNS)


def _same_cell(written: str | None, regenerated: str) -> bool:
    """A labels.csv cell against the regenerated one: the same text, or the same number
    written otherwise (``0.0`` and ``0.0000`` after a spreadsheet or pandas saved the file)."""
    if written == regenerated:
        return True
    try:
        return written is not None and float(written) == float(regenerated)
    except ValueError:
        return False


def _compare_recorded(rid: str, known: dict[str, Any], now: dict[str, Any]) -> tuple[list[str], bool]:
    """Differences of one routine from its manifest entry, and whether its features match
    within float rounding only (hash differs, fingerprint agrees)."""
    found = [f"{rid}: {what} differ from manifest.json" for what in ("labels", "events") if known.get(what) != now[what]]
    if known.get("features") == now["features"]:
        return found, False
    if "fingerprint" in known and agree(known["fingerprint"], now["fingerprint"]):
        return found, True
    return [*found, f"{rid}: features differ from manifest.json"], False


class _Stopped(BaseException):
    """Raised in a worker's job by the parent's SIGTERM, so that the job's cleanups run."""


_IN_JOB = False
"""Whether this worker process is running a job (a SIGTERM then stops it through its cleanups)."""


def _on_terminate(signum: int, frame: object) -> None:
    if _IN_JOB:
        raise _Stopped
    os._exit(128 + signum)


def _worker_start(initializer: Callable[[], None] | None, parent: int) -> None:
    """A worker ignores Ctrl-C (the parent stops it), stops through its cleanups on SIGTERM,
    gets a SIGTERM when its parent dies, even killed (Linux), and then runs ``initializer``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_terminate)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the request
        os._exit(128 + signal.SIGTERM)
    if initializer is not None:
        initializer()


def _stoppable(fn: Callable[[J], G], job: J) -> G:
    """``fn(job)`` in a worker; on a SIGTERM its cleanups run (temporary files, the
    temporaries of atomic writes), then the worker exits."""
    global _IN_JOB
    _IN_JOB = True
    try:
        return fn(job)
    except _Stopped:
        os._exit(128 + signal.SIGTERM)
    finally:
        _IN_JOB = False


def in_processes(fn: Callable[[J], G], jobs: list[J], workers: int,
                 initializer: Callable[[], None] | None = None) -> Iterator[G]:  # fmt: skip
    """``fn(job)`` for every job in ``workers`` spawned processes, yielded as each finishes.
    A worker that dies (a crash in compiled code, the OOM killer) stops the build with a
    DatasetError instead of hanging. When the loop ends early (a job's error, Ctrl-C,
    the caller stopping) the workers are stopped at once, through their jobs' cleanups;
    what they write is atomic. A worker whose parent is killed stops too (Linux)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_start,
                               initargs=(initializer, os.getpid()))
    finished = False
    try:
        for future in as_completed([pool.submit(_stoppable, fn, job) for job in jobs]):
            yield future.result()
        finished = True
    except BrokenProcessPool as exc:
        raise DatasetError(f"a worker process died ({exc}); what was finished is kept: rerun with --resume to go on") from exc
    finally:
        if not finished:
            for process in list((pool._processes or {}).values()):  # no public API before Python 3.14
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _generate(specs: list[RoutineSpec], cfg: SynthConfig, out: Path, workers: int, resume: bool,
              progress: bool) -> Iterator[Generated]:  # fmt: skip
    """Generate routines, yielding each as it is done (in any order)."""
    from tqdm import tqdm

    order = sorted(specs, key=lambda s: (not s.showcase, s.split != "test", _progress_key(s, cfg), s.action))
    jobs = [(s, cfg, str(out), resume) for s in order]
    bar = tqdm(total=len(jobs), desc="synth", unit="routine", disable=not progress)
    if workers > 1:
        for g in in_processes(_run_one, jobs, workers, initializer=_init_worker):
            bar.update()
            yield g
    else:
        for job in jobs:
            g = _run_one(job)
            bar.update()
            yield g
    bar.close()


FLUSH_EVERY = 20
"""Labels, events and manifest are rewritten every 20 routines, so an interrupted build
keeps what it made (``--resume`` continues it)."""


def build_dataset(
    out_dir: str | Path,
    cfg: SynthConfig,
    workers: int = 1,
    resume: bool = False,
    progress: bool = True,
    split: str = "all",
) -> dict[str, Any]:
    """Generate a set (or one ``split`` of it) into ``out_dir``; returns a summary (counts,
    seconds, what differs from manifest.json and what it did not record yet).

    A single split (and a resumed build) merges its rows into the labels.csv and
    events.csv already there. Version 2: every routine recorded in manifest.json is
    checked against it; routines it does not record yet are added to it."""
    out = Path(out_dir)
    if split not in ("all", *SPLITS):
        raise DatasetError(f"unknown split {split!r}: choose all, train or test")
    every = routine_specs(cfg)
    specs = [s for s in every if split in ("all", s.split)]
    if not specs:
        raise DatasetError(f"{out}: nothing to generate (0 {split} routines per apparatus)")
    t0 = time.perf_counter()
    keep = split != "all" or resume
    rows = {r["routine_id"]: r for r in _read_csv(out / "labels.csv")} if keep else {}
    events = _events_by_routine(out / "events.csv") if keep else {}
    done: dict[str, Generated] = {}
    pending: dict[str, Generated] = {}
    mismatches: list[str] = []
    recorded: list[str] = []
    rounded: list[str] = []

    def flush() -> None:
        order = [s.routine_id for s in every if s.routine_id in rows]
        write_text_atomic(out / "labels.csv", labels_csv((rows[r] for r in order), cfg.version))
        if cfg.version >= 2:
            write_text_atomic(out / "events.csv", events_csv(e for r in order for e in events.get(r, [])))
            hashes = {rid: routine_hashes(out, g.row, g.events) for rid, g in pending.items()}
            found, new, within = _check_manifest(out / "manifest.json", cfg, hashes)
            mismatches.extend(found)
            recorded.extend(new)
            rounded.extend(within)
        write_text_atomic(out / "dataset.json", json.dumps(dataset_meta(cfg), indent=2) + "\n")
        pending.clear()

    for g in _generate(specs, cfg, out, workers, resume, progress):
        rid = g.row["routine_id"]
        rows[rid], events[rid], done[rid], pending[rid] = g.row, g.events, g, g
        if len(pending) >= FLUSH_EVERY:
            flush()
    flush()
    seconds = time.perf_counter() - t0
    video_s = sum(float(g.row["duration_s"]) for g in done.values())
    return {"routines": len(done), "seconds": seconds, "video_seconds": video_s, "out": str(out),
            "mismatches": mismatches, "recorded": sorted(recorded), "rounded": sorted(rounded)}  # fmt: skip


def _manifest_text(manifest: dict[str, Any]) -> str:
    """manifest.json with one routine per line (small, and a diff names the routines)."""
    lines = [f"{json.dumps(rid)}: {json.dumps(entry, sort_keys=True, separators=(',', ':'))}"
             for rid, entry in sorted(manifest["routines"].items())]  # fmt: skip
    head = json.dumps(manifest["generator_version"])
    return '{"generator_version": ' + head + ', "routines": {\n' + ",\n".join(lines) + "\n}}\n"


def _load_manifest(path: Path, cfg: SynthConfig) -> dict[str, Any]:
    """manifest.json as a dict ({} when absent); refuses one made by another generator."""
    manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if manifest.get("generator_version", cfg.generator_version) != cfg.generator_version:
        raise DatasetError(f"{path}: made by {manifest['generator_version']}, this set is {cfg.generator_version}")
    return manifest


def _read_manifest(path: Path, cfg: SynthConfig) -> dict[str, dict[str, Any]]:
    """The routines manifest.json records, by id ({} when there is none)."""
    return _load_manifest(path, cfg).get("routines", {})


def _check_manifest(
    path: Path, cfg: SynthConfig, hashes: dict[str, dict[str, Any]]
) -> tuple[list[str], list[str], list[str]]:
    """Compare routines with manifest.json and record those it lacks; returns (differences,
    routines newly recorded, routines whose features match within float rounding only)."""
    manifest = _load_manifest(path, cfg)
    known = manifest.setdefault("routines", {})
    mismatches, recorded, rounded = [], [], []
    for rid in sorted(hashes):
        if rid not in known:
            known[rid] = hashes[rid]
            recorded.append(rid)
            continue
        found, within = _compare_recorded(rid, known[rid], hashes[rid])
        mismatches += found
        rounded += [rid] if within else []
    if recorded:
        manifest["generator_version"] = cfg.generator_version
        write_text_atomic(path, _manifest_text(manifest))
    return mismatches, recorded, rounded


def read_labels(data_dir: str | Path) -> list[dict[str, str]]:
    path = Path(data_dir) / "labels.csv"
    if not path.is_file():
        raise DatasetError(f"{path}: labels file not found")
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_meta(data_dir: str | Path) -> dict[str, Any]:
    path = Path(data_dir) / "dataset.json"
    if not path.is_file():
        raise DatasetError(f"{path}: dataset description not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from exc


def _npz_contents(path: Path) -> dict[str, bytes]:
    """Array names -> dtype, shape and raw bytes (npz zip timestamps are not compared)."""
    with np.load(path, allow_pickle=False) as data:
        return {k: f"{data[k].dtype}{data[k].shape}".encode() + data[k].tobytes() for k in data.files}


@dataclass
class DatasetCheck:
    """What :func:`check_dataset` found: differences, and the routines whose features match
    within float rounding only (this CPU's float kernels are not the recording machine's)."""

    problems: list[str]
    rounded: list[str]


def check_dataset(
    data_dir: str | Path, routine_ids: list[str] | None = None, count: int = 1, media: bool = False
) -> DatasetCheck:
    """Regenerate some routines of a set and compare with the files there and with its
    manifest.

    A routine in labels.csv: its label row as text, its features arrays and metadata byte
    for byte (and, where the bytes differ, their fingerprints), and (``media``) its showcase
    video byte for byte. A routine recorded in manifest.json (version 2): its label row,
    events and features against their recorded hashes, so a training routine of a set that
    ships only its test split is checked without generating the split. ``routine_ids``
    defaults to the ``count`` (at least 1) shortest routines of labels.csv."""
    if count < 1:
        raise ConfigError(f"the number of routines to check (count) must be at least 1, got {count}")
    data = Path(data_dir)
    cfg = config_from_meta(read_meta(data))
    labels = {r["routine_id"]: r for r in read_labels(data)}
    recorded = _read_manifest(data / "manifest.json", cfg)
    if routine_ids is None:
        if not labels:
            raise DatasetError(f"{data / 'labels.csv'}: has no routines to check")
        routine_ids = sorted(labels, key=lambda r: (float(labels[r]["duration_s"]), r))[:count]
    events = _events_by_routine(data / "events.csv") if cfg.version >= 2 else {}
    specs = {s.routine_id: s for s in routine_specs(cfg)}
    problems, rounded = [], []
    with tempfile.TemporaryDirectory(prefix="pamfn-synth-check-") as tmp:
        for rid in routine_ids:
            if rid not in specs or (rid not in labels and rid not in recorded):
                raise DatasetError(f"{data}: no routine {rid!r} in this set (neither in labels.csv nor in manifest.json)")
            spec = specs[rid] if media else replace(specs[rid], showcase=False)
            generated = generate_routine(spec, cfg, Path(tmp))
            row = {**generated.row, "media": label_row_media(specs[rid])} if not media else generated.row
            if rid in recorded:
                found, within = _compare_recorded(rid, recorded[rid], routine_hashes(Path(tmp), row, generated.events))
                problems += found
                rounded += [rid] if within else []
            if rid not in labels:
                continue
            if cfg.version >= 2 and not _same_events(events.get(rid, []), generated.events):
                problems.append(f"{rid}: its rows of events.csv differ from the regenerated events")
            for key, value in row.items():
                if not _same_cell(labels[rid].get(key), value):
                    problems.append(f"{rid}: labels.csv {key} is {labels[rid].get(key)!r}, regenerated {value!r}")
            rel = labels[rid]["features"]
            try:
                written = _npz_contents(data / rel)
            except (OSError, ValueError, zipfile.BadZipFile) as exc:
                problems.append(f"{rid}: {rel} is unreadable ({exc})")
                continue
            if written == _npz_contents(Path(tmp) / rel):
                pass
            elif agree(fingerprint(_npz_arrays(data / rel)), fingerprint(_npz_arrays(Path(tmp) / rel))):
                rounded += [] if rid in rounded else [rid]
            else:
                problems.append(f"{rid}: {rel} differs from the regenerated features")
            if media and spec.showcase:
                rel = labels[rid]["media"]
                if (data / rel).read_bytes() != (Path(tmp) / rel).read_bytes():
                    problems.append(f"{rid}: {rel} differs from the regenerated video")
    return DatasetCheck(problems, rounded)
