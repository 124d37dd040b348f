"""Checkpoints (safetensors + config.json) and explanations."""

import json
import re

import numpy as np
import pytest
import torch

from pamfn.checkpoint import check_compatible, load_checkpoint, read_config, save_checkpoint
from pamfn.errors import CheckpointError, ConfigError, OutputError
from pamfn.explain import explain_many, explain_routine
from pamfn.explanation import Explanation
from pamfn.model import PAMFNConfig, build_model
from pamfn.routine import RoutineFeatures

torch.set_num_threads(1)  # the CI machine has 2 shared cores; OpenMP spinning across busy cores is slow

DIMS = {"V": 12, "F": 10, "A": 8}


def make_cfg(**kw):
    return PAMFNConfig.preset("rg", **{"d": 16, "K": 5, "input_dims": DIMS, **kw})


def routine(T, seed=0, dims=DIMS, rid="r1"):
    rng = np.random.default_rng(seed)
    return RoutineFeatures(features={m: rng.standard_normal((T, d)).astype(np.float32) for m, d in dims.items()}, routine_id=rid)


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    cfg = make_cfg()
    model = build_model(cfg)
    model.train()
    model({m: torch.randn(4, 9, d) for m, d in DIMS.items()})  # move BN running stats off their init
    path = save_checkpoint(tmp_path / "ck", model, cfg, meta={"val_srcc": 0.71, "action": "ball"})
    return path, model.eval(), cfg


def test_save_load_equal(saved):
    path, model, cfg = saved
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors"]
    assert read_config(path)[0] == cfg
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    ck = load_checkpoint(path)
    assert ck.config == cfg and ck.meta == {"val_srcc": 0.71, "action": "ball"} and ck.path == path
    assert not ck.model.training and ck.label_scale == 25.0
    for key, value in model.state_dict().items():
        assert torch.equal(value, ck.model.state_dict()[key]), key
    x = {m: torch.randn(1, 13, d) for m, d in DIMS.items()}
    assert torch.equal(model(x).score, ck.model(x).score)
    doc = json.loads((path / "config.json").read_text())
    assert doc["config"]["K"] == 5 and doc["config"]["input_dims"] == DIMS and doc["config"]["fusionnets"] == "ranked"


def test_a_saved_checkpoint_has_the_modes_of_any_output(saved):
    import os

    path, _, _ = saved
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0700
    for name in ("config.json", "model.safetensors"):  # not safetensors' private 0600
        assert (path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_save_replaces_existing_atomically(saved):
    path, model, cfg = saved
    save_checkpoint(path, model, cfg, meta={"round": 2})
    assert load_checkpoint(path).meta == {"round": 2}
    assert [p.name for p in path.parent.iterdir()] == ["ck"]


def test_a_save_never_takes_what_is_not_a_checkpoint_with_it(saved, tmp_path):
    import os

    path, model, cfg = saved
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.txt").write_text("years of work")
    plain = tmp_path / "plain.txt"
    plain.write_text("keep me")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)  # stands for a device such as /dev/null, which a rename would replace just the same
    (tmp_path / "link").symlink_to(notes)
    settings = tmp_path / "settings"
    settings.mkdir()
    (settings / "config.json").write_text('{"theme": "dark"}')  # another tool's config, named like ours
    for target, says in ((notes, "holds files that are not a PAMFN checkpoint's (thesis.txt)"), (tmp_path / "link", "not a PAMFN checkpoint's"),
                         (plain, "not a folder"), (pipe, "not a folder"), (settings, "not a PAMFN checkpoint's")):
        with pytest.raises(OutputError, match=re.escape(says)):
            save_checkpoint(target, model, cfg)
    assert (notes / "thesis.txt").read_text() == "years of work" and plain.read_text() == "keep me"
    assert (settings / "config.json").read_text() == '{"theme": "dark"}'
    assert pipe.exists() and not pipe.is_dir()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing half-written beside them
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_checkpoint(save_checkpoint(empty, model, cfg)).config == cfg  # an empty folder, or a checkpoint: fine


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda t: t.fill_(float("nan")), "hold NaN or infinite values"),
    (lambda t: t.to(torch.int32), "stored as integers or booleans"),
], ids=["nan", "int"])
def test_weights_no_training_makes_are_refused(saved, spoil, message):
    from safetensors.torch import load_file, save_file

    path, _, _ = saved
    state = load_file(str(path / "model.safetensors"))
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = spoil(state[key].clone())
    save_file(state, str(path / "model.safetensors"))
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert key in str(info.value)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda doc: doc["config"].update(label_scale=0), "label_scale must be a positive number"),
    (lambda doc: doc["meta"]["training_features"]["std"].update(V=[1.0] * 3), "12 means against 3 stds"),
    (lambda doc: doc["meta"]["training_features"]["std"]["V"].__setitem__(0, 0.0), "stds positive"),
    (lambda doc: doc["meta"]["training_features"].update(threshold=float("nan")), "threshold nan"),
    (lambda doc: doc["config"].update(K=4.5), "config field K=4.5 needs a whole number"),
    (lambda doc: doc["config"].update(feat_dropout="x"), "config field feat_dropout='x' needs a number"),
    (lambda doc: doc["config"]["input_dims"].update(V="a"), "needs a mapping of words to whole numbers"),
    (lambda doc: doc["config"].update(feature_extractors=[1]), "feature_extractors=[1] needs a mapping of words to words"),
    (lambda doc: doc["config"].update(fast_fusionnets="no"), "fast_fusionnets='no' needs true or false"),
    (lambda doc: doc["config"].update(feat_dropout=1.0), "feat_dropout=1.0 must lie in [0, 1)"),
], ids=["scale-0", "std-length", "std-0", "threshold-nan", "K-fraction", "dropout-text", "dims-text", "extractors-list",
        "flag-text", "dropout-1"])
