"""Corpus builder's pure parts, without festival, espeak-ng, mbrola or sox: text cleaning, G2P,
MBROLA prosody, voice weights, the held-out rules and the plan."""
from __future__ import annotations

import random
import re
import struct

import pytest

from telucodec.corpus import g2p, plan, prosody, real, text
from telucodec.corpus.cli import format_summary
from telucodec.errors import TeluCodecError

PHRASES = [f"తెలుగు భాష వాక్యం {chr(0x0C15 + i % 20)}ల" for i in range(240)]
WORDS = ("అమ్మ", "నాన్న", "ఇల్లు", "పుస్తకం", "నీరు")


def test_clean_line_keeps_telugu_and_punctuation_only():
    assert text.clean_line("తెలుగు, భాష!! hello %s world") == "తెలుగు, భాష"
    assert text.clean_line("\u200cతెలుగు   భాష .") == "తెలుగు భాష"
    assert text.clean_line("తెలుగు only") is None           # one Telugu word
    assert text.clean_line("ా తెలుగు భాష") is None           # starts with a vowel sign
    assert text.clean_line("plain English text") is None


def test_load_phrases_from_a_file(tmp_path):
    good = tmp_path / "te.tsv"
    good.write_text("id\tమన దేశం\nhello\nమన దేశం\nఒక రెండు మూడు\n", encoding="utf-8")
    assert text.load_phrases(good) == sorted({"మన దేశం", "ఒక రెండు మూడు"})
    with pytest.raises(TeluCodecError, match="no such text file"):
        text.load_phrases(tmp_path / "missing.txt")
    latin = tmp_path / "latin.txt"
    latin.write_text("only latin\n")
    with pytest.raises(TeluCodecError, match="no usable Telugu"):
        text.load_phrases(latin)
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(TeluCodecError, match="cannot read as UTF-8"):
        text.load_phrases(binary)


def test_make_sentence_is_seeded_and_ends_a_sentence():
    made = [text.make_sentence(random.Random(7), PHRASES, WORDS, 0.5) for _ in range(2)]
    assert made[0] == made[1] and made[0][-1] in ".?"
    words_only = text.make_sentence(random.Random(3), [], WORDS, 0.0)
    assert set(re.findall(r"[\u0C00-\u0C7F]+", words_only)) <= set(WORDS)
    phrases_only = text.make_sentence(random.Random(3), ["మన దేశం"], (), 0.0)
    assert "మన దేశం" in phrases_only


@pytest.mark.parametrize("word, phones", [
    ("తెలుగు", ["t", "e", "l", "u", "g", "u"]),          # vowel signs
    ("అమ్మ", ["a", "m", "m", "a"]),                       # virama, inherent a
    ("సంక", ["s", "a", "n~", "k", "a"]),                  # anusvara before a velar
    ("కంచె", ["k", "a", "N~", "c", "e"]),                 # ... before a palatal
    ("సంస్కృతం", ["s", "a", "n", "s", "k", "R", "t", "a", "m"]),  # ... before s; word-final m
    ("దుఃఖం", ["d", "u", "h", "kh", "a", "m"]),           # visarga
    ("ఙ", ["n", "a"]),                                    # velar nasal only before a stop
    ("abc", []),
])
def test_word_to_phones(word, phones):
    assert g2p.word_to_phones(word) == phones


def _pho(sentence: str, seed: int = 0, **kw) -> list[list[str]]:
    pho = prosody.sentence_to_pho(sentence, random.Random(seed), 150.0, 30.0, 1.0, **kw)
    return [line.split() for line in pho.splitlines()]


def test_sentence_to_pho_shape_and_intonation():
    lines = _pho("తెలుగు భాష?")
    assert lines == _pho("తెలుగు భాష?") and lines != _pho("తెలుగు భాష?", seed=1)
    assert lines[0][0] == lines[-1][0] == "_"
    phones = [line[0] for line in lines if line[0] != "_"]
    assert phones == g2p.word_to_phones("తెలుగు") + g2p.word_to_phones("భాష")
    for line in lines:
        assert int(line[1]) > 0 and len(line) in (2, 6)
        if line[0] in g2p.TL1_VOWELS:
            assert line[2:5:2] == ["10", "90"]
    last_vowel = [line for line in lines if line[0] in g2p.TL1_VOWELS][-1]
    assert int(last_vowel[5]) > int(last_vowel[3])          # a question rises at the end
    falling = [line for line in _pho("తెలుగు భాష.") if line[0] in g2p.TL1_VOWELS][-1]
    assert int(falling[5]) < int(falling[3])


def test_sentence_to_pho_phone_map_and_missing_diphones():
    hindi = _pho("తెలుగు భాష", phone_map=g2p.HI_MAP, vowelset=g2p.HI_VOWELS)
    assert "uu" in [line[0] for line in hindi] and "u" not in [line[0] for line in hindi]
    plain = [line[0] for line in _pho("అమ్మ")]
    bridged = [line[0] for line in _pho("అమ్మ", diphones={("a", "m"), ("m", "a")})]
    assert bridged == plain[:3] + ["_"] + plain[3:]         # no (m, m) diphone: a short pause


