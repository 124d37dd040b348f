"""The extractor families by name. The command line's ``--extractor`` choices, the
dashboard and the tests derive from :data:`EXTRACTORS`; adding a family is one module
with a class behind the extractor interface (:class:`pamfn.features.pipeline.Extractor`,
built as ``Class(device)``, with a ``family_versions()`` class method that names its
per-modality versions without building models) plus one line here."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pamfn.errors import CheckpointError

if TYPE_CHECKING:
    from pamfn.features.pipeline import Extractor
    from pamfn.model.config import PAMFNConfig


@dataclass(frozen=True)
class ExtractorFamily:
    """One family: its name, where its class lives (``module:Class``, imported on use),
    a line of help, and the prefix of the version strings its features carry."""

    name: str
    target: str
    help: str
    version_prefix: str = ""

    def load_class(self) -> Any:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)

    def build(self, device: str = "cpu") -> Extractor:
        return self.load_class()(device)

    def versions(self) -> dict[str, str]:
        """Per-modality versions, without building models (WeightsNotFoundError for a family
        whose weights are missing)."""
        return dict(self.load_class().family_versions())

    def made(self, versions: dict[str, str]) -> bool:
        """True when every version string is of this family."""
        return all(str(v).startswith(self.version_prefix) for v in versions.values())


EXTRACTORS: dict[str, ExtractorFamily] = {f.name: f for f in (
    ExtractorFamily("lite", "pamfn.features.lite:LiteExtractor",
                    "hand-made descriptors, offline on CPU (default)", version_prefix="lite"),
    ExtractorFamily("pretrained", "pamfn.features.pretrained:PretrainedExtractor",
                    "the paper's Video Swin / I3D / AST (needs weights, see docs/features.md)"),
)}
"""Every family, the default first; a checkpoint's features belong to the first family
whose version prefix they all carry (the paper's, without prefix, last)."""
DEFAULT_EXTRACTOR = next(iter(EXTRACTORS))


def extractor_family(name: str) -> ExtractorFamily:
    """The family called ``name``; ValueError naming the choices otherwise."""
    if name not in EXTRACTORS:
        raise ValueError(f"unknown extractor {name!r}; choose one of {', '.join(EXTRACTORS)}")
    return EXTRACTORS[name]


def extractor_for(cfg: PAMFNConfig) -> str:
    """The family a checkpoint's features came from (by the versions its config records,
    the default family when it records none). CheckpointError, before any decoding, when
    the family's fixed dims cannot fit the checkpoint."""
    recorded = dict(cfg.feature_extractors or {})
    family = next(f for f in (*EXTRACTORS.values(), EXTRACTORS[DEFAULT_EXTRACTOR]) if f.made(recorded))
    dims = getattr(family.load_class(), "dims", None)
    if isinstance(dims, dict):
        expected = {m: cfg.input_dims[m] for m in cfg.modalities}
        made = {m: dims.get(m) for m in expected}
        if made != expected:
            raise CheckpointError(f"the checkpoint expects features of dims {expected}, the {family.name} extractor "
                                  f"makes {made}: choose a checkpoint trained on {family.name} features")
    return family.name
