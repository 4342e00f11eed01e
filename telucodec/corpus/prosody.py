"""MBROLA ``.pho`` input for a Telugu sentence: phone durations, an F0 contour, pauses."""
from __future__ import annotations

import random
import re
import struct
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from .g2p import HI_VOWELS, TL1_VOWELS, word_to_phones

_LONG_VOWELS = ("a:", "i:", "u:", "e:", "o:", "aa", "ii", "uu")
_ASPIRATES = ("kh", "gh", "ch", "jh", "Th", "Dh", "th", "dh", "ph", "bh")
_STOPS = ("k", "g", "c", "j", "T", "D", "t", "d", "p", "b")
_FRICATIVES = ("s", "s'", "S", "h", "sh")


def base_duration_ms(phone: str) -> float:
    """Typical duration of ``phone`` in milliseconds at rate 1 (before random variation)."""
    if phone in _LONG_VOWELS:
        return 135
    if phone in ("ai", "au"):
        return 145
    if phone in TL1_VOWELS or phone in HI_VOWELS:
        return 75
    if phone in _ASPIRATES or phone in _FRICATIVES:
        return 95
    if phone in _STOPS:
        return 75
    if phone in ("r", "r'"):
        return 45
    return 65


def mbrola_diphones(db: str) -> set[tuple[str, str]] | None:
    """The (left, right) diphones stored in the MBROLA database file ``db``; None when it is
    not an MBROLA database or its diphone table cannot be parsed. Raises OSError when
    ``db`` cannot be read."""
    data = Path(db).read_bytes()
    if data[:6] != b"MBROLA":
        return None
    count = struct.unpack("<h", data[11:13])[0]
    offset, out = 0x1B, set()
    try:
        for _ in range(count):
            end_left = data.index(b"\x00", offset)
            end_right = data.index(b"\x00", end_left + 1)
            out.add((data[offset:end_left].decode("latin1"),
                     data[end_left + 1:end_right].decode("latin1")))
            offset = end_right + 1 + 4  # the names are followed by a 4-byte position
    except ValueError:
        return None
    return out


@dataclass
class _Phone:
    name: str
    ms: float
    f0: tuple[float, float] | None = None  # Hz at 10% and 90% of the phone (vowels only)


def _words(text: str, phone_map: Mapping[str, str] | None) -> list[tuple[list[str], str]]:
    """(phones, punctuation after the word) for each Telugu word of ``text``."""
    words: list[tuple[list[str], str]] = []
    for token in re.findall(r"[\u0C00-\u0C7F]+|[.,?!]", text):
        if token in ".,?!":
            if words:
                words[-1] = (words[-1][0], token)
            continue
        phones = word_to_phones(token)
        if phone_map:
            phones = [q for p in phones for q in phone_map.get(p, p).split()]
        if phones:
            words.append((phones, ""))
    return words


@dataclass(frozen=True)
class _Voice:
    rng: random.Random
    f0_base: float
    f0_range: float
    rate: float
    vowels: Collection[str]


def _word_phones(v: _Voice, phones: list[str], punct: str, question: bool, first: int,
                 total: int) -> list[_Phone]:
    """Timed phones of one word whose first phone is number ``first`` of ``total`` in the
    sentence: declining F0, an accent on the first vowel, phrase-final lengthening and a final
    rise (question) or fall."""
    out: list[_Phone] = []
    accented = False
    for i, p in enumerate(phones):
        ms = base_duration_ms(p) * v.rate * v.rng.uniform(0.85, 1.15)
        phrase_final = i >= len(phones) - 2 and bool(punct)
        if phrase_final:
            ms *= 1.35
        f0 = v.f0_base * (1.0 + 0.12 * (1 - (first + i) / total) - 0.06)
        target = None
        if p in v.vowels:
            if not accented:
                f0 += v.f0_range * v.rng.uniform(0.6, 1.0)
                accented = True
            f0 += v.rng.uniform(-0.04, 0.04) * v.f0_base
            f0_end = f0 * v.rng.uniform(0.93, 1.0)
            if phrase_final and question and punct == "?":
                f0_end = f0 * 1.3
            elif phrase_final and punct == ".":
                f0_end = f0 * 0.82
            target = (f0, f0_end)
        out.append(_Phone(p, ms, target))
    return out


def _pho_lines(phones: list[_Phone], rng: random.Random, rate: float,
               diphones: Collection[tuple[str, str]] | None) -> list[str]:
    lines = []
    for j, ph in enumerate(phones):
        if (j > 0 and diphones is not None and ph.name != "_" and phones[j - 1].name != "_"
                and (phones[j - 1].name, ph.name) not in diphones):
            lines.append("_ %d" % int(rng.uniform(25, 45) * rate))  # bridge a missing diphone
        if ph.f0:
            lines.append("%s %d 10 %d 90 %d" % (ph.name, ph.ms, ph.f0[0], ph.f0[1]))
        else:
            lines.append("%s %d" % (ph.name, ph.ms))
    return lines


def sentence_to_pho(text: str, rng: random.Random, f0_base: float, f0_range: float, rate: float,
                    phone_map: Mapping[str, str] | None = None,
                    vowelset: Collection[str] = TL1_VOWELS,
                    diphones: Collection[tuple[str, str]] | None = None) -> str:
    """MBROLA .pho text for a Telugu sentence (``phone ms [percent Hz]...`` lines).

    F0 (Hz) declines from ``f0_base`` through the sentence, each word's first vowel is raised by
    up to ``f0_range`` Hz, phrase-final phones are lengthened; ``rate`` scales all durations.
    ``phone_map`` renames tl1 phones for another database; where ``diphones`` lacks a pair a
    short pause is put between them. All randomness comes from ``rng``.
    """
    words = _words(text, phone_map)
    total = sum(len(phones) for phones, _ in words) or 1
    voice = _Voice(rng, f0_base, f0_range, rate, vowelset)
    question = text.strip().endswith("?")
    timed = [_Phone("_", rng.uniform(80, 200))]
    first = 0
    for phones, punct in words:
        timed += _word_phones(voice, phones, punct, question, first, total)
        first += len(phones)
        if punct == ",":
            timed.append(_Phone("_", rng.uniform(120, 260) * rate))
        elif punct in ".?!" and punct:
            timed.append(_Phone("_", rng.uniform(200, 350) * rate))
    timed.append(_Phone("_", rng.uniform(80, 200)))
    return "\n".join(_pho_lines(timed, rng, rate, diphones)) + "\n"
