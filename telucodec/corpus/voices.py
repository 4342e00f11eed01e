"""The synthetic Telugu voices: what each needs, its parameter ranges, and the programs that
speak (festival with a Scheme prelude, mbrola, espeak-ng; sox for pitch/tempo variants)."""
from __future__ import annotations

import functools
import os
import random
import shutil
import subprocess
from dataclasses import dataclass

from .prosody import mbrola_diphones

NSK_DIR = "/usr/share/festival/voices/telugu/telugu_NSK_diphone"
MBROLA_DIR = "/usr/share/mbrola"


@dataclass(frozen=True)
class SynthVoice:
    """A synthetic voice: the programs (names) and data files (absolute paths) it needs, its
    default sampling weight and the licence of its voice data."""
    requires: tuple[str, ...]
    weight: float
    licence: str


SYNTH_VOICES = {
    "festival_nsk": SynthVoice(("festival", NSK_DIR), 1.0, "GPL-2+ (Debian festvox-te-nsk)"),
    "mbrola_tl1": SynthVoice(("mbrola", MBROLA_DIR + "/tl1/tl1"), 1.0,
                             "MBROLA TL1 licence, non-commercial (Debian non-free mbrola-tl1)"),
    "espeak_te": SynthVoice(("espeak-ng",), 0.6, "GPL-3+ (Debian espeak-ng)"),
    "mbrola_in1": SynthVoice(("mbrola", MBROLA_DIR + "/in1/in1"), 0.5,
                             "MBROLA IN1 licence, non-commercial (Debian non-free mbrola-in1)"),
    "mbrola_in2": SynthVoice(("mbrola", MBROLA_DIR + "/in2/in2"), 0.4,
                             "MBROLA IN2 licence, non-commercial (Debian non-free mbrola-in2)"),
}
ESPEAK_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4")


def voice_available(voice: str) -> bool:
    """True when the programs and data files the synthetic ``voice`` needs are installed.
    Raises KeyError for a name not in SYNTH_VOICES."""
    return all(os.path.exists(req) if req.startswith("/") else shutil.which(req)
               for req in SYNTH_VOICES[voice].requires)


def mbrola_database(voice: str) -> str:
    """Path of the MBROLA database of ``voice`` (``mbrola_tl1`` -> .../tl1/tl1)."""
    name = voice.removeprefix("mbrola_")
    return f"{MBROLA_DIR}/{name}/{name}"


def round_params(params: dict) -> dict:
    """``params`` with floats rounded to 4 decimals (what the manifest records and uses)."""
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in params.items()}


def synth_params(voice: str, rng: random.Random) -> dict:
    """Random speaking parameters of one utterance by ``voice``: F0 base and range in Hz and a
    duration factor (festival, mbrola) or an espeak-ng variant, speed and pitch; the output
    peak in dBFS and a seed for the prosody."""
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
    return round_params(p)


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
    """Synthesize ``[(out_wav, text, params)]`` with the NSK voice in one festival process
    (params: ``f0``, ``range`` in Hz, ``stretch``). An utterance festival fails on leaves no
    output file; a hung festival is given up on silently."""
    lines = [FESTIVAL_PRELUDE]
    for out, text, p in jobs:
        lines.append("(set! te_f0_base %.2f) (set! te_f0_range %.2f) "
                     "(Parameter.set 'Duration_Stretch %.4f)" % (p["f0"], p["range"], p["stretch"]))
        # unwind-protect: one utterance festival cannot say must not end the batch
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


@functools.lru_cache(maxsize=None)
def database_diphones(db: str) -> frozenset[tuple[str, str]] | None:
    """mbrola_diphones(db), read once per process."""
    found = mbrola_diphones(db)
    return None if found is None else frozenset(found)


def run_mbrola(db: str, pho_text: str, out: str, tmpdir: str) -> None:
    """Speak ``pho_text`` with the MBROLA database ``db`` into the WAV ``out``.
    Raises subprocess.SubprocessError or OSError when mbrola fails."""
    pho = os.path.join(tmpdir, "u.pho")
    with open(pho, "w", encoding="latin1") as f:
        f.write(pho_text)
    subprocess.run(["mbrola", "-e", db, pho, out], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=120)


def run_espeak(text: str, variant: str, speed: int, pitch: int, out: str) -> None:
    """Speak ``text`` with espeak-ng's Telugu voice (``variant`` e.g. ``m3``, ``speed`` in words
    a minute, ``pitch`` 0-99) into the WAV ``out``. Raises subprocess.SubprocessError or
    OSError when espeak-ng fails."""
    voice = "te" + ("+" + variant if variant else "")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", out, text],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def run_sox_pitch_tempo(src: str, dst: str, cents: float, tempo: float) -> None:
    """Pitch shift ``src`` by ``cents`` and time-stretch it by ``tempo`` (WSOLA, speech mode)
    into the 16-bit file ``dst``; no dither. Raises subprocess.SubprocessError or OSError."""
    subprocess.run(["sox", "-V1", "-D", src, "-b", "16", dst, "pitch", "%.1f" % cents,
                    "tempo", "-s", "%.4f" % tempo], check=True, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
