"""The local engine: every call in this process, one after another (no Ray)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pamfn.engines import ONE_CPU, Failure, Resources, call_item


class LocalEngine:
    name = "local"

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, resources: Resources = ONE_CPU,
            ) -> Iterator[tuple[int, Any]]:
        for i, item in enumerate(items):
            yield i, call_item(fn, item)

    def map_staged(self, prepare: Callable[[Any], Any], items: Sequence[Any], worker: Callable[[], Callable[[Any], Any]], *,
                   workers: int = 1, prepare_resources: Resources = ONE_CPU,
                   worker_resources: Resources = ONE_CPU) -> Iterator[tuple[int, Any]]:
        run = worker()
        for i, item in enumerate(items):
            prepared = call_item(prepare, item)
            yield i, prepared if isinstance(prepared, Failure) else call_item(run, prepared)

    def close(self) -> None:
        pass
