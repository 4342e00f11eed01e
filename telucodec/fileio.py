"""File utilities shared by every writer and reader: atomic writes and a clear error for a
missing input. No audio, no torch: bitstream, checkpoint and audio all build on this."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from .errors import TeluCodecError


def require_file(path: str | os.PathLike, kind: str) -> Path:
    """``path`` as a Path; TeluCodecError naming it when it is missing or a folder (``kind`` says
    what was expected, e.g. "an audio file")."""
    path = Path(path)
    if not path.exists():
        raise TeluCodecError(f"{path}: no such file")
    if path.is_dir():
        raise TeluCodecError(f"{path}: is a folder, not {kind}")
    return path


def atomic_write(path: str | os.PathLike, write_fn: Callable[[str], object]) -> None:
    """Call ``write_fn(tmp_path)`` then rename the temp file onto ``path``.

    The temp file lives in the destination folder so the rename is atomic; on any failure
    it is removed and ``path`` is left as it was. Missing parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        write_fn(tmp)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes 0600; outputs get the user's usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
