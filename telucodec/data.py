"""Training data: scan a folder tree, skip bad files (counted, named), cut random segments.

Every random choice is a function of (random seed, epoch, position), not of a global RNG, so a resumed
run draws exactly the batches the uninterrupted run would have, with any number of workers.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from .audio import load_audio, scan_audio_files
from .errors import TeluCodecError

log = logging.getLogger("telucodec")


@dataclass
class ScanResult:
    clips: list[np.ndarray] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)   # path -> reason


def check_clip(wav: np.ndarray, min_samples: int, silence_threshold: float) -> str | None:
    """Why a decoded clip is unusable for training, or None when it is fine."""
    if len(wav) == 0:
        return "empty"
    if len(wav) < min_samples:
        return f"shorter than a segment ({len(wav)} < {min_samples} samples)"
    if float(np.max(np.abs(wav))) < silence_threshold:
        return "silent"
    return None


def scan_files(paths: list[Path], sample_rate: int, min_samples: int, silence_threshold: float) -> ScanResult:
    """Load every file once (16 kHz mono float32), keeping the usable ones in memory.

    Unreadable, empty, NaN-filled, silent and too-short files are skipped with a warning naming
    the file; ``skipped`` counts them.
    """
    result = ScanResult()
    for path in paths:
        try:
            wav = load_audio(path, sample_rate)
            reason = check_clip(wav, min_samples, silence_threshold)
        except TeluCodecError as exc:
            wav, reason = None, str(exc).split(": ", 1)[-1]
        if reason:
            log.warning("skipping %s: %s", path, reason)
            result.skipped[str(path)] = reason
            continue
        result.clips.append(wav)
        result.paths.append(path)
    return result


def is_validation_file(path: Path, root: Path, fraction: float) -> bool:
    """Deterministic split by a hash of the path relative to ``root``."""
    digest = hashlib.md5(os.fsencode(path.relative_to(root))).digest()   # names need not be UTF-8
    return int.from_bytes(digest[:4], "little") / 2**32 < fraction


def _scan(folder: Path) -> list[Path]:
    """``scan_audio_files``, saying how many files it found (and how many hidden ones it skipped)."""
    scan = scan_audio_files(folder)
    log.info("%s", scan.summary(folder, "audio files"))
    return scan.files


def _speaker_groups(files: list[Path], root: Path) -> list[list[Path]]:
    """The files of each top-level sub-folder of ``root`` (a speaker, in a folder laid out by
    speaker); files directly in ``root`` form no group."""
    groups: dict[str, list[Path]] = {}
    for path in files:
        parts = path.relative_to(root).parts
        if len(parts) > 1:
            groups.setdefault(parts[0], []).append(path)
    return list(groups.values())


def split_files(data_dir: Path, val_dir: Path | None, fraction: float) -> tuple[list[Path], list[Path]]:
    """(train files, validation files): ``val_dir`` if given, else a hashed split of ``data_dir`` by
    file, in which every speaker (a top-level sub-folder of two or more files) keeps at least one
    validation file, so that a report on the held-out files covers each of them."""
    for folder in (data_dir, val_dir):
        if folder is not None and not folder.is_dir():
            raise TeluCodecError(f"{folder}: no such folder")
    files = _scan(data_dir)
    if not files:
        raise TeluCodecError(f"{data_dir}: no audio files found")
    if val_dir is not None:
        return files, _scan(val_dir)
    val_set = {p for p in files if is_validation_file(p, data_dir, fraction)}
    for group in _speaker_groups(files, data_dir):
        if len(group) > 1 and not val_set.intersection(group):
            val_set.add(group[-1])
    if not val_set and len(files) > 1:
        val_set = {files[-1]}  # tiny corpora: keep at least one validation file
    val = [p for p in files if p in val_set]
    train = [p for p in files if p not in val_set]
    return train, val


class SegmentDataset(Dataset):
    """Fixed-length random segments of in-memory clips; item ``i`` of epoch ``e`` is deterministic.

    Each item picks a clip with probability proportional to its length (so every second of audio is
    equally likely, whatever the file lengths) and an offset within it, from a generator seeded by
    (``seed``, the random seed; epoch; i).
    """

    def __init__(self, clips: list[np.ndarray], segment_samples: int, items_per_epoch: int, seed: int):
        self.clips = clips
        self.segment = segment_samples
        self.items = items_per_epoch
        self.seed = seed
        self.epoch = 0
        lengths = np.array([len(c) for c in clips], dtype=np.float64)
        self.weights = lengths / lengths.sum()

    def __len__(self) -> int:
        return self.items

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        clip = self.clips[rng.choice(len(self.clips), p=self.weights)]
        start = int(rng.integers(0, len(clip) - self.segment + 1))
        return torch.from_numpy(clip[start : start + self.segment].copy())[None]


class EpochSampler(Sampler[int]):
    """Indices 0..n-1 in order, sharded across ranks, starting after ``skip`` of this rank's items.

    Order is irrelevant (the dataset randomises per item), so sharding is a strided slice and
    resuming mid-epoch is a skip. Every rank gets the same number of items, ``n // world_size``
    (the last ``n % world_size`` are left out, as ``DistributedSampler(drop_last=True)`` does):
    ranks that took different numbers of steps would pair their collectives across steps.
    """

    def __init__(self, n: int, rank: int = 0, world_size: int = 1):
        self.n, self.rank, self.world = n, rank, world_size
        self.skip = 0

    def __iter__(self):
        return iter(range(self.rank + self.skip * self.world, self.n // self.world * self.world, self.world))

    def __len__(self) -> int:
        return max(0, self.n // self.world - self.skip)


def validation_clips(clips: list[np.ndarray], sample_rate: int, seconds: float, max_files: int) -> list[np.ndarray]:
    """The first ``seconds`` of up to ``max_files`` clips spread evenly over the (sorted) list,
    so every source in the validation folder is represented: a fixed validation set."""
    n = int(seconds * sample_rate)
    picks = np.unique(np.linspace(0, len(clips) - 1, min(max_files, len(clips))).round().astype(int)) if clips else []
    return [clips[i][:n] for i in picks]
