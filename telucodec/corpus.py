"""Offline, deterministic training-corpus builder (synthetic Telugu + real recordings from Debian).

No model or dataset hub is reachable from the machines this project trains on, so the corpus is
made from Debian packages:

Synthetic Telugu (text: Telugu sentences from ``--text FILE``, else festival-te's sample text,
mixed with random word sequences from the aspell-te word list):

=============  =====================================================  ==============================
source         Debian packages                                        notes
=============  =====================================================  ==============================
festival_nsk   festival festival-te festvox-te-nsk (main, GPL-2+)     male LPC diphone voice; the
                                                                      ``Int_Method`` fix is applied
mbrola_tl1     mbrola (contrib) mbrola-tl1 (non-free)                 female diphone voice, driven
                                                                      by the small G2P below
espeak_te      espeak-ng (main, GPL-3+)                               formant synthesis, 12 variants
mbrola_in1/2   mbrola mbrola-in1 / mbrola-in2 (non-free)              Hindi voices via a phone map
=============  =====================================================  ==============================

Real human speech: ``klettres-data`` (letters and syllables, one native speaker per language,
``/usr/share/klettres/<lang>/{alpha,syllab}/*.ogg``, GPL-2+) and ``codec2-examples`` (English
recordings, ``/usr/share/codec2/{raw,wav}``, LGPL-2.1; modem/sine test signals, codec-processed
copies and duplicates are left out). Each real training file is written once as recorded
(resampled, trimmed, level set) and ``real_variants`` more times with sox pitch/tempo changes.

Held out by default: the synthetic voice ``mbrola_in2`` and klettres' Malayalam (``ml``) speaker
go to ``OUT/heldout/``, never to ``OUT/train/``.

Layout: ``OUT/{train,heldout}/<source>/<name>.wav`` (16 kHz mono PCM16) and ``OUT/manifest.jsonl``
(one JSON object per file, sorted by path). Everything random is drawn from ``seed``: the same
seed with the same installed packages gives byte-identical output.

Python side: standard library + numpy/soundfile/soxr. External programs: festival, mbrola,
espeak-ng, sox, aspell (``--install-deps`` apt-installs them; needs root).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import TeluCodecError

SR = 16000

# ----------------------------------------------------------------------------- voices and sources

NSK_DIR = "/usr/share/festival/voices/telugu/telugu_NSK_diphone"
MBROLA_DIR = "/usr/share/mbrola"
KLETTRES_DIR = "/usr/share/klettres"
CODEC2_DIR = "/usr/share/codec2"
FESTIVAL_SAMPLE = "/usr/share/doc/festival-te/examples/sample.txt"

SYNTH_VOICES = {
    # name: (required programs / files, default sampling weight, licence of the voice data)
    "festival_nsk": (("festival", NSK_DIR), 1.0, "GPL-2+ (Debian festvox-te-nsk)"),
    "mbrola_tl1": (("mbrola", MBROLA_DIR + "/tl1/tl1"), 1.0,
                   "MBROLA TL1 licence, non-commercial (Debian non-free mbrola-tl1)"),
    "espeak_te": (("espeak-ng",), 0.6, "GPL-3+ (Debian espeak-ng)"),
    "mbrola_in1": (("mbrola", MBROLA_DIR + "/in1/in1"), 0.5,
                   "MBROLA IN1 licence, non-commercial (Debian non-free mbrola-in1)"),
    "mbrola_in2": (("mbrola", MBROLA_DIR + "/in2/in2"), 0.4,
                   "MBROLA IN2 licence, non-commercial (Debian non-free mbrola-in2)"),
}
DEFAULT_HELDOUT_VOICES = ("mbrola_in2",)
DEFAULT_HELDOUT_LANGUAGES = ("ml",)
KLETTRES_LICENCE = "GPL-2+ (Debian klettres-data)"
CODEC2_LICENCE = "LGPL-2.1 (Debian codec2-examples)"

# codec2-examples: the real speech in it, without duplicates (hts1*.raw, hts2*.raw are cut from
# hts.raw, ve9qrp_10s.raw from ve9qrp.raw, wav/all.wav concatenates others), without the
# codec-processed f2400/m2400 and without the modem and sine test signals.
CODEC2_SPEECH = (
    # (path under /usr/share/codec2, sample rate for raw s16le files or None for wav)
    ("raw/hts.raw", 8000), ("raw/big_dog.raw", 8000), ("raw/cross.raw", 8000),
    ("raw/forig.raw", 8000), ("raw/morig.raw", 8000), ("raw/mmt1.raw", 8000),
    ("raw/kristoff.raw", 8000), ("raw/cq_ref.raw", 8000), ("raw/g3plx.raw", 8000),
    ("raw/vk5qi.raw", 8000), ("raw/ve9qrp.raw", 8000), ("raw/speech_orig_16k.wav", None),
    ("wav/david4.wav", None), ("wav/vk2tpm_004.wav", None), ("wav/wia_16kHz.wav", None),
)

APT_PACKAGES = ("festival", "festival-te", "festvox-te-nsk", "espeak-ng", "sox", "aspell",
                "aspell-te", "klettres-data", "codec2-examples")
APT_NONFREE_PACKAGES = ("mbrola", "mbrola-tl1", "mbrola-in1", "mbrola-in2")

ESPEAK_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4")

DEMO_SENTENCE = "తెలుగు భాష చాలా తీయనైన భాష. మన దేశంలో ఎన్నో భాషలు ఉన్నాయి."
DEMO_PARAMS = {"f0": 120.0, "range": 25.0, "stretch": 1.25}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _warn(msg: str, warnings: list | None = None) -> None:
    _log("telucodec: warning: " + msg)
    if warnings is not None:
        warnings.append(msg)


def voice_available(voice: str) -> bool:
    """True when the programs and data files the synthetic ``voice`` needs are installed."""
    for req in SYNTH_VOICES[voice][0]:
        if req.startswith("/"):
            if not os.path.exists(req):
                return False
        elif not shutil.which(req):
            return False
    return True


# ----------------------------------------------------------------------------- text

_TE = re.compile("[\u0C00-\u0C7F]")
_TE_WORD = re.compile("^[\u0C05-\u0C39\u0C58-\u0C61][\u0C00-\u0C7F]*$")


def clean_line(s: str) -> str | None:
    """Keep Telugu letters and . , ? ! ; None when fewer than two Telugu words remain."""
    s = s.replace("\u200c", "").replace("\u200d", "")
    s = re.sub(r"%[-+ #0]*[0-9.*]*[a-zA-Z]", " ", s)
    s = re.sub("[^\u0C00-\u0C7F.,?! ]", " ", s)
    s = re.sub(r"\s+([.,?!])", r"\1", s)
    s = re.sub(r"([.,?!])[.,?!]+", r"\1", s)
    s = re.sub(r"\s+", " ", s).strip(" .,?!")
    words = [w for w in s.split() if _TE.search(w)]
    if len(words) < 2:
        return None
    if not re.match("[\u0C05-\u0C39\u0C58-\u0C61]", s):  # must start with a letter, not a sign
        return None
    return s


@functools.lru_cache(maxsize=1)
def load_wordlist() -> tuple[str, ...]:
    """Telugu words of the aspell-te dictionary (sorted, unique); () when aspell-te is missing."""
    words: list[str] = []
    if shutil.which("aspell"):
        try:
            out = subprocess.run(["aspell", "-l", "te", "dump", "master"], capture_output=True,
                                 text=True, timeout=120).stdout
            words = out.split()
        except (OSError, subprocess.SubprocessError):
            words = []
    return tuple(sorted({w for w in words if _TE_WORD.match(w) and 2 <= len(w) <= 16}))


def load_phrases(text_file: str | os.PathLike | None) -> list[str]:
    """Sentences from ``text_file`` (one a line; a TSV line's last column), else festival-te's
    sample text. Sorted and unique."""
    phrases = []
    if text_file is not None:
        path = Path(text_file)
        if not path.is_file():
            raise TeluCodecError(f"{path}: no such text file")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise TeluCodecError(f"{path}: cannot read as UTF-8 text ({exc})") from None
        for line in lines:
            c = clean_line(line.split("\t")[-1])
            if c:
                phrases.append(c)
        if not phrases:
            raise TeluCodecError(f"{path}: no usable Telugu sentence (need 2+ Telugu words a line)")
    elif os.path.exists(FESTIVAL_SAMPLE):
        txt = Path(FESTIVAL_SAMPLE).read_text(encoding="utf-8", errors="ignore")
        for sent in re.split(r"(?<=[.?!])\s+", txt):
            c = clean_line(sent)
            if c:
                phrases.append(c)
    return sorted(set(phrases))


def make_sentence(rng: random.Random, phrases, words, p_phrase: float,
                  min_words: int = 4, max_words: int = 12, cap_words: int = 20) -> str:
    """One utterance text: real phrases joined up to a random length (prob. ``p_phrase``),
    else a random aspell word sequence."""
    target = rng.randint(min_words, max_words)
    if phrases and (not words or rng.random() < p_phrase):
        parts: list[str] = []
        n = 0
        while n < target:
            p = rng.choice(phrases).split()
            if len(p) > cap_words:  # long paragraph-like line: a random window of it
                start = rng.randint(0, len(p) - cap_words)
                p = p[start:start + cap_words]
            if parts and n + len(p) > target + 4:
                break
            parts.append(" ".join(p).strip(" .,?!"))
            n += len(p)
        s = parts[0]
        for p in parts[1:]:
            s += rng.choice([". ", ". ", ", ", "? "]) + p
    else:
        ws = [rng.choice(words) for _ in range(target)]
        if target > 6 and rng.random() < 0.6:
            ws[rng.randint(2, target - 3)] += ","
        s = " ".join(ws)
    return s.rstrip(" ,") + rng.choice([".", ".", ".", "?"])


# ----------------------------------------------------------------------------- Telugu G2P (MBROLA)

VOWELS = {"అ": "a", "ఆ": "a:", "ఇ": "i", "ఈ": "i:", "ఉ": "u", "ఊ": "u:", "ఋ": "R", "ౠ": "R",
          "ఌ": "l u", "ౡ": "l u:", "ఎ": "e", "ఏ": "e:", "ఐ": "ai", "ఒ": "o", "ఓ": "o:", "ఔ": "au"}
SIGNS = {"ా": "a:", "ి": "i", "ీ": "i:", "ు": "u", "ూ": "u:", "ృ": "R", "ౄ": "R", "ె": "e",
         "ే": "e:", "ై": "ai", "ొ": "o", "ో": "o:", "ౌ": "au", "ౢ": "l u", "ౣ": "l u:"}
CONS = {"క": "k", "ఖ": "kh", "గ": "g", "ఘ": "gh", "ఙ": "n~", "చ": "c", "ఛ": "ch", "జ": "j",
        "ఝ": "jh", "ఞ": "N~", "ట": "T", "ఠ": "Th", "డ": "D", "ఢ": "Dh", "ణ": "N", "త": "t",
        "థ": "th", "ద": "d", "ధ": "dh", "న": "n", "ప": "p", "ఫ": "ph", "బ": "b", "భ": "bh",
        "మ": "m", "య": "y", "ర": "r", "ఱ": "r'", "ల": "l", "ళ": "L", "ఴ": "L", "వ": "v",
        "శ": "s'", "ష": "S", "స": "s", "హ": "h", "ౘ": "c", "ౙ": "j", "ౚ": "r'"}
VIRAMA = "\u0C4D"
NUKTA = "\u0C3C"
NASAL_BY_PLACE = {}
for _c in ("k", "kh", "g", "gh"):
    NASAL_BY_PLACE[_c] = "n~"
for _c in ("c", "ch", "j", "jh"):
    NASAL_BY_PLACE[_c] = "N~"
for _c in ("T", "Th", "D", "Dh", "N"):
    NASAL_BY_PLACE[_c] = "N"
for _c in ("t", "th", "d", "dh", "n", "s", "l", "r"):
    NASAL_BY_PLACE[_c] = "n"
for _c in ("p", "ph", "b", "bh", "m", "v"):
    NASAL_BY_PLACE[_c] = "m"

TL1_VOWELS = {"a", "a:", "i", "i:", "u", "u:", "e", "e:", "o", "o:", "ai", "au", "R"}
# Hindi in1/in2 phone set: a aa ii uu e o ai au; no short i/u, no e/o length contrast
HI_MAP = {"a:": "aa", "i": "ii", "i:": "ii", "u": "uu", "u:": "uu", "e:": "e", "o:": "o",
          "R": "r ii", "L": "l", "r'": "r", "s'": "sh", "S": "sh", "N~": "n", "n~": "n"}
HI_VOWELS = {"a", "aa", "ii", "uu", "e", "o", "ai", "au"}


def word_to_phones(w: str) -> list[str]:
    """Telugu word -> tl1 phones (abugida rules, inherent 'a', homorganic anusvara)."""
    ph: list[str] = []
    i, n = 0, len(w)
    while i < n:
        ch = w[i]
        if ch in CONS:
            ph.append(CONS[ch])
            nx = w[i + 1] if i + 1 < n else ""
            if nx == NUKTA:
                i += 1
                nx = w[i + 1] if i + 1 < n else ""
            if nx == VIRAMA:
                i += 2
                continue
            if nx in SIGNS:
                ph.extend(SIGNS[nx].split())
                i += 2
                continue
            ph.append("a")
            i += 1
            continue
        if ch in VOWELS:
            ph.extend(VOWELS[ch].split())
        elif ch in ("ం", "ఁ", "ఀ"):
            nxt = None
            for c2 in w[i + 1:]:
                if c2 in CONS:
                    nxt = CONS[c2]
                    break
                if c2 in VOWELS or c2 in SIGNS:
                    break
            ph.append(NASAL_BY_PLACE.get(nxt, "m") if nxt else "m")
        elif ch == "ః":
            ph.append("h")
        i += 1
    # velar/palatal nasals exist in the databases only before stops
    return [("n" if p in ("n~", "N~") and (j + 1 == len(ph) or ph[j + 1] in TL1_VOWELS) else p)
            for j, p in enumerate(ph)]


def _base_dur(p: str) -> float:
    if p in ("a:", "i:", "u:", "e:", "o:", "aa", "ii", "uu"):
        return 135
    if p in ("ai", "au"):
        return 145
    if p in TL1_VOWELS or p in HI_VOWELS:
        return 75
    if p in ("kh", "gh", "ch", "jh", "Th", "Dh", "th", "dh", "ph", "bh"):
        return 95
    if p in ("k", "g", "c", "j", "T", "D", "t", "d", "p", "b"):
        return 75
    if p in ("s", "s'", "S", "h", "sh"):
        return 95
    if p in ("r", "r'"):
        return 45
    return 65


def mbrola_diphones(db: str) -> set | None:
    """The (left, right) diphones stored in an MBROLA database file, None if unparsable."""
    d = Path(db).read_bytes()
    if d[:6] != b"MBROLA":
        return None
    n = struct.unpack("<h", d[11:13])[0]
    off, out = 0x1B, set()
    try:
        for _ in range(n):
            e1 = d.index(b"\x00", off)
            left = d[off:e1].decode("latin1")
            off = e1 + 1
            e2 = d.index(b"\x00", off)
            right = d[off:e2].decode("latin1")
            off = e2 + 1 + 4
            out.add((left, right))
    except ValueError:
        return None
    return out


def sentence_to_pho(text: str, rng: random.Random, f0_base: float, f0_range: float, rate: float,
                    phone_map: dict | None = None, vowelset=TL1_VOWELS,
                    diphones: set | None = None) -> str:
    """MBROLA .pho text for a Telugu sentence: declination, word-initial accent, phrase-final
    lengthening; a short pause where the database lacks a diphone."""
    tokens = re.findall(r"[\u0C00-\u0C7F]+|[.,?!]", text)
    words: list[tuple[list[str], str]] = []
    for t in tokens:
        if t in ".,?!":
            if words:
                words[-1] = (words[-1][0], t)
            continue
        p = word_to_phones(t)
        if phone_map:
            p = [q for x in p for q in phone_map.get(x, x).split()]
        if p:
            words.append((p, ""))
    total = sum(len(w[0]) for w in words) or 1
    question = text.strip().endswith("?")
    items: list[list] = [["_", rng.uniform(80, 200), None]]
    k = 0
    for phones, punct in words:
        first_vowel_done = False
        for pi, p in enumerate(phones):
            d = _base_dur(p) * rate * rng.uniform(0.85, 1.15)
            last = pi >= len(phones) - 2 and punct
            if last:
                d *= 1.35
            f0 = f0_base * (1.0 + 0.12 * (1 - k / total) - 0.06)
            tgt = None
            if p in vowelset:
                if not first_vowel_done:
                    f0 += f0_range * rng.uniform(0.6, 1.0)
                    first_vowel_done = True
                f0 += rng.uniform(-0.04, 0.04) * f0_base
                f0b = f0 * rng.uniform(0.93, 1.0)
                if last and question and punct == "?":
                    f0b = f0 * 1.3
                elif last and punct == ".":
                    f0b = f0 * 0.82
                tgt = (f0, f0b)
            items.append([p, d, tgt])
            k += 1
        if punct == ",":
            items.append(["_", rng.uniform(120, 260) * rate, None])
        elif punct in ".?!" and punct:
            items.append(["_", rng.uniform(200, 350) * rate, None])
    items.append(["_", rng.uniform(80, 200), None])
    lines = []
    for j, (p, d, tgt) in enumerate(items):
        if (j > 0 and diphones is not None and p != "_" and items[j - 1][0] != "_"
                and (items[j - 1][0], p) not in diphones):
            lines.append("_ %d" % int(rng.uniform(25, 45) * rate))
        if tgt:
            lines.append("%s %d 10 %d 90 %d" % (p, d, tgt[0], tgt[1]))
        else:
            lines.append("%s %d" % (p, d))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- synthesis back ends

FESTIVAL_PRELUDE = r"""
(voice_telugu_NSK_diphone)
;; festvox-te-nsk does not set Int_Method, which festival 2.5 needs ("{FND} Feature Int_Method
;; not defined"): use a hat-pattern target function with a settable base F0 and range.
(defvar te_f0_base 125)
(defvar te_f0_range 15)
(define (te_targ_func utt syl)
  (let ((start (item.feat syl 'syllable_start))
        (end (item.feat syl 'syllable_end))
        (ulen (item.feat (utt.relation.last utt 'Segment) 'segment_end)))
    (let ((fs (- te_f0_base (* 0.15 te_f0_base (/ start ulen))))
          (fe (- te_f0_base (* 0.15 te_f0_base (/ end ulen))))
          (t3 (* (- end start) 0.333)))
      (list (list start fs)
            (list (+ start t3) (+ fs te_f0_range))
            (list (- end t3) (+ fs (* 0.8 te_f0_range)))
            (list end fe)))))
(set! int_general_params (list (list 'targ_func te_targ_func)))
(Parameter.set 'Int_Method 'General)
(Parameter.set 'Int_Target_Method 'General)
"""


def _scheme_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_festival(jobs: list[tuple[str, str, dict]], tmpdir: str) -> None:
    """Synthesize ``[(out_wav, text, params)]`` with the NSK voice in one festival process."""
    lines = [FESTIVAL_PRELUDE]
    for out, text, p in jobs:
        lines.append("(set! te_f0_base %.2f) (set! te_f0_range %.2f) "
                     "(Parameter.set 'Duration_Stretch %.4f)" % (p["f0"], p["range"], p["stretch"]))
        lines.append("(unwind-protect (utt.save.wave (utt.synth (Utterance Text %s)) %s 'riff) nil)"
                     % (_scheme_str(text), _scheme_str(out)))
    scm = os.path.join(tmpdir, "batch.scm")
    with open(scm, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    try:
        subprocess.run(["festival", "-b", scm], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60 + 10 * len(jobs))
    except subprocess.TimeoutExpired:
        pass


_DIPHONES: dict[str, set | None] = {}


def _diphones(db: str) -> set | None:
    if db not in _DIPHONES:
        _DIPHONES[db] = mbrola_diphones(db)
    return _DIPHONES[db]


def run_mbrola(db: str, pho_text: str, out: str, tmpdir: str) -> None:
    pho = os.path.join(tmpdir, "u.pho")
    with open(pho, "w", encoding="latin1") as f:
        f.write(pho_text)
    subprocess.run(["mbrola", "-e", db, pho, out], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=120)


def run_espeak(text: str, variant: str, speed: int, pitch: int, out: str) -> None:
    voice = "te" + ("+" + variant if variant else "")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", out, text],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def run_sox_pitch_tempo(src: str, dst: str, cents: float, tempo: float) -> None:
    """Pitch shift by ``cents`` and time-stretch by ``tempo`` (WSOLA, speech mode); no dither."""
    subprocess.run(["sox", "-V1", "-D", src, "-b", "16", dst, "pitch", "%.1f" % cents,
                    "tempo", "-s", "%.4f" % tempo], check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ----------------------------------------------------------------------------- audio helpers

def _read_mono(path: str, raw_rate: int | None = None) -> tuple[np.ndarray, int]:
    """float64 mono samples and rate of a sound file (or a raw s16le file at ``raw_rate``)."""
    if raw_rate is not None:
        return np.fromfile(path, dtype="<i2").astype(np.float64) / 32768.0, raw_rate
    x, sr = sf.read(path, dtype="float64", always_2d=True)
    return x.mean(axis=1), sr


def _resample(x: np.ndarray, sr: int) -> np.ndarray:
    if sr == SR:
        return x
    return soxr.resample(x, sr, SR, quality="HQ")


def _trim(x: np.ndarray, rel_db: float = 40.0, pad_start: float = 0.10,
          pad_end: float = 0.15) -> np.ndarray:
    """Cut leading/trailing silence: keep from the first to the last 10 ms frame within
    ``rel_db`` of the loudest one (and, for a noisy recording, 12 dB above its noise floor,
    at most 25 dB below the loudest frame), plus padding."""
    hop = SR // 100
    n = len(x) // hop
    if n == 0:
        return x
    e = 10 * np.log10((x[: n * hop].reshape(n, hop) ** 2).mean(axis=1) + 1e-12)
    top = e.max()
    thr = max(top - rel_db, min(float(np.percentile(e, 10)) + 12.0, top - 25.0))
    on = np.nonzero(e > thr)[0]
    if len(on) == 0:
        return x
    a = max(0, on[0] * hop - int(pad_start * SR))
    b = min(len(x), (on[-1] + 1) * hop + int(pad_end * SR))
    return x[a:b]


def _set_peak(x: np.ndarray, peak_dbfs: float) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak <= 0:
        return x
    return x * (10 ** (peak_dbfs / 20) / peak)


def _write_pcm16(path: str | os.PathLike, x: np.ndarray) -> None:
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")
    sf.write(str(path), pcm, SR, subtype="PCM_16", format="WAV")


def _finish(x: np.ndarray, sr: int, peak_dbfs: float) -> np.ndarray | None:
    """Resample to 16 kHz, remove DC, trim silence, set the level; None for (near) silence."""
    x = _resample(np.asarray(x, dtype=np.float64), sr)
    if len(x) == 0 or not np.isfinite(x).all():
        return None
    x = x - x.mean()
    x = _trim(x)
    if len(x) < int(0.15 * SR) or np.max(np.abs(x)) < 1e-4:
        return None
    return _set_peak(x, peak_dbfs)


def _round(p: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in p.items()}


# ----------------------------------------------------------------------------- tasks

class _Item:
    """One output file to make."""

    __slots__ = ("name", "split", "source", "voice", "language", "licence", "text", "params",
                 "origin", "raw_rate")

    def __init__(self, name, split, source, voice, language, licence, text=None, params=None,
                 origin=None, raw_rate=None):
        self.name, self.split, self.source, self.voice = name, split, source, voice
        self.language, self.licence, self.text = language, licence, text
        self.params = params or {}
        self.origin, self.raw_rate = origin, raw_rate

    @property
    def rel(self) -> str:
        return f"{self.split}/{self.source}/{self.name}.wav"

    def entry(self, seconds: float) -> dict:
        e = {"path": self.rel, "split": self.split, "source": self.source, "voice": self.voice,
             "language": self.language, "seconds": round(seconds, 4), "sample_rate": SR,
             "licence": self.licence, "params": _round(self.params), "text": self.text}
        if self.origin:
            e["origin"] = self.origin
        return e


def _save(item: _Item, out_dir: Path, x: np.ndarray | None) -> dict | None:
    if x is None:
        return None
    _write_pcm16(out_dir / item.rel, x)
    return item.entry(len(x) / SR)


def _synth_one(items: list[_Item], out_dir: Path) -> list[dict | None]:
    """One mbrola / espeak-ng item (festival items go through _synth_festival)."""
    item = items[0]
    p = item.params
    rng = random.Random(f"pho:{item.name}:{p.get('seed')}")
    tmpdir = tempfile.mkdtemp(prefix="telucorpus")
    try:
        raw = os.path.join(tmpdir, "syn.wav")
        try:
            if item.voice == "mbrola_tl1":
                db = MBROLA_DIR + "/tl1/tl1"
                pho = sentence_to_pho(item.text, rng, p["f0"], p["range"], p["rate"],
                                      diphones=_diphones(db))
                run_mbrola(db, pho, raw, tmpdir)
            elif item.voice in ("mbrola_in1", "mbrola_in2"):
                v = item.voice[-3:]
                db = f"{MBROLA_DIR}/{v}/{v}"
                pho = sentence_to_pho(item.text, rng, p["f0"], p["range"], p["rate"],
                                      phone_map=HI_MAP, vowelset=HI_VOWELS, diphones=_diphones(db))
                run_mbrola(db, pho, raw, tmpdir)
            elif item.voice == "espeak_te":
                run_espeak(item.text, p["variant"], p["speed"], p["pitch"], raw)
            x, sr = _read_mono(raw)
        except (subprocess.SubprocessError, OSError, RuntimeError, sf.LibsndfileError):
            return [None]
        return [_save(item, out_dir, _finish(x, sr, p["peak_dbfs"]))]
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _synth_festival(items: list[_Item], out_dir: Path) -> list[dict | None]:
    tmpdir = tempfile.mkdtemp(prefix="telucorpus")
    try:
        outs = [os.path.join(tmpdir, f"f{i}.wav") for i in range(len(items))]
        run_festival([(o, it.text, it.params) for o, it in zip(outs, items)], tmpdir)
        # a crash part-way through a batch loses the rest of it: retry those one by one
        for o, it in zip(outs, items):
            if not os.path.exists(o):
                run_festival([(o, it.text, it.params)], tmpdir)
        res = []
        for o, it in zip(outs, items):
            try:
                x, sr = _read_mono(o)
            except (OSError, RuntimeError, sf.LibsndfileError):
                res.append(None)
                continue
            res.append(_save(it, out_dir, _finish(x, sr, it.params["peak_dbfs"])))
        return res
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _real_file(items: list[_Item], out_dir: Path) -> list[dict | None]:
    """All versions (as recorded, and pitch/tempo variants) of one real recording."""
    first = items[0]
    try:
        x, sr = _read_mono(first.origin, first.raw_rate)
    except (OSError, RuntimeError, sf.LibsndfileError):
        return [None] * len(items)
    x = _resample(x, sr)
    x = x - x.mean() if len(x) else x
    tmpdir = tempfile.mkdtemp(prefix="telucorpus")
    try:
        base = os.path.join(tmpdir, "base.wav")
        res = []
        for it in items:
            p = it.params
            y = x
            if p["pitch_cents"] != 0.0 or p["tempo"] != 1.0:
                if not os.path.exists(base):
                    peak = float(np.max(np.abs(x))) if len(x) else 0.0
                    _write_pcm16(base, x * (0.9 / peak) if peak > 0 else x)
                var = os.path.join(tmpdir, "var.wav")
                try:
                    run_sox_pitch_tempo(base, var, p["pitch_cents"], p["tempo"])
                    y, ysr = _read_mono(var)
                    y = _resample(y, ysr)
                except (subprocess.SubprocessError, OSError, RuntimeError, sf.LibsndfileError):
                    res.append(None)
                    continue
            res.append(_save(it, out_dir, _finish(y, SR, p["peak_dbfs"])))
        return res
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


# ----------------------------------------------------------------------------- real recordings

def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", s)


def klettres_files(languages=None, root: str = KLETTRES_DIR) -> list[dict]:
    """klettres-data recordings: [{path, language, kind, text}] sorted by path."""
    out = []
    rootp = Path(root)
    if not rootp.is_dir():
        return out
    for langdir in sorted(p for p in rootp.iterdir() if p.is_dir()):
        lang = langdir.name
        if languages is not None and lang not in languages:
            continue
        names = {}
        xml = langdir / "sounds.xml"
        if xml.is_file():
            try:
                for el in ET.parse(xml).iter("sound"):
                    if el.get("file") and el.get("name"):
                        names[el.get("file")] = el.get("name")
            except ET.ParseError:
                pass
        for kind in ("alpha", "syllab"):
            for f in sorted((langdir / kind).glob("*.ogg")):
                out.append({"path": str(f), "language": lang, "kind": kind,
                            "text": names.get(f"{lang}/{kind}/{f.name}")})
    return out


def codec2_files(root: str = CODEC2_DIR) -> list[dict]:
    """The real speech recordings of codec2-examples: [{path, raw_rate}]."""
    return [{"path": os.path.join(root, rel), "raw_rate": rate}
            for rel, rate in CODEC2_SPEECH if os.path.isfile(os.path.join(root, rel))]


# ----------------------------------------------------------------------------- plan

def _parse_voices(voices) -> list[tuple[str, float]]:
    if voices is None:
        return [(v, SYNTH_VOICES[v][1]) for v in SYNTH_VOICES]
    if isinstance(voices, str):
        voices = [voices]
    out = []
    for tok in voices:
        for v in str(tok).replace(",", " ").split():
            name, _, w = v.partition("=")
            if name not in SYNTH_VOICES:
                raise TeluCodecError(f"unknown voice {name!r} (choose from "
                                     f"{', '.join(SYNTH_VOICES)}; a weight may follow, "
                                     "e.g. festival_nsk=2)")
            try:
                weight = float(w) if w else SYNTH_VOICES[name][1]
            except ValueError:
                raise TeluCodecError(f"bad weight in {v!r}: expected a number after '='") from None
            if not weight > 0 or not math.isfinite(weight):
                raise TeluCodecError(f"bad weight in {v!r}: must be positive")
            out.append((name, weight))
    return out


def _synth_params(voice: str, rng: random.Random) -> dict:
    if voice == "festival_nsk":
        p = {"f0": rng.uniform(95, 175), "range": rng.uniform(15, 60),
             "stretch": rng.uniform(1.1, 1.6)}
    elif voice in ("mbrola_tl1", "mbrola_in2"):
        p = {"f0": rng.uniform(170, 260), "range": rng.uniform(20, 70),
             "rate": rng.uniform(0.85, 1.25)}
    elif voice == "mbrola_in1":
        p = {"f0": rng.uniform(95, 150), "range": rng.uniform(10, 40),
             "rate": rng.uniform(0.85, 1.25)}
    else:
        p = {"variant": rng.choice(ESPEAK_VARIANTS), "speed": rng.randint(120, 190),
             "pitch": rng.randint(25, 75)}
    p["peak_dbfs"] = rng.uniform(-18.0, -1.0)
    p["seed"] = rng.randrange(2**31)
    return _round(p)


def _real_params(rng: random.Random, variant: int) -> dict:
    if variant == 0:
        p = {"pitch_cents": 0.0, "tempo": 1.0}
    else:
        p = {"pitch_cents": round(rng.uniform(-400.0, 400.0), 1),
             "tempo": round(rng.uniform(0.85, 1.15), 4)}
    p["peak_dbfs"] = rng.uniform(-18.0, -1.0)
    p["variant"] = variant
    return _round(p)


def _round_robin(groups: list[list], limit: int) -> list:
    out, i = [], 0
    while len(out) < limit and any(i < len(g) for g in groups):
        for g in groups:
            if i < len(g) and len(out) < limit:
                out.append(g[i])
        i += 1
    return out


def _check_out(out_dir: Path) -> None:
    """Fail early (before any work) when ``out_dir`` cannot be a writable folder."""
    if out_dir.exists() and not out_dir.is_dir():
        raise TeluCodecError(f"{out_dir}: exists and is not a folder")
    parent = out_dir
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise TeluCodecError(f"{out_dir}: cannot write there ({parent} is not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise TeluCodecError(f"{out_dir}: cannot write there (permission denied on {parent})")


def _prepare_out(out_dir: Path) -> None:
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise TeluCodecError(f"{out_dir}: exists and is not a folder")
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "manifest.jsonl").unlink(missing_ok=True)
        for sub in ("train", "heldout"):
            if (out_dir / sub).exists():
                shutil.rmtree(out_dir / sub)
        probe = out_dir / ".telucodec_write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except TeluCodecError:
        raise
    except OSError as exc:
        raise TeluCodecError(f"{out_dir}: cannot write there ({exc.strerror or exc})") from None


# ----------------------------------------------------------------------------- public API

def build_corpus(out_dir: str | os.PathLike, num_utterances: int, seed: int = 0, voices=None,
                 text_file: str | os.PathLike | None = None, include_real: bool = True,
                 heldout_voices=DEFAULT_HELDOUT_VOICES, heldout_languages=DEFAULT_HELDOUT_LANGUAGES,
                 max_real_files: int | None = None, real_variants: int = 2,
                 klettres_languages=None, p_phrase: float | None = None, jobs: int = 1,
                 verbose: bool = True) -> dict:
    """Build the corpus in ``out_dir`` (its ``train/``, ``heldout/`` and ``manifest.jsonl`` are
    replaced) and return a summary ``{files, seconds, splits: {split: {source: {files,
    seconds}}}, voices_used, voices_skipped, failed, warnings, elapsed_s}``.

    ``voices``: synthetic voices to use (names, optionally ``name=weight``), default all that are
    installed. ``max_real_files``: at most this many real recordings (taken round-robin over
    speakers, held-out ones first), for quick runs. ``real_variants``: pitch/tempo-varied copies
    made of each real training recording besides the one as recorded.
    """
    out_dir = Path(out_dir)
    t0 = time.time()
    if num_utterances < 0:
        raise TeluCodecError(f"--num must be 0 or more, got {num_utterances}")
    if real_variants < 0:
        raise TeluCodecError(f"real_variants must be 0 or more, got {real_variants}")
    if jobs < 1:
        raise TeluCodecError(f"--jobs must be 1 or more, got {jobs}")
    out_dir = out_dir.expanduser()
    _check_out(out_dir)
    heldout_voices = set(heldout_voices or ())
    heldout_languages = set(heldout_languages or ())
    warnings: list[str] = []

    # -- synthetic voices and text
    wanted = _parse_voices(voices)
    used = [(v, w) for v, w in wanted if voice_available(v)]
    skipped = [v for v, _ in wanted if not voice_available(v)]
    for v in skipped:
        _warn(f"voice {v} is not installed, skipped (needs {' '.join(SYNTH_VOICES[v][0])}; "
              "see --install-deps)", warnings)
    items_synth: list[_Item] = []
    if num_utterances > 0:
        if not used:
            raise TeluCodecError("no Telugu voice is installed (need festival + festvox-te-nsk, "
                                 "espeak-ng, or mbrola + mbrola-tl1; run with --install-deps "
                                 "as root)")
        words = load_wordlist()
        phrases = load_phrases(text_file)
        if not words and not phrases:
            raise TeluCodecError("no Telugu text found (install aspell-te / festival-te or "
                                 "pass --text FILE)")
        if p_phrase is None:
            p_phrase = 0.85 if text_file is not None else 0.5 * min(1.0, len(phrases) / 500.0)
        if not words:
            p_phrase = 1.0
        # held-out voices read sentences the training voices never read (when there are enough)
        if len(phrases) >= 200:
            phrases_ho = phrases[::20]
            phrases_tr = [p for i, p in enumerate(phrases) if i % 20]
        else:
            phrases_ho = phrases_tr = phrases
        if verbose:
            _log(f"text: {len(phrases)} phrases, {len(words)} words, p_phrase={p_phrase:.3f}; "
                 f"voices: {', '.join(v for v, _ in used)}")
        plan_rng = random.Random(f"telucodec-corpus:{seed}")
        names, weights = [v for v, _ in used], [w for _, w in used]
        for i in range(num_utterances):
            v = plan_rng.choices(names, weights)[0]
            name = f"{v}_{i:06d}"
            rng = random.Random(f"{seed}:{name}")
            split = "heldout" if (v in heldout_voices or "te" in heldout_languages) else "train"
            pool = phrases_ho if split == "heldout" else phrases_tr
            text = make_sentence(rng, pool, words, p_phrase)
            items_synth.append(_Item(name, split, v, v, "te", SYNTH_VOICES[v][2], text,
                                     _synth_params(v, rng)))

    # -- real recordings
    real_groups: list[list[_Item]] = []  # one list per recording (its versions)
    if include_real:
        if real_variants and not shutil.which("sox"):
            _warn("sox is not installed: real recordings are used as recorded only, without "
                  "pitch/tempo variants", warnings)
            real_variants = 0
        kl = klettres_files(klettres_languages)
        c2 = codec2_files()
        if not kl:
            _warn(f"klettres-data is not installed ({KLETTRES_DIR}), no klettres recordings",
                  warnings)
        if not c2:
            _warn(f"codec2-examples is not installed ({CODEC2_DIR}), no codec2 recordings",
                  warnings)
        by_speaker: dict[tuple, list[dict]] = {}
        for f in kl:
            key = ("klettres", f["language"])
            by_speaker.setdefault(key, []).append(dict(f, source="klettres"))
        for f in c2:
            key = ("codec2", "en")
            by_speaker.setdefault(key, []).append(dict(f, source="codec2", language="en"))
        speakers = sorted(by_speaker, key=lambda k: (
            not (k[1] in heldout_languages or f"{k[0]}_{k[1]}" in heldout_voices), k))
        if max_real_files is not None:
            chosen = _round_robin([by_speaker[k] for k in speakers], max_real_files)
        else:
            chosen = [f for k in speakers for f in by_speaker[k]]
        for f in sorted(chosen, key=lambda f: f["path"]):
            src, lang = f["source"], f["language"]
            if src == "klettres":
                voice = f"klettres_{lang}"
                stem = f"{lang}_{f['kind']}_{_safe(Path(f['path']).stem)}"
                licence, raw_rate, text = KLETTRES_LICENCE, None, f["text"]
            else:
                stem = _safe(Path(f["path"]).stem)
                voice = f"codec2_{stem}"
                licence, raw_rate, text = CODEC2_LICENCE, f["raw_rate"], None
            split = "heldout" if (lang in heldout_languages or voice in heldout_voices) else "train"
            n_var = 1 if split == "heldout" else 1 + real_variants
            group = []
            for k in range(n_var):
                rng = random.Random(f"{seed}:{stem}:v{k}")
                group.append(_Item(f"{stem}_v{k}", split, src, voice, lang, licence, text,
                                   _real_params(rng, k), origin=f["path"], raw_rate=raw_rate))
            real_groups.append(group)

    all_rel = [it.rel for it in items_synth] + [it.rel for g in real_groups for it in g]
    if len(set(all_rel)) != len(all_rel):  # two source files mapping to one name
        raise TeluCodecError("internal error: duplicate output names in the corpus plan")

    # -- write
    _prepare_out(out_dir)
    for rel in {str(Path(r).parent) for r in all_rel}:
        (out_dir / rel).mkdir(parents=True, exist_ok=True)
    tasks: list[tuple] = []
    fest = [it for it in items_synth if it.voice == "festival_nsk"]
    for s in range(0, len(fest), 40):
        tasks.append((_synth_festival, fest[s:s + 40]))
    tasks += [(_synth_one, [it]) for it in items_synth if it.voice != "festival_nsk"]
    tasks += [(_real_file, g) for g in real_groups]

    entries: list[dict] = []
    failed: list[str] = []
    total = sum(len(t[1]) for t in tasks)
    done, last_report = 0, time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(fn, its, out_dir): its for fn, its in tasks}
        for fut in concurrent.futures.as_completed(futures):
            its = futures[fut]
            for it, e in zip(its, fut.result()):
                if e is None:
                    failed.append(it.rel)
                else:
                    entries.append(e)
            done += len(its)
            if verbose and (time.time() - last_report > 15 or done == total):
                last_report = time.time()
                _log(f"corpus: {done}/{total} files ({time.time() - t0:.0f} s)")
    if failed:
        _warn(f"{len(failed)} of {total} files could not be made and were left out "
              f"(e.g. {failed[0]})", warnings)
    if not entries:
        raise TeluCodecError("nothing was written: no utterance could be synthesized and no real "
                             "recording was found")
    entries.sort(key=lambda e: e["path"])
    with open(out_dir / "manifest.jsonl", "w", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n")

    splits: dict = {}
    for e in entries:
        s = splits.setdefault(e["split"], {}).setdefault(e["source"], {"files": 0, "seconds": 0.0})
        s["files"] += 1
        s["seconds"] += e["seconds"]
    for sp in splits.values():
        for s in sp.values():
            s["seconds"] = round(s["seconds"], 2)
    return {"out_dir": str(out_dir), "files": len(entries),
            "seconds": round(sum(e["seconds"] for e in entries), 2), "splits": splits,
            "voices_used": [v for v, _ in used], "voices_skipped": skipped,
            "failed": len(failed), "warnings": warnings, "elapsed_s": round(time.time() - t0, 1)}


def make_demo_clip(path: str | os.PathLike) -> float:
    """Write a fixed ~5 s Telugu sentence spoken by the festival NSK voice (Debian main, GPL-2+)
    to ``path`` (16 kHz mono PCM16 WAV, deterministic). Returns its length in seconds."""
    if not voice_available("festival_nsk"):
        raise TeluCodecError("the demo clip needs festival + festival-te + festvox-te-nsk "
                             "(apt-get install festival festival-te festvox-te-nsk)")
    path = Path(path)
    tmpdir = tempfile.mkdtemp(prefix="telucorpus")
    try:
        raw = os.path.join(tmpdir, "demo.wav")
        run_festival([(raw, DEMO_SENTENCE, DEMO_PARAMS)], tmpdir)
        try:
            x, sr = _read_mono(raw)
        except (OSError, RuntimeError, sf.LibsndfileError):
            raise TeluCodecError("festival failed to synthesize the demo sentence") from None
        y = _finish(x, sr, -3.0)
        if y is None:
            raise TeluCodecError("festival produced silence for the demo sentence")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = os.path.join(tmpdir, "out.wav")
            _write_pcm16(tmp, y)
            shutil.move(tmp, path)
        except OSError as exc:
            raise TeluCodecError(f"{path}: cannot write ({exc.strerror or exc})") from None
        return len(y) / SR
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def install_deps(nonfree: bool = True) -> None:
    """apt-get install the voices, sox, aspell-te and the real-speech packages (needs root).

    The MBROLA voices are in Debian non-free (mbrola itself in contrib): a sources entry for
    contrib + non-free on the mirror already configured is added when they are not available.
    A failure to install them is a warning; a failure on the main packages is an error.
    """
    if not shutil.which("apt-get"):
        raise TeluCodecError("--install-deps needs apt-get (Debian/Ubuntu)")
    if os.geteuid() != 0:
        raise TeluCodecError("--install-deps needs root (run as root or install the packages: "
                             + " ".join(APT_PACKAGES + APT_NONFREE_PACKAGES) + ")")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "-y", "-qq"]

    def call(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(args, env=env, capture_output=True, text=True)

    if nonfree:
        pol = call(["apt-cache", "policy", "mbrola-tl1"]).stdout
        if not re.search(r"Candidate: [0-9]", pol):
            _add_contrib_nonfree()
    r = call(apt[:3] + ["update", "-qq"])
    if r.returncode != 0:
        _warn("apt-get update failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])
    r = call(apt + ["install"] + list(APT_PACKAGES))
    if r.returncode != 0:
        raise TeluCodecError("apt-get install failed: "
                             + (r.stderr.strip().splitlines() or ["?"])[-1])
    if nonfree:
        r = call(apt + ["install"] + list(APT_NONFREE_PACKAGES))
        if r.returncode != 0:
            _warn("could not install the MBROLA voices (contrib/non-free): "
                  + (r.stderr.strip().splitlines() or ["?"])[-1])


def _add_contrib_nonfree() -> None:
    osrel = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            k, _, v = line.partition("=")
            osrel[k] = v.strip('"')
    except OSError:
        return
    codename = osrel.get("VERSION_CODENAME")
    if osrel.get("ID") != "debian" or not codename:
        _warn("not Debian: add the repository that has mbrola-tl1 yourself (multiverse on Ubuntu)")
        return
    uri = None
    deb_sources = Path("/etc/apt/sources.list.d/debian.sources")
    if deb_sources.is_file():
        m = re.search(r"^URIs:\s*(\S+)", deb_sources.read_text(), re.M)
        uri = m.group(1) if m else None
    if uri is None and Path("/etc/apt/sources.list").is_file():
        text = Path("/etc/apt/sources.list").read_text()
        m = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M)
        uri = m.group(1) if m else None
    uri = uri or "http://deb.debian.org/debian"
    Path("/etc/apt/sources.list.d/contrib-nonfree.sources").write_text(
        f"Types: deb\nURIs: {uri}\nSuites: {codename}\nComponents: contrib non-free\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")


# ----------------------------------------------------------------------------- CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``telucodec corpus``."""
    parser.add_argument("out_dir", metavar="OUT_DIR",
                        help="output folder (its train/, heldout/ and manifest.jsonl are replaced)")
    parser.add_argument("--num", type=int, default=1500,
                        help="number of synthetic utterances, held-out voices included "
                             "(default 1500)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--voices", nargs="+", default=None, metavar="VOICE",
                        help="synthetic voices, optionally with a sampling weight as NAME=W "
                             f"(default: all installed of {', '.join(SYNTH_VOICES)})")
    parser.add_argument("--text", default=None, metavar="FILE",
                        help="UTF-8 Telugu sentences, one a line (default: festival-te's sample "
                             "text and the aspell-te word list)")
    parser.add_argument("--no-real", action="store_true",
                        help="leave out the real recordings (klettres-data, codec2-examples)")
    parser.add_argument("--max-real-files", type=int, default=None, metavar="N",
                        help="use at most N real recordings (for quick runs)")
    parser.add_argument("--real-variants", type=int, default=2, metavar="K",
                        help="pitch/tempo-varied copies of each real training recording "
                             "(default 2)")
    parser.add_argument("--heldout-voices", nargs="*", default=list(DEFAULT_HELDOUT_VOICES),
                        metavar="VOICE",
                        help="voices written to heldout/ only: synthetic voice names, or "
                             "klettres_<lang> / codec2_<name> (default: mbrola_in2)")
    parser.add_argument("--heldout-languages", nargs="*", default=list(DEFAULT_HELDOUT_LANGUAGES),
                        metavar="LANG",
                        help="languages of real recordings written to heldout/ only (default: ml)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel workers (default 1)")
    parser.add_argument("--install-deps", action="store_true",
                        help="apt-get install the voices and recordings first (root)")
    parser.add_argument("--demo-clip", default=None, metavar="WAV",
                        help="also write the fixed demo clip (festival NSK) to WAV")


def format_summary(summary: dict) -> str:
    lines = [f"{'split':8} {'source':14} {'files':>6} {'hours':>7}"]
    for split in sorted(summary["splits"]):
        for src, s in sorted(summary["splits"][split].items()):
            lines.append(f"{split:8} {src:14} {s['files']:6d} {s['seconds'] / 3600:7.3f}")
    lines.append(f"{'total':23} {summary['files']:6d} {summary['seconds'] / 3600:7.3f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``telucodec corpus`` with parsed ``args``; raises TeluCodecError on bad input."""
    if args.install_deps:
        install_deps()
    summary = build_corpus(args.out_dir, args.num, seed=args.seed, voices=args.voices,
                           text_file=args.text, include_real=not args.no_real,
                           heldout_voices=args.heldout_voices,
                           heldout_languages=args.heldout_languages,
                           max_real_files=args.max_real_files, real_variants=args.real_variants,
                           jobs=args.jobs)
    print(format_summary(summary))
    print(f"wrote {summary['files']} files ({summary['seconds'] / 3600:.2f} h) and manifest.jsonl "
          f"to {summary['out_dir']} in {summary['elapsed_s']:.0f} s")
    if getattr(args, "demo_clip", None):
        secs = make_demo_clip(args.demo_clip)
        print(f"wrote demo clip {args.demo_clip} ({secs:.2f} s)")
    return 0
