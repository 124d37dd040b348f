"""Research view: what PAMFN did across a whole split of the chosen data set.

The PolicyNet's decision frequencies per stage and action with the uniform line (the
paper's Fig. 5: the stochastic policy's expected frequencies, with each stage's policy
entropy), the MSFD modality weights per stage, predicted against judged scores
with Spearman's rho per action and its Fisher-z mean, and the results tables written
by ``pamfn reproduce`` beside the paper's published numbers. Works on features alone
(no media needed).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from app import state
from app.components.figure import show_figure
from app.components.layout import metric_row
from app.components.remembered import among, one_of, remembered
from app.components.text import code, md
from app.components.trust import split_trust
from pamfn import results
from pamfn.decisions import FIG5_CAPTION
from pamfn.errors import PamfnError
from pamfn.viz import research

ROOT = Path(__file__).resolve().parents[2]
# Extra folders (separated by the OS path separator) searched for `pamfn reproduce` tables.
RESULTS_ENV = "PAMFN_RESULTS"


def result_folders() -> list[Path]:
    """Where reproduced tables are looked for: ``$PAMFN_RESULTS``, then ``runs/`` and ``docs/``."""
    extra = [Path(p) for p in os.environ.get(RESULTS_ENV, "").split(os.pathsep) if p]
    return [*extra, ROOT / "runs", ROOT / "docs"]


def split_explanations(src: state.Source, routine_ids: list[str]) -> list:
    """Explanations of the given routines (the whole split kept by app.state), with a progress
    bar the first time; a routine that cannot be explained is left out and named, the rest
    are drawn (PamfnError only when none can be)."""
    key = state.split_key(src, routine_ids)
    kept = state.kept_split(key)
    if kept is None:
        bar = st.progress(0.0, text="Explaining the routines of this split…")
        out, failed = [], {}
        for i, rid in enumerate(routine_ids, start=1):
            try:
                out.append(state.explanation(src, rid))
            except PamfnError as exc:
                failed[rid] = exc
            bar.progress(i / len(routine_ids), text=f"Explained {i} of {len(routine_ids)} routines")
        bar.empty()
        state.keep_split(key, (out, failed))
    else:
        out, failed = kept
    if failed and not out:
        raise next(iter(failed.values()))
    if failed:
        first, exc = next(iter(failed.items()))
        st.warning(f"{len(failed)} of {len(routine_ids)} routines left out: they cannot be explained. "
                   f"First, {md(first)}: {md(exc)}", icon=":material/warning:")
    return out


def _short(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _read_csv(path: Path, columns: tuple[str, ...] = results.TABLE_COLUMNS) -> pd.DataFrame | None:
    """A table of ``pamfn reproduce``, or None after saying what is wrong with the file."""
    try:
        return results.read_result_table(path, columns)
    except PamfnError as exc:
        st.error(md(exc), icon=":material/error:")
        return None


def results_tables() -> None:
    """Tables written by ``pamfn reproduce``, side by side with the paper's published numbers."""
    from pamfn.paper_tables import TABLES, get_table, paper_frame

    found = results.find_result_tables(result_folders())
    number = st.selectbox("Table", list(TABLES), format_func=lambda n: f"Table {n}: {TABLES[n].title}", key="research_table")
    table = get_table(number)
    paper = paper_frame(list(table.rows))
    number_format = {c: "{:.3f}" for c in paper.columns if c not in ("group", "row")}
    paths = found.get(number, [])
    if not paths:
        st.info(f"No Table {number} has been reproduced yet: run `python -m pamfn reproduce {number} --data DIR "
                f"--out runs/table{number}`; its `table_{number}.csv` under `runs/` or `docs/` appears here.")
    else:
        path = st.selectbox("Run", paths, format_func=_short, key=f"run_{number}")
        ours = _read_csv(path)
        if ours is not None:
            st.markdown("**This project's run** (`pamfn reproduce`; Spearman's ρ on the test split, epoch selected on "
                        "the validation split) **beside the paper's published averages**")
            merged = research.side_by_side(ours, paper)
            st.dataframe(merged.style.format({c: "{:.3f}" for c in merged.select_dtypes("number").columns}, na_rep="-"),
                         hide_index=True)
            seeded_intervals(path)
        last = path.with_name(f"{path.stem}_last_epoch.csv")
        if last.is_file() and (last_table := _read_csv(last)) is not None:
            with st.expander("The same runs at their last epoch"):
                st.dataframe(research.blank_text(last_table), hide_index=True)
    st.markdown(f"**Published in the paper** (Table {number}, Spearman's ρ on RG and Fis-V)")
    st.dataframe(paper.style.format(number_format), hide_index=True, height=38 + 35 * len(paper))
    st.caption("Numbers as printed in the paper, on the real RG and Fis-V features; a run on another data set "
               "(e.g. the bundled sample) is read beside them, not against them.")


