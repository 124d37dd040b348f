"""Plotly figures of PAMFN's explanations, built from the tidy tables of
:mod:`pamfn.viz.tables` (pure functions: tables in, figure out).

Every time series shares one x axis in seconds, so the same builders serve the synced
player (one figure, one playhead) and exported figures for slides. A figure is a stack
of panels (one y axis each, all matching the first x axis); traces, axes and shapes are
assembled as plain specs and validated once by ``go.Figure`` (several times faster than
growing a figure call by call, which matters when a routine is opened).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pamfn import MODALITIES
from pamfn.viz.colors import (
    FUSION_COLOR,
    GRID_COLOR,
    HIGHLIGHT_COLOR,
    JUDGED_COLOR,
    MODALITY_COLORS,
    PREDICTED_COLOR,
    WAVEFORM_COLOR,
    WINDOW_COLOR,
    modality_fill,
    modality_label,
    rgba,
)

STAGE_DASH = {1: "solid", 2: "dot", 3: "dash"}
TITLE_COLOR = "#374151"
Window = tuple[float, float, str]
"""A marked time window: start second, end second, label."""
Spec = dict[str, Any]


@dataclass
class Panel:
    """One row of a stacked figure: its traces, y axis settings, shapes and annotations.
    Traces and shapes use the placeholders ``"x"`` / ``"y"``; :func:`stacked` maps them
    to the panel's own axes."""

    title: str
    weight: float
    traces: list[Spec]
    yaxis: Spec = field(default_factory=dict)
    shapes: list[Spec] = field(default_factory=list)
    annotations: list[Spec] = field(default_factory=list)


