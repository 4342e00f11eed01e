"""The STFT convention of the whole package, in one place: Hann window, hop = n_fft / 4 unless
given, centred frames, and the power-law compression of complex spectra.

``STFT`` and ``ISTFT`` are modules, so a model holds them as parts and export swaps them for
their convolution forms (``ConvSTFT``, ``ConvISTFT``: ONNX has no complex numbers), the seam that
Vocos draws in ``vocos/spectral_ops.py`` (Siuzdak 2023, github.com/gemelo-ai/vocos). Models use
the real-valued entry points (``STFT.real_imag``, ``ISTFT.from_real_imag``), which both forms
implement; losses and metrics may use the complex ``forward``.
"""
from __future__ import annotations

import functools
import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from .streaming import StreamState, active_state, with_history


class STFT(nn.Module):
    """Complex STFT: audio (B, L) float -> (B, n_fft / 2 + 1, 1 + L // hop) complex64.

    Frames are centred (frame t covers samples around t * hop); the signal is padded by n_fft / 2
    on both sides, with zeros by default, so any length >= 1 works (``pad_mode="reflect"``, what
    the ``frame`` architecture was trained with, needs L > n_fft / 2). Always computed in float32,
    also under autocast.
    """

    def __init__(self, n_fft: int, hop: int | None = None, pad_mode: str = "constant"):
        super().__init__()
        self.n_fft = n_fft
        self.hop = hop or n_fft // 4
        self.pad_mode = pad_mode
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=wav.device.type, enabled=False):
            return torch.stft(wav.float(), self.n_fft, self.hop, window=self.window, center=True,
                              pad_mode=self.pad_mode, return_complex=True)

    def real_imag(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same spectrum as (real, imag) float32 tensors, each (B, n_fft / 2 + 1, frames)."""
        spec = self(wav)
        return spec.real, spec.imag


class ISTFT(nn.Module):
    """Inverse of ``STFT`` (overlap-add): (B, n_fft / 2 + 1, frames) complex -> audio (B, length) float32."""

    def __init__(self, n_fft: int, hop: int | None = None):
        super().__init__()
        self.n_fft = n_fft
        self.hop = hop or n_fft // 4
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        with torch.autocast(device_type=spec.device.type, enabled=False):
            return torch.istft(spec, self.n_fft, self.hop, window=self.window, center=True, length=length)

    def from_real_imag(self, real: torch.Tensor, imag: torch.Tensor, length: int) -> torch.Tensor:
        """The inverse from real and imaginary parts (B, n_fft / 2 + 1, frames); length <= frames * hop."""
        return self(torch.complex(real.float(), imag.float()), length)


def _pad_end(wav: torch.Tensor, length: int) -> torch.Tensor:
    return F.pad(wav, (0, max(0, length - wav.shape[-1])))


@functools.cache
def _scripted_pad_end():
    with warnings.catch_warnings():   # torch.jit is deprecated, but TorchScript export still uses it
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(_pad_end)


def zero_pad_to(wav: torch.Tensor, length: int) -> torch.Tensor:
    """``wav`` (..., L) zero-padded at the end to ``length`` samples when shorter, else unchanged.

    Written to keep the length dynamic in every graph form: ``torch.sym_max`` in eager mode and
    under ``torch.export`` (ONNX), a scripted function under ``torch.jit.trace`` (which would
    otherwise freeze the example's padding into the TorchScript graph)."""
    if torch.jit.is_tracing():
        return _scripted_pad_end()(wav, length)
    return F.pad(wav, (0, torch.sym_max(0, length - wav.shape[-1])))


def _dft_angles(n_fft: int) -> torch.Tensor:
    """(n_fft / 2 + 1, n_fft) float64: 2 pi k n / n_fft."""
    return 2 * math.pi * torch.outer(torch.arange(n_fft // 2 + 1), torch.arange(n_fft)).double() / n_fft


def _analysis_basis(window: torch.Tensor) -> torch.Tensor:
    """(2 bins, 1, n_fft) float32: the windowed real DFT, real parts then imaginary parts."""
    angle = _dft_angles(len(window))
    return (torch.cat([angle.cos(), -angle.sin()]) * window.double()).float()[:, None]


def _synthesis_basis(window: torch.Tensor) -> torch.Tensor:
    """(2 bins, 1, n_fft) float32: the windowed inverse real DFT of (real, imag) parts."""
    n_fft = len(window)
    # inverse real DFT: bins other than DC and Nyquist stand for their mirror image too
    weight = torch.full((n_fft // 2 + 1, 1), 2.0, dtype=torch.float64)
    weight[0] = weight[-1] = 1.0
    angle = _dft_angles(n_fft)
    basis = torch.cat([angle.cos(), -angle.sin()]) * torch.cat([weight, weight]) / n_fft * window.double()
    return basis.float()[:, None]


class ConvSTFT(STFT):
    """``STFT`` as a strided convolution with the windowed DFT basis: the same sums, equal to
    float rounding, in a graph without complex numbers."""

    def __init__(self, n_fft: int, hop: int | None = None, pad_mode: str = "constant"):
        super().__init__(n_fft, hop, pad_mode)
        self.register_buffer("basis", _analysis_basis(self.window), persistent=False)

    def real_imag(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        padded = F.pad(wav.float()[:, None], (self.n_fft // 2, self.n_fft // 2), mode=self.pad_mode)
        real, imag = F.conv1d(padded, self.basis, stride=self.hop).chunk(2, dim=1)
        return real, imag

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return torch.complex(*self.real_imag(wav))


class ConvISTFT(ISTFT):
    """``ISTFT`` as a transposed convolution with the inverse DFT basis, divided by the overlap-added
    window envelope: the same sums as ``torch.istft``, equal to float rounding, without complex numbers."""

    def __init__(self, n_fft: int, hop: int | None = None):
        super().__init__(n_fft, hop)
        self.register_buffer("basis", _synthesis_basis(self.window), persistent=False)
        self.register_buffer("window_sq", self.window.pow(2)[None, None], persistent=False)

    def from_real_imag(self, real: torch.Tensor, imag: torch.Tensor, length: int) -> torch.Tensor:
        summed = F.conv_transpose1d(torch.cat([real, imag], dim=1).float(), self.basis, stride=self.hop)
        envelope = F.conv_transpose1d(torch.ones_like(real[:, :1]).float(), self.window_sq, stride=self.hop)
        start = self.n_fft // 2                      # centred frames: the first is centred on sample 0
        return (summed / envelope)[:, 0, start : start + length]

    def forward(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return self.from_real_imag(spec.real, spec.imag, length)


class CausalSTFT(nn.Module):
    """Causal STFT: frame t covers samples [(t + 1) hop - n_fft, (t + 1) hop), ending at the current
    hop (left zero padding, or the previous block's last n_fft - hop samples while streaming:
    ``streaming.with_history``). Audio (B, L), L a multiple of hop -> (real, imag), each
    (B, n_fft / 2 + 1, L / hop) float32. Hann window. Computed with an FFT, or (``fft = False``, what
    ``convolutional`` sets for export) as a strided convolution with the windowed DFT basis."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.n_fft, self.hop, self.fft = n_fft, hop, True
        window = torch.hann_window(n_fft, dtype=torch.float64)
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("basis", _analysis_basis(window), persistent=False)

    def real_imag(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        padded = with_history(self, wav.float()[:, None], self.n_fft - self.hop)
        if not self.fft:
            real, imag = F.conv1d(padded, self.basis, stride=self.hop).chunk(2, dim=1)
            return real, imag
        spec = torch.fft.rfft(padded[:, 0].unfold(-1, self.n_fft, self.hop) * self.window).transpose(1, 2)
        return spec.real, spec.imag


class CausalISTFT(nn.Module):
    """Overlap-add inverse of ``CausalSTFT``: (real, imag) (B, n_fft / 2 + 1, T) -> audio (B, T x hop)
    float32, sample n aligned with the analysis (frame t is laid on [(t + 1) hop - n_fft, (t + 1) hop)).

    A sample is complete once the n_fft / hop frames that overlap it are in: the last n_fft - hop
    samples of a signal get only the frames before its end (what a stream's ``flush`` gives too).
    While streaming (``StreamState.active``) a call returns the T x hop samples that are complete,
    starting n_fft - hop samples before its first frame's hop, and keeps the rest as the stream's
    overlap tail; ``tail(state)`` returns it at the end. Windowed inverse real DFT divided by the
    steady-state sum of squared windows (1.5 for a Hann window at hop n_fft / 4), by an inverse FFT
    and overlap-add, or (``fft = False``, for export) as one transposed convolution.
    """

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.n_fft, self.hop, self.fft = n_fft, hop, True
        window = torch.hann_window(n_fft, dtype=torch.float64)
        envelope = window.pow(2).view(-1, hop).sum(0).repeat(n_fft // hop)   # the overlapping windows' sum
        self.register_buffer("basis", _synthesis_basis(window / envelope), persistent=False)
        self.register_buffer("synthesis_window", (window / envelope).float(), persistent=False)

    def _overlap_add(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        """(B, (T - 1) hop + n_fft): the windowed frames summed where they overlap."""
        if not self.fft:
            return F.conv_transpose1d(torch.cat([real, imag], dim=1).float(), self.basis, stride=self.hop)[:, 0]
        frames = torch.fft.irfft(torch.complex(real.float(), imag.float()).transpose(1, 2), n=self.n_fft)
        length = (frames.shape[1] - 1) * self.hop + self.n_fft
        return F.fold((frames * self.synthesis_window).transpose(1, 2), (1, length), (1, self.n_fft),
                      stride=(1, self.hop))[:, 0, 0]

    def from_real_imag(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        summed = self._overlap_add(real, imag)
        overlap = self.n_fft - self.hop       # summed covers [first hop - overlap, last hop end)
        state = active_state()
        if state is None:
            return summed[:, overlap:]
        tail = state.tensors.get(id(self))
        if tail is not None:
            summed = torch.cat([summed[:, :overlap] + tail, summed[:, overlap:]], dim=1)
        state.tensors[id(self)] = summed[:, summed.shape[1] - overlap:]
        return summed[:, : summed.shape[1] - overlap]

    def tail(self, state: StreamState) -> torch.Tensor | None:
        """The stream's incomplete last n_fft - hop samples (B, n_fft - hop), None before any frame."""
        return state.tensors.get(id(self))


def convolutional(model: nn.Module) -> nn.Module:
    """Replace every ``STFT`` / ``ISTFT`` inside ``model`` (in place) by its convolution form, and
    switch the causal ones to theirs, for export (no complex numbers in the graph)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is STFT:
                setattr(parent, name, ConvSTFT(child.n_fft, child.hop, child.pad_mode).to(child.window.device))
            elif type(child) is ISTFT:
                setattr(parent, name, ConvISTFT(child.n_fft, child.hop).to(child.window.device))
            elif isinstance(child, (CausalSTFT, CausalISTFT)):
                child.fft = False
    return model


def compression_gain(real: torch.Tensor, imag: torch.Tensor, power: float) -> torch.Tensor:
    """``|X|^(p - 1)``, the factor that compresses X to ``|X|^p e^(i angle X)`` (power-law compression
    as in ESC, arXiv 2404.19441, and speech enhancement); ``(|X|^2 + eps)^((p - 1) / 2)`` keeps the
    gradient finite at 0."""
    return (real ** 2 + imag ** 2 + 1e-8) ** ((power - 1) / 2)


def compress(spec: torch.Tensor, power: float) -> torch.Tensor:
    """Power-law compressed complex spectrum ``|X|^p e^(i angle X)``."""
    return spec * compression_gain(spec.real, spec.imag, power)


def decompress(real: torch.Tensor, imag: torch.Tensor, power: float,
               max_magnitude: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of ``compress`` on (real, imag) parts; the compressed magnitude is capped at
    ``max_magnitude`` first, so a wild prediction cannot overflow (|X| = m^(1/p) grows fast)."""
    magnitude = (real ** 2 + imag ** 2 + 1e-8).sqrt()
    capped = magnitude.clamp(max=max_magnitude)
    gain = capped ** (1 / power) / magnitude
    return real * gain, imag * gain
