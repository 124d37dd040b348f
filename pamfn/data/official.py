"""The authors' released RG / Fis-V layout, and its one-time conversion into our format.

Labels: ``RG/train.txt`` and ``RG/test.txt`` (a header line, then ``name ... total``
with the total score in column 3, scale 25) or ``FISV/train.txt`` and ``FISV/test.txt``
(no header, ``name TES PCS``, scale 45). Features: ``<feat_dir>/<RG|FISV>_<rgb|flow|audio>_
<VST|I3D|AST>.npy`` (first set) or ``..._<UMT|I3D|MAST>.npy`` (second set, Table III), each a PICKLED dict from video name to an array (T, D) or (T, n, D).
Unpickling can run arbitrary code, so nothing here reads those files without an explicit
``trust_pickle=True``.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from pamfn import MODALITIES
from pamfn.data.dataset import SAFE_ID, AQADataset, Sample, load_dataset
from pamfn.errors import DatasetError, FeatureError
from pamfn.features.segments import SEGMENT_FRAMES, SEGMENT_SECONDS, TARGET_FPS
from pamfn.presets import FEATURE_SETS, LABEL_SCALES, RG_ACTIONS
from pamfn.routine import RoutineFeatures


@dataclass(frozen=True)
class OfficialLayout:
    """File names and label conventions of one released dataset."""

    prefix: str
    label_scale: float
    header: bool
    score_columns: dict[str, int]
    """Action (or score name) -> column of the label file holding its score."""
    actions_from_name: bool
    """RG: the action is the video name's prefix; Fis-V: every video has every action."""


LAYOUTS: dict[str, OfficialLayout] = {
    "rg": OfficialLayout("RG", LABEL_SCALES["rg"], True, {"score": 3}, True),
    "fisv": OfficialLayout("FISV", LABEL_SCALES["fisv"], False, {"TES": 1, "PCS": 2}, False),
}
MODEL_PRESETS = {("rg", "VST/I3D/AST"): "rg", ("fisv", "VST/I3D/AST"): "fisv",
                 ("rg", "UMT/I3D/MAST"): "rg_feats2", ("fisv", "UMT/I3D/MAST"): "fisv_feats2"}
"""The model preset (``pamfn train --preset``) the authors used for each dataset and feature set."""
_FILE_MODALITY = {"V": "rgb", "F": "flow", "A": "audio"}
PICKLE_REFUSAL = (
    "{path} is a pickled file; unpickling can run arbitrary code. Read it only if you trust "
    "its source: pass trust_pickle=True (command line: --trust-pickle)"
)


def _layout(dataset: str) -> OfficialLayout:
    try:
        return LAYOUTS[dataset.lower()]
    except KeyError:
        raise DatasetError(f"unknown released dataset {dataset!r}; choose one of {sorted(LAYOUTS)}") from None


def _label_file(label_dir: Path, layout: OfficialLayout, split: str) -> Path:
    for path in (label_dir / layout.prefix / f"{split}.txt", label_dir / f"{split}.txt"):
        if path.is_file():
            return path
    raise DatasetError(f"{label_dir}: no {layout.prefix}/{split}.txt label file")


