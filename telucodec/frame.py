"""Frame-rate encoder and decoder: STFT in, ConvNeXt blocks at the latent rate, iSTFT out.

Working at the frame rate (200 Hz for hop 80) instead of the sample rate costs far fewer
operations per second of audio, and predicting STFT frames lets the decoder skip the
upsampling stack entirely (as in Vocos / WavTokenizer). The STFT uses hop = the model's hop
and n_fft = 4 x hop. The output passes through Tanh like the convolutional decoder's, so it
stays in [-1, 1]. Not causal: the STFT window looks ahead.
"""
from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> pointwise MLP (GELU) -> layer scale, residual."""

    def __init__(self, dim: int, kernel: int = 7):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
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


class _STFTFrames(nn.Module):
    """The STFT geometry both sides share: hop = the model's hop, n_fft = 4 x hop, Hann window."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.hop = cfg.hop_length
        self.n_fft = 4 * self.hop
        self.bins = self.n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)


class FrameEncoder(_STFTFrames):
    """Waveform (B, 1, L), L a multiple of hop -> latent (B, latent_dim, L / hop)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.net = _backbone(3 * self.bins, cfg, cfg.latent_dim)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        frames = wav.shape[-1] // self.hop
        spec = torch.stft(wav[:, 0].float(), self.n_fft, self.hop, window=self.window, return_complex=True)
        spec = spec[..., :frames]
        magnitude = spec.abs().clamp(min=1e-5)
        # log magnitude plus the phase as a unit vector: all the information, in tame ranges
        features = torch.cat([magnitude.log(), spec.real / magnitude, spec.imag / magnitude], dim=1)
        return self.net(features.to(wav.dtype))


class FrameDecoder(_STFTFrames):
    """Latent (B, latent_dim, T) -> waveform (B, 1, T * hop) in [-1, 1] via iSTFT."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.net = _backbone(cfg.latent_dim, cfg, 2 * self.bins)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        log_magnitude, phase = self.net(latent).float().split(self.bins, dim=1)
        magnitude = log_magnitude.clamp(max=6.0).exp()      # bounded: exp never overflows
        spec = torch.polar(magnitude, phase)
        frames = latent.shape[-1]
        wav = torch.istft(spec, self.n_fft, self.hop, window=self.window, length=frames * self.hop)
        return torch.tanh(wav)[:, None].to(latent.dtype)
