"""Training: loss falls, phases freeze what they should, selection on validation, resume."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from pamfn.checkpoint import load_checkpoint
from pamfn.data import SplitTensors, load_dataset, validation_split
from pamfn.evaluate import score_split
from pamfn.model import PAMFNConfig, build_model
from pamfn.ood import from_meta
from pamfn.serving.scorer import predictor
from pamfn.train import Run, RunConfig, loop, override_phase, train_preset
from pamfn.train.loop import Stage, fit
from tests.support.toy import write_toy_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = write_toy_dataset(tmp_path_factory.mktemp("toy") / "toy", actions=("ball",), n_train=20, n_test=8)
    return load_dataset(root)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models train faster on one thread, above all on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(data, epochs=3, **recipe_overrides):
    cfg = PAMFNConfig.preset("rg", d=8, K=2, input_dims=data.dims, label_scale=data.label_scale)
    base = train_preset("rg")
    recipe = dataclasses.replace(
        base,
        crop=12,
        save_every=1,
        phase1=override_phase(base.phase1, {"epochs": epochs, "batch_size": 8, "warmup_epochs": 0}),
        phase2=override_phase(base.phase2, {"epochs": epochs, "batch_size": 8}),
        **recipe_overrides,
    )
    return cfg, recipe


def weights(path):
    return load_file(str(path / "model.safetensors"))


def test_loss_falls(data):
    torch.manual_seed(0)
    cfg = PAMFNConfig.preset("rg", d=8, K=2, input_dims=data.dims, label_scale=data.label_scale, modalities=("V",),
                             branch_dropout=0.0, embed_dropout=0.0)
    model = build_model(cfg)
    _, recipe = tiny(data)
    recipe = override_phase(recipe.phase2, {"epochs": 30, "lr": 1e-2})
    stage = Stage("unimodal", model, lambda f: model(f).score, [{"params": list(model.parameters()), "lr_scale": 1.0}],
                  recipe, 30, model.train, model.eval)
    train, val = validation_split(data.select("ball", "train"), 0.2, 0)
    res = fit(stage, SplitTensors(data, train, min_length=12), SplitTensors(data, val), crop=12, seed=0,
              state_dir=data.root / "state-loss", save_every=100, progress=False)
    losses = [r["train_loss"] for r in res.rows]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])


def test_two_phases_freeze_what_they_should(data, tmp_path):
    cfg, recipe = tiny(data)
    summary = Run(data, RunConfig("toy", "ball", cfg, recipe), tmp_path / "run", progress=False).run()
    assert set(summary["stages"]) == {"phase1-V", "phase1-F", "phase1-A", "phase2"}
    final = weights(tmp_path / "run" / "checkpoint")
    init = build_model(cfg).state_dict()
    for m in "VFA":
        branch = weights(tmp_path / "run" / "branches" / m)
        keys = [k for k in branch if k.startswith(f"branches.{m}.")]
        assert keys
        # phase 1 trained the branch ...
        assert any(not torch.equal(branch[k], init[k]) for k in keys if branch[k].is_floating_point())
        same = all(torch.equal(final[k], branch[k]) for k in keys)
        # ... phase 2 kept V and F bit for bit (weights and BatchNorm statistics) and fine-tuned A
        assert same == (m in ("V", "F")), m
    mixed = [k for k in final if k.startswith("stages.")]
    assert any(not torch.equal(final[k], init[k]) for k in mixed if final[k].is_floating_point())


def test_selection_uses_the_validation_split(data, tmp_path):
    cfg, recipe = tiny(data, epochs=4)
    out = tmp_path / "run"
    config = RunConfig("toy", "ball", cfg.with_overrides(modalities=("V",)), recipe, seed=5)
    summary = Run(data, config, out, progress=False).run()
    train, val = validation_split(data.select("ball", "train"), recipe.val_fraction, 5)
    assert summary["selection_routines"] == len(val) and summary["train_routines"] == len(train)
    test_ids = {s.routine_id for s in data.select("ball", "test")}
    assert not test_ids & {s.routine_id for s in val}
    metrics = pd.read_csv(out / "metrics.csv")
    assert "val_rho" in metrics and "test_rho_SELECTION" not in metrics
    final = summary["final"]
    assert final["selected_epoch"] == int(metrics.loc[metrics.val_rho.idxmax(), "epoch"])
    # the saved checkpoint reproduces the selection score on the validation routines, and its test score
    model = load_checkpoint(out / "checkpoint").model
    on_val = score_split(predictor(model), SplitTensors(data, val))
    on_test = score_split(predictor(model), SplitTensors(data, data.select("ball", "test")))
    assert on_val.rho == pytest.approx(final["selection_rho"]) and on_test.rho == pytest.approx(final["test_selected"]["rho"])
    assert "validation split" in summary["selection"]


def test_select_on_test_is_labelled(data, tmp_path):
    cfg, recipe = tiny(data, select_on_test=True)
    out = tmp_path / "run"
    summary = Run(data, RunConfig("toy", "ball", cfg.with_overrides(modalities=("A",)), recipe), out, progress=False).run()
    assert "selected on TEST set" in summary["selection"] and summary["selection_routines"] == 8
    assert "test_rho_SELECTION" in pd.read_csv(out / "metrics.csv")
    saved = load_checkpoint(out / "checkpoint")
    assert "selected on TEST set" in saved.meta["selection"]
    # the checkpoint knows the feature statistics of its training routines (pamfn.ood)
    dist = from_meta(saved.meta)
    assert dist is not None and dist.n_routines == len(data.select("ball", "train")) and dist.threshold > 0


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_resume_continues_the_same_run(data, tmp_path, monkeypatch, ema_decay):
    cfg, recipe = tiny(data, epochs=3)
    recipe = dataclasses.replace(recipe, phase2=override_phase(recipe.phase2, {"ema_decay": ema_decay}))
    config = RunConfig("toy", "ball", cfg, recipe, seed=1)
    Run(data, config, tmp_path / "whole", progress=False).run()

    real_save, calls = loop.save_state, []

    def interrupting_save(folder, state):
        real_save(folder, state)
        calls.append(folder)
        if len(calls) == 11:  # 3 + 3 + 3 phase-1 epochs, then inside phase 2 after its 2nd epoch
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_state", interrupting_save)
    with pytest.raises(KeyboardInterrupt):
        Run(data, config, tmp_path / "cut", progress=False).run()
    assert not (tmp_path / "cut" / "checkpoint").exists() and (tmp_path / "cut" / "state" / "phase2").is_dir()
    monkeypatch.setattr(loop, "save_state", real_save)
    Run(data, config, tmp_path / "cut", progress=False).run()

    for folder in ("checkpoint", "last", "branches/V", "branches/A"):
        a, b = weights(tmp_path / "whole" / folder), weights(tmp_path / "cut" / folder)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), folder
    ma = pd.read_csv(tmp_path / "whole" / "metrics.csv").drop(columns="seconds")
    mb = pd.read_csv(tmp_path / "cut" / "metrics.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(ma, mb)
    assert not (tmp_path / "cut" / "state").exists()


def test_a_different_run_in_the_same_folder_is_refused(data, tmp_path):
    from pamfn.errors import ConfigError

    cfg, recipe = tiny(data, epochs=1)
    Run(data, RunConfig("toy", "ball", cfg.with_overrides(modalities=("F",)), recipe), tmp_path / "run", progress=False).run()
    with pytest.raises(ConfigError, match="holds a different run"):
        Run(data, RunConfig("toy", "ball", cfg.with_overrides(modalities=("A",)), recipe), tmp_path / "run", progress=False).run()


def test_phase_two_of_one_modality_is_refused(data):
    from pamfn.errors import ConfigError

    cfg, recipe = tiny(data, epochs=1)
    with pytest.raises(ConfigError, match="one modality \\(F\\) is its branch alone: phase 2 has nothing to train"):
        RunConfig("toy", "ball", cfg.with_overrides(modalities=("F",)), recipe, phase="2", branches="runs/x/branches")


def test_one_stage_baseline_trains_everything(data, tmp_path):
    cfg, recipe = tiny(data, epochs=2)
    cfg = cfg.with_overrides(model="late_fusion", fusion="weighted", training="one_stage")
    summary = Run(data, RunConfig("toy", "ball", cfg, recipe), tmp_path / "run", progress=False).run()
    assert list(summary["stages"]) == ["one_stage"] and not (tmp_path / "run" / "branches").exists()
    final, init = weights(tmp_path / "run" / "checkpoint"), build_model(cfg).state_dict()
    for m in "VF":
        k = f"branches.{m}.embedding.0.weight"
        assert not torch.equal(final[k], init[k])
