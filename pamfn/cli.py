"""The ``pamfn`` command line. Each subcommand lives in its own module under
``pamfn/commands/`` and exposes ``register(subparsers)``; the module sets
``func`` on its parser, a callable taking the parsed arguments and returning an exit code."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import signal
import sys
import threading
from collections.abc import Iterator

from pamfn import __version__
from pamfn.errors import PamfnError

DEBUG_ENV = "PAMFN_DEBUG"
"""Set to show the traceback of a system error instead of its one line."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pamfn", description="PAMFN Studio: multimodal action quality assessment.")
    parser.add_argument("--version", action="version", version=f"pamfn {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from pamfn import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"pamfn.commands.{info.name}")
        module.register(subparsers)
    return parser


class Stopped(KeyboardInterrupt):
    """A SIGTERM or SIGHUP (``kill``, ``timeout``, a scheduler, a closed terminal), raised
    where the program is, so that its cleanups run as they do for Ctrl-C."""


_received: list[int] = []
"""The signals :func:`_raise_stopped` turned into :class:`Stopped` (a library may catch that
and raise a plain KeyboardInterrupt: Ray's waits do)."""


def _raise_stopped(signum: int, frame: object) -> None:
    _received.append(signum)
    raise Stopped(signal.Signals(signum).name)


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Stopped` while the block runs (main thread only; a
    signal the process was told to ignore stays ignored: ``nohup`` ignores SIGHUP)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_stopped) for s in (signal.SIGTERM, signal.SIGHUP)
                if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _received.clear()
    try:
        with _stopped_by_signals():
            return int(args.func(args) or 0)
    except PamfnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        signum = _received[-1] if _received else None
        how = f" by {signal.Signals(signum).name}" if signum else ""
        print(f"interrupted{how}{getattr(args, 'resume_hint', '')}", file=sys.stderr)
        return 128 + signum if signum else 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        sys.stdout = None
        return 0
    except (OSError, RuntimeError, MemoryError) as exc:
        # The system's refusals (a path that cannot be written, a device that is absent, memory that is short)
        # are the user's to fix, not a bug: one line, with the traceback on request.
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"error: {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        return 1
