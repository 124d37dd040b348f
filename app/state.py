"""What every page of the dashboard shares: the chosen data set and checkpoint, the
device, and the cached loading of catalog, checkpoints, features and explanations.

Pages use this small API::

    from app import state

    src = state.current_source()          # Source(data_dir, checkpoint_dir), chosen in the sidebar
    catalog = state.catalog(src)          # pamfn.catalog.Catalog (routines table, label scale)
    models = state.checkpoints(src)       # {action: LoadedCheckpoint}, loaded once per process
    ckpt = state.checkpoint_for(src, "ball")  # the checkpoint that scores one action
    feats = state.features(src, rid)      # RoutineFeatures of one routine
    expl = state.explanation(src, rid)    # Explanation (cached per source and routine; support=True: with each step's stretch)
    occ = state.occlusion(src, rid)       # occlusion scan: start_s, end_s, impact (points), noise, significant, cached
    video, why = state.media(src, rid)    # the playable media file, or None and the reason
    wave = state.waveform(video)          # min/max envelope of its audio (None without audio)
    table = state.predictions(src, wait_s=None)  # routines + predicted + error (None: wait for all)
    job = state.prediction_job(src)       # the background scoring: .start(), .done, .scores, .errors
    state.device()                        # "cuda" or "cpu"
    state.show_error(exc, "what failed") # a PamfnError as a clear st.error; the app stays up

Everything heavy is cached with ``st.cache_resource`` / ``st.cache_data`` keyed by plain
strings, so it is loaded once per process and shared by all sessions. Loading failures
raise :class:`pamfn.errors.PamfnError` subclasses; :func:`show_error` renders them.
The entry script calls :func:`sidebar_source` once per run (before the page) so the
choice lives in session state and every page sees it, and :func:`sidebar_device` after it.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from pamfn.catalog import Catalog, load_catalog
from pamfn.errors import PamfnError
from pamfn.routine import RoutineFeatures
from pamfn.serving import CheckpointSet
from pamfn.serving.checkpoints import files_version
from pamfn.serving.predictions import PredictionJob, fingerprint

if TYPE_CHECKING:
    from pamfn.explanation import Explanation

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "sample_data"
DEFAULT_CHECKPOINT = ROOT / "assets" / "checkpoints"
CACHE_DIR = ROOT / "cache" / "dashboard"
"""Where finished prediction tables are kept (``PAMFN_CACHE`` overrides)."""
DATA_KEY = "pamfn_data_dir"
CHECKPOINT_KEY = "pamfn_checkpoint_dir"


@dataclass(frozen=True)
class Source:
    """A data set folder and a checkpoint folder, as absolute path strings (cache keys)."""

    data_dir: str
    checkpoint_dir: str


def cli_source(argv: list[str] | None = None) -> Source:
    """The data set and checkpoint named on the command line after ``--``
    (``streamlit run app/streamlit_app.py -- --data DIR --checkpoint DIR``), else the
    ``PAMFN_DATA`` / ``PAMFN_CHECKPOINT`` environment variables, else the bundled ones."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data", default=os.environ.get("PAMFN_DATA", str(DEFAULT_DATA)))
    parser.add_argument("--checkpoint", default=os.environ.get("PAMFN_CHECKPOINT", str(DEFAULT_CHECKPOINT)))
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return Source(str(Path(args.data).resolve()), str(Path(args.checkpoint).resolve()))


def sidebar_source() -> Source:
    """Draw the data set / checkpoint choice in the sidebar, start loading the chosen
    checkpoints in the background and return the choice."""
    default = cli_source()
    st.session_state.setdefault(DATA_KEY, default.data_dir)
    st.session_state.setdefault(CHECKPOINT_KEY, default.checkpoint_dir)
    with st.sidebar.expander("Data set and checkpoint", expanded=False):
        st.text_input("Data set folder", key=DATA_KEY, help="A folder with dataset.json, labels.csv, features/, media/")
        st.text_input("Checkpoint folder", key=CHECKPOINT_KEY, help="A checkpoint, or a folder with index.json per action")
    src = current_source()
    checkpoint_set(src)
    return src


