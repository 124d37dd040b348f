"""Dataset readers: our format, the released layout (pickles only with consent), crops."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from pamfn.data import SplitTensors, import_official, load_dataset, load_official, validation_split
from pamfn.errors import DatasetError
from pamfn.routine import RoutineFeatures
from tests.support.toy import write_toy_dataset


@pytest.fixture
def toy(tmp_path):
    return write_toy_dataset(tmp_path / "toy", actions=("ball", "hoop"), n_train=8, n_test=3)


def test_reads_our_format(toy):
    data = load_dataset(toy)
    assert data.actions == ["ball", "hoop"] and data.label_scale == 25.0
    assert data.dims == {"V": 12, "F": 10, "A": 8}
    assert len(data.select("ball", "train")) == 8 and len(data.select("hoop", "test")) == 3
    arr = next(iter(data.features.values()))["V"]
    assert arr.dtype == np.float32


def test_reads_parquet_labels(toy):
    table = pd.read_csv(toy / "labels.csv", dtype={"routine_id": str})
    table.to_parquet(toy / "labels.parquet")
    (toy / "labels.csv").unlink()
    assert len(load_dataset(toy).samples) == len(table)


def _edit_labels(root, fn):
    table = pd.read_csv(root / "labels.csv", dtype={"routine_id": str})
    fn(table).to_csv(root / "labels.csv", index=False)


def test_labels_without_features(toy):
    (toy / "features" / "ball_002.npz").unlink()
    with pytest.raises(DatasetError, match="ball_002.*labels without features"):
        load_dataset(toy)


def test_features_without_labels(toy):
    _edit_labels(toy, lambda t: t[t.routine_id != "hoop_001"])
    with pytest.raises(DatasetError, match="without labels: features/hoop_001.npz"):
        load_dataset(toy)
    assert len(load_dataset(toy, allow_unlabelled=True).samples) == 21


def test_empty_split(toy):
    _edit_labels(toy, lambda t: t.assign(split=np.where(t.action == "hoop", "train", t.split)))
    data = load_dataset(toy)  # a set may carry one split only (the bundled sample: its test split)
    with pytest.raises(DatasetError, match="'test' split of action 'hoop' is empty"):
        data.select("hoop", "test")


def test_mismatched_modality_lengths(toy):
    path = toy / "features" / "ball_004.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["A"] = arrays["A"][:-2]
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match="ball_004.*different numbers of segments"):
        load_dataset(toy)


def test_nan_features(toy):
    path = toy / "features" / "hoop_005.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["V"] = arrays["V"].copy()
    arrays["V"][3, 1] = np.nan
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match="hoop_005.*NaN"):
        load_dataset(toy)


def test_dims_differ_between_routines_and_from_checkpoint(toy):
    data = load_dataset(toy)
    with pytest.raises(DatasetError, match="modality V has 12-dim features, the checkpoint expects 1024"):
        data.check_dims({"V": 1024})
    rng = np.random.default_rng(0)
    RoutineFeatures(features={m: rng.standard_normal((9, d)).astype(np.float32) for m, d in zip("VFA", (7, 10, 8))},
                    routine_id="ball_000").save(toy / "features" / "ball_000.npz")
    with pytest.raises(DatasetError, match="feature dims"):
        load_dataset(toy)


def test_bad_labels_table(toy, tmp_path):
    _edit_labels(toy, lambda t: t.drop(columns=["split"]))
    with pytest.raises(DatasetError, match="lacks columns \\['split'\\]"):
        load_dataset(toy)
    with pytest.raises(DatasetError, match="no dataset.json"):
        load_dataset(tmp_path)


def test_validation_split_is_seeded_and_disjoint(toy):
    samples = load_dataset(toy).select("ball", "train")
    train, val = validation_split(samples, 0.25, seed=3)
    _, val2 = validation_split(list(reversed(samples)), 0.25, seed=3)
    assert {s.routine_id for s in val} == {s.routine_id for s in val2}
    assert len(val) == 2 and not {s.routine_id for s in train} & {s.routine_id for s in val}


def test_crops_are_consecutive_windows_with_zero_padding(toy):
    data = load_dataset(toy)
    samples = data.select("ball", "train")
    split = SplitTensors(data, samples, min_length=20)
    gen = torch.Generator().manual_seed(0)
    index = torch.arange(len(split))
    crops = split.crops(index, 20, gen)
    assert crops["V"].shape == (len(split), 20, 12)
    for i, s in enumerate(samples):
        full = data.features[s.features]["V"]
        T = full.shape[0]  # 10..16 < 20: whole routine then zeros
        np.testing.assert_array_equal(crops["V"][i, :T].numpy(), full)
        assert not crops["V"][i, T:].any()
    short = split.crops(index, 5, gen)["A"]
    for i, s in enumerate(samples):
        full = data.features[s.features]["A"]
        starts = [t for t in range(full.shape[0] - 4) if np.array_equal(full[t : t + 5], short[i].numpy())]
        assert starts, "a crop must be 5 consecutive segments of the routine"
    assert split.routine(0)["F"].shape == (1, data.features[samples[0].features]["F"].shape[0], 10)


def _write_official(root, rg=True, shape4=False, extractors=("VST", "I3D", "AST")):
    """Tiny fake released files: label txts and pickled per-modality dicts."""
    rng = np.random.default_rng(1)
    names = {"train": ["Ball_001", "Hoop_002", "Ball_003"], "test": ["Hoop_004", "Ball_005"]}
    if not rg:
        names = {"train": ["skate_1", "skate_2"], "test": ["skate_3"]}
    prefix = "RG" if rg else "FISV"
    (root / "labels" / prefix).mkdir(parents=True, exist_ok=True)
    for split, vids in names.items():
        if rg:
            lines = ["name d e total"] + [f"{v} 8.5 7.1 {15 + i:.2f}" for i, v in enumerate(vids)]
        else:
            lines = [f"{v} {30 + i} {35 + i}" for i, v in enumerate(vids)]
        (root / "labels" / prefix / f"{split}.txt").write_text("\n".join(lines) + "\n")
    feats = root / "feats"
    feats.mkdir(exist_ok=True)
    all_names = names["train"] + names["test"] + ["Clubs_999"]
    keys = [f"{m}_{e}" for m, e in zip(("rgb", "flow", "audio"), extractors)]
    for key, dim in zip(keys, (6, 5, 4)):
        table = {v: rng.standard_normal((7, 3, dim) if shape4 else (7, dim)).astype(np.float32) for v in all_names}
        np.save(feats / f"{prefix}_{key}.npy", table, allow_pickle=True)
    return feats, root / "labels"


def test_official_layout_needs_trust(tmp_path):
    feats, labels = _write_official(tmp_path)
    with pytest.raises(DatasetError, match="pickled.*--trust-pickle"):
        load_official(feats, labels, "rg")
    with pytest.raises(DatasetError, match="pickled"):
        import_official(feats, labels, tmp_path / "out", "rg")
    assert not (tmp_path / "out").exists()


def test_import_official_rg(tmp_path):
    feats, labels = _write_official(tmp_path, shape4=True)
    out = import_official(feats, labels, tmp_path / "out", "rg", trust_pickle=True)
    data = load_dataset(out)
    assert data.label_scale == 25 and data.actions == ["ball", "hoop"]
    assert data.dims == {"V": 6, "F": 5, "A": 4}
    assert [s.score for s in data.select("ball", "train")] == [15.0, 17.0]
    assert json.loads((out / "dataset.json").read_text())["unlabelled_videos_skipped"] == ["Clubs_999"]
    assert not list(tmp_path.glob(".out.*"))
    with pytest.raises(DatasetError, match="already exists"):
        import_official(feats, labels, out, "rg", trust_pickle=True)


def test_import_official_fisv_has_two_actions(tmp_path):
    feats, labels = _write_official(tmp_path, rg=False)
    data = load_official(feats, labels, "fisv", trust_pickle=True)
    assert data.actions == ["TES", "PCS"] and data.label_scale == 45
    assert [s.score for s in data.select("PCS", "test")] == [35.0]


def test_import_official_second_feature_set(tmp_path):
    feats, labels = _write_official(tmp_path, extractors=("UMT", "I3D", "MAST"))
    out = import_official(feats, labels, tmp_path / "out", "rg", trust_pickle=True)
    info = json.loads((out / "dataset.json").read_text())
    assert info["feature_set"] == "UMT/I3D/MAST" and info["model_preset"] == "rg_feats2"
    assert load_dataset(out).extractors == {"V": "UMT", "F": "I3D", "A": "MAST"}
    _write_official(tmp_path, extractors=("VST", "I3D", "AST"))  # now both sets lie there
    with pytest.raises(DatasetError, match="both released feature sets"):
        load_official(feats, labels, "rg", trust_pickle=True)
    data = load_official(feats, labels, "rg", trust_pickle=True, feature_set="VST/I3D/AST")
    assert data.extractors == {"V": "VST", "F": "I3D", "A": "AST"}


def test_import_official_offers_every_released_layout_and_feature_set():
    from pamfn.cli import build_parser
    from pamfn.data.official import FEATURE_SETS, LAYOUTS, MODEL_PRESETS
    from pamfn.presets import PRESETS

    command = build_parser()._subparsers._group_actions[0].choices["import-official"]
    choices = {a.dest: list(a.choices) for a in command._actions if a.choices}
    assert choices["dataset"] == list(LAYOUTS) and choices["feature_set"] == list(FEATURE_SETS)
    assert {MODEL_PRESETS[(d, f)] for d in LAYOUTS for f in FEATURE_SETS} == set(PRESETS)
    for (dataset, feature_set), preset in MODEL_PRESETS.items():
        assert PRESETS[preset]["label_scale"] == LAYOUTS[dataset].label_scale
        assert PRESETS[preset]["feature_extractors"] == FEATURE_SETS[feature_set]


def test_import_official_names_both_sets_when_files_are_missing(tmp_path):
    feats, labels = _write_official(tmp_path, extractors=("UMT", "I3D", "AST"))  # a mix: neither set complete
    with pytest.raises(DatasetError, match=r"RG_rgb_VST.npy.*RG_audio_MAST.npy"):
        load_official(feats, labels, "rg", trust_pickle=True)


def test_import_official_missing_features_leaves_nothing(tmp_path):
    feats, labels = _write_official(tmp_path)
    with open(labels / "RG" / "test.txt", "a") as fh:
        fh.write("Ribbon_777 1 1 12.0\n")
    with pytest.raises(DatasetError, match="Ribbon_777: labels without features"):
        import_official(feats, labels, tmp_path / "out", "rg", trust_pickle=True)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_standardisation_folds_exactly_into_the_first_layer(toy):
    from pamfn.data import InputNorm
    from pamfn.model import PAMFNConfig, build_model

    data = load_dataset(toy)
    samples = data.select("hoop", "train")
    norm = InputNorm.from_samples(data, samples)
    normed = SplitTensors(data, samples, norm=norm).routine(2)
    raw = SplitTensors(data, samples).routine(2)
    assert abs(float(SplitTensors(data, samples, norm=norm).features["V"][:, :10].mean())) < 0.5
    model = build_model(PAMFNConfig.preset("rg", d=8, K=2, input_dims=data.dims)).eval()
    with torch.no_grad():
        expected = model(normed).score
        norm.fold(model)
        assert torch.allclose(model(raw).score, expected, atol=1e-5)
        norm.unfold(model)
        assert torch.allclose(model(normed).score, expected, atol=1e-5)
