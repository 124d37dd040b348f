"""Atomic file writes: a reader never sees a half-written file, an interrupted write
leaves nothing behind, and a write never replaces what is not a plain file."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pamfn.errors import OutputError


def _umask() -> int:
    """The process's umask (read once here: reading it means setting it)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _umask()
_NEW_FILE_MODE = 0o666 & ~_UMASK
"""The mode ``open`` gives a new file under the umask."""
_NEW_DIR_MODE = 0o777 & ~_UMASK
"""The mode ``mkdir`` gives a new folder under the umask."""


def give_default_modes(folder: str | os.PathLike[str]) -> None:
    """Give ``folder`` and the files in it the modes ``mkdir`` and ``open`` would have:
    folders built with ``tempfile.mkdtemp`` (0700) or written by libraries that make
    private files (safetensors: 0600) are then shared as any other output."""
    folder = Path(folder)
    os.chmod(folder, _NEW_DIR_MODE)
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            os.chmod(path, _NEW_FILE_MODE)


def writable_target(target: str | os.PathLike[str]) -> Path:
    """Where a write of ``target`` lands: a symlink's own target; OutputError when that is
    an existing folder, device or pipe, which a rename would replace, or when a file stands
    where its folder should be."""
    path = Path(os.path.realpath(target))
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file (a device, pipe or socket)"
        raise OutputError(f"{target}: cannot write the output there: it is {kind}")
    writable_folder(path.parent)
    return path


def writable_folder(out: str | os.PathLike[str], what: str = "the output") -> Path:
    """Where a command's output folder ``out`` lands (a symlink's target). OutputError,
    before any work, when it or the nearest existing folder above it is a file, a device
    or a pipe: nothing could be written there."""
    path = Path(os.path.realpath(out))
    above = next(p for p in (path, *path.parents) if p.exists())
    if not above.is_dir():
        where = "it is" if above == path else f"{above} is"
        raise OutputError(f"{out}: cannot write {what} there: {where} not a folder (a file, device or pipe)")
    return path


def owned_folder(out: str | os.PathLike[str], kind: str, names: Sequence[str], marker: str,
                 is_ours: Callable[[Path], bool]) -> Path:
    """Where an output ``kind`` (say "a batch") written as folder ``out`` lands (a symlink's
    target). OutputError, before any work, unless it is absent, an empty folder, or an
    earlier one of its kind: only ``names`` (and their hidden temporaries), and its
    ``marker`` file, when there, ``is_ours``. The write replaces or mixes with what is
    there, so it must never meet a file, a device or a folder of other files."""
    path = writable_folder(out, kind)
    if not path.is_dir():
        return path
    others = sorted(p.name for p in path.iterdir()
                    if p.name not in names and not p.name.startswith(tuple(f".{n}." for n in names)))
    if others:
        shown = ", ".join(others[:3]) + (" …" if len(others) > 3 else "")
        raise OutputError(f"{out}: cannot write {kind} there: the folder holds files that are not {kind}'s ({shown}); "
                          "choose a new or empty folder")
    if (path / marker).is_file() and not is_ours(path / marker):
        raise OutputError(f"{out}: cannot write {kind} there: its {marker} is not {kind}'s, and the write would "
                          "replace it; choose a new or empty folder")
    return path


def refuse_overwriting_inputs(output: str | os.PathLike[str], *inputs: str | os.PathLike[str]) -> None:
    """OutputError when ``output`` is one of the command's ``inputs`` (it would be lost)."""
    if not Path(output).exists():
        return
    for source in inputs:
        if Path(source).exists() and os.path.samefile(output, source):
            raise OutputError(f"{output}: the output would overwrite the input {source}; choose another output path")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    The temporary file keeps the target's suffix (some writers, like ``np.savez``,
    look at it). The result has the replaced file's mode, or a new file's under the
    umask. On any exception the temporary file is removed and the target is left
    untouched.
    """
    target = writable_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else _NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def replace_folder(src: Path, dst: Path) -> None:
    """Rename the folder ``src`` onto ``dst``. An old ``dst`` is exchanged with ``src`` in
    one step where the system can (Linux ``renameat2``), so another process never finds
    ``dst`` missing, and removed after; elsewhere it is moved aside first (a hidden
    ``.<name>.<random>.old``)."""
    if dst.is_dir() and not dst.is_symlink() and _exchange(src, dst):
        shutil.rmtree(src, ignore_errors=True)
        return
    old = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".old", dir=dst.parent))
        os.replace(dst, old / dst.name)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_cwd, exchange = -100, 2  # AT_FDCWD, RENAME_EXCHANGE
    return renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), exchange) == 0


def temporary_of(name: str) -> re.Pattern[str]:
    """Names of the hidden temporaries atomic writes of ``name`` make beside it: files
    ``.<name>.<random>.part<suffix>`` (:func:`atomic_path`), folders ``.<name>.<random>.part``
    (:func:`pamfn.checkpoint.save_checkpoint`) and ``.<name>.<random>.old``
    (:func:`replace_folder`)."""
    return re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]+\.(part(\.\w+)?|old)")


def sweep_temporaries(folder: str | os.PathLike[str], names: Sequence[str]) -> list[Path]:
    """Remove the temporaries of atomic writes of ``names`` in ``folder`` (not below it) whose
    process was killed (SIGKILL, a power cut: nothing ran their cleanup); returns what it
    removed. Only under a lock the caller holds (:mod:`pamfn.locks`): no other process
    writes these names there."""
    folder = Path(folder)
    patterns = [temporary_of(n) for n in names]
    stale = ([p for p in folder.iterdir() if p.name.startswith(".") and any(t.fullmatch(p.name) for t in patterns)]
             if folder.is_dir() else [])
    for path in stale:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return stale


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))
