"""Widget choices that survive a change of page.

Streamlit forgets a widget's value when a run does not draw it, so a filter set on one
page is gone after a visit to another. :func:`remembered` keeps each value under a key
of its own and gives it back when the widget is drawn again, fitted to what the widget
now offers (the options change with the data set).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

T = TypeVar("T")
KEPT = "remembered:"


def remembered(widget: Callable[..., T], label: str, *, key: str, default: Any,
               fit: Callable[[Any], Any] | None = None, **kwargs: Any) -> T:
    """``widget(label, key=key, **kwargs)`` starting from its last value in this session
    (else ``default``), passed through ``fit``; pass no ``default``/``value`` of the widget's own."""
    value = st.session_state[key] if key in st.session_state else st.session_state.get(KEPT + key, default)
    st.session_state[key] = fit(value) if fit is not None else value
    st.session_state[KEPT + key] = out = widget(label, key=key, **kwargs)
    return out


def among(options: Sequence[Any]) -> Callable[[list[Any]], list[Any]]:
    """A multiselect's ``fit``: keep the chosen values still offered; when none is (another
    data set), choose them all. An empty choice stays empty."""
    def fit(chosen: list[Any]) -> list[Any]:
        kept = [v for v in chosen if v in options]
        return kept if kept or not chosen else list(options)
    return fit


def one_of(options: Sequence[Any], fallback: Any) -> Callable[[Any], Any]:
    """A selectbox's ``fit``: the chosen value if still offered, else ``fallback``."""
    return lambda chosen: chosen if chosen in options else fallback
