"""Confirmations that survive a rerun.

Anything shown before ``st.rerun()`` is lost with the run that drew it, so an action that
reruns the page calls :func:`confirm_and_rerun`: the message waits in session state and
:func:`show_confirmation`, at the top of every page, shows it once in the next run.
"""

from __future__ import annotations

from typing import Literal, NoReturn

import streamlit as st

KEY = "pamfn_confirmation"


def confirm_and_rerun(message: str, icon: str = ":material/check_circle:", *,
                      scope: Literal["app", "fragment"] = "app", warn: bool = False) -> NoReturn:
    """Keep ``message`` for the next run (as a warning with ``warn``), then rerun."""
    st.session_state[KEY] = (message, icon, warn)
    st.rerun(scope=scope)


def show_confirmation() -> None:
    """Show (once) the confirmation left by the action that reran the page, if any."""
    pending = st.session_state.pop(KEY, None)
    if pending:
        message, icon, warn = pending
        (st.warning if warn else st.success)(message, icon=icon)
