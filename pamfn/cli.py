"""The ``pamfn`` command line. Each subcommand lives in its own module under
``pamfn/commands/`` and exposes ``register(subparsers)``; the module sets
``func`` on its parser, a callable taking the parsed arguments and returning an exit code."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from pamfn import __version__
from pamfn.errors import PamfnError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pamfn", description="PAMFN Studio: multimodal action quality assessment.")
    parser.add_argument("--version", action="version", version=f"pamfn {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    import pamfn.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"pamfn.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PamfnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        sys.stdout = None
        return 0