CHECKS = {"Monte-Carlo check (sampled decisions)": "sampled", "Argmax (deterministic mode, without eq. 9's Gumbel noise)": "argmax",
          "None": None}


def decision_frequencies(explanations: list, split: str, stem: str) -> None:
    """Fig. 5 as the paper defines it (the stochastic policy's expected frequencies), with a
    check drawn over it and each stage's policy entropy beside it."""
    try:
        freq = research.decision_frequencies(explanations, "expected")
        entropy = research.policy_entropy(explanations)
    except ValueError as exc:
        st.error(f"These checkpoints cannot be drawn together: {md(exc)}. Choose actions with the same K.")
        return
    shown = st.radio("Drawn over it", list(CHECKS), horizontal=True, key="fig5_check")
    check = research.decision_frequencies(explanations, CHECKS[shown]) if CHECKS[shown] else None
    show_figure(research.decision_frequency_figure(freq, entropy, check, title=f"PolicyNet decisions per stage ({split} split)"),
                f"{stem}_decision_frequencies", "fig5")
    st.caption(FIG5_CAPTION)
    st.markdown("**Policy entropy**")
    readable = entropy[["action", "stage", "steps", "entropy", "expected_count"]].rename(
        columns={"entropy": "policy entropy", "expected_count": "expected FusionNets"})
    st.dataframe(readable.style.format({"policy entropy": "{:.2f}", "expected FusionNets": "{:.2f}"}), hide_index=True,
                 height="content", key="fig5_entropy")
    st.caption("Mean normalised entropy of the PolicyNet's probabilities per step (1: uniform, 0: certain) "
               "and the mean expected FusionNet count.")


def seeded_intervals(table_csv: Path) -> None:
    """The run's 95% intervals (``table_<N>_intervals.csv``, written by ``pamfn reproduce``) with its marks."""
    from pamfn.intervals import BOOTSTRAP
    from pamfn.paper_tables import intervals_table

    path = table_csv.with_name(f"{table_csv.stem}_intervals.csv")
    if not path.is_file():
        st.caption("No intervals for this run (reproduced before seeds and intervals existed, or with an older version).")
        return
    if (iv := _read_csv(path, results.INTERVAL_COLUMNS)) is None:
        return
    seeds = int(iv["seeds"].max())
    st.markdown(f"**Mean over {seeds} seed(s) with 95% intervals** ({BOOTSTRAP})")
    table = intervals_table(iv)  # a static table renders markdown in its cells: the file's names stay text
    table[["group", "row"]] = table[["group", "row"]].map(md)
    table.columns = [md(c) for c in table.columns]
    st.table(table, hide_index=True)  # a static table wraps its cells to the page's width
    reference = research.interval_reference(iv)
    marks = ["**≈** marks a cell whose interval holds the paper's value"]
    if reference:
        group, row = reference
        named = f"the row {md(group)} · {md(row)}" if group else f"the row {md(row)}"
        marks.insert(0, f"**~** marks a difference to {named} inside the noise (its paired interval holds 0)")
    st.caption("; ".join(marks) + ".")


def fig6_section() -> None:
    """Fig. 6 (rho against K per action, with intervals) from ``pamfn reproduce fig6`` run folders."""
    found = results.find_result_tables(result_folders()).get("fig6", [])
    if not found:
        st.info("No Fig. 6 has been reproduced yet: run `python -m pamfn reproduce fig6 --data DIR --K 1,2,4,6,8,10,12 "
                "--seeds 3 --out runs/fig6`; its `table_fig6.csv` under `runs/` or `docs/` appears here.")
        return
    path = st.selectbox("Run", found, format_func=_short, key="run_fig6")
    iv_path = path.with_name("table_fig6_intervals.csv")
    if not iv_path.is_file():
        st.error(f"{md(_short(iv_path))} is missing: reproduce Fig. 6 again with this version to get its intervals.")
        return
    if (iv := _read_csv(iv_path, results.INTERVAL_COLUMNS)) is None:
        return
    show_figure(research.fig6_figure(iv), f"{path.parent.name}_fig6", "fig6")
    st.dataframe(research.fig6_table(iv).style.format({c: "{:.3f}" for c in ("mean", "lo", "hi")}), hide_index=True)
    st.caption("The paper's Fig. 6 has no printed numbers: it reports that K = 10 (RG) / 6 (Fis-V) gives the best "
               "average, and that the optimum differs per action.")


