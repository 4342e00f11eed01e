"""Objective quality metrics on 16 kHz mono numpy signals.

- ``snr``: 10 log10(|ref|^2 / |ref - est|^2), no scaling or alignment.
- ``si_sdr``: scale-invariant SDR (Le Roux et al. 2019), both signals made zero-mean.
- ``log_mel_distance``: mean absolute difference of natural-log mel magnitudes
  (n_fft 1024, hop 256, 80 mel bands 0-8 kHz, magnitudes floored at 1e-5), averaged over bins and frames.
- ``pesq_wb``: ITU-T P.862.2 wideband MOS-LQO via the ``pesq`` package.
- ``stoi`` / ``estoi``: via ``pystoi``.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
import torch

from .spectral import STFT

EPS = 1e-12


def _pair(ref: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    est = np.asarray(est, dtype=np.float64).reshape(-1)
    n = min(len(ref), len(est))
    return ref[:n], est[:n]


def snr(ref: np.ndarray, est: np.ndarray) -> float:
    """Waveform signal-to-noise ratio in dB."""
    ref, est = _pair(ref, est)
    return float(10 * np.log10((np.sum(ref**2) + EPS) / (np.sum((ref - est) ** 2) + EPS)))


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB."""
    ref, est = _pair(ref, est)
    ref = ref - ref.mean()
    est = est - est.mean()
    target = (np.dot(est, ref) / (np.dot(ref, ref) + EPS)) * ref
    return float(10 * np.log10((np.sum(target**2) + EPS) / (np.sum((est - target) ** 2) + EPS)))


def level_difference(ref: np.ndarray, est: np.ndarray) -> float:
    """Decoded minus input level in dB (RMS over the clip): 0 when a codec keeps the loudness,
    which PESQ and STOI (level-invariant) do not check."""
    ref, est = _pair(ref, est)
    return float(10 * np.log10((np.mean(est**2) + EPS) / (np.mean(ref**2) + EPS)))


@functools.lru_cache(maxsize=4)
def mel_filterbank(sample_rate: int = 16000, n_fft: int = 1024, n_mels: int = 80) -> np.ndarray:
    """Slaney-style triangular mel filters, shape (n_mels, n_fft // 2 + 1)."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None] - lower) / (centre - lower)
    falling = (upper - freqs[None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (upper - lower))  # equal area per band
    return weights.astype(np.float32)


def log_mel(wav: np.ndarray, sample_rate: int = 16000, n_fft: int = 1024, hop: int = 256, n_mels: int = 80) -> np.ndarray:
    """Natural-log mel magnitude spectrogram, shape (n_mels, frames)."""
    wav = torch.from_numpy(np.asarray(wav, dtype=np.float32).reshape(1, -1))
    stft = STFT(n_fft, hop, pad_mode="reflect" if wav.shape[-1] > n_fft // 2 else "constant")
    spec = stft(wav)[0].abs().double().numpy()
    return np.log(np.maximum(mel_filterbank(sample_rate, n_fft, n_mels) @ spec, 1e-5))


def log_mel_distance(ref: np.ndarray, est: np.ndarray, sample_rate: int = 16000) -> float:
    """Mean absolute log-mel difference (see module docstring for the exact definition)."""
    ref, est = _pair(ref, est)
    return float(np.mean(np.abs(log_mel(ref, sample_rate) - log_mel(est, sample_rate))))


def pesq_wb(ref: np.ndarray, est: np.ndarray, sample_rate: int = 16000) -> float:
    """PESQ wideband (P.862.2) MOS-LQO; NaN when PESQ cannot score the clip (e.g. no speech)."""
    from pesq import pesq

    ref, est = _pair(ref, est)
    try:
        return float(pesq(sample_rate, ref, est, "wb"))
    except Exception:  # pesq raises on silent or too-short clips; report NaN rather than fail a run
        return float("nan")


def stoi(ref: np.ndarray, est: np.ndarray, sample_rate: int = 16000, extended: bool = False) -> float:
    """Short-time objective intelligibility (ESTOI with ``extended=True``); NaN when STOI cannot score
    the clip: fewer than 30 non-silent analysis frames (about 0.4 s), where ``pystoi`` would fail
    or return a placeholder 1e-5."""
    from pystoi import stoi as _stoi

    ref, est = _pair(ref, est)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "Not enough STFT frames", RuntimeWarning)   # pystoi's 1e-5 placeholder
        try:
            return float(_stoi(ref, est, sample_rate, extended=extended))
        except (RuntimeWarning, ValueError, IndexError):   # too short for even one analysis frame
            return float("nan")


def all_metrics(ref: np.ndarray, est: np.ndarray, sample_rate: int = 16000, perceptual: bool = True) -> dict[str, float]:
    """Every metric above as a dict; PESQ/STOI/ESTOI only when ``perceptual`` (they are slower)."""
    out = {
        "snr": snr(ref, est),
        "si_sdr": si_sdr(ref, est),
        "log_mel": log_mel_distance(ref, est, sample_rate),
        "level_db": level_difference(ref, est),
    }
    if perceptual:
        out["pesq"] = pesq_wb(ref, est, sample_rate)
        out["stoi"] = stoi(ref, est, sample_rate)
        out["estoi"] = stoi(ref, est, sample_rate, extended=True)
    return out
