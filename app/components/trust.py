"""What a score is worth: its distance from the checkpoint's training routines and, when it
lies outside them or sits at an end of the scale, a plain sentence (:mod:`pamfn.ood`)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app.components.text import md
from pamfn.explanation import Explanation
from pamfn.ood import clipped_end
from pamfn.report import ood_text


def score_trust(e: Explanation) -> None:
    """Warnings for one score, then its distance from the training routines in a caption."""
    for sentence in e.warnings:
        st.warning(md(sentence), icon=":material/report:")
    st.caption(f"Distance from the checkpoint's training routines: {ood_text(e)}.")


def split_trust(explanations: Sequence[Explanation]) -> None:
    """How many scores of a set lie outside the training distribution or at an end of the scale."""
    far = [e.routine_id for e in explanations if e.out_of_distribution]
    clipped = [e.routine_id for e in explanations if clipped_end(e.score_norm)]
    unlike = [e.routine_id for e in explanations if e.length_unlike]
    if far:
        st.warning(f"{len(far)} of {len(explanations)} routines are unlike anything this checkpoint was trained on; "
                   f"their scores are not meaningful: {_listed(far)}",
                   icon=":material/report:")
    if unlike:
        st.warning(f"{len(unlike)} of {len(explanations)} routines are shorter or longer than this checkpoint's training "
                   f"routines; their scores were never checked at that length: {_listed(unlike)}", icon=":material/report:")
    if clipped:
        st.warning(f"{len(clipped)} prediction(s) clipped to an end of the score scale: {_listed(clipped)}",
                   icon=":material/report:")
    known = [e for e in explanations if e.ood_distance is not None]
    if known and not far:
        st.caption(f"All {len(known)} routines lie within the checkpoint's training distribution "
                   f"(largest distance {max(e.ood_distance for e in known):.2f}, threshold {known[0].ood_threshold:.2f}).")


def _listed(routine_ids: Sequence[str], most: int = 8) -> str:
    """The first ``most`` routine ids, with an ellipsis when there are more."""
    return ", ".join(md(r) for r in routine_ids[:most]) + (" …" if len(routine_ids) > most else "")
