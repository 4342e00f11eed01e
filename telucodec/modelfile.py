"""Which file ``--model PATH`` names (a checkpoint, a training folder, a .safetensors), found
without importing torch, so that a mistyped path is refused at once."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import TeluCodecError

LAST, BEST = "last.pt", "best.pt"


def model_file(path: str | os.PathLike) -> Path:
    """The file to load for ``path``: the path itself, or in a training folder best.pt (else
    last.pt). Raises TeluCodecError naming the file when it does not exist."""
    path = Path(path)
    if path.is_dir():
        path = path / BEST if (path / BEST).is_file() else path / LAST
    if not path.exists():
        raise TeluCodecError(f"{path}: no such model file")
    return path
