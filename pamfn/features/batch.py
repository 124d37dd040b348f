"""Features of many videos on an engine (local or Ray): one job per video, the
content-hash cache (a rerun skips finished videos, an interrupted run resumes), and a
failures table instead of one bad video stopping the batch.

Jobs only read: a job returns the features (or "cached") and this process writes every
file atomically, so a worker that dies mid-job leaves nothing in the output folder and
is simply run again.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pamfn.engines import Engine, Failure, Resources
from pamfn.errors import FeatureError
from pamfn.features.media import file_sha256
from pamfn.features.pipeline import MediaStream, extract_media, make_extractor, open_media
from pamfn.routine import RoutineFeatures

CACHED = "cached"


@dataclass(frozen=True)
class ExtractJob:
    """One video to extract into ``out`` (skipped when ``out`` is already its features)."""

    video: str
    out: str
    extractor: str
    versions: dict[str, str]
    force: bool = False


@dataclass
class ExtractReport:
    extracted: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(video file, reason)."""


def is_cached(out: str | os.PathLike[str], sha256: str, versions: dict[str, str]) -> bool:
    """True if ``out`` holds features of content ``sha256`` made by exactly ``versions``."""
    if not Path(out).is_file():
        return False
    try:
        feats = RoutineFeatures.load(out)
    except FeatureError:
        return False
    return feats.media_sha256 == sha256 and feats.extractors == versions


def _cached(job: ExtractJob) -> bool:
    return not job.force and is_cached(job.out, file_sha256(job.video), job.versions)


def extract_job(job: ExtractJob, device: str = "cpu", progress: bool = False) -> RoutineFeatures | str:
    """The features of one video, or ``CACHED``; MediaError for a bad video. ``progress``:
    a bar of its frames (a job run in this process, on a terminal)."""
    if _cached(job):
        return CACHED
    return extract_media(open_media(job.video, job.extractor, routine_id=Path(job.video).stem), job.extractor, device,
                         progress=progress)


def decode_job(job: ExtractJob) -> MediaStream | str:
    """The video decoded into memory for an extractor elsewhere, or ``CACHED``."""
    if _cached(job):
        return CACHED
    return open_media(job.video, job.extractor, routine_id=Path(job.video).stem).decoded()


class FeatureWorker:
    """One extractor, its weights loaded once, that extracts decoded videos."""

    def __init__(self, extractor: str, device: str) -> None:
        self.extractor = make_extractor(extractor, device)

    def __call__(self, media: MediaStream | str) -> RoutineFeatures | str:
        return media if media == CACHED else extract_media(media, self.extractor, progress=False)


def extract_videos(
    jobs: list[ExtractJob],
    engine: Engine,
    *,
    device: str = "cpu",
    gpu_workers: int = 1,
    gpus_per_worker: float = 1.0,
    on_done: Callable[[], None] = lambda: None,
    progress: bool = False,
) -> ExtractReport:
    """Run ``jobs`` on ``engine`` and write each video's features file as it finishes.

    On CPU each job is one call. On another device the videos are decoded by CPU jobs and
    extracted by ``gpu_workers`` long-lived workers (``gpus_per_worker`` GPUs each) that
    build the extractor once. ``on_done`` is called after each video (a progress bar);
    ``progress`` adds a bar of each video's frames where the jobs run in this process."""
    if device == "cpu":
        within = progress and engine.name == "local"
        results = engine.map(functools.partial(extract_job, device=device, progress=within), jobs,
                             resources=Resources(num_cpus=1))
    else:
        results = engine.map_staged(decode_job, jobs, functools.partial(FeatureWorker, jobs[0].extractor, device),
                                    workers=gpu_workers, prepare_resources=Resources(num_cpus=1),
                                    worker_resources=Resources(num_cpus=1, num_gpus=gpus_per_worker))
    report = ExtractReport()
    for i, result in results:
        job = jobs[i]
        if isinstance(result, Failure):
            report.failures.append((job.video, result.reason))
        elif isinstance(result, str):
            report.cached.append(job.video)
        else:
            result.save(job.out)
            report.extracted.append(job.video)
        on_done()
    return report
