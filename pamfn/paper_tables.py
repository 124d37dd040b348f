"""The paper's result tables (IV-VIII, and Fig. 6 as a table over K) as data: each row's
model variant (PAMFNConfig overrides) or phase-1 branch, and its published numbers; plus
their text form. No training code and no torch, and pandas and scipy load only when a
frame is made: the command line and the research view read the tables, and
:mod:`pamfn.reproduce` trains and tests their rows.

A new baseline row is one :class:`Row` in its table here (a variant of the model
config's choices).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pamfn import MODALITIES
from pamfn.errors import ConfigError
from pamfn.presets import RG_ACTIONS

if TYPE_CHECKING:
    import pandas as pd

FIG6 = "fig6"
"""The name of the paper's Fig. 6 as a table (PAMFN per number of FusionNets K)."""
PAPER_COLUMNS = ("Ball", "Clubs", "Hoop", "Ribbon", "RG Avg.", "TES", "PCS", "Fis-V Avg.")


@dataclass(frozen=True)
class Row:
    """One row of a table: a trained variant, or a phase-1 branch (``branch`` set)."""

    key: str
    group: str
    label: str
    variant: dict[str, Any] = field(default_factory=dict)
    branch: str | None = None
    paper: tuple[float, ...] = ()
    """The published values in PAPER_COLUMNS order."""

    @property
    def modalities(self) -> tuple[str, ...]:
        if self.branch:
            return (self.branch,)
        return tuple(self.variant.get("modalities", MODALITIES))

    @property
    def run_name(self) -> str:
        """Folder name shared by identical variants across tables."""
        if not self.variant:
            return "pamfn"
        return "-".join(f"{k}={''.join(v) if isinstance(v, tuple) else v}" for k, v in sorted(self.variant.items()))


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    rows: tuple[Row, ...]
    show_modalities: bool = False


_FULL = (0.757, 0.825, 0.836, 0.846, 0.819, 0.754, 0.872, 0.822)
_ONE = {"training": "one_stage"}
_LATE = {"model": "late_fusion"}


def _late(fusion: str, training: str) -> dict[str, Any]:
    return {**_LATE, "fusion": fusion, "training": training}