def _steps_xy(start: np.ndarray, end: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each step drawn flat over its own window [start, end)."""
    x = np.column_stack([start, end]).ravel()
    return x, np.repeat(np.asarray(y, dtype=np.float64), 2)


def _layout(height: int, **overrides: Any) -> Spec:
    """The common look of every figure."""
    layout: Spec = dict(
        template="plotly_white",
        height=height,
        margin=dict(l=70, r=20, t=40, b=40),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        hovermode="x",
        font=dict(size=12),
    )
    layout.update(overrides)
    return layout


def _axis(**settings: Any) -> Spec:
    return dict(gridcolor=GRID_COLOR, zeroline=False, **settings)


def _ref(ref: str, n: str) -> str:
    """Map a placeholder axis reference ("x", "y", "x domain", "paper") to panel ``n``'s axes."""
    if ref in ("x", "y"):
        return f"{ref}{n}"
    if ref in ("x domain", "y domain"):
        return f"{ref[0]}{n} domain"
    return ref


def stacked(
    panels: Sequence[Panel],
    duration_s: float,
    height: int,
    windows: Sequence[Window] = (),
    spacing: float = 0.045,
    **layout: Any,
) -> go.Figure:
    """Stack ``panels`` top to bottom on one time axis [0, duration_s] in seconds, each
    with its title at its top left; ``windows`` are marked across all panels."""
    if not panels:
        raise ValueError("a stacked figure needs at least one panel")
    total = sum(p.weight for p in panels)
    usable = 1.0 - spacing * (len(panels) - 1)
    spec_layout = _layout(height, **layout)
    data: list[Spec] = []
    shapes: list[Spec] = []
    annotations: list[Spec] = []
    top = 1.0
    for i, panel in enumerate(panels, start=1):
        n = "" if i == 1 else str(i)
        bottom = top - usable * panel.weight / total
        last = i == len(panels)
        spec_layout[f"xaxis{n}"] = _axis(
            domain=[0, 1], anchor=f"y{n}", range=[0, duration_s], showticklabels=last, showspikes=False,
            **({"matches": "x"} if i > 1 else {}), **({"title": {"text": "time (s)"}} if last else {}),
        )
        spec_layout[f"yaxis{n}"] = _axis(domain=[max(bottom, 0.0), top], anchor=f"x{n}", **panel.yaxis)
        for trace in panel.traces:
            data.append({**trace, "xaxis": f"x{n}", "yaxis": f"y{n}"})
        for shape in panel.shapes:
            shapes.append({**shape, "xref": _ref(shape["xref"], n), "yref": _ref(shape["yref"], n)})
        for note in panel.annotations:
            annotations.append({**note, "xref": _ref(note["xref"], n), "yref": _ref(note["yref"], n)})
        annotations.append(dict(text=panel.title, x=0, xref="paper", xanchor="left", y=top, yref="paper",
                                yanchor="bottom", showarrow=False, font=dict(size=12, color=TITLE_COLOR)))
        top = bottom - spacing
    for start, end, label in windows:
        shapes.append(dict(type="rect", xref="x", x0=start, x1=end, yref="paper", y0=0, y1=1,
                           line=dict(color=WINDOW_COLOR, dash="dash", width=1), fillcolor=rgba(WINDOW_COLOR, 0.06)))
        annotations.append(dict(x=start, y=1.0, xref="x", yref="paper", yanchor="bottom", xanchor="left", text=label,
                                showarrow=False, font=dict(size=10, color=WINDOW_COLOR)))
    spec_layout["shapes"] = shapes
    spec_layout["annotations"] = annotations
    return go.Figure(dict(data=data, layout=spec_layout))


def msfd_panel(stage_df: pd.DataFrame, showlegend: bool, duration_s: float | None = None) -> Panel:
    """Stacked areas of the V/F/A weights of one stage, each step over its real window; a
    second or more at the routine's end that no step covers (pooling drops trailing
    segments) is greyed and named in the title when ``duration_s`` is given."""
    stage = int(stage_df["stage"].iloc[0])
    stage_df = stage_df.sort_values(["step", "modality"])
    wide = stage_df.pivot(index="step", columns="modality", values="weight").reindex(columns=list(MODALITIES))
    spans = stage_df.drop_duplicates("step").set_index("step").loc[wide.index]
    start, end = spans["start_s"].to_numpy(), spans["end_s"].to_numpy()
    traces, base = [], np.zeros(len(wide))
    for m in MODALITIES:
        top = base + wide[m].to_numpy()
        x, y = _steps_xy(start, end, top)
        _, w = _steps_xy(start, end, wide[m].to_numpy())
        traces.append(dict(
            type="scatter", x=x, y=y, customdata=w, mode="lines", line=dict(width=0.5, color=MODALITY_COLORS[m]),
            fill="tozeroy" if m == MODALITIES[0] else "tonexty", fillcolor=modality_fill(m),
            name=modality_label(m), legendgroup=m, showlegend=showlegend,
            hovertemplate=f"{modality_label(m)}: %{{customdata:.2f}}<extra></extra>",
        ))
        base = top
    title, shapes = f"MSFD weights, stage {stage}", []
    tail = 0.0 if duration_s is None or not len(end) else duration_s - float(end.max())
    if tail >= 1.0:  # shorter tails are a last partial segment, on almost every routine: not worth a title
        title += f" (no step covers the last {tail:.1f} s)"
        shapes.append(dict(type="rect", xref="x", x0=float(end.max()), x1=duration_s, yref="y", y0=0, y1=1,
                           fillcolor="rgba(120,120,120,0.15)", line=dict(width=0), layer="below"))
    return Panel(title, 1.0 if stage < 3 else 0.6, traces, yaxis=dict(range=[0, 1], tickvals=[0, 0.5, 1]), shapes=shapes)


def fusion_count_panel(count_df: pd.DataFrame) -> Panel:
    """The PolicyNet's expected FusionNet count per stage as steps (the paper's stochastic
    policy; the explanation's own decisions where there are no probabilities), with K as
    a dashed line."""
    traces = []
    column = "expected" if "expected" in count_df and count_df["expected"].notna().all() else "count"
    for stage, part in count_df.groupby("stage"):
        part = part.sort_values("step")
        x, y = _steps_xy(part["start_s"].to_numpy(), part["end_s"].to_numpy(), part[column].to_numpy())
        traces.append(dict(
            type="scatter", x=x, y=y, mode="lines",
            line=dict(color=FUSION_COLOR, width=2, dash=STAGE_DASH.get(int(stage), "solid")),
            name=f"FusionNets, stage {stage}",
            hovertemplate=f"stage {stage}: %{{y:.{2 if column == 'expected' else 0}f}} FusionNets"
                          f"{' expected' if column == 'expected' else ''}<extra></extra>",
        ))
    K = int(count_df["K"].iloc[0])
    line = dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=K, y1=K,
                line=dict(color=JUDGED_COLOR, dash="dash", width=1))
    note = dict(xref="x domain", x=1, yref="y", y=K, text=f"K = {K}", showarrow=False, xanchor="right",
                yanchor="bottom", font=dict(size=10, color=JUDGED_COLOR))
    title = "FusionNets enabled (PolicyNet, expected count)" if column == "expected" else "FusionNets enabled (PolicyNet)"
    return Panel(title, 1.0, traces,
                 yaxis=dict(range=[0, K + 0.9], dtick=1 if K <= 6 else 2), shapes=[line], annotations=[note])


