"""``telucodec corpus --real-dir``: a folder of real recordings with a files.tsv, split by whole
speakers. Uses a tiny generated folder; needs no voice, no sox."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import voiced_clip

from telucodec.cli import main
from telucodec.corpus import build_corpus, heldout_real_speakers

HEADER = "path\tlanguage\tspeaker\tseconds\tlicence\n"


def _write_folder(root: Path, rows: list[tuple[str, str, int, int]]) -> Path:
    """rows: (relative path, speaker, sample rate, channels); licence CC-BY-SA-4.0."""
    lines = [HEADER]
    for i, (rel, speaker, rate, channels) in enumerate(rows):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        wav = voiced_clip(1.2, f0=110 + 10 * i, seed=i, sr=rate)
        sf.write(root / rel, np.stack([wav] * channels, 1), rate, subtype="PCM_16")
        lines.append(f"{rel}\tml\t{speaker}\t1.200\tCC-BY-SA-4.0\n")
    (root / "files.tsv").write_text("".join(lines), encoding="utf-8")
    return root


@pytest.fixture
def real_dir(tmp_path) -> Path:
    rows = [(f"msc/spk{n:03d}/{c}.flac", f"spk{n:03d}", 44100, 2) for n in (1, 2, 6) for c in "ab"]
    rows += [("msc/story_reader/s1.wav", "story_reader", 48000, 1),
             ("english_reader/LJ001.flac", "en_reader", 16000, 1)]
    return _write_folder(tmp_path / "real", rows)


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text("utf-8").splitlines()]


def _build(out: Path, real_dir: Path, **kw) -> dict:
    return build_corpus(out, 0, include_real=False, real_dir=real_dir, verbose=False, **kw)


def test_speakers_are_held_out_whole_by_the_sha1_rule(tmp_path, real_dir):
    out = tmp_path / "c"
    summary = _build(out, real_dir, real_heldout_speakers=2)
    entries = _manifest(out)
    held = heldout_real_speakers(["spk001", "spk002", "spk006", "story_reader"], 2)
    assert held == {"spk002", "spk006"}
    assert len(entries) == summary["files"] == 8 and summary["failed"] == 0
    for e in entries:
        split, source, name = e["path"].split("/")
        assert split == e["split"] == ("heldout" if e["voice"] in held else "train")
        assert source == e["source"] and name.startswith(e["voice"] + "_")
        assert e["licence"] == "CC-BY-SA-4.0" and e["language"] == "ml"
        assert Path(e["origin"]).is_file() and e["params"]["variant"] == 0   # no variants
        info = sf.info(str(out / e["path"]))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert {e["source"] for e in entries} == {"real_msc", "real_english_reader"}
    assert {e["voice"] for e in entries if e["split"] == "train"} == {
        "spk001", "story_reader", "en_reader"}
    assert summary["splits"]["heldout"]["real_msc"]["files"] == 4


def test_same_seed_same_bytes(tmp_path, real_dir):
    _build(tmp_path / "a", real_dir, seed=3)
    _build(tmp_path / "b", real_dir, seed=3)
    tree = [sorted((p.relative_to(root), p.read_bytes()) for p in root.rglob("*") if p.is_file())
            for root in (tmp_path / "a", tmp_path / "b")]
    assert tree[0] == tree[1]


def test_a_bad_file_is_reported_skipped_and_counted(tmp_path, real_dir, caplog):
    with open(real_dir / "files.tsv", "a", encoding="utf-8") as f:
        f.write("msc/spk001/gone.flac\tml\tspk001\t1.0\tCC-BY-SA-4.0\n")
        f.write("msc/spk001/broken.flac\tml\tspk001\t1.0\tCC-BY-SA-4.0\n")
    (real_dir / "msc/spk001/broken.flac").write_bytes(b"fLaC not really")
    summary = _build(tmp_path / "c", real_dir)
    assert summary["failed"] == 2 and summary["files"] == 8
    assert "gone.flac: no such file" in caplog.text and "broken.flac: cannot read" in caplog.text


def test_cli_prints_real_sources_in_the_table(tmp_path, real_dir, capsys):
    out = tmp_path / "c"
    assert main(["corpus", str(out), "--num", "0", "--no-real", "--real-dir", str(real_dir),
                 "--real-heldout-speakers", "1"]) == 0
    table = capsys.readouterr().out
    assert "real_msc" in table and "real_english_reader" in table
    assert sum(e["split"] == "heldout" for e in _manifest(out)) == 2   # one speaker, two files


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "files.tsv").unlink(), "files.tsv: no such file"),
    (lambda d: (d / "files.tsv").write_text("path\tspeaker\nx.flac\tspk001\n"),
     "header lacks column(s) language, licence"),
    (lambda d: (d / "files.tsv").write_text(HEADER + "x.flac\tml\n"), "files.tsv:2: expected 5"),
    (lambda d: (d / "files.tsv").write_text(HEADER + "../x.flac\tml\tspk1\t1\tMIT\n"),
     "must be relative"),
    (lambda d: (d / "files.tsv").write_text(HEADER + "x.flac\tml\tspk1\t1\tMIT\n"),
     "none of the 1 files listed in files.tsv exists"),
])
def test_folder_problems_are_one_line_errors(tmp_path, real_dir, capsys, damage, message):
    damage(real_dir)
    out = tmp_path / "c"
    assert main(["corpus", str(out), "--num", "0", "--no-real", "--real-dir", str(real_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("telucodec: error: ") and message in err and "\n" not in err
    assert not out.exists()                                  # nothing was touched


def test_missing_folder_is_a_one_line_error(tmp_path, capsys):
    assert main(["corpus", str(tmp_path / "c"), "--num", "0", "--no-real",
                 "--real-dir", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such folder" in capsys.readouterr().err
