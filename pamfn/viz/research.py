"""Research view: what PAMFN did across a whole split, as tidy tables and plotly figures.

Tables come from a list of :class:`~pamfn.explanation.Explanation` (one per routine);
figures are pure functions of those tables:

- the PolicyNet's decision frequency per stage and action with the uniform line
  (the paper's Fig. 5, the stochastic policy's expectation; see :mod:`pamfn.decisions`)
  and each stage's policy entropy,
- the distribution of MSFD modality weights per stage and modality,
- predicted against judged scores with Spearman's rho per action and its Fisher-z mean,
- finding the results tables written by ``pamfn reproduce``,
- two routines compared on one time axis (athlete against a reference),
- Spearman's rho against the number of FusionNets K with intervals (the paper's Fig. 6).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pamfn import MODALITIES, MODALITY_NAMES, decisions
from pamfn.explanation import Explanation
from pamfn.metrics import fisher_z_mean, fmt_rho, spearman_rho
from pamfn.viz.colors import MODALITY_COLORS, modality_label
from pamfn.viz.tables import fusion_count_table, msfd_table

ACTION_PALETTE: tuple[str, ...] = ("#4C78A8", "#F58518", "#54A24B", "#B279A2", "#E45756", "#72B7B2", "#9D755D")
"""Colours for actions (apparatus); distinct from the V/F/A modality colours."""
UNIFORM_COLOR = "#555555"
NO_ACTION = "all"
SUBTITLE_SIZE = 12
"""Font size (px) of a figure's subtitle and of its panels' titles."""


def _action(explanation: Explanation) -> str:
    return explanation.action or NO_ACTION


def action_colors(actions: Iterable[str]) -> dict[str, str]:
    """A stable colour per action, in sorted order."""
    return {a: ACTION_PALETTE[i % len(ACTION_PALETTE)] for i, a in enumerate(sorted(set(actions)))}


# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------


def _per_routine(explanations: Sequence[Explanation], table: Callable[[Explanation], pd.DataFrame]) -> pd.DataFrame:
    """Concatenate a per-routine table of part 1 over routines, with routine_id and action."""
    frames = [table(e).assign(routine_id=e.routine_id, action=_action(e)) for e in explanations]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _policy_steps(explanations: Sequence[Explanation]) -> tuple[int | None, list[tuple[str, int, np.ndarray]]]:
    """(K, [(action, stage, policy_probs)]) over every stage that has PolicyNet probabilities."""
    Ks = {e.K for e in explanations}
    if len(Ks) > 1:
        raise ValueError(f"explanations come from checkpoints with different K: {sorted(Ks)}")
    found = [(_action(e), s.stage, np.asarray(s.policy_probs, dtype=np.float64))
             for e in explanations for s in e.stages if s.policy_probs is not None and s.steps]
    return (Ks.pop() if Ks else None), found


def decision_frequencies(
    explanations: Sequence[Explanation], method: str = "expected", draws: int = 200, seed: int = 0
) -> pd.DataFrame:
    """How often the PolicyNet enables each FusionNet count, per action and stage (Fig. 5).

    ``method`` (see :mod:`pamfn.decisions`): ``"expected"`` is the paper's stochastic
    policy computed exactly from the probabilities (the mean of P_k over all steps);
    ``"sampled"`` draws ``draws`` Gumbel-max decisions per step (seeded) as a check, with
    the Monte-Carlo standard error; ``"argmax"`` is the noiseless argmax, a labelled
    alternative. Columns: ``action, stage, count`` (1..K), ``steps`` (expected or mean
    number of steps at that count), ``frequency`` (share of that action's steps at that
    stage), ``se`` (standard error of the frequency, 0 where exact), ``K``, ``method``.
    Empty when no explanation has PolicyNet probabilities.
    """
    if method not in decisions.METHODS:
        raise ValueError(f"method must be one of {list(decisions.METHODS)}, got {method!r}")
    columns = ["action", "stage", "count", "steps", "frequency", "se", "K", "method"]
    K, found = _policy_steps(explanations)
    if not found:
        return pd.DataFrame(columns=columns)
    rng = np.random.default_rng(seed)
    per_draw: dict[tuple[str, int], np.ndarray] = {}
    for action, stage, probs in found:
        if method == "expected":
            counts = decisions.expected_counts(probs)[None]
        elif method == "argmax":
            counts = decisions.argmax_counts(probs)[None]
        else:
            counts = decisions.sampled_counts(probs, draws, rng)
        key = (action, stage)
        per_draw[key] = per_draw[key] + counts if key in per_draw else counts
    rows = []
    for (action, stage), counts in sorted(per_draw.items()):
        share = counts / counts.sum(axis=1, keepdims=True)
        se = share.std(axis=0, ddof=1) / np.sqrt(len(share)) if len(share) > 1 else np.zeros(K)
        for k in range(K):
            rows.append((action, stage, k + 1, float(counts[:, k].mean()), float(share[:, k].mean()), float(se[k]), K, method))
    return pd.DataFrame(rows, columns=columns)


def policy_entropy(explanations: Sequence[Explanation]) -> pd.DataFrame:
    """How certain the PolicyNet's single decisions are, per action and stage.

    Columns: ``action, stage, steps, entropy`` (mean over steps of the normalised entropy
    of P: 1 = uniform over the K counts, 0 = one certain count), ``expected_count`` (mean
    of sum_k k P_k), ``K``. Empty without PolicyNet probabilities."""
    columns = ["action", "stage", "steps", "entropy", "expected_count", "K"]
    K, found = _policy_steps(explanations)
    groups: dict[tuple[str, int], list[np.ndarray]] = {}
    for action, stage, probs in found:
        groups.setdefault((action, stage), []).append(probs)
    rows = []
    for (action, stage), parts in sorted(groups.items()):
        probs = np.concatenate(parts)
        rows.append((action, stage, len(probs), float(decisions.normalised_entropy(probs).mean()),
                     float(decisions.expected_count(probs).mean()), K))
    return pd.DataFrame(rows, columns=columns)


def msfd_weight_samples(explanations: Sequence[Explanation]) -> pd.DataFrame:
    """Every MSFD modality weight of every step of every routine, long format.

    Columns: part 1's :func:`~pamfn.viz.tables.msfd_table` (``stage, step, start_s,
    end_s, modality, weight``) plus ``routine_id, action``.
    """
    return _per_routine(explanations, msfd_table)


def score_table(explanations: Sequence[Explanation]) -> pd.DataFrame:
    """Predicted and judged scores per routine in the data set's units.

    Columns: ``routine_id, action, predicted, judged, error`` (predicted - judged;
    NaN when the routine has no judged score).
    """
    rows = [
        {
            "routine_id": e.routine_id,
            "action": _action(e),
            "predicted": float(e.score),
            "judged": float(e.judged_score) if e.judged_score is not None else math.nan,
        }
        for e in explanations
    ]
    table = pd.DataFrame(rows, columns=["routine_id", "action", "predicted", "judged"])
    table["error"] = table["predicted"] - table["judged"]
    return table


def spearman_by_action(scores: pd.DataFrame) -> pd.DataFrame:
    """Spearman's rho per action and the Fisher-z mean across actions (last row, ``Avg.``).

    ``scores`` is a :func:`score_table`; routines without a judged score are left out.
    Columns: ``action, n, rho``.
    """
    judged = scores.dropna(subset=["judged"])
    rows = [
        {"action": action, "n": len(group), "rho": spearman_rho(group["predicted"], group["judged"])}
        for action, group in judged.groupby("action", sort=True)
    ]
    table = pd.DataFrame(rows, columns=["action", "n", "rho"])
    if len(table):
        avg = fisher_z_mean(table["rho"]) if len(table) > 1 else float(table["rho"].iloc[0])
        table.loc[len(table)] = {"action": "Avg.", "n": int(table["n"].sum()), "rho": avg}
    return table


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------


def _title(text: str, subtitle: str) -> dict:
    """A figure's title with a subtitle under it at a readable size."""
    return {"text": text, "subtitle": {"text": subtitle, "font": {"size": SUBTITLE_SIZE}}}


