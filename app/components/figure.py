"""The one way the dashboard shows a figure: Streamlit's full-screen button, the modebar's
PNG export (named, 3x) and a download of the figure as self-contained HTML."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from pamfn.report import export_name, figure_html, plotly_config


def show_figure(fig: go.Figure, name: str, key: str) -> None:
    """Draw ``fig`` (exports named ``name``) with its HTML download; ``key`` is unique on the page."""
    st.plotly_chart(fig, config=plotly_config(name), key=f"chart_{key}")
    st.download_button("Download as HTML", lambda: figure_html(fig, name), file_name=f"{export_name(name)}.html",
                       mime="text/html", icon=":material/download:", key=f"html_{key}", on_click="ignore")
