"""From a video file to per-segment features: decoding, segments, extractors.

Public API::

    extract_file(path, extractor="lite", device="cpu", progress=True, on_frame=None) -> RoutineFeatures
    extract_from_arrays(frames, audio, sample_rate, fps=25.0, extractor="lite", routine_id="", progress=False)
    EXTRACTORS  # the extractor families by name (pamfn.features.registry)
    LITE_DIMS  # {"V": ..., "F": ..., "A": ...}

Names are imported lazily (PEP 562), so reading the registry does not load OpenCV.
See docs/features.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EXTRACTORS": "pamfn.features.registry",
    "LITE_DIMS": "pamfn.features.lite",
    "SEGMENT_FRAMES": "pamfn.features.segments",
    "SEGMENT_SECONDS": "pamfn.features.segments",
    "TARGET_FPS": "pamfn.features.segments",
    "segment_count": "pamfn.features.segments",
    "extract_file": "pamfn.features.pipeline",
    "extract_from_arrays": "pamfn.features.pipeline",
    "extractor_versions": "pamfn.features.pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pamfn.features' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