def test_config_values_that_would_mislead_are_refused(saved, edit, message):
    from pamfn.ood import TrainingDistribution

    path, _, _ = saved
    doc = json.loads((path / "config.json").read_text())
    doc["meta"]["training_features"] = TrainingDistribution.fit([{m: np.random.default_rng(i).normal(size=(9, d))
                                                                 for m, d in DIMS.items()} for i in range(5)]).to_dict()
    edit(doc)
    (path / "config.json").write_text(json.dumps(doc))
    with pytest.raises((CheckpointError, ConfigError), match=re.escape(message)):
        from pamfn.ood import from_meta

        from_meta(load_checkpoint(path).meta)


def test_convert_official_refuses_an_output_that_is_not_a_checkpoint_folder(tmp_path, capsys):
    from pamfn.cli import main as cli

    (tmp_path / "in.pth").write_bytes(b"never read")
    out = tmp_path / "docs"
    out.mkdir()
    (out / "a.md").write_text("x")
    assert cli(["convert-official", str(tmp_path / "in.pth"), str(out), "--preset", "rg"]) == 2
    assert "holds files that are not a PAMFN checkpoint's (a.md)" in capsys.readouterr().err and (out / "a.md").exists()


@pytest.mark.parametrize("variant", [{"modalities": ("A",)}, {"model": "late_fusion", "fusion": "attention"}, {"cmfd": "weighted", "fusion_stages": 2}])
def test_variants_round_trip(tmp_path, variant):
    cfg = make_cfg(**variant)
    model = build_model(cfg).eval()
    ck = load_checkpoint(save_checkpoint(tmp_path / "v", model, cfg))
    x = {m: torch.randn(1, 6, d) for m, d in DIMS.items()}
    assert ck.config == cfg and torch.equal(model(x).score, ck.model(x).score)


