"""Convert the authors' released PAMFN ``state_dict`` (``.pth``) into our checkpoint format.

The file is read with ``torch.load(..., weights_only=True)``: no pickled code runs; a file
holding more than tensors (such as the released phase-1 branches, saved as whole pickled
modules) is refused. Every official key maps to one of ours through the rule table
below, used in both directions; the K FusionNets' blocks (``ffn.k``) are packed into
our grouped convolutions. The six LayerNorms the released code defines but never uses
(``fusion_s.norm`` / ``fusion_f.norm`` in each stage) are dropped; exporting back writes
them at their initial values (weight 1, bias 0).
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pamfn.errors import CheckpointError
from pamfn.features.media import file_sha256
from pamfn.model.config import PAMFNConfig
from pamfn.presets import PRESETS

# Placeholder types: official spelling, our spelling (parallel lists), or None for "same text".
_PLACEHOLDERS: dict[str, tuple[list[str], list[str]] | None] = {
    "mod": (["r", "f", "a"], ["V", "F", "A"]),
    "stage": (["1", "2", "3"], ["0", "1", "2"]),
    "proj": (["0", "1", "2"], ["V", "F", "A"]),
    "qkv": (["0", "1", "2"], ["query", "key", "value"]),
    "layer": (["0", "1", "3", "4"], ["conv1", "bn1", "conv2", "bn2"]),
    "rest": None,
}

RULES: list[tuple[str, str]] = [
    ("c", "init_mixed"),
    ("tau", "tau"),
    ("model_{mod}.embedding.{rest}", "branches.{mod}.embedding.{rest}"),
    ("model_{mod}.stage{stage}.{rest}", "branches.{mod}.blocks.{stage}.{rest}"),
    ("model_{mod}.fc.{rest}", "branches.{mod}.regressor.{rest}"),
    ("stage{stage}.conv.{rest}", "stages.{stage}.conv.{rest}"),
    ("stage{stage}.short_cut.{rest}", "stages.{stage}.shortcut.{rest}"),
    ("stage{stage}.s_fusion.fusion_s.linear_layers.{qkv}.{rest}", "stages.{stage}.msfd.attention.{qkv}.{rest}"),
    ("stage{stage}.s_fusion.proj.0.{rest}", "stages.{stage}.msfd.query_proj.{rest}"),
    ("stage{stage}.f_fusion.proj1.{proj}.{rest}", "stages.{stage}.afm.fusion_nets.modality_attention.{proj}.{rest}"),
    ("stage{stage}.f_fusion.fusion_f.linear_layers.{qkv}.{rest}", "stages.{stage}.cmfd.attention.{qkv}.{rest}"),
    ("stage{stage}.f_fusion.proj2.0.{rest}", "stages.{stage}.cmfd.query_proj.{rest}"),
    ("stage{stage}.f_fusion.policy.0.{rest}", "stages.{stage}.afm.policy_net.conv.{rest}"),
    ("fc.{rest}", "regressor.{rest}"),
]
"""Official key template -> our key template, one-to-one."""

PACKED_RULE = ("stage{stage}.f_fusion.ffn.{k}.{layer}.{rest}", "stages.{stage}.afm.fusion_nets.{layer}.{rest}")
"""FusionNet k's block in the official layout -> slice k of our packed grouped convolution."""

UNUSED = re.compile(r"^stage[123]\.(s_fusion\.fusion_s|f_fusion\.fusion_f)\.norm\.(weight|bias)$")


def _compile(template: str, side: int) -> re.Pattern[str]:
    """Regex with one named group per placeholder, for the official (0) or our (1) side."""
    out, pos = [], 0
    for match in re.finditer(r"\{(\w+)\}", template):
        out.append(re.escape(template[pos : match.start()]))
        name = match.group(1)
        spec = _PLACEHOLDERS.get(name)
        alternatives = r"\d+" if name == "k" else r"[\w.]+" if spec is None else "|".join(map(re.escape, spec[side]))
        out.append(f"(?P<{name}>{alternatives})")
        pos = match.end()
    out.append(re.escape(template[pos:]))
    return re.compile("^" + "".join(out) + "$")


