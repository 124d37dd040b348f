"""Every routine of a data set scored once, in a background thread, so a first page does
not wait for hundreds of forward passes; the finished table is kept on disk, keyed by
the checkpoint set's version and the data set's files, so a restarted server has it
at once."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pandas as pd

from pamfn.atomic import write_text_atomic
from pamfn.catalog import Catalog
from pamfn.errors import PamfnError
from pamfn.routine import RoutineFeatures
from pamfn.serving.cache import file_stamp
from pamfn.serving.checkpoints import CheckpointSet

CHUNK = 64
"""Routines read from disk (and scored) at a time."""


def fingerprint(catalog: Catalog, checkpoints: CheckpointSet) -> str:
    """Changes whenever a checkpoint file, the data set's tables or a features file changes."""
    digest = hashlib.sha1(f"{catalog.root}|{checkpoints.version}".encode())
    files = [catalog.root / "labels.csv", catalog.root / "dataset.json"]
    files += [Path(p) for p in catalog.routines["features_path"]]
    for path in files:
        digest.update(file_stamp(path).encode())
    return digest.hexdigest()[:20]


def predictions_file(cache: str | os.PathLike[str], catalog: Catalog, checkpoints: CheckpointSet, key: str) -> Path:
    """``cache/predictions-<pair>-<key>.json``: ``<pair>`` names the data set and checkpoint
    folders, ``key`` their files' :func:`fingerprint`. A finished job removes the older
    tables of its pair (:meth:`PredictionJob.start`), so the cache does not grow with every
    rewritten features file or retrained checkpoint."""
    pair = hashlib.sha1(f"{catalog.root}|{checkpoints.directory}".encode()).hexdigest()[:12]
    return Path(cache) / f"predictions-{pair}-{key}.json"


def read_cached(path: Path) -> dict[str, float] | None:
    """The scores table a finished job kept in ``path``, or None when there is none or it
    is unreadable (empty, cut short, not a table of scores): the job then scores again and
    replaces it, so a bad cache file never stops a page."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): float(v) for k, v in table.items()}
    except (OSError, ValueError, TypeError, AttributeError):  # ValueError: cut-short JSON, bad UTF-8
        return None


class PredictionJob:
    """The predicted score of every routine of ``catalog`` with ``checkpoints``: ``start()``
    runs it in the background (once); ``scores`` and ``errors`` (routine id -> message)
    fill in as it goes; ``table()`` is the routines with predicted score and error. A
    finished run without errors is written to ``cache_file`` and read back from it."""

    def __init__(self, catalog: Catalog, checkpoints: CheckpointSet, cache_file: Path,
                 known: dict[str, float] | None = None) -> None:
        self.checkpoints = checkpoints
        self.cache_file = Path(cache_file)
        self.scores: dict[str, float] = {rid: s for rid, s in (known or {}).items() if rid in catalog.routines.index}
        """Scores already known (a batch table, pamfn.batch_explain) are not computed again."""
        self.errors: dict[str, str] = {}
        self._routines = catalog.routines
        self.label_scale = catalog.label_scale
        self.total = len(self._routines)
        self._done = threading.Event()
        self._started = threading.Lock()
        self._thread: threading.Thread | None = None
        cached = read_cached(self.cache_file)
        if cached is not None:
            self.scores = cached
        if cached is not None or len(self.scores) == self.total:
            self._done.set()

    def start(self) -> PredictionJob:
        """Start scoring in a background thread (once; nothing to do when cached on disk)."""
        with self._started:
            if self._thread is None and not self.done:
                self._thread = threading.Thread(target=self._run, name="pamfn-predictions", daemon=True)
                self._thread.start()
        return self

    def _run(self) -> None:
        from pamfn.checkpoint import check_compatible, check_scale
        from pamfn.serving.scorer import predict_scores

        try:
            table = self._routines[~self._routines.index.isin(list(self.scores))]
            for action, rows in table.groupby("action", sort=False):
                try:
                    ckpt = check_scale(self.checkpoints.load(str(action)), self.label_scale)
                except PamfnError as exc:
                    self.errors.update({rid: str(exc) for rid in rows.index})
                    continue
                for first in range(0, len(rows), CHUNK):
                    usable: dict[str, RoutineFeatures] = {}  # keyed by the data set's names, not the files' ids
                    for rid in rows.index[first : first + CHUNK]:
                        try:
                            feats = RoutineFeatures.load(table.loc[rid, "features_path"])
                            check_compatible(ckpt.config, feats)
                            usable[rid] = feats
                        except PamfnError as exc:
                            self.errors[rid] = str(exc)
                    self.scores.update(predict_scores(ckpt.model, list(usable.values()), ckpt.config.label_scale,
                                                      self.checkpoints.device, keys=list(usable)))
            if not self.errors:
                write_text_atomic(self.cache_file, json.dumps(self.scores))
                self._remove_older_tables()
        except Exception as exc:  # a thread dies silently: every routine it left unscored says why instead
            reason = f"scoring stopped: {type(exc).__name__}: {exc}"
            self.errors.update({rid: reason for rid in self._routines.index if rid not in self.scores and rid not in self.errors})
        finally:
            self._done.set()

    def _remove_older_tables(self) -> None:
        """Remove the tables of the same data set and checkpoint folders written for older
        versions of their files (named as :func:`predictions_file` names them)."""
        pair = self.cache_file.name.rsplit("-", 1)[0]
        for older in self.cache_file.parent.glob(f"{pair}-*.json"):
            if older != self.cache_file:
                older.unlink(missing_ok=True)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every routine is scored (or ``timeout`` seconds); True when done."""
        return self._done.wait(timeout)

    def table(self) -> pd.DataFrame:
        """Routines (index routine_id) with action, split, judged ``score``, ``predicted``
        (NaN until scored) and ``error`` (predicted - judged)."""
        out = self._routines[["action", "split", "score"]].copy()
        scores = dict(self.scores)
        out["predicted"] = [scores.get(rid, float("nan")) for rid in out.index]
        out["error"] = out["predicted"] - out["score"]
        return out
