"""A reproduce plan (:func:`pamfn.reproduce.plan_jobs`) run on an engine: every job of a
wave (rows x actions x seeds) as one task with its own CPUs/GPUs, each in its run folder
as a local run would make it, the next wave after the previous one.

A job that fails is reported (run folder, reason, in ``OUT/failures.csv``) and the jobs
that need it are skipped; running the same command again reuses every finished run folder
and runs only the failed and skipped ones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pamfn.engines import Engine, Failure, Resources, write_failures
from pamfn.errors import PamfnError
from pamfn.reproduce import Job, RunFactory, run_job


@dataclass(frozen=True)
class SweepOptions:
    """How each training task runs: torch threads (as the local run's, so results match
    it), device, mixed precision."""

    threads: int
    device: str = "auto"
    amp: bool = False


def train_job(job: Job, data_dir: str, make_run: RunFactory, options: SweepOptions) -> dict[str, Any]:
    """One job in a worker: load the data set, train (or resume, or reuse) its run folder."""
    import torch

    from pamfn.data import load_dataset

    torch.set_num_threads(options.threads)
    try:
        return run_job(job, load_dataset(data_dir), make_run, device=options.device, amp=options.amp, progress=False)
    except PamfnError:
        raise
    except Exception as exc:  # a diverged or crashed run is one failed cell, not the end of the sweep
        raise RunFailed(f"{type(exc).__name__}: {exc}") from exc


class RunFailed(PamfnError):
    """A training run raised."""


class SweepFailed(PamfnError):
    """Some runs failed: ``failures`` is [(run folder, reason)]."""

    def __init__(self, failures: list[tuple[str, str]], table: Path) -> None:
        lines = "".join(f"\n  {run}: {reason}" for run, reason in failures)
        super().__init__(f"{len(failures)} run(s) failed (listed in {table}); the same command again runs only "
                         f"these, reusing every finished run:{lines}")
        self.failures = failures


def run_waves(waves: list[list[Job]], engine: Engine, data_dir: str, make_run: RunFactory, options: SweepOptions,
              resources: Resources, out: Path, on_done: Any = lambda job: None) -> None:
    """Run every wave's jobs as tasks; raise SweepFailed (after writing ``out/failures.csv``)
    when a job failed, once everything that did not need it has run."""
    failures: list[tuple[str, str]] = []
    fn = functools.partial(train_job, data_dir=data_dir, make_run=make_run, options=options)
    for wave in waves:
        failed_phase1 = {str(Path(f) / "branches") for f, _ in failures}
        blocked = [job for job in wave if job.branches in failed_phase1]
        failures += [(str(job.out), f"skipped: its phase-1 run {Path(job.branches).parent} failed") for job in blocked]
        todo = [job for job in wave if job not in blocked]
        for i, result in engine.map(fn, todo, resources=resources):
            if isinstance(result, Failure):
                failures.append((str(todo[i].out), result.reason))
            on_done(todo[i])
    table = write_failures(out, failures, "run")
    if table:
        raise SweepFailed(failures, table)
