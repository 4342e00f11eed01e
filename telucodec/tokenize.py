"""``telucodec tokenize``: codes for every audio file of a folder tree, for speech-LM / TTS work.

Writes ``OUT/<relative path>.npy`` (int16, shape (n_q, frames)) per file and ``OUT/manifest.jsonl``
(path, codes, frames, n_q, seconds). Files that share a stem in one folder keep their extension
(``a.wav.npy``, ``a.flac.npy``). Re-running skips files whose codes the manifest lists. An existing
``.npy`` that the manifest does not record as this command's own is never overwritten without
``--force``: that input is reported and skipped. A bad input is reported, skipped and counted; an
output that cannot be written (a full disk) stops the run.
"""
from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from .audio import read_audio_blocks, scan_audio_files
from .errors import OutputError, TeluCodecError
from .fileio import atomic_write, check_output_folder, distinct_outputs, write_error
from .workers import exit_with_parent

_codec = None   # one model per worker process


def _init_worker(model: Path | None, threads: int | None = None) -> None:
    import torch

    from .codec import load

    global _codec
    if threads:
        torch.set_num_threads(threads)   # J workers x 1 thread each, not J x all cores
    _codec = load(model)


def _init_pool_worker(parent_pid: int, model: Path | None) -> None:
    exit_with_parent(parent_pid)   # a kill -9 of the command must not leave its workers running
    _init_worker(model, threads=1)


def _tokenize_one(src: Path, dst: Path, n_q: int) -> dict:
    codes, samples = _codec.encode_stream(read_audio_blocks(src, _codec.sample_rate), n_q)
    codes = codes.astype(np.int16)
    atomic_write(dst, lambda tmp: _save_npy(tmp, codes))
    return {"frames": int(codes.shape[1]), "n_q": int(codes.shape[0]), "seconds": samples / _codec.sample_rate}


def _save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as f:     # a file object: np.save would append ".npy" to a path
        np.save(f, array)


def _safe_tokenize(src: Path, dst: Path, n_q: int) -> dict | str:
    """``_tokenize_one``, or the one-line reason it failed (naming the file); OutputError propagates."""
    try:
        return _tokenize_one(src, dst, n_q)
    except OutputError:        # a full disk or a read-only folder stops the run (one line, exit 2)
        raise
    except Exception as exc:   # one bad file must not stop the folder: report it, skip it, go on
        message = str(exc).splitlines()[0] if str(exc) else ""
        if not isinstance(exc, TeluCodecError):
            message = f"unexpected {type(exc).__name__}: {message}"
        return message if str(src) in message or str(dst) in message else f"{src}: {message}"


def _read_manifest(path: Path, out: Path, n_q: int) -> tuple[dict[str, dict], set[str]]:
    """(entries whose codes exist at this n_q, by input path; every codes file the manifest
    records as written or claimed by this command)."""
    done, ours = {}, set()
    lines = path.read_text().splitlines() if path.is_file() else []
    for line in lines:
        try:
            entry = json.loads(line)
            ours.add(entry["codes"])
        except (json.JSONDecodeError, KeyError, TypeError):   # the last line of a run killed mid-write
            continue
        if not entry.get("claimed") and entry.get("n_q") == n_q and (out / entry["codes"]).is_file():
            done[entry["path"]] = entry
    return done, ours


def _append(manifest_path: Path, entries: list[dict]) -> None:
    """Append manifest lines (a kill loses at most the line being written)."""
    try:
        with open(manifest_path, "a") as f:
            f.write("".join(json.dumps(e) + "\n" for e in entries))
    except OSError as exc:
        raise write_error(manifest_path, exc) from None


def _plan(root: Path, out: Path, done: dict, ours: set[str], force: bool) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(src, dst) pairs still to tokenize, and the errors for inputs whose output is not ours."""
    scan = scan_audio_files(root)
    print(f"telucodec: {scan.summary(root, 'audio files')}", file=sys.stderr)
    files = scan.files
    names = distinct_outputs([f.relative_to(root) for f in files], ".npy")
    targets, refused = [], []
    for src, name in zip(files, names):
        if str(src.relative_to(root)) in done:
            continue
        dst = out / name
        if dst.exists() and str(name) not in ours and not force:
            refused.append(f"{dst}: exists and was not written by tokenize; pass --force to overwrite it")
        else:
            targets.append((src, dst))
    return targets, refused


def _run(targets: list[tuple[Path, Path]], n_q: int, model: Path | None, jobs: int, record) -> None:
    """Tokenize every target (in ``jobs`` processes), passing each result to ``record``."""
    if jobs == 1:
        for src, dst in tqdm(targets, unit="file"):
            record(src, dst, _safe_tokenize(src, dst, n_q))
        return
    with ProcessPoolExecutor(jobs, initializer=_init_pool_worker, initargs=(os.getpid(), model)) as pool:
        try:
            futures = [(src, dst, pool.submit(_safe_tokenize, src, dst, n_q)) for src, dst in targets]
            for src, dst, future in tqdm(futures, unit="file"):
                record(src, dst, future.result())
        except BaseException:   # Ctrl-C / SIGTERM: stop at the files in progress, not after all of them
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def tokenize_folder(root: Path, out: Path, model: Path | None, n_q: int | None, kbps: float | None, jobs: int,
                    force: bool = False) -> int:
    """Tokenize every audio file under ``root`` into ``out``; returns the exit code (2 if any file was skipped)."""
    if not root.is_dir():
        raise TeluCodecError(f"{root}: no such folder")
    check_output_folder(out)
    _init_worker(model)
    n_q = _codec.resolve_n_q(n_q, kbps)
    if _codec.kbps_note(kbps):
        print(f"telucodec: {_codec.kbps_note(kbps)}", file=sys.stderr)
    if _codec.config.quantizer.codebook_size > 2**15:
        raise TeluCodecError("codebooks larger than 32768 entries do not fit int16 codes")
    manifest_path = out / "manifest.jsonl"
    done, ours = _read_manifest(manifest_path, out, n_q)
    targets, refused = _plan(root, out, done, ours, force)
    print(f"{len(done)} file(s) already done, {len(targets)} to tokenize with n_q={n_q}", file=sys.stderr)
    for message in refused:
        print(f"telucodec: error: {message}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    _append(manifest_path, [{"path": str(s.relative_to(root)), "codes": str(d.relative_to(out)), "claimed": True}
                            for s, d in targets])   # so that a resumed run knows these outputs are its own
    failed = len(refused)

    def record(src: Path, dst: Path, result: dict | str) -> None:
        nonlocal failed
        if isinstance(result, str):
            tqdm.write(f"telucodec: error: {result}", file=sys.stderr)
            failed += 1
            return
        rel = str(src.relative_to(root))
        done[rel] = {"path": rel, "codes": str(dst.relative_to(out)), **result}
        _append(manifest_path, [done[rel]])   # rewritten sorted, without the claims, at the end

    with logging_redirect_tqdm():
        _run(targets, n_q, model, jobs, record)
    lines = "".join(json.dumps(done[k]) + "\n" for k in sorted(done))
    atomic_write(manifest_path, lambda tmp: Path(tmp).write_text(lines))
    if failed:
        print(f"telucodec: {failed} of {len(targets) + len(refused)} files skipped (errors above)", file=sys.stderr)
    return 2 if failed else 0
