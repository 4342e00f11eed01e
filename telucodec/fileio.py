"""File utilities shared by every writer and reader: atomic writes, early checks that an output
can be written, distinct output names for distinct inputs, folder scans, and a clear error for a
missing input. No audio, no torch: bitstream, checkpoint and audio all build on this."""
from __future__ import annotations

import errno
import hashlib
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import OutputError, TeluCodecError


def require_file(path: str | os.PathLike, kind: str) -> Path:
    """``path`` as a Path; TeluCodecError naming it when it is missing or a folder (``kind`` says
    what was expected, e.g. "an audio file")."""
    path = Path(path)
    if not path.exists():
        raise TeluCodecError(f"{path}: no such file")
    if path.is_dir():
        raise TeluCodecError(f"{path}: is a folder, not {kind}")
    return path


# Errors of the destination as a whole (every later file of a batch would fail alike), as opposed to
# errors of one output's name (too long, not allowed by the file system), after which a batch goes on.
_DESTINATION_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
                       getattr(errno, "EDQUOT", errno.ENOSPC)}


def write_error(path: str | os.PathLike, exc: BaseException | str) -> TeluCodecError:
    """The one-line error for an output that could not be written: ``PATH: cannot write (reason)``;
    the reason is an OSError's strerror (``No space left on device``), else the first line of the
    message, after the exception's type when it is not an OSError (``SafetensorError: ...``).

    An OutputError (a batch stops at it) unless ``exc`` is an OSError of that one name (too long,
    an invalid name): then a plain TeluCodecError, so that a batch skips that file and goes on."""
    reason = getattr(exc, "strerror", None) or (str(exc).splitlines() or [""])[0]
    if isinstance(exc, BaseException) and not isinstance(exc, OSError):
        reason = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    own_name = isinstance(exc, OSError) and exc.errno is not None and exc.errno not in _DESTINATION_ERRNOS
    return (TeluCodecError if own_name else OutputError)(f"{path}: cannot write ({reason or type(exc).__name__})")


