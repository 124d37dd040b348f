"""Plotly figures of PAMFN's explanations, built from the tidy tables of
:mod:`pamfn.viz.tables` (pure functions: tables in, figure out).

Every time series shares one x axis in seconds, so the same builders serve the synced
player (one figure, one playhead) and exported figures for slides.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pamfn import MODALITIES
from pamfn.viz.colors import (
    FUSION_COLOR,
    GRID_COLOR,
    JUDGED_COLOR,
    MODALITY_COLORS,
    PREDICTED_COLOR,
    WAVEFORM_COLOR,
    modality_fill,
    modality_label,
)

STAGE_DASH = {1: "solid", 2: "dot", 3: "dash"}
Window = tuple[float, float, str]
"""A marked time window: start second, end second, label."""


def _steps_xy(start: np.ndarray, end: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each step drawn flat over its own window [start, end)."""
    x = np.column_stack([start, end]).ravel()
    return x, np.repeat(np.asarray(y, dtype=np.float64), 2)


def _base_layout(fig: go.Figure, height: int, **layout) -> go.Figure:
    """The common look, set in one layout update (plotly validates each call)."""
    settings = dict(
        template="plotly_white",
        height=height,
        margin=dict(l=70, r=20, t=40, b=40),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        hovermode="x",
        font=dict(size=12),
    )
    settings.update(layout)
    fig.update_layout(**settings)
    fig.update_xaxes(gridcolor=GRID_COLOR, zeroline=False)
    fig.update_yaxes(gridcolor=GRID_COLOR, zeroline=False)
    return fig


def _add_msfd_stage(fig: go.Figure, stage_df: pd.DataFrame, row: int, showlegend: bool) -> None:
    """Stacked areas of the V/F/A weights of one stage, each step over its real window."""
    stage_df = stage_df.sort_values(["step", "modality"])
    wide = stage_df.pivot(index="step", columns="modality", values="weight").reindex(columns=list(MODALITIES))
    spans = stage_df.drop_duplicates("step").set_index("step").loc[wide.index]
    base = np.zeros(len(wide))
    for m in MODALITIES:
        top = base + wide[m].to_numpy()
        x, y = _steps_xy(spans["start_s"].to_numpy(), spans["end_s"].to_numpy(), top)
        _, w = _steps_xy(spans["start_s"].to_numpy(), spans["end_s"].to_numpy(), wide[m].to_numpy())
        fig.add_trace(
            go.Scatter(
                x=x, y=y, customdata=w, mode="lines", line=dict(width=0.5, color=MODALITY_COLORS[m]),
                fill="tozeroy" if m == MODALITIES[0] else "tonexty", fillcolor=modality_fill(m),
                name=modality_label(m), legendgroup=m, showlegend=showlegend,
                hovertemplate=f"{modality_label(m)}: %{{customdata:.2f}}<extra></extra>",
            ),
            row=row, col=1,
        )
        base = top
    fig.update_yaxes(range=[0, 1], tickvals=[0, 0.5, 1], row=row, col=1)


def _add_counts(fig: go.Figure, count_df: pd.DataFrame, row: int) -> None:
    """FusionNet counts per stage as steps, with K as a dashed line."""
    for stage, part in count_df.groupby("stage"):
        part = part.sort_values("step")
        x, y = _steps_xy(part["start_s"].to_numpy(), part["end_s"].to_numpy(), part["count"].to_numpy())
        fig.add_trace(
            go.Scatter(
                x=x, y=y, mode="lines", line=dict(color=FUSION_COLOR, width=2, dash=STAGE_DASH.get(int(stage), "solid")),
                name=f"FusionNets, stage {stage}", hovertemplate=f"stage {stage}: %{{y:.0f}} FusionNets<extra></extra>",
            ),
            row=row, col=1,
        )
    K = int(count_df["K"].iloc[0])
    xaxis = "x" if row == 1 else f"x{row}"
    yaxis = "y" if row == 1 else f"y{row}"
    fig.add_shape(type="line", xref=f"{xaxis} domain", x0=0, x1=1, yref=yaxis, y0=K, y1=K,
                  line=dict(color=JUDGED_COLOR, dash="dash", width=1))
    fig.add_annotation(xref=f"{xaxis} domain", x=1, yref=yaxis, y=K, text=f"K = {K}", showarrow=False,
                       xanchor="right", yanchor="bottom", font=dict(size=10, color=JUDGED_COLOR))
    fig.update_yaxes(range=[0, K + 0.9], dtick=1 if K <= 6 else 2, row=row, col=1)