def test_base_duration_ms():
    assert prosody.base_duration_ms("a:") > prosody.base_duration_ms("a") > \
        prosody.base_duration_ms("r")


def test_mbrola_diphones_reads_the_table(tmp_path):
    pairs = [("_", "a"), ("a", "m")]
    body = b"".join(left.encode() + b"\0" + right.encode() + b"\0" + b"\0" * 4
                    for left, right in pairs)
    header = b"MBROLA" + b"\0" * 5 + struct.pack("<h", len(pairs))
    db = tmp_path / "db"
    db.write_bytes(header.ljust(0x1B, b"\0") + body)
    assert prosody.mbrola_diphones(str(db)) == set(pairs)
    db.write_bytes(b"RIFF" + b"\0" * 40)
    assert prosody.mbrola_diphones(str(db)) is None


def test_parse_voices():
    assert plan.parse_voices(["festival_nsk=2,espeak_te", "mbrola_tl1=0.5"]) == [
        ("festival_nsk", 2.0), ("espeak_te", 0.6), ("mbrola_tl1", 0.5)]
    assert plan.parse_voices("espeak_te") == [("espeak_te", 0.6)]
    assert [v for v, _ in plan.parse_voices(None)] == list(plan.SYNTH_VOICES)
    for bad, message in [("nosuch", "unknown voice"), ("espeak_te=x", "expected a number"),
                         ("espeak_te=0", "must be positive"), ("espeak_te=inf", "positive"),
                         ("espeak_te=nan", "positive")]:
        with pytest.raises(TeluCodecError, match=message):
            plan.parse_voices([bad])


def test_heldout_rule():
    rule = plan.HeldOut(frozenset({"mbrola_in2"}), frozenset({"ml"}))
    assert rule.split("mbrola_in2", "te") == rule.split("klettres_ml", "ml") == "heldout"
    assert rule.split("festival_nsk", "te") == rule.split("klettres_en", "en") == "train"
    assert plan.HeldOut().split("mbrola_in2", "te") == "heldout"   # the defaults


def test_heldout_real_speakers_is_the_sha1_rule():
    speakers = [f"spk{i:03d}" for i in range(1, 11)] + ["story_reader", "en_reader"]
    # pinned: training runs elsewhere hold out exactly these
    assert real.heldout_real_speakers(speakers, 3) == {"spk002", "spk006", "spk001"}
    assert real.heldout_real_speakers(reversed(speakers), 3) == {"spk002", "spk006", "spk001"}
    assert real.heldout_real_speakers(speakers, 100) == set(speakers[:10])
    assert real.heldout_real_speakers(speakers, 0) == set()


def test_plan_synthetic_is_seeded_and_keeps_heldout_apart():
    texts = plan.Texts(PHRASES, WORDS, 1.0)
    voices = [("festival_nsk", 1.0), ("espeak_te", 1.0)]
    rule = plan.HeldOut(frozenset({"espeak_te"}), frozenset())
    items = plan.plan_synthetic(40, 3, voices, rule, texts)
    assert items == plan.plan_synthetic(40, 3, voices, rule, texts)
    assert items != plan.plan_synthetic(40, 4, voices, rule, texts)
    assert {it.voice for it in items} == {"festival_nsk", "espeak_te"}
    for it in items:
        assert it.split == ("heldout" if it.voice == "espeak_te" else "train")
        assert it.rel == f"{it.split}/{it.voice}/{it.name}.wav" and it.language == "te"
    assert texts.phrases_for("heldout") == PHRASES[::20]
    assert not set(texts.phrases_for("heldout")) & set(texts.phrases_for("train"))


def _recording(source: str, language: str, stem: str) -> plan.Recording:
    return plan.Recording(f"/r/{source}/{stem}", source, stem, f"{source}_{language}", language,
                          "GPL")


def test_plan_debian_real_limits_round_robin_heldout_first():
    recs = [_recording("klettres", lang, f"{lang}{i}") for lang in ("de", "ml") for i in range(3)]
    groups = plan.plan_debian_real(recs, plan.HeldOut(), 3, 2, seed=0)
    chosen = [g[0].name for g in groups]
    assert sorted(chosen) == ["de0_v0", "ml0_v0", "ml1_v0"]  # held-out speaker first, then turns
    for group in groups:
        variants = [it.params["variant"] for it in group]
        assert variants == ([0] if group[0].split == "heldout" else [0, 1, 2])
        assert (group[0].split == "heldout") == (group[0].language == "ml")
    assert groups == plan.plan_debian_real(recs, plan.HeldOut(), 3, 2, seed=0)
    assert len(plan.plan_debian_real(recs, plan.HeldOut(), None, 0, seed=0)) == 6


def test_format_summary_counts_failures():
    summary = {"files": 3, "seconds": 7200.0, "failed": 1, "splits": {
        "train": {"real_malayalam_msc": {"files": 2, "seconds": 3600.0}},
        "heldout": {"espeak_te": {"files": 1, "seconds": 3600.0}}}}
    table = format_summary(summary).splitlines()
    assert table[1].split() == ["heldout", "espeak_te", "1", "1.000"]
    assert table[2].split() == ["train", "real_malayalam_msc", "2", "1.000"]
    assert table[-2].split()[-1] == "1" and table[-1].split() == ["total", "3", "2.000"]
