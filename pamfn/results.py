"""The result tables ``pamfn reproduce`` writes (``table_<N>.csv`` and their intervals),
found and read back for the research view; reading only, no figures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from pamfn.errors import DatasetError
from pamfn.paper_tables import FIG6, TABLES

RESULT_TABLES: tuple[str, ...] = (*TABLES, FIG6)
"""The tables ``pamfn reproduce`` writes as ``table_<N>.csv`` with group and row columns, in the paper's order."""


def find_result_tables(roots: Iterable[str | Path]) -> dict[str, list[Path]]:
    """Tables written by ``pamfn reproduce`` (``table_<N>.csv``, N in IV..VIII or fig6) under the
    given folders, by table number: ``{"IV": [paths...], ...}``, in the order of ``roots`` (the
    first root's tables first, whatever the folders are called), sorted within each root."""
    found: dict[str, list[Path]] = {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.csv")):
            name = path.stem.removeprefix("table_")
            if name != path.stem and name in RESULT_TABLES:
                found.setdefault(name, []).append(path)
    return dict(sorted(found.items(), key=lambda kv: RESULT_TABLES.index(kv[0])))

TABLE_COLUMNS: tuple[str, ...] = ("group", "row")
"""The columns of every ``table_<N>.csv`` ``pamfn reproduce`` writes (then one per action)."""
INTERVAL_COLUMNS: tuple[str, ...] = ("key", "group", "row", "column", "mean", "lo", "hi", "seeds")
"""The columns of its ``table_<N>_intervals.csv``."""


def read_result_table(path: str | Path, columns: Sequence[str] = TABLE_COLUMNS) -> pd.DataFrame:
    """A CSV table ``pamfn reproduce`` wrote; DatasetError naming the file when it is not
    readable CSV or lacks ``columns``."""
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable CSV table ({exc})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DatasetError(f"{path}: not a table written by `pamfn reproduce` (no column {', '.join(map(repr, missing))})")
    return table
