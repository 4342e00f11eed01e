"""``telucodec tokenize``: codes for every audio file of a folder tree, for speech-LM / TTS work.

Writes ``OUT/<relative path>.npy`` (int16, shape (n_q, frames)) per file and ``OUT/manifest.jsonl``
(path, codes, frames, n_q, seconds). Re-running skips files whose codes already exist.
"""
from __future__ import annotations

import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .audio import atomic_write, find_audio_files, read_audio_blocks
from .errors import TeluCodecError

_codec = None   # one model per worker process


def _init_worker(model: Path | None, threads: int | None = None) -> None:
    import torch

    from .codec import load

    global _codec
    if threads:
        torch.set_num_threads(threads)   # J workers x 1 thread each, not J x all cores
    _codec = load(model)


def _tokenize_one(src: Path, dst: Path, n_q: int) -> dict:
    codes, samples = _codec.encode_stream(read_audio_blocks(src, _codec.sample_rate), n_q)
    codes = codes.astype(np.int16)
    atomic_write(dst, lambda tmp: _save_npy(tmp, codes))
    return {"frames": int(codes.shape[1]), "n_q": int(codes.shape[0]), "seconds": samples / _codec.sample_rate}


def _save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as f:     # a file object: np.save would append ".npy" to a path
        np.save(f, array)


def _safe_tokenize(src: Path, dst: Path, n_q: int) -> dict | str:
    try:
        return _tokenize_one(src, dst, n_q)
    except TeluCodecError as exc:
        return str(exc)


def tokenize_folder(root: Path, out: Path, model: Path | None, n_q: int | None, kbps: float | None, jobs: int) -> int:
    """Tokenize every audio file under ``root`` into ``out``; returns the exit code (2 if any file failed)."""
    if not root.is_dir():
        raise TeluCodecError(f"{root}: no such folder")
    if jobs < 1:
        raise TeluCodecError("--jobs must be at least 1")
    _init_worker(model)
    n_q = _codec.resolve_n_q(n_q, kbps)
    if _codec.config.quantizer.codebook_size > 2**15:
        raise TeluCodecError("codebooks larger than 32768 entries do not fit int16 codes")
    manifest_path = out / "manifest.jsonl"
    done = {}
    if manifest_path.is_file():
        for line in manifest_path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:   # the last line of a run killed mid-write
                continue
            if (out / entry["codes"]).is_file() and entry["n_q"] == n_q:
                done[entry["path"]] = entry
    files = [f for f in find_audio_files(root) if str(f.relative_to(root)) not in done]
    targets = [(f, out / f.relative_to(root).with_suffix(".npy")) for f in files]
    print(f"{len(done)} file(s) already done, {len(targets)} to tokenize with n_q={n_q}", file=sys.stderr)

    failed = 0

    def record(src: Path, dst: Path, result: dict | str) -> None:
        nonlocal failed
        if isinstance(result, str):
            print(f"telucodec: error: {result}", file=sys.stderr)
            failed += 1
            return
        rel = str(src.relative_to(root))
        done[rel] = {"path": rel, "codes": str(dst.relative_to(out)), **result}
        # appended per file (a kill loses at most that line); rewritten sorted at the end
        with open(manifest_path, "a") as f:
            f.write(json.dumps(done[rel]) + "\n")

    out.mkdir(parents=True, exist_ok=True)
    if jobs == 1:
        for src, dst in tqdm(targets, unit="file"):
            record(src, dst, _safe_tokenize(src, dst, n_q))
    else:
        with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(model, 1)) as pool:
            futures = [(src, dst, pool.submit(_safe_tokenize, src, dst, n_q)) for src, dst in targets]
            for src, dst, future in tqdm(futures, unit="file"):
                record(src, dst, future.result())
    lines = "".join(json.dumps(done[k]) + "\n" for k in sorted(done))
    atomic_write(manifest_path, lambda tmp: Path(tmp).write_text(lines))
    return 2 if failed else 0
