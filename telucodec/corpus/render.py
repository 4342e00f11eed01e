"""Making the planned files: synthesize or convert, finish the clip, write it (atomically)."""
from __future__ import annotations

import logging
import math
import os
import random
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..audio import write_audio
from ..errors import TeluCodecError
from .clip import SAMPLE_RATE, finish_clip, read_recording, set_peak
from .g2p import HI_MAP, HI_VOWELS, TL1_VOWELS
from .plan import Item
from .prosody import sentence_to_pho
from .voices import (database_diphones, mbrola_database, run_espeak, run_festival, run_mbrola,
                     run_sox_pitch_tempo, voice_available)

log = logging.getLogger("telucodec")

FESTIVAL_BATCH = 40  # utterances per festival process: its start-up costs about a second
DEMO_SENTENCE = "తెలుగు భాష చాలా తీయనైన భాష. మన దేశంలో ఎన్నో భాషలు ఉన్నాయి."
DEMO_PARAMS = {"f0": 120.0, "range": 25.0, "stretch": 1.25}
_SOX_INPUT_PEAK_DBFS = 20 * math.log10(0.9)  # headroom for the pitch shifter's overshoot
_FAILURES = (subprocess.SubprocessError, OSError, TeluCodecError)


def _save(item: Item, out_dir: Path, x: np.ndarray | None) -> dict | None:
    """Write ``x`` (16 kHz) as ``item``'s file and return its manifest line; None for None."""
    if x is None:
        return None
    write_audio(out_dir / item.rel, x, SAMPLE_RATE)
    return item.entry(len(x) / SAMPLE_RATE)


def _speak(item: Item, wav: str, tmpdir: str) -> None:
    """Synthesize ``item`` with mbrola or espeak-ng into ``wav``."""
    p = item.params
    if item.voice.startswith("mbrola_"):
        db = mbrola_database(item.voice)
        hindi = item.voice != "mbrola_tl1"
        rng = random.Random(f"pho:{item.name}:{p.get('seed')}")
        pho = sentence_to_pho(item.text, rng, p["f0"], p["range"], p["rate"],
                              phone_map=HI_MAP if hindi else None,
                              vowelset=HI_VOWELS if hindi else TL1_VOWELS,
                              diphones=database_diphones(db))
        run_mbrola(db, pho, wav, tmpdir)
    else:
        run_espeak(item.text, p["variant"], p["speed"], p["pitch"], wav)


def synthesize_one(items: list[Item], out_dir: Path) -> list[dict | None]:
    """Make one mbrola or espeak-ng item (a list of one, like the other makers); its manifest
    line, or None when the voice failed or spoke silence."""
    item = items[0]
    with tempfile.TemporaryDirectory(prefix="telucorpus", ignore_cleanup_errors=True) as tmpdir:
        wav = os.path.join(tmpdir, "syn.wav")
        try:
            _speak(item, wav, tmpdir)
            x = read_recording(wav)
        except _FAILURES:
            return [None]
        return [_save(item, out_dir, finish_clip(x, item.params["peak_dbfs"]))]


def synthesize_festival(items: list[Item], out_dir: Path) -> list[dict | None]:
    """Make festival items in one festival process; a manifest line or None for each."""
    with tempfile.TemporaryDirectory(prefix="telucorpus", ignore_cleanup_errors=True) as tmpdir:
        wavs = [os.path.join(tmpdir, f"f{i}.wav") for i in range(len(items))]
        run_festival([(w, it.text, it.params) for w, it in zip(wavs, items)], tmpdir)
        # a crash part-way through a batch loses the rest of it: retry those one by one
        for wav, it in zip(wavs, items):
            if not os.path.exists(wav):
                run_festival([(wav, it.text, it.params)], tmpdir)
        entries = []
        for wav, it in zip(wavs, items):
            try:
                x = read_recording(wav)
            except _FAILURES:
                entries.append(None)
                continue
            entries.append(_save(it, out_dir, finish_clip(x, it.params["peak_dbfs"])))
        return entries


def _version(x: np.ndarray, params: dict, tmpdir: str) -> np.ndarray | None:
    """One version of the recording ``x`` (16 kHz, DC removed): as recorded, or pitch/tempo
    varied by sox (its input is written once per recording)."""
    if params["pitch_cents"] == 0.0 and params["tempo"] == 1.0:
        return finish_clip(x, params["peak_dbfs"])
    base, varied = os.path.join(tmpdir, "base.wav"), os.path.join(tmpdir, "var.wav")
    try:
        if not os.path.exists(base):
            write_audio(base, set_peak(x, _SOX_INPUT_PEAK_DBFS), SAMPLE_RATE)
        run_sox_pitch_tempo(base, varied, params["pitch_cents"], params["tempo"])
        return finish_clip(read_recording(varied), params["peak_dbfs"])
    except _FAILURES:
        return None


def convert_recording(items: list[Item], out_dir: Path) -> list[dict | None]:
    """Make all versions of one real recording; a manifest line or None for each. A recording
    that cannot be read is reported (a warning) and gives None for every version."""
    first = items[0]
    try:
        x = read_recording(first.origin, first.raw_rate)
    except TeluCodecError as exc:
        log.warning("%s; skipped", exc)
        return [None] * len(items)
    x = x - x.mean() if len(x) else x
    with tempfile.TemporaryDirectory(prefix="telucorpus", ignore_cleanup_errors=True) as tmpdir:
        return [_save(it, out_dir, _version(x, it.params, tmpdir)) for it in items]


def make_demo_clip(path: str | os.PathLike) -> float:
    """Write a fixed ~5 s Telugu sentence spoken by the festival NSK voice (Debian main, GPL-2+)
    to ``path`` (16 kHz mono PCM16 WAV, deterministic, atomic). Returns its length in seconds.
    Raises TeluCodecError when festival is missing or fails, or ``path`` cannot be written."""
    if not voice_available("festival_nsk"):
        raise TeluCodecError("the demo clip needs festival + festival-te + festvox-te-nsk "
                             "(apt-get install festival festival-te festvox-te-nsk)")
    with tempfile.TemporaryDirectory(prefix="telucorpus", ignore_cleanup_errors=True) as tmpdir:
        wav = os.path.join(tmpdir, "demo.wav")
        run_festival([(wav, DEMO_SENTENCE, DEMO_PARAMS)], tmpdir)
        try:
            x = read_recording(wav)
        except TeluCodecError:
            raise TeluCodecError("festival failed to synthesize the demo sentence") from None
    y = finish_clip(x, -3.0)
    if y is None:
        raise TeluCodecError("festival produced silence for the demo sentence")
    try:
        write_audio(path, y, SAMPLE_RATE)
    except OSError as exc:
        raise TeluCodecError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return len(y) / SAMPLE_RATE
