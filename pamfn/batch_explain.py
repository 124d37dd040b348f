"""Batch explanations: every routine of a data set (or of one split) scored and explained
on an engine -- predicted score, each branch's score, the Explanation (with each step's
measured support) and the occlusion scan -- written as one Parquet table plus one JSON
file per routine. The dashboard reads them instead of recomputing (see
:func:`read_scores`, :func:`read_routine`).

Layout of a batch folder::

    scores.parquet           routine_id, action, split, judged, predicted, branch_V/F/A, file
    explanations/<id>.json   {"explanation": Explanation.to_dict(), "windows": occlusion scan}
    manifest.json            data set, checkpoint folder and its version, the fingerprint
    failures.csv             routine, reason (only when some failed)

The dashboard's batch folder for a data set and checkpoint set is
``<cache>/batch-<fingerprint>`` (:func:`batch_folder`), the fingerprint changing with any
checkpoint, label or features file, so stale results are never shown.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pamfn import MODALITIES
from pamfn.atomic import (
    atomic_path,
    give_default_modes,
    owned_folder,
    replace_folder,
    sweep_temporaries,
    write_text_atomic,
)
from pamfn.catalog import Catalog
from pamfn.engines import FAILURES_FILE, Failure, write_failures
from pamfn.errors import OutputError, PamfnError
from pamfn.locks import exclusive_lock

if TYPE_CHECKING:
    from pamfn.engines import Engine
    from pamfn.explanation import Explanation
    from pamfn.serving import CheckpointSet

SCORES = "scores.parquet"
MANIFEST = "manifest.json"
CHUNK = 8
"""Routines per task."""


def batch_folder(cache_dir: str | os.PathLike[str], key: str) -> Path:
    """Where the dashboard looks for the batch results of a data set and checkpoint set
    whose :func:`pamfn.serving.predictions.fingerprint` is ``key``."""
    from pamfn.occlusion import METHOD

    return Path(cache_dir) / f"batch-{METHOD}-{key}"


def remove_older_batches(kept: Path, catalog: Catalog, checkpoints: CheckpointSet) -> list[Path]:
    """Remove the batches beside ``kept`` (the dashboard's cache) whose manifest names the
    same data set and checkpoint folders: they explain older versions of their files, which
    the dashboard no longer reads, at about 24 KB a routine. A batch that another process
    is writing (or on a file system that cannot lock) is left alone. Returns what went."""
    removed = []
    for folder in sorted(kept.parent.glob("batch-*")):
        if folder == kept or not folder.is_dir():
            continue
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # being written, or not a batch: not ours to judge
        if not isinstance(manifest, dict) or (manifest.get("data"), manifest.get("checkpoint")) != (
                str(catalog.root), str(checkpoints.directory)):
            continue
        with exclusive_lock(folder, wait=False) as mine:
            if mine:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


BATCH_NAMES = (SCORES, MANIFEST, "explanations", FAILURES_FILE)
"""What a batch folder holds."""


def batch_output(out: str | os.PathLike[str], catalog: Catalog, checkpoints: CheckpointSet) -> Path:
    """Where the batch of ``catalog`` lands, after the checks :func:`explain_batch` makes
    before any work: ``out`` must be a new or empty folder, or an earlier batch (only a
    batch's files, its manifest a batch's), outside the data set and checkpoint folders.
    OutputError otherwise: the batch would replace or mix with files it does not own."""
    path = Path(os.path.realpath(out))
    for kind, folder in (("data set", catalog.root), ("checkpoint", checkpoints.directory)):
        folder = Path(os.path.realpath(folder))
        if path == folder or folder in path.parents:
            raise OutputError(f"{out}: cannot write the batch there: it is inside the {kind} folder {folder}; "
                              "choose a folder of its own")
    return owned_folder(out, "a batch", BATCH_NAMES, MANIFEST, _is_batch_manifest)


def _is_batch_manifest(path: Path) -> bool:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and {"fingerprint", "checkpoint_version"} <= set(manifest)


@dataclass(frozen=True)
class ExplainJob:
    """A few routines ``(routine_id, action, features file, judged score)`` of one data set."""

    checkpoint: str
    routines: tuple[tuple[str, str, str, float], ...]
    device: str
    threads: int


@functools.lru_cache(maxsize=2)
def _checkpoints(path: str, device: str) -> CheckpointSet:
    from pamfn.serving import CheckpointSet

    return CheckpointSet(path, device)


def explain_job(job: ExplainJob) -> list[tuple[str, dict[str, Any] | str]]:
    """Per routine: ``(routine_id, {"explanation": ..., "windows": ...})``, or its error
    message (a bad features file fails that routine only)."""
    import torch

    from pamfn.explain import explain_routine
    from pamfn.occlusion import occlusion_scan, scan_to_dict
    from pamfn.routine import RoutineFeatures

    torch.set_num_threads(job.threads)
    out: list[tuple[str, dict[str, Any] | str]] = []
    for rid, action, path, judged in job.routines:
        try:
            ckpt = _checkpoints(job.checkpoint, job.device).load(action)
            feats = RoutineFeatures.load(path)
            expl = explain_routine(ckpt, feats, action=action, judged_score=judged, support=True)
            scan = occlusion_scan(ckpt.model, feats, ckpt.config.label_scale, device=job.device)
            out.append((rid, {"explanation": expl.to_dict(), "windows": scan_to_dict(scan)}))
        except PamfnError as exc:
            out.append((rid, str(exc)))
    return out


def explain_batch(catalog: Catalog, checkpoints: CheckpointSet, out: str | os.PathLike[str], engine: Engine, *,
                  split: str | None = None, device: str = "cpu", on_done: Any = lambda n: None) -> pd.DataFrame:
    """Explain every routine of ``catalog`` (of ``split`` if given) into the folder ``out``
    (refused before any work unless :func:`batch_output` accepts it); returns the scores
    table. The explanations are staged in a hidden folder and replace an earlier batch's
    only once all are done, so an interrupted run leaves the earlier batch whole. One
    process at a time writes a folder (OutputError for a second)."""
    from pamfn.serving.predictions import fingerprint

    out = batch_output(out, catalog, checkpoints)
    out.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out, wait=False) as mine:
        if mine is False:
            raise OutputError(f"{out}: another process is writing a batch there; wait for it to finish or choose "
                              "another --out")
        if mine:
            sweep_temporaries(out, BATCH_NAMES)
        staging = Path(tempfile.mkdtemp(prefix=".explanations.", suffix=".part", dir=out))
        try:
            records, failures = _explain_into(staging, catalog, checkpoints, engine, split, device, on_done)
            give_default_modes(staging)  # made private by mkdtemp
            (out / MANIFEST).unlink(missing_ok=True)  # while the batch changes, nothing claims it is whole
            replace_folder(staging, out / "explanations")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        table = pd.DataFrame(records, columns=["routine_id", "action", "split", "judged", "predicted", "branch_V",
                                               "branch_F", "branch_A", "file"])
        table = table.sort_values("routine_id", kind="stable").reset_index(drop=True)
        with atomic_path(out / SCORES) as tmp:
            table.to_parquet(tmp, index=False)
        write_failures(out, failures, "routine")
        manifest = {"data": str(catalog.root), "checkpoint": str(checkpoints.directory),
                    "checkpoint_version": checkpoints.version, "fingerprint": fingerprint(catalog, checkpoints),
                    "split": split, "routines": len(table)}
        write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2))
    return table


def _explain_into(folder: Path, catalog: Catalog, checkpoints: CheckpointSet, engine: Engine, split: str | None,
                  device: str, on_done: Any) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Explain the routines on ``engine``, one JSON file each in ``folder``; the scores
    table's records and the failures ``(routine, reason)``."""
    import torch

    rows = catalog.routines if split is None else catalog.routines[catalog.routines["split"] == split]
    routines = [(str(rid), str(r["action"]), str(r["features_path"]), float(r["score"])) for rid, r in rows.iterrows()]
    jobs = [ExplainJob(str(checkpoints.directory), tuple(routines[i : i + CHUNK]), device, torch.get_num_threads())
            for i in range(0, len(routines), CHUNK)]
    records, failures = [], []
    for i, result in engine.map(explain_job, jobs):
        items = [(rid, result.reason) for rid, *_ in jobs[i].routines] if isinstance(result, Failure) else result
        for rid, value in items:
            if isinstance(value, str):
                failures.append((rid, value))
                continue
            (folder / f"{rid}.json").write_text(json.dumps(value), encoding="utf-8")
            records.append(_record(rid, catalog, value["explanation"]))
        on_done(len(jobs[i].routines))
    return records, failures


def _record(rid: str, catalog: Catalog, expl: dict[str, Any]) -> dict[str, Any]:
    row = catalog.routines.loc[rid]
    branches = expl["branch_scores"]
    return {"routine_id": rid, "action": str(row["action"]), "split": str(row["split"]), "judged": float(row["score"]),
            "predicted": float(expl["score"]), **{f"branch_{m}": branches.get(m, float("nan")) for m in MODALITIES},
            "file": f"explanations/{rid}.json"}


UNREADABLE = (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError)
"""What reading a damaged batch file raises (pyarrow's errors are ValueErrors or OSErrors,
a cut JSON file's a ValueError, one of another shape a KeyError or TypeError)."""


def read_scores(folder: str | os.PathLike[str]) -> dict[str, float]:
    """Predicted score per routine id of a batch folder (empty when there is none, or when
    its table is unreadable: the routines are then scored live)."""
    path = Path(folder) / SCORES
    if not path.is_file():
        return {}
    try:
        table = pd.read_parquet(path, columns=["routine_id", "predicted"])
        return dict(zip(table["routine_id"].astype(str), table["predicted"].astype(float)))
    except UNREADABLE:
        return {}


def read_routine(folder: str | os.PathLike[str], routine_id: str) -> tuple[Explanation, pd.DataFrame] | None:
    """The saved Explanation and occlusion scan of one routine, or None when not in the
    batch or its file is unreadable (it is then explained live)."""
    from pamfn.explanation import Explanation
    from pamfn.occlusion import scan_from_dict

    path = Path(folder) / "explanations" / f"{routine_id}.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Explanation.from_dict(data["explanation"]), scan_from_dict(data["windows"])
    except UNREADABLE:
        return None
