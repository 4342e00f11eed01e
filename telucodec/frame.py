"""Frame-rate encoder and decoder: STFT in, ConvNeXt blocks at the latent rate, iSTFT out.

Working at the frame rate (200 Hz for hop 80) instead of the sample rate costs far fewer
operations per second of audio, and predicting STFT frames lets the decoder skip the
upsampling stack entirely (as in Vocos / WavTokenizer). The STFT (spectral.py) uses hop = the
model's hop, n_fft = 4 x hop and reflect padding (clips of two hops or less are zero-padded to three
first: reflection needs more than n_fft / 2 samples). The output passes through Tanh like the
convolutional decoder's, so it stays in [-1, 1]. Not causal: the STFT window looks ahead.
"""
from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .spectral import ISTFT, STFT, zero_pad_to
from .streaming import CausalConv1d


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> pointwise MLP (GELU) -> layer scale, residual. ``causal``: the
    depthwise conv sees the current and past frames only (``streaming.CausalConv1d``); the rest is
    per frame. (B, dim, T) -> (B, dim, T)."""

    def __init__(self, dim: int, kernel: int = 7, causal: bool = False):
        super().__init__()
        self.dwconv = CausalConv1d(dim, dim, kernel, groups=dim) if causal else \
            nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 3 * dim), nn.GELU(), nn.Linear(3 * dim, dim))
        self.scale = nn.Parameter(torch.full((dim,), 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x).transpose(1, 2))
        return x + (self.scale * self.mlp(y)).transpose(1, 2)


def _backbone(in_dim: int, cfg: ModelConfig, out_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(in_dim, cfg.frame_dim, 3, padding=1),
        *[ConvNeXtBlock(cfg.frame_dim) for _ in range(cfg.frame_blocks)],
        nn.Conv1d(cfg.frame_dim, out_dim, 1),
    )


class FrameEncoder(nn.Module):
    """Waveform (B, 1, L), L a multiple of hop -> latent (B, latent_dim, L / hop)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.hop = cfg.hop_length
        self.stft = STFT(4 * self.hop, self.hop, pad_mode="reflect")
        self.net = _backbone(3 * (2 * self.hop + 1), cfg, cfg.latent_dim)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        frames = wav.shape[-1] // self.hop
        # reflect padding needs more than n_fft / 2 = 2 hops: a clip of 2 hops or less is zero-padded
        # to 3 first (its frames see silence past its end); longer clips are left exactly as they were
        real, imag = self.stft.real_imag(zero_pad_to(wav[:, 0], 3 * self.hop))
        real, imag = real[..., :frames], imag[..., :frames]
        magnitude = (real ** 2 + imag ** 2).sqrt().clamp(min=1e-5)
        # log magnitude plus the phase as a unit vector: all the information, in tame ranges
        features = torch.cat([magnitude.log(), real / magnitude, imag / magnitude], dim=1)
        return self.net(features.to(wav.dtype))


class FrameDecoder(nn.Module):
    """Latent (B, latent_dim, T) -> waveform (B, 1, T * hop) in [-1, 1] via iSTFT."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.hop = cfg.hop_length
        self.bins = 2 * self.hop + 1
        self.istft = ISTFT(4 * self.hop, self.hop)
        self.net = _backbone(cfg.latent_dim, cfg, 2 * self.bins)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        log_magnitude, phase = self.net(latent).float().split(self.bins, dim=1)
        magnitude = log_magnitude.clamp(max=6.0).exp()      # bounded: exp never overflows
        wav = self.istft.from_real_imag(magnitude * phase.cos(), magnitude * phase.sin(), latent.shape[-1] * self.hop)
        return torch.tanh(wav)[:, None].to(latent.dtype)
