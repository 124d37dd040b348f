"""Phase 1's autoencoding term (``--p1 recon``): what it adds to the loss, that it makes the
embedding keep its input, that the shipped branch has no read-out, where it is refused."""

import dataclasses

import pytest
import torch
from torch import nn

from pamfn.checkpoint import load_checkpoint
from pamfn.data import load_dataset
from pamfn.errors import ConfigError
from pamfn.model import build_model
from pamfn.train import Run, RunConfig, override_phase, train_preset
from pamfn.train.stages import autoencoding_forward
from tests.support.toy import write_toy_dataset
from tests.test_train_loop import tiny


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_dataset(write_toy_dataset(tmp_path_factory.mktemp("toy") / "toy", actions=("ball",), n_train=20, n_test=8))


def with_recon(recipe, weight: float):
    return dataclasses.replace(recipe, phase1=override_phase(recipe.phase1, {"recon": weight}))


def test_the_term_is_the_weighted_error_of_the_read_out_of_e0(data):
    cfg, _ = tiny(data, epochs=1)
    model = build_model(cfg.with_overrides(modalities=("F",), training="two_stage")).eval()
    readout = nn.Conv1d(cfg.d, cfg.input_dims["F"], 1)
    feats = {"F": torch.randn(3, 12, cfg.input_dims["F"])}
    score, extra = autoencoding_forward(model, readout, "F", 0.5)(feats)
    e0 = model.branches["F"].embedding(feats["F"].transpose(1, 2))
    assert torch.allclose(score, model(feats).score)
    expected = 0.5 * nn.functional.mse_loss(readout(e0), feats["F"].transpose(1, 2))
    assert float(extra.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)


def test_phase_one_with_the_term_keeps_more_of_the_input_in_e0_and_ships_no_read_out(data, tmp_path):
    cfg, recipe = tiny(data, epochs=15)
    cfg = cfg.with_overrides(modalities=("F",))
    unexplained = {}
    for weight in (0.0, 1.0):
        out = tmp_path / f"w{weight}"
        summary = Run(data, RunConfig("toy", "ball", cfg, with_recon(recipe, weight), phase="1"), out, progress=False).run()
        assert set(summary["stages"]) == {"phase1-F"}
        model = load_checkpoint(out / "branches" / "F").model.eval()  # loads strictly: no read-out in it
        assert not any("readout" in k for k in model.state_dict())
        xs = [torch.as_tensor(data.features[s.features]["F"], dtype=torch.float32) for s in data.select("ball", "train")]
        with torch.no_grad():
            e0 = torch.cat([model.branches["F"].embedding(x.T[None])[0].T for x in xs])
        target = torch.cat(xs)
        target = (target - target.mean(0)) / (target.std(0) + 1e-6)
        design = torch.cat([e0, torch.ones(len(e0), 1)], dim=1)
        fitted = design @ torch.linalg.lstsq(design, target).solution
        unexplained[weight] = float(((target - fitted) ** 2).sum() / (target**2).sum())
    assert unexplained[1.0] < unexplained[0.0]


def test_the_term_is_refused_outside_phase_one_of_two_stage_training(data, tmp_path):
    cfg, recipe = tiny(data, epochs=1)
    one_stage = cfg.with_overrides(model="late_fusion", fusion="weighted", training="one_stage")
    with pytest.raises(ConfigError, match="autoencoding term"):
        RunConfig("toy", "ball", one_stage, with_recon(recipe, 1.0))
    in_phase2 = dataclasses.replace(recipe, phase2=override_phase(recipe.phase2, {"recon": 1.0}))
    with pytest.raises(ConfigError, match="autoencoding term"):
        RunConfig("toy", "ball", cfg, in_phase2)
    with pytest.raises(ConfigError, match="recon must be >= 0"):
        override_phase(train_preset("rg").phase1, {"recon": -1.0})
    assert "recon" not in train_preset("rg").phase1.to_dict()
