"""What the corpus is made of: one Item per output file, its split and its random parameters,
all drawn from the seed before anything is synthesized or converted."""
from __future__ import annotations

import logging
import math
import os
import random
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TeluCodecError
from .clip import SAMPLE_RATE
from .real import (CODEC2_DIR, CODEC2_LICENCE, KLETTRES_DIR, KLETTRES_LICENCE, codec2_files,
                   heldout_real_speakers, klettres_files, read_real_dir)
from .text import load_phrases, load_wordlist, make_sentence
from .voices import SYNTH_VOICES, round_params, synth_params, voice_available

log = logging.getLogger("telucodec")

DEFAULT_HELDOUT_VOICES = ("mbrola_in2",)
DEFAULT_HELDOUT_LANGUAGES = ("ml",)


def warn(message: str, warnings: list[str]) -> None:
    """Log a warning and keep it for the build summary."""
    log.warning(message)
    warnings.append(message)


@dataclass(frozen=True)
class Item:
    """One output file to make: ``{split}/{source}/{name}.wav``. ``origin`` is the recording
    it comes from (None for synthetic speech), ``raw_rate`` its rate when headerless s16le."""
    name: str
    split: str
    source: str
    voice: str
    language: str
    licence: str
    text: str | None = None
    params: dict = field(default_factory=dict)
    origin: str | None = None
    raw_rate: int | None = None

    @property
    def rel(self) -> str:
        """Its path in the corpus folder."""
        return f"{self.split}/{self.source}/{self.name}.wav"

    def entry(self, seconds: float) -> dict:
        """Its manifest line, for a written file of ``seconds``."""
        e = {"path": self.rel, "split": self.split, "source": self.source, "voice": self.voice,
             "language": self.language, "seconds": round(seconds, 4), "sample_rate": SAMPLE_RATE,
             "licence": self.licence, "params": round_params(self.params), "text": self.text}
        if self.origin:
            e["origin"] = self.origin
        return e


@dataclass(frozen=True)
class HeldOut:
    """The held-out rule for synthetic voices and Debian recordings: a voice named in
    ``voices`` or speaking one of ``languages`` goes to heldout/, never to train/."""
    voices: frozenset[str] = frozenset(DEFAULT_HELDOUT_VOICES)
    languages: frozenset[str] = frozenset(DEFAULT_HELDOUT_LANGUAGES)

    def split(self, voice: str, language: str) -> str:
        """``"heldout"`` or ``"train"``."""
        return "heldout" if voice in self.voices or language in self.languages else "train"


def parse_voices(voices: str | Iterable[str] | None) -> list[tuple[str, float]]:
    """``[(voice, weight)]`` from names with optional weights (``festival_nsk=2``; several may
    share one string, separated by spaces or commas); every voice at its default weight when
    None. Raises TeluCodecError for an unknown voice or a weight that is not a positive number.
    """
    if voices is None:
        return [(v, spec.weight) for v, spec in SYNTH_VOICES.items()]
    out = []
    for token in [voices] if isinstance(voices, str) else voices:
        for v in str(token).replace(",", " ").split():
            name, _, w = v.partition("=")
            if name not in SYNTH_VOICES:
                raise TeluCodecError(f"unknown voice {name!r} (choose from "
                                     f"{', '.join(SYNTH_VOICES)}; a weight may follow, "
                                     "e.g. festival_nsk=2)")
            try:
                weight = float(w) if w else SYNTH_VOICES[name].weight
            except ValueError:
                raise TeluCodecError(f"bad weight in {v!r}: expected a number after '='") from None
            if not weight > 0 or not math.isfinite(weight):
                raise TeluCodecError(f"bad weight in {v!r}: must be positive")
            out.append((name, weight))
    return out


def installed_voices(wanted: list[tuple[str, float]],
                     warnings: list[str]) -> tuple[list[tuple[str, float]], list[str]]:
    """(the installed ones of ``wanted``, the names of those skipped), warning about each skip."""
    used = [(v, w) for v, w in wanted if voice_available(v)]
    skipped = [v for v, _ in wanted if not voice_available(v)]
    for v in skipped:
        warn(f"voice {v} is not installed, skipped (needs {' '.join(SYNTH_VOICES[v].requires)}; "
             "see --install-deps)", warnings)
    return used, skipped


