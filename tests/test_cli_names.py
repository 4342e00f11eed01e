"""File names and folders as users have them: names as long as the file system allows, names that
are not UTF-8, ``-o DIR/`` for one input, symlinked folders (cycles included), upper-case
extensions, and the hidden / macOS AppleDouble files a folder picks up."""
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import voiced_clip
from telucodec.cli import main
from telucodec.data import split_files

LONG_STEM = "త" * 82   # 246 bytes of UTF-8: with ".wav" or ".tlc" 250, a legal name (NAME_MAX 255)


def _wav(path: Path, seconds: float = 0.5, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(os.fsencode(path), voiced_clip(seconds, seed=seed), 16000)
    return path


def _error_lines(err: str) -> list[str]:
    return [part for line in err.splitlines() for part in line.split("\r") if "error" in part or "skipped" in part]


@pytest.mark.parametrize("command", ["encode", "decode", "roundtrip"])
def test_a_legal_long_name_is_written_by_every_file_command(command, tmp_path, model_path, capsys):
    src = _wav(tmp_path / "in" / f"{LONG_STEM}.wav")
    source, suffix = src, ".tlc" if command == "encode" else ".wav"
    if command == "decode":
        source = tmp_path / "in" / f"{LONG_STEM}.tlc"
        assert main(["encode", str(src), "-o", str(source), "--model", str(model_path), "-q"]) == 0
    out = tmp_path / "out" / f"{LONG_STEM}{suffix}"
    assert main([command, str(source), "-o", str(out), "--model", str(model_path)]) == 0, capsys.readouterr().err
    assert out.is_file() and [p.name for p in out.parent.iterdir()] == [out.name]   # no temp file left


@pytest.mark.parametrize("command,suffix", [("encode", ".tlc"), ("tokenize", ".npy")])
def test_a_name_too_long_for_its_output_is_skipped_and_the_batch_goes_on(command, suffix, tmp_path, model_path,
                                                                          capsys):
    src = tmp_path / "in"
    too_long = "a" * 252 + ".au"   # 255 bytes; its output name (.tlc / .npy in place of .au) is 256
    sf.write(src.mkdir() or src / too_long, voiced_clip(0.5), 16000, format="AU")
    _wav(src / "b.wav", seed=1)
    _wav(src / f"{LONG_STEM}.wav", seed=2)
    out = tmp_path / "out"
    assert main([command, str(src), "-o", str(out), "--model", str(model_path)]) == 2
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 2 and "File name too long" in lines[0] and "1 of 3 files skipped" in lines[1], lines
    assert sorted(p.name for p in out.glob(f"*{suffix}")) == sorted(["b" + suffix, LONG_STEM + suffix])


def test_names_that_are_not_utf8_are_read_and_written_as_given(tmp_path, model_path, capsys):
    latin1 = os.fsdecode(b"caf\xe9")   # Latin-1 bytes, as an old archive or a Windows share gives them
    src = _wav(tmp_path / "in" / f"{latin1}.wav")
    m = ["--model", str(model_path)]
    tlc = tmp_path / f"{latin1}.tlc"
    assert main(["encode", str(src), "-o", str(tlc), *m]) == 0
    assert main(["decode", str(tlc), "-o", str(tmp_path / f"{latin1}.wav"), *m]) == 0
    assert main(["roundtrip", str(src), "-o", str(tmp_path / f"{latin1}.rt.wav"), *m]) == 0
    assert main(["encode", str(src.parent), "-o", str(tmp_path / "enc"), *m]) == 0
    assert main(["tokenize", str(src.parent), "-o", str(tmp_path / "tok"), *m]) == 0
    assert main(["info", str(tlc)]) == 0
    names = set(os.listdir(os.fsencode(tmp_path))) | set(os.listdir(os.fsencode(tmp_path / "enc")))
    assert {b"caf\xe9.tlc", b"caf\xe9.wav", b"caf\xe9.rt.wav"} <= names
    assert np.load(tmp_path / "tok" / f"{latin1}.npy").shape[0] == 4
    assert "caf\\udce9.tlc" in capsys.readouterr().out   # printed, escaped, rather than a crash


@pytest.mark.parametrize("command", ["encode", "decode", "roundtrip"])
@pytest.mark.parametrize("how", ["trailing_slash", "existing_folder"])
def test_o_folder_with_one_input_writes_into_the_folder(command, how, tmp_path, model_path):
    src = _wav(tmp_path / "in" / "a.wav")
    m = ["--model", str(model_path)]
    assert main(["encode", str(src), "-o", str(tmp_path / "in" / "a.tlc"), *m]) == 0
    out = tmp_path / "out"
    if how == "existing_folder":
        out.mkdir()
    source = tmp_path / "in" / "a.tlc" if command == "decode" else src
    expected = out / ("a.tlc" if command == "encode" else "a.wav")
    assert main([command, str(source), "-o", str(out) + ("/" if how == "trailing_slash" else ""), *m]) == 0
    assert out.is_dir() and [p.name for p in out.iterdir()] == [expected.name]


def test_fit_entropy_refuses_a_folder_as_its_output_file(tmp_path, model_path, clip_dir, capsys):
    assert main(["fit-entropy", str(clip_dir), "-o", str(tmp_path / "models") + "/", "--model", str(model_path)]) == 2
    assert "is a folder" in capsys.readouterr().err and not (tmp_path / "models").exists()


@pytest.fixture
def linked_tree(tmp_path):
    """data/real/a.wav, data/linked -> elsewhere/ (b.wav), a cycle data/real/loop -> data, and a
    second link to elsewhere/: two files, each found once."""
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    _wav(data / "real" / "a.wav", 1.0)
    _wav(elsewhere / "b.wav", 1.0, seed=1)
    (data / "linked").symlink_to(elsewhere, target_is_directory=True)
    (data / "real" / "loop").symlink_to(data, target_is_directory=True)
    (data / "real" / "again").symlink_to(elsewhere, target_is_directory=True)
    return data


@pytest.mark.parametrize("command,suffix", [("encode", ".tlc"), ("tokenize", ".npy")])
def test_symlinked_folders_are_followed_once_and_counted(command, suffix, linked_tree, tmp_path, model_path, capsys):
    out = tmp_path / "out"
    assert main([command, str(linked_tree), "-o", str(out), "--model", str(model_path)]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob(f"*{suffix}")) == [f"linked/b{suffix}",
                                                                                 f"real/a{suffix}"]
    assert "2 audio files found" in capsys.readouterr().err


def test_training_data_scan_follows_symlinked_folders(linked_tree):
    train, val = split_files(linked_tree, None, 0.05)
    assert sorted(str(p.relative_to(linked_tree)) for p in train + val) == ["linked/b.wav", "real/a.wav"]


def test_folder_runs_match_extensions_in_any_case_and_skip_hidden_files(tmp_path, model_path, capsys):
    src = tmp_path / "in"
    _wav(src / "a.wav")
    _wav(src / "B.WAV", seed=1)
    (src / "._a.wav").write_bytes(b"\x00\x05\x16\x07" + bytes(60))   # macOS AppleDouble: not audio
    _wav(src / ".hidden.wav", seed=2)
    m = ["--model", str(model_path)]
    assert main(["encode", str(src), "-o", str(tmp_path / "tlc"), *m]) == 0
    assert "2 audio files found (2 hidden files skipped)" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "tlc").iterdir()) == ["B.tlc", "a.tlc"]
    (tmp_path / "tlc" / "B.tlc").rename(tmp_path / "tlc" / "B.TLC")
    (tmp_path / "tlc" / "._a.tlc").write_bytes(bytes(64))
    assert main(["decode", str(tmp_path / "tlc"), "-o", str(tmp_path / "wav"), *m]) == 0
    assert sorted(p.name for p in (tmp_path / "wav").iterdir()) == ["B.wav", "a.wav"]
    assert main(["tokenize", str(src), "-o", str(tmp_path / "tok"), *m]) == 0
    assert sorted(p.name for p in (tmp_path / "tok").glob("*.npy")) == ["B.npy", "a.npy"]
