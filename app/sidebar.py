"""The sidebar every page shares: the data set and checkpoint chosen (kept in session
state, so every page sees it) and the device the model runs on. The entry script calls
:func:`sidebar_source` once per run, before the page, and :func:`sidebar_device` after it."""

from __future__ import annotations

import streamlit as st

from app.source import Source, cli_source
from app.state import CHECKPOINT_KEY, DATA_KEY, checkpoint_set, current_source, device


def sidebar_source() -> Source:
    """Draw the data set / checkpoint choice in the sidebar, start loading the chosen
    checkpoints in the background and return the choice."""
    default = cli_source()
    st.session_state.setdefault(DATA_KEY, default.data_dir)
    st.session_state.setdefault(CHECKPOINT_KEY, default.checkpoint_dir)
    with st.sidebar.expander("Data set and checkpoint", expanded=False):
        st.text_input("Data set folder", key=DATA_KEY, help="A folder with dataset.json, labels.csv, features/, media/")
        st.text_input("Checkpoint folder", key=CHECKPOINT_KEY, help="A checkpoint, or a folder with index.json per action")
    src = current_source()
    checkpoint_set(src)
    return src


def sidebar_device() -> None:
    """Say in the sidebar which device the model runs on (imports torch: call it last)."""
    st.sidebar.caption(f"Model runs on **{device().upper()}**")