def _empty_figure(message: str, title: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14})
    fig.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False}, height=320)
    return fig


def _stage_title(i: int, stage: int, entropy: pd.DataFrame | None) -> str:
    title = f"({chr(97 + i)}) Stage {stage}"
    if entropy is not None and len(entropy):
        at = entropy[entropy["stage"] == stage]
        if len(at):
            mean = float(np.average(at["entropy"], weights=at["steps"]))
            title += f"<br>policy entropy {mean:.2f}"  # two short lines: panels stay apart on a narrow page
    return title


def decision_frequency_figure(
    frequencies: pd.DataFrame,
    entropy: pd.DataFrame | None = None,
    check: pd.DataFrame | None = None,
    title: str = "PolicyNet decisions per stage",
) -> go.Figure:
    """The paper's Fig. 5: frequency of each FusionNet count per stage, one line per action,
    and the frequency a uniform choice over 1..K would give.

    ``frequencies`` is a :func:`decision_frequencies` table (normally ``"expected"``);
    ``check`` another one drawn over it as markers (``"sampled"``: with +/- 2 standard
    errors) or dotted lines (``"argmax"``), each labelled with its method; ``entropy``
    (:func:`policy_entropy`) puts each stage's mean normalised policy entropy in its title."""
    if frequencies.empty:
        return _empty_figure("No PolicyNet decisions (this checkpoint has no PolicyNet).", title)
    stages = sorted(frequencies["stage"].unique())
    K = int(frequencies["K"].iloc[0])
    colors = action_colors(frequencies["action"])
    method = str(frequencies["method"].iloc[0]) if "method" in frequencies else "expected"
    fig = make_subplots(
        rows=1,
        cols=len(stages),
        shared_yaxes=True,
        subplot_titles=[_stage_title(i, s, entropy) for i, s in enumerate(stages)],
        horizontal_spacing=0.06,
    )
    fig.update_annotations(font={"size": SUBTITLE_SIZE})  # the panels' titles: small enough to stay apart
    for col, stage in enumerate(stages, start=1):
        at_stage = frequencies[frequencies["stage"] == stage]
        for action, group in at_stage.groupby("action", sort=True):
            fig.add_trace(
                go.Scatter(
                    x=group["count"],
                    y=group["frequency"],
                    mode="lines+markers",
                    name=str(action),
                    legendgroup=str(action),
                    showlegend=col == 1,
                    line={"color": colors[action], "width": 2},
                    customdata=group["steps"],
                    hovertemplate=f"{action} ({method})<br>count %{{x}}: %{{y:.1%}} (%{{customdata:.1f}} steps)<extra></extra>",
                ),
                row=1,
                col=col,
            )
        if check is not None and len(check):
            _add_check(fig, check[check["stage"] == stage], colors, col)
        fig.add_trace(
            go.Scatter(
                x=[1, K],
                y=[1 / K, 1 / K],
                mode="lines",
                name="Uniform",
                legendgroup="Uniform",
                showlegend=col == 1,
                line={"color": UNIFORM_COLOR, "dash": "dash", "width": 1.5},
                hovertemplate=f"Uniform: {1 / K:.1%}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(dtick=1, range=[0.5, K + 0.5], row=1, col=col)
    fig.update_xaxes(title_text="FusionNet count (decision)", row=1, col=(len(stages) + 1) // 2)  # one title, centred
    fig.update_yaxes(title_text="Frequency", tickformat=".0%", rangemode="tozero", row=1, col=1)
    fig.update_layout(title=_title(title, decisions.METHOD_LABELS.get(method, method)), height=480,
                      legend={"orientation": "h", "y": -0.22}, margin={"t": 140})
    return fig


def _add_check(fig: go.Figure, check: pd.DataFrame, colors: dict[str, str], col: int) -> None:
    """Another definition's frequencies over the main lines: markers with +/- 2 SE, or dotted lines."""
    method = str(check["method"].iloc[0])
    label = {"sampled": "sampled", "argmax": "argmax"}.get(method, method)
    for action, group in check.groupby("action", sort=True):
        sampled = method == "sampled"
        fig.add_trace(
            go.Scatter(
                x=group["count"],
                y=group["frequency"],
                mode="markers" if sampled else "lines+markers",
                name=f"{action} ({label})",
                legendgroup=f"{action}-{label}",
                showlegend=col == 1,
                marker={"color": colors.get(action, UNIFORM_COLOR), "symbol": "x" if sampled else "diamond-open", "size": 8},
                line={"color": colors.get(action, UNIFORM_COLOR), "dash": "dot", "width": 1.5},
                error_y={"type": "data", "array": 2 * group["se"], "visible": sampled, "thickness": 1},
                hovertemplate=f"{action} ({label})<br>count %{{x}}: %{{y:.1%}}<extra></extra>",
            ),
            row=1,
            col=col,
        )


def msfd_weight_figure(weights: pd.DataFrame, title: str = "MSFD modality weights per stage") -> go.Figure:
    """Distribution of the MSFD weights of RGB, flow and audio at each stage (box plots)."""
    if weights.empty:
        return _empty_figure("No MSFD weights (this checkpoint has no MSFD).", title)
    fig = go.Figure()
    for m in MODALITIES:
        sub = weights[weights["modality"] == m]
        fig.add_trace(
            go.Box(
                x=[f"Stage {s}" for s in sub["stage"]],
                y=sub["weight"],
                name=modality_label(m),
                marker_color=MODALITY_COLORS[m],
                boxmean=True,
                hovertemplate=f"{MODALITY_NAMES[m]}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
    fig.add_hline(y=1 / len(MODALITIES), line_dash="dot", line_color=UNIFORM_COLOR, annotation_text="equal (1/3)")
    fig.update_layout(
        title=title,
        boxmode="group",
        yaxis={"title": "MSFD weight", "range": [0, 1]},
        xaxis={"title": "", "categoryorder": "category ascending"},
        height=380,
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def predicted_vs_judged_figure(
    scores: pd.DataFrame, rhos: pd.DataFrame, unit: str = "points", title: str = "Predicted vs. judged scores"
) -> go.Figure:
    """Scatter of predicted against judged scores, one colour per action, the line y = x,
    Spearman's rho per action in the legend and the Fisher-z mean in the title."""
    judged = scores.dropna(subset=["judged"])
    if judged.empty:
        return _empty_figure("No judged scores in this split.", title)
    colors = action_colors(judged["action"])
    rho_of = dict(zip(rhos["action"], rhos["rho"], strict=False))
    fig = go.Figure()
    for action, group in judged.groupby("action", sort=True):
        fig.add_trace(
            go.Scatter(
                x=group["judged"],
                y=group["predicted"],
                mode="markers",
                name=f"{action} (ρ = {fmt_rho(rho_of.get(action))}, n = {len(group)})",
                marker={"color": colors[action], "size": 8, "opacity": 0.8, "line": {"width": 0.5, "color": "white"}},
                text=group["routine_id"],
                hovertemplate="%{text}<br>judged %{x:.2f}<br>predicted %{y:.2f}<extra></extra>",
            )
        )
    lo = float(min(judged["judged"].min(), judged["predicted"].min()))
    hi = float(max(judged["judged"].max(), judged["predicted"].max()))
    pad = 0.05 * (hi - lo or 1.0)
    fig.add_trace(
        go.Scatter(
            x=[lo - pad, hi + pad],
            y=[lo - pad, hi + pad],
            mode="lines",
            name="predicted = judged",
            line={"color": UNIFORM_COLOR, "dash": "dash", "width": 1},
            hoverinfo="skip",
        )
    )
    avg = rho_of.get("Avg.")
    fig.update_layout(
        title=f"{title} (Fisher-z mean ρ = {fmt_rho(avg)})",
        xaxis={"title": f"Judged score ({unit})", "range": [lo - pad, hi + pad]},
        yaxis={"title": f"Predicted score ({unit})", "range": [lo - pad, hi + pad]},
        height=520,
        legend={"orientation": "h", "y": -0.18},
    )
    return fig


def side_by_side(ours: pd.DataFrame, paper: pd.DataFrame, paper_columns: Sequence[str] = ("RG Avg.", "Fis-V Avg.")) -> pd.DataFrame:
    """A reproduced table with the paper's published values of the same rows beside it.

    Rows are matched on ``group`` and ``row`` (the labels ``pamfn reproduce`` writes);
    the paper's columns come in as ``"Paper <column>"``, empty where the paper has no
    such row.
    """
    keys = [k for k in ("group", "row") if k in ours.columns and k in paper.columns]
    picked = paper[keys + [c for c in paper_columns if c in paper.columns]]
    picked = picked.rename(columns={c: f"Paper {c}" for c in paper_columns})
    for key in keys:  # CSV round trips turn empty labels into NaN
        ours = ours.assign(**{key: ours[key].fillna("").astype(str)})
        picked = picked.assign(**{key: picked[key].fillna("").astype(str)})
    return blank_text(ours.merge(picked, on=keys, how="left"))


def blank_text(table: pd.DataFrame) -> pd.DataFrame:
    """The table with the empty cells of its text columns blank (a CSV's empty "x" marks
    read as NaN, which a dataframe widget shows as "None"); numbers keep their NaN."""
    text = table.select_dtypes(exclude="number").columns
    return table.assign(**{c: table[c].fillna("") for c in text})


def interval_reference(intervals: pd.DataFrame) -> tuple[str, str] | None:
    """(group, row) of the row the intervals' paired differences are taken to (``diff_vs``
    names only its row label, which other groups may share); None without differences."""
    if "diff_vs" not in intervals:
        return None
    named = intervals["diff_vs"].fillna("").astype(str)
    label = next((v for v in named if v), None)
    if label is None:
        return None
    own = intervals[(intervals["row"] == label) & (named == "")]  # the reference has no difference to itself
    group = own["group"].dropna().astype(str)
    return (group.iloc[0] if len(group) else "", label)


# ---------------------------------------------------------------------------------------
# Comparing two routines on one time axis (athlete against a reference)
# ---------------------------------------------------------------------------------------

COMPARE_DASH: tuple[str, ...] = ("solid", "dash")
"""Line style of the first (athlete) and second (reference) routine."""


def comparison_tables(explanations: dict[str, Explanation], stage: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MSFD weights and FusionNet counts of one stage for several routines, long format
    with a ``routine`` column (the dict's keys) and ``share_start``/``share_end``: the
    step's window as a share of its routine's duration (0..1)."""
    msfd, counts = [], []
    for name, e in explanations.items():
        for table, out in ((msfd_table(e), msfd), (fusion_count_table(e), counts)):
            part = table[table["stage"] == stage].assign(routine=name) if len(table) else table
            if len(part):
                part = part.assign(share_start=part["start_s"] / e.duration_s, share_end=part["end_s"] / e.duration_s)
                out.append(part)
    join = lambda frames: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return join(msfd), join(counts)


def _step_line(start: pd.Series, end: pd.Series, y: pd.Series) -> tuple[list[float], list[float]]:
    """x/y of a step line drawing each value flat over its window."""
    xs, ys = [], []
    for a, b, v in zip(start, end, y, strict=True):
        xs += [float(a), float(b)]
        ys += [float(v), float(v)]
    return xs, ys


def comparison_figure(msfd: pd.DataFrame, counts: pd.DataFrame, relative: bool = False, K: int | None = None) -> go.Figure:
    """Two (or more) routines on one time axis: one row per modality with its MSFD weight
    (first routine solid, second dashed, in the modality's colour) and a row with the
    PolicyNet's FusionNet counts. ``relative`` puts both on the share of their routine
    (0-100 %) instead of seconds, for routines of different lengths."""
    if msfd.empty and counts.empty:
        return _empty_figure("Neither routine has MSFD weights or PolicyNet decisions at this stage.", "Comparison")
    start, end = ("share_start", "share_end") if relative else ("start_s", "end_s")
    scale = 100.0 if relative else 1.0
    routines = list(dict.fromkeys([*msfd.get("routine", []), *counts.get("routine", [])]))
    expected = bool(len(counts)) and bool(counts["expected"].notna().all())  # else the decisions themselves
    titles = [f"MSFD weight of {modality_label(m)}" for m in MODALITIES] + [
        f"FusionNets enabled (PolicyNet, {'expected count' if expected else 'decisions'})"]
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.06, subplot_titles=titles)
    for i, name in enumerate(routines):
        dash = COMPARE_DASH[i % len(COMPARE_DASH)]
        for row, m in enumerate(MODALITIES, start=1):
            part = msfd[(msfd["routine"] == name) & (msfd["modality"] == m)] if len(msfd) else msfd
            if part.empty:
                continue
            x, y = _step_line(part[start] * scale, part[end] * scale, part["weight"])
            fig.add_trace(
                go.Scatter(x=x, y=y, mode="lines", name=name, legendgroup=name, showlegend=False,
                           line={"color": MODALITY_COLORS[m], "dash": dash, "width": 2},
                           hovertemplate=f"{name}<br>{modality_label(m)}: %{{y:.2f}}<extra></extra>"),
                row=row, col=1,
            )
        part = counts[counts["routine"] == name] if len(counts) else counts
        if len(part):
            x, y = _step_line(part[start] * scale, part[end] * scale, part["expected" if expected else "count"])
            fig.add_trace(
                go.Scatter(x=x, y=y, mode="lines", name=name, legendgroup=name, showlegend=False,
                           line={"color": "#374151", "dash": dash, "width": 2},
                           hovertemplate=f"{name}: %{{y:{'.2f' if expected else '.0f'}}} FusionNets"
                                         f"{' expected' if expected else ''}<extra></extra>"),
                row=4, col=1,
            )
        # a legend entry per routine that shows its line style
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=name, legendgroup=name,
                                 line={"color": "#374151", "dash": dash, "width": 2}), row=1, col=1)
    for row in (1, 2, 3):
        fig.update_yaxes(range=[0, 1], tickvals=[0, 0.5, 1], row=row, col=1)
    if K is not None:
        fig.add_hline(y=K, line={"color": UNIFORM_COLOR, "dash": "dot", "width": 1}, annotation_text=f"K = {K}",
                      annotation_position="top left", row=4, col=1)
        fig.update_yaxes(range=[0, K + 0.9], row=4, col=1)
    fig.update_xaxes(title_text="share of the routine (%)" if relative else "time (s)", row=4, col=1)
    fig.update_layout(height=660, legend={"orientation": "h", "yanchor": "bottom", "y": 1.07, "x": 1, "xanchor": "right"},
                      margin={"t": 100}, hovermode="x unified")  # the legend above the first panel's title
    return fig


def compare_scores_figure(scores: pd.DataFrame, label_scale: float) -> go.Figure:
    """Grouped bars of judged, predicted and branch scores for each routine.

    ``scores`` is part 1's :func:`~pamfn.viz.tables.scores_table` of each routine,
    concatenated with a ``routine`` column."""
    fig = go.Figure()
    for i, (name, part) in enumerate(scores.groupby("routine", sort=False)):
        fig.add_trace(
            go.Bar(
                y=part["label"], x=part["score"], orientation="h", name=name,
                marker={"color": "#374151" if i == 0 else "#9ca3af", "pattern": {"shape": "" if i == 0 else "/"}},
                text=[f"{s:.2f}" for s in part["score"]], textposition="outside", cliponaxis=False,
                hovertemplate=f"{name}<br>%{{y}}: %{{x:.2f}}<extra></extra>",
            )
        )
    fig.update_layout(barmode="group", title="Scores", height=160 + 46 * scores["label"].nunique(),
                      xaxis={"range": [0, label_scale], "title": f"score (0 to {label_scale:g})"},
                      yaxis={"autorange": "reversed"}, margin={"t": 90, "r": 40},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1})
    return fig


# ---------------------------------------------------------------------------------------
# Fig. 6: Spearman's rho against the number of FusionNets K
# ---------------------------------------------------------------------------------------


def fig6_table(intervals: pd.DataFrame) -> pd.DataFrame:
    """From ``pamfn reproduce fig6``'s ``table_fig6_intervals.csv``: columns ``K, action,
    mean, lo, hi, seeds``, one record per K and action (``Avg.`` included), sorted by K."""
    table = intervals.assign(K=intervals["key"].str.removeprefix("K=").astype(int), action=intervals["column"])
    return table[["K", "action", "mean", "lo", "hi", "seeds"]].sort_values(["action", "K"], kind="stable").reset_index(drop=True)


def fig6_figure(intervals: pd.DataFrame, title: str = "Spearman's ρ against the number of FusionNets K (Fig. 6)") -> go.Figure:
    """One line per action (and the Fisher-z average, dashed) of the mean test rho over
    seeds against K, with the 95% interval as error bars."""
    table = fig6_table(intervals)
    actions = [a for a in dict.fromkeys(table["action"]) if a != "Avg."]
    colors = action_colors(actions)
    fig = go.Figure()
    series = [a for a in [*actions, "Avg."] if (table["action"] == a).any()]
    Ks = sorted(table["K"].unique())
    dodge = 0.06 * (min(np.diff(Ks)) if len(Ks) > 1 else 1)  # side by side, so the error bars do not hide each other
    for i, action in enumerate(series):
        part = table[table["action"] == action]
        avg = action == "Avg."
        fig.add_trace(
            go.Scatter(
                x=part["K"] + dodge * (i - (len(series) - 1) / 2),
                customdata=part["K"],
                y=part["mean"],
                mode="lines+markers",
                name="Average (Fisher z)" if avg else action,
                line={"color": UNIFORM_COLOR if avg else colors[action], "dash": "dash" if avg else "solid"},
                error_y={"type": "data", "symmetric": False, "array": part["hi"] - part["mean"],
                         "arrayminus": part["mean"] - part["lo"], "thickness": 1},
                hovertemplate=f"{action}<br>K = %{{customdata}}<br>ρ = %{{y:.3f}}<extra></extra>",
            )
        )
    seeds = int(table["seeds"].max()) if len(table) else 0
    fig.update_layout(
        title=_title(title, f"mean over {seeds} seed(s); bars: 95% bootstrap interval over test routines and seeds"),
        margin={"t": 90},
        xaxis={"title": "Number of FusionNets K", "tickmode": "array", "tickvals": Ks},
        yaxis={"title": "Spearman's ρ (test)"},
        height=480,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


FAULT_LABELS = {"loss_of_balance": "loss of balance", "drop": "drop", "tremor": "tremor",
                "off_beat": "off-beat section", "off_energy": "off-energy section"}
"""Fault kinds in words: the fault chart's categories and the checks tables' values."""
TARGET_LABELS = {"score": "total score", "execution": "execution score", "n_drops": "number of drops"}
"""What a fault detector was trained on (``fault_probe_scores``'s ``trained_on``), in words."""
CHECK_HEADERS = {
    "kind": "fault", "windows": "fault windows", "test_windows": "fault windows", "clean": "clean windows",
    "auc": "ROC AUC", "trained_on": "trained on", "null_mean": "null mean", "null_sd": "null sd",
    "rho": "ρ on the test split", "modality": "degraded modality", "stretches": "stretches",
    "share_dropped": "share with a lower weight inside", "inside": "weight inside", "outside": "weight outside",
    "mean_drop": "mean drop", "se": "± standard error", "sentences": "sentences", "hits": "pointing at an event",
    "chance": "chance (any window)",
}
"""Headers in words of the tables ``pamfn.groundtruth.result_tables`` reads from the bench."""

PROBE_FEATURES = "V+F+A"
"""The probe shown beside the impacts: every modality's window features."""
SCORE_PROBE_TARGET = "score"
"""The detector probe shown beside the impacts: the one trained on the total score, as PAMFN is."""


def fault_check_figure(fault_auc: pd.DataFrame, probe: pd.DataFrame | None = None, score_probe: pd.DataFrame | None = None,
                       target: float = 0.75) -> go.Figure:
    """Per fault kind, the ROC AUC of the model's occlusion impacts ranking fault windows
    above clean ones, beside (when measured) the probes' on the same test windows
    (``pamfn.fault_probe``): a detector trained on the scores only (what any score model
    could learn of the faults' places) and a probe trained on the events (what the
    features themselves reveal), with chance and the target as lines. Tables:
    ``bench/bench_explanations.py``'s ``fault_auc``, ``fault_probe_scores`` and ``fault_probe``."""
    kinds = [k for k in fault_auc["kind"] if k in FAULT_LABELS]
    labels = [FAULT_LABELS[k] for k in kinds]

    def bars(values: pd.Series, name: str, color: str, short: str, notes: list[str] | None = None) -> go.Bar:
        return go.Bar(x=labels, y=values, name=name, marker_color=color, offsetgroup=short,
                      text=[f"{v:.2f}" if np.isfinite(v) else "" for v in values], textposition="outside",
                      customdata=notes or [""] * len(labels),
                      hovertemplate=f"%{{x}}<br>AUC %{{y:.3f}} ({short})%{{customdata}}<extra></extra>")

    fig = go.Figure(bars(fault_auc.set_index("kind").loc[kinds, "auc"], "the model's score impacts (occlusion)",
                         ACTION_PALETTE[0], "impacts"))
    if score_probe is not None and len(score_probe):
        chosen = score_probe[score_probe["trained_on"] == SCORE_PROBE_TARGET].set_index("kind").reindex(kinds)
        nulls = [f"<br>null (shuffled scores) {m:.3f} ± {sd:.3f}" if np.isfinite(m) else ""
                 for m, sd in zip(chosen.get("null_mean", pd.Series(np.nan, index=kinds)),
                                  chosen.get("null_sd", pd.Series(np.nan, index=kinds)))]
        fig.add_trace(bars(chosen["auc"], "a fault detector trained on the scores only (no events)", ACTION_PALETTE[1],
                           "detector trained on scores", nulls))
        if "null_mean" in chosen and np.isfinite(chosen["null_mean"]).any():
            fig.add_trace(go.Scatter(
                x=labels, y=chosen["null_mean"], error_y={"type": "data", "array": chosen["null_sd"], "thickness": 2, "width": 8},
                mode="markers", marker={"symbol": "line-ew-open", "size": 22, "color": "black", "line": {"width": 2}},
                offsetgroup="detector trained on scores", name="its null: the same detector on shuffled scores (mean ± sd)",
                hovertemplate="%{x}<br>null %{y:.3f} (shuffled scores)<extra></extra>"))
    if probe is not None and len(probe):
        chosen = probe[probe["features"] == PROBE_FEATURES].set_index("kind")["auc"].reindex(kinds)
        fig.add_trace(bars(chosen, f"a probe on the {PROBE_FEATURES} window features (trained on events)", ACTION_PALETTE[2],
                           "probe"))
    fig.add_hline(y=0.5, line={"color": UNIFORM_COLOR, "dash": "dot"}, annotation_text="chance", annotation_position="bottom right")
    fig.add_hline(y=target, line={"color": "#E45756", "dash": "dash"}, annotation_text=f"target {target:g}",
                  annotation_position="top right")
    fig.update_layout(
        title=_title("Do the explanations find the faults?",
                     "ROC AUC of each fault kind's windows against clean windows, test split"),
        barmode="group", scattermode="group", yaxis={"title": "ROC AUC", "range": [0, 1.05]}, height=520,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.03, "xanchor": "left", "x": 0}, margin={"t": 170},
    )
    return fig


def check_table(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """A table of ``pamfn.groundtruth.result_tables`` (``key``: its name) for reading: fault
    kinds, detector targets and modalities in the words of :func:`fault_check_figure`, and
    headers in words (:data:`CHECK_HEADERS`; a sentences table's ``kind`` is the sentence's)."""
    words = {"kind": FAULT_LABELS, "trained_on": TARGET_LABELS, "modality": {m: modality_label(m) for m in MODALITIES}}
    readable = table.replace({c: w for c, w in words.items() if c in table})
    headers = {**CHECK_HEADERS, "kind": "sentence kind"} if key == "sentences" else CHECK_HEADERS
    return readable.rename(columns=headers)
