"""Uploading a video: the size limit, streaming it to a private temporary folder (refusing
what is not a video), sweeping folders of sessions long gone, and extracting its features
with a progress bar fed by the extraction's ``on_frame`` callback."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import streamlit as st

from app import state
from pamfn.errors import MediaError
from pamfn.insights import clock
from pamfn.routine import RoutineFeatures

VIDEO_TYPES = ("mp4", "mov", "mkv", "webm", "avi", "m4v")
LIMIT_ENV = "PAMFN_MAX_UPLOAD_MB"
"""Upload size limit in MB; defaults to Streamlit's server.maxUploadSize (set in
.streamlit/config.toml). The server refuses anything above its own limit."""
UPLOAD_PREFIX = "pamfn-upload-"
STALE_UPLOAD_S = 6 * 3600
CHUNK = 1 << 20


def size_text(mb: int) -> str:
    """``200 MB``, or whole gigabytes as Streamlit's uploader writes them (``1 GB``)."""
    return f"{mb // 1024} GB" if mb >= 1024 and mb % 1024 == 0 else f"{mb} MB"


def upload_limit_mb() -> tuple[int, str]:
    """The per-file upload limit in whole MB, ``$PAMFN_MAX_UPLOAD_MB`` within the server's
    ``server.maxUploadSize``, and what is wrong with the variable ("" when nothing is)."""
    server = int(st.get_option("server.maxUploadSize"))
    value = os.environ.get(LIMIT_ENV, "").strip()
    if not value:
        return server, ""
    if not value.isdigit() or int(value) < 1:
        return server, f"{LIMIT_ENV}={value!r} is not a whole number of MB from 1; the server's limit ({server} MB) applies."
    if int(value) > server:
        return server, (f"{LIMIT_ENV}={value} MB is above the server's limit (server.maxUploadSize, {server} MB), "
                        "which applies; raise that in .streamlit/config.toml.")
    return int(value), ""


def sweep_uploads(max_age_s: float = STALE_UPLOAD_S) -> None:
    """Remove upload folders of sessions that ended long ago."""
    cutoff = time.time() - max_age_s
    for path in Path(tempfile.gettempdir()).glob(f"{UPLOAD_PREFIX}*"):
        try:
            if path.is_dir() and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def stream_to_disk(uploaded, folder: Path) -> Path:
    """Copy the upload into ``folder`` in 1 MB chunks; refuse unsupported or empty files."""
    name = Path(uploaded.name).name
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in VIDEO_TYPES:
        raise MediaError(f"{name}: unsupported file type '.{suffix}'; upload a video ({', '.join(VIDEO_TYPES)})")
    if uploaded.size == 0:
        raise MediaError(f"{name}: file is empty (0 bytes)")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).strip("._")[:80] or "upload"  # "..mp4" has no stem
    target = folder / f"{stem}.{suffix}"
    uploaded.seek(0)
    with open(target, "wb") as out:
        shutil.copyfileobj(uploaded, out, CHUNK)
    return target


def extract_with_progress(path: Path, extractor: str, routine_id: str) -> RoutineFeatures:
    """Extract features, feeding a progress bar with the share of frames decoded."""
    from pamfn.features.media import probe
    from pamfn.features.pipeline import extract_file
    from pamfn.features.segments import TARGET_FPS

    info = probe(path)
    total = max(int(info.duration_s * TARGET_FPS), 1)
    bar = st.progress(0.0, text="Decoding the audio track…")
    last = [-1]

    def on_frame(frames: int) -> None:
        percent = int(min(frames / total, 1.0) * 100)
        if percent != last[0]:
            last[0] = percent
            bar.progress(percent / 100, text=f"Extracting {extractor} features: {percent}% of {clock(info.duration_s)}")

    timings: dict[str, float] = {}
    try:
        feats = extract_file(path, extractor=extractor, device=state.device(), progress=False, routine_id=routine_id,
                             timings=timings, on_frame=on_frame)
    except BaseException:
        bar.empty()  # the refusal says why; a bar stuck short of 100% beside it says nothing
        raise
    bar.progress(1.0, text=f"Extracted {feats.T} segments of {clock(info.duration_s)} in {timings.get('total', 0):.1f} s")
    return feats
