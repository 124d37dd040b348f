"""Which data set and checkpoint the dashboard serves: the command line's choice, the
environment's, or the bundled ones."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "sample_data"
DEFAULT_CHECKPOINT = ROOT / "assets" / "checkpoints"
DEFAULT_HIGHLIGHT = ROOT / "assets" / "highlight"
"""The bundled highlight detector set (used when present; ``PAMFN_HIGHLIGHT`` overrides)."""


@dataclass(frozen=True)
class Source:
    """A data set folder and a checkpoint folder, as absolute path strings (cache keys)."""

    data_dir: str
    checkpoint_dir: str

    @classmethod
    def of(cls, data_dir: str | os.PathLike[str], checkpoint_dir: str | os.PathLike[str]) -> Source:
        return cls(_folder(data_dir), _folder(checkpoint_dir))


def _folder(typed: str | os.PathLike[str]) -> str:
    """A folder as typed or pasted (surrounding spaces and quotes dropped, ``~`` expanded),
    as an absolute path string."""
    text = str(typed).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    return str(Path(text).expanduser().resolve())


def cli_source(argv: list[str] | None = None) -> Source:
    """The data set and checkpoint named on the command line after ``--``
    (``streamlit run app/streamlit_app.py -- --data DIR --checkpoint DIR``), else the
    ``PAMFN_DATA`` / ``PAMFN_CHECKPOINT`` environment variables, else the bundled ones."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data", default=os.environ.get("PAMFN_DATA", str(DEFAULT_DATA)))
    parser.add_argument("--checkpoint", default=os.environ.get("PAMFN_CHECKPOINT", str(DEFAULT_CHECKPOINT)))
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return Source.of(args.data, args.checkpoint)


def highlight_dir() -> Path | None:
    """The highlight detector set shown in the routine view: ``PAMFN_HIGHLIGHT``, else the
    bundled one if it exists, else None (no highlight track)."""
    chosen = os.environ.get("PAMFN_HIGHLIGHT")
    path = Path(chosen) if chosen else DEFAULT_HIGHLIGHT
    return path.resolve() if path.is_dir() else None
