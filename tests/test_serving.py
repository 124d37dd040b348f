"""The serving layer: which checkpoint serves an action, loaded once, one eval-mode
scorer, the background prediction job."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from pamfn.checkpoint import save_checkpoint
from pamfn.errors import CheckpointError
from pamfn.model import PAMFNConfig, build_model
from pamfn.routine import RoutineFeatures
from pamfn.serving import CheckpointSet, read_index, write_index
from pamfn.serving.scorer import eval_mode, predictor, run_model

DIMS = {"V": 12, "F": 10, "A": 8}


def make_cfg(**kw):
    return PAMFNConfig.preset("rg", **{"d": 16, "K": 5, "input_dims": DIMS, **kw})


def make_set(root, actions=("ball", "hoop")):
    cfg = make_cfg()
    for i, action in enumerate(actions):
        torch.manual_seed(i)
        save_checkpoint(root / action, build_model(cfg), cfg, meta={"action": action})
    write_index(root, {a: a for a in actions})
    return root


def test_a_set_serves_the_actions_it_names(tmp_path):
    ckpts = CheckpointSet(make_set(tmp_path / "set"))
    assert ckpts.actions == ["ball", "hoop"]
    assert ckpts.load("hoop").meta["action"] == "hoop"
    assert ckpts.load("hoop") is ckpts.load("hoop"), "loaded once"
    with pytest.raises(CheckpointError, match="no checkpoint for action 'clubs'"):
        ckpts.load("clubs")
    loaded, action = ckpts.resolve("ball")
    assert action == "ball" and loaded.meta["action"] == "ball"
    with pytest.raises(CheckpointError, match="choose --action from"):
        ckpts.resolve(None)
    assert sorted(ckpts.for_actions(None)) == ["ball", "hoop"]
    assert list(ckpts.for_actions(["hoop", "clubs"])) == ["hoop"]
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        ckpts.for_actions(["clubs"])


def test_a_single_checkpoint_serves_the_action_it_records_or_any(tmp_path):
    single = CheckpointSet(make_set(tmp_path / "set") / "ball")
    assert single.actions == [] and list(single.plan) == [None]
    assert single.load("ball") is single.load(None)
    with pytest.raises(CheckpointError, match="trained on ball, not 'anything'"):
        single.load("anything")  # what the dashboard and batch explanations load: no silent relabelling either
    assert single.resolve(None)[1] == "ball", "the action its meta records"
    assert single.resolve("ball")[1] == "ball"
    with pytest.raises(CheckpointError, match="trained on ball, not 'hoop'"):
        single.resolve("hoop")
    assert list(single.for_actions(None)) == ["ball"]
    with pytest.raises(CheckpointError, match="trained on ball, not 'a', 'b'"):
        single.for_actions(["a", "b"])
    cfg = make_cfg()
    unnamed = CheckpointSet(save_checkpoint(tmp_path / "unnamed", build_model(cfg), cfg))
    assert unnamed.resolve("hoop")[1] == "hoop" and list(unnamed.for_actions(["a", "b"])) == ["a", "b"]
    assert unnamed.load("anything") is unnamed.load(None)
    with pytest.raises(CheckpointError, match="records no action"):
        unnamed.for_actions(None)


def test_a_pooled_checkpoint_is_loaded_once_for_all_its_actions(tmp_path):
    root = make_set(tmp_path / "set", ("pooled",))
    write_index(root, {"ball": "pooled", "hoop": "pooled"})
    ckpts = CheckpointSet(root)
    assert ckpts.load("ball") is ckpts.load("hoop")


@pytest.mark.parametrize("text", ["{not json", "[]", '{"checkpoints": {}}', '{"other": 1}'])
def test_an_unreadable_index_is_named(tmp_path, text):
    (tmp_path / "index.json").write_text(text)
    with pytest.raises(CheckpointError, match="unreadable checkpoint index"):
        read_index(tmp_path)
    ckpts = CheckpointSet(tmp_path)  # opening does not fail: using it does
    with pytest.raises(CheckpointError, match="unreadable checkpoint index"):
        ckpts.load("ball")


def test_a_missing_or_corrupt_checkpoint_fails_on_use_and_is_retried(tmp_path):
    root = make_set(tmp_path / "set")
    weights = root / "hoop" / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(b"broken")
    ckpts = CheckpointSet(root)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        ckpts.load("hoop")
    weights.write_bytes(good)
    assert ckpts.load("hoop").meta["action"] == "hoop"


def test_the_version_changes_with_the_files(tmp_path):
    root = make_set(tmp_path / "set")
    before = CheckpointSet(root).version
    assert CheckpointSet(root).version == before
    cfg = make_cfg()
    save_checkpoint(root / "ball", build_model(cfg), cfg, meta={"action": "ball", "again": True})
    assert CheckpointSet(root).version != before


def test_the_version_reads_only_what_a_checkpoint_is_made_of(tmp_path):
    root = make_set(tmp_path / "set")
    before = CheckpointSet(root).version
    (root / "notes").mkdir()
    (root / "notes" / "n.txt").write_text("not a checkpoint's")  # not a member: not read, no new version
    assert CheckpointSet(root).version == before
    (root / "ball" / "metrics.csv").write_text("epoch\n1\n")  # beside a member's weights: a new version
    assert CheckpointSet(root).version != before


def test_a_highlight_detector_is_not_served_as_a_score_checkpoint(tmp_path):
    cfg = make_cfg(task="highlight")
    save_checkpoint(tmp_path / "hl", build_model(cfg), cfg, meta={"action": "ball"})
    with pytest.raises(CheckpointError, match="a 'highlight' checkpoint, not a score checkpoint"):
        CheckpointSet(tmp_path / "hl").load("ball")


def test_prefetch_loads_in_the_background(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    ckpts = CheckpointSet(make_set(tmp_path / "set"))
    with ThreadPoolExecutor(max_workers=1) as pool:
        ckpts.prefetch(pool)
        assert ckpts.load("hoop").meta["action"] == "hoop"
    assert not ckpts.loading("ball")


def test_the_scorer_restores_the_mode_and_is_deterministic():
    torch.manual_seed(0)
    model = build_model(make_cfg())
    rng = np.random.default_rng(0)
    inputs = {m: torch.as_tensor(rng.standard_normal((2, 40, d)), dtype=torch.float32) for m, d in DIMS.items()}
    model.train()
    first = run_model(model, inputs).score
    assert model.training, "the caller's mode is restored"
    with eval_mode(model):
        assert not model.training
        assert torch.equal(predictor(model)(inputs), first)
    assert model.training


def make_catalog(data, routines):
    """A data set of ``routines`` ((action, segments) each, ids r0, r1, ...) in ``data``."""
    from pamfn.catalog import load_catalog

    (data / "features").mkdir(parents=True)
    rng = np.random.default_rng(1)
    rows = ["routine_id,action,split,score,features"]
    for i, (action, T) in enumerate(routines):
        feats = RoutineFeatures({m: rng.standard_normal((T, d)).astype(np.float32) for m, d in DIMS.items()}, routine_id=f"r{i}")
        feats.save(data / "features" / f"r{i}.npz")
        rows.append(f"r{i},{action},test,{10 + i},features/r{i}.npz")
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    (data / "dataset.json").write_text(json.dumps({"label_scale": 25.0, "actions": sorted({a for a, _ in routines})}))
    return load_catalog(data)


def test_the_prediction_job_scores_every_routine_and_keeps_the_table(tmp_path):
    from pamfn.explain import explain_routine
    from pamfn.serving.predictions import PredictionJob, fingerprint

    ckpts = CheckpointSet(make_set(tmp_path / "set"))
    data = tmp_path / "data"
    catalog = make_catalog(data, [("ball", 30), ("ball", 30), ("hoop", 36), ("clubs", 30)])
    cache = tmp_path / "cache" / f"predictions-{fingerprint(catalog, ckpts)}.json"
    job = PredictionJob(catalog, ckpts, cache)
    assert not job.done and not job.wait(0.1), "nothing runs before start()"
    assert job.start().wait(60)
    assert "no checkpoint for action 'clubs'" in job.errors["r3"] and not cache.exists(), "only a complete table is kept"
    table = job.table()
    expl = explain_routine(ckpts.load("hoop"), RoutineFeatures.load(data / "features" / "r2.npz"))
    assert table.loc["r2", "predicted"] == pytest.approx(expl.score, abs=1e-4)
    assert table.loc["r2", "error"] == pytest.approx(expl.score - 12)
    assert np.isnan(table.loc["r3", "predicted"])
    assert threading.active_count() >= 1


def test_a_finished_table_replaces_the_older_tables_of_its_data_set_and_checkpoint(tmp_path):
    """Each rewritten features file or retrained checkpoint gives a new table; the older ones
    of the same pair of folders go once it is written, another pair's stay."""
    import os

    from pamfn.serving.predictions import PredictionJob, fingerprint, predictions_file

    ckpts = CheckpointSet(make_set(tmp_path / "set"))
    catalog = make_catalog(tmp_path / "data", [("ball", 30), ("hoop", 36)])
    other = make_catalog(tmp_path / "other", [("ball", 30)])
    cache = tmp_path / "cache"
    first = predictions_file(cache, catalog, ckpts, fingerprint(catalog, ckpts))
    theirs = predictions_file(cache, other, ckpts, fingerprint(other, ckpts))
    for job in (PredictionJob(catalog, ckpts, first), PredictionJob(other, ckpts, theirs)):
        assert job.start().wait(60) and not job.errors
    stamp = os.stat(catalog.root / "features" / "r0.npz").st_mtime_ns + 10**9
    os.utime(catalog.root / "features" / "r0.npz", ns=(stamp, stamp))  # the file rewritten
    second = predictions_file(cache, catalog, ckpts, fingerprint(catalog, ckpts))
    assert second != first and first.exists()
    assert PredictionJob(catalog, ckpts, second).start().wait(60)
    assert sorted(p.name for p in cache.iterdir()) == sorted([second.name, theirs.name])


