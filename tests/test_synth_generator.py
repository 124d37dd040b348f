"""The routine generator: determinism, rendering, music, bad input (tiny configuration)."""

from __future__ import annotations

from dataclasses import replace
from itertools import islice, pairwise

import numpy as np
import pytest

from pamfn.errors import DatasetError, MediaError
from pamfn.synth import TINY, make_routine, plan_routine, render_frames, routine_specs
from pamfn.synth.config import ACTIONS, BUNDLED, BUNDLED_V1
from pamfn.synth.dataset import RoutineSpec, label_row
from pamfn.synth.plan import DEGRADATION_KINDS, DEGRADATION_S, routine_seed
from pamfn.synth.video import encode_mp4

SPECS = routine_specs(TINY)
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pair():
    spec = SPECS[0]
    return spec, make_routine(spec, TINY), make_routine(spec, TINY)


def test_same_seed_same_routine(pair):
    spec, a, b = pair
    assert np.array_equal(a.motion.joints, b.motion.joints)
    assert np.array_equal(a.motion.apparatus, b.motion.apparatus)
    assert a.audio.tobytes() == b.audio.tobytes()
    assert label_row(spec, a) == label_row(spec, b)
    fa = list(islice(render_frames(a.plan, a.motion, TINY.feature_size, TINY.fps), 40))
    fb = list(islice(render_frames(b.plan, b.motion, TINY.feature_size, TINY.fps), 40))
    assert all(x.tobytes() == y.tobytes() for x, y in zip(fa, fb))


def test_different_seeds_differ(pair):
    spec, a, _ = pair
    other = make_routine(replace(spec, seed=(spec.seed[0] + 1, *spec.seed[1:])), TINY)
    assert other.audio.shape != a.audio.shape or not np.array_equal(other.audio, a.audio)
    assert label_row(spec, other)["score"] != label_row(spec, a)["score"]
    next_index = make_routine(SPECS[1], TINY)
    assert next_index.plan.music.tempo_bpm != a.plan.music.tempo_bpm


def test_seeds_do_not_depend_on_set_size():
    small = {s.routine_id: s.seed for s in routine_specs(TINY)}
    big = {s.routine_id: s.seed for s in routine_specs(TINY.with_counts(5, 3, 1))}
    assert all(big[rid] == seed for rid, seed in small.items())


def test_splits_and_showcase():
    for version in (1, 2):
        cfg = replace(TINY.with_counts(3, 4, 2), version=version)
        specs = routine_specs(cfg)
        assert len(specs) == 4 * 7
        for action in ACTIONS:
            mine = [s for s in specs if s.action == action]
            assert [s.split for s in mine] == ["train"] * 3 + ["test"] * 4
            assert sum(s.showcase for s in mine) == 2 and not any(s.showcase for s in mine[:3])
            if version == 1:
                assert [s.showcase for s in mine[3:]] == [True, True, False, False]


def test_version_1_reproduces_by_name():
    """A label row of the first bundled set (generator version 1), regenerated today."""
    import csv

    with open(ROOT / "tests" / "data" / "synth_v1_hoop_117.csv", newline="") as fh:
        expected = next(csv.DictReader(fh))
    spec = RoutineSpec("hoop_117", "hoop", 117, "test", routine_seed(BUNDLED_V1.seed, "hoop", 117), False)
    assert label_row(spec, make_routine(spec, BUNDLED_V1)) == expected


def test_version_2_stretches_and_tempo():
    kinds = set()
    for k in range(40):
        plan = plan_routine(f"ball_{k:03d}", "ball", routine_seed(BUNDLED.seed, "ball", k), BUNDLED)
        assert plan.version == 2 and 0.04 <= abs(plan.performer_tempo_bpm / plan.music.tempo_bpm - 1) <= 0.12
        stretches = sorted(plan.degradations, key=lambda d: d.start_s)
        for d in stretches:
            assert d.kind in DEGRADATION_KINDS[d.modality]
            assert DEGRADATION_S[0] <= d.end_s - d.start_s <= DEGRADATION_S[1] and 0 < d.start_s < d.end_s < plan.duration_s
            kinds.add(d.kind)
        assert all(a.end_s <= b.start_s for a, b in pairwise(stretches)), "degradations never overlap"
        assert len({d.modality for d in stretches}) == len(stretches), "at most one stretch per modality"
    assert kinds == {k for pair in DEGRADATION_KINDS.values() for k in pair}


def test_degradations_never_enter_the_score():
    from pamfn.synth.motion import animate
    from pamfn.synth.music import mix_soundtrack
    from pamfn.synth.scoring import realise

    r = make_routine(SPECS[0], TINY)
    assert r.plan.degradations and r.plan.degradations[0].modality == "A", "the first tiny routine has crowd noise"
    clean = replace(r.plan, degradations=())
    assert np.array_equal(animate(clean, TINY.fps).joints, r.motion.joints)
    assert realise(clean, r.motion, r.music, TINY.fps, TINY.sample_rate) == r.realised
    assert not np.array_equal(mix_soundtrack(clean, r.music, r.motion.impacts, TINY.sample_rate), r.audio)


def test_frames_audio_shapes(pair):
    _, r, _ = pair
    plan = r.plan
    assert TINY.min_duration_s - 2 <= plan.duration_s <= TINY.max_duration_s + 2
    assert r.audio.dtype == np.float32 and r.audio.ndim == 1
    assert r.audio.size == plan.n_frames * TINY.samples_per_frame
    assert np.abs(r.audio).max() <= 1.0 and np.abs(r.audio).max() > 0.05
    frames = list(render_frames(plan, r.motion, TINY.feature_size, TINY.fps))
    assert len(frames) == plan.n_frames
    w, h = TINY.feature_size
    assert all(f.shape == (h, w, 3) and f.dtype == np.uint8 for f in frames)
    big = next(render_frames(plan, r.motion, (320, 240), TINY.fps))
    assert big.shape == (240, 320, 3)
    motion_energy = np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in pairwise(frames)])
    assert motion_energy > 0.05, "the performer should move"


def test_music_has_the_planned_tempo(pair):
    import librosa

    _, r, _ = pair
    tempo, _ = librosa.beat.beat_track(y=r.music, sr=TINY.sample_rate)
    est, true = float(np.atleast_1d(tempo)[0]), r.plan.music.tempo_bpm
    assert min(abs(est - true), abs(est - 2 * true), abs(est - true / 2)) / true < 0.06, (est, true)


def test_every_apparatus_renders():
    for spec in SPECS:
        if spec.index != 0:
            continue
        r = make_routine(spec, TINY)
        frame = next(islice(render_frames(r.plan, r.motion, (160, 120), TINY.fps), 100, None))
        assert frame.std() > 5


def test_unknown_apparatus_is_refused():
    with pytest.raises(DatasetError, match="unknown apparatus 'rope'"):
        plan_routine("rope_000", "rope", (1, 0, 0), TINY)


def test_encode_refuses_wrong_frames(tmp_path):
    frames = [np.zeros((10, 10, 3), np.uint8)]
    with pytest.raises(MediaError, match="expected"):
        encode_mp4(tmp_path / "x.mp4", frames, (16, 16), 25.0, np.zeros(882, np.float32), 22050)
    assert not list(tmp_path.iterdir()), "nothing half-written is left"
