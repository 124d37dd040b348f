"""Presentation exports: plotly figures as self-contained HTML, the browser's PNG export
settings, and a routine's report (scores, figures, explanations) as ONE HTML file.

Everything is self-contained: plotly.js is inlined from the plotly package (no CDN),
so the files open offline and can be mailed or dropped into slides.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from pamfn import __version__
from pamfn.atomic import write_text_atomic
from pamfn.decisions import FIG5_CAPTION
from pamfn.explanation import Explanation
from pamfn.insights import Insight, clock, coach_insights
from pamfn.viz import research
from pamfn.viz.colors import JUDGED_COLOR, MODALITY_COLORS, PREDICTED_COLOR
from pamfn.viz.figures import fusion_count_figure, msfd_figure, scores_figure, timeline_figure
from pamfn.viz.tables import fusion_count_table, msfd_table, scores_table

PNG_SCALE = 3
"""PNG export scale: a 900-pixel-wide figure exports at 2700 pixels, enough for slides."""


def export_name(*parts: str) -> str:
    """A file-name-safe stem from parts, e.g. ``("Ball 01", "MSFD")`` -> ``"ball-01_msfd"``."""
    cleaned = [re.sub(r"[^a-z0-9]+", "-", str(p).lower()).strip("-") for p in parts if p]
    return "_".join(c for c in cleaned if c) or "figure"


def plotly_config(filename: str, scale: int = PNG_SCALE) -> dict:
    """plotly.js config: the modebar's camera button saves a PNG named ``filename``.png
    at ``scale`` times the on-screen size; no plotly logo, no links to plotly's cloud."""
    return {
        "displaylogo": False,
        "showSendToCloud": False,
        "toImageButtonOptions": {"format": "png", "filename": export_name(filename), "scale": scale},
        "modeBarButtonsToRemove": ["lasso2d", "select2d"],
    }


def figure_html(fig: go.Figure, title: str) -> str:
    """One figure as a standalone HTML page titled ``title``, plotly.js inlined (opens offline)."""
    body = pio.to_html(fig, include_plotlyjs=True, full_html=False, config=plotly_config(title), default_width="100%")
    return _page(title, body, plotly_js="")


def _fragment(fig: go.Figure, name: str) -> str:
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, config=plotly_config(name), default_width="100%")


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937;
       max-width: 1100px; margin: 2rem auto; padding: 0 1.25rem; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem;
     border-bottom: 1px solid #e5e7eb; padding-bottom: .3rem; }
