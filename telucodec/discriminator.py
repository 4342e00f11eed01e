"""Adversarial training: a multi-scale STFT discriminator (EnCodec style), hinge losses and
relative feature matching.

Why: the reconstruction losses constrain STFT magnitudes, not phase, so a decoder that predicts
phase (the frame model) is free to invent it; a discriminator on the complex STFT penalises
phase that does not sound like speech. The discriminator lives only in training checkpoints,
never in the shipped weights. It always runs in FP32 (it is small, and hinge logits in half
precision would need their own loss scaler).

``Adversary`` owns the discriminator, its optimiser, its update and its DDP wrapper; the
generator's adversarial terms are weighted and added to the total by ``losses.CodecLoss``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from .config import AdversarialConfig
from .distrib import all_ranks_finite, is_distributed, sync_on_last, wrap_ddp
from .spectral import STFT


class STFTDiscriminator(nn.Module):
    """2-D convolutions over the (real, imaginary) STFT at one resolution, hop n_fft / 4.
    Strided along frequency, dilated along time; returns (logits, features of every layer)."""

    def __init__(self, n_fft: int, channels: int):
        super().__init__()
        self.stft = STFT(n_fft, pad_mode="reflect")
        self.scale = 1 / math.sqrt(n_fft)   # torch.stft's normalized=True: unit-energy frames
        layers = [nn.Conv2d(2, channels, (3, 9), padding=(1, 4))]
        for dilation in (1, 2, 4):
            layers.append(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), dilation=(dilation, 1),
                                    padding=(dilation, 4)))
        layers.append(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1)))
        self.layers = nn.ModuleList(weight_norm(layer) for layer in layers)
        self.out = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = self.stft(wav[:, 0]) * self.scale
        x = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)   # (B, 2, frames, bins)
        features = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            features.append(x)
        return self.out(x), features


class MultiScaleSTFTDiscriminator(nn.Module):
    """One STFT discriminator per FFT size."""

    def __init__(self, ffts: tuple[int, ...], channels: int):
        super().__init__()
        self.scales = nn.ModuleList(STFTDiscriminator(n_fft, channels) for n_fft in ffts)

    def forward(self, wav: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        with torch.autocast(device_type=wav.device.type, enabled=False):
            wav = wav.float()
            return [scale(wav) for scale in self.scales]


def discriminator_loss(real: list, fake: list) -> torch.Tensor:
    """Hinge loss, mean over scales: push real logits above 1 and fake ones below -1."""
    losses = [F.relu(1 - r_logits).mean() + F.relu(1 + f_logits).mean()
              for (r_logits, _), (f_logits, _) in zip(real, fake)]
    return sum(losses) / len(losses)


def generator_loss(fake: list) -> torch.Tensor:
    """Hinge loss for the generator, mean over scales."""
    return sum(F.relu(1 - logits).mean() for logits, _ in fake) / len(fake)


def feature_matching_loss(real: list, fake: list) -> torch.Tensor:
    """L1 between real and fake features relative to the real features' mean magnitude (EnCodec),
    mean over all layers of all scales: each layer counts alike whatever its scale."""
    terms = [F.l1_loss(f, r) / r.abs().mean().clamp(min=1e-5)
             for (_, r_feats), (_, f_feats) in zip(real, fake) for r, f in zip(r_feats, f_feats)]
    return sum(terms) / len(terms)


class Adversary:
    """The discriminator, its optimiser and update (``step``), and the losses of both sides.
    Created inside a running process group, it trains through a DDP wrapper (``trained``)."""

    def __init__(self, cfg: AdversarialConfig, device: torch.device):
        self.cfg = cfg
        self.discriminator = MultiScaleSTFTDiscriminator(cfg.ffts, cfg.channels).to(device)
        self.trained: nn.Module = wrap_ddp(self.discriminator) if is_distributed() else self.discriminator
        self.optimizer = torch.optim.AdamW(self.discriminator.parameters(), lr=cfg.learning_rate, betas=(0.8, 0.99))

    def active(self, step: int) -> bool:
        return 0 <= self.cfg.start_step <= step

    def _subset(self, wav: torch.Tensor) -> torch.Tensor:
        return wav[: self.cfg.max_items] if self.cfg.max_items else wav

    def generator_losses(self, fake: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """Unweighted adversarial (``adv``) and feature-matching (``feat``) losses for the generator
        output ``fake`` (B, 1, L) against ``real``, on the first ``max_items`` segments (CodecLoss
        weights them). The discriminator's parameters are frozen for this pass, so its gradient
        reaches only the generator."""
        fake, real = self._subset(fake), self._subset(real)
        self.discriminator.requires_grad_(False)
        try:
            fake_out = self.discriminator(fake)
            with torch.no_grad():
                real_out = self.discriminator(real)
        finally:
            self.discriminator.requires_grad_(True)
        return {"adv": generator_loss(fake_out), "feat": feature_matching_loss(real_out, fake_out)}

    def loss(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """The discriminator's hinge loss on a detached generator output (through DDP when distributed)."""
        return discriminator_loss(self.trained(self._subset(real)), self.trained(self._subset(fake).detach()))

    def step(self, fakes: list[torch.Tensor], reals: list[torch.Tensor], grad_clip: float) -> torch.Tensor:
        """One discriminator update on the generator's micro-batches ``fakes`` (detached here) and
        ``reals``, each (B, 1, L): gradients accumulate over them and synchronise across ranks on
        the last; a non-finite loss on any rank, or a non-finite gradient norm, skips the update on
        every rank. Returns the mean hinge loss (CPU scalar)."""
        total, finite = torch.zeros(()), True
        for i, (fake, real) in enumerate(zip(fakes, reals)):
            with sync_on_last(self.trained, i, len(fakes)):
                loss = self.loss(fake, real)
                finite = all_ranks_finite(loss) and finite
                if finite:
                    (loss / len(fakes)).backward()
            total += loss.detach().cpu() / len(fakes)
        if finite:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.discriminator.parameters(), grad_clip)
            if torch.isfinite(grad_norm):
                self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return total

    def state_dict(self) -> dict:
        return {"discriminator": self.discriminator.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["optimizer"])
