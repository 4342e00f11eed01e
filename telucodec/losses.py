"""The training objective: reconstruction losses, and ``CodecLoss``, the one place that weights
every term (the adversarial ones included) and sums them.

Spectral losses always run in FP32, even under autocast: half-precision STFT magnitudes overflow
and underflow into NaN. Their STFTs are ``spectral.STFT`` with reflect padding at the edges.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from .config import AdversarialConfig, LossConfig
from .metrics import mel_filterbank
from .spectral import STFT, compress


def _fp32(fn):
    """Run ``fn(pred, target)`` on (B, L) float32 views of (B, 1, L) audio, with autocast off."""
    @functools.wraps(fn)
    def wrapper(self, pred: torch.Tensor, target: torch.Tensor):
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return fn(self, pred.float().reshape(pred.shape[0], -1), target.float().reshape(target.shape[0], -1))
    return wrapper


class _MultiSTFT(nn.Module):
    """One ``STFT`` per FFT size (hop n_fft / 4); ``stft(n_fft, wav)``: (B, L) -> (B, n_fft / 2 + 1,
    frames) complex64. Reflect padding, as the losses were trained with (needs L > n_fft / 2)."""

    def __init__(self, ffts: tuple[int, ...]):
        super().__init__()
        self.ffts = ffts
        self.stfts = nn.ModuleDict({str(n_fft): STFT(n_fft, pad_mode="reflect") for n_fft in ffts})

    def stft(self, n_fft: int, wav: torch.Tensor) -> torch.Tensor:
        return self.stfts[str(n_fft)](wav)

    def magnitude(self, n_fft: int, wav: torch.Tensor) -> torch.Tensor:
        """|STFT|, floored at 1e-7 so that its log stays finite."""
        return self.stft(n_fft, wav).abs().clamp(min=1e-7)


class MultiResolutionSTFTLoss(_MultiSTFT):
    """Spectral convergence + log-magnitude L1, averaged over FFT sizes (Yamamoto et al. 2020,
    Parallel WaveGAN, arXiv:1910.11480).

    Spectral convergence ||T - P|| / ||T|| is relative to the target's energy, so a target of
    digital silence would make it explode (a 0.3-amplitude output over silence scored 4e7). The
    denominator is floored at ||T|| of white noise at ``floor_db`` dBFS RMS: targets above that
    level (any speech) are scored exactly as before; quieter ones relative to that noise floor.
    """

    floor_db = -60.0

    def _norm_floor(self, n_fft: int, magnitude: torch.Tensor) -> torch.Tensor:
        """||STFT|| of white noise at ``floor_db`` dBFS, shaped like ``magnitude``: E|X|^2 = sigma^2 sum(w^2)."""
        window_energy = self.stfts[str(n_fft)].window.pow(2).sum()
        return (10 ** (self.floor_db / 20)) * (window_energy * magnitude.numel()).sqrt()

    @_fp32
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = pred.new_zeros(())
        for n_fft in self.ffts:
            p, t = self.magnitude(n_fft, pred), self.magnitude(n_fft, target)
            denominator = torch.maximum(torch.linalg.norm(t), self._norm_floor(n_fft, t))
            convergence = torch.linalg.norm(t - p) / denominator
            total = total + convergence + F.l1_loss(p.log(), t.log())
        return total / len(self.ffts)


# Band power (sum of |STFT|^2 in a mel band, a Hann window) below which a band counts as silent in
# the band-level loss: about 60 dB under the bands of speech at -20 dBFS, so that the level of
# bands with nothing in them (band-limited recordings, leakage) is not matched to the decibel.
LEVEL_FLOOR = 1e-4


class MultiScaleMelLoss(_MultiSTFT):
    """L1 between log-mel spectrograms at several window sizes (DAC style), and between the segments'
    band levels: the log of each mel band's mean power over the segment (in nepers, 1 Np = 8.7 dB).
    Frame by frame the MSE terms shrink what the quantizer made uncertain (their optimum is the mean
    of the possible spectra, quieter than any of them); the band levels hold the output's loudness
    and spectral balance to the input's. Returns (log-mel L1, band-level L1)."""

    def __init__(self, ffts: tuple[int, ...], n_mels: int, sample_rate: int):
        super().__init__(ffts)
        for n_fft in ffts:
            self.register_buffer(f"mel_{n_fft}", torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels)),
                                 persistent=False)

    @_fp32
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mel_total, level_total = pred.new_zeros(()), pred.new_zeros(())
        for n_fft in self.ffts:
            fb = getattr(self, f"mel_{n_fft}")
            p, t = self.magnitude(n_fft, pred), self.magnitude(n_fft, target)
            mel_total = mel_total + F.l1_loss((fb @ p).clamp(min=1e-5).log(), (fb @ t).clamp(min=1e-5).log())
            p_level, t_level = ((fb @ x.pow(2)).mean(-1).clamp(min=LEVEL_FLOOR).log() / 2 for x in (p, t))
            level_total = level_total + F.l1_loss(p_level, t_level)
        return mel_total / len(self.ffts), level_total / len(self.ffts)


