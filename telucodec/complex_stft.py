"""Compressed-complex-STFT encoder and decoder: the spectrum in, the spectrum out.

The input is the power-law compressed complex STFT (real and imaginary parts, exponent
``cfg.spectral_power``; n_fft = 4 x hop, 20 ms window and 5 ms hop at 16 kHz), and the decoder
predicts the same representation, which an iSTFT turns back into audio. Phase is learned as
part of the spectrum rather than invented from a narrow latent, so the autoencoder alone
becomes nearly transparent early in training: the design of ESC (Gu & Ma, "ESC: Efficient
Speech Coding with Cross-Scale Residual Vector Quantized Transformers", arXiv 2404.19441,
github.com/yzGuu830/efficient-speech-codec), with ConvNeXt blocks (Vocos) in place of its
Swin transformers.

``cfg.strides[0]`` is the STFT hop; every further stride s adds a stride-s convolution after the
encoder's blocks (and a transposed one before the decoder's), so the latent rate is
``sample_rate / hop_length``. Not causal by default: the STFT window looks ahead by n_fft / 2.

``cfg.causal`` (a single stride, the STFT hop): analysis frames end at the current hop
(``spectral.CausalSTFT``), every convolution sees the current and past frames only
(``streaming.CausalConv1d``), and the decoder's frames are overlap-added where they were analysed
(``spectral.CausalISTFT``). A sample is then final once the frame of its own hop and the
n_fft / hop - 1 frames after it are decoded: the algorithmic latency is n_fft samples (20 ms at
16 kHz, hop 80), and the same forward runs block by block under a ``streaming.StreamState``.
The parameters have the same names and shapes as the non-causal model's.
"""
from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .frame import ConvNeXtBlock
from .spectral import ISTFT, STFT, CausalISTFT, CausalSTFT, compression_gain, decompress
from .streaming import CausalConv1d, PointwiseConv1d

MAX_COMPRESSED_MAGNITUDE = 20.0   # |X| <= 20^(1/0.3) ~ 2e4: far above any [-1, 1] signal's STFT


def _blocks(cfg: ModelConfig) -> list[nn.Module]:
    return [ConvNeXtBlock(cfg.frame_dim, causal=cfg.causal) for _ in range(cfg.frame_blocks)]


def _pointwise(cfg: ModelConfig, in_channels: int, out_channels: int) -> nn.Module:
    """A kernel-1 convolution; the causal model's as a matrix product (cheaper on a stream's blocks)."""
    return PointwiseConv1d(in_channels, out_channels) if cfg.causal else nn.Conv1d(in_channels, out_channels, 1)


def _conv3(cfg: ModelConfig, in_channels: int) -> nn.Module:
    """The kernel-3 input convolution: centred, or over the current and two past frames."""
    if cfg.causal:
        return CausalConv1d(in_channels, cfg.frame_dim, 3)
    return nn.Conv1d(in_channels, cfg.frame_dim, 3, padding=1)


class ComplexSTFTEncoder(nn.Module):
    """Waveform (B, 1, L), L a multiple of hop_length -> latent (B, latent_dim, L / hop_length)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.hop = cfg.strides[0]
        self.power = cfg.spectral_power
        self.stft = CausalSTFT(4 * self.hop, self.hop) if cfg.causal else STFT(4 * self.hop, self.hop)
        bins = 2 * self.hop + 1
        layers: list[nn.Module] = [_conv3(cfg, 2 * bins), *_blocks(cfg)]
        for stride in cfg.strides[1:]:
            layers.append(nn.Conv1d(cfg.frame_dim, cfg.frame_dim, 2 * stride, stride=stride, padding=stride // 2))
        layers.append(_pointwise(cfg, cfg.frame_dim, cfg.latent_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        frames = wav.shape[-1] // self.hop
        real, imag = self.stft.real_imag(wav[:, 0])
        real, imag = real[..., :frames], imag[..., :frames]
        gain = compression_gain(real, imag, self.power)
        return self.net(torch.cat([real * gain, imag * gain], dim=1).to(wav.dtype))


class ComplexSTFTDecoder(nn.Module):
    """Latent (B, latent_dim, T) -> waveform (B, 1, T * hop_length), clipped to [-1, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.hop = cfg.strides[0]
        self.power = cfg.spectral_power
        self.bins = 2 * self.hop + 1
        self.istft = CausalISTFT(4 * self.hop, self.hop) if cfg.causal else ISTFT(4 * self.hop, self.hop)
        layers: list[nn.Module] = [_conv3(cfg, cfg.latent_dim)]
        for stride in reversed(cfg.strides[1:]):
            layers.append(nn.ConvTranspose1d(cfg.frame_dim, cfg.frame_dim, 2 * stride, stride=stride,
                                             padding=stride // 2))
        layers += [*_blocks(cfg), _pointwise(cfg, cfg.frame_dim, 2 * self.bins)]
        self.net = nn.Sequential(*layers)
        self.upsampling = cfg.hop_length // self.hop

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        frames = latent.shape[-1] * self.upsampling
        real, imag = self.net(latent).float()[..., :frames].split(self.bins, dim=1)
        spectrum = decompress(real, imag, self.power, MAX_COMPRESSED_MAGNITUDE)
        wav = self.istft.from_real_imag(*spectrum) if isinstance(self.istft, CausalISTFT) else \
            self.istft.from_real_imag(*spectrum, frames * self.hop)
        # a hard clip, not Tanh: inside [-1, 1] the level comes back as it went in
        return wav.clamp(-1, 1)[:, None].to(latent.dtype)
