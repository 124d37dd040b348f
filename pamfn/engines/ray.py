"""The Ray engine: each call a Ray task (or a call on a Ray actor), on this machine's
local Ray or on a cluster. Imported only for ``--engine ray``.

A task whose worker process dies (killed, out of memory, node lost) is run again, up to
``max_retries`` times; the functions we run are pure (inputs in, result out, the driver
writes the files), so a retried task gives the same result. Ray's dashboard is not
started and usage statistics are off: nothing here reaches the internet.

Workers compute with as many threads as a local run on this machine would
(``OMP_NUM_THREADS``, else the CPU count): BLAS and torch results change in the last
bits with the thread count, and Ray's default of one thread per task would make the
features differ from the local engine's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from pamfn.engines import ONE_CPU, Failure, Resources, call_item

MAX_RETRIES = 3
"""Attempts after the first for a task whose worker died."""


def _options(resources: Resources) -> dict[str, Any]:
    return {"num_cpus": resources.num_cpus, "num_gpus": resources.num_gpus}


@ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)
def _task(fn: Callable[[Any], Any], item: Any) -> Any:
    return call_item(fn, item)


@ray.remote(max_restarts=MAX_RETRIES, max_task_retries=MAX_RETRIES)
class _Worker:
    """One long-lived callable (built once: models load their weights once)."""

    def __init__(self, factory: Callable[[], Callable[[Any], Any]]) -> None:
        self.run = factory()

    def __call__(self, prepared: Any) -> Any:
        return prepared if isinstance(prepared, Failure) else call_item(self.run, prepared)


def _result(ref: ray.ObjectRef) -> Any:
    """The task's value; a Failure when its worker kept dying; a bug's exception is raised."""
    try:
        return ray.get(ref)
    except RayTaskError:
        raise
    except RayError as exc:
        return Failure(f"lost after {MAX_RETRIES} retries: {type(exc).__name__}: {str(exc).splitlines()[0]}")


@contextlib.contextmanager
def _own_sigterm() -> Iterator[None]:
    """Keep this process's SIGTERM handling: ``ray.init`` replaces it with an exit that skips
    the command's cleanups and its message (:class:`pamfn.cli.Stopped`)."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _next_done(pending: list[Any]) -> tuple[list[Any], list[Any]]:
    """``ray.wait`` for one finished task, a second at a time: a signal (Ctrl-C, SIGTERM)
    is handled between waits, where one long wait held it until a task ended."""
    done: list[Any] = []
    while not done:
        done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
    return done, pending


class RayEngine:
    """Ray tasks on the cluster at ``address``, or on a local Ray started here with
    ``num_cpus`` CPUs (default: all). Reuses a Ray already initialised in this process."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self._owned = not ray.is_initialized()
        if self._owned:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            package_root = str(Path(__file__).resolve().parents[2])
            path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
            threads = os.environ.get("OMP_NUM_THREADS") or str(os.cpu_count() or 1)
            with _own_sigterm():
                ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                         logging_level="warning", log_to_driver=False,
                         runtime_env={"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": threads}})

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, resources: Resources = ONE_CPU,
            ) -> Iterator[tuple[int, Any]]:
        task = _task.options(**_options(resources))
        fn_ref = ray.put(fn)
        index = {task.remote(fn_ref, item): i for i, item in enumerate(items)}
        pending = list(index)
        while pending:
            done, pending = _next_done(pending)
            yield index[done[0]], _result(done[0])

    def map_staged(self, prepare: Callable[[Any], Any], items: Sequence[Any], worker: Callable[[], Callable[[Any], Any]], *,
                   workers: int = 1, prepare_resources: Resources = ONE_CPU,
                   worker_resources: Resources = ONE_CPU) -> Iterator[tuple[int, Any]]:
        """Prepare tasks feed the workers directly (their results never pass through this
        process); at most two items per worker are in flight, so decoded media does not
        pile up in the object store faster than the workers use it."""
        task = _task.options(**_options(prepare_resources))
        pool = [_Worker.options(**_options(worker_resources)).remote(worker) for _ in range(max(1, workers))]
        prepare_ref = ray.put(prepare)
        todo = list(enumerate(items))[::-1]
        index: dict[ray.ObjectRef, int] = {}
        pending: list[ray.ObjectRef] = []
        while todo or pending:
            while todo and len(pending) < 2 * len(pool):
                i, item = todo.pop()
                ref = pool[i % len(pool)].__call__.remote(task.remote(prepare_ref, item))
                index[ref] = i
                pending.append(ref)
            done, pending = _next_done(pending)
            yield index.pop(done[0]), _result(done[0])
        for actor in pool:
            ray.kill(actor)

    def close(self) -> None:
        if self._owned and ray.is_initialized():
            ray.shutdown()
