"""The bundled checkpoints on the bundled test split give the figures docs/sample-results.md records."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA, CHECKPOINTS, DOC = ROOT / "sample_data", ROOT / "assets" / "checkpoints", ROOT / "docs" / "sample-results.md"


def documented() -> dict[str, tuple[float, float]]:
    """action -> (rho, mse) from the doc's table of the bundled checkpoints."""
    section = DOC.read_text(encoding="utf-8").split("## The bundled checkpoints", 1)[1].split("##", 1)[0]
    rows = re.findall(r"^\| (\w+) \| \d+ \| (-?\d\.\d{3}) \| (\d+\.\d{3}) \|$", section, flags=re.MULTILINE)
    return {a: (float(r), float(m)) for a, r, m in rows}


@pytest.mark.skipif(not (DATA / "labels.csv").is_file() or not (CHECKPOINTS / "index.json").is_file(), reason="no bundled set")
def test_bundled_checkpoints_give_the_documented_figures():
    import torch

    from pamfn.data import load_dataset
    from pamfn.evaluate import evaluate_checkpoints

    torch.set_num_threads(1)
    result = evaluate_checkpoints(load_dataset(DATA), CHECKPOINTS, split="test")
    expected = documented()
    assert sorted(expected) == sorted(result.actions) == ["ball", "clubs", "hoop", "ribbon"]
    for action, (rho, mse) in expected.items():
        assert result.actions[action].rho == pytest.approx(rho, abs=6e-4), action
        assert result.actions[action].mse == pytest.approx(mse, abs=6e-3), action


@pytest.mark.skipif(not (CHECKPOINTS / "rows").is_dir(), reason="no bundled comparison rows")
def test_every_bundled_row_is_a_checkpoint_set_for_every_apparatus():
    """Issue 12's check loops over ``assets/checkpoints/rows/*``: each folder there must be a
    set ``pamfn evaluate --checkpoint`` loads, with one checkpoint per apparatus."""
    from pamfn.serving.checkpoints import CheckpointSet

    rows = sorted(p.name for p in (CHECKPOINTS / "rows").iterdir())
    assert rows == ["A", "F", "V", "late-fusion"]
    for row in rows:
        loaded = CheckpointSet(CHECKPOINTS / "rows" / row).all()
        assert sorted(loaded) == ["ball", "clubs", "hoop", "ribbon"], row
