"""The output side of every command: a path that cannot be written (a file in the way, no
permission, a full disk) is one line and exit 2, found before the work where it can be, leaving no
partial file; temp files go on SIGTERM / SIGINT; files the user owns are never replaced."""
import json
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import telucodec
from conftest import voiced_clip
from telucodec.cli import main

UNWRITABLE = Path("/sys/telucodec_test")   # refuses new files even for root (tests run as root)


@pytest.fixture
def inputs(tmp_path, model_path):
    """A folder with one 3 s clip, and its .tlc."""
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", voiced_clip(3.0), 16000)
    assert main(["encode", str(folder / "a.wav"), "-o", str(tmp_path / "a.tlc"), "--model", str(model_path)]) == 0
    return folder


def _commands(tmp_path: Path, inputs: Path, model: Path, out: Path) -> dict[str, list[str]]:
    m = ["--model", str(model)]
    clip = str(inputs / "a.wav")
    return {
        "encode": ["encode", clip, "-o", str(out / "a.tlc"), *m],
        "encode_dir": ["encode", str(inputs), "-o", str(out), *m],
        "decode": ["decode", str(tmp_path / "a.tlc"), "-o", str(out / "a.wav"), *m],
        "roundtrip": ["roundtrip", clip, "-o", str(out / "r.wav"), *m],
        "tokenize": ["tokenize", str(inputs), "-o", str(out), *m],
        "export": ["export", "--format", "torchscript", "-o", str(out), *m],
        "demo": ["demo", "-o", str(out), "--input", clip, *m],
        "train": ["train", "--data_dir", str(inputs), "--checkpoint_dir", str(out), "--num_epochs", "1"],
    }


def _expensive_work_fails(monkeypatch):
    """Encoding raises: a command that checks its output first never gets there."""
    def no_work(*args, **kwargs):
        raise AssertionError("the output should have been checked before encoding")
    monkeypatch.setattr(telucodec.codec.Codec, "_encode", no_work)


@pytest.mark.parametrize("command", ["encode", "encode_dir", "decode", "roundtrip", "tokenize", "export", "demo",
                                     "train"])
@pytest.mark.parametrize("where", ["under_a_file", "unwritable"])
def test_output_that_cannot_be_written_is_one_line_before_the_work(command, where, tmp_path, inputs, model_path,
                                                                  capsys, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("mine")
    out = blocker / "out" if where == "under_a_file" else UNWRITABLE / "out"
    args = _commands(tmp_path, inputs, model_path, out)[command]
    if command != "decode":
        _expensive_work_fails(monkeypatch)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("telucodec: error:"), err
    assert ("not a folder" if where == "under_a_file" else "Permission denied") in err[0]
    assert blocker.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["a.tlc", "a_file", "in"]


def _limited(megabytes: float):
    """preexec_fn: a file-size limit, what a nearly full disk does to a write (EFBIG, even for root)."""
    limit = int(megabytes * 1e6)
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("command, limit_mb", [("decode", 0.05), ("roundtrip", 0.05), ("tokenize", 0.004),
                                               ("encode", 0.001)])
def test_full_disk_is_one_line_and_leaves_no_partial_file(command, limit_mb, tmp_path, inputs, model_path):
    out = tmp_path / "out"
    out.mkdir()
    args = _commands(tmp_path, inputs, model_path, out)[command]
    result = subprocess.run([sys.executable, "-m", "telucodec.cli", *args], capture_output=True, text=True,
                            preexec_fn=_limited(limit_mb), timeout=300)
    err = result.stderr.strip().splitlines()
    assert result.returncode == 2 and err[-1].startswith("telucodec: error:") and "cannot write" in err[-1], err
    assert "Traceback" not in result.stderr
    assert [p.name for p in out.rglob("*") if p.suffix in (".wav", ".tlc", ".npy", ".tmp")] == []


_SLOW_WRITER = """
import sys, time
from pathlib import Path
from telucodec.command import run_with_errors
from telucodec.fileio import atomic_write

def slow(tmp):
    Path(tmp).write_bytes(b"partial")
    print("writing", flush=True)
    time.sleep(60)

sys.exit(run_with_errors(lambda: atomic_write(sys.argv[1], slow)))
"""


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_a_write_removes_the_temp_file(signum, code, tmp_path):
    target = tmp_path / "out" / "x.tlc"
    # a shell starts background jobs with SIGINT ignored, and Python keeps an ignored SIGINT: give the
    # child the default disposition, as a command typed at a terminal has
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(target)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().strip() == "writing"
    assert len(list(target.parent.glob(".x.tlc.*.tmp"))) == 1
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code and "Traceback" not in err, err
    assert list(target.parent.iterdir()) == []


def test_demo_never_replaces_a_users_file(tmp_path, inputs, model_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "reference.wav").write_bytes(b"my own recording")
    sf.write(tmp_path / "short.wav", voiced_clip(1.0), 16000)
    args = ["demo", "-o", str(out), "--input", str(tmp_path / "short.wav"), "--model", str(model_path)]
    assert main(args) == 2
    assert "reference.wav: not written by telucodec demo" in capsys.readouterr().err
    assert (out / "reference.wav").read_bytes() == b"my own recording"
    assert main(args + ["--force"]) == 0          # asked for: the demo's names are replaced
    assert sf.info(out / "reference.wav").samplerate == 16000
    assert main(args) == 0                        # a second run replaces only its own files
    (out / "notes.txt").write_text("mine")
    assert main(args) == 2 and (out / "notes.txt").read_text() == "mine"


def test_tokenize_never_replaces_a_npy_it_did_not_write(tmp_path, inputs, model_path, capsys):
    out = tmp_path / "tok"
    out.mkdir()
    mine = np.arange(5)
    np.save(out / "a.npy", mine)
    args = ["tokenize", str(inputs), "-o", str(out), "--model", str(model_path), "--n_q", "2"]
    assert main(args) == 2
    assert "a.npy: exists and was not written by tokenize" in capsys.readouterr().err
    assert np.array_equal(np.load(out / "a.npy"), mine)
    assert main(args + ["--force"]) == 0
    assert np.load(out / "a.npy").shape == (2, 600)
    # a run killed between writing a.npy and its manifest line resumes over its own output
    (out / "manifest.jsonl").write_text(json.dumps({"path": "a.wav", "codes": "a.npy", "claimed": True}) + "\n")
    assert main(args) == 0
    assert [json.loads(line)["codes"] for line in (out / "manifest.jsonl").read_text().splitlines()] == ["a.npy"]


def test_sigterm_stops_a_parallel_tokenize_without_temp_files(tmp_path, model_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(40):
        sf.write(src / f"c{i:02d}.wav", voiced_clip(2.0, seed=i), 16000)
    out = tmp_path / "tok"
    proc = subprocess.Popen([sys.executable, "-m", "telucodec.cli", "tokenize", str(src), "-o", str(out),
                             "--model", str(model_path), "--jobs", "2"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(out.glob("*.npy")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "Traceback" not in err, err
    assert list(out.glob(".*.tmp")) == [] and len(list(out.glob("*.npy"))) < 40
