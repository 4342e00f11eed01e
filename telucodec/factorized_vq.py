"""Residual VQ with factorised, L2-normalised codes learned by gradient (DAC style).

Each stage projects the residual (D) to a small ``code_dim`` (8 by default), finds the nearest
code by cosine similarity, and projects the code back to D. Low-dimensional normalised lookups
keep codebooks well used without EMA or restarts: Yu et al. 2022 (ViT-VQGAN) and Kumar et al.
2023 (DAC, github.com/descriptinc/descript-audio-codec, ``dac/nn/quantize.py``). The codebook
learns through ``mse(code, projected.detach())``, the encoder through the commitment loss
``mse(projected, code.detach())`` (weight ``cfg.commitment``) and a straight-through estimator.
With ``init: kmeans`` a stage's codebook starts as k-means centroids of its first training batch
(rank 0's under torch.distributed), useful after the quantizer was bypassed for a while.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import QuantizerConfig
from .distrib import broadcast
from .quantizer import QuantizerOutput, ResidualStages, kmeans, sum_of_codes


class FactorizedCodebook(nn.Module):
    """One stage: rows (N, dim) -> codes (N,) and their vectors (N, dim) in the input space."""

    restarts = 0    # codes learned by gradient are never restarted (the EMA codebook's statistic)

    def __init__(self, dim: int, cfg: QuantizerConfig):
        super().__init__()
        self.cfg = cfg
        self.in_proj = nn.Linear(dim, cfg.code_dim)
        self.out_proj = nn.Linear(cfg.code_dim, dim)
        self.codebook = nn.Embedding(cfg.codebook_size, cfg.code_dim)
        self.register_buffer("initialized", torch.tensor(cfg.init != "kmeans"))

    def _nearest(self, projected: torch.Tensor) -> torch.Tensor:
        similarity = F.normalize(projected.float(), dim=1) @ F.normalize(self.codebook.weight.float(), dim=1).t()
        return similarity.argmax(dim=1)

    @torch.no_grad()
    def _init_from_data(self, projected: torch.Tensor) -> None:
        centroids, _ = kmeans(F.normalize(projected.float(), dim=1), self.cfg.codebook_size, self.cfg.kmeans_iters)
        self.codebook.weight.copy_(broadcast(centroids))
        self.initialized.fill_(True)

    def encode(self, rows: torch.Tensor) -> torch.Tensor:
        return self._nearest(self.in_proj(rows))

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.codebook(indices))

    def forward(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(vectors (N, dim) with gradient, indices (N,) int64, codebook + commitment loss)."""
        projected = self.in_proj(rows)
        if self.training and not bool(self.initialized):
            self._init_from_data(projected.detach())
        indices = self._nearest(projected.detach())
        code = self.codebook(indices).to(projected.dtype)
        loss = F.mse_loss(code.float(), projected.detach().float())
        loss = loss + self.cfg.commitment * F.mse_loss(projected.float(), code.detach().float())
        code = projected + (code - projected).detach()          # straight-through estimator
        return self.out_proj(code), indices, loss


class FactorizedResidualVQ(ResidualStages):
    """``n_q`` factorised stages, each quantizing what the previous ones left (same interface as
    ``ResidualVQ``: ``forward``, ``encode`` and ``decode`` on latents (B, D, T))."""

    def __init__(self, dim: int, cfg: QuantizerConfig):
        super().__init__(dim, cfg, FactorizedCodebook)

    def forward(self, z: torch.Tensor, n_q: int | None = None) -> QuantizerOutput:
        """Quantize ``z`` (B, D, T) with the first ``n_q`` stages (per example under dropout)."""
        n_q = n_q or self.cfg.n_q
        batch, dim, frames = z.shape
        n_q_used = self.n_q_used(batch, n_q, z.device)
        residual = z.transpose(1, 2)                               # (B, T, D)
        quantized = torch.zeros_like(residual)
        loss = z.new_zeros((), dtype=torch.float32)
        codes = torch.zeros(batch, n_q, frames, dtype=torch.long, device=z.device)
        for stage, codebook in enumerate(self.codebooks[:n_q]):
            active = n_q_used > stage                              # (B,)
            if not bool(active.any()):
                break
            vectors, indices, stage_loss = codebook(residual[active].reshape(-1, dim))
            step = torch.zeros_like(residual)
            step[active] = vectors.view(-1, frames, dim).to(step.dtype)
            codes[active, stage] = indices.view(-1, frames)
            quantized = quantized + step
            residual = residual - step
            loss = loss + stage_loss
        return QuantizerOutput(quantized.transpose(1, 2), codes, loss, n_q_used)

    def decode_table(self) -> torch.Tensor:
        return torch.cat([cb.out_proj(cb.codebook.weight) for cb in self.codebooks])
