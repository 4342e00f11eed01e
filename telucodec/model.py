"""The codec: encoder -> residual VQ -> decoder."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .complex_stft import ComplexSTFTDecoder, ComplexSTFTEncoder
from .config import ModelConfig
from .errors import TeluCodecError
from .factorized_vq import FactorizedResidualVQ
from .frame import FrameDecoder, FrameEncoder
from .quantizer import ResidualVQ
from .seanet import Decoder, Encoder

ARCHITECTURES = {"seanet": (Encoder, Decoder), "frame": (FrameEncoder, FrameDecoder),
                 "complex": (ComplexSTFTEncoder, ComplexSTFTDecoder)}
QUANTIZERS = {"ema": ResidualVQ, "factorized": FactorizedResidualVQ}


@dataclass
class CodecOutput:
    audio: torch.Tensor        # (B, 1, L) reconstruction in [-1, 1]
    codes: torch.Tensor        # (B, n_q, T) int64
    commit_loss: torch.Tensor  # scalar
    n_q: torch.Tensor          # (B,) quantizers used per example


@contextmanager
def float32_default() -> Iterator[None]:
    """``torch.set_default_dtype(torch.float32)`` inside, the caller's default restored after."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def mismatched_tensors(state: dict[str, torch.Tensor], tensors: dict[str, torch.Tensor]) -> str:
    """'' when ``tensors`` have the names and shapes of ``state`` (a model's state_dict); else the
    first three names that one lacks or that differ in shape, e.g. ``'decoder.w (missing), ...'``."""
    def problem(name: str) -> str | None:
        if name not in tensors:
            return f"{name} (missing)"
        if name not in state:
            return f"{name} (not in the model)"
        return None if tensors[name].shape == state[name].shape else \
            f"{name} ({tuple(tensors[name].shape)}, the model has {tuple(state[name].shape)})"
    problems = [p for p in map(problem, sorted(state.keys() | tensors.keys())) if p]
    return ", ".join(problems[:3]) + (f" and {len(problems) - 3} more" if len(problems) > 3 else "")


def load_weights(model: "TeluCodec", tensors: dict[str, torch.Tensor], source: object) -> None:
    """``model.load_state_dict`` of ``tensors`` cast to the model's dtypes; TeluCodecError naming
    ``source`` (the file) when their names or shapes are not the model's its config describes."""
    state = model.state_dict()
    problems = mismatched_tensors(state, tensors)
    if problems:
        raise TeluCodecError(f"{source}: its tensors do not match the model its config describes ({problems})")
    model.load_state_dict({k: v.to(state[k].dtype) for k, v in tensors.items()})


class TeluCodec(nn.Module):
    """Neural speech codec at ``cfg.sample_rate`` with a latent every ``cfg.hop_length`` samples.

    Its weights and buffers are float32 (complex64) whatever ``torch.get_default_dtype()`` is, so
    a program that made float64 its default still codes float32 audio."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        encoder, decoder = ARCHITECTURES[cfg.architecture]
        with float32_default():
            self.encoder = encoder(cfg)
            self.quantizer = QUANTIZERS[cfg.quantizer.kind](cfg.latent_dim, cfg.quantizer)
            self.decoder = decoder(cfg)

    def _latent(self, wav: torch.Tensor) -> torch.Tensor:
        """Continuous latent (B, D, ceil(L / hop)) of ``wav`` (B, 1, L), clipped and padded to whole hops."""
        return self.encoder(F.pad(wav.clamp(-1, 1), (0, (-wav.shape[-1]) % self.cfg.hop_length)))

    def forward(self, wav: torch.Tensor, n_q: int | None = None, quantize: bool = True) -> CodecOutput:
        """Reconstruct ``wav`` (B, 1, L); trains the codebooks when in training mode.

        ``quantize=False`` decodes the continuous latent (the bypass warm-up of training):
        codes are then (B, 0, T) and the commitment loss 0.
        """
        latent = self._latent(wav)
        if not quantize:
            audio = self.decoder(latent)[..., :wav.shape[-1]]
            codes = torch.zeros(wav.shape[0], 0, latent.shape[-1], dtype=torch.long, device=wav.device)
            return CodecOutput(audio, codes, latent.new_zeros((), dtype=torch.float32),
                               torch.zeros(wav.shape[0], dtype=torch.long, device=wav.device))
        q = self.quantizer(latent, n_q)
        audio = self.decoder(q.quantized)[..., :wav.shape[-1]]
        return CodecOutput(audio, q.codes, q.commit_loss, q.n_q)

    def freeze_codes(self) -> None:
        """Freeze what decides the codes: the encoder's weights and the codebooks (no gradient, no
        k-means, EMA or dead-code restarts), so that training moves the decoder alone and every
        code, entropy table and file of this model stays valid. Quantizer dropout still applies."""
        self.encoder.requires_grad_(False)
        self.quantizer.requires_grad_(False)
        for codebook in self.quantizer.codebooks:
            codebook.frozen = True

    @torch.no_grad()
    def encode(self, wav: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Codes (B, n_q, ceil(L / hop)) int64 for ``wav`` (B, 1, L) at ``cfg.sample_rate``."""
        return self.quantizer.encode(self._latent(wav), n_q)

    @torch.no_grad()
    def autoencode(self, wav: torch.Tensor) -> torch.Tensor:
        """``wav`` (B, 1, L) decoded from its continuous latent, the quantizer left out: what an
        infinite bitrate would give this encoder and decoder (a diagnostic: bench/phase_oracle.py)."""
        return self.decoder(self._latent(wav))[..., :wav.shape[-1]]

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Waveform (B, 1, T * hop) in [-1, 1] from codes (B, n_q, T)."""
        return self.decoder(self.quantizer.decode(codes))
