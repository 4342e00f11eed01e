"""Telugu text for the synthetic voices: cleaning lines, the word list, sentences to speak."""
from __future__ import annotations

import functools
import os
import random
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import TeluCodecError

FESTIVAL_SAMPLE = "/usr/share/doc/festival-te/examples/sample.txt"

_TELUGU = re.compile("[\u0C00-\u0C7F]")
_TELUGU_LETTER = "[\u0C05-\u0C39\u0C58-\u0C61]"  # a vowel or consonant letter, not a sign
_TELUGU_WORD = re.compile(f"^{_TELUGU_LETTER}[\u0C00-\u0C7F]*$")


def clean_line(line: str) -> str | None:
    """Keep Telugu letters and ``. , ? !``; None when fewer than two Telugu words remain or
    the result starts with a sign instead of a letter."""
    s = line.replace("\u200c", "").replace("\u200d", "")
    s = re.sub(r"%[-+ #0]*[0-9.*]*[a-zA-Z]", " ", s)  # printf placeholders of translation files
    s = re.sub("[^\u0C00-\u0C7F.,?! ]", " ", s)
    s = re.sub(r"\s+([.,?!])", r"\1", s)
    s = re.sub(r"([.,?!])[.,?!]+", r"\1", s)
    s = re.sub(r"\s+", " ", s).strip(" .,?!")
    words = [w for w in s.split() if _TELUGU.search(w)]
    if len(words) < 2 or not re.match(_TELUGU_LETTER, s):
        return None
    return s


@functools.lru_cache(maxsize=1)
def load_wordlist() -> tuple[str, ...]:
    """Telugu words of the aspell-te dictionary (sorted, unique, 2-16 characters); () when
    aspell or aspell-te is missing."""
    words: list[str] = []
    if shutil.which("aspell"):
        try:
            words = subprocess.run(["aspell", "-l", "te", "dump", "master"], capture_output=True,
                                   text=True, timeout=120).stdout.split()
        except (OSError, subprocess.SubprocessError):
            words = []
    return tuple(sorted({w for w in words if _TELUGU_WORD.match(w) and 2 <= len(w) <= 16}))


def load_phrases(text_file: str | os.PathLike | None) -> list[str]:
    """Cleaned sentences from ``text_file`` (one a line; a TSV line's last column), else from
    festival-te's sample text ([] when that is not installed). Sorted and unique.

    Raises TeluCodecError when ``text_file`` is missing, not UTF-8, or has no usable line.
    """
    if text_file is None:
        if not os.path.exists(FESTIVAL_SAMPLE):
            return []
        text = Path(FESTIVAL_SAMPLE).read_text(encoding="utf-8", errors="ignore")
        return sorted({c for c in map(clean_line, re.split(r"(?<=[.?!])\s+", text)) if c})
    path = Path(text_file)
    if not path.is_file():
        raise TeluCodecError(f"{path}: no such text file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TeluCodecError(f"{path}: cannot read as UTF-8 text ({exc})") from None
    phrases = {c for c in (clean_line(line.split("\t")[-1]) for line in lines) if c}
    if not phrases:
        raise TeluCodecError(f"{path}: no usable Telugu sentence (need 2+ Telugu words a line)")
    return sorted(phrases)


def _joined_phrases(rng: random.Random, phrases: Sequence[str], target: int,
                    cap_words: int) -> str:
    parts: list[str] = []
    n = 0
    while n < target:
        words = rng.choice(phrases).split()
        if len(words) > cap_words:  # long paragraph-like line: a random window of it
            start = rng.randint(0, len(words) - cap_words)
            words = words[start:start + cap_words]
        if parts and n + len(words) > target + 4:
            break
        parts.append(" ".join(words).strip(" .,?!"))
        n += len(words)
    sentence = parts[0]
    for part in parts[1:]:
        sentence += rng.choice([". ", ". ", ", ", "? "]) + part
    return sentence


def _random_words(rng: random.Random, words: Sequence[str], target: int) -> str:
    chosen = [rng.choice(words) for _ in range(target)]
    if target > 6 and rng.random() < 0.6:
        chosen[rng.randint(2, target - 3)] += ","
    return " ".join(chosen)


def make_sentence(rng: random.Random, phrases: Sequence[str], words: Sequence[str],
                  p_phrase: float, min_words: int = 4, max_words: int = 12,
                  cap_words: int = 20) -> str:
    """One utterance text of about ``min_words``..``max_words`` words: real phrases joined up
    (with probability ``p_phrase``, or always when there are no ``words``), else a random
    sequence of dictionary ``words``. Ends with ``.`` or ``?``."""
    target = rng.randint(min_words, max_words)
    if phrases and (not words or rng.random() < p_phrase):
        sentence = _joined_phrases(rng, phrases, target, cap_words)
    else:
        sentence = _random_words(rng, words, target)
    return sentence.rstrip(" ,") + rng.choice([".", ".", ".", "?"])
