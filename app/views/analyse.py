"""Analyse a new video: upload it, extract its features with a progress bar, score and
explain it with the chosen checkpoint, show the routine view, and keep it in the local
library of routines (``pamfn.routine_library``), which persists across restarts.

An upload is streamed to a private temporary folder; anything that cannot be read as a
video is refused with a clear message and the folder is removed, so nothing
half-written stays behind.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import streamlit as st

from app import state
from app.components.feedback import confirm_and_rerun, show_confirmation
from app.components.remembered import one_of, remembered
from app.components.routine_view import figures_and_report, playable, reset, routine_view, scores_row
from app.components.text import code, md
from app.components.upload import (
    UPLOAD_PREFIX,
    VIDEO_TYPES,
    extract_with_progress,
    size_text,
    stream_to_disk,
    sweep_uploads,
    upload_limit_mb,
)
from pamfn.errors import MediaError, PamfnError
from pamfn.explanation import Explanation
from pamfn.features.registry import extractor_for
from pamfn.occlusion import attach_scan, attached_scan
from pamfn.routine import RoutineFeatures
from pamfn.routine_library import LibraryEntry, RoutineLibrary
from pamfn.serving.routines import explain_with_occlusion

CURRENT = "analyse_current"
DONE = "analyse_done_upload"
REFUSED = "analyse_refused"
REMOVING = "analyse_removing"
VIEW = "analyse"


@dataclass
class Analysis:
    """A scored routine shown on this page: a fresh upload or a library entry."""

    name: str
    source: str  # "upload:<file id>" or "library:<entry id>"
    features: RoutineFeatures
    explanation: Explanation
    occlusion: pd.DataFrame
    media: Path | None
    upload_name: str | None = None
    entry_id: str | None = None


# ---------------------------------------------------------------------------------------
# Upload -> features -> explanation
# ---------------------------------------------------------------------------------------


def score(src: state.Source, feats: RoutineFeatures, action: str | None, judged: float | None) -> tuple[Explanation, pd.DataFrame]:
    """Explanation and occlusion scan of a routine with the checkpoint for ``action``."""
    ckpt = state.checkpoint_for(src, action)
    bar = st.progress(0.0, text="Scoring…")

    def progress(what: str, done: int, total: int) -> None:
        bar.progress(done / total, text=f"{what}: {done} of {total} batches")

    try:
        return explain_with_occlusion(ckpt, feats, action=action, judged_score=judged, device=state.device(),
                                      progress=progress)
    finally:
        bar.empty()


def analyse_upload(uploaded, src: state.Source, action: str | None, judged: float | None) -> Analysis:
    """The whole path for one upload; on any failure its temporary folder is removed."""
    sweep_uploads()
    folder = Path(tempfile.mkdtemp(prefix=UPLOAD_PREFIX))
    try:
        path = stream_to_disk(uploaded, folder)
        stem = Path(uploaded.name).stem
        feats = extract_with_progress(path, extractor_for(state.checkpoint_for(src, action).config), stem)
        expl, occ = score(src, feats, action, judged)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Analysis(stem, f"upload:{uploaded.file_id}", feats, expl, occ, path, upload_name=uploaded.name)


def follow_choices(a: Analysis, src: state.Source, action: str | None, judged: float | None) -> Analysis:
    """An upload re-scored (not re-extracted) after the apparatus or the judges' score changed."""
    if a.explanation.action != action:
        try:
            expl, occ = score(src, a.features, action, judged)
        except PamfnError as exc:
            st.error(f"**{md(a.name)} cannot be scored as {md(action)}.** {md(exc)}", icon=":material/error:")
            return a
        a = replace(a, explanation=expl, occlusion=occ)
    elif a.explanation.judged_score != judged:
        a = replace(a, explanation=replace(a.explanation, judged_score=judged))
    st.session_state[CURRENT] = a
    return a


def discard(analysis: Analysis | None) -> None:
    """Forget the shown analysis; an upload's temporary folder goes with it."""
    if analysis is not None and analysis.source.startswith("upload:") and analysis.media is not None:
        shutil.rmtree(analysis.media.parent, ignore_errors=True)


def _upload_changed() -> None:
    """The uploader's own change (not a visit to another page, which empties it too): a
    removed file takes its unsaved analysis and any refusal with it."""
    if st.session_state.get("analyse_upload") is None:
        st.session_state[DONE] = st.session_state[REFUSED] = None
        current = st.session_state.get(CURRENT)
        if current is not None and current.source.startswith("upload:"):
            show(None)