# Mean square below which a segment counts as silent in the loudness loss: -80 dBFS.
LOUDNESS_FLOOR = 1e-8


def loudness_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the segments' broadband levels, the log RMS of each (B, 1, L) segment in nepers
    (float32 scalar). Every mel band weighs the same in the band-level loss, so the few loud bands
    of voiced speech (300-1500 Hz), where the complex-spectrum MSE pulls hardest toward quiet, can
    stay quiet while the many others match; this term weighs the bands by their power, as a level
    meter does."""
    with torch.autocast(device_type=pred.device.type, enabled=False):
        p_level, t_level = (x.float().pow(2).mean(dim=(1, 2)).clamp(min=LOUDNESS_FLOOR).log() / 2
                            for x in (pred, target))
        return F.l1_loss(p_level, t_level)


class CompressedSpectrumLoss(_MultiSTFT):
    """MSE between power-law compressed complex spectra |X|^p e^(i angle X), and between their
    magnitudes |X|^p, each the mean over FFT sizes: returns (complex, magnitude).

    The magnitude losses leave phase free; the complex term penalises phase error, weighted by the
    compressed magnitude, so the phase of near-silent bins (which means nothing) hardly counts.
    Compression (p = 0.3, as in speech enhancement and ESC) keeps loud low harmonics from dominating.
    """

    def __init__(self, ffts: tuple[int, ...], power: float):
        super().__init__(ffts)
        self.power = power

    @_fp32
    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        complex_total, magnitude_total = pred.new_zeros(()), pred.new_zeros(())
        for n_fft in self.ffts:
            p = compress(self.stft(n_fft, pred), self.power)
            t = compress(self.stft(n_fft, target), self.power)
            diff = p - t
            complex_total = complex_total + (diff.real ** 2 + diff.imag ** 2).mean()
            magnitude_total = magnitude_total + F.mse_loss(p.abs(), t.abs())
        return complex_total / len(self.ffts), magnitude_total / len(self.ffts)


class CodecLoss(nn.Module):
    """The training objective, the one place where loss weights are applied and summed: waveform
    L1 + MSE (logged together as ``recon``), multi-resolution STFT, multi-scale mel, band levels,
    broadband levels, compressed complex STFT and magnitude (the last four off by default),
    commitment (``vq``) and, when the adversary is on, its generator terms ``adv`` and ``feat``
    (weights from ``adversarial``)."""

    def __init__(self, cfg: LossConfig, sample_rate: int, adversarial: AdversarialConfig | None = None):
        super().__init__()
        self.cfg = cfg
        adversarial = adversarial or AdversarialConfig()
        self.weights = {"l1": cfg.l1_weight, "mse": cfg.mse_weight, "stft": cfg.stft_weight, "mel": cfg.mel_weight,
                        "complex": cfg.complex_weight, "magnitude": cfg.magnitude_weight, "level": cfg.level_weight,
                        "loudness": cfg.loudness_weight, "vq": cfg.commit_weight,
                        "adv": adversarial.adversarial_weight, "feat": adversarial.feature_weight}
        self.stft = MultiResolutionSTFTLoss(cfg.stft_ffts)
        self.mel = MultiScaleMelLoss(cfg.mel_ffts, cfg.n_mels, sample_rate)
        self.spectrum = CompressedSpectrumLoss(cfg.complex_ffts, cfg.complex_power)

    def _terms(self, pred: torch.Tensor, target: torch.Tensor, commit_loss: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every unweighted reconstruction term (float32 scalars); a term with weight 0 is not computed."""
        cfg, zero = self.cfg, pred.new_zeros((), dtype=torch.float32)
        with torch.autocast(device_type=pred.device.type, enabled=False):
            pred32, target32 = pred.float(), target.float()
            terms = {"l1": F.l1_loss(pred32, target32), "mse": F.mse_loss(pred32, target32)}
        complex_mse, magnitude_mse = (self.spectrum(pred, target) if cfg.complex_weight or cfg.magnitude_weight
                                      else (zero, zero))
        mel, level = self.mel(pred, target) if cfg.mel_weight or cfg.level_weight else (zero, zero)
        return {**terms, "stft": self.stft(pred, target) if cfg.stft_weight else zero, "mel": mel, "level": level,
                "loudness": loudness_loss(pred, target) if cfg.loudness_weight else zero,
                "complex": complex_mse, "magnitude": magnitude_mse, "vq": commit_loss.float()}

    def forward(self, pred: torch.Tensor, target: torch.Tensor, commit_loss: torch.Tensor,
                adversarial: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """``total`` (with gradient) of the weighted terms of ``pred`` vs ``target`` (B, 1, L), the
        commitment loss and the unweighted ``adversarial`` terms (``Adversary.generator_losses``),
        and each weighted part (detached, for logging)."""
        terms = {**self._terms(pred, target, commit_loss), **(adversarial or {})}
        weighted = {name: self.weights[name] * value for name, value in terms.items()}
        parts = {"recon": weighted.pop("l1") + weighted.pop("mse"), **weighted}
        total = sum(parts.values())
        return {"total": total, **{k: v.detach() for k, v in parts.items()}}
