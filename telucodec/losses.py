"""Reconstruction losses. Spectral losses always run in FP32, even under autocast:
half-precision STFT magnitudes overflow / underflow (the seed's NaNs)."""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from .config import LossConfig
from .metrics import mel_filterbank


def _magnitude(wav: torch.Tensor, n_fft: int) -> torch.Tensor:
    """|STFT| of (B, L) audio, hop n_fft / 4, Hann window; (B, n_fft / 2 + 1, frames)."""
    window = torch.hann_window(n_fft, device=wav.device, dtype=wav.dtype)
    spec = torch.stft(wav, n_fft, n_fft // 4, window=window, return_complex=True)
    return spec.abs().clamp(min=1e-7)


def _fp32(fn):
    """Run ``fn(pred, target)`` in FP32 with autocast off."""
    @functools.wraps(fn)
    def wrapper(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return fn(self, pred.float().reshape(pred.shape[0], -1), target.float().reshape(target.shape[0], -1))
    return wrapper


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + log-magnitude L1, averaged over FFT sizes (Yamamoto et al.)."""

    def __init__(self, ffts: tuple[int, ...]):
        super().__init__()
        self.ffts = ffts

    @_fp32
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros(())
        for n_fft in self.ffts:
            p, t = _magnitude(pred, n_fft), _magnitude(target, n_fft)
            convergence = torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp(min=1e-7)
            total = total + convergence + F.l1_loss(p.log(), t.log())
        return total / len(self.ffts)


class MultiScaleMelLoss(nn.Module):
    """L1 between log-mel spectrograms at several window sizes (DAC style)."""

    def __init__(self, ffts: tuple[int, ...], n_mels: int, sample_rate: int):
        super().__init__()
        self.ffts = ffts
        for n_fft in ffts:
            self.register_buffer(f"mel_{n_fft}", torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels)), persistent=False)

    @_fp32
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros(())
        for n_fft in self.ffts:
            fb = getattr(self, f"mel_{n_fft}")
            p = (fb @ _magnitude(pred, n_fft)).clamp(min=1e-5).log()
            t = (fb @ _magnitude(target, n_fft)).clamp(min=1e-5).log()
            total = total + F.l1_loss(p, t)
        return total / len(self.ffts)


class CodecLoss(nn.Module):
    """Weighted sum of waveform L1 + MSE, multi-resolution STFT, multi-scale mel and commitment."""

    def __init__(self, cfg: LossConfig, sample_rate: int):
        super().__init__()
        self.cfg = cfg
        self.stft = MultiResolutionSTFTLoss(cfg.stft_ffts)
        self.mel = MultiScaleMelLoss(cfg.mel_ffts, cfg.n_mels, sample_rate)

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
            "vq": cfg.commit_weight * commit_loss.float(),
        }
        total = sum(parts.values())
        return {"total": total, **{k: v.detach() for k, v in parts.items()}}