def _inputs_note(current: Analysis | None, uploaded) -> None:
    """Say what the apparatus and judges' score act on when the routine shown is not the
    file in the uploader (a library entry, or an upload analysed before a change of page)."""
    if current is None:
        return
    if current.source.startswith("library:"):
        st.caption(f":material/info: These choices apply to the next upload; **{md(current.name)}** is shown as saved "
                   f"({md(current.explanation.action or 'no apparatus')}).")
    elif uploaded is None:
        st.caption(f":material/info: **{md(current.name)}** ({md(current.upload_name)}) was analysed earlier in this session and "
                   "is not saved yet: save it to the library to keep it, or upload another video to replace it.")


def _known_video_note(a: Analysis, src: state.Source) -> None:
    """Say so when the upload is a video the data set holds: its score there comes from the
    data set's own features, which need not have been extracted from this file."""
    try:
        routine_id = state.routine_with_media(src, a.features.media_sha256)
    except PamfnError:
        return  # no readable data set: nothing to compare with
    if routine_id is not None:
        st.info(f"This video is the data set's routine **{md(routine_id)}**. Its score here comes from features extracted "
                "from this file; the data set's own features of it may come from elsewhere (a generated set computes "
                "them from its renderer's frames at the extractor's working size, not from the compressed video), so "
                f"the routine view can score {md(routine_id)} differently.", icon=":material/info:")


def show(analysis: Analysis | None) -> None:
    old = st.session_state.get(CURRENT)
    if old is not None and (analysis is None or old.source != analysis.source):
        if analysis is None or old.media != analysis.media:
            discard(old)
        reset(VIEW)
    st.session_state[CURRENT] = analysis


# ---------------------------------------------------------------------------------------
# Library
# ---------------------------------------------------------------------------------------


def from_entry(entry: LibraryEntry) -> Analysis:
    expl = entry.explanation()
    return Analysis(entry.name, f"library:{entry.entry_id}", entry.load_features(), expl, attached_scan(expl), entry.media_path,
                    upload_name=entry.metadata.get("upload_name"), entry_id=entry.entry_id)


def save_panel(library: RoutineLibrary, analysis: Analysis, src: state.Source) -> None:
    with st.form("analyse_save", border=False):
        name_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
        name = name_col.text_input("Name in the library", value=analysis.name, key="analyse_save_name")
        if button_col.form_submit_button("Save to library", icon=":material/bookmark_add:", width="stretch"):
            try:
                entry = library.add(
                    analysis.features, attach_scan(analysis.explanation, analysis.occlusion), analysis.media,
                    name=name.strip() or analysis.name,
                    metadata={"upload_name": analysis.upload_name, "data_dir": src.data_dir, "checkpoint_dir": src.checkpoint_dir},
                )
            except (PamfnError, OSError) as exc:
                st.error(f"Could not save **{md(name)}** to the library ({md(library.root)}): {md(exc)}")
                return
            discard(analysis)
            st.session_state[CURRENT] = from_entry(entry)
            confirm_and_rerun(f"Saved **{md(entry.name)}** to the library", icon=":material/bookmark_added:")


def library_panel(library: RoutineLibrary) -> None:
    entries = library.entries()
    st.subheader("Library", anchor=False)
    st.caption(f"Analysed routines saved in {code(library.root)}; they persist across restarts.")
    if not entries:
        st.info("Nothing saved yet: analyse a video and press **Save to library**.")
        return
    view = pd.DataFrame(
        {
            "name": [e.name for e in entries],
            "action": [str(e.metadata.get("action") or "").capitalize() for e in entries],
            "score": [e.metadata.get("score") for e in entries],
            "saved": [e.saved_at for e in entries],
            "video": [e.media_path is not None for e in entries],
        }
    )
    event = st.dataframe(
        view, key="analyse_library", on_select="rerun", selection_mode="single-row", hide_index=True,
        height=min(36 + 35 * len(view), 250),
        column_config={"name": st.column_config.TextColumn("Name", width="medium"),
                       "action": st.column_config.TextColumn("Apparatus", width="small"),
                       "score": st.column_config.NumberColumn("Predicted", format="%.2f", width="small"),
                       "saved": st.column_config.TextColumn("Saved", width="medium"),
                       "video": st.column_config.CheckboxColumn("Video", width="small")},
    )
    rows = event.selection.rows if event is not None else []
    if not rows:
        st.caption("Select a row to open or remove it.")
        return
    entry = entries[rows[0]]
    open_col, remove_col = st.columns(2)
    if open_col.button("Open", icon=":material/open_in_new:", key="analyse_open", width="stretch"):
        try:
            show(from_entry(entry))
        except PamfnError as exc:
            st.error(f"Cannot open **{md(entry.name)}**: {md(exc)}")
        else:
            confirm_and_rerun(f"Opened **{md(entry.name)}** from the library", icon=":material/open_in_new:")
    if remove_col.button("Remove from library", icon=":material/delete:", key="analyse_remove", width="stretch"):
        st.session_state[REMOVING] = entry.entry_id
    if st.session_state.get(REMOVING) == entry.entry_id:
        st.warning(f"Remove **{md(entry.name)}** from the library for good? Its features, video and explanation are deleted.",
                   icon=":material/delete:")
        yes_col, no_col = st.columns(2)
        if yes_col.button("Remove", type="primary", key="analyse_remove_yes", width="stretch"):
            st.session_state[REMOVING] = None
            current = st.session_state.get(CURRENT)
            if current is not None and current.entry_id == entry.entry_id:
                st.session_state[CURRENT] = None
            library.remove(entry.entry_id)
            confirm_and_rerun(f"Removed **{md(entry.name)}** from the library", icon=":material/delete:")
        if no_col.button("Keep it", key="analyse_remove_no", width="stretch"):
            st.session_state[REMOVING] = None
            st.rerun()