def _check_table(tables: dict[str, pd.DataFrame], key: str, *shares: str) -> Styler:
    """A results table in words (:func:`research.check_table`): numbers to 3 decimals, ``shares`` as percentages."""
    percent = {research.CHECK_HEADERS[c]: "{:.0%}" for c in shares}
    return research.check_table(tables[key], key).style.format(percent, precision=3, na_rep="-")


def explanation_checks() -> None:
    """The figures ``bench/bench_explanations.py`` measured: do the explanations point at
    what really happened in the generated routines?"""
    from pamfn.groundtruth import find_results, read_results, result_tables

    found = find_results(result_folders())
    if not found:
        st.info("No explanation check has been run yet: `python bench/bench_explanations.py` (a data set with "
                "ground truth events, sample benchmark version 2) writes `docs/explanations-results.json`.")
        return
    path = st.selectbox("Results", found, format_func=_short, key="checks_file")
    try:
        result = read_results(path)
    except PamfnError as exc:
        state.show_error(exc, "The results file cannot be read")
        return
    tables = result_tables(result)
    st.caption(f"{code(result.get('command', ''))} · data {code(Path(str(result.get('data', ''))).name)} "
               f"({md(result.get('dataset_version') or 'unknown version')}) · split {md(result.get('split'))} · "
               f"commit {md(result.get('commit'))} · {md(result.get('date'))}")
    for note in result.get("missing") or []:
        st.warning(f"Not measured: {md(note)}", icon=":material/warning:")
    n = result["neutrality"]
    row = metric_row()
    row.metric("Mean score impact ± standard error", f"{n['mean_impact']:+.3f} ± {n['se']:.3f}", width="content",
               help="over all windows, its standard error clustered by routine; zero by construction with the swap "
                    "scan (each swap counts for both its windows with opposite signs; older results: should be 0 "
                    "within its noise)")
    row.metric("Windows that raised the score", f"{n['share_positive']:.0%}", width="content",
               help="about half when impacts lean neither way")
    row.metric("Windows beyond their noise", f"{n['share_significant']:.1%}", width="content")
    if all(k in n for k in ("edge_mean_impact", "edge_se", "interior_mean_impact", "interior_se", "median_noise")):
        st.caption(f"Where the swap's zero can fail: each routine's first and last windows average "
                   f"{n['edge_mean_impact']:+.3f} ± {n['edge_se']:.3f} points, its other windows "
                   f"{n['interior_mean_impact']:+.3f} ± {n['interior_se']:.3f} (a copy over an edge window has one splice "
                   f"point only, so the splice's effect lands there); a window's own noise is about "
                   f"{n['median_noise']:.2f} points.")
    if "fault_auc" in tables:
        st.markdown("**Do score impacts point at faults?** ROC AUC of −impact ranking windows holding a fault "
                    "above clean windows (0.5: chance; target ≥ 0.75 for drops and losses of balance). Beside it, when "
                    "measured: a fault detector trained on the training split's scores only, as a score model is "
                    "(can a fault's place be learnt from one number per routine? the black tick on its bar is its null, "
                    "the same detector fitted to shuffled scores: a bar inside it was not learnt), and a probe trained on the "
                    "training split's events (do the window features reveal each fault at all?). A high events bar "
                    "over low score bars means the evidence is in the inputs but the scores do not teach where it is.")
        show_figure(research.fault_check_figure(tables["fault_auc"], tables.get("fault_probe"), tables.get("fault_probe_scores")),
                    f"{path.stem}_faults", "checks_faults")
        if "fault_probe" not in tables:
            st.caption("The probes beside the impacts (can the features find the faults at all? can the scores teach "
                       "where they are?) are measured with `bench/bench_explanations.py --probe` on a data set whose "
                       "training split is generated.")
        st.dataframe(_check_table(tables, "fault_auc"), hide_index=True, key="checks_auc")
        if "fault_auc_local" in tables:
            st.caption("Clean windows: no fault and no degradation. Below, against windows without a fault of a moment "
                       "(drop, loss of balance, tremor) or degradation, which may lie in an off-beat or off-energy section.")
            st.dataframe(_check_table(tables, "fault_auc_local"), hide_index=True, key="checks_auc_local")
        if "fault_probe_scores" in tables:
            st.caption("The fault detector trained on one number per routine, per number it learnt from, against clean "
                       "windows: AUC as the mean over apparatus, its null (mean and sd over fits with that number "
                       "shuffled among the training routines: an AUC inside it was not learnt) and rho (how well it "
                       "fits that number on the test split).")
            st.dataframe(_check_table(tables, "fault_probe_scores"), hide_index=True, key="checks_probe_scores")
    if "degradation" in tables:
        st.markdown("**Does the MSFD turn away from a degraded modality?** Stage-2 weight of the degraded modality "
                    "inside its degradation stretches against the rest of the routine")
        st.dataframe(_check_table(tables, "degradation", "share_dropped"), hide_index=True, key="checks_degradation")
    if "sentences" in tables:
        st.markdown("**Do coach sentences point at real events?** Share of sentences whose stretch overlaps a drop, "
                    "loss of balance, tremor or degradation, beside the chance rate of a window")
        st.dataframe(_check_table(tables, "sentences", "hits", "chance"), hide_index=True, key="checks_sentences")
    st.caption("Definitions and how each figure is computed: `docs/explanations.md`.")


