"""The environment is pinned: requirements.txt is the pip-compile lock of requirements.in."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def _requirements(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", NAME.match(requirement).group(1)).lower()


def test_lock_pins_every_package_exactly():
    lock = _requirements(ROOT / "requirements.txt")
    assert lock, "requirements.txt is empty"
    loose = [r for r in lock if not re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", r)]
    assert not loose, f"requirements.txt is the lock: every line must be NAME==VERSION, not {loose}"


def test_lock_covers_the_human_edited_input():
    pinned = {_name(r) for r in _requirements(ROOT / "requirements.txt")}
    wanted = {_name(r) for r in _requirements(ROOT / "requirements.in")}
    assert wanted <= pinned, f"refresh the lock (README): {sorted(wanted - pinned)} not pinned"


def test_lock_keeps_the_cpu_torch():
    lock = _requirements(ROOT / "requirements.txt")
    assert any(re.fullmatch(r"torch==2\.13\.0(\+cpu)?", r) for r in lock)
    assert not [r for r in lock if _name(r).startswith(("nvidia-", "triton"))], "the lock pulls CUDA packages"
