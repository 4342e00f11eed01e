"""Turning a synthesized or recorded sound into a corpus clip: 16 kHz mono, no DC, silence
trimmed, peak set."""
from __future__ import annotations

import os

import numpy as np
import soundfile as sf
import soxr

from ..errors import TeluCodecError
from ..fileio import require_file

SAMPLE_RATE = 16000
MIN_SECONDS = 0.15


def read_recording(path: str | os.PathLike, raw_rate: int | None = None) -> np.ndarray:
    """float64 mono samples at 16 kHz, shape (samples,), of a sound file, or of a headerless
    s16le file recorded at ``raw_rate`` Hz. Not clipped: the peaks above full scale that Vorbis
    decoding and resampling make are kept for set_peak() to scale down (audio.load_audio clips
    them). Raises TeluCodecError naming the file when it is missing or cannot be read."""
    path = require_file(path, "an audio file")
    try:
        if raw_rate is None:
            x, rate = sf.read(os.fsencode(path), dtype="float64", always_2d=True)
            x = x.mean(axis=1)
        else:
            x, rate = np.fromfile(path, dtype="<i2").astype(np.float64) / 32768.0, raw_rate
    except Exception as exc:  # soundfile raises several types for unreadable input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TeluCodecError(f"{path}: cannot read audio ({reason})") from None
    return x if rate == SAMPLE_RATE else soxr.resample(x, rate, SAMPLE_RATE, quality="HQ")


def trim_silence(x: np.ndarray, rel_db: float = 40.0, pad_start: float = 0.10,
                 pad_end: float = 0.15) -> np.ndarray:
    """Cut leading and trailing silence of 16 kHz audio ``x``: keep from the first to the last
    10 ms frame within ``rel_db`` of the loudest one (and, for a noisy recording, 12 dB above
    its noise floor, at most 25 dB below the loudest frame), plus ``pad_start``/``pad_end``
    seconds."""
    hop = SAMPLE_RATE // 100
    frames = len(x) // hop
    if frames == 0:
        return x
    energy_db = 10 * np.log10((x[: frames * hop].reshape(frames, hop) ** 2).mean(axis=1) + 1e-12)
    top = energy_db.max()
    floor = min(float(np.percentile(energy_db, 10)) + 12.0, top - 25.0)
    loud = np.nonzero(energy_db > max(top - rel_db, floor))[0]
    if len(loud) == 0:
        return x
    start = max(0, loud[0] * hop - int(pad_start * SAMPLE_RATE))
    end = min(len(x), (loud[-1] + 1) * hop + int(pad_end * SAMPLE_RATE))
    return x[start:end]


def set_peak(x: np.ndarray, peak_dbfs: float) -> np.ndarray:
    """``x`` scaled so that its largest magnitude is ``peak_dbfs`` dB full scale (silence as is)."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 0:
        return x
    return x * (10 ** (peak_dbfs / 20) / peak)


def finish_clip(x: np.ndarray, peak_dbfs: float) -> np.ndarray | None:
    """16 kHz mono ``x`` with DC removed, silence trimmed and the peak set to ``peak_dbfs``;
    float64 of shape (samples,). None when it is not finite, shorter than 0.15 s after
    trimming, or (near) silent."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0 or not np.isfinite(x).all():
        return None
    x = trim_silence(x - x.mean())
    if len(x) < int(MIN_SECONDS * SAMPLE_RATE) or np.max(np.abs(x)) < 1e-4:
        return None
    return set_peak(x, peak_dbfs)