# ---------------------------------------------------------------------------------------
# The routine view of an analysed routine
# ---------------------------------------------------------------------------------------


def routine_panel(a: Analysis) -> None:
    """The routine view of an analysed routine, with its report."""
    e = a.explanation
    st.subheader(md(a.name) + (f" · {md(str(e.action).capitalize())}" if e.action else ""), anchor=False)
    scores_row(e)
    video, why = playable(a.media if a.media is not None and a.media.is_file() else None,
                          "this routine was saved without its video")
    routine_view(e, a.occlusion, video, key=VIEW, name=a.name, no_video=why)
    figures_and_report(e, a.occlusion, key=VIEW, name=a.name, details={"Source video": a.upload_name or "-"})


# ---------------------------------------------------------------------------------------
# Page
# ---------------------------------------------------------------------------------------


def main() -> None:
    st.title("Analyse a video", anchor=False)
    st.caption("Upload a routine (with its music); PAMFN extracts its features, scores it and shows what it relied on.")
    show_confirmation()
    src = state.current_source()
    library = RoutineLibrary()
    try:
        loaded, broken = state.checkpoints(src)
    except PamfnError as exc:
        state.show_error(exc, "The checkpoint cannot be loaded")
        library_panel(library)
        return
    state.show_broken(broken)

    upload_col, library_col = st.columns([3, 2], gap="large")
    with upload_col:
        actions = [a for a in loaded if a is not None]
        action_col, judged_col = st.columns(2) if actions else (None, st.container())
        first = actions[0] if len(actions) == 1 else None  # several: the coach says which, never a silent default
        action = remembered(action_col.selectbox, "Apparatus (selects the checkpoint)", options=actions, key="analyse_action",
                            default=first, fit=one_of(actions, first), placeholder="Choose the apparatus",
                            format_func=str.capitalize) if actions else None
        scale = float((loaded.get(action) or next(iter(loaded.values()))).config.label_scale)
        judged = remembered(judged_col.number_input, "Judges' score, if known", min_value=0.0, max_value=scale, step=0.1,
                            key="analyse_judged", default=None, fit=lambda v: v if v is None or 0 <= v <= scale else None,
                            help=f"Shown beside PAMFN's score (0 to {scale:g}); leave empty if unknown")
        limit, limit_problem = upload_limit_mb()
        if limit_problem:
            st.warning(md(limit_problem), icon=":material/warning:")
        waiting = bool(actions) and action is None
        uploaded = st.file_uploader(
            f"Video file ({', '.join(VIDEO_TYPES)}; up to {size_text(limit)})", max_upload_size=limit, key="analyse_upload",
            help="Any other file is refused with the reason; nothing of it is kept.", on_change=_upload_changed,
            disabled=waiting,
        )
        if waiting:
            st.caption(":material/info: Choose the apparatus first: it selects the checkpoint that scores the routine.")
        _inputs_note(st.session_state.get(CURRENT), uploaded)
    with library_col:
        library_panel(library)

    if uploaded is not None and st.session_state.get(DONE) != uploaded.file_id:
        st.session_state[DONE] = uploaded.file_id
        st.session_state[REFUSED] = None
        with upload_col:
            try:
                show(analyse_upload(uploaded, src, action, judged))
            except PamfnError as exc:
                show(None)
                verdict = "was refused" if isinstance(exc, MediaError) else "could not be analysed"
                reason = str(exc).removeprefix(f"{uploaded.name}: ")  # the file is named once, in bold
                st.session_state[REFUSED] = f"**{uploaded.name} {verdict}.** {reason[:1].upper()}{reason[1:]}"
    if st.session_state.get(REFUSED):
        upload_col.error(st.session_state[REFUSED], icon=":material/error:")

    current = st.session_state.get(CURRENT)
    if current is None:
        return
    if current.source.startswith("upload:"):
        current = follow_choices(current, src, action, judged)
    st.divider()
    if current.source.startswith("upload:"):
        save_panel(library, current, src)
        _known_video_note(current, src)
    routine_panel(current)


if __name__ == "__main__":  # Streamlit runs a page as __main__; tests import it
    main()
