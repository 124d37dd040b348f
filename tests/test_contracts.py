import json

import numpy as np
import pytest

from pamfn.errors import FeatureError
from pamfn.explanation import Explanation, StageExplanation, stage_spans
from pamfn.routine import RoutineFeatures


def make_features(T=7, dims=(5, 4, 3), **kw):
    rng = np.random.default_rng(0)
    return RoutineFeatures(features={m: rng.standard_normal((T, d)).astype(np.float32) for m, d in zip("VFA", dims)}, **kw)


def test_features_roundtrip(tmp_path):
    feats = make_features(routine_id="r1", extractors={"V": "lite-rgb@1"}, flags={"silent_audio": True})
    path = feats.save(tmp_path / "r1.npz")
    back = RoutineFeatures.load(path)
    assert back.T == 7 and back.dims == {"V": 5, "F": 4, "A": 3}
    assert back.flags == {"silent_audio": True} and back.routine_id == "r1"
    for m in "VFA":
        np.testing.assert_array_equal(back.features[m], feats.features[m])
    assert back.segment_span(2) == pytest.approx((2 * 1.28, 3 * 1.28))
    assert not list(tmp_path.glob(".*part*"))


@pytest.mark.parametrize(
    "features, message",
    [
        ({"V": np.zeros((3, 2)), "F": np.zeros((4, 2)), "A": np.zeros((3, 2))}, "different numbers of segments"),
        ({"V": np.full((3, 2), np.nan), "F": np.zeros((3, 2)), "A": np.zeros((3, 2))}, "NaN"),
        ({"V": np.zeros((3,)), "F": np.zeros((3, 2)), "A": np.zeros((3, 2))}, "2-D"),
        ({"V": np.zeros((3, 2)), "F": np.zeros((3, 2))}, "missing modality"),
    ],
)
def test_features_bad_input(features, message):
    with pytest.raises(FeatureError, match=message):
        RoutineFeatures(features=features)


def test_load_refuses_pickle(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, V=np.array([object()], dtype=object))
    with pytest.raises(FeatureError):
        RoutineFeatures.load(path)


