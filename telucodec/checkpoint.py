"""Checkpoints: written atomically, holding everything needed to resume or to rebuild the model."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .fileio import serialized, write_files
from .config import TrainConfig
from .errors import TeluCodecError
from .model import TeluCodec, load_weights
from .modelfile import BEST, LAST


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """``torch.save`` in memory, then to a temp file renamed onto ``path``: a kill mid-write never
    leaves a broken checkpoint, and a full disk is an OutputError naming ``path`` with the previous
    checkpoint left as it was."""
    write_files({Path(path): serialized(lambda buffer: torch.save(state, buffer))})


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint dict (on CPU); a clear error for missing or broken files."""
    path = Path(path)
    if path.is_dir():
        path = path / LAST
    if not path.is_file():
        raise TeluCodecError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise TeluCodecError(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(state, dict) or "config" not in state or "model" not in state:
        raise TeluCodecError(f"{path}: not a telucodec checkpoint (no config or model)")
    return state


def model_from_checkpoint(path: str | os.PathLike) -> tuple[TeluCodec, TrainConfig]:
    """Rebuild the model (eval mode, CPU) from a checkpoint file or a training folder."""
    state = read_checkpoint(path)
    try:
        config = TrainConfig.from_dict(state["config"])
    except TeluCodecError as exc:
        raise TeluCodecError(f"{path}: {exc}") from None
    model = TeluCodec(config.model)
    load_weights(model, state["model"], path)
    return model.eval(), config
