"""Residual vector quantization with EMA codebooks (SoundStream / EnCodec style).

Each codebook learns by an exponential moving average of the encoder outputs (the residual at its
stage) assigned to it; the encoder learns through the commitment loss
``mse(residual, quantized.detach())`` and a straight-through estimator. Codes whose EMA count falls
below a fraction of the mean count are restarted on random current residuals, so dead codes do not
stay dead (the relative rule of Moshi's ``threshold_usage_ratio``, Défossez et al. 2024).
Under ``torch.distributed`` the EMA statistics are all-reduced and initialisation / restarts are
broadcast from rank 0, so every rank keeps identical codebooks.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import QuantizerConfig
from .distrib import all_reduce, broadcast


def _sample_rows(x: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` random rows of ``x`` (with replacement only when ``x`` has too few rows)."""
    if x.shape[0] >= count:
        return x[torch.randperm(x.shape[0], device=x.device)[:count]]
    return x[torch.randint(0, x.shape[0], (count,), device=x.device)]


def nearest(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Index (N,) int64 of the row of ``table`` (K, D) nearest to each row of ``x`` (N, D) in L2."""
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2, and |x|^2 is the same for every c: one fused matmul-add
    # over the (N, K) scores instead of three passes (or cdist's square roots)
    return torch.addmm(table.pow(2).sum(1), x, table.t(), alpha=-2).argmin(dim=1)


def kmeans(x: torch.Tensor, k: int, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain k-means on rows of ``x`` (N, D). Returns centroids (k, D) and cluster sizes (k,)."""
    centroids = _sample_rows(x, k)
    for _ in range(iters):
        assign = nearest(x, centroids)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        # an empty cluster keeps its previous centroid
        centroids = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], centroids)
    return centroids, counts


def n_q_per_example(batch: int, n_q: int, dropout_prob: float, device: torch.device) -> torch.Tensor:
    """Quantizers per example (B,) int64: ``n_q``, except that with probability ``dropout_prob`` an
    example takes a random count in [1, n_q] (quantizer dropout, SoundStream), so one model
    learns every bitrate."""
    full = torch.full((batch,), n_q, device=device)
    if dropout_prob <= 0:
        return full
    random_n_q = torch.randint(1, n_q + 1, (batch,), device=device)
    dropped = torch.rand(batch, device=device) < dropout_prob
    return torch.where(dropped, random_n_q, full)