TABLES: dict[str, Table] = {
    "IV": Table(
        "IV",
        "Unimodality methods, multimodal methods using Weighted Fusion, and ours with each modality subset",
        (
            Row("V", "Unimodality Methods", "RGB", branch="V", paper=(0.636, 0.720, 0.769, 0.708, 0.711, 0.665, 0.823, 0.755)),
            Row("F", "Unimodality Methods", "Flow", branch="F", paper=(0.536, 0.674, 0.684, 0.716, 0.657, 0.606, 0.772, 0.698)),
            Row("A", "Unimodality Methods", "Audio", branch="A", paper=(0.286, 0.297, 0.423, 0.254, 0.317, 0.517, 0.628, 0.575)),
            Row("wf-VF", "Weighted Fusion", "RGB+Flow", {**_late("weighted", "one_stage"), "modalities": ("V", "F")},
                paper=(0.679, 0.736, 0.754, 0.735, 0.727, 0.643, 0.838, 0.757)),
            Row("wf-VA", "Weighted Fusion", "RGB+Audio", {**_late("weighted", "one_stage"), "modalities": ("V", "A")},
                paper=(0.601, 0.623, 0.746, 0.749, 0.686, 0.735, 0.825, 0.784)),
            Row("wf-FA", "Weighted Fusion", "Flow+Audio", {**_late("weighted", "one_stage"), "modalities": ("F", "A")},
                paper=(0.514, 0.493, 0.561, 0.629, 0.552, 0.637, 0.782, 0.717)),
            Row("wf-VFA", "Weighted Fusion", "RGB+Flow+Audio", _late("weighted", "one_stage"),
                paper=(0.613, 0.647, 0.763, 0.763, 0.703, 0.733, 0.848, 0.798)),
            Row("ours-VF", "Ours", "RGB+Flow", {"modalities": ("V", "F")}, paper=(0.750, 0.788, 0.791, 0.824, 0.790, 0.742, 0.867, 0.814)),
            Row("ours-VA", "Ours", "RGB+Audio", {"modalities": ("V", "A")}, paper=(0.749, 0.757, 0.856, 0.769, 0.787, 0.736, 0.863, 0.809)),
            Row("ours-FA", "Ours", "Flow+Audio", {"modalities": ("F", "A")}, paper=(0.693, 0.665, 0.795, 0.795, 0.743, 0.689, 0.813, 0.758)),
            Row("ours-VFA", "Ours", "RGB+Flow+Audio", {}, paper=_FULL),
        ),
        show_modalities=True,
    ),
    "V": Table(
        "V",
        "Evaluation of fusion strategies (one-stage and two-stage training)",
        (
            Row("one-avg", "One-stage Training", "AVG", _late("avg", "one_stage"), paper=(0.596, 0.644, 0.746, 0.778, 0.698, 0.715, 0.840, 0.785)),
            Row("one-cat", "One-stage Training", "CAT", _late("cat", "one_stage"), paper=(0.512, 0.585, 0.674, 0.694, 0.621, 0.691, 0.806, 0.754)),
            Row("one-weighted", "One-stage Training", "Weighted", _late("weighted", "one_stage"),
                paper=(0.613, 0.647, 0.763, 0.763, 0.703, 0.733, 0.848, 0.798)),
            Row("one-attention", "One-stage Training", "Attention", _late("attention", "one_stage"),
                paper=(0.566, 0.639, 0.718, 0.830, 0.703, 0.649, 0.814, 0.743)),
            Row("one-ours", "One-stage Training", "Ours", _ONE, paper=(0.741, 0.728, 0.819, 0.855, 0.792, 0.735, 0.853, 0.802)),
            Row("two-avg", "Two-stage Training", "AVG", _late("avg", "two_stage"), paper=(0.637, 0.747, 0.781, 0.771, 0.739, 0.720, 0.857, 0.799)),
            Row("two-cat", "Two-stage Training", "CAT", _late("cat", "two_stage"), paper=(0.665, 0.762, 0.805, 0.817, 0.768, 0.696, 0.850, 0.785)),
            Row("two-weighted", "Two-stage Training", "Weighted", _late("weighted", "two_stage"),
                paper=(0.638, 0.752, 0.781, 0.776, 0.742, 0.721, 0.860, 0.801)),
            Row("two-attention", "Two-stage Training", "Attention", _late("attention", "two_stage"),
                paper=(0.641, 0.744, 0.778, 0.773, 0.738, 0.706, 0.847, 0.787)),
            Row("two-ours", "Two-stage Training", "Ours", {}, paper=_FULL),
        ),
    ),
    "VI": Table(
        "VI",
        "Evaluation of the CMFD and MSFD modules (-> replaces a module with Weighted Fusion)",
        (
            Row("no-cmfd", "", "w/o CMFD", {"cmfd": "none"}, paper=(0.672, 0.789, 0.769, 0.775, 0.755, 0.733, 0.858, 0.804)),
            Row("no-msfd", "", "w/o MSFD", {"msfd": "none"}, paper=(0.700, 0.814, 0.833, 0.839, 0.802, 0.734, 0.871, 0.813)),
            Row("wf-cmfd", "", "Weighted Fusion -> CMFD", {"cmfd": "weighted"}, paper=(0.670, 0.751, 0.816, 0.796, 0.764, 0.724, 0.862, 0.804)),
            Row("wf-msfd", "", "Weighted Fusion -> MSFD", {"msfd": "weighted"}, paper=(0.773, 0.782, 0.810, 0.836, 0.802, 0.726, 0.862, 0.804)),
            Row("wf-both", "", "Weighted Fusion -> MSFD and CMFD", {"msfd": "weighted", "cmfd": "weighted"},
                paper=(0.629, 0.804, 0.819, 0.816, 0.777, 0.712, 0.858, 0.796)),
            Row("full", "", "Our Full Model", {}, paper=_FULL),
        ),
    ),
    "VII": Table(
        "VII",
        "Evaluation of different FusionNets",
        (
            Row("unranked", "", "Unranked FusionNets", {"fusionnets": "unranked"}, paper=(0.689, 0.822, 0.789, 0.832, 0.789, 0.730, 0.868, 0.810)),
            Row("free", "", "Free FusionNets", {"fusionnets": "free"}, paper=(0.755, 0.793, 0.835, 0.843, 0.809, 0.733, 0.870, 0.812)),
            Row("ranked", "", "Ranked FusionNets (Ours)", {}, paper=_FULL),
        ),
    ),
    "VIII": Table(
        "VIII",
        "Evaluation of fusing modality information at different stages",
        (
            Row("stage1", "", "First Stage", {"fusion_stages": 1}, paper=(0.733, 0.785, 0.795, 0.824, 0.786, 0.753, 0.863, 0.815)),
            Row("stage2", "", "First Two Stages", {"fusion_stages": 2}, paper=(0.730, 0.786, 0.836, 0.864, 0.810, 0.755, 0.873, 0.823)),
            Row("stage3", "", "All Stages (Ours)", {}, paper=_FULL),
        ),
    ),
}