def sidebar_device() -> None:
    """Say in the sidebar which device the model runs on (imports torch: call it last)."""
    st.sidebar.caption(f"Model runs on **{device().upper()}**")


def current_source() -> Source:
    """The data set and checkpoint chosen in this session (the CLI defaults before any choice)."""
    default = cli_source()
    data_dir = st.session_state.get(DATA_KEY) or default.data_dir
    checkpoint_dir = st.session_state.get(CHECKPOINT_KEY) or default.checkpoint_dir
    return Source(str(Path(data_dir).resolve()), str(Path(checkpoint_dir).resolve()))


@functools.cache
def _device_name() -> str:
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("PAMFN_TORCH_THREADS", "1"))))
    return "cuda" if torch.cuda.is_available() else "cpu"


def device() -> str:
    """``"cuda"`` when a CUDA device is available, else ``"cpu"`` (imports torch).

    On CPU, torch runs single-threaded unless ``PAMFN_TORCH_THREADS`` says otherwise: the
    dashboard scores one routine at a time, and on a busy machine several spinning
    threads per forward pass make it many times slower."""
    return _device_name()


@st.cache_resource(show_spinner="Reading the data set…")
def _catalog(data_dir: str) -> Catalog:
    return load_catalog(data_dir)


def catalog(src: Source) -> Catalog:
    """The routines of the chosen data set (DatasetError if unreadable)."""
    return _catalog(src.data_dir)


_LOADER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pamfn-checkpoints")


@st.cache_resource(show_spinner=False, max_entries=8)
def _checkpoint_set(checkpoint_dir: str, version: str) -> CheckpointSet:
    ckpts = CheckpointSet(checkpoint_dir, device=_device_name)
    ckpts.prefetch(_LOADER)
    return ckpts


def checkpoint_version(src: Source) -> str:
    """The version of the checkpoint folder's files: part of every cache key that depends
    on the model, so a rewritten checkpoint is never explained with the old one."""
    return files_version(src.checkpoint_dir)


def checkpoint_set(src: Source) -> CheckpointSet:
    """The checkpoints of ``src``, loading in the background (torch import included) once
    per process and version of the folder's files, so fixing a checkpoint needs no restart."""
    return _checkpoint_set(src.checkpoint_dir, checkpoint_version(src))


def checkpoint_for(src: Source, action: str | None):
    """The LoadedCheckpoint that scores routines of ``action`` (waits only for that one);
    CheckpointError if none does."""
    ckpts = checkpoint_set(src)
    if ckpts.loading(action):
        with st.spinner("Loading the PAMFN checkpoint…"):
            return ckpts.load(action)
    return ckpts.load(action)


def checkpoints(src: Source) -> dict:
    """``{action: LoadedCheckpoint}`` of the chosen folder (key None for one checkpoint that
    serves every action), on :func:`device`. CheckpointError if unusable."""
    return {action: checkpoint_for(src, action) for action in checkpoint_set(src).plan}


@st.cache_resource(show_spinner=False, max_entries=256)
def _features(path: str) -> RoutineFeatures:
    return RoutineFeatures.load(path)


def features(src: Source, routine_id: str) -> RoutineFeatures:
    """The RoutineFeatures of one routine (FeatureError if unreadable)."""
    return _features(str(catalog(src).routine(routine_id)["features_path"]))


@st.cache_resource(show_spinner=False, max_entries=256)
def _explanation(data_dir: str, checkpoint_dir: str, routine_id: str, stamp: str, support: bool) -> Explanation:
    from pamfn.explain import explain_routine

    src = Source(data_dir, checkpoint_dir)
    row = catalog(src).routine(routine_id)
    ckpt = checkpoint_for(src, str(row["action"]))
    return explain_routine(ckpt, features(src, routine_id), action=str(row["action"]), judged_score=float(row["score"]),
                           support=support)