def main() -> None:
    st.title("Research view")
    src = state.current_source()
    try:
        catalog = state.catalog(src)
        _, broken = state.checkpoints(src)
    except PamfnError as exc:
        state.show_error(exc, "The data set or checkpoint cannot be loaded")
        results_tables()
        fig6_section()
        return
    st.caption(f"Data set {code(Path(src.data_dir).name)} · checkpoint {code(Path(src.checkpoint_dir).name)} · "
               f"scores from 0 to {catalog.label_scale:g}")
    state.show_broken(broken)

    routines = catalog.routines
    splits = sorted(routines["split"].dropna().unique())
    left, right = st.columns([1, 3])
    first = "test" if "test" in splits else splits[0]
    split = remembered(left.selectbox, "Split", options=splits, key="research_split", default=first, fit=one_of(splits, first))
    actions = sorted(routines["action"].unique())
    chosen = remembered(right.multiselect, "Actions", options=actions, key="research_actions", default=actions,
                        fit=among(actions))
    selected = routines[(routines["split"] == split) & routines["action"].isin(chosen)]
    explanations: list = []
    if selected.empty:
        st.warning("No routine in this split for the chosen actions: choose at least one action. The results tables, "
                   "Fig. 6 and the explanation checks below do not depend on the choice.", icon=":material/warning:")
    else:
        try:
            explanations = split_explanations(src, list(selected.index))
        except PamfnError as exc:
            state.show_error(exc, "The checkpoint cannot explain these routines")
        else:
            split_trust(explanations)
    stem = f"{Path(src.data_dir).name}_{split}"

    fig5, msfd, scores, tables, fig6, checked = st.tabs(
        ["Decision frequencies (Fig. 5)", "MSFD weights", "Predicted vs. judged", "Results tables", "FusionNets K (Fig. 6)",
         "Explanations checked"]
    )
    if explanations:
        with fig5:
            decision_frequencies(explanations, split, stem)
        with msfd:
            show_figure(research.msfd_weight_figure(research.msfd_weight_samples(explanations)), f"{stem}_msfd_weights", "msfd")
            st.caption("Distribution of the Modality-specific Feature Decoder's weights over all steps; "
                       "the box shows the quartiles, the dashed mark the mean.")
        with scores:
            predicted_vs_judged(explanations, stem)
    else:
        for tab in (fig5, msfd, scores):
            tab.info("Nothing to draw: no routine of the chosen split and actions is explained (see above).")
    with tables:
        results_tables()
    with fig6:
        fig6_section()
    with checked:
        explanation_checks()


def predicted_vs_judged(explanations: list, stem: str) -> None:
    """One point per routine against the line predicted = judged, with Spearman's rho per action."""
    table = research.score_table(explanations)
    rhos = research.spearman_by_action(table)
    plot, numbers = st.columns([3, 1])
    with plot:
        show_figure(research.predicted_vs_judged_figure(table, rhos), f"{stem}_predicted_vs_judged", "scatter")
    with numbers:
        st.markdown("**Spearman's ρ**")
        st.dataframe(rhos.style.format({"rho": "{:.3f}"}, na_rep="-"), hide_index=True)
        st.caption("Avg.: Fisher-z mean across actions, as in the paper.")


if __name__ == "__main__":  # Streamlit runs a page as __main__; tests import it
    main()