@dataclass(frozen=True)
class Texts:
    """What the synthetic voices read: cleaned ``phrases``, dictionary ``words``, and
    ``p_phrase``, the probability of reading joined phrases rather than random words."""
    phrases: list[str]
    words: tuple[str, ...]
    p_phrase: float

    @classmethod
    def load(cls, text_file: str | os.PathLike | None, p_phrase: float | None = None) -> Texts:
        """Phrases of ``text_file`` (else festival-te's sample text) and the aspell-te words;
        ``p_phrase`` defaults to 0.85 with a text file, else grows with the number of phrases.
        Raises TeluCodecError when there is no Telugu text at all."""
        words = load_wordlist()
        phrases = load_phrases(text_file)
        if not words and not phrases:
            raise TeluCodecError("no Telugu text found (install aspell-te / festival-te or "
                                 "pass --text FILE)")
        if p_phrase is None:
            p_phrase = 0.85 if text_file is not None else 0.5 * min(1.0, len(phrases) / 500.0)
        return cls(phrases, words, p_phrase if words else 1.0)

    def phrases_for(self, split: str) -> list[str]:
        """Held-out voices read phrases the training voices never read (when there are enough:
        every 20th of 200 or more)."""
        if len(self.phrases) < 200:
            return self.phrases
        if split == "heldout":
            return self.phrases[::20]
        return [p for i, p in enumerate(self.phrases) if i % 20]


def plan_synthetic(num_utterances: int, seed: int, voices: Sequence[tuple[str, float]],
                   heldout: HeldOut, texts: Texts) -> list[Item]:
    """``num_utterances`` synthetic utterances, each by a voice drawn by weight from
    ``voices``, with its text and speaking parameters."""
    plan_rng = random.Random(f"telucodec-corpus:{seed}")
    names, weights = [v for v, _ in voices], [w for _, w in voices]
    pools = {split: texts.phrases_for(split) for split in ("train", "heldout")}
    items = []
    for i in range(num_utterances):
        voice = plan_rng.choices(names, weights)[0]
        name = f"{voice}_{i:06d}"
        rng = random.Random(f"{seed}:{name}")
        split = heldout.split(voice, "te")
        text = make_sentence(rng, pools[split], texts.words, texts.p_phrase)
        items.append(Item(name, split, voice, voice, "te", SYNTH_VOICES[voice].licence, text,
                          synth_params(voice, rng)))
    return items


