"""Phase 2's distillation: the target it trains on, the teacher it picks, where it is refused."""

import dataclasses

import pytest
import torch
from torch import nn

from pamfn.checkpoint import load_checkpoint
from pamfn.data import SplitTensors, load_dataset, validation_split
from pamfn.errors import ConfigError
from pamfn.evaluate import score_split
from pamfn.train import Run, RunConfig, override_phase, train_preset
from pamfn.train.loop import Stage, fit
from pamfn.train.run import branch_predictor
from tests.support.toy import write_toy_dataset
from tests.test_train_loop import tiny


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return load_dataset(write_toy_dataset(tmp_path_factory.mktemp("toy") / "toy", actions=("ball",), n_train=20, n_test=8))


class Constant(nn.Module):
    """One learnt number, predicted for every routine."""

    def __init__(self) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.zeros(()))

    def forward(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.value.expand(next(iter(feats.values())).shape[0])


@pytest.mark.parametrize("distill", [0.0, 0.5])
def test_the_target_mixes_labels_and_the_teacher_by_its_weight(data, tmp_path, distill):
    model = Constant()
    recipe = override_phase(train_preset("rg").phase2, {"epochs": 150, "batch_size": 64, "lr": 0.05, "schedule": "none",
                                                        "weight_decay": 0.0, "distill": distill})
    stage = Stage("const", model, model, [{"params": list(model.parameters()), "lr_scale": 1.0}], recipe, 150,
                  model.train, model.eval, teacher=lambda feats: torch.full((next(iter(feats.values())).shape[0],), 0.9))
    train = SplitTensors(data, data.select("ball", "train"), min_length=12)
    fit(stage, train, SplitTensors(data, data.select("ball", "test")), crop=12, seed=0, state_dir=tmp_path / "s",
        save_every=1000, progress=False)
    # the MSE minimiser of a constant is the mean target: (1 - w) * mean label + w * teacher
    expected = (1 - distill) * float(train.labels.mean()) + distill * 0.9
    assert float(model.value.detach()) == pytest.approx(expected, abs=2e-3)


def test_phase_two_learns_from_the_frozen_branch_that_ranks_validation_best(data, tmp_path):
    cfg, recipe = tiny(data, epochs=2)
    Run(data, RunConfig("toy", "ball", cfg, recipe, phase="1"), tmp_path / "p1", progress=False).run()
    taught = dataclasses.replace(recipe, phase2=override_phase(recipe.phase2, {"distill": 0.5}))
    run = Run(data, RunConfig("toy", "ball", cfg, taught, phase="2", branches=str(tmp_path / "p1" / "branches")),
              tmp_path / "p2", progress=False)
    summary = run.run()
    teacher = summary["stages"]["phase2"]["teacher"]
    assert teacher["modality"] in ("V", "F") and teacher["weight"] == 0.5
    # the choice is the frozen branch with the higher validation rho, as scored on its own
    model = load_checkpoint(tmp_path / "p2" / "checkpoint").model.eval()
    _, val = validation_split(data.select("ball", "train"), recipe.val_fraction, 0)
    rhos = {m: score_split(branch_predictor(model, m), SplitTensors(data, val)).rho for m in ("V", "F")}
    assert teacher["modality"] == max(rhos, key=rhos.get)
    assert teacher["validation_rho"] == pytest.approx(rhos[teacher["modality"]])


def test_distillation_is_refused_where_no_branch_is_frozen(data, tmp_path):
    cfg, recipe = tiny(data, epochs=1)
    cfg = cfg.with_overrides(model="late_fusion", fusion="weighted", training="one_stage")
    taught = dataclasses.replace(recipe, phase2=override_phase(recipe.phase2, {"distill": 0.5}))
    with pytest.raises(ConfigError, match="distillation .* needs frozen phase-1 branches"):
        Run(data, RunConfig("toy", "ball", cfg, taught), tmp_path / "run", progress=False).run()


@pytest.mark.parametrize("weight", [-0.1, 1.0])
def test_a_weight_outside_its_range_is_refused(weight):
    with pytest.raises(ConfigError, match="distill must lie in"):
        override_phase(train_preset("rg").phase2, {"distill": weight})


def test_runs_without_distillation_keep_their_config():
    assert "distill" not in train_preset("rg").phase2.to_dict()
    assert override_phase(train_preset("rg").phase2, {"distill": 0.5}).to_dict()["distill"] == 0.5
