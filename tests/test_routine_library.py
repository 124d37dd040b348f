"""The local routine library: entries persist, are written all or nothing, and go cleanly."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from pamfn.errors import PamfnError
from pamfn.explanation import Explanation, StageExplanation, stage_spans
from pamfn.routine import RoutineFeatures
from pamfn.routine_library import LibraryError, RoutineLibrary, default_root


def features(rid: str = "my routine", T: int = 8) -> RoutineFeatures:
    rng = np.random.default_rng(1)
    return RoutineFeatures({m: rng.normal(size=(T, 5)).astype(np.float32) for m in "VFA"}, routine_id=rid, media="clip.mp4")


def explanation(rid: str = "my routine", T: int = 8) -> Explanation:
    stages = [StageExplanation(i + 1, s, e, msfd_weights=np.full((len(s), 3), 1 / 3), fusion_count=np.ones(len(s), int))
              for i, (s, e) in enumerate(stage_spans(T, 1.28))]
    return Explanation(rid, 17.5, 0.7, 25.0, {"V": 16.0, "F": 15.0, "A": 9.0}, 4, stages, T * 1.28, 1.28, action="ball")


def test_add_list_get_persist_and_remove(tmp_path):
    media = tmp_path / "clip.MP4"
    media.write_bytes(b"not really a video but bytes to copy")
    lib = RoutineLibrary(tmp_path / "lib")
    entry = lib.add(features(), explanation(), media, metadata={"upload_name": "clip.MP4"})
    assert entry.media_path.read_bytes() == media.read_bytes() and entry.media_path.name == "media.mp4"
    assert media.exists()  # copied, not moved

    reopened = RoutineLibrary(tmp_path / "lib")  # a restart
    [again] = reopened.entries()
    assert again.entry_id == entry.entry_id and again.name == "my routine"
    assert again.metadata["score"] == 17.5 and again.metadata["upload_name"] == "clip.MP4"
    np.testing.assert_allclose(again.load_features().features["V"], features().features["V"])
    assert again.load_explanation().to_dict() == explanation().to_dict()

    second = reopened.add(features("other"), None, None)
    assert second.media_path is None and second.load_explanation() is None
    with pytest.raises(LibraryError, match="other has no explanation"):
        second.explanation()
    assert again.explanation().to_dict() == explanation().to_dict() and len(again.saved_at) == 16
    assert {e.entry_id for e in reopened.entries()} == {second.entry_id, entry.entry_id}
    reopened.remove(entry.entry_id)
    assert [e.entry_id for e in reopened.entries()] == [second.entry_id]
    assert sorted(os.listdir(tmp_path / "lib")) == [second.entry_id]
    with pytest.raises(LibraryError, match="no library entry"):
        reopened.get(entry.entry_id)


def test_failed_add_leaves_nothing(tmp_path):
    lib = RoutineLibrary(tmp_path / "lib")
    with pytest.raises(LibraryError, match="media file not found"):
        lib.add(features(), explanation(), tmp_path / "missing.mp4")
    with pytest.raises(TypeError):
        lib.add(features(), explanation(), metadata={"bad": object()})

    class Boom(Explanation):
        def to_json(self, indent=None):
            raise RuntimeError("disk full")

    bad = Boom(**{k: getattr(explanation(), k) for k in explanation().__dataclass_fields__})
    with pytest.raises(RuntimeError, match="disk full"):
        lib.add(features(), bad)
    assert lib.entries() == []
    assert not (tmp_path / "lib").exists() or os.listdir(tmp_path / "lib") == []


def test_bad_ids_and_broken_entries(tmp_path):
    lib = RoutineLibrary(tmp_path / "lib")
    for bad in ("../etc", "", "A/B", ".staging-x"):
        with pytest.raises(LibraryError, match="invalid library entry id"):
            lib.get(bad)
    entry = lib.add(features(), explanation())
    (entry.path / "metadata.json").write_text("{broken")
    assert lib.entries() == []  # skipped, not crashing the listing
    with pytest.raises(PamfnError, match="unreadable metadata.json"):
        lib.get(entry.entry_id)
    (entry.path / "metadata.json").write_text(json.dumps({"name": "x"}))
    (entry.path / "explanation.json").write_text("[]")
    with pytest.raises(LibraryError, match="unreadable explanation.json"):
        lib.get(entry.entry_id).load_explanation()


def test_sweep_removes_only_stale_leftovers(tmp_path):
    lib = RoutineLibrary(tmp_path)
    old, fresh = tmp_path / ".staging-old", tmp_path / ".staging-new"
    old.mkdir(), fresh.mkdir()
    os.utime(old, (0, 0))
    assert lib.sweep() == 1
    assert not old.exists() and fresh.exists()
    trash = tmp_path / ".trash-gone"
    trash.mkdir()
    os.utime(trash, (0, 0))
    lib.add(features("next"))  # a save sweeps first: a crashed removal's trash does not stay forever
    assert not trash.exists() and fresh.exists()


def test_default_root_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PAMFN_LIBRARY", str(tmp_path / "x"))
    assert default_root() == tmp_path / "x"
    monkeypatch.delenv("PAMFN_LIBRARY")
    assert default_root().parts[-2:] == (".pamfn-studio", "library")


@pytest.mark.parametrize("named", ["OUTSIDE", "../../secret.mp4", "sub/media.mp4", ".hidden.mp4", "link.mp4", 42])
def test_an_entry_plays_only_its_own_media(tmp_path, named):
    """An entry copied from someone else whose metadata names a file elsewhere (an absolute
    path, a path up, a link out of its folder) has no media: nothing else of the user's is played."""
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"the user's own video")
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"bytes")
    lib = RoutineLibrary(tmp_path / "lib")
    entry = lib.add(features(), explanation(), media)
    (entry.path / "link.mp4").symlink_to(secret)
    (entry.path / ".hidden.mp4").write_bytes(b"bytes")
    meta_file = entry.path / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta["media_file"] = str(secret) if named == "OUTSIDE" else named
    meta_file.write_text(json.dumps(meta))
    assert lib.get(entry.entry_id).media_path is None
