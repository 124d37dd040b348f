"""The paper's result tables (IV-VIII) as row definitions, their published numbers, and
the machinery that trains and tests every row on a dataset and writes the table.

A row is a model variant (a set of PAMFNConfig overrides) trained with the preset's
recipe, or a modality-specific branch from phase 1 (the unimodal rows). Rows trained in
two stages share one phase-1 run per action. Cells are Spearman's rho on the test split
of the epoch selected on the validation split; the Avg column is the Fisher-z mean.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pamfn import MODALITIES
from pamfn.atomic import write_text_atomic
from pamfn.data.dataset import AQADataset
from pamfn.errors import ConfigError
from pamfn.metrics import fisher_z_mean, fmt_rho
from pamfn.model import PAMFNConfig
from pamfn.train.recipe import TrainRecipe
from pamfn.train.run import Run, RunConfig

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


@dataclass
class Cell:
    selected: float
    last: float
    mse: float


@dataclass
class TableResult:
    table: Table
    rows: list[Row]
    actions: list[str]
    cells: dict[str, dict[str, Cell]]
    """Row key -> action -> test results."""
    selection: str
    seconds: dict[str, float] = field(default_factory=dict)

    def frame(self, which: str = "selected") -> pd.DataFrame:
        """Rows x (group, label, modality ticks, actions..., Avg.) of rho values."""
        records = []
        for row in self.rows:
            rec: dict[str, Any] = {"group": row.group, "row": row.label}
            if self.table.show_modalities:
                rec.update({name: ("x" if m in row.modalities else "") for m, name in zip(MODALITIES, ("RGB", "Flow", "Audio"))})
            values = [getattr(self.cells[row.key][a], which) for a in self.actions]
            rec.update(dict(zip(self.actions, values)))
            rec["Avg."] = fisher_z_mean(values)
            records.append(rec)
        return pd.DataFrame(records)


def markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in frame.to_dict("records"):
        lines.append("| " + " | ".join(fmt_rho(v) if isinstance(v, float) else str(v) for v in rec.values()) + " |")
    return "\n".join(lines)


def paper_frame(table: Table, rows: list[Row]) -> pd.DataFrame:
    records = []
    for row in rows:
        rec: dict[str, Any] = {"group": row.group, "row": row.label}
        rec.update(dict(zip(PAPER_COLUMNS, row.paper)))
        records.append(rec)
    return pd.DataFrame(records)


RunFactory = Callable[[str, dict[str, Any], str, str | None], RunConfig]


def reproduce(
    name: str,
    data: AQADataset,
    out: str | os.PathLike[str],
    make_run: RunFactory,
    *,
    rows: list[str] | None = None,
    actions: list[str] | None = None,
    device: str = "auto",
    amp: bool = False,
    progress: bool = True,
) -> TableResult:
    """Train and test every row of table ``name`` on ``data``; write Markdown and CSV to ``out``.

    ``make_run(action, variant, phase, branches)`` gives the RunConfig of one training
    run. Run folders are ``out/runs/<row run name>/<action>`` (the layout of ``pamfn train
    --action all --out out/runs/<row run name>``), with the phase-1 branches shared by the
    two-stage rows in ``out/runs/phase1/<action>``. Finished runs are reused, unfinished
    ones resume.
    """
    table = get_table(name)
    chosen = select_rows(table, rows)
    actions = actions or list(data.actions)
    out = Path(out)
    cells: dict[str, dict[str, Cell]] = {r.key: {} for r in chosen}
    seconds: dict[str, float] = {}
    selection = ""
    runs = out / "runs"
    for action in actions:
        needs_branches = any(r.branch or r.variant.get("training", "two_stage") == "two_stage" for r in chosen)
        branch_summary: dict[str, Any] = {}
        if needs_branches:
            config = make_run(action, {}, "1", None)
            branch_summary = Run(data, config, runs / "phase1" / action, device=device, amp=amp, progress=progress).run()
            selection = config.selection
            seconds[f"phase1/{action}"] = branch_summary["seconds"]
        for row in chosen:
            if row.branch:
                st = branch_summary["stages"][f"phase1-{row.branch}"]
            else:
                two_stage = row.variant.get("training", "two_stage") == "two_stage"
                branches = str(runs / "phase1" / action / "branches") if two_stage else None
                config = make_run(action, row.variant, "2" if two_stage else "both", branches)
                summary = Run(data, config, runs / row.run_name / action, device=device, amp=amp, progress=progress).run()
                selection = config.selection
                seconds[f"{row.run_name}/{action}"] = summary["seconds"]
                st = summary["final"]
            cells[row.key][action] = Cell(st["test_selected"]["rho"], st["test_last"]["rho"], st["test_selected"]["mse"])
    result = TableResult(table, chosen, actions, cells, selection, seconds)
    write_table(result, out)
    return result


def write_table(result: TableResult, out: Path) -> None:
    """table_<N>.md (ours, selected and last epoch, then the paper's), table_<N>.csv, table_<N>_paper.csv."""
    name = result.table.name
    selected, last = result.frame("selected"), result.frame("last")
    paper = paper_frame(result.table, result.rows)
    write_text_atomic(out / f"table_{name}.csv", selected.to_csv(index=False))
    write_text_atomic(out / f"table_{name}_last_epoch.csv", last.to_csv(index=False))
    write_text_atomic(out / f"table_{name}_paper.csv", paper.to_csv(index=False))
    text = [
        f"# Table {name}: {result.table.title}",
        "",
        f"Spearman's rho on the test split per action; Avg. is the Fisher-z mean. Epochs {result.selection}.",
        "",
        markdown(selected),
        "",
        "## The same runs at their last epoch",
        "",
        markdown(last),
        "",
        "## Published in the paper (RG and Fis-V, for side-by-side reading; not this dataset)",
        "",
        markdown(paper),
        "",
    ]
    write_text_atomic(out / f"table_{name}.md", "\n".join(text))
    write_text_atomic(out / f"table_{name}.json", json.dumps({"selection": result.selection, "seconds": result.seconds}, indent=2))


def make_run_factory(data_dir: str, base: PAMFNConfig, recipe: TrainRecipe, seed: int) -> RunFactory:
    """RunConfigs of one table: the base model config with each row's variant."""

    def make(action: str, variant: dict[str, Any], phase: str, branches: str | None) -> RunConfig:
        return RunConfig(data_dir, action, base.with_overrides(**variant), recipe, phase, branches, seed)

    return make


def write_figure5(explanations: list, out: str | os.PathLike[str], draws: int = 200, seed: int = 0) -> dict[str, Path]:
    """The paper's Fig. 5 for the given explanations, written to ``out``: ``fig5.csv`` (the
    expected, sampled and argmax frequency of each count per action and stage, column
    ``method``), ``fig5_entropy.csv`` (policy entropy per action and stage) and
    ``fig5.html`` (the expected frequencies with the Monte-Carlo check drawn over them)."""
    from pamfn.decisions import FIG5_CAPTION, METHODS
    from pamfn.report import figure_html
    from pamfn.viz import research

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = {m: research.decision_frequencies(explanations, m, draws=draws, seed=seed) for m in METHODS}
    if tables["expected"].empty:
        raise ConfigError("no PolicyNet probabilities in these explanations: the checkpoint has no PolicyNet")
    entropy = research.policy_entropy(explanations)
    fig = research.decision_frequency_figure(tables["expected"], entropy, tables["sampled"])
    fig.add_annotation(text=FIG5_CAPTION, showarrow=False, xref="paper", yref="paper", x=0, y=-0.45, xanchor="left",
                       align="left", font={"size": 11})
    fig.update_layout(height=620, margin={"b": 200})
    paths = {"csv": out / "fig5.csv", "entropy": out / "fig5_entropy.csv", "html": out / "fig5.html"}
    write_text_atomic(paths["csv"], pd.concat(tables.values(), ignore_index=True).to_csv(index=False))
    write_text_atomic(paths["entropy"], entropy.to_csv(index=False))
    write_text_atomic(paths["html"], figure_html(fig, "Fig. 5: PolicyNet decisions per stage"))
    return paths