def waveform_panel(wave_df: pd.DataFrame) -> Panel:
    """The audio's min/max envelope, filled."""
    t = wave_df["time_s"].to_numpy()
    line = dict(width=0.6, color=WAVEFORM_COLOR)
    traces = [
        dict(type="scatter", x=t, y=wave_df["hi"].to_numpy(), mode="lines", line=line, showlegend=False,
             hoverinfo="skip"),
        dict(type="scatter", x=t, y=wave_df["lo"].to_numpy(), mode="lines", line=line, fill="tonexty",
             fillcolor=modality_fill("A", 0.45), name="Audio waveform", showlegend=False, hoverinfo="skip"),
    ]
    peak = float(max(np.abs(wave_df[["lo", "hi"]].to_numpy()).max(), 1e-6)) if len(wave_df) else 1.0
    return Panel("Audio waveform", 0.6, traces, yaxis=dict(range=[-peak, peak], showticklabels=False))


def occlusion_panel(occ_df: pd.DataFrame) -> Panel:
    """Points each window adds to (up) or takes from (down) the score, with its noise as an
    error bar; windows within their noise are grey (:mod:`pamfn.occlusion`)."""
    centers = ((occ_df["start_s"] + occ_df["end_s"]) / 2).to_numpy()
    widths = (occ_df["end_s"] - occ_df["start_s"]).to_numpy() * 0.92
    impact = occ_df["impact"].to_numpy()
    significant = occ_df["significant"].to_numpy(bool) if "significant" in occ_df else np.ones(len(impact), bool)
    colors = np.where(~significant, "#9ca3af", np.where(impact >= 0, "#16a34a", "#dc2626")).tolist()
    noise = occ_df["noise"].to_numpy() if "noise" in occ_df else np.zeros(len(impact))
    bar = dict(type="bar", x=centers, y=impact, width=widths, marker=dict(color=colors), showlegend=False,
               error_y=dict(type="data", array=noise, thickness=1, width=2, color="#6b7280"), customdata=noise,
               name="Score impact", hovertemplate="%{y:+.2f} ± %{customdata:.2f} points<extra></extra>")
    return Panel("Score impact of each window (points ± noise; grey: within noise)", 0.9, [bar])


def highlight_panel(hl_df: pd.DataFrame, threshold: float = 0.5) -> Panel:
    """Each segment's highlight probability (the highlight detector of Section IV-G) as a
    bar over the segment's window, in the legend, with the threshold marked and named."""
    centers = ((hl_df["start_s"] + hl_df["end_s"]) / 2).to_numpy()
    widths = (hl_df["end_s"] - hl_df["start_s"]).to_numpy() * 0.92
    probability = hl_df["probability"].to_numpy()
    bar = dict(type="bar", x=centers, y=probability, width=widths, marker=dict(color=HIGHLIGHT_COLOR),
               name="Highlight probability", hovertemplate="highlight %{y:.2f}<extra></extra>")
    line = dict(type="line", xref="x domain", x0=0, x1=1, yref="y", y0=threshold, y1=threshold,
                line=dict(color=JUDGED_COLOR, dash="dot", width=1))
    note = dict(xref="x domain", x=1, yref="y", y=threshold, text=f"highlight threshold {threshold:g}", showarrow=False,
                xanchor="right", yanchor="bottom", font=dict(size=10, color=JUDGED_COLOR), bgcolor="rgba(255,255,255,0.85)")
    return Panel("Highlight probability per segment", 0.8, [bar], yaxis=dict(range=[0, 1]), shapes=[line], annotations=[note])


