"""The paper's result tables (IV-VIII, and Fig. 6 as a table over K) as row definitions,
their published numbers, and the machinery that trains and tests every row on a dataset
with one or more seeds and writes the table with 95% intervals.

A row is a model variant (a set of PAMFNConfig overrides) trained with the preset's
recipe, or a modality-specific branch from phase 1 (the unimodal rows). Rows trained in
two stages share one phase-1 run per action and seed. Cells are Spearman's rho on the test
split of the epoch selected on the validation split, averaged over seeds; the Avg column
is the Fisher-z mean. Intervals: :mod:`pamfn.intervals`.

Three steps, so that any engine can run the middle one: :func:`plan_jobs` (the runs, in
waves), :func:`run_job` (one run folder), and the collection of the finished folders
into a :class:`TableResult` (:func:`collect_cell`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pamfn import MODALITIES
from pamfn.atomic import write_text_atomic
from pamfn.data.dataset import AQADataset
from pamfn.errors import ConfigError
from pamfn.intervals import (
    AVG,
    BOOTSTRAP,
    DEFAULT_REPLICATES,
    SeedPredictions,
    bootstrap_table,
    inside,
    interval,
    point_estimates,
)
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


def fig6_table(Ks: list[int]) -> Table:
    """The paper's Fig. 6 as a table: one PAMFN row per number of FusionNets K."""
    if not Ks or any(k < 1 for k in Ks) or len(set(Ks)) != len(Ks):
        raise ConfigError(f"--K needs distinct positive numbers of FusionNets, got {Ks}")
    rows = tuple(Row(f"K={k}", "", f"K = {k}", {"K": k}) for k in sorted(Ks))
    return Table("fig6", "Evaluation of the number of FusionNets K (Fig. 6)", rows)


# ---------------------------------------------------------------------------------------
# Planning: the runs of a table, in waves (both engines, local and Ray, execute this plan)
# ---------------------------------------------------------------------------------------

PHASE1 = "phase1"


@dataclass(frozen=True)
class Job:
    """One training run: a row's variant (or the shared phase-1 branches) on one action, one seed."""

    name: str
    """Run name: ``phase1`` or a row's :attr:`Row.run_name`."""
    action: str
    seed: int
    variant: dict[str, Any]
    phase: str
    branches: str | None
    out: Path


def seed_runs(out: str | os.PathLike[str], seed: int) -> Path:
    """Run folders of one seed: ``out/runs`` for seed 0 (the single-seed layout), ``out/runs/seed<s>`` otherwise."""
    runs = Path(out) / "runs"
    return runs if seed == 0 else runs / f"seed{seed}"


def row_job_name(row: Row) -> str:
    """The run a row reads: the phase-1 run for a branch row, its own run otherwise."""
    return PHASE1 if row.branch else row.run_name


def plan_jobs(rows: list[Row], actions: list[str], seeds: list[int], out: str | os.PathLike[str]) -> list[list[Job]]:
    """The runs of ``rows`` x ``actions`` x ``seeds`` in waves: every job of a wave may run
    at once; a wave needs the previous one (two-stage rows need the phase-1 branches)."""
    first: list[Job] = []
    second: list[Job] = []
    for seed in seeds:
        runs = seed_runs(out, seed)
        for action in actions:
            if any(r.branch or r.variant.get("training", "two_stage") == "two_stage" for r in rows):
                first.append(Job(PHASE1, action, seed, {}, "1", None, runs / PHASE1 / action))
            done: set[str] = set()
            for row in rows:
                if row.branch or row.run_name in done:
                    continue
                done.add(row.run_name)
                two_stage = row.variant.get("training", "two_stage") == "two_stage"
                branches = str(runs / PHASE1 / action / "branches") if two_stage else None
                job = Job(row.run_name, action, seed, dict(row.variant), "2" if two_stage else "both", branches,
                          runs / row.run_name / action)
                (second if two_stage else first).append(job)
    return [wave for wave in (first, second) if wave]


RunFactory = Callable[[str, dict[str, Any], str, "str | None", int], RunConfig]
"""(action, variant, phase, branches, seed) -> the RunConfig of one job."""


def run_job(job: Job, data: AQADataset, make_run: RunFactory, *, device: str = "auto", amp: bool = False,
            progress: bool = True) -> dict[str, Any]:
    """Train (or resume, or reuse when finished) one job's run folder; its summary."""
    config = make_run(job.action, job.variant, job.phase, job.branches, job.seed)
    return Run(data, config, job.out, device=device, amp=amp, progress=progress).run()