class _KeepUnknown(dict):
    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def _translate(match: re.Match[str], template: str, src: int) -> str:
    """Fill ``template`` from ``match``; a placeholder absent from the match (``{k}``) stays as is."""
    values = _KeepUnknown()
    for name, value in match.groupdict().items():
        spec = _PLACEHOLDERS.get(name)
        values[name] = value if spec is None else spec[1 - src][spec[src].index(value)]
    return template.format_map(values)


Renamer = Callable[[str], "tuple[str, re.Match[str]] | None"]


def _renamer(rules: list[tuple[str, str]], src: int) -> Renamer:
    """Rename keys from side ``src`` (0 official, 1 ours) to the other by the first matching rule."""
    compiled = [(_compile(r[src], src), r[1 - src]) for r in rules]

    def rename(key: str) -> tuple[str, re.Match[str]] | None:
        for pattern, target in compiled:
            match = pattern.match(key)
            if match:
                return _translate(match, target, src), match
        return None

    return rename


_to_ours = _renamer(RULES, 0)
_to_official = _renamer(RULES, 1)
_packed_to_ours = _renamer([PACKED_RULE], 0)
_packed_to_official = _renamer([PACKED_RULE], 1)


def official_to_ours(state: dict[str, Tensor], K: int) -> tuple[dict[str, Tensor], list[str], list[str]]:
    """Rename and pack an official state_dict. Returns (ours, unknown keys, dropped unused keys)."""
    ours: dict[str, Tensor] = {}
    packed: dict[str, dict[int, Tensor]] = {}
    unknown, dropped = [], []
    for key, value in state.items():
        if UNUSED.match(key):
            dropped.append(key)
        elif hit := _packed_to_ours(key):
            name, match = hit
            k = int(match.group("k"))
            if k >= K:
                unknown.append(key)
            else:
                packed.setdefault(name, {})[k] = value
        elif hit := _to_ours(key):
            ours[hit[0]] = value
        else:
            unknown.append(key)
    for name, parts in packed.items():
        if len(parts) != K:
            continue  # reported as missing by the caller, in official names
        if name.endswith("num_batches_tracked"):
            ours[name] = parts[0].clone()
        else:
            ours[name] = torch.cat([parts[k] for k in range(K)], dim=0)
    return ours, sorted(unknown), sorted(dropped)


def ours_to_official(state: dict[str, Tensor], K: int, include_unused: bool = True) -> dict[str, Tensor]:
    """Our PAMFN state_dict in the official layout (the inverse of :func:`official_to_ours`)."""
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        if hit := _packed_to_official(key):
            template = hit[0]
            for k, part in enumerate(value.chunk(K, dim=0) if value.dim() else [value] * K):
                out[template.replace("{k}", str(k))] = part.clone()
        elif hit := _to_official(key):
            out[hit[0]] = value
        else:
            raise CheckpointError(f"no official name for our key {key!r}: only the full PAMFN model has an official layout")
    if include_unused:
        d = state["stages.0.conv.0.weight"].shape[0]
        for stage in (1, 2, 3):
            for norm in ("s_fusion.fusion_s.norm", "f_fusion.fusion_f.norm"):
                out[f"stage{stage}.{norm}.weight"] = torch.ones(d)
                out[f"stage{stage}.{norm}.bias"] = torch.zeros(d)
    return out


def _preset_shape(preset: str) -> tuple[int, int]:
    """(K, regressor width ratio) of a preset: the two choices a state_dict's shapes show."""
    values = PRESETS[preset]
    return int(values["K"]), int(values.get("regressor_ratio", 2))