def explanation(src: Source, routine_id: str, support: bool = False) -> Explanation:
    """What PAMFN did on one routine (deterministic; cached per source and routine).
    ``support``: also measure the stretch each step depends on (the routine view draws
    and words with it). CheckpointError when the checkpoint does not match the features."""
    return _explanation(src.data_dir, src.checkpoint_dir, routine_id, checkpoint_version(src), support)


@st.cache_resource(show_spinner=False, max_entries=8)
def _prediction_job(data_dir: str, checkpoint_dir: str, key: str) -> PredictionJob:
    src = Source(data_dir, checkpoint_dir)
    cache_dir = Path(os.environ.get("PAMFN_CACHE", CACHE_DIR))
    return PredictionJob(catalog(src), checkpoint_set(src), cache_dir / f"predictions-{key}.json")


def prediction_job(src: Source) -> PredictionJob:
    """The scoring of every routine of ``src``, shared by all sessions; ``.start()`` runs it
    in the background (it waits for the checkpoints itself, so nothing here blocks)."""
    return _prediction_job(src.data_dir, src.checkpoint_dir, fingerprint(catalog(src), checkpoint_set(src)))


def predictions(src: Source, wait_s: float | None = 0.0) -> pd.DataFrame:
    """Routines (index routine_id) with action, split, judged ``score``, ``predicted``
    score in the data set's units and ``error`` (predicted - judged). Scored once per
    source in the background: waits up to ``wait_s`` seconds (None: until done), and
    routines not scored yet have NaN; see :func:`prediction_job` for progress and errors."""
    job = prediction_job(src).start()
    job.wait(wait_s)
    return job.table()


@st.cache_data(show_spinner=False, max_entries=256)
def _occlusion(data_dir: str, checkpoint_dir: str, routine_id: str, window: int, stamp: str) -> pd.DataFrame:
    from pamfn.occlusion import occlusion_scan

    src = Source(data_dir, checkpoint_dir)
    ckpt = checkpoint_for(src, str(catalog(src).routine(routine_id)["action"]))
    return occlusion_scan(ckpt.model, features(src, routine_id), ckpt.config.label_scale, window=window, device=device())


def occlusion(src: Source, routine_id: str, window: int = 4) -> pd.DataFrame:
    """Occlusion scan of one routine (pamfn.occlusion: impact in points, its noise,
    significance, stage-2 MSFD weight baselines), cached."""
    return _occlusion(src.data_dir, src.checkpoint_dir, routine_id, window, checkpoint_version(src))


def media(src: Source, routine_id: str) -> tuple[Path | None, str]:
    """The routine's media file and ``""``, or None and the reason it cannot be played."""
    path = catalog(src).media_path(routine_id)
    if path is None:
        return None, "this routine has features only (labels.csv names no media file)"
    if not path.is_file():
        return None, f"its media file is missing: {path}"
    return path, ""


@st.cache_data(show_spinner=False, max_entries=64)
def _waveform(path: str, mtime_ns: int, points: int) -> pd.DataFrame | None:
    from pamfn.features.media import decode_audio
    from pamfn.viz.tables import waveform_table

    rate = 8000
    samples = decode_audio(path, rate)
    return None if samples is None else waveform_table(samples, rate, points)


def waveform(path: Path, points: int = 1500) -> pd.DataFrame | None:
    """Min/max envelope of a media file's audio (None when it has no audio track), cached.
    MediaError when the file cannot be decoded."""
    return _waveform(str(path), path.stat().st_mtime_ns, points)


def show_error(exc: Exception, what: str) -> None:
    """Render a loading failure as a clear message; the app stays up."""
    if isinstance(exc, PamfnError):
        st.error(f"**{what}.** {exc}", icon=":material/error:")
    else:
        st.exception(exc)