def _meta_npz(path, meta) -> None:
    arrays = {m: np.zeros((3, 2), np.float32) for m in "VFA"}
    np.savez(path, **arrays, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p, good: p.write_bytes(good.read_bytes()[: good.stat().st_size // 2]), "truncated or corrupt"),
        (lambda p, good: p.write_bytes(b""), r"not an \.npz archive: empty"),
        (lambda p, good: p.write_text("<html>not features</html>"), r"not an \.npz archive"),
        (lambda p, good: np.save(open(p, "wb"), np.zeros(3)), r"not an \.npz archive"),
        (lambda p, good: np.savez(p, V=np.zeros((3, 2))), "no __meta__ record"),
        (lambda p, good: _meta_npz(p, [1, 2]), "not a JSON object"),
        (lambda p, good: _meta_npz(p, {"fps": 25.0}), "lacks a valid segment_frames or fps"),
        (lambda p, good: _meta_npz(p, {"format_version": 99, "segment_frames": 32, "fps": 25.0}), "format version 99"),
    ],
    ids=["truncated", "empty", "text", "npy", "no-meta", "meta-list", "meta-without-frames", "future-version"],
)
def test_load_names_what_is_wrong_with_a_file(tmp_path, make, message):
    good = make_features().save(tmp_path / "good.npz")
    bad = tmp_path / "bad.npz"
    make(bad, good)
    with pytest.raises(FeatureError, match=message) as info:
        RoutineFeatures.load(bad)
    assert "pickle" not in str(info.value)  # never the advice to load a stranger's file unsafely


def _declared_npz(path, shape, dtype="<f4") -> None:
    """An npz whose V array's header declares ``shape`` with no data behind it (a zip bomb's cheap cousin)."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False, "shape": shape})
    meta = json.dumps({"segment_frames": 32, "fps": 25.0}).encode()
    meta_npy = io.BytesIO()
    np.save(meta_npy, np.frombuffer(meta, dtype=np.uint8))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("V.npy", header.getvalue())  # magic and header, no data
        for m in "FA":
            buf = io.BytesIO()
            np.save(buf, np.zeros((3, 2), np.float32))
            zf.writestr(f"{m}.npy", buf.getvalue())
        zf.writestr("__meta__.npy", meta_npy.getvalue())


def _compressed_npz(path, **replaced) -> None:
    """A deflated npz of a good routine with members ``replaced``: zeros compress about
    1000:1, so a small file can hold an honest, huge array (a zip bomb)."""
    good = make_features()
    meta = np.frombuffer(json.dumps(good.metadata()).encode(), dtype=np.uint8)
    np.savez_compressed(path, **{**good.features, "__meta__": meta, **replaced})


def _renamed_npz(path, member: str, name: str) -> None:
    """A good routine's npz with ``member`` stored under ``name``: numpy reads a member
    without ``.npy`` as raw bytes, past every header check (so such an archive is refused)."""
    import zipfile

    good = path.with_name("good.npz")
    _compressed_npz(good)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(name if info.filename == member else info.filename, src.read(info))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: _declared_npz(p, (10**9, 83)), "declares 1000000000 segments"),
        (lambda p: _declared_npz(p, (10, 10**12)), "declares 1000000000000 features per segment"),
        (lambda p: _declared_npz(p, (5000, 8000)), r"declares shape \(5000, 8000\), more than 33554432 values"),
        (lambda p: _declared_npz(p, (10, 83, 2)), r"declares shape \(10, 83, 2\) but holds 0 bytes"),
        (lambda p: _compressed_npz(p, V=np.zeros((10, 9000), np.float32)), "declares 9000 features per segment"),
        (lambda p: _compressed_npz(p, __meta__=np.zeros(2 << 20, np.uint8)), "not as at most 1048576 bytes of JSON"),
        (lambda p: _compressed_npz(p, __meta__=np.zeros(3, np.float64)), "record is stored as float64"),
        (lambda p: _renamed_npz(p, "V.npy", "V"), r"it holds V; ours hold A\.npy, F\.npy, V\.npy, __meta__\.npy only"),
        (lambda p: _renamed_npz(p, "__meta__.npy", "__meta__"), "it holds __meta__; ours hold"),
        (lambda p: _meta_npz_of(p, {"V": np.ones((3, 2), np.complex64)}), "stored as complex64, not as real floats"),
        (lambda p: _meta_npz_of(p, {"V": np.ones((3, 2), np.int32)}), "stored as int32"),
        (lambda p: _meta_npz_of(p, {"V": np.full((3, 2), 1e38, np.float32)}), "values up to 1e\+38"),
    ],
    ids=["declared-huge", "declared-wide", "declared-too-many", "declared-3d", "deflated-wide", "deflated-meta",
         "meta-not-bytes", "raw-member", "raw-meta", "complex", "int", "out-of-range"],
)
def test_load_refuses_what_no_extractor_writes_before_allocating_it(tmp_path, make, message):
    bad = tmp_path / "bad.npz"
    make(bad)
    with pytest.raises(FeatureError, match=message):
        RoutineFeatures.load(bad)


def test_a_routine_longer_than_any_is_refused():
    from pamfn.routine import MAX_SEGMENTS

    with pytest.raises(FeatureError, match=f"no routine has more than {MAX_SEGMENTS}"):
        RoutineFeatures({m: np.zeros((MAX_SEGMENTS + 1, 2), np.float32) for m in "VFA"})


@pytest.mark.parametrize(("duration", "message"), [
    ("abc", "its duration 'abc' is not a number of seconds"),
    ([1, 2], "is not a number of seconds"),
    (float("nan"), "its duration nan is not"),
    (-5.0, r"declares a duration of -5.00 s but holds 3 segments \(3.84 s\)"),
    (1.0, "declares a duration of 1.00 s"),
    (1e9, "declares a duration of 1000000000.00 s"),
], ids=["text", "list", "nan", "negative", "shorter-than-its-segments", "huge"])
def test_a_duration_its_segments_do_not_fit_is_refused(tmp_path, duration, message):
    bad = tmp_path / "bad.npz"
    _meta_npz_of(bad, {}, duration_s=duration)
    with pytest.raises(FeatureError, match=message):
        RoutineFeatures.load(bad)
    _meta_npz_of(bad, {}, duration_s=4.5)  # the media ran on for part of a segment
    assert RoutineFeatures.load(bad).length_s == 4.5


def _meta_npz_of(path, arrays, **meta_fields) -> None:
    full = {m: np.zeros((3, 2), np.float32) for m in "VFA"} | arrays
    meta = json.dumps({"segment_frames": 32, "fps": 25.0} | meta_fields).encode()
    np.savez(path, **full, __meta__=np.frombuffer(meta, dtype=np.uint8))


def test_stage_spans():
    s1, s2, s3 = stage_spans(9, 1.28)
    assert len(s1[0]) == 4 and s1[1][0] == pytest.approx(2.56)
    assert len(s2[0]) == 2 and s2[0][1] == pytest.approx(5.12)
    assert s3[1][0] == pytest.approx(9 * 1.28)
    assert [len(s[0]) for s in stage_spans(1, 1.28)] == [1, 1, 1]


def test_explanation_json_roundtrip():
    st = StageExplanation(
        stage=1, start_s=np.array([0.0]), end_s=np.array([2.56]), msfd_weights=np.array([[0.2, 0.3, 0.5]]),
        fusion_count=np.array([3]),
    )
    ex = Explanation(routine_id="r", score=20.0, score_norm=0.8, label_scale=25.0, branch_scores={"V": 1, "F": 2, "A": 3},
                     K=10, stages=[st], duration_s=3.0, segment_seconds=1.28)
    back = Explanation.from_json(ex.to_json())
    assert back.to_dict() == json.loads(ex.to_json())
    assert back.stages[0].fusion_count.dtype == np.int64