# ---------------------------------------------------------------------------------------
# Collecting: run folders -> cells with seeds and intervals
# ---------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One row, action and seed: test rho of the selected and last epoch, MSE, predictions."""

    selected: float
    last: float
    mse: float
    predictions: dict[str, tuple[float, float]] = field(default_factory=dict)
    """routine_id -> (predicted, judged), for the selected epoch."""


def _stage_summary(summary: dict[str, Any], row: Row) -> dict[str, Any]:
    return summary["stages"][f"phase1-{row.branch}"] if row.branch else summary["final"]


def _checkpoint_predictions(data: AQADataset, checkpoint: Path, action: str) -> dict[str, tuple[float, float]]:
    """Predictions of a run folder's checkpoint on the action's test split (runs written
    before summaries kept their predictions)."""
    from pamfn.checkpoint import load_checkpoint
    from pamfn.data.tensors import SplitTensors
    from pamfn.evaluate import score_split

    model = load_checkpoint(checkpoint).model.eval()
    result = score_split(lambda x: model(x).score, SplitTensors(data, data.select(action, "test")))
    return {r: (float(p), float(j)) for r, p, j in zip(result.routine_ids, result.predicted, result.judged)}


def collect_cell(data: AQADataset, row: Row, job_dir: Path) -> Cell:
    """A row's cell from a finished run folder (``summary.json``)."""
    path = job_dir / "summary.json"
    if not path.is_file():
        raise ConfigError(f"{job_dir}: run not finished (no summary.json)")
    summary = json.loads(path.read_text(encoding="utf-8"))
    st = _stage_summary(summary, row)
    listed = st["test_selected"].get("predictions")
    if listed is not None:
        predictions = {p["routine_id"]: (p["predicted"], p["judged"]) for p in listed}
    else:
        checkpoint = job_dir / ("branches/" + row.branch if row.branch else "checkpoint")
        predictions = _checkpoint_predictions(data, checkpoint, summary["action"])
    return Cell(st["test_selected"]["rho"], st["test_last"]["rho"], st["test_selected"]["mse"], predictions)


def reference_row(rows: list[Row]) -> Row | None:
    """The row the others are compared with: the full PAMFN (no variant), if chosen."""
    return next((r for r in rows if not r.variant and not r.branch), None)


@dataclass
class TableResult:
    table: Table
    rows: list[Row]
    actions: list[str]
    seeds: list[int]
    cells: dict[str, dict[str, list[Cell]]]
    """Row key -> action -> one Cell per seed."""
    selection: str
    seconds: dict[str, float] = field(default_factory=dict)
    replicates: int = DEFAULT_REPLICATES

    def frame(self, which: str = "selected") -> pd.DataFrame:
        """Rows x (group, label, modality ticks, actions..., Avg.): rho, mean over seeds."""
        records = []
        for row in self.rows:
            rec: dict[str, Any] = {"group": row.group, "row": row.label}
            if self.table.show_modalities:
                rec.update({name: ("x" if m in row.modalities else "") for m, name in zip(MODALITIES, ("RGB", "Flow", "Audio"))})
            values = [float(np.mean([getattr(c, which) for c in self.cells[row.key][a]])) for a in self.actions]
            rec.update(dict(zip(self.actions, values)))
            rec[AVG] = fisher_z_mean(values)
            records.append(rec)
        return pd.DataFrame(records)

    def predictions(self) -> dict[str, dict[str, SeedPredictions]]:
        """Row -> action -> (seeds x routines) predictions, routines in one order for all rows."""
        out: dict[str, dict[str, SeedPredictions]] = {r.key: {} for r in self.rows}
        for action in self.actions:
            order = sorted(self.cells[self.rows[0].key][action][0].predictions)
            for row in self.rows:
                per_seed = self.cells[row.key][action]
                missing = [r for r in order if any(r not in c.predictions for c in per_seed)]
                if missing:
                    raise ConfigError(f"row {row.key}, action {action}: no test prediction for {missing[:3]}")
                predicted = np.array([[c.predictions[r][0] for r in order] for c in per_seed])
                judged = np.array([per_seed[0].predictions[r][1] for r in order])
                out[row.key][action] = SeedPredictions(predicted, judged)
        return out

    def intervals(self) -> pd.DataFrame:
        """One record per row and column: mean over seeds, 95% interval, the paper's value
        and whether it lies inside, and the paired difference to the reference row."""
        preds = self.predictions()
        boot = bootstrap_table(preds, self.replicates)
        means = point_estimates(preds)
        ref = reference_row(self.rows)
        paper_cols = paper_columns(self.actions)
        records = []
        for row in self.rows:
            paper = dict(zip(PAPER_COLUMNS, row.paper))
            for col in [*self.actions, AVG]:
                lo, hi = interval(boot[row.key][col])
                published = paper.get(paper_cols.get(col, ""), float("nan"))
                rec: dict[str, Any] = {
                    "key": row.key, "group": row.group, "row": row.label, "column": col,
                    "mean": means[row.key][col], "lo": lo, "hi": hi, "seeds": len(self.seeds),
                    "paper": published, "paper_inside_interval": bool(inside(published, (lo, hi))),
                    "diff_vs": "", "diff": float("nan"), "diff_lo": float("nan"), "diff_hi": float("nan"),
                    "inside_noise": False,
                }
                if ref is not None and row.key != ref.key:
                    dlo, dhi = interval(boot[row.key][col] - boot[ref.key][col])
                    rec.update(diff_vs=ref.label, diff=means[row.key][col] - means[ref.key][col], diff_lo=dlo, diff_hi=dhi,
                               inside_noise=bool(inside(0.0, (dlo, dhi))))
                records.append(rec)
        return pd.DataFrame(records)