def msfd_figure(msfd_df: pd.DataFrame, duration_s: float, windows: Sequence[Window] = ()) -> go.Figure:
    """MSFD modality weights per stage (the paper's Fig. 7): stacked V/F/A areas over
    each step's real window; the last stage is one bar over the whole routine."""
    stages = sorted(int(s) for s in msfd_df["stage"].unique())
    panels = [msfd_panel(msfd_df[msfd_df["stage"] == s], showlegend=(i == 0), duration_s=duration_s)
              for i, s in enumerate(stages)]
    return stacked(panels, duration_s, 150 + 130 * len(stages), windows=windows, spacing=0.07)


def fusion_count_figure(count_df: pd.DataFrame, duration_s: float) -> go.Figure:
    """FusionNets enabled by the PolicyNet over time per stage, with K marked (Fig. 8); the
    panel's title is the only one (a heading above it names the figure)."""
    fig = stacked([fusion_count_panel(count_df)], duration_s, 300)
    return fig.update_yaxes(title_text="FusionNets")


def scores_figure(scores_df: pd.DataFrame, label_scale: float) -> go.Figure:
    """Judged vs. predicted score and each modality branch's own score, in the data set's units
    (untitled: the report and the dashboard show it under their heading)."""
    colors = [
        JUDGED_COLOR if kind == "judged" else PREDICTED_COLOR if kind == "predicted" else MODALITY_COLORS[m]
        for kind, m in zip(scores_df["kind"], scores_df["modality"])
    ]
    bar = dict(
        type="bar", x=scores_df["score"].tolist(), y=scores_df["label"].tolist(), orientation="h",
        marker=dict(color=colors), text=[f"{s:.2f}" for s in scores_df["score"]], textposition="outside",
        cliponaxis=False, hovertemplate="%{y}: %{x:.2f}<extra></extra>",
    )
    layout = _layout(90 + 38 * len(scores_df), showlegend=False,
                     xaxis=_axis(range=[0, label_scale], title=dict(text=f"score (0 to {label_scale:g})")),
                     yaxis=_axis(autorange="reversed"))
    return go.Figure(dict(data=[bar], layout=layout))


def timeline_figure(
    msfd_df: pd.DataFrame,
    count_df: pd.DataFrame,
    duration_s: float,
    wave_df: pd.DataFrame | None = None,
    occlusion_df: pd.DataFrame | None = None,
    windows: Sequence[Window] = (),
    highlight_df: pd.DataFrame | None = None,
) -> go.Figure:
    """Everything on one time axis for the synced player: waveform, MSFD weights per
    stage, FusionNet counts, the occlusion impact and (with a highlight detector) each
    segment's highlight probability, as rows sharing the x axis."""
    panels: list[Panel] = []
    if wave_df is not None and len(wave_df):
        panels.append(waveform_panel(wave_df))
    stages = sorted(int(s) for s in msfd_df["stage"].unique()) if len(msfd_df) else []
    panels += [msfd_panel(msfd_df[msfd_df["stage"] == s], showlegend=(i == 0), duration_s=duration_s)
               for i, s in enumerate(stages)]
    if len(count_df):
        panels.append(fusion_count_panel(count_df))
    if occlusion_df is not None and len(occlusion_df):
        panels.append(occlusion_panel(occlusion_df))
    if highlight_df is not None and len(highlight_df):
        panels.append(highlight_panel(highlight_df))
    if not panels:
        raise ValueError("nothing to draw on the timeline: no waveform, MSFD weights, FusionNet counts or occlusion")
    height = 130 + int(sum(110 * p.weight for p in panels))
    return stacked(panels, duration_s, height, windows=windows, dragmode=False, margin=dict(l=50, r=20, t=80, b=40),
                   legend=dict(orientation="h", yref="container", y=0.995, yanchor="top", xanchor="right", x=1.0))
