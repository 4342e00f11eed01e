"""Which file ``--model PATH`` names (a shipped model's name, a checkpoint, a training folder, a
.safetensors), found without importing torch, so that a mistyped path is refused at once."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import TeluCodecError

LAST, BEST = "last.pt", "best.pt"
FINISHED = "model.safetensors"      # what a fine-tuning run writes when it ends (finetune.py)
DEFAULT_MODEL = Path(__file__).parent / "assets" / "default.safetensors"
SHIPPED_NAMES = ("default", "realtime")   # models shipped in the package: load("realtime"), --model realtime


def shipped_model(name: str) -> Path:
    """The file of the shipped model ``name`` (one of SHIPPED_NAMES), next to the default model."""
    return DEFAULT_MODEL if name == "default" else DEFAULT_MODEL.with_name(f"{name}.safetensors")


def model_file(path: str | os.PathLike | None) -> Path:
    """The file to load for ``path``: the shipped default for None; a shipped model for its name
    ("default", "realtime"; a file or folder of that name here comes first); in a training folder
    its finished model file, else best.pt, else last.pt; else the path itself. Raises
    TeluCodecError naming the file when it does not exist."""
    name = "default" if path is None else str(path)
    if name in SHIPPED_NAMES and not Path(name).exists():
        if not shipped_model(name).is_file():
            raise TeluCodecError(f"no {name} model is shipped in this install; pass --model CHECKPOINT_OR_FOLDER")
        return shipped_model(name)
    path = Path(path)
    if path.is_dir():
        path = next((path / n for n in (FINISHED, BEST) if (path / n).is_file()), path / LAST)
    if not path.exists():
        raise TeluCodecError(f"{path}: no such model file")
    return path
