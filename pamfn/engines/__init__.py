"""Where batch work runs: in this process (``local``, the default, no Ray needed) or on
a Ray cluster (``ray``, this machine's or one at ``--address``).

Commands hand an engine a module-level function and a list of items; the engine calls
the function once per item and yields ``(index, result)`` as each finishes, in any order.
A :class:`pamfn.errors.PamfnError` raised for one item (a corrupt video, a bad file)
comes back as a :class:`Failure` instead of stopping the batch; any other exception is
a bug and propagates. On Ray each call is a task, retried when its worker dies::

    engine = make_engine("ray", address=None)
    for i, result in engine.map(extract_one, jobs, resources=Resources(num_cpus=1)):
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pamfn.errors import ConfigError, PamfnError

ENGINES = ("local", "ray")
FAILURES_FILE = "failures.csv"
"""Written into an output folder when some items of a batch failed."""
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Resources:
    """What one call needs on the machine that runs it (Ray's ``num_cpus``/``num_gpus``)."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0


ONE_CPU = Resources()
"""The default: one CPU, no GPU."""


@dataclass(frozen=True)
class Failure:
    """Why one item failed (the error's message)."""

    reason: str


def call_item(fn: Callable[[T], R], item: T) -> R | Failure:
    """``fn(item)``, with a PamfnError turned into a Failure."""
    try:
        return fn(item)
    except PamfnError as exc:
        return Failure(str(exc))


class Engine(Protocol):
    name: str

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, resources: Resources = ONE_CPU,
            ) -> Iterator[tuple[int, R | Failure]]:
        """Call ``fn`` on every item; yield ``(index, result or Failure)`` as each finishes."""
        ...

    def map_staged(self, prepare: Callable[[T], Any], items: Sequence[T], worker: Callable[[], Callable[[Any], R]], *,
                   workers: int, prepare_resources: Resources, worker_resources: Resources,
                   ) -> Iterator[tuple[int, R | Failure]]:
        """Two stages: ``prepare(item)`` per item (e.g. decoding on CPU), then the result
        goes to one of ``workers`` long-lived callables built once each by ``worker()``
        (e.g. a model that loads its weights once, on a GPU); yield ``(index, result or
        Failure)``. A prepared value that is a Failure skips the second stage."""
        ...

    def close(self) -> None: ...


def make_engine(name: str = "local", *, address: str | None = None, num_cpus: int | None = None) -> Engine:
    """The engine called ``name``: ``local``, or ``ray`` (connects to the cluster at
    ``address``, else starts a local Ray with ``num_cpus`` CPUs, default all)."""
    if name == "local":
        from pamfn.engines.local import LocalEngine

        return LocalEngine()
    if name == "ray":
        try:
            from pamfn.engines.ray import RayEngine
        except ModuleNotFoundError as exc:
            if exc.name != "ray":
                raise
            raise ConfigError("--engine ray needs Ray: pip install 'ray[default]' (see docs/scale-out.md)") from None

        return RayEngine(address=address, num_cpus=num_cpus)
    raise ConfigError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


def add_engine_arguments(parser: Any) -> None:
    """``--engine`` and ``--address``, the same on every command that can scale out."""
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local: this process (default); ray: Ray tasks (see docs/scale-out.md)")
    parser.add_argument("--address", help="with --engine ray: the cluster's address (ray start --head prints it); "
                                          "default: start a local Ray on this machine")


def write_failures(out_dir: str | Path, failures: list[tuple[str, str]], what: str = "file") -> Path | None:
    """``out_dir/failures.csv`` (columns ``what``, reason) when there are failures; else
    remove an old one (a rerun that fixed everything leaves none). Its cells hold names
    from other people's files, so none is read as a formula (:func:`spreadsheet_text`)."""
    import pandas as pd

    from pamfn.atomic import write_text_atomic

    path = Path(out_dir) / FAILURES_FILE
    if not failures:
        path.unlink(missing_ok=True)
        return None
    rows = [(spreadsheet_text(name), spreadsheet_text(reason)) for name, reason in sorted(failures)]
    write_text_atomic(path, pd.DataFrame(rows, columns=[what, "reason"]).to_csv(index=False))
    return path


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(cell: str) -> str:
    """``cell`` as a spreadsheet shows it as text: one starting like a formula (``=``, ``+``,
    ``-``, ``@``, tab, carriage return) gets a leading apostrophe, so opening a CSV never
    runs a formula hidden in a routine id or a file name (OWASP's CSV injection advice)."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell
