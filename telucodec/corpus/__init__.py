"""Offline, deterministic training-corpus builder (synthetic Telugu + real recordings).

No model or dataset hub is reachable from the machines this project trains on, so the corpus is
made from Debian packages, plus any folder of real recordings you have (``--real-dir``).

Synthetic Telugu (text: Telugu sentences from ``--text FILE``, else festival-te's sample text,
mixed with random word sequences from the aspell-te word list):

=============  =====================================================  ==============================
source         Debian packages                                        notes
=============  =====================================================  ==============================
festival_nsk   festival festival-te festvox-te-nsk (main, GPL-2+)     male LPC diphone voice; the
                                                                      ``Int_Method`` fix is applied
mbrola_tl1     mbrola (contrib) mbrola-tl1 (non-free)                 female diphone voice, driven
                                                                      by the G2P in ``g2p``
espeak_te      espeak-ng (main, GPL-3+)                               formant synthesis, 12 variants
mbrola_in1/2   mbrola mbrola-in1 / mbrola-in2 (non-free)              Hindi voices via a phone map
=============  =====================================================  ==============================

Real human speech: ``klettres-data`` (letters and syllables, one native speaker per language,
``/usr/share/klettres/<lang>/{alpha,syllab}/*.ogg``, GPL-2+) and ``codec2-examples`` (English
recordings, ``/usr/share/codec2/{raw,wav}``, LGPL-2.1; modem/sine test signals, codec-processed
copies and duplicates are left out). Each real training file is written once as recorded
(resampled, trimmed, level set) and ``real_variants`` more times with sox pitch/tempo changes.
A ``--real-dir`` folder lists its recordings in ``files.tsv`` (path, language, speaker,
seconds, licence); they are written as recorded only unless ``--real-dir-variants`` asks.

Held out by default: the synthetic voice ``mbrola_in2`` and klettres' Malayalam (``ml``) speaker
go to ``OUT/heldout/``, never to ``OUT/train/``; of a ``--real-dir``, whole speakers
(``real.heldout_real_speakers``).

Layout: ``OUT/{train,heldout}/<source>/<name>.wav`` (16 kHz mono PCM16) and ``OUT/manifest.jsonl``
(one JSON object per file, sorted by path). Everything random is drawn from ``seed``: the same
seed with the same installed packages gives byte-identical output.

Modules: ``text`` (sentences), ``g2p`` and ``prosody`` (MBROLA input), ``voices`` (the
synthesizers), ``clip`` (trim and level), ``real`` (where recordings are), ``plan`` (what to
make, the held-out rules), ``render`` (making one file), ``build`` (build_corpus), ``apt``
(``--install-deps``), ``cli``. External programs: festival, mbrola, espeak-ng, sox, aspell.
"""
from .apt import APT_NONFREE_PACKAGES, APT_PACKAGES, install_deps
from .build import build_corpus
from .cli import add_arguments, format_summary, run
from .g2p import word_to_phones
from .plan import (DEFAULT_HELDOUT_LANGUAGES, DEFAULT_HELDOUT_VOICES, HeldOut, Item,
                   parse_voices)
from .prosody import mbrola_diphones, sentence_to_pho
from .real import codec2_files, heldout_real_speakers, klettres_files, read_real_dir
from .render import DEMO_SENTENCE, make_demo_clip
from .text import clean_line, load_phrases, load_wordlist, make_sentence
from .voices import SYNTH_VOICES, voice_available

__all__ = [
    "APT_NONFREE_PACKAGES", "APT_PACKAGES", "DEFAULT_HELDOUT_LANGUAGES", "DEFAULT_HELDOUT_VOICES",
    "DEMO_SENTENCE", "SYNTH_VOICES", "HeldOut", "Item", "add_arguments", "build_corpus",
    "clean_line", "codec2_files", "format_summary", "heldout_real_speakers", "install_deps",
    "klettres_files", "load_phrases", "load_wordlist", "make_demo_clip", "make_sentence",
    "mbrola_diphones", "parse_voices", "read_real_dir", "run", "sentence_to_pho",
    "voice_available", "word_to_phones",
]
