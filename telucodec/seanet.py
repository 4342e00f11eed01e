"""SEANet-style convolutional encoder and decoder (as in SoundStream / EnCodec).

Encoder: input conv, then per stride a residual unit and a strided conv (channels doubling),
then a conv to the latent. Decoder mirrors it with transposed convs, then a post-net conv and
Tanh, so outputs always lie in [-1, 1]. Padding is explicit so that a signal of ``n * hop``
samples maps to exactly ``n`` frames and back; ``causal=True`` puts all padding on the left
(and trims transposed convs on the right), so no output depends on future input.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrizations

from .config import ModelConfig


class PaddedConv1d(nn.Module):
    """Conv1d whose output has ``ceil(length / stride)`` frames: 'same' padding, or causal."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, dilation: int = 1, causal: bool = False):
        super().__init__()
        self.conv = parametrizations.weight_norm(nn.Conv1d(in_ch, out_ch, kernel, stride, dilation=dilation))
        self.stride = stride
        self.causal = causal
        self.total_pad = dilation * (kernel - 1) + 1 - stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        # extra right padding so the last partial window still produces a frame
        extra = (-length) % self.stride
        left = self.total_pad if self.causal else self.total_pad // 2
        right = self.total_pad - left + extra
        return self.conv(F.pad(x, (left, right)))


class PaddedConvTranspose1d(nn.Module):
    """ConvTranspose1d producing exactly ``length * stride`` samples."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, causal: bool = False):
        super().__init__()
        self.conv = parametrizations.weight_norm(nn.ConvTranspose1d(in_ch, out_ch, kernel, stride))
        self.causal = causal
        self.trim = kernel - stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        left = 0 if self.causal else self.trim // 2
        return y[..., left : y.shape[-1] - (self.trim - left)]


class ResidualUnit(nn.Module):
    """ELU -> dilated conv -> ELU -> 1x1 conv, added to the input."""

    def __init__(self, channels: int, dilation: int, kernel: int, causal: bool):
        super().__init__()
        self.block = nn.Sequential(
            nn.ELU(),
            PaddedConv1d(channels, channels // 2, kernel, dilation=dilation, causal=causal),
            nn.ELU(),
            PaddedConv1d(channels // 2, channels, 1, causal=causal),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def _stage_channels(cfg: ModelConfig) -> list[int]:
    """Channels before each stride stage and after the last one."""
    return [min(cfg.channels * 2**i, cfg.max_channels) for i in range(len(cfg.strides) + 1)]


def _residual_stack(channels: int, cfg: ModelConfig) -> list[nn.Module]:
    return [ResidualUnit(channels, 3**i, 3, cfg.causal) for i in range(cfg.residual_layers)]


class Encoder(nn.Module):
    """Waveform (B, 1, L) -> latent (B, latent_dim, ceil(L / hop))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        chans = _stage_channels(cfg)
        layers: list[nn.Module] = [PaddedConv1d(1, chans[0], cfg.kernel_size, causal=cfg.causal)]
        for i, stride in enumerate(cfg.strides):
            layers += _residual_stack(chans[i], cfg)
            layers += [nn.ELU(), PaddedConv1d(chans[i], chans[i + 1], 2 * stride, stride, causal=cfg.causal)]
        layers += [nn.ELU(), PaddedConv1d(chans[-1], cfg.latent_dim, 3, causal=cfg.causal)]
        self.net = nn.Sequential(*layers)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.net(wav)


class Decoder(nn.Module):
    """Latent (B, latent_dim, T) -> waveform (B, 1, T * hop) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        chans = _stage_channels(cfg)[::-1]
        layers: list[nn.Module] = [PaddedConv1d(cfg.latent_dim, chans[0], cfg.kernel_size, causal=cfg.causal)]
        for i, stride in enumerate(reversed(cfg.strides)):
            layers += [nn.ELU(), PaddedConvTranspose1d(chans[i], chans[i + 1], 2 * stride, stride, causal=cfg.causal)]
            layers += _residual_stack(chans[i + 1], cfg)
        # post-net and Tanh: the output range matches the clipped input range
        layers += [nn.ELU(), PaddedConv1d(chans[-1], 1, cfg.kernel_size, causal=cfg.causal), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.net(latent)
