"""Atomic writes: never half a file, never over what is not a plain file, the usual modes."""

from __future__ import annotations

import os
import stat

import pytest

from pamfn.atomic import refuse_overwriting_inputs, write_text_atomic
from pamfn.errors import OutputError


def test_a_new_file_gets_the_umask_mode_and_a_replaced_one_keeps_its_own(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "new.txt", "a")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644
        (tmp_path / "shared.json").write_text("{}")
        os.chmod(tmp_path / "shared.json", 0o664)
        write_text_atomic(tmp_path / "shared.json", "{1}")
        assert stat.S_IMODE((tmp_path / "shared.json").stat().st_mode) == 0o664
        assert (tmp_path / "shared.json").read_text() == "{1}"
    finally:
        os.umask(old)


def test_a_folder_or_a_pipe_is_never_replaced(tmp_path):
    (tmp_path / "out.html").mkdir()
    with pytest.raises(OutputError, match="it is a folder"):
        write_text_atomic(tmp_path / "out.html", "x")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OutputError, match="not a regular file"):
        write_text_atomic(tmp_path / "pipe", "x")
    assert stat.S_ISFIFO((tmp_path / "pipe").stat().st_mode)
    assert not list(tmp_path.glob(".*part*"))


def test_a_symlink_is_written_through(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    write_text_atomic(tmp_path / "link.txt", "new")
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_text() == "new"


def test_an_input_is_never_the_output(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"video")
    (tmp_path / "alias.mp4").symlink_to(video)
    with pytest.raises(OutputError, match="would overwrite the input"):
        refuse_overwriting_inputs(tmp_path / "alias.mp4", video)
    refuse_overwriting_inputs(tmp_path / "out.npz", video)  # a new path is fine


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "moved-aside"])
def test_a_folder_is_replaced_whole_and_nothing_is_left_beside_it(tmp_path, monkeypatch, exchange):
    """An old folder is exchanged with the new one in one step (a process saving a checkpoint
    beside another found it missing once in 600 saves, with a wrong "not a folder" error);
    the fallback moves it aside."""
    from pamfn import atomic

    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "old.txt").write_text("old")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "new.txt").write_text("new")
    atomic.replace_folder(tmp_path / "new", tmp_path / "ck")
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["new.txt"]