def sum_of_codes(codes: torch.Tensor, table: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """Latents (B, D, T): the sum over stages of the vectors that codes (B, k, T) pick from
    ``table`` (n_q * codebook_size, D), stage i's rows at i * codebook_size. One gather and a sum,
    with no loop over k, so an exported decoder takes any number of quantizers."""
    offsets = torch.arange(codes.shape[1], device=codes.device)[:, None] * codebook_size
    return F.embedding(codes + offsets, table).sum(dim=1).transpose(1, 2)


class EMACodebook(nn.Module):
    """One codebook of ``size`` vectors of ``dim``, learned by EMA, never by gradient."""

    def __init__(self, dim: int, cfg: QuantizerConfig):
        super().__init__()
        self.cfg = cfg
        size = cfg.codebook_size
        embed = torch.randn(size, dim) * cfg.random_init_scale
        self.register_buffer("initialized", torch.tensor(cfg.init != "kmeans"))
        self.register_buffer("embed", embed)
        self.register_buffer("cluster_size", torch.ones(size))
        self.register_buffer("embed_sum", embed.clone())
        self.restarts = 0       # codes restarted since construction (not saved: a training statistic)
        self.frozen = False     # set by TeluCodec.freeze_codes: no k-means, EMA or restarts in training

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Nearest code index for each row of ``x`` (N, dim) -> (N,) int64, computed in float32."""
        return nearest(x.float(), self.embed)

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        return F.embedding(indices, self.embed)

    @torch.no_grad()
    def _init_from_data(self, x: torch.Tensor) -> None:
        centroids, counts = kmeans(x.float(), self.cfg.codebook_size, self.cfg.kmeans_iters)
        self.embed.copy_(broadcast(centroids))
        self.cluster_size.copy_(broadcast(counts))
        self.embed_sum.copy_(self.embed * self.cluster_size[:, None])
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, x: torch.Tensor, indices: torch.Tensor) -> None:
        counts = all_reduce(torch.bincount(indices, minlength=self.cfg.codebook_size).to(x.dtype))
        sums = all_reduce(torch.zeros_like(self.embed).index_add_(0, indices, x))
        decay = self.cfg.ema_decay
        self.cluster_size.mul_(decay).add_(counts, alpha=1 - decay)
        self.embed_sum.mul_(decay).add_(sums, alpha=1 - decay)
        # Laplace smoothing keeps rarely used codes from dividing by ~0
        total = self.cluster_size.sum()
        eps = 1e-5
        smoothed = (self.cluster_size + eps) / (total + self.cfg.codebook_size * eps) * total
        self.embed.copy_(self.embed_sum / smoothed[:, None])

    @torch.no_grad()
    def _restart_dead_codes(self, x: torch.Tensor) -> int:
        """Restart the codes whose EMA count is below ``dead_code_ratio`` x the mean count on
        random rows of ``x`` (N, dim); returns how many.

        The mean count is what a code gets when all are used alike (rows per step / codebook size),
        so the rule means the same at 400 rows per step as at 40 000: a fixed count (2, EnCodec's)
        would call every code dead when a step has fewer rows than twice the codebook size.
        """
        mean_count = self.cluster_size.mean()
        dead = self.cluster_size < self.cfg.dead_code_ratio * mean_count
        n_dead = int(dead.sum())
        if n_dead == 0:
            return 0
        # every rank takes rank 0's vectors; a rank with no rows this step offers its codebook
        source = x if x.shape[0] > 0 else self.embed
        replacement = broadcast(_sample_rows(source, self.cfg.codebook_size))
        self.embed[dead] = replacement[dead]
        # restart the statistics at the mean count (Moshi's replaced_usage_ratio = 1), so the next
        # EMA step does not pull the code back and it has time to win rows before it counts as dead
        self.cluster_size[dead] = mean_count
        self.embed_sum[dead] = replacement[dead] * mean_count
        self.restarts += n_dead
        return n_dead

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Quantize rows ``x`` (N, dim); in training also update the codebook from them.

        Returns the code vectors (N, dim), no gradient, and indices (N,).
        """
        x_detached = x.detach().float()
        learning = self.training and not self.frozen
        if learning and not bool(self.initialized):
            self._init_from_data(x_detached)
        indices = self.encode(x_detached)
        quantized = self.decode(indices)
        if learning:  # also with no rows: the all-reduce inside must run on every rank
            self._ema_update(x_detached, indices)
            self._restart_dead_codes(x_detached)
        return quantized.to(x.dtype), indices


@dataclass
class QuantizerOutput:
    quantized: torch.Tensor    # (B, D, T) straight-through: forward = codes, gradient = identity
    codes: torch.Tensor        # (B, n_q, T) int64
    commit_loss: torch.Tensor  # scalar, summed over stages
    n_q: torch.Tensor          # (B,) quantizers used per example (differs under quantizer dropout)


class ResidualStages(nn.Module):
    """What every residual quantizer shares: ``n_q`` stages of ``stage(dim, cfg)`` (``codebooks``),
    each quantizing what the previous ones left, and quantizer dropout."""

    def __init__(self, dim: int, cfg: QuantizerConfig, stage: type[nn.Module]):
        super().__init__()
        self.cfg = cfg
        self.codebooks = nn.ModuleList(stage(dim, cfg) for _ in range(cfg.n_q))

    def n_q_used(self, batch: int, n_q: int, device: torch.device) -> torch.Tensor:
        """Stages per example (B,) int64 for this forward: ``n_q``, or fewer under quantizer dropout."""
        # k-means init needs rows at every stage, so no quantizer is dropped before all are initialised
        initialized = all(bool(cb.initialized) for cb in self.codebooks)
        return n_q_per_example(batch, n_q, self.cfg.dropout_prob if self.training and initialized else 0.0, device)

    def decode_table(self) -> torch.Tensor:
        """(n_q * codebook_size, D): every stage's code vectors in the latent space, stage i's at
        rows i * codebook_size."""
        raise NotImplementedError

    def encode(self, z: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Codes (B, n_q, T) int64 for latents (B, D, T); never updates codebooks."""
        residual = z.transpose(1, 2)
        codes = []
        for codebook in self.codebooks[: n_q or self.cfg.n_q]:
            indices = codebook.encode(residual.reshape(-1, residual.shape[-1]))
            residual = residual - codebook.decode(indices).view_as(residual).to(residual.dtype)
            codes.append(indices.view(residual.shape[:2]))
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Latents (B, D, T) from codes (B, n_q, T); ``n_q`` may be fewer than trained."""
        return sum_of_codes(codes, self.decode_table(), self.cfg.codebook_size)


class ResidualVQ(ResidualStages):
    """``n_q`` EMA codebooks, each quantizing what the previous ones left."""

    def __init__(self, dim: int, cfg: QuantizerConfig):
        super().__init__(dim, cfg, EMACodebook)

    def forward(self, z: torch.Tensor, n_q: int | None = None) -> QuantizerOutput:
        """Quantize latents ``z`` (B, D, T) with the first ``n_q`` codebooks (all by default)."""
        n_q = n_q or self.cfg.n_q
        batch, dim, frames = z.shape
        x = z.transpose(1, 2)                                   # (B, T, D)
        n_q_used = self.n_q_used(batch, n_q, z.device)
        residual = x
        quantized_sum = torch.zeros_like(x)
        commit_loss = x.new_zeros(())
        codes = []
        for stage, codebook in enumerate(self.codebooks[:n_q]):
            active = n_q_used > stage                           # (B,)
            rows = residual[active].reshape(-1, dim)
            vectors, indices = codebook(rows)
            if rows.shape[0] > 0:
                commit_loss = commit_loss + F.mse_loss(rows, vectors.detach())
            step = torch.zeros_like(x)
            step[active] = vectors.view(-1, frames, dim)
            stage_codes = torch.zeros(batch, frames, dtype=torch.long, device=z.device)
            stage_codes[active] = indices.view(-1, frames)
            codes.append(stage_codes)
            quantized_sum = quantized_sum + step
            residual = residual - step.detach()
        quantized = x + (quantized_sum - x).detach()            # straight-through estimator
        return QuantizerOutput(quantized.transpose(1, 2), torch.stack(codes, dim=1), commit_loss, n_q_used)

    def decode_table(self) -> torch.Tensor:
        return torch.cat([cb.embed for cb in self.codebooks])
