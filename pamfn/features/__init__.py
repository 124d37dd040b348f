"""From a video file to per-segment features: decoding, segments, extractors.

Public API::

    extract_file(path, extractor="lite", device="cpu", progress=True) -> RoutineFeatures
    extract_from_arrays(frames, audio, sample_rate, fps=25.0, extractor="lite", routine_id="", progress=False)
    LITE_DIMS  # {"V": ..., "F": ..., "A": ...}

See docs/features.md.
"""

from pamfn.features.lite import LITE_DIMS
from pamfn.features.pipeline import EXTRACTORS, extract_file, extract_from_arrays, extractor_versions
from pamfn.features.segments import SEGMENT_FRAMES, SEGMENT_SECONDS, TARGET_FPS, segment_count

__all__ = [
    "EXTRACTORS", "LITE_DIMS", "SEGMENT_FRAMES", "SEGMENT_SECONDS", "TARGET_FPS",
    "extract_file", "extract_from_arrays", "extractor_versions", "segment_count",
]