def paper_columns(actions: list[str]) -> dict[str, str]:
    """Our column -> the paper's column of the same name (Ball .. PCS), and Avg. -> RG or Fis-V Avg."""
    out = {a: c for a in actions for c in PAPER_COLUMNS if a.lower() == c.lower()}
    rg = {"ball", "clubs", "hoop", "ribbon"}
    if actions and {a.lower() for a in actions} <= rg:
        out[AVG] = "RG Avg."
    elif actions and {a.upper() for a in actions} <= {"TES", "PCS"}:
        out[AVG] = "Fis-V Avg."
    return out


def markdown(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in frame.to_dict("records"):
        lines.append("| " + " | ".join(fmt_rho(v) if isinstance(v, float) else str(v) for v in rec.values()) + " |")
    return "\n".join(lines)


def interval_frame(result: TableResult) -> pd.DataFrame:
    """The table for reading (see :func:`intervals_table`) of a result."""
    return intervals_table(result.intervals())


def intervals_table(iv: pd.DataFrame) -> pd.DataFrame:
    """Records of :meth:`TableResult.intervals` (or its CSV) as rows x columns of text:
    ``mean [lo, hi]``, marked ``≈`` where the paper's value lies inside the interval and
    ``~`` where the difference to the reference row is inside the noise."""
    records = []
    for _, part in iv.groupby("key", sort=False):
        first = part.iloc[0]
        rec: dict[str, Any] = {"group": "" if pd.isna(first["group"]) else first["group"], "row": first["row"]}
        rec.update({item["column"]: interval_text(item) for item in part.to_dict("records")})
        records.append(rec)
    return pd.DataFrame(records)


def interval_text(item: dict[str, Any]) -> str:
    """``0.533 [0.412, 0.618]`` plus the marks of :func:`interval_frame`."""
    text = f"{fmt_rho(item['mean'])} [{fmt_rho(item['lo'])}, {fmt_rho(item['hi'])}]"
    if item.get("inside_noise") in (True,):  # numpy and CSV booleans too; NaN is not a mark
        text += " ~"
    if item.get("paper_inside_interval") in (True,):
        text += " ≈"
    return text


def paper_frame(table: Table, rows: list[Row]) -> pd.DataFrame:
    records = []
    for row in rows:
        rec: dict[str, Any] = {"group": row.group, "row": row.label}
        rec.update(dict(zip(PAPER_COLUMNS, row.paper)))
        records.append(rec)
    return pd.DataFrame(records)


def resolve_table(name: str, Ks: list[int] | None = None) -> Table:
    """Table IV..VIII, or ``fig6`` built from ``Ks``."""
    if name.lower() == "fig6":
        return fig6_table(Ks or [1, 2, 4, 6, 8, 10, 12])
    return get_table(name)


def reproduce(
    name: str,
    data: AQADataset,
    out: str | os.PathLike[str],
    make_run: RunFactory,
    *,
    rows: list[str] | None = None,
    actions: list[str] | None = None,
    seeds: list[int] | None = None,
    Ks: list[int] | None = None,
    device: str = "auto",
    amp: bool = False,
    progress: bool = True,
    execute: Callable[[list[list[Job]]], None] | None = None,
) -> TableResult:
    """Train and test every row of table ``name`` (or ``fig6`` over ``Ks``) on ``data`` with
    every seed; write Markdown and CSV (with 95% intervals) to ``out``.

    The runs are :func:`plan_jobs`'s; ``execute(waves)`` runs them (default: here, one
    after the other). Finished runs are reused, unfinished ones resume.
    """
    table = resolve_table(name, Ks)
    chosen = select_rows(table, rows)
    actions = actions or list(data.actions)
    seeds = seeds or [0]
    out = Path(out)
    waves = plan_jobs(chosen, actions, seeds, out)
    seconds: dict[str, float] = {}
    if execute is None:
        for wave in waves:
            for job in wave:
                summary = run_job(job, data, make_run, device=device, amp=amp, progress=progress)
                seconds[f"{job.out.relative_to(out).as_posix()}"] = summary["seconds"]
    else:
        execute(waves)
    cells: dict[str, dict[str, list[Cell]]] = {r.key: {a: [] for a in actions} for r in chosen}
    for seed in seeds:
        for action in actions:
            for row in chosen:
                cells[row.key][action].append(collect_cell(data, row, seed_runs(out, seed) / row_job_name(row) / action))
    selection = make_run(actions[0], {}, "1", None, seeds[0]).selection.replace(f", seed {seeds[0]})", ", seed per run)")
    result = TableResult(table, chosen, actions, seeds, cells, selection, seconds)
    write_table(result, out)
    return result


def write_table(result: TableResult, out: Path) -> None:
    """table_<N>.md (mean over seeds with intervals, last epoch, the paper's), table_<N>.csv
    (means), table_<N>_intervals.csv (one record per cell), table_<N>_paper.csv."""
    name = result.table.name
    selected, last = result.frame("selected"), result.frame("last")
    paper = paper_frame(result.table, result.rows)
    intervals = result.intervals()
    write_text_atomic(out / f"table_{name}.csv", selected.to_csv(index=False))
    write_text_atomic(out / f"table_{name}_intervals.csv", intervals.to_csv(index=False))
    write_text_atomic(out / f"table_{name}_last_epoch.csv", last.to_csv(index=False))
    write_text_atomic(out / f"table_{name}_paper.csv", paper.to_csv(index=False))
    ref = reference_row(result.rows)
    n_seeds = len(result.seeds)
    text = [
        f"# Table {name}: {result.table.title}",
        "",
        (f"Spearman's rho on the test split per action, mean over {n_seeds} seed(s) ({', '.join(map(str, result.seeds))}); "
         f"Avg. is the Fisher-z mean. Epochs {result.selection}. Each seed changes the initialisation, the "
         "validation split and the training order."),
        "",
        (f"95% intervals in brackets: {BOOTSTRAP}, {result.replicates} replicates."
         + (" With one seed the interval covers the test routines only." if n_seeds == 1 else "")),
        f"`~`: the difference to {ref.label!r} is inside the noise (its paired 95% interval holds 0)." if ref else "",
        "`≈`: the paper's published value lies inside this interval (a different data set unless you run the paper's features).",
        "",
        markdown(interval_frame(result)),
        "",
        "## The same runs at their last epoch (mean over seeds)",
        "",
        markdown(last),
        "",
    ]
    if any(r.paper for r in result.rows):
        text += ["## Published in the paper (RG and Fis-V, for side-by-side reading; not this dataset)", "", markdown(paper), ""]
    write_text_atomic(out / f"table_{name}.md", "\n".join(text))
    meta = {"selection": result.selection, "seeds": result.seeds, "bootstrap": BOOTSTRAP,
            "replicates": result.replicates, "seconds": result.seconds}
    write_text_atomic(out / f"table_{name}.json", json.dumps(meta, indent=2))


def make_run_factory(data_dir: str, base: PAMFNConfig, recipe: TrainRecipe) -> RunFactory:
    """RunConfigs of one table: the base model config with each row's variant and the job's seed."""

    def make(action: str, variant: dict[str, Any], phase: str, branches: str | None, seed: int) -> RunConfig:
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
