"""``pamfn train --pool-actions``: one model on the union of the actions' routines, a checkpoint set for every action."""

import json

from pamfn.cli import build_parser, main
from pamfn.data import load_dataset
from pamfn.data.dataset import validation_split
from pamfn.evaluate import evaluate_checkpoints
from pamfn.train import Run, RunConfig
from pamfn.train.options import model_config, train_recipe
from tests.support.toy import write_toy_dataset
from tests.support.train_args import TINY


def test_pooled_run_trains_one_model_for_every_action(tmp_path):
    toy = write_toy_dataset(tmp_path / "toy", actions=("ball", "hoop"), n_train=10, n_test=4)
    out = tmp_path / "runs"
    assert main(["train", "--data", str(toy), "--action", "all", "--pool-actions", "--out", str(out), *TINY]) == 0
    assert json.loads((out / "index.json").read_text()) == {"checkpoints": {"ball": "pooled/checkpoint", "hoop": "pooled/checkpoint"}}
    summary = json.loads((out / "pooled" / "summary.json").read_text())
    assert summary["action"] == "ball+hoop"
    # each action's validation split is the one it gets when trained alone (2 of 10), the rest trains
    assert (summary["train_routines"], summary["selection_routines"], summary["test_routines"]) == (16, 4, 8)
    assert json.loads((out / "pooled" / "config.json").read_text())["pooled"] == ["ball", "hoop"]
    result = evaluate_checkpoints(load_dataset(toy), out, split="test")
    assert sorted(result.actions) == ["ball", "hoop"] and all(len(r.routine_ids) == 4 for r in result.actions.values())


def test_pooled_validation_routines_match_the_single_action_split(tmp_path):
    toy = write_toy_dataset(tmp_path / "toy", actions=("ball", "hoop"), n_train=10, n_test=4)
    data = load_dataset(toy)
    args = build_parser().parse_args(["train", "--data", str(toy), "--action", "all", "--out", str(tmp_path), *TINY])
    run = Run(data, RunConfig(str(toy), "ball+hoop", model_config(args, data), train_recipe(args), pooled=("ball", "hoop")), tmp_path / "r", progress=False)
    alone = {s.routine_id for a in ("ball", "hoop") for s in validation_split(data.select(a, "train"), 0.15, 0)[1]}
    assert {s.routine_id for s in run.select_samples} == alone
    assert not alone & {s.routine_id for s in run.train_samples}