def _add_waveform(fig: go.Figure, wave_df: pd.DataFrame, row: int) -> None:
    """The audio's min/max envelope, filled."""
    t = wave_df["time_s"].to_numpy()
    fig.add_trace(go.Scatter(x=t, y=wave_df["hi"].to_numpy(), mode="lines", line=dict(width=0.6, color=WAVEFORM_COLOR),
                             showlegend=False, hoverinfo="skip"), row=row, col=1)
    fig.add_trace(go.Scatter(x=t, y=wave_df["lo"].to_numpy(), mode="lines", line=dict(width=0.6, color=WAVEFORM_COLOR),
                             fill="tonexty", fillcolor=modality_fill("A", 0.45), name="Audio waveform",
                             showlegend=False, hoverinfo="skip"), row=row, col=1)
    peak = float(max(np.abs(wave_df[["lo", "hi"]].to_numpy()).max(), 1e-6)) if len(wave_df) else 1.0
    fig.update_yaxes(range=[-peak, peak], showticklabels=False, row=row, col=1)


def _add_occlusion(fig: go.Figure, occ_df: pd.DataFrame, row: int) -> None:
    """Points each window adds to (up) or takes from (down) the score."""
    centers = (occ_df["start_s"] + occ_df["end_s"]) / 2
    widths = occ_df["end_s"] - occ_df["start_s"]
    colors = np.where(occ_df["delta"] >= 0, "#16a34a", "#dc2626")
    fig.add_trace(go.Bar(x=centers, y=occ_df["delta"], width=widths * 0.92, marker_color=colors, showlegend=False,
                         name="Score impact", hovertemplate="%{y:+.2f} points<extra></extra>"), row=row, col=1)


def _mark_windows(fig: go.Figure, windows: Sequence[Window]) -> None:
    for start, end, label in windows:
        fig.add_shape(type="rect", xref="x", x0=start, x1=end, yref="paper", y0=0, y1=1,
                      line=dict(color=PREDICTED_COLOR, dash="dash", width=1), fillcolor="rgba(124,58,237,0.06)")
        fig.add_annotation(x=start, y=1.0, xref="x", yref="paper", yanchor="bottom", xanchor="left", text=label,
                           showarrow=False, font=dict(size=10, color=PREDICTED_COLOR))


def msfd_figure(msfd_df: pd.DataFrame, duration_s: float, windows: Sequence[Window] = ()) -> go.Figure:
    """MSFD modality weights per stage (the paper's Fig. 7): stacked V/F/A areas over
    each step's real window; the last stage is one bar over the whole routine."""
    stages = sorted(int(s) for s in msfd_df["stage"].unique())
    fig = make_subplots(rows=max(len(stages), 1), cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=[f"MSFD weights, stage {s}" for s in stages])
    for i, stage in enumerate(stages, start=1):
        _add_msfd_stage(fig, msfd_df[msfd_df["stage"] == stage], i, showlegend=(i == 1))
    fig.update_xaxes(range=[0, duration_s])
    fig.update_xaxes(title_text="time (s)", row=max(len(stages), 1), col=1)
    _mark_windows(fig, windows)
    return _base_layout(fig, 150 + 130 * len(stages))


