"""PAMFN Studio: multimodal action quality assessment with the Progressive Adaptive
Multimodal Fusion Network (PAMFN)."""

__version__ = "0.1.0"

MODALITIES: tuple[str, str, str] = ("V", "F", "A")
"""Modality keys in the paper's order: RGB (V), optical flow (F), audio (A)."""

MODALITY_NAMES: dict[str, str] = {"V": "RGB", "F": "Optical flow", "A": "Audio"}
