"""Audio I/O: any file soundfile reads, converted to 16 kHz mono float32 in [-1, 1].

No torchaudio: soundfile decodes, soxr resamples. Writes are atomic (``fileio.atomic_write``)
so an interrupted run never leaves a half-written file where the user expects a good one.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import TeluCodecError
from .fileio import atomic_write, require_file, write_error

log = logging.getLogger("telucodec")

# Rates outside this range are not audio this codec can take: a 1 Hz "recording" of 10 k samples
# would resample to hours of 16 kHz audio.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 768000
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".w64")


def to_mono_16k(wav: np.ndarray, sample_rate: int, target_rate: int = 16000) -> np.ndarray:
    """Down-mix (frames, channels) or (frames,) audio to mono, resample, clip to [-1, 1].

    Returns float32 of shape (samples,).
    """
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim == 2:
        wav = wav.mean(axis=1)
    if sample_rate != target_rate:
        wav = soxr.resample(wav, sample_rate, target_rate, quality="HQ").astype(np.float32)
    return np.clip(wav, -1.0, 1.0)


def load_audio(path: str | os.PathLike, target_rate: int = 16000, block_seconds: float = 30.0) -> np.ndarray:
    """Read an audio file as float32 mono at ``target_rate``, clipped to [-1, 1].

    Decodes and resamples block by block, so memory stays near the size of the output even for
    hour-long multichannel files at high rates. Raises TeluCodecError naming the file when it is
    missing, unreadable, empty, not finite, or at a rate outside 1-768 kHz. Samples above full
    scale (float files) are clipped, with a warning naming the file and the peak.
    """
    path = require_file(path, "an audio file")
    try:
        with sf.SoundFile(str(path)) as f:
            rate, frames = f.samplerate, f.frames
            if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
                raise TeluCodecError(f"{path}: sample rate {rate} Hz is outside "
                                     f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz")
            resampler = soxr.ResampleStream(rate, target_rate, 1, dtype="float32", quality="HQ")
            out = np.empty(int(frames * target_rate / rate) + 16, dtype=np.float32)
            filled, peak = 0, 0.0
            block = max(1, int(block_seconds * rate))
            while True:
                data = f.read(block, dtype="float32", always_2d=True)
                last = len(data) < block
                if not np.isfinite(data).all():
                    raise TeluCodecError(f"{path}: audio contains NaN or infinite samples")
                peak = max(peak, float(np.abs(data).max(initial=0.0)))
                chunk = data.mean(axis=1) if rate == target_rate else resampler.resample_chunk(data.mean(axis=1), last=last)
                if filled + len(chunk) > len(out):   # some headers under-report their length
                    out = np.concatenate([out[:filled], np.empty(len(chunk) + len(out) // 2, dtype=np.float32)])
                out[filled : filled + len(chunk)] = chunk
                filled += len(chunk)
                if last:
                    break
    except TeluCodecError:
        raise
    except Exception as exc:  # soundfile raises several types for unreadable input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TeluCodecError(f"{path}: cannot read audio ({reason})") from None
    if filled == 0:
        raise TeluCodecError(f"{path}: audio is empty")
    if peak > 1.0:   # only float files can exceed full scale; say so rather than clip silently
        log.warning("%s: samples peak at %.3g, above full scale (1.0); clipped to [-1, 1]", path, peak)
    return np.clip(out[:filled], -1.0, 1.0)


def find_audio_files(root: str | os.PathLike) -> list[Path]:
    """All audio files under ``root`` (recursively), sorted by path for determinism."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def write_wav(path: str | os.PathLike, wav: np.ndarray, sample_rate: int = 16000) -> None:
    """Write float audio in [-1, 1] as 16-bit PCM WAV, atomically.

    Raises TeluCodecError naming ``path`` when it cannot be written (not a folder, permission,
    read-only, disk full); no partial file is left."""
    wav = np.clip(np.asarray(wav, dtype=np.float32).reshape(-1), -1.0, 1.0)

    def write(tmp: str) -> None:
        try:
            sf.write(tmp, wav, sample_rate, subtype="PCM_16", format="WAV")
        except sf.SoundFileRuntimeError as exc:   # libsndfile's "System error" on a full disk
            raise write_error(path, f"libsndfile: {getattr(exc, 'error_string', exc)}") from None

    atomic_write(path, write)
