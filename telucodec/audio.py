"""Audio I/O: any file soundfile reads, converted to 16 kHz mono float32 in [-1, 1].

No torchaudio: soundfile decodes, soxr resamples. Writes are atomic (``fileio.atomic_write``)
so an interrupted run never leaves a half-written file where the user expects a good one.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import TeluCodecError
from .fileio import FolderScan, atomic_write, require_file, scan_folder, write_error

log = logging.getLogger("telucodec")

# Rates outside this range are not audio this codec can take: a 1 Hz "recording" of 10 k samples
# would resample to hours of 16 kHz audio.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 768000
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".w64")


def pcm_to_float(wav: np.ndarray) -> np.ndarray:
    """Samples as float32, integer PCM scaled to [-1, 1) as soundfile scales it when it reads a file:
    signed integers (int8 to int64) divided by 2^(bits - 1), unsigned 8-bit (8-bit WAV) centred on 128
    first. Float arrays are only cast. Raises TeluCodecError for any other dtype (bool, other unsigned
    integers, complex, object)."""
    wav = np.asarray(wav)
    if wav.dtype == np.uint8:
        return ((wav.astype(np.float32) - 128) / 128).astype(np.float32)
    if np.issubdtype(wav.dtype, np.signedinteger):
        return (wav / float(2 ** (8 * wav.dtype.itemsize - 1))).astype(np.float32)
    if np.issubdtype(wav.dtype, np.floating):
        return wav.astype(np.float32, copy=False)
    raise TeluCodecError(f"audio samples must be float or integer PCM (int8/16/32/64, uint8), got dtype {wav.dtype}")


def to_mono_16k(wav: np.ndarray, sample_rate: int, target_rate: int = 16000) -> np.ndarray:
    """Down-mix (frames, channels) or (frames,) audio to mono, resample, clip to [-1, 1].

    Integer PCM is scaled first (``pcm_to_float``). Returns float32 of shape (samples,).
    """
    wav = pcm_to_float(wav)
    if wav.ndim == 2:
        wav = wav.mean(axis=1)
    if sample_rate != target_rate:
        wav = soxr.resample(wav, sample_rate, target_rate, quality="HQ").astype(np.float32)
    return np.clip(wav, -1.0, 1.0)


def read_audio_blocks(path: str | os.PathLike, target_rate: int = 16000,
                      block_seconds: float = 30.0) -> Iterator[np.ndarray]:
    """An audio file as consecutive float32 mono blocks at ``target_rate``, clipped to [-1, 1].

    Decodes, down-mixes and resamples (soxr's stream resampler: the blocks join into exactly what
    resampling the whole file gives) ``block_seconds`` of the file at a time, so memory does not
    grow with the file's length. Raises TeluCodecError naming the file when it is missing,
    unreadable, empty, not finite (possibly after some blocks were yielded), or at a rate outside
    1-768 kHz. Samples above full scale (float files) are clipped, with a warning naming the file
    and the peak once the file is read.
    """
    path = require_file(path, "an audio file")
    total = 0
    try:
        with sf.SoundFile(os.fsencode(path)) as f:   # bytes: names that are not UTF-8 open too
            rate = f.samplerate
            if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
                raise TeluCodecError(f"{path}: sample rate {rate} Hz is outside "
                                     f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz")
            resampler = soxr.ResampleStream(rate, target_rate, 1, dtype="float32", quality="HQ")
            peak = 0.0
            block = max(1, int(block_seconds * rate))
            last = False
            while not last:
                data = f.read(block, dtype="float32", always_2d=True)
                last = len(data) < block
                if not np.isfinite(data).all():
                    raise TeluCodecError(f"{path}: audio contains NaN or infinite samples")
                peak = max(peak, float(np.abs(data).max(initial=0.0)))
                mono = data.mean(axis=1)
                chunk = mono if rate == target_rate else resampler.resample_chunk(mono, last=last)
                total += len(chunk)
                if len(chunk):
                    yield np.clip(chunk, -1.0, 1.0)
    except TeluCodecError:
        raise
    except Exception as exc:  # soundfile raises several types for unreadable input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TeluCodecError(f"{path}: cannot read audio ({reason})") from None
    if total == 0:
        raise TeluCodecError(f"{path}: audio is empty")
    if peak > 1.0:   # only float files can exceed full scale; say so rather than clip silently
        log.warning("%s: samples peak at %.3g, above full scale (1.0); clipped to [-1, 1]", path, peak)


def load_audio(path: str | os.PathLike, target_rate: int = 16000, block_seconds: float = 30.0) -> np.ndarray:
    """Read an audio file as float32 mono at ``target_rate``, clipped to [-1, 1] (``read_audio_blocks``
    joined; memory stays near the size of the output even for hour-long multichannel files at high
    rates). Raises TeluCodecError naming the file when it is missing, unreadable, empty or not finite.
    """
    out, filled = np.empty(_expected_length(path, target_rate), dtype=np.float32), 0
    for chunk in read_audio_blocks(path, target_rate, block_seconds):
        if filled + len(chunk) > len(out):   # some headers under-report their length
            out = np.concatenate([out[:filled], np.empty(len(chunk) + len(out) // 2, dtype=np.float32)])
        out[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    return out[:filled]


def _expected_length(path: str | os.PathLike, target_rate: int) -> int:
    """Samples at ``target_rate`` the file's header announces (0 when it cannot say), at most ten
    minutes' worth: a header's length is only a hint (a 1 Hz header may announce days), and the
    reader grows the buffer when a file is longer."""
    try:
        info = sf.info(os.fsencode(path))
        if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
            return 0
        return min(int(info.frames * target_rate / info.samplerate) + 16, 600 * target_rate)
    except Exception:   # read_audio_blocks reports an unreadable file, naming the reason
        return 0


def scan_audio_files(root: str | os.PathLike) -> FolderScan:
    """The audio files under ``root`` (``fileio.scan_folder``: symlinked folders followed, hidden
    files skipped and counted, extensions matched in any case), sorted by path."""
    return scan_folder(root, AUDIO_EXTENSIONS)


def find_audio_files(root: str | os.PathLike) -> list[Path]:
    """All audio files under ``root`` (``scan_audio_files``), sorted by path for determinism."""
    return scan_audio_files(root).files


# extensions that name a format under another name (soundfile takes the extension as the format's name)
_FORMAT_ALIASES = {".aif": ("AIFF", None), ".oga": ("OGG", None), ".opus": ("OGG", "OPUS")}


def audio_format(path: str | os.PathLike) -> tuple[str, str]:
    """(soundfile format, subtype) of an audio file written as ``path``: the format its extension
    names (``.wav``, ``.flac``, ``.ogg``, ``.mp3``, ... : ``soundfile.available_formats()``; WAV when
    there is none), 16-bit PCM where the format has it, else the format's default subtype.
    Raises TeluCodecError naming ``path`` for an extension soundfile cannot write."""
    suffix = Path(path).suffix.lower()
    fmt, subtype = _FORMAT_ALIASES.get(suffix, (suffix[1:].upper() or "WAV", None))
    if fmt in sf.available_formats():
        subtype = subtype or ("PCM_16" if sf.check_format(fmt, "PCM_16") else sf.default_subtype(fmt))
        if subtype:
            return fmt, subtype
    raise TeluCodecError(f"{path}: cannot write audio as {suffix!r}: not a format soundfile writes "
                         "(use .wav, .flac, .ogg, .mp3, ...)")


def write_audio(path: str | os.PathLike, wav: np.ndarray | Iterable[np.ndarray], sample_rate: int = 16000) -> None:
    """Write float audio in [-1, 1], mono, atomically, in the format ``path``'s extension names
    (``audio_format``: a ``.wav`` is 16-bit PCM WAV, a ``.mp3`` MP3): one array, or consecutive
    blocks (written as they come, so a long output never has to be held whole).

    Raises TeluCodecError naming ``path`` for an extension soundfile cannot write, or when it
    cannot be written (not a folder, permission, read-only, disk full); no partial file is left."""
    fmt, subtype = audio_format(path)
    blocks = [wav] if isinstance(wav, np.ndarray) else wav

    def write(tmp: str) -> None:
        try:
            with sf.SoundFile(os.fsencode(tmp), "w", sample_rate, 1, subtype=subtype, format=fmt) as f:
                for block in blocks:
                    f.write(np.clip(np.asarray(block, dtype=np.float32).reshape(-1), -1.0, 1.0))
        except sf.SoundFileRuntimeError as exc:   # libsndfile's "System error" on a full disk
            raise write_error(path, f"libsndfile: {getattr(exc, 'error_string', exc)}") from None

    atomic_write(path, write)
