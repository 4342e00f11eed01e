"""build_corpus: check the output folder, plan every file, make them in parallel, write the
manifest and return a summary."""
from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from ..errors import TeluCodecError
from ..fileio import atomic_write, check_output_folder
from .plan import (DEFAULT_HELDOUT_LANGUAGES, DEFAULT_HELDOUT_VOICES, HeldOut, Item, Texts,
                   debian_recordings, installed_voices, parse_voices, plan_debian_real,
                   plan_real_dir, plan_synthetic, warn)
from .render import FESTIVAL_BATCH, convert_recording, synthesize_festival, synthesize_one

log = logging.getLogger("telucodec")

Maker = Callable[[list[Item], Path], list]
PROGRESS_EVERY_S = 15


def _prepare_out(out_dir: Path, rel_paths: Iterable[str]) -> None:
    """Remove the previous build's train/, heldout/ and manifest, make the output folders."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "manifest.jsonl").unlink(missing_ok=True)
        for sub in ("train", "heldout"):
            if (out_dir / sub).exists():
                shutil.rmtree(out_dir / sub)
        probe = out_dir / ".telucodec_write_test"
        probe.write_bytes(b"")
        probe.unlink()
        for folder in {str(Path(rel).parent) for rel in rel_paths}:
            (out_dir / folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TeluCodecError(f"{out_dir}: cannot write there ({exc.strerror or exc})") from None


def _tasks(synthetic: list[Item], recordings: list[list[Item]]) -> list[tuple[Maker, list[Item]]]:
    festival = [it for it in synthetic if it.voice == "festival_nsk"]
    tasks: list[tuple[Maker, list[Item]]] = [
        (synthesize_festival, festival[s:s + FESTIVAL_BATCH])
        for s in range(0, len(festival), FESTIVAL_BATCH)]
    tasks += [(synthesize_one, [it]) for it in synthetic if it.voice != "festival_nsk"]
    return tasks + [(convert_recording, group) for group in recordings]


def _make_all(out_dir: Path, tasks: list[tuple[Maker, list[Item]]], jobs: int,
              verbose: bool) -> tuple[list[dict], list[str]]:
    """(manifest lines of the files made, paths of the files that could not be made)."""
    entries: list[dict] = []
    failed: list[str] = []
    total = sum(len(items) for _, items in tasks)
    done, t0, last_report = 0, time.time(), time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(make, items, out_dir): items for make, items in tasks}
        for future in concurrent.futures.as_completed(futures):
            items = futures[future]
            for item, entry in zip(items, future.result()):
                if entry is None:
                    failed.append(item.rel)
                else:
                    entries.append(entry)
            done += len(items)
            if verbose and (time.time() - last_report > PROGRESS_EVERY_S or done == total):
                last_report = time.time()
                log.info("corpus: %d/%d files (%.0f s)", done, total, time.time() - t0)
    return sorted(entries, key=lambda e: e["path"]), sorted(failed)


def _write_manifest(out_dir: Path, entries: list[dict]) -> None:
    lines = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in entries)
    atomic_write(out_dir / "manifest.jsonl", lambda tmp: Path(tmp).write_text(lines, encoding="utf-8"))


def _splits(entries: list[dict]) -> dict:
    """{split: {source: {files, seconds}}}."""
    splits: dict = {}
    for e in entries:
        s = splits.setdefault(e["split"], {}).setdefault(e["source"], {"files": 0, "seconds": 0.0})
        s["files"] += 1
        s["seconds"] += e["seconds"]
    for by_source in splits.values():
        for s in by_source.values():
            s["seconds"] = round(s["seconds"], 2)
    return splits


def _check_counts(**counts: int) -> None:
    """Each count must be 0 or more (``jobs`` 1 or more)."""
    for name, value in counts.items():
        least = 1 if name == "jobs" else 0
        if value < least:
            raise TeluCodecError(f"--{name.replace('_', '-')} must be {least} or more, "
                                 f"got {value}")


def _synthetic(num_utterances: int, seed: int, voices: list[tuple[str, float]], heldout: HeldOut,
               text_file: str | os.PathLike | None, p_phrase: float | None,
               verbose: bool) -> list[Item]:
    if num_utterances == 0:
        return []
    if not voices:
        raise TeluCodecError("no Telugu voice is installed (need festival + festvox-te-nsk, "
                             "espeak-ng, or mbrola + mbrola-tl1; run with --install-deps as root)")
    texts = Texts.load(text_file, p_phrase)
    if verbose:
        log.info("text: %d phrases, %d words, p_phrase=%.3f; voices: %s", len(texts.phrases),
                 len(texts.words), texts.p_phrase, ", ".join(v for v, _ in voices))
    return plan_synthetic(num_utterances, seed, voices, heldout, texts)


def _real_dir(real_dir: str | os.PathLike, heldout_speakers: int, variants: int, seed: int,
              verbose: bool) -> list[list[Item]]:
    groups = plan_real_dir(real_dir, heldout_speakers, variants, seed)
    if verbose:
        held = sorted({g[0].voice for g in groups if g[0].split == "heldout"})
        log.info("%s: %d recordings; held-out speakers: %s", real_dir, len(groups),
                 " ".join(held) or "none")
    return groups


def build_corpus(out_dir: str | os.PathLike, num_utterances: int, seed: int = 0,
                 voices: str | Iterable[str] | None = None,
                 text_file: str | os.PathLike | None = None, include_real: bool = True,
                 heldout_voices: Collection[str] = DEFAULT_HELDOUT_VOICES,
                 heldout_languages: Collection[str] = DEFAULT_HELDOUT_LANGUAGES,
                 max_real_files: int | None = None, real_variants: int = 2,
                 klettres_languages: Collection[str] | None = None,
                 p_phrase: float | None = None, jobs: int = 1, verbose: bool = True,
                 real_dir: str | os.PathLike | None = None, real_heldout_speakers: int = 10,
                 real_dir_variants: int = 0) -> dict:
    """Build the corpus in ``out_dir`` (its ``train/``, ``heldout/`` and ``manifest.jsonl`` are
    replaced) and return a summary ``{out_dir, files, seconds, splits: {split: {source: {files,
    seconds}}}, voices_used, voices_skipped, failed, warnings, elapsed_s}``.

    ``voices``: synthetic voices (names, optionally ``name=weight``), default all installed.
    ``include_real``: the Debian recordings (klettres-data, codec2-examples); ``max_real_files``
    takes at most that many, round-robin over speakers, held-out ones first; ``real_variants``
    pitch/tempo-varied copies are made of each besides the one as recorded. ``real_dir``: a
    folder with a files.tsv (see read_real_dir), split by speaker (heldout_real_speakers with
    ``real_heldout_speakers``), ``real_dir_variants`` copies each. Progress is logged at INFO
    when ``verbose``. Raises TeluCodecError on bad input or when nothing could be made.
    """
    t0 = time.time()
    _check_counts(num=num_utterances, real_variants=real_variants, jobs=jobs,
                  real_heldout_speakers=real_heldout_speakers, real_dir_variants=real_dir_variants)
    out_dir = Path(out_dir).expanduser()
    check_output_folder(out_dir)   # before any work: a file in the way, permissions, read-only
    heldout = HeldOut(frozenset(heldout_voices or ()), frozenset(heldout_languages or ()))
    warnings: list[str] = []
    used, skipped = installed_voices(parse_voices(voices), warnings)
    synthetic = _synthetic(num_utterances, seed, used, heldout, text_file, p_phrase, verbose)
    wants_sox = real_variants and include_real or real_dir_variants and real_dir is not None
    if wants_sox and not shutil.which("sox"):
        warn("sox is not installed: real recordings are used as recorded only, without "
             "pitch/tempo variants", warnings)
        real_variants = real_dir_variants = 0
    recordings = []
    if include_real:
        recordings += plan_debian_real(debian_recordings(klettres_languages, warnings), heldout,
                                       max_real_files, real_variants, seed)
    if real_dir is not None:
        recordings += _real_dir(real_dir, real_heldout_speakers, real_dir_variants, seed, verbose)
    rel_paths = [it.rel for it in synthetic] + [it.rel for g in recordings for it in g]
    if len(set(rel_paths)) != len(rel_paths):  # two source files mapping to one name
        raise TeluCodecError("internal error: duplicate output names in the corpus plan")
    _prepare_out(out_dir, rel_paths)
    entries, failed = _make_all(out_dir, _tasks(synthetic, recordings), jobs, verbose)
    if failed:
        warn(f"{len(failed)} of {len(rel_paths)} files could not be made and were left out "
             f"(e.g. {failed[0]})", warnings)
    if not entries:
        raise TeluCodecError("nothing was written: no utterance could be synthesized and no real "
                             "recording was found")
    _write_manifest(out_dir, entries)
    return {"out_dir": str(out_dir), "files": len(entries),
            "seconds": round(sum(e["seconds"] for e in entries), 2), "splits": _splits(entries),
            "voices_used": [v for v, _ in used], "voices_skipped": skipped,
            "failed": len(failed), "warnings": warnings, "elapsed_s": round(time.time() - t0, 1)}