def safe_name(s: str) -> str:
    """``s`` with every character but letters, digits, ``_ . -`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", s)


@dataclass(frozen=True)
class Recording:
    """A real recording to convert: written as ``{split}/{source}/{stem}_v{k}.wav``."""
    origin: str
    source: str
    stem: str
    voice: str
    language: str
    licence: str
    text: str | None = None
    raw_rate: int | None = None


def real_params(rng: random.Random, variant: int) -> dict:
    """Parameters of version ``variant`` of a real recording: 0 is as recorded, others are
    pitch-shifted (cents) and time-stretched (tempo factor); each gets a random peak in dBFS."""
    if variant == 0:
        p = {"pitch_cents": 0.0, "tempo": 1.0}
    else:
        p = {"pitch_cents": round(rng.uniform(-400.0, 400.0), 1),
             "tempo": round(rng.uniform(0.85, 1.15), 4)}
    p["peak_dbfs"] = rng.uniform(-18.0, -1.0)
    p["variant"] = variant
    return round_params(p)


def recording_items(rec: Recording, split: str, variants: int, seed: int) -> list[Item]:
    """The versions of one recording: as recorded, plus ``variants`` pitch/tempo-varied
    copies in train/ (held-out recordings are only used as recorded)."""
    count = 1 if split == "heldout" else 1 + variants
    return [Item(f"{rec.stem}_v{k}", split, rec.source, rec.voice, rec.language, rec.licence,
                 rec.text, real_params(random.Random(f"{seed}:{rec.stem}:v{k}"), k),
                 origin=rec.origin, raw_rate=rec.raw_rate) for k in range(count)]


def debian_recordings(klettres_languages: Collection[str] | None,
                      warnings: list[str]) -> list[Recording]:
    """The installed klettres-data and codec2-examples recordings, warning about a missing
    package."""
    klettres, codec2 = klettres_files(klettres_languages), codec2_files()
    if not klettres:
        warn(f"klettres-data is not installed ({KLETTRES_DIR}), no klettres recordings", warnings)
    if not codec2:
        warn(f"codec2-examples is not installed ({CODEC2_DIR}), no codec2 recordings", warnings)
    recordings = []
    for f in klettres:
        lang = f["language"]
        recordings.append(Recording(f["path"], "klettres",
                                    f"{lang}_{f['kind']}_{safe_name(Path(f['path']).stem)}",
                                    f"klettres_{lang}", lang, KLETTRES_LICENCE, f["text"]))
    for f in codec2:
        stem = safe_name(Path(f["path"]).stem)
        recordings.append(Recording(f["path"], "codec2", stem, f"codec2_{stem}", "en",
                                    CODEC2_LICENCE, raw_rate=f["raw_rate"]))
    return recordings


def _round_robin(groups: list[list], limit: int) -> list:
    out, i = [], 0
    while len(out) < limit and any(i < len(g) for g in groups):
        for g in groups:
            if i < len(g) and len(out) < limit:
                out.append(g[i])
        i += 1
    return out


def plan_debian_real(recordings: list[Recording], heldout: HeldOut, max_files: int | None,
                     variants: int, seed: int) -> list[list[Item]]:
    """One list of versions per recording, sorted by path. With ``max_files``, at most that
    many recordings, taken round-robin over speakers (source and language), held-out first."""
    by_speaker: dict[tuple[str, str], list[Recording]] = {}
    for rec in recordings:
        by_speaker.setdefault((rec.source, rec.language), []).append(rec)
    speakers = sorted(by_speaker, key=lambda k: (heldout.split(f"{k[0]}_{k[1]}", k[1]) == "train",
                                                 k))
    groups = [by_speaker[k] for k in speakers]
    chosen = (_round_robin(groups, max_files) if max_files is not None
              else [rec for group in groups for rec in group])
    return [recording_items(rec, heldout.split(rec.voice, rec.language), variants, seed)
            for rec in sorted(chosen, key=lambda rec: rec.origin)]


def _real_dir_source(root: Path, rel: str) -> str:
    """``real_<top folder of rel>`` (``real_<folder name>`` for a file at the top)."""
    parts = Path(rel).parts
    return "real_" + safe_name(parts[0] if len(parts) > 1 else root.name)


def plan_real_dir(root: str | os.PathLike, heldout_speakers: int, variants: int,
                  seed: int) -> list[list[Item]]:
    """One list of versions per recording listed in ``root/files.tsv``; whole speakers are held
    out by heldout_real_speakers(). Named ``<speaker>_<file stem>`` under
    ``real_<top folder>``. Raises TeluCodecError when the folder or its files.tsv is unusable
    or two files would get one name."""
    root = Path(root).expanduser().resolve()
    files = read_real_dir(root)
    held = heldout_real_speakers((f.speaker for f in files), heldout_speakers)
    first_of: dict[tuple[str, str], str] = {}
    groups = []
    for f in files:
        rec = Recording(str(root / f.path), _real_dir_source(root, f.path),
                        f"{safe_name(f.speaker)}_{safe_name(Path(f.path).stem)}", f.speaker,
                        f.language, f.licence)
        clash = first_of.setdefault((rec.source, rec.stem), f.path)
        if clash != f.path:
            raise TeluCodecError(f"{root}: {clash} and {f.path} would both be written as "
                                 f"{rec.source}/{rec.stem}")
        groups.append(recording_items(rec, "heldout" if f.speaker in held else "train",
                                      variants, seed))
    return groups
