"""Audio Spectrogram Transformer (Gong et al., 2021) through transformers' ASTModel, read
from a local folder or the local hub cache only (never downloaded)."""

from __future__ import annotations

import warnings

import numpy as np
import torch

AST_RATE = 16000
"""AST's input sample rate."""


class ASTEmbedder:
    """One 768-d AST embedding (the model's pooled output) per audio segment."""

    def __init__(self, source: str, device: str = "cpu", batch_size: int = 8) -> None:
        from transformers import ASTFeatureExtractor, ASTModel

        with warnings.catch_warnings():  # AST's own 128-band fbank has empty top bands at 16 kHz
            warnings.filterwarnings("ignore", message="At least one mel filter has all zero values")
            self.fbank = ASTFeatureExtractor.from_pretrained(source, local_files_only=True)
        self.model = ASTModel.from_pretrained(source, local_files_only=True).eval().to(device)
        self.device, self.batch_size = device, batch_size

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @torch.inference_mode()
    def segments(self, audio: np.ndarray, T: int) -> np.ndarray:
        """Mono float32 audio at 16 kHz covering exactly T segments -> (T, dim)."""
        pieces = audio.reshape(T, -1)
        rows = []
        for i in range(0, T, self.batch_size):
            batch = [p for p in pieces[i : i + self.batch_size]]
            inputs = self.fbank(batch, sampling_rate=AST_RATE, return_tensors="pt")
            out = self.model(input_values=inputs["input_values"].to(self.device))
            rows.append(out.pooler_output.float().cpu().numpy())
        return np.concatenate(rows).astype(np.float32)
