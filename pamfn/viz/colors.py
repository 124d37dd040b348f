"""One colour scheme for the modalities and the scores, used by every figure."""

from __future__ import annotations

from pamfn import MODALITIES, MODALITY_NAMES

MODALITY_COLORS: dict[str, str] = {"V": "#3b6fd4", "F": "#f08a24", "A": "#1fa187"}
"""RGB (V) blue, optical flow (F) orange, audio (A) teal."""

JUDGED_COLOR = "#6b7280"
PREDICTED_COLOR = "#7c3aed"
PLAYHEAD_COLOR = "#e11d48"
WAVEFORM_COLOR = MODALITY_COLORS["A"]
FUSION_COLOR = "#7c3aed"
GRID_COLOR = "rgba(120,120,120,0.18)"
WINDOW_COLOR = "#7c3aed"
"""The stretch an explanation rests on, shaded on the charts and over the player's figure."""
HIGHLIGHT_COLOR = "#c026d3"
"""Highlight probabilities (magenta): no modality's hue (blue, orange, teal) nor the scores'."""


def modality_label(m: str) -> str:
    """Legend label of a modality, e.g. ``"RGB (V)"``."""
    return f"{MODALITY_NAMES[m]} ({m})"


def rgba(color: str, alpha: float) -> str:
    """A ``#rrggbb`` colour as an rgba string with transparency ``alpha``."""
    hex_color = color.lstrip("#")
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def modality_fill(m: str, alpha: float = 0.55) -> str:
    """The modality's colour as an rgba string with transparency ``alpha``."""
    return rgba(MODALITY_COLORS[m], alpha)


__all__ = ["MODALITIES", "MODALITY_COLORS", "modality_label", "modality_fill"]