def test_truncated_weights(saved):
    path = saved[0]
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(path)
    (path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(path)
    (path / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors.*not found"):
        load_checkpoint(path)


def test_bad_config_json(saved, tmp_path):
    path = saved[0]
    (path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        load_checkpoint(path)
    (path / "config.json").write_text(json.dumps({"format": "pamfn-checkpoint", "config": {"K": 5, "d": 16, "fusionnets": "odd"}}))
    with pytest.raises(CheckpointError, match="config.json.*fusionnets"):
        load_checkpoint(path)
    (path / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nowhere")


def test_weights_not_matching_config(saved):
    path = saved[0]
    doc = json.loads((path / "config.json").read_text())
    doc["config"]["K"] = 4
    (path / "config.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_checkpoint(path)


def test_a_config_far_larger_than_its_weights_is_refused_before_the_model_is_built(saved, monkeypatch):
    """A shared checkpoint whose config.json claims d = 2048 (6e8 parameters, 2.4 GB) is refused
    from the weights' shapes: the model is built on the meta device only, taking no memory."""
    import pamfn.model

    path = saved[0]
    doc = json.loads((path / "config.json").read_text())
    doc["config"]["d"] = 2048
    (path / "config.json").write_text(json.dumps(doc))
    built_on = []

    def spy(cfg):
        built_on.append(torch.empty(0).device.type)
        return build_model(cfg)

    monkeypatch.setattr(pamfn.model, "build_model", spy)
    with pytest.raises(CheckpointError, match=r"weights do not match the config \(wrong shapes .*expected \(2048,"):
        load_checkpoint(path)
    assert built_on == ["meta"]


def test_check_compatible():
    cfg = make_cfg(feature_extractors={"V": "VST", "F": "I3D", "A": "AST"})
    check_compatible(cfg, routine(5))
    with pytest.raises(CheckpointError, match=r"expected V=12, F=10, A=8, found V=12, F=10, A=9"):
        check_compatible(cfg, routine(5, dims={"V": 12, "F": 10, "A": 9}))


@pytest.mark.parametrize("T", [1, 2, 3, 9, 70])
def test_explanation_fields(saved, T):
    ck = load_checkpoint(saved[0])
    f = routine(T)
    ex = explain_routine(ck, f, action="ball", judged_score=18.5)
    assert isinstance(ex, Explanation) and ex.mode == "deterministic" and ex.action == "ball" and ex.judged_score == 18.5
    assert ex.label_scale == 25.0 and ex.score == pytest.approx(ex.score_norm * 25.0) and 0 <= ex.score <= 25
    assert set(ex.branch_scores) == {"V", "F", "A"} and all(0 <= s <= 25 for s in ex.branch_scores.values())
    assert ex.K == 5 and ex.checkpoint == str(saved[0]) and ex.duration_s == pytest.approx(T * 1.28)
    assert [s.stage for s in ex.stages] == [1, 2, 3]
    for st, steps in zip(ex.stages, [max(T // 2, 1), max(T // 4, 1), 1]):
        assert st.steps == steps and len(st.end_s) == steps
        assert st.msfd_weights.shape == (steps, 3) and np.allclose(st.msfd_weights.sum(1), 1)
        assert st.policy_probs.shape == (steps, 5) and st.fusion_count.dtype == np.int64
        assert ((1 <= st.fusion_count) & (st.fusion_count <= 5)).all()
        assert st.fusion_weights.shape == (steps, 5, 3) and st.cmfd_attention.shape == (steps, 5)
    back = Explanation.from_json(ex.to_json())
    assert back.to_dict() == json.loads(ex.to_json())


def test_deterministic_repeats_sampling_seeded(saved):
    ck = load_checkpoint(saved[0])
    f = routine(64, seed=3)
    assert explain_routine(ck, f).to_dict() == explain_routine(ck, f).to_dict()
    a = explain_routine(ck, f, mode="sample", seed=11)
    assert a.to_dict() == explain_routine(ck, f, mode="sample", seed=11).to_dict() and a.extra["seed"] == 11
    others = [explain_routine(ck, f, mode="sample", seed=s) for s in (12, 13, 14)]
    assert any(not np.array_equal(a.stages[0].fusion_count, o.stages[0].fusion_count) for o in others)
    with pytest.raises(ConfigError, match="mode"):
        explain_routine(ck, f, mode="greedy")


def test_explain_model_keeps_training_mode_and_many(saved):
    model = saved[1]
    model.train()
    routines = [routine(7, seed=i, rid=f"r{i}") for i in range(3)]
    exs = explain_many(model, routines, actions=["ball"] * 3, progress=False)
    assert model.training and [e.routine_id for e in exs] == ["r0", "r1", "r2"] and exs[0].checkpoint is None
    model.eval()
    assert exs[1].to_dict() == explain_routine(model, routines[1], action="ball").to_dict()
    with pytest.raises(ConfigError, match="3 routines"):
        explain_many(model, routines, actions=["ball"])


def test_explain_rejects_wrong_dims(saved):
    ck = load_checkpoint(saved[0])
    with pytest.raises(CheckpointError, match="expected V=12"):
        explain_routine(ck, routine(5, dims={"V": 1024, "F": 1024, "A": 768}))


def test_explain_unimodal_and_ablation(tmp_path):
    for variant, n_stages in (({"modalities": ("V",)}, 0), ({"fusion_stages": 1, "msfd": "none"}, 1), ({"fusionnets": "free"}, 3)):
        cfg = make_cfg(**variant)
        ex = explain_routine(build_model(cfg), routine(10))
        assert len(ex.stages) == n_stages
        assert set(ex.branch_scores) == set(cfg.modalities)
        if variant.get("msfd") == "none":
            assert ex.stages[0].msfd_weights is None and ex.stages[0].cmfd_attention is not None
        if variant.get("fusionnets") == "free":
            assert ex.stages[0].fusion_count is None and ex.stages[0].policy_probs is None


def test_features_of_other_extractors_and_future_formats_are_refused(tmp_path):
    import json
    from dataclasses import replace

    import numpy as np
    import pytest

    from pamfn.checkpoint import check_compatible, load_checkpoint
    from pamfn.errors import CheckpointError
    from pamfn.routine import RoutineFeatures
    from pamfn.synth.random_dataset import make_checkpoint

    folder = make_checkpoint(tmp_path / "ckpt", dims={"V": 4, "F": 4, "A": 4})
    cfg = replace(load_checkpoint(folder).config, feature_extractors={"V": "lite-rgb@2", "F": "lite-flow@2", "A": "lite-audio@2"})
    arrays = {m: np.zeros((6, 4), np.float32) for m in "VFA"}
    check_compatible(cfg, RoutineFeatures(arrays, extractors=dict(cfg.feature_extractors)))
    check_compatible(cfg, RoutineFeatures(arrays))  # features that name no extractor: widths decide
    with pytest.raises(CheckpointError, match="F: trained on lite-flow@2, features from lite-flow@1"):
        check_compatible(cfg, RoutineFeatures(arrays, extractors={**cfg.feature_extractors, "F": "lite-flow@1"}))
    doc = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**doc, "format_version": 7}))
    with pytest.raises(CheckpointError, match="checkpoint format version 7"):
        load_checkpoint(folder)
