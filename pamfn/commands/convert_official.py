"""``pamfn convert-official IN.pth OUT_DIR --preset rg|fisv``: the authors' released
state_dict -> our checkpoint (safetensors + config.json)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-official",
        help="convert a released PAMFN state_dict (.pth) into a PAMFN Studio checkpoint",
        description="Loads the .pth with torch.load(weights_only=True) (no pickled code runs), maps every key, "
        "and writes OUT_DIR/model.safetensors and OUT_DIR/config.json.",
    )
    parser.add_argument("src", metavar="IN.pth", help="the released state_dict file")
    parser.add_argument("out", metavar="OUT_DIR", help="checkpoint directory to write")
    parser.add_argument("--preset", choices=["rg", "fisv"], required=True, help="dataset preset (sets label_scale)")
    parser.add_argument("--action", default=None, help="action the checkpoint was trained on (e.g. ball, TES), kept in meta")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pamfn.checkpoint import read_config
    from pamfn.convert_official import convert_official

    meta = {"action": args.action} if args.action else None
    out = convert_official(args.src, args.out, args.preset, meta)
    cfg, _ = read_config(out)
    print(f"wrote {out} (preset {cfg.preset}, K={cfg.K}, d={cfg.d}, input dims {cfg.input_dims})")
    return 0
