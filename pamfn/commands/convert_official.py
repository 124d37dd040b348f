"""``pamfn convert-official IN.pth OUT_DIR --preset rg|fisv|rg_feats2|fisv_feats2``: the authors' released
state_dict -> our checkpoint (safetensors + config.json)."""

from __future__ import annotations

import argparse

from pamfn.presets import PRESETS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-official",
        help="convert a released PAMFN state_dict (.pth) into a PAMFN Studio checkpoint",
        description="Loads the .pth with torch.load(weights_only=True) (no pickled code runs), maps every key, "
        "and writes OUT_DIR/model.safetensors and OUT_DIR/config.json.",
    )
    parser.add_argument("src", metavar="IN.pth", help="the released state_dict file")
    parser.add_argument("out", metavar="OUT_DIR", help="checkpoint directory to write")
    parser.add_argument("--preset", choices=sorted(PRESETS), required=True,
                        help="the paper's preset the weights were trained with (sets heads and label_scale; K and the regressor width are checked against the weights)")
    parser.add_argument("--action", default=None, help="action the checkpoint was trained on (e.g. ball, TES), kept in meta")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pamfn.checkpoint import read_config, replaceable_checkpoint_dir
    from pamfn.convert_official import convert_official

    replaceable_checkpoint_dir(args.out)  # before the work, not after it
    meta = {"action": args.action} if args.action else None
    out = convert_official(args.src, args.out, args.preset, meta)
    cfg, _ = read_config(out)
    print(f"wrote {out} (preset {cfg.preset}, K={cfg.K}, d={cfg.d}, regressor width d/{cfg.regressor_ratio}, "
          f"heads MSFD {cfg.msfd_heads} / CMFD {cfg.cmfd_heads}, label scale {cfg.label_scale:g}, input dims {cfg.input_dims})")
    return 0
