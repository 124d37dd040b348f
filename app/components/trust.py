"""What a score is worth: its distance from the checkpoint's training routines and, when it
lies outside them or sits at an end of the scale, a plain sentence (:mod:`pamfn.ood`)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from pamfn.explanation import Explanation
from pamfn.ood import clipped_end
from pamfn.report import ood_text


def score_trust(e: Explanation) -> None:
    """Warnings for one score, then its distance from the training routines in a caption."""
    for sentence in e.warnings:
        st.warning(sentence, icon=":material/report:")
    st.caption(f"Distance from the checkpoint's training routines: {ood_text(e)}.")


def split_trust(explanations: Sequence[Explanation]) -> None:
    """How many scores of a set lie outside the training distribution or at an end of the scale."""
    far = [e.routine_id for e in explanations if e.out_of_distribution]
    clipped = [e.routine_id for e in explanations if clipped_end(e.score_norm)]
    if far:
        st.warning(f"{len(far)} of {len(explanations)} routines are unlike anything this checkpoint was trained on; "
                   f"their scores are not meaningful: {', '.join(far[:8])}{' …' if len(far) > 8 else ''}",
                   icon=":material/report:")
    if clipped:
        st.warning(f"{len(clipped)} prediction(s) clipped to an end of the score scale: {', '.join(clipped[:8])}",
                   icon=":material/report:")
    known = [e for e in explanations if e.ood_distance is not None]
    if known and not far:
        st.caption(f"All {len(known)} routines lie within the checkpoint's training distribution "
                   f"(largest distance {max(e.ood_distance for e in known):.2f}, threshold {known[0].ood_threshold:.2f}).")