.meta { color: #6b7280; font-size: .9rem; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1.2rem 0; }
.card { border: 1px solid #e5e7eb; border-radius: .6rem; padding: .7rem 1rem; min-width: 9rem; }
.card .label { color: #6b7280; font-size: .8rem; } .card .value { font-size: 1.6rem; font-weight: 600; }
table { border-collapse: collapse; font-size: .9rem; } td, th { padding: .3rem .8rem; border-bottom: 1px solid #f0f0f0; text-align: left; }
ul.insights li { margin: .35rem 0; } .kind { font-size: .75rem; color: #fff; border-radius: .3rem; padding: .05rem .35rem; margin-right: .4rem; }
footer { margin-top: 3rem; color: #9ca3af; font-size: .8rem; }
"""

_KIND_COLOR = {"moment": PREDICTED_COLOR, "modality": MODALITY_COLORS["A"], "fusion": JUDGED_COLOR}


def _page(title: str, body: str, plotly_js: str) -> str:
    script = f"<script type=\"text/javascript\">{plotly_js}</script>" if plotly_js else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{html.escape(title)}</title>\n"
        f"<style>{_CSS}</style>\n{script}\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _markdown_bold(text: str) -> str:
    """Escape ``text`` and turn the insights' ``**bold**`` into ``<strong>``."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))


def _card(label: str, value: str) -> str:
    return f"<div class=\"card\"><div class=\"label\">{html.escape(label)}</div><div class=\"value\">{html.escape(value)}</div></div>"


def routine_figures(e: Explanation, occlusion: pd.DataFrame | None = None) -> list[tuple[str, str, go.Figure]]:
    """A routine's figure set, as (heading, file name, figure): the scores, the timeline
    with each window's score impact (when ``occlusion`` is given), the MSFD weights per
    stage (Fig. 7), the FusionNet counts (Fig. 8) and the decision frequencies (Fig. 5's
    definition). The report and the dashboard show the same set."""
    msfd, counts, scores = msfd_table(e), fusion_count_table(e), scores_table(e)
    figures: list[tuple[str, str, go.Figure]] = [("Scores", "scores", scores_figure(scores, e.label_scale))]
    if occlusion is not None and len(occlusion):
        figures.append(
            ("Timeline and each window's score impact", "timeline", timeline_figure(msfd, counts, e.duration_s, occlusion_df=occlusion))
        )
    if len(msfd):
        figures.append(("MSFD modality weights per stage (Fig. 7)", "msfd", msfd_figure(msfd, e.duration_s)))
    if len(counts):
        figures.append(("PolicyNet decisions: expected FusionNet count of the stochastic policy (as Fig. 8, which draws them)", "fusionnets",
                        fusion_count_figure(counts, e.duration_s)))
    expected = research.decision_frequencies([e], "expected")
    if len(expected):
        fig5 = research.decision_frequency_figure(expected, research.policy_entropy([e]), research.decision_frequencies([e], "argmax"),
                                                  title="This routine")
        figures.append(("PolicyNet decision frequencies (Fig. 5's definition)", "fig5", fig5))
    return figures


def ood_text(e: Explanation) -> str:
    """The routine's distance from the checkpoint's training distribution, in words."""
    if e.ood_distance is None:
        return "unknown (the checkpoint has no training feature statistics)"
    where = "OUTSIDE" if e.out_of_distribution else "inside"
    return f"{e.ood_distance:.2f} ({where}; threshold {e.ood_threshold:.2f})"


def routine_report(
    explanation: Explanation,
    *,
    occlusion: pd.DataFrame | None = None,
    insights: Sequence[Insight] | None = None,
    details: Mapping[str, str] | None = None,
    title: str | None = None,
) -> str:
    """A routine's report as one self-contained HTML page.

    Holds the scores (predicted, judged, each branch), the timeline of MSFD weights,
    FusionNet counts and (when ``occlusion`` is given) each window's score impact, the
    per-stage figures, and the plain-language explanations. ``insights`` default to
    :func:`pamfn.insights.coach_insights`; ``details`` adds rows to the header table
    (e.g. data set, checkpoint, source video).
    """
    e = explanation
    title = title or f"PAMFN report: {e.routine_id}"
    insights = list(insights) if insights is not None else coach_insights(e, occlusion)
    stem = export_name(e.routine_id)

    cards = [_card("Predicted score", f"{e.score:.2f}")]
    if e.judged_score is not None:
        cards += [_card("Judged score", f"{e.judged_score:.2f}"), _card("Error", f"{e.score - e.judged_score:+.2f}")]
    cards += [_card(f"{m} branch", f"{s:.2f}") for m, s in e.branch_scores.items()]
    rows = {
        "Routine": e.routine_id,
        "Action": e.action or "-",
        "Duration": f"{clock(e.duration_s)} ({e.duration_s:.1f} s)",
        "Score scale": f"0 to {e.label_scale:g}",
        "FusionNets (K)": str(e.K),
        "Explanation mode": e.mode,
        "Checkpoint": e.checkpoint or "-",
        "Distance from the training routines": ood_text(e),
        **dict(details or {}),
    }
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows.items())

    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class=\"meta\">Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by PAMFN Studio {__version__}</p>",
        *(f"<p class=\"warning\" style=\"padding:.6em 1em;border-left:4px solid #d62728;background:#fdecea\">"
          f"{html.escape(w)}</p>" for w in e.warnings),
        f"<div class=\"cards\">{''.join(cards)}</div>",
        f"<table>{table}</table>",
        "<h2>What the model saw</h2>",
    ]
    if insights:
        items = "".join(
            f"<li><span class=\"kind\" style=\"background:{_KIND_COLOR.get(i.kind, JUDGED_COLOR)}\">{html.escape(i.kind)}</span>"
            f"{_markdown_bold(i.text)}</li>"
            for i in insights
        )
        sections.append(f"<ul class=\"insights\">{items}</ul>")
    else:
        sections.append("<p>No statement stands out for this routine.</p>")
    figures = routine_figures(e, occlusion)
    for heading, name, fig in figures:
        sections += [f"<h2>{html.escape(heading)}</h2>", _fragment(fig, f"{stem}_{name}")]
        if name == "fig5":
            sections.append(f"<p>{html.escape(FIG5_CAPTION)}</p>")
    sections.append(
        "<footer>Scores are in the data set's units. MSFD weights: how much each modality's "
        "features the Modality-specific Feature Decoder drew on at each step (rows sum to 1). "
        "FusionNet count: how many ranked FusionNets the PolicyNet enabled (1 to K).</footer>"
    )
    from plotly.offline import get_plotlyjs

    return _page(title, "\n".join(sections), plotly_js=get_plotlyjs())


def write_report(path: str | os.PathLike[str], document: str) -> Path:
    """Write an HTML document atomically and return its path."""
    path = Path(path)
    write_text_atomic(path, document)
    return path


def write_figure(fig: go.Figure, stem: str | os.PathLike[str], title: str | None = None) -> list[Path]:
    """Write ``stem.html`` (self-contained) and, when kaleido is installed, ``stem.png``; the paths written."""
    from pamfn.atomic import write_bytes_atomic

    stem = Path(stem)
    html_path = stem.with_suffix(".html")
    write_text_atomic(html_path, figure_html(fig, title or stem.name))
    written = [html_path]
    try:
        png = pio.to_image(fig, format="png", scale=2)
    except (ImportError, ValueError, RuntimeError):  # no kaleido (or no browser for it): the HTML stands alone
        return written
    write_bytes_atomic(stem.with_suffix(".png"), png)
    return [*written, stem.with_suffix(".png")]
