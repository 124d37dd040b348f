"""What every page of the dashboard shares: the data set and checkpoint chosen in the
sidebar, and the cached loading of catalog, checkpoints, features, explanations,
occlusion scans and waveforms. The work itself is the library's (``pamfn.serving``,
``pamfn.explain``, ``pamfn.occlusion``); this module only caches it, per process and
shared by all sessions, with the checkpoint set's version in every key that depends on
the model, and draws the shared widgets. Loading failures raise
:class:`pamfn.errors.PamfnError` subclasses; :func:`show_error` renders them.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from app.components.text import md
from app.source import Source, cli_source, highlight_dir
from pamfn.batch_explain import batch_folder, read_scores
from pamfn.catalog import Catalog, load_catalog
from pamfn.errors import CheckpointError, PamfnError
from pamfn.occlusion import WINDOW
from pamfn.routine import RoutineFeatures
from pamfn.serving import CheckpointSet
from pamfn.serving.cache import cache_dir, file_stamp, folder_stamp
from pamfn.serving.checkpoints import files_version
from pamfn.serving.device import serving_device
from pamfn.serving.predictions import PredictionJob, fingerprint, predictions_file
from pamfn.serving.routines import routine_explanation, routine_occlusion
from pamfn.viz.tables import media_waveform

if TYPE_CHECKING:
    from pamfn.checkpoint import LoadedCheckpoint
    from pamfn.explanation import Explanation

DATA_KEY = "pamfn_data_dir"
CHECKPOINT_KEY = "pamfn_checkpoint_dir"
FINGERPRINT_TTL_S = 2.0
"""How long a source's fingerprint is reused: a features file rewritten on disk is noticed
by the batch and background scores within this (the routine's own cache key sees it at once)."""


def current_source() -> Source:
    """The data set and checkpoint chosen in this session (the CLI defaults before any choice)."""
    default = cli_source()
    return Source.of(st.session_state.get(DATA_KEY) or default.data_dir,
                     st.session_state.get(CHECKPOINT_KEY) or default.checkpoint_dir)


device = serving_device
"""The torch device the dashboard scores on (CUDA when available)."""


@st.cache_resource(show_spinner="Reading the data set…", max_entries=8)
def _catalog(data_dir: str, stamp: str) -> Catalog:
    return load_catalog(data_dir)


def catalog(src: Source) -> Catalog:
    """The routines of the chosen data set (DatasetError if unreadable), read again when a
    file of the folder's top level (its labels, dataset.json) is rewritten: a data set fixed
    in place needs no restart."""
    return _catalog(src.data_dir, folder_stamp(src.data_dir))


_LOADER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pamfn-checkpoints")


@st.cache_resource(show_spinner=False, max_entries=8)
def _checkpoint_set(checkpoint_dir: str, version: str, task: str = "score") -> CheckpointSet:
    ckpts = CheckpointSet(checkpoint_dir, device=serving_device, task=task)
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


def checkpoint_for(src: Source, action: str | None) -> LoadedCheckpoint:
    """The LoadedCheckpoint that scores routines of ``action`` (waits only for that one);
    CheckpointError if none does."""
    ckpts = checkpoint_set(src)
    with st.spinner("Loading the PAMFN checkpoint…") if ckpts.loading(action) else contextlib.nullcontext():
        return ckpts.load(action)


def checkpoints(src: Source) -> tuple[dict, dict[str | None, str]]:
    """``({action: LoadedCheckpoint}, {action: why it cannot be used})`` of the chosen folder
    (key None for one checkpoint that serves every action), on :func:`device`: one broken
    member of a set leaves the others in service. CheckpointError when none can be used."""
    usable, failed = {}, {}
    for action in checkpoint_set(src).plan:
        try:
            usable[action] = checkpoint_for(src, action)
        except PamfnError as exc:
            failed[action] = exc
    if not usable:
        errors = list(failed.values())
        raise errors[0] if len(errors) == 1 else CheckpointError("; ".join(map(str, errors)))
    return usable, {action: str(exc) for action, exc in failed.items()}


def show_broken(broken: dict[str | None, str]) -> None:
    """Say which members of the checkpoint set are out of service, and why."""
    for action, why in broken.items():
        st.warning(f"No {md(action)} checkpoint: {md(why)}" if action else md(why), icon=":material/warning:")


@st.cache_data(show_spinner=False, max_entries=128)
def _highlights(data_dir: str, folder: str, routine_id: str, stamp: str) -> pd.DataFrame | None:
    from pamfn.highlight.predict import highlight_table

    detectors, action = _checkpoint_set(folder, stamp, "highlight"), str(catalog(Source(data_dir, folder)).routine(routine_id)["action"])
    return highlight_table(detectors.load(action), features(Source(data_dir, folder), routine_id)) if detectors.serves(action) else None


def highlights(src: Source, routine_id: str) -> pd.DataFrame | None:
    """Each segment's highlight probability for the routine (None without a highlight set,
    or when it has no detector for the routine's action); PamfnError if unusable."""
    folder = highlight_dir()
    return None if folder is None else _highlights(src.data_dir, str(folder), routine_id, files_version(folder))


def highlight_version() -> str:
    """The highlight set's files version ("" without one): part of the timeline's cache key."""
    folder = highlight_dir()
    return files_version(folder) if folder is not None else ""


@st.cache_resource(show_spinner=False, max_entries=256)
def _features(path: str, stamp: str) -> RoutineFeatures:
    return RoutineFeatures.load(path)


def features_path(src: Source, routine_id: str) -> str:
    """The features file of one routine of ``src``."""
    return str(catalog(src).routine(routine_id)["features_path"])


def features(src: Source, routine_id: str) -> RoutineFeatures:
    """The RoutineFeatures of one routine (FeatureError if unreadable), read again when its
    file is rewritten."""
    path = features_path(src, routine_id)
    return _features(path, file_stamp(path))


def routine_version(src: Source, routine_id: str) -> str:
    """The checkpoint's version and the routine's features file: the cache key of what the
    model says about the routine."""
    return f"{checkpoint_version(src)}|{file_stamp(features_path(src, routine_id))}"


@st.cache_resource(show_spinner=False, max_entries=256)
def _explanation(data_dir: str, checkpoint_dir: str, routine_id: str, stamp: str, support: bool) -> Explanation:
    src = Source(data_dir, checkpoint_dir)
    return routine_explanation(catalog(src), routine_id, functools.partial(checkpoint_for, src),
                               functools.partial(features, src), support=support, batch=batch_dir(src))


SPLITS_KEPT = 4
"""Whole splits of explanations kept for the research view (the last ones drawn)."""


@st.cache_resource(show_spinner=False)
def _splits() -> tuple[OrderedDict, threading.Lock]:
    return OrderedDict(), threading.Lock()


def split_key(src: Source, routine_ids: list[str]) -> tuple:
    """What a split's explanations depend on: the source, the routines, and their files."""
    return src.data_dir, src.checkpoint_dir, tuple(routine_ids), source_fingerprint(src)


def kept_split(key: tuple) -> tuple[list[Explanation], dict[str, PamfnError]] | None:
    """The explanations of a split drawn before (and the routines left out), or None. The
    research view draws hundreds of routines, more than the per-routine cache holds, so a
    split is kept whole: a click on one of its widgets does not explain it all again."""
    store, lock = _splits()
    with lock:
        if key in store:
            store.move_to_end(key)
        return store.get(key)


def keep_split(key: tuple, explained: tuple[list[Explanation], dict[str, PamfnError]]) -> None:
    """Keep a split's explanations for :func:`kept_split` (the last ``SPLITS_KEPT`` splits)."""
    store, lock = _splits()
    with lock:
        store[key] = explained
        store.move_to_end(key)
        while len(store) > SPLITS_KEPT:
            store.popitem(last=False)


def explanation(src: Source, routine_id: str, support: bool = False) -> Explanation:
    """What PAMFN did on one routine (deterministic; cached per source and routine).
    ``support``: also measure the stretch each step depends on (the routine view draws
    and words with it). CheckpointError when the checkpoint does not match the features."""
    return _explanation(src.data_dir, src.checkpoint_dir, routine_id, routine_version(src, routine_id), support)


@st.cache_resource(show_spinner=False, max_entries=8)
def _prediction_job(data_dir: str, checkpoint_dir: str, key: str) -> PredictionJob:
    src = Source(data_dir, checkpoint_dir)
    return PredictionJob(catalog(src), checkpoint_set(src), predictions_file(cache_dir(), catalog(src), checkpoint_set(src), key),
                         known=read_scores(batch_dir(src)))


@st.cache_data(show_spinner=False, ttl=FINGERPRINT_TTL_S, max_entries=16)
def _fingerprint(data_dir: str, checkpoint_dir: str, tables: str, checkpoints: str) -> str:
    src = Source(data_dir, checkpoint_dir)
    return fingerprint(catalog(src), checkpoint_set(src))


def source_fingerprint(src: Source) -> str:
    """The source's :func:`pamfn.serving.predictions.fingerprint` (a stat of every features
    file), taken again at most every ``FINGERPRINT_TTL_S`` while the data set's tables and
    the checkpoint files stay as they are: a page run asks for it once per routine it
    explains, which made the research view's first run quadratic in the routines."""
    return _fingerprint(src.data_dir, src.checkpoint_dir, folder_stamp(src.data_dir), checkpoint_version(src))


def batch_dir(src: Source) -> Path:
    """Where ``pamfn explain --data`` puts its batch results for this source (read instead of
    recomputing: predicted scores, explanations, occlusion scans)."""
    return batch_folder(cache_dir(), source_fingerprint(src))


def prediction_job(src: Source) -> PredictionJob:
    """The scoring of every routine of ``src``, shared by all sessions; ``.start()`` runs it
    in the background (it waits for the checkpoints itself, so nothing here blocks)."""
    return _prediction_job(src.data_dir, src.checkpoint_dir, source_fingerprint(src))


@st.cache_data(show_spinner=False, max_entries=256)
def _occlusion(data_dir: str, checkpoint_dir: str, routine_id: str, window: int, stamp: str) -> pd.DataFrame:
    src = Source(data_dir, checkpoint_dir)
    return routine_occlusion(catalog(src), routine_id, functools.partial(checkpoint_for, src), functools.partial(features, src),
                             window=window, batch=batch_dir(src), device=device())


def occlusion(src: Source, routine_id: str, window: int = WINDOW) -> pd.DataFrame:
    """Occlusion scan of one routine (pamfn.occlusion: impact in points, its noise,
    significance, stage-2 MSFD weight baselines), cached."""
    return _occlusion(src.data_dir, src.checkpoint_dir, routine_id, window, routine_version(src, routine_id))


@st.cache_data(show_spinner=False, max_entries=8)
def _routines_by_media(data_dir: str, stamp: str) -> dict[str, str]:
    return _catalog(data_dir, stamp).routines_by_media()


def routine_with_media(src: Source, sha256: str | None) -> str | None:
    """The data set's routine whose video is this content, or None (the media hashed once per data set)."""
    return _routines_by_media(src.data_dir, folder_stamp(src.data_dir)).get(sha256) if sha256 else None


def media(src: Source, routine_id: str) -> tuple[Path | None, str]:
    """The routine's media file and ``""``, or None and the reason it cannot be played."""
    return catalog(src).media_file(routine_id)


@st.cache_data(show_spinner=False, max_entries=64)
def _waveform(path: str, mtime_ns: int, points: int) -> pd.DataFrame | None:
    return media_waveform(path, points)


def waveform(path: Path, points: int = 1500) -> pd.DataFrame | None:
    """Min/max envelope of a media file's audio (None when it has no audio track), cached.
    MediaError when the file cannot be decoded."""
    return _waveform(str(path), path.stat().st_mtime_ns, points)


def show_error(exc: Exception, what: str) -> None:
    """Render a loading failure as a clear message; the app stays up."""
    if isinstance(exc, PamfnError):
        st.error(f"**{what}.** {md(exc)}", icon=":material/error:")
    else:
        st.exception(exc)