def fusion_count_figure(count_df: pd.DataFrame, duration_s: float) -> go.Figure:
    """FusionNets enabled by the PolicyNet over time per stage, with K marked (Fig. 8)."""
    fig = make_subplots(rows=1, cols=1)
    if len(count_df):
        _add_counts(fig, count_df, 1)
    fig.update_xaxes(range=[0, duration_s], title_text="time (s)")
    fig.update_yaxes(title_text="FusionNets")
    return _base_layout(fig, 300, title="PolicyNet decisions: FusionNets enabled")


def waveform_figure(wave_df: pd.DataFrame) -> go.Figure:
    """The audio waveform on the time axis in seconds."""
    fig = make_subplots(rows=1, cols=1)
    _add_waveform(fig, wave_df, 1)
    fig.update_xaxes(title_text="time (s)")
    return _base_layout(fig, 220, title="Audio waveform")


def scores_figure(scores_df: pd.DataFrame, label_scale: float) -> go.Figure:
    """Judged vs. predicted score and each modality branch's own score, in the data set's units."""
    colors = [
        JUDGED_COLOR if kind == "judged" else PREDICTED_COLOR if kind == "predicted" else MODALITY_COLORS[m]
        for kind, m in zip(scores_df["kind"], scores_df["modality"])
    ]
    fig = go.Figure(go.Bar(
        x=scores_df["score"], y=scores_df["label"], orientation="h", marker_color=colors,
        text=[f"{s:.2f}" for s in scores_df["score"]], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.2f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(range=[0, label_scale], title_text=f"score (0 to {label_scale:g})")
    return _base_layout(fig, 90 + 38 * len(scores_df), title="Scores", showlegend=False)


def timeline_figure(
    msfd_df: pd.DataFrame,
    count_df: pd.DataFrame,
    duration_s: float,
    wave_df: pd.DataFrame | None = None,
    occlusion_df: pd.DataFrame | None = None,
    windows: Sequence[Window] = (),
) -> go.Figure:
    """Everything on one time axis for the synced player: waveform, MSFD weights per
    stage, FusionNet counts and the occlusion impact, as rows sharing the x axis."""
    rows: list[tuple[str, float]] = []
    if wave_df is not None and len(wave_df):
        rows.append(("Audio waveform", 0.6))
    stages = sorted(int(s) for s in msfd_df["stage"].unique()) if len(msfd_df) else []
    rows += [(f"MSFD weights, stage {s}", 1.0 if s < 3 else 0.6) for s in stages]
    if len(count_df):
        rows.append(("FusionNets enabled (PolicyNet)", 1.0))
    if occlusion_df is not None and len(occlusion_df):
        rows.append(("Score impact of each window (points)", 0.9))
    if not rows:
        raise ValueError("nothing to draw on the timeline: no waveform, MSFD weights, FusionNet counts or occlusion")
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.045,
                        row_heights=[h for _, h in rows], subplot_titles=[t for t, _ in rows])
    for i, (title, _) in enumerate(rows, start=1):
        if title == "Audio waveform":
            _add_waveform(fig, wave_df, i)
        elif title.startswith("MSFD"):
            stage = int(title.rsplit(" ", 1)[1])
            _add_msfd_stage(fig, msfd_df[msfd_df["stage"] == stage], i, showlegend=(stage == stages[0]))
        elif title.startswith("FusionNets"):
            _add_counts(fig, count_df, i)
        else:
            _add_occlusion(fig, occlusion_df, i)
    fig.update_xaxes(range=[0, duration_s], showspikes=False)
    fig.update_xaxes(title_text="time (s)", row=len(rows), col=1)
    for annotation in fig.layout.annotations[: len(rows)]:
        annotation.update(x=0, xanchor="left", font=dict(size=12, color="#374151"))
    _mark_windows(fig, windows)
    return _base_layout(fig, 130 + int(sum(110 * h for _, h in rows)), dragmode=False,
                        margin=dict(l=50, r=20, t=80, b=40),
                        legend=dict(orientation="h", yref="container", y=0.995, yanchor="top", xanchor="right", x=1.0))
