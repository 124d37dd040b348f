"""``pamfn import-official``: convert the authors' released RG / Fis-V features and labels
once into a dataset folder in our safe format (npz features, labels.csv, dataset.json).

    python -m pamfn import-official FEAT_DIR LABEL_DIR OUT_DIR --dataset rg --trust-pickle

The released features are pickled ``.npy`` dicts; unpickling can run arbitrary code, so
the command refuses to read them without ``--trust-pickle``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pamfn.presets import FEATURE_SETS, LABEL_SCALES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("import-official", help="convert the released RG / Fis-V features into our dataset format",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("feat_dir", type=Path, help="folder with <RG|FISV>_<rgb|flow|audio>_<VST|I3D|AST>.npy (or the second set: UMT|I3D|MAST)")
    parser.add_argument("label_dir", type=Path, help="folder with RG/ or FISV/ train.txt and test.txt")
    parser.add_argument("out_dir", type=Path, help="new dataset folder to create")
    parser.add_argument("--dataset", choices=tuple(LABEL_SCALES), required=True)
    parser.add_argument("--trust-pickle", action="store_true", help="allow unpickling the released .npy dicts (they can run code)")
    parser.add_argument("--feature-set", choices=tuple(FEATURE_SETS),
                        help="which released feature set to read (default: the one whose files are present)")
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float16", help="storage precision of the features")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pamfn.data import import_official, load_dataset

    out = import_official(args.feat_dir, args.label_dir, args.out_dir, args.dataset, trust_pickle=args.trust_pickle, dtype=args.dtype,
                         feature_set=args.feature_set)
    data = load_dataset(out)
    def count(action: str, split: str) -> int:  # a split may be empty: the set is written, and it loads
        return sum(s.action == action and s.split == split for s in data.samples)

    counts = ", ".join(f"{a}: {count(a, 'train')}/{count(a, 'test')}" for a in data.actions)
    print(f"wrote {out}: {len(data.features)} routines (train/test per action: {counts})")
    print(f"features {data.info['feature_set']}: train with --preset {data.info['model_preset']} (the authors' setting for them)")
    skipped = data.info.get("unlabelled_videos_skipped") or []
    if skipped:
        print(f"skipped {len(skipped)} video(s) without labels")
    return 0
