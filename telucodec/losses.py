"""Reconstruction losses. Spectral losses always run in FP32, even under autocast:
half-precision STFT magnitudes overflow / underflow (the seed's NaNs)."""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from .config import LossConfig
from .metrics import mel_filterbank


def _spectrum(wav: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Complex STFT of (B, L) audio with ``window`` (its length is n_fft), hop n_fft / 4;
    (B, n_fft / 2 + 1, frames)."""
    n_fft = window.shape[0]
    return torch.stft(wav, n_fft, n_fft // 4, window=window, return_complex=True)


def _magnitude(wav: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    return _spectrum(wav, window).abs().clamp(min=1e-7)


def _fp32(fn):
    """Run ``fn(pred, target)`` in FP32 with autocast off."""
    @functools.wraps(fn)
    def wrapper(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return fn(self, pred.float().reshape(pred.shape[0], -1), target.float().reshape(target.shape[0], -1))
    return wrapper


class _Windows(nn.Module):
    """Hann windows for each FFT size, kept as (non-saved) buffers that follow the module's device."""

    def __init__(self, ffts: tuple[int, ...]):
        super().__init__()
        self.ffts = ffts
        for n_fft in ffts:
            self.register_buffer(f"window_{n_fft}", torch.hann_window(n_fft), persistent=False)

    def window(self, n_fft: int) -> torch.Tensor:
        return getattr(self, f"window_{n_fft}")


class MultiResolutionSTFTLoss(_Windows):
    """Spectral convergence + log-magnitude L1, averaged over FFT sizes (Yamamoto et al.)."""

    @_fp32
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros(())
        for n_fft in self.ffts:
            window = self.window(n_fft)
            p, t = _magnitude(pred, window), _magnitude(target, window)
            convergence = torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp(min=1e-7)
            total = total + convergence + F.l1_loss(p.log(), t.log())
        return total / len(self.ffts)


class MultiScaleMelLoss(_Windows):
    """L1 between log-mel spectrograms at several window sizes (DAC style)."""

    def __init__(self, ffts: tuple[int, ...], n_mels: int, sample_rate: int):
        super().__init__(ffts)
        for n_fft in ffts:
            self.register_buffer(f"mel_{n_fft}", torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels)), persistent=False)

    @_fp32
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros(())
        for n_fft in self.ffts:
            fb = getattr(self, f"mel_{n_fft}")
            window = self.window(n_fft)
            p = (fb @ _magnitude(pred, window)).clamp(min=1e-5).log()
            t = (fb @ _magnitude(target, window)).clamp(min=1e-5).log()
            total = total + F.l1_loss(p, t)
        return total / len(self.ffts)


class CompressedComplexLoss(_Windows):
    """MSE between power-law compressed complex spectra, |X|^p e^(i angle X), mean over FFT sizes.

    The magnitude losses leave phase free; this one penalises phase error, weighted by the
    compressed magnitude, so the phase of near-silent bins (which means nothing) hardly counts.
    Compression (p = 0.3, as in speech enhancement) keeps loud low harmonics from dominating.
    """

    def __init__(self, ffts: tuple[int, ...], power: float):
        super().__init__(ffts)
        self.power = power

    def _compress(self, spec: torch.Tensor) -> torch.Tensor:
        # (|X|^2 + eps)^((p - 1) / 2) keeps the gradient finite at |X| = 0
        return spec * (spec.real ** 2 + spec.imag ** 2 + 1e-8) ** ((self.power - 1) / 2)

    @_fp32
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros(())
        for n_fft in self.ffts:
            window = self.window(n_fft)
            diff = self._compress(_spectrum(pred, window)) - self._compress(_spectrum(target, window))
            total = total + (diff.real ** 2 + diff.imag ** 2).mean()
        return total / len(self.ffts)


class CodecLoss(nn.Module):
    """Weighted sum of waveform L1 + MSE, multi-resolution STFT, multi-scale mel, compressed
    complex STFT (off by default) and commitment."""

    def __init__(self, cfg: LossConfig, sample_rate: int):
        super().__init__()
        self.cfg = cfg
        self.stft = MultiResolutionSTFTLoss(cfg.stft_ffts)
        self.mel = MultiScaleMelLoss(cfg.mel_ffts, cfg.n_mels, sample_rate)
        self.complex = CompressedComplexLoss(cfg.complex_ffts, cfg.complex_power)

    def forward(self, pred: torch.Tensor, target: torch.Tensor, commit_loss: torch.Tensor) -> dict[str, torch.Tensor]:
        """All loss parts (detached copies for logging) and ``total`` (with gradient)."""
        cfg = self.cfg
        with torch.autocast(device_type=pred.device.type, enabled=False):
            pred32, target32 = pred.float(), target.float()
            l1 = F.l1_loss(pred32, target32)
            mse = F.mse_loss(pred32, target32)
        parts = {
            "recon": cfg.l1_weight * l1 + cfg.mse_weight * mse,
            "stft": cfg.stft_weight * self.stft(pred, target) if cfg.stft_weight else pred.new_zeros(()),
            "mel": cfg.mel_weight * self.mel(pred, target) if cfg.mel_weight else pred.new_zeros(()),
            "complex": cfg.complex_weight * self.complex(pred, target) if cfg.complex_weight else pred.new_zeros(()),
            "vq": cfg.commit_weight * commit_loss.float(),
        }
        total = sum(parts.values())
        return {"total": total, **{k: v.detach() for k, v in parts.items()}}
