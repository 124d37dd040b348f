import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """Tests that set torch's thread count (e.g. via --threads) must not leak it to others."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
