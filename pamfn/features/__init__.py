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

from pamfn.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "pamfn.features.registry": ("EXTRACTORS",),
    "pamfn.features.lite": ("LITE_DIMS",),
    "pamfn.features.segments": ("SEGMENT_FRAMES", "SEGMENT_SECONDS", "TARGET_FPS", "segment_count"),
    "pamfn.features.pipeline": ("extract_file", "extract_from_arrays", "extractor_versions"),
})