def read_official_labels(label_dir: str | os.PathLike[str], dataset: str) -> pd.DataFrame:
    """Label rows of the released layout as a table: routine_id, action, split, score.

    DatasetError, naming the file and line, for a file that is not UTF-8 text, a score that
    is not a number within ``0..label_scale``, or a video listed twice (in one file or in both).
    """
    layout = _layout(dataset)
    rows = []
    seen: dict[tuple[str, str], str] = {}
    for split in ("train", "test"):
        path = _label_file(Path(label_dir), layout, split)
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{path}: not a UTF-8 text label file ({exc.reason} at byte {exc.start})") from None
        numbered = [(n, ln.split()) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
        for n, parts in numbered[1:] if layout.header else numbered:
            name = parts[0]
            if not SAFE_ID.fullmatch(name):
                raise DatasetError(f"{path}, line {n}: video name {name!r} is not a plain file name (no '/' or '\\', "
                                   "not starting with '.'): its features file is named after it")
            for action, col in layout.score_columns.items():
                try:
                    score = float(parts[col])
                except (IndexError, ValueError):
                    raise DatasetError(f"{path}, line {n}: no numeric score in column {col} for {name}") from None
                if not math.isfinite(score):
                    raise DatasetError(f"{path}, line {n}: {name} has no finite score in column {col} ({parts[col]})")
                if not 0.0 <= score <= layout.label_scale:
                    raise DatasetError(f"{path}, line {n}: {name} has score {parts[col]} in column {col}, outside "
                                       f"0..{layout.label_scale:g} (the {layout.prefix} scale)")
                if layout.actions_from_name:
                    action = next((a for a in RG_ACTIONS if name.lower().startswith(a)), None)
                    if action is None:
                        raise DatasetError(f"{path}, line {n}: video {name} does not start with one of {RG_ACTIONS}")
                where = f"{path.name}, line {n}"
                if (name, action) in seen:
                    raise DatasetError(f"{path}, line {n}: video {name} is listed twice for {action!r} "
                                       f"(also {seen[(name, action)]})")
                seen[(name, action)] = where
                rows.append({"routine_id": name, "action": action, "split": split, "score": score})
    return pd.DataFrame(rows)


def feature_file(feat_dir: Path, layout: OfficialLayout, feature_set: str, m: str) -> Path:
    return feat_dir / f"{layout.prefix}_{_FILE_MODALITY[m]}_{FEATURE_SETS[feature_set][m]}.npy"


def detect_feature_set(feat_dir: str | os.PathLike[str], dataset: str, feature_set: str | None = None) -> str:
    """The feature set whose three files are in ``feat_dir`` (or check the one asked for)."""
    layout, feat_dir = _layout(dataset), Path(feat_dir)
    if feature_set is not None and feature_set not in FEATURE_SETS:
        raise DatasetError(f"unknown feature set {feature_set!r}; choose one of {sorted(FEATURE_SETS)}")
    candidates = [feature_set] if feature_set else list(FEATURE_SETS)
    present = [fs for fs in candidates if all(feature_file(feat_dir, layout, fs, m).is_file() for m in MODALITIES)]
    if len(present) == 1:
        return present[0]
    if len(present) > 1:
        raise DatasetError(f"{feat_dir} holds both released feature sets {present}; choose one (--feature-set)")
    expected = "; ".join(", ".join(feature_file(feat_dir, layout, fs, m).name for m in MODALITIES) for fs in candidates)
    raise DatasetError(f"released features file(s) not found in {feat_dir}: expected {expected}")


def read_official_features(
    feat_dir: str | os.PathLike[str], dataset: str, *, trust_pickle: bool = False, feature_set: str | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Modality -> {video name: float32 array (T, D)}; (T, n, D) arrays are averaged over n.

    ``feature_set``: one of :data:`FEATURE_SETS`, or None to take the one whose files are
    present. Refuses (DatasetError) unless ``trust_pickle`` is True.
    """
    layout = _layout(dataset)
    chosen = detect_feature_set(feat_dir, dataset, feature_set)
    out = {}
    for m in MODALITIES:
        path = feature_file(Path(feat_dir), layout, chosen, m)
        if not trust_pickle:
            raise DatasetError(PICKLE_REFUSAL.format(path=path))
        try:
            table = np.load(path, allow_pickle=True).item()
        except Exception as exc:  # an unreadable pickle can fail in many ways
            raise DatasetError(f"{path}: not a readable pickled feature dict ({exc})") from exc
        if not isinstance(table, dict):
            raise DatasetError(f"{path}: expected a dict from video name to array, got {type(table).__name__}")
        arrays = {}
        for name, value in table.items():
            arr = np.asarray(value, dtype=np.float32)
            if arr.ndim == 3:
                arr = arr.mean(axis=1)
            if arr.ndim != 2:
                raise DatasetError(f"{path}: video {name} has features of shape {arr.shape}, expected (T, D) or (T, n, D)")
            arrays[str(name)] = arr
        out[m] = arrays
    return out


def load_official(
    feat_dir: str | os.PathLike[str],
    label_dir: str | os.PathLike[str],
    dataset: str,
    *,
    trust_pickle: bool = False,
    feature_set: str | None = None,
) -> AQADataset:
    """Read the released layout straight into memory (needs ``trust_pickle``).

    Label rows without features are an error; videos without labels are skipped and
    listed in ``info["unlabelled_videos_skipped"]``.
    """
    layout = _layout(dataset)
    labels = read_official_labels(label_dir, dataset)
    feature_set = detect_feature_set(feat_dir, dataset, feature_set)
    per_modality = read_official_features(feat_dir, dataset, trust_pickle=trust_pickle, feature_set=feature_set)
    features: dict[str, dict[str, np.ndarray]] = {}
    samples = []
    for row in labels.itertuples(index=False):
        key = f"features/{row.routine_id}.npz"
        if key not in features:
            missing = [m for m in MODALITIES if row.routine_id not in per_modality[m]]
            if missing:
                raise DatasetError(f"routine {row.routine_id}: labels without features (no {missing} entry in the .npy dicts)")
            try:
                RoutineFeatures(features={m: per_modality[m][row.routine_id] for m in MODALITIES}, routine_id=row.routine_id)
            except FeatureError as exc:
                raise DatasetError(f"routine {row.routine_id}: {exc}") from exc
            features[key] = {m: per_modality[m][row.routine_id] for m in MODALITIES}
        samples.append(Sample(row.routine_id, row.action, row.split, float(row.score), key))
    order = list(RG_ACTIONS) if layout.actions_from_name else list(layout.score_columns)
    actions = [a for a in order if a in set(labels["action"])]
    info = {
        "name": layout.prefix,
        "label_scale": layout.label_scale,
        "actions": actions,
        "source": "imported from the authors' released features",
        "feature_set": feature_set,
        "model_preset": MODEL_PRESETS[(dataset.lower(), feature_set)],
        "unlabelled_videos_skipped": sorted(set(per_modality["V"]) - set(labels["routine_id"])),
    }
    seconds = {key: SEGMENT_SECONDS for key in features}
    extractors = dict(FEATURE_SETS[feature_set])
    return AQADataset(Path(feat_dir), layout.label_scale, actions, samples, features, seconds, info, extractors)


def import_official(
    feat_dir: str | os.PathLike[str],
    label_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    dataset: str,
    *,
    trust_pickle: bool = False,
    dtype: str = "float16",
    feature_set: str | None = None,
) -> Path:
    """Convert the released features and labels once into a dataset folder in our format.

    The folder is built beside ``out_dir`` and renamed into place at the end, so an
    interrupted import leaves nothing half-written. ``out_dir`` must not exist yet.
    Segments are the paper's: 32 frames at 25 fps.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() or out_dir.is_symlink():
        raise DatasetError(f"{out_dir} already exists; choose a new output folder")
    data = load_official(feat_dir, label_dir, dataset, trust_pickle=trust_pickle, feature_set=feature_set)
    made = _missing_ancestors(out_dir.parent)
    work = None
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        work = _new_work_folder(out_dir)
        for key, arrays in tqdm(data.features.items(), desc=f"import {data.info['name']}", unit="routine"):
            name = Path(key).stem
            rf = RoutineFeatures(features=arrays, segment_frames=SEGMENT_FRAMES, fps=TARGET_FPS, extractors=data.extractors, routine_id=name)
            rf.save(work / key, dtype=dtype)
        rows = [
            {"routine_id": s.routine_id, "action": s.action, "split": s.split, "score": s.score, "features": s.features}
            for s in data.samples
        ]
        pd.DataFrame(rows).to_csv(work / "labels.csv", index=False)
        (work / "dataset.json").write_text(json.dumps(data.info, indent=2), encoding="utf-8")
        try:
            load_dataset(work)  # what is renamed into place is a data set that loads
        except DatasetError as exc:
            raise DatasetError(f"{str(exc).replace(str(work), str(out_dir))} ({out_dir} not written)") from exc
        if out_dir.exists() or out_dir.is_symlink():
            raise DatasetError(f"{out_dir} already exists (made while importing); choose a new output folder")
        os.rename(work, out_dir)
    except BaseException:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        for folder in made:  # the parents this call made, deepest first, if still empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise
    return out_dir


def _missing_ancestors(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _new_work_folder(out_dir: Path) -> Path:
    """A new empty folder beside ``out_dir`` with the mode a plain mkdir gives under the umask
    (``tempfile.mkdtemp`` would make it 0700, and the rename would keep that)."""
    for _ in range(100):
        work = out_dir.parent / f".{out_dir.name}.{secrets.token_hex(4)}.part"
        try:
            work.mkdir()
        except FileExistsError:
            continue
        return work
    raise FileExistsError(f"{out_dir.parent}: no free name for a temporary folder beside {out_dir.name}")
