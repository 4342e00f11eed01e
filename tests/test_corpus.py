"""Corpus builder: layout, manifest, 16 kHz mono PCM16, held-out split, determinism, errors.

Needs the Debian packages festival festival-te festvox-te-nsk espeak-ng sox aspell aspell-te
(and klettres-data codec2-examples for the real-recording checks); skipped without a voice.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import soundfile as sf

import telucodec
from telucodec import corpus
from telucodec.errors import TeluCodecError

VOICES = [v for v in ("festival_nsk", "espeak_te") if corpus.voice_available(v)]
pytestmark = pytest.mark.skipif(
    not VOICES, reason="needs festival + festival-te + festvox-te-nsk or espeak-ng (apt)")
HAVE_KLETTRES = bool(corpus.klettres_files(["ml"]))
HAVE_CODEC2 = bool(corpus.codec2_files())
MANIFEST_KEYS = {"path", "split", "source", "voice", "language", "seconds", "sample_rate",
                 "licence", "params", "text"}


def _build(out, **kw):
    args = dict(num_utterances=4, seed=0, max_real_files=4, real_variants=1, verbose=False)
    args.update(kw)
    return corpus.build_corpus(out, **args)


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text("utf-8").splitlines()]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "c"
    return out, _build(out)


def test_layout_and_manifest(tiny):
    out, summary = tiny
    entries = _manifest(out)
    assert entries and len(entries) == summary["files"]
    wavs = sorted(str(p.relative_to(out)) for p in out.rglob("*.wav"))
    assert wavs == sorted(e["path"] for e in entries)
    assert [e["path"] for e in entries] == sorted(e["path"] for e in entries)
    synth = [e for e in entries if e["source"] in corpus.SYNTH_VOICES]
    assert len(synth) == 4
    for e in entries:
        assert MANIFEST_KEYS <= set(e), e
        split, source, name = e["path"].split("/")
        assert split == e["split"] in ("train", "heldout") and source == e["source"]
        assert name.endswith(".wav") and e["licence"] and e["sample_rate"] == 16000
        info = sf.info(str(out / e["path"]))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert abs(info.duration - e["seconds"]) < 1e-3 and e["seconds"] >= 0.15
    for e in synth:
        assert e["language"] == "te" and e["voice"] == e["source"] and e["text"]
        assert "peak_dbfs" in e["params"]
    total = sum(s["seconds"] for sp in summary["splits"].values() for s in sp.values())
    assert abs(total - summary["seconds"]) < 0.05


@pytest.mark.skipif(not (HAVE_KLETTRES and HAVE_CODEC2),
                    reason="needs klettres-data and codec2-examples (apt)")
def test_real_recordings_and_default_heldout(tiny):
    out, _ = tiny
    entries = _manifest(out)
    real = [e for e in entries if e["source"] in ("klettres", "codec2")]
    assert len({e["origin"] for e in real}) == 4  # max_real_files
    train = [e for e in entries if e["split"] == "train"]
    assert not [e for e in train if e["voice"] == "mbrola_in2" or e["language"] == "ml"]
    ml = [e for e in entries if e["language"] == "ml"]
    assert ml and all(e["split"] == "heldout" and e["path"].startswith("heldout/klettres/")
                      for e in ml)
    assert all(e["params"]["variant"] == 0 for e in ml)  # held out: as recorded only
    varied = [e for e in train if e["source"] in ("klettres", "codec2") and e["params"]["variant"]]
    assert varied and all(e["params"]["pitch_cents"] != 0 for e in varied)


@pytest.mark.skipif(len(VOICES) < 2, reason="needs both festival-te-nsk and espeak-ng")
def test_heldout_voice_never_in_train(tmp_path):
    out = tmp_path / "c"
    _build(out, num_utterances=6, voices=["festival_nsk=1", "espeak_te=1"], include_real=False,
           heldout_voices=["espeak_te"])
    entries = _manifest(out)
    assert {e["source"] for e in entries} == {"festival_nsk", "espeak_te"}
    for e in entries:
        assert (e["split"] == "heldout") == (e["voice"] == "espeak_te")
    assert not (out / "train" / "espeak_te").exists()


def test_same_seed_same_bytes(tiny, tmp_path):
    out, _ = tiny
    again = tmp_path / "again"
    _build(again)
    assert _tree(again) == _tree(out)
    other = tmp_path / "other"
    _build(other, seed=1, include_real=False)
    assert (other / "manifest.jsonl").read_bytes() != (out / "manifest.jsonl").read_bytes()


def test_rebuild_replaces_old_files(tmp_path):
    out = tmp_path / "c"
    _build(out, num_utterances=3, include_real=False)
    _build(out, num_utterances=1, include_real=False)
    assert len(list(out.rglob("*.wav"))) == len(_manifest(out)) == 1


def test_text_file(tmp_path):
    text = tmp_path / "te.txt"
    text.write_text("తెలుగు భాష చాలా అందమైనది\nhello world\nమన దేశంలో ఎన్నో భాషలు ఉన్నాయి\n",
                    encoding="utf-8")
    out = tmp_path / "c"
    _build(out, num_utterances=2, text_file=text, include_real=False, p_phrase=1.0)
    for e in _manifest(out):
        assert "hello" not in e["text"]
        assert "భాష" in e["text"]


def test_errors(tmp_path):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(TeluCodecError, match="not a folder"):
        _build(afile, include_real=False)
    with pytest.raises(TeluCodecError, match="not a folder"):
        _build(afile / "sub", include_real=False)
    with pytest.raises(TeluCodecError, match="unknown voice"):
        _build(tmp_path / "c", voices=["nosuchvoice"])
    with pytest.raises(TeluCodecError, match="no such text file"):
        _build(tmp_path / "c", text_file=tmp_path / "missing.txt")
    empty = tmp_path / "latin.txt"
    empty.write_text("only latin text\n")
    with pytest.raises(TeluCodecError, match="no usable Telugu"):
        _build(tmp_path / "c", text_file=empty)


def test_cli_run(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    corpus.add_arguments(parser)
    out = tmp_path / "c"
    args = parser.parse_args([str(out), "--num", "2", "--seed", "5", "--no-real",
                              "--voices", *VOICES, "--heldout-voices"])
    assert corpus.run(args) == 0
    assert "total" in capsys.readouterr().out
    entries = _manifest(out)
    assert len(entries) == 2 and all(e["split"] == "train" for e in entries)


@pytest.mark.skipif("festival_nsk" not in VOICES,
                    reason="needs festival festival-te festvox-te-nsk")
def test_demo_clip(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "sub" / "b.wav"
    secs = corpus.make_demo_clip(a)
    corpus.make_demo_clip(b)
    assert 4.0 <= secs <= 6.0 and a.read_bytes() == b.read_bytes()
    info = sf.info(str(a))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")


def test_shipped_demo_clip():
    shipped = Path(telucodec.__file__).parent / "assets" / "demo_te.wav"
    if not shipped.exists():
        pytest.skip("telucodec/assets/demo_te.wav not built yet")
    info = sf.info(str(shipped))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert 4.0 <= info.duration <= 6.0
