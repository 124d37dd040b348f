"""Page layout helpers shared by the views."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


def metric_row() -> DeltaGenerator:
    """A row for ``metric(..., width="content")`` calls that wraps on a narrow page
    instead of clipping labels and values."""
    return st.container(horizontal=True, wrap=True, gap="medium")
