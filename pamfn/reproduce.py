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
from pamfn.metrics import fisher_z_mean
from pamfn.model import PAMFNConfig
from pamfn.paper_tables import (
    PAPER_COLUMNS,
    Row,
    Table,
    intervals_table,
    markdown,
    paper_columns,
    paper_frame,
    resolve_table,
    select_rows,
)
from pamfn.train.recipe import TrainRecipe
from pamfn.train.run import Run, RunConfig

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
    label = f"{job.name} {job.action} seed {job.seed}"
    return Run(data, config, job.out, device=device, amp=amp, progress=progress, label=label).run()


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
    from pamfn.serving.scorer import predictor

    result = score_split(predictor(load_checkpoint(checkpoint).model), SplitTensors(data, data.select(action, "test")))
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


def interval_frame(result: TableResult) -> pd.DataFrame:
    """The table for reading (see :func:`intervals_table`) of a result."""
    return intervals_table(result.intervals())


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
    paper = paper_frame(result.rows)
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