def check_output_folder(folder: str | os.PathLike, target: str | os.PathLike | None = None) -> None:
    """Raise OutputError (naming ``target``, default ``folder``) unless files can be created in
    ``folder`` or in the folders ``atomic_write`` would make for it.

    Checked before expensive work: the nearest existing ancestor must be a folder that accepts a
    new file (a probe file is created and removed, so a read-only mount or a path under /sys fails
    here even for root). Nothing is created when the check fails.
    """
    folder, target = Path(folder), Path(target if target is not None else folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{target}: cannot write ({existing} is not a folder)")
    try:
        fd, probe = tempfile.mkstemp(prefix=".telucodec-probe.", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise write_error(target, exc) from None


def check_output_file(path: str | os.PathLike) -> None:
    """``check_output_folder`` for the folder of ``path``; also refuses a ``path`` that is a folder."""
    path = Path(path)
    if path.is_dir():
        raise TeluCodecError(f"{path}: is a folder, not a file")
    check_output_folder(path.parent, path)


def atomic_write(path: str | os.PathLike, write_fn: Callable[[str], object]) -> None:
    """Call ``write_fn(tmp_path)`` then rename the temp file onto ``path``.

    The temp file (``_temp_prefix``) lives in the destination folder so the rename is atomic; on
    any failure, including KeyboardInterrupt (SIGINT) and the exception ``command`` raises on
    SIGTERM, it is removed and ``path`` is left as it was. Missing parent folders are created. Any
    failure (an OSError: not a folder, permission, read-only, disk full; or whatever a library's
    writer raises for them, e.g. torch's RuntimeError or safetensors' SafetensorError) becomes
    ``write_error``: OutputError for the destination, TeluCodecError for the name (longer than the
    file system allows); a TeluCodecError from ``write_fn`` passes as it is.
    """
    path = Path(path)
    tmp = None
    umask = os.umask(0)
    os.umask(umask)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
        os.close(fd)
        write_fn(tmp)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes 0600; outputs get the user's usual permissions
        os.replace(tmp, path)
    except TeluCodecError:
        raise
    except Exception as exc:   # a library's writer on a full disk: one line naming the file, not a traceback
        raise write_error(path, exc) from None
    finally:
        if tmp is not None:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _temp_prefix(path: Path) -> str:
    """``.NAME.`` (mkstemp adds 8 characters and ``.tmp``), or ``.telucodec-HASH.`` when that temp
    name would be longer than the folder's NAME_MAX (a legal 250-byte name must still be written)
    or NAME is not UTF-8 (libsndfile, safetensors and TorchScript write the temp file by its name)."""
    name = os.fsencode(path.name)
    try:
        name_max = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):   # no pathconf (Windows) or no answer: the common limit
        name_max = 255
    try:
        name.decode("utf-8")
        if len(name) + 14 <= name_max:
            return f".{path.name}."
    except UnicodeDecodeError:
        pass
    return f".telucodec-{hashlib.sha1(name).hexdigest()[:16]}."


@dataclass
class FolderScan:
    """The files ``scan_folder`` found, and what it left out."""

    files: list[Path]
    hidden: int = 0    # matching files whose names start with "." (macOS "._x.wav" among them)

    def summary(self, root: Path, what: str) -> str:
        """``ROOT: N WHAT found (K hidden files skipped)``, for the line a folder run prints."""
        hidden = f" ({self.hidden} hidden files skipped)" if self.hidden else ""
        return f"{root}: {len(self.files)} {what} found{hidden}"


def scan_folder(root: str | os.PathLike, extensions: Sequence[str]) -> FolderScan:
    """Files under ``root`` whose extension is one of ``extensions`` (lower case; matched in any
    case), sorted by path. Symlinked folders are followed, each real folder once (a link cycle
    ends there). Hidden files (names starting with ".", such as macOS AppleDouble "._x.wav" files,
    which are not audio) are skipped and counted, hidden folders skipped. Unreadable folders are
    skipped."""
    root = Path(root)
    found, hidden = [], 0
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        info = os.stat(folder)
        if (info.st_dev, info.st_ino) in seen:   # a link back up, or a second link to one folder
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        matching = [name for name in files if os.path.splitext(name)[1].lower() in extensions
                    and os.path.isfile(os.path.join(folder, name))]   # a link to a file counts, a broken one not
        hidden += sum(name.startswith(".") for name in matching)
        found += [Path(folder, name) for name in matching if not name.startswith(".")]
    return FolderScan(sorted(found), hidden)


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append ``line`` and a newline (UTF-8) to the file ``path`` (created if missing). When that
    fails (a full disk), the file is cut back to what it held and OutputError names it."""
    data = (line + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        size = os.fstat(fd).st_size
        while data:
            data = data[os.write(fd, data):]
    except OSError as exc:
        os.ftruncate(fd, size)
        raise write_error(path, exc) from None
    finally:
        os.close(fd)


def write_files(files: dict[Path, bytes | memoryview]) -> None:
    """Write each ``path: data`` with ``atomic_write``: all of them or, when one fails (OutputError,
    e.g. a full disk), none (those this call already wrote are removed: a set of files that belong
    together, like an export's graphs, is never left half new)."""
    written: list[Path] = []
    try:
        for path, data in files.items():
            atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def serialized(save: Callable[[io.BytesIO], object]) -> memoryview:
    """The bytes ``save(buffer)`` writes to an in-memory buffer (e.g. ``torch.save(obj, buffer)``):
    serialised in memory and written by ``write_files`` / ``atomic_write``, a library's file output
    fails as a plain OSError on a full disk (TorchScript's own writer aborts the process there)."""
    buffer = io.BytesIO()
    save(buffer)
    return buffer.getbuffer()


def distinct_outputs(inputs: Sequence[Path], suffix: str, sources: Sequence[Path] | None = None) -> list[Path]:
    """Output names (each of ``inputs`` with ``suffix`` in place of its extension) that never coincide.

    ``inputs`` are the names the outputs are made from (relative paths); ``sources`` the files
    they stand for (default: ``inputs``), named in the error. Inputs that share a stem in one
    folder (``speech.wav`` and ``speech.flac``) keep their extension in the output name
    (``speech.wav.tlc``, ``speech.flac.tlc``). If two outputs still coincide (the same file name
    given from two different folders on the command line), TeluCodecError names both sources.
    """
    sources = inputs if sources is None else sources
    plain = [p.with_suffix(suffix) for p in inputs]
    counts: dict[Path, int] = {}
    for out in plain:
        counts[out] = counts.get(out, 0) + 1
    outputs = [out if counts[out] == 1 else p.with_name(p.name + suffix) for p, out in zip(inputs, plain)]
    first: dict[Path, Path] = {}
    for src, out in zip(sources, outputs):
        if out in first:
            raise TeluCodecError(f"{first[out]} and {src} would both be written to {out}; "
                                 "give them separately with different -o")
        first[out] = src
    return outputs