def test_the_prediction_job_keys_scores_by_the_data_sets_names_not_the_files(tmp_path):
    """labels.csv names the routines: a file that stores another id (a renamed routine), and
    one file labelled under two actions (Fis-V's TES and PCS), still get their Predicted scores."""
    from pamfn.catalog import load_catalog
    from pamfn.explain import explain_routine
    from pamfn.serving.predictions import PredictionJob

    ckpts = CheckpointSet(make_set(tmp_path / "set"))
    data = tmp_path / "data"
    make_catalog(data, [("ball", 30), ("hoop", 36)])
    (data / "labels.csv").write_text("routine_id,action,split,score,features\n"
                                     "renamed,ball,test,10,features/r0.npz\n"  # the file says r0
                                     "both,ball,test,11,features/r1.npz\nboth,hoop,test,12,features/r1.npz\n")
    catalog = load_catalog(data)
    assert list(catalog.routines.index) == ["renamed", "both · ball", "both · hoop"]
    job = PredictionJob(catalog, ckpts, tmp_path / "p.json")
    assert job.start().wait(60) and not job.errors, job.errors
    table = job.table()
    for key, action, file in (("renamed", "ball", "r0"), ("both · ball", "ball", "r1"), ("both · hoop", "hoop", "r1")):
        expl = explain_routine(ckpts.load(action), RoutineFeatures.load(data / "features" / f"{file}.npz"))
        assert table.loc[key, "predicted"] == pytest.approx(expl.score, abs=1e-4), key