def get_table(name: str) -> Table:
    try:
        return TABLES[name.upper()]
    except KeyError:
        raise ConfigError(f"unknown table {name!r}; choose one of {sorted(TABLES)}") from None


def select_rows(table: Table, keys: list[str] | None) -> list[Row]:
    if not keys:
        return list(table.rows)
    known = {r.key: r for r in table.rows}
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ConfigError(f"table {table.name} has no rows {unknown}; its rows are {list(known)}")
    return [r for r in table.rows if r.key in keys]


def fig6_table(Ks: list[int]) -> Table:
    """The paper's Fig. 6 as a table: one PAMFN row per number of FusionNets K."""
    if not Ks or any(k < 1 for k in Ks) or len(set(Ks)) != len(Ks):
        raise ConfigError(f"--K needs distinct positive numbers of FusionNets, got {Ks}")
    rows = tuple(Row(f"K={k}", "", f"K = {k}", {"K": k}) for k in sorted(Ks))
    return Table(FIG6, "Evaluation of the number of FusionNets K (Fig. 6)", rows)


def resolve_table(name: str, Ks: list[int] | None = None) -> Table:
    """Table IV..VIII, or ``fig6`` built from ``Ks``."""
    if name.lower() == FIG6:
        return fig6_table(Ks or [1, 2, 4, 6, 8, 10, 12])
    return get_table(name)


def paper_columns(actions: list[str]) -> dict[str, str]:
    """Our column -> the paper's column of the same name (Ball .. PCS), and Avg. -> RG or Fis-V Avg."""
    from pamfn.intervals import AVG

    out = {a: c for a in actions for c in PAPER_COLUMNS if a.lower() == c.lower()}
    if actions and {a.lower() for a in actions} <= set(RG_ACTIONS):
        out[AVG] = "RG Avg."
    elif actions and {a.upper() for a in actions} <= {"TES", "PCS"}:
        out[AVG] = "Fis-V Avg."
    return out


def markdown(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table, floats with three decimals like the paper's."""
    from pamfn.metrics import fmt_rho

    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in frame.to_dict("records"):
        lines.append("| " + " | ".join(fmt_rho(v) if isinstance(v, float) else str(v) for v in rec.values()) + " |")
    return "\n".join(lines)


def intervals_table(iv: pd.DataFrame) -> pd.DataFrame:
    """Records of :meth:`TableResult.intervals` (or its CSV) as rows x columns of text:
    ``mean [lo, hi]``, marked ``≈`` where the paper's value lies inside the interval and
    ``~`` where the difference to the reference row is inside the noise."""
    import pandas as pd

    records = []
    for _, part in iv.groupby("key", sort=False):
        first = part.iloc[0]
        rec: dict[str, Any] = {"group": "" if pd.isna(first["group"]) else first["group"], "row": first["row"]}
        rec.update({item["column"]: interval_text(item) for item in part.to_dict("records")})
        records.append(rec)
    return pd.DataFrame(records)


def interval_text(item: dict[str, Any]) -> str:
    """``0.533 [0.412, 0.618]`` plus the marks of :func:`interval_frame`."""
    from pamfn.metrics import fmt_rho

    text = f"{fmt_rho(item['mean'])} [{fmt_rho(item['lo'])}, {fmt_rho(item['hi'])}]"
    if item.get("inside_noise") in (True,):  # numpy and CSV booleans too; NaN is not a mark
        text += " ~"
    if item.get("paper_inside_interval") in (True,):
        text += " ≈"
    return text


def paper_frame(rows: list[Row]) -> pd.DataFrame:
    """The published values of ``rows``: group, row, then the paper's columns."""
    import pandas as pd

    records = []
    for row in rows:
        rec: dict[str, Any] = {"group": row.group, "row": row.label}
        rec.update(dict(zip(PAPER_COLUMNS, row.paper)))
        records.append(rec)
    return pd.DataFrame(records)
