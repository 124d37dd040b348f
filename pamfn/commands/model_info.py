"""``pamfn model-info --preset rg [--json]``: sizes and parameter counts of a model
(a preset, optionally with overrides, or a checkpoint)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pamfn.presets import PRESETS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("model-info", help="parameter counts and sizes of a PAMFN model")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=sorted(PRESETS), help="the paper's preset")
    source.add_argument("--checkpoint", metavar="DIR", help="a checkpoint directory")
    parser.add_argument("--K", type=int, default=None, help="override the number of FusionNets")
    parser.add_argument("--d", type=int, default=None, help="override the feature width")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def parameters_by_part(model: Any) -> dict[str, Any]:
    """Parameter counts of the branches, the fusion stages, the regressor and the rest."""
    count = lambda module: sum(p.numel() for p in module.parameters())
    parts: dict[str, Any] = {"branches": {m: count(b) for m, b in model.branches.items()}}
    stages = getattr(model, "stages", None)
    if stages is not None:
        parts["stages"] = {str(i + 1): count(s) for i, s in enumerate(stages)}
    parts["regressor"] = count(model.regressor)
    listed = sum(parts["branches"].values()) + sum(parts.get("stages", {}).values())
    if model.regressor not in list(model.branches.modules()):
        listed += parts["regressor"]
    parts["other"] = count(model) - listed
    return parts


def run(args: argparse.Namespace) -> int:
    from pamfn.checkpoint import read_config
    from pamfn.model import PAMFNConfig, build_model

    overrides = {k: v for k, v in (("K", args.K), ("d", args.d)) if v is not None}
    if args.checkpoint:
        cfg, meta = read_config(args.checkpoint)
        cfg = cfg.with_overrides(**overrides) if overrides else cfg
    else:
        cfg, meta = PAMFNConfig.preset(args.preset, **overrides), {}
    import torch

    with torch.device("meta"):  # counted, never run: a config asking for billions of parameters takes no memory
        model = build_model(cfg)
    info = {
        "preset": cfg.preset,
        "model": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "K": cfg.K,
        "d": cfg.d,
        "input_dims": cfg.input_dims,
        "label_scale": cfg.label_scale,
        "modalities": list(cfg.modalities),
        "parameters_by_part": parameters_by_part(model),
        "config": cfg.to_dict(),
    }
    if meta:
        info["meta"] = meta
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['model']} ({cfg.preset or 'custom'}): {info['parameters']:,} parameters, K={cfg.K}, d={cfg.d}")
    print(f"input dims: {cfg.input_dims}, label scale {cfg.label_scale:g}")
    for part, value in info["parameters_by_part"].items():
        print(f"  {part}: {value if isinstance(value, int) else ', '.join(f'{k}={v:,}' for k, v in value.items())}")
    return 0
