"""``telucodec stream`` through the CLI: raw PCM on stdin to raw PCM on stdout, a file to a file,
the same audio as whole-file coding, the report on stderr, and one-line refusals."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import telucodec
from conftest import tiny_complex, voiced_clip

ROOT = Path(__file__).resolve().parents[1]


def stream_cli(*args, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "telucodec.cli", "stream", *map(str, args)], input=stdin,
                          capture_output=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def causal_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("causal") / "causal.safetensors"
    telucodec.save_pretrained(tiny_complex(), path, half=False)
    return path


def test_raw_pcm_through_stdin_and_stdout_equals_whole_file_coding(causal_path):
    wav = voiced_clip(1.0)
    pcm = (wav * 32767).round().astype("<i2")
    result = stream_cli("--model", causal_path, "--n_q", 3, stdin=pcm.tobytes())
    assert result.returncode == 0, result.stderr.decode()
    out = np.frombuffer(result.stdout, dtype="<i2").astype(np.float32) / 32767
    codec = telucodec.load(causal_path)
    expected = codec.decode(codec.encode(pcm.astype(np.float32) / 32768, 16000, n_q=3))
    assert len(out) == len(expected) == 16000
    assert np.abs(out - expected).max() <= 1.5 / 32767          # 16-bit rounding of the same audio
    report = result.stderr.decode()
    assert "streamed 1.00 s in 50 blocks of 20 ms at n_q=3" in report
    # a block's first sample waits for the block (20 ms), then for the 15 ms overlap-add
    assert "delay from a sample's arrival to its output: up to 35.0 ms" in report


def test_output_is_as_long_as_the_input_and_hop_sized_blocks_give_20_ms(causal_path, tmp_path):
    src = tmp_path / "odd.wav"
    sf.write(src, voiced_clip(1.1)[:16001], 16000)
    result = stream_cli(src, "-o", f"{tmp_path}/out/", "--model", causal_path, "--block-ms", 5)
    assert result.returncode == 0, result.stderr.decode()
    assert sf.info(str(tmp_path / "out" / "odd.wav")).frames == 16001       # -o DIR/ names it after the input
    assert b"up to 20.0 ms (its block, then the 15 ms overlap-add)" in result.stderr
    pcm = (voiced_clip(0.5)[:7999] * 32767).astype("<i2").tobytes() + b"\x01"   # and half a sample
    result = stream_cli("--model", causal_path, stdin=pcm)
    assert result.returncode == 0 and len(result.stdout) == 2 * 7999
    assert b"stdin ended in half a 16-bit sample" in result.stderr
    empty = stream_cli("--model", causal_path)
    assert empty.returncode == 0 and empty.stdout == b"" and b"nothing streamed: the input is empty" in empty.stderr


def test_a_reader_that_goes_away_ends_the_stream_quietly(causal_path, tmp_path):
    src = tmp_path / "long.wav"
    sf.write(src, voiced_clip(3.0), 16000)
    pipe = subprocess.run(f"{sys.executable} -m telucodec.cli stream {src} --model {causal_path} | head -c 100",
                          shell=True, capture_output=True, cwd=ROOT, timeout=300)
    assert len(pipe.stdout) == 100 and b"Traceback" not in pipe.stderr and b"Error" not in pipe.stderr


def test_a_file_in_any_format_to_a_file(causal_path, tmp_path):
    src, out = tmp_path / "in.flac", tmp_path / "out.wav"
    sf.write(src, np.stack([voiced_clip(0.5, sr=22050)] * 2, 1), 22050)     # stereo, 22.05 kHz
    result = stream_cli(src, "-o", out, "--model", causal_path, "--block-ms", 10)
    assert result.returncode == 0, result.stderr.decode()
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.frames) == (16000, 1, 8000)
    again = stream_cli(src, "-o", out, "--model", causal_path)
    assert again.returncode == 2 and b"output exists; pass --force" in again.stderr


def test_refusals_are_one_line(causal_path, tmp_path):
    other = tmp_path / "other.safetensors"
    telucodec.save_pretrained(tiny_complex(causal=False), other, half=False)
    cases = [((tmp_path / "missing.wav", "--model", causal_path), b"no such file"),
             (("--model", tmp_path / "none.safetensors"), b"no such model file"),
             (("--model", other), b"not a causal streaming model"),
             (("--model", causal_path, "--block-ms", 0), b"--block-ms must be in (0, 1000]")]
    for args, message in cases:
        result = stream_cli(*args, stdin=b"\x00\x00" * 100)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert b"Traceback" not in result.stderr and result.stderr.count(b"\n") == 1
