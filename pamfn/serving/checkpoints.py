"""Which checkpoint serves an action: a checkpoint folder, or a set of them.

A checkpoint set is a folder with ``index.json`` ``{"checkpoints": {action: subdir}}``
(one checkpoint per action, or one pooled checkpoint named for several actions); a
folder without it is one checkpoint that serves every action. This module is the only
reader and writer of ``index.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pamfn.errors import CheckpointError
from pamfn.serving.cache import file_stamp, folder_stamp

if TYPE_CHECKING:
    from pamfn.checkpoint import LoadedCheckpoint

INDEX = "index.json"
ANY_ACTION = None
"""Plan key of a single checkpoint that serves every action."""


def read_index(directory: str | os.PathLike[str]) -> dict[str | None, Path]:
    """``{action: checkpoint folder}`` of a set, in the index's order, or ``{None: directory}``
    for a folder without ``index.json``. CheckpointError for an unreadable or empty index."""
    directory = Path(directory)
    index = directory / INDEX
    if not index.is_file():
        return {ANY_ACTION: directory}
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))["checkpoints"]
        if not isinstance(entries, dict) or not entries:
            raise TypeError("'checkpoints' must be a non-empty object")
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{index}: unreadable checkpoint index ({exc})") from exc
    return {str(action): directory / str(sub) for action, sub in entries.items()}


def trained_actions(meta: Mapping[str, Any]) -> list[str]:
    """The actions a checkpoint's meta records it was trained on (``"ball+clubs"``: both);
    empty when it records none."""
    named = meta.get("action")
    return str(named).split("+") if named else []


def served_actions(path: str | os.PathLike[str], meta: Mapping[str, Any], asked: list[str] | None) -> list[str]:
    """The actions a single checkpoint serves: those ``asked`` (each among the actions it
    records it was trained on, if it records any), else those it records. CheckpointError
    for an action it was not trained on, or when neither names one."""
    trained = trained_actions(meta)
    if not asked:
        if not trained:
            raise CheckpointError(f"{path}: the checkpoint records no action it was trained on; name it with --action")
        return trained
    foreign = [a for a in asked if trained and a not in trained]
    if foreign:
        raise CheckpointError(f"{path} was trained on {'+'.join(trained)}, not {', '.join(map(repr, foreign))}: "
                              f"use a checkpoint (or a set) trained on {', '.join(foreign)}")
    return list(asked)


def write_index(directory: str | os.PathLike[str], runs: dict[str, str]) -> Path:
    """Write ``index.json`` of a set (atomically): action -> checkpoint folder, relative."""
    from pamfn.atomic import write_text_atomic

    path = Path(directory) / INDEX
    write_text_atomic(path, json.dumps({"checkpoints": runs}, indent=2))
    return path


def files_version(folder: str | os.PathLike[str]) -> str:
    """Changes whenever a file a checkpoint (set) is made of is added, removed or rewritten:
    the set's index and the files directly in each member's folder (a single checkpoint:
    in ``folder``). Nothing deeper is read, so a folder that is no checkpoint, however large
    (a home folder typed by mistake), costs one listing, not a walk."""
    folder = Path(folder)
    try:
        members = sorted(set(read_index(folder).values()))
    except CheckpointError:
        members = []  # an unreadable index: its own stamp below changes when it is fixed
    digest = hashlib.sha1(f"{folder}|{file_stamp(folder / INDEX)}".encode())
    for member in members:
        digest.update(folder_stamp(member).encode())
    return digest.hexdigest()


class CheckpointSet:
    """The checkpoints of one folder, each loaded once (thread-safe) on ``device``.

    ``plan`` maps each action to its checkpoint folder (key None: one checkpoint for every
    action); ``version`` identifies the folder's files when the set was opened, so a
    rewritten checkpoint means a new set. An unreadable index is raised on use, a failed
    load is raised to every caller and retried on the next request.
    """

    def __init__(self, directory: str | os.PathLike[str], device: str | Callable[[], str] = "cpu",
                 task: str = "score") -> None:
        self.directory = Path(directory)
        self.task = task
        """What its checkpoints are for: ``score`` (the default) or ``highlight`` detectors."""
        self.version = files_version(self.directory)
        self._device = device
        try:
            self._plan: dict[str | None, Path] | CheckpointError = read_index(self.directory)
        except CheckpointError as exc:  # raised on use, so a page that does not need it stays up
            self._plan = exc
        self._futures: dict[Path, Future] = {}
        self._lock = threading.Lock()

    @property
    def device(self) -> str:
        """The torch device the checkpoints load on (a callable given is asked on first use,
        so choosing it may import torch in the loading thread)."""
        if callable(self._device):
            self._device = self._device()
        return self._device

    @property
    def plan(self) -> dict[str | None, Path]:
        """Action -> checkpoint folder; CheckpointError for an unreadable index."""
        if isinstance(self._plan, CheckpointError):
            raise self._plan
        return self._plan

    @property
    def actions(self) -> list[str]:
        """The actions a set names (empty for a single checkpoint)."""
        return [a for a in self.plan if a is not ANY_ACTION]

    def path_for(self, action: str | None) -> Path:
        """The checkpoint folder that serves ``action``; CheckpointError if none does."""
        path = self.plan.get(action) if action is not None else None
        path = path or self.plan.get(ANY_ACTION)
        if path is None:
            raise CheckpointError(f"{self.directory}: no checkpoint for action {action!r} (has {sorted(map(str, self.plan))})")
        return path

    def _load(self, path: Path) -> LoadedCheckpoint:
        from pamfn.checkpoint import load_checkpoint

        return load_checkpoint(path, device=self.device)

    def _future(self, path: Path, executor: ThreadPoolExecutor | None) -> Future:
        with self._lock:
            future = self._futures.get(path)
            if future is None or (future.done() and future.exception() is not None):
                if executor is not None:
                    future = executor.submit(self._load, path)
                else:
                    future = Future()
                    try:
                        future.set_result(self._load(path))
                    except Exception as exc:  # noqa: BLE001 (kept in the future, raised to every caller)
                        future.set_exception(exc)
                self._futures[path] = future
            return future

    def prefetch(self, executor: ThreadPoolExecutor) -> None:
        """Start loading every checkpoint on ``executor``, in the index's order (the first
        action is ready first); :meth:`load` then waits only for the one it needs. An
        unreadable index loads nothing (its error comes on use)."""
        plan = {} if isinstance(self._plan, CheckpointError) else self._plan
        for path in dict.fromkeys(plan.values()):
            self._future(path, executor)

    def serves(self, action: str | None) -> bool:
        """True when a checkpoint of the set serves ``action`` (False for an unreadable index)."""
        plan = {} if isinstance(self._plan, CheckpointError) else self._plan
        return ANY_ACTION in plan or (action is not None and action in plan)

    def loading(self, action: str | None) -> bool:
        """True while the checkpoint of ``action`` is still being loaded in the background."""
        future = self._futures.get(self.path_for(action))
        return future is not None and not future.done()

    def load(self, action: str | None) -> LoadedCheckpoint:
        """The loaded checkpoint that serves ``action`` (loaded now unless prefetched);
        CheckpointError when it is made for another task than the set's (a highlight
        detector in a set of score checkpoints) or a single
        checkpoint records it was trained on other actions."""
        loaded = self._future(self.path_for(action), None).result()
        if loaded.config.task != self.task:
            raise CheckpointError(f"{loaded.path}: a {loaded.config.task!r} checkpoint, not a {self.task} checkpoint "
                                  f"(train it with --task {self.task})")
        if action is not None and ANY_ACTION in self.plan:
            served_actions(self.directory, loaded.meta, [action])
        return loaded

    def resolve(self, action: str | None) -> tuple[LoadedCheckpoint, str | None]:
        """For one routine of the command line: the checkpoint and the action it is scored
        as. A single checkpoint takes ``action`` (one it records it was trained on, if it
        records any) or the one its meta records; a set needs an action it names."""
        if ANY_ACTION in self.plan:
            loaded = self.load(action)
            return loaded, action or loaded.meta.get("action")
        if action is None:
            raise CheckpointError(f"{self.directory} is a checkpoint set; choose --action from {sorted(self.actions)}")
        if action not in self.plan:
            raise CheckpointError(f"no checkpoint for action {action!r} in {self.directory}; "
                                  f"choose --action from {sorted(self.actions)}")
        return self.load(action), action

    def for_actions(self, actions: list[str] | None) -> dict[str, LoadedCheckpoint]:
        """Action -> checkpoint for evaluation: a set's actions (those of ``actions`` if
        given); a single checkpoint serves the actions :func:`served_actions` gives.
        CheckpointError when nothing is left."""
        if ANY_ACTION not in self.plan:
            chosen = {a: self.load(a) for a in self.actions if actions is None or a in actions}
        else:
            single = self.load(ANY_ACTION)
            chosen = {a: single for a in served_actions(self.directory, single.meta, actions)}
        if not chosen:
            raise CheckpointError(f"{self.directory}: holds no checkpoint for the actions {actions}")
        return chosen

    def all(self) -> dict[str | None, LoadedCheckpoint]:
        """Every checkpoint, keyed like :attr:`plan` (loads them all)."""
        return {action: self.load(action) for action in self.plan}