@pytest.mark.parametrize("text", ["", '{"r0": 11.5, "r1"', "[1, 2]", '{"r0": "eleven"}', "\udcff"])
def test_an_unreadable_prediction_cache_is_ignored_and_replaced(tmp_path, text):
    from pamfn.serving.predictions import PredictionJob

    ckpts = CheckpointSet(make_set(tmp_path / "set"))
    catalog = make_catalog(tmp_path / "data", [("ball", 20), ("hoop", 24)])
    cache = tmp_path / "cache" / "predictions-x.json"
    cache.parent.mkdir()
    cache.write_bytes(text.encode("utf-8", "surrogateescape"))  # empty, cut short, another shape, not UTF-8
    job = PredictionJob(catalog, ckpts, cache)
    assert not job.done and job.scores == {}, "a bad cache file is no table"
    assert job.start().wait(60) and not job.errors
    assert json.loads(cache.read_text()) == pytest.approx(job.scores) and set(job.scores) == {"r0", "r1"}
    assert PredictionJob(catalog, ckpts, cache).done, "the replaced file is read back"


def test_an_unreadable_batch_file_is_treated_as_absent_and_explained_live(tmp_path):
    from pamfn.batch_explain import SCORES, explain_batch, read_routine, read_scores
    from pamfn.engines import make_engine
    from pamfn.serving.routines import routine_explanation, routine_occlusion

    ckpts = CheckpointSet(make_set(tmp_path / "set"))
    catalog = make_catalog(tmp_path / "data", [("ball", 20), ("hoop", 24)])
    batch = tmp_path / "batch"
    explain_batch(catalog, ckpts, batch, make_engine("local"))
    saved = read_routine(batch, "r0")
    assert saved is not None and set(read_scores(batch)) == {"r0", "r1"}
    whole = (batch / "explanations" / "r0.json").read_bytes()
    load, features = ckpts.load, lambda rid: RoutineFeatures.load(catalog.routine(rid)["features_path"])
    for damaged in (whole[: len(whole) // 2], b"", b'{"explanation": {"score": 1}}', b"[]"):
        (batch / "explanations" / "r0.json").write_bytes(damaged)
        assert read_routine(batch, "r0") is None
        live = routine_explanation(catalog, "r0", load, features, batch=batch)
        assert live.score == pytest.approx(saved[0].score, abs=1e-4)
        assert len(routine_occlusion(catalog, "r0", load, features, batch=batch)) == len(saved[1])
    for damaged in (b"", b"PAR1", (batch / SCORES).read_bytes()[:100]):
        (batch / SCORES).write_bytes(damaged)
        assert read_scores(batch) == {}
    (batch / SCORES).unlink()
    (batch / SCORES).mkdir()  # a folder where the table should be
    assert read_scores(batch) == {}


def test_an_upload_is_explained_with_progress_on_both_long_steps(tmp_path):
    from pamfn.checkpoint import load_checkpoint
    from pamfn.serving.routines import SCAN_STEP, SUPPORT_STEP, explain_with_occlusion

    cfg = make_cfg()
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "c", build_model(cfg), cfg)
    rng = np.random.default_rng(0)
    feats = RoutineFeatures({m: rng.normal(size=(24, d)).astype(np.float32) for m, d in DIMS.items()}, routine_id="up")
    heard = []
    expl, scan = explain_with_occlusion(load_checkpoint(tmp_path / "c"), feats, progress=lambda *a: heard.append(a))
    assert [w for w, _, _ in heard] == sorted((w for w, _, _ in heard), key=[SUPPORT_STEP, SCAN_STEP].index)
    assert {w for w, _, _ in heard} == {SUPPORT_STEP, SCAN_STEP}
    assert all(done == total for w, done, total in heard if (w, done, total) == heard[-1])
    assert expl.routine_id == "up" and len(scan) == 6


def test_a_dims_refusal_names_both_sides_in_words():
    from pamfn.checkpoint import check_compatible

    feats = RoutineFeatures({"V": np.zeros((4, 3), np.float32), "F": np.zeros((4, 10), np.float32),
                             "A": np.zeros((4, 8), np.float32)}, routine_id="r")
    with pytest.raises(CheckpointError) as err:
        check_compatible(make_cfg(), feats)
    text = str(err.value)
    assert "feature dims do not match the checkpoint: expected V=12, F=10, A=8, found V=3, F=10, A=8" in text
    assert "{" not in text and "extractors it does not name" in text


def test_an_upload_longer_than_the_scans_limit_is_explained_without_a_scan(tmp_path, monkeypatch):
    from pamfn import occlusion
    from pamfn.checkpoint import load_checkpoint
    from pamfn.serving.routines import SCAN_STEP, explain_with_occlusion

    cfg = make_cfg()
    save_checkpoint(tmp_path / "c", build_model(cfg), cfg)
    rng = np.random.default_rng(0)
    feats = RoutineFeatures({m: rng.normal(size=(24, d)).astype(np.float32) for m, d in DIMS.items()}, routine_id="long")
    monkeypatch.setattr(occlusion, "LONGEST_SCAN_S", 24 * 1.28 - 1)  # this routine is just over it
    heard = []
    expl, scan = explain_with_occlusion(load_checkpoint(tmp_path / "c"), feats, progress=lambda *a: heard.append(a))
    assert scan.empty and expl.stages and SCAN_STEP not in {w for w, _, _ in heard}


def test_the_cache_folder_is_the_checkouts_or_the_users_never_the_installation(monkeypatch, tmp_path):
    from pamfn.serving import cache

    monkeypatch.delenv("PAMFN_CACHE", raising=False)
    assert cache.cache_dir() == Path(cache.__file__).resolve().parents[2] / "cache" / "dashboard"  # this checkout
    monkeypatch.setattr(cache, "_CHECKOUT", tmp_path / "site-packages")  # an installed package: no pyproject.toml
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache._default_cache() == tmp_path / "xdg" / "pamfn-studio" / "dashboard"
    monkeypatch.setenv("PAMFN_CACHE", str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"