def official_config(state: dict[str, Tensor], preset: str) -> PAMFNConfig:
    """The preset's config with d and input dims read from the official weights.

    K and the regressor width (``fc_r``) are read from the weights too and must be the
    preset's: a contradicting preset is refused with a message naming the preset that fits
    (a Fis-V model read with the RG preset would get the RG label scale and every score
    would come out at 25/45 of its value). The attention heads leave no trace in the
    shapes: they come from the preset, unchecked.
    """
    if preset not in PRESETS:
        raise CheckpointError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    try:
        dims = {m: int(state[f"model_{o}.embedding.0.weight"].shape[1]) for o, m in zip("rfa", "VFA")}
        d = int(state["model_r.embedding.3.weight"].shape[0])
        K = int(state["stage1.f_fusion.policy.0.weight"].shape[0])
        hidden = int(state["fc.1.weight"].shape[0])
    except (KeyError, IndexError) as exc:
        raise CheckpointError(f"not a released PAMFN state_dict: cannot read sizes ({exc} missing)") from exc
    ratio = d // hidden if hidden and d % hidden == 0 else None
    if (K, ratio) != _preset_shape(preset):
        fits = [name for name in PRESETS if _preset_shape(name) == (K, ratio)]
        width = f"d/{ratio}" if ratio else f"{hidden} (d={d})"
        pK, pratio = _preset_shape(preset)
        advice = (f"use --preset {' or '.join(fits)}" if fits else
                  f"no preset has these sizes (presets: {', '.join(f'{n} K={_preset_shape(n)[0]} d/{_preset_shape(n)[1]}' for n in PRESETS)})")
        raise CheckpointError(
            f"the weights have K={K} FusionNets and a regressor of width {width}, but preset {preset!r} "
            f"expects K={pK} and width d/{pratio}; {advice}"
        )
    return PAMFNConfig.preset(preset, K=K, d=d, input_dims=dims)


def load_official_state(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """``torch.load(weights_only=True)``; refuses anything but a dict of tensors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[8:9] == b"{":
        raise CheckpointError(f"{path}: a safetensors file, not the authors' released .pth; a checkpoint of ours is a "
                              "folder with model.safetensors and config.json, which needs no conversion")
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # a zip (torch.save) or a legacy pickle stream
        raise CheckpointError(f"{path}: not a PyTorch file (neither a torch.save zip nor a pickle stream)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refusing to load: the file holds pickled Python objects, not only tensors "
            "(loading it would execute code from the file). Only state_dict files can be converted."
        ) from exc
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated PyTorch file ({exc})") from exc
    if isinstance(state, dict) and set(state) == {"state_dict"}:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected a state_dict (a dict of tensors), got {type(state).__name__}")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def convert_official(
    src: str | os.PathLike[str], out_dir: str | os.PathLike[str], preset: str, meta: dict[str, Any] | None = None
) -> Path:
    """Convert a released ``.pth`` state_dict into a checkpoint directory; returns its path."""
    from pamfn.checkpoint import load_state, save_checkpoint
    from pamfn.model import build_model

    src = Path(src)
    state = load_official_state(src)
    cfg = official_config(state, preset)
    model = build_model(cfg)
    ours, unknown, dropped = official_to_ours(state, cfg.K)
    expected = ours_to_official(model.state_dict(), cfg.K, include_unused=False)
    missing = sorted(set(expected) - set(state))
    if unknown or missing:
        parts = [f"unknown keys {unknown}" if unknown else "", f"missing keys {missing}" if missing else ""]
        raise CheckpointError(f"{src}: does not match the released PAMFN layout for K={cfg.K}: " + "; ".join(p for p in parts if p))
    load_state(model, ours, str(src))
    info = {
        "source": "official",
        "source_file": src.name,
        "source_sha256": file_sha256(src),
        "dropped_unused_keys": dropped,
        "checked_against_weights": {"K": cfg.K, "regressor_ratio": cfg.regressor_ratio, "d": cfg.d},
        "from_preset_unchecked": {"msfd_heads": cfg.msfd_heads, "cmfd_heads": cfg.cmfd_heads, "label_scale": cfg.label_scale},
        **(meta or {}),
    }
    return save_checkpoint(out_dir, model, cfg, info)
