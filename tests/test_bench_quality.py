"""bench/quality.py and bench/reference_codecs.py: delay compensation, payload parsing, and a --quick run."""
from __future__ import annotations

import csv
import math
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench import quality
from bench import reference_codecs as rc
from bench.common import SAMPLE_RATE as SR
from bench.common import speech_like
from conftest import voiced_clip
from telucodec.metrics import all_metrics

REPO = Path(__file__).resolve().parents[1]
TELUGU_LINES = ("నమస్కారం, మీరు ఎలా ఉన్నారు?", "తెలుగు భాష చాలా అందమైనది.")


def make_clips(folder: Path) -> list[Path]:
    """Two ~2 s clips: espeak-ng Telugu speech when installed, else synthetic speech-like audio."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"clip{i}.wav" for i in range(len(TELUGU_LINES))]
    espeak = shutil.which("espeak-ng")
    for i, (path, line) in enumerate(zip(paths, TELUGU_LINES)):
        if espeak:
            subprocess.run([espeak, "-v", "te", "-w", str(path), line], check=True, capture_output=True)
        else:
            sf.write(path, speech_like(2.0, seed=i), SR)
    return paths


def run_quality(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.quality", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def mean_of(rows: list[dict], label: str, key: str) -> float:
    return float(np.mean([float(r[key]) for r in rows if r["label"] == label]))


# ---------------------------------------------------------------- delay compensation


@pytest.mark.parametrize("delay", [0, 37, 223, -12])  # 223: speexdec's occasional uncompensated delay
def test_known_delay_is_recovered(delay: int) -> None:
    ref = speech_like(1.0, seed=0)
    late = np.concatenate([np.zeros(delay, np.float32), ref])[: len(ref)] if delay >= 0 else ref[-delay:]
    noisy = late + np.random.default_rng(1).normal(0, 0.01, len(late)).astype(np.float32)
    aligned, found = rc.align(ref, noisy)
    assert found == delay
    assert len(aligned) == len(ref)
    core = slice(400, len(ref) - 400)  # away from the zero-padded ends
    assert np.max(np.abs(aligned[core] - ref[core])) < 0.06


def test_silent_decode_gets_no_shift() -> None:
    assert rc.estimate_delay(np.zeros(1000), np.zeros(1000)) == 0


def test_shift_to_length_pads_and_trims() -> None:
    x = np.arange(1, 6, dtype=np.float32)
    np.testing.assert_array_equal(rc.shift_to_length(x, 2, 5), [3, 4, 5, 0, 0])
    np.testing.assert_array_equal(rc.shift_to_length(x, -2, 4), [0, 0, 1, 2])


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_g722_delay_compensated_end_to_end() -> None:
    wav = voiced_clip(1.0, seed=1)   # voiced only: G.722 keeps 50-7000 Hz, so fricative noise above would cap the SNR
    result = rc.g722(wav)
    assert result.delay == 22  # G.722 QMF analysis + synthesis delay
    assert len(result.decoded) == len(wav)
    assert all_metrics(wav, result.decoded, perceptual=False)["snr"] > 20
    assert result.payload_bits == pytest.approx(64000 * len(wav) / SR, abs=64)


# ---------------------------------------------------------------- payload parsing


def ogg_page(lacing: list[int], body_byte: int) -> bytes:
    header = b"OggS" + bytes([0, 0]) + bytes(8) + bytes(4) + bytes(4) + bytes(4) + bytes([len(lacing)]) + bytes(lacing)
    return header + bytes([body_byte]) * sum(lacing)


def test_ogg_packets_span_pages() -> None:
    # Page 1: a 19-byte packet, then 510 bytes of one that page 2 finishes (lacing 10 < 255), then a 7-byte packet.
    data = ogg_page([19, 255, 255], 1) + ogg_page([10, 7], 2)
    assert rc.ogg_packet_lengths(data) == [19, 255 + 255 + 10, 7]


def test_lc3_and_amrwb_payload_bits_skip_framing() -> None:
    header = struct.pack("<9H", 0xCC1C, 18, 160, 160, 1, 1000, 0, 0, 0)  # id, size, rate, bitrate, ...
    lc3_file = header + b"\x28\x00" + bytes(40) + b"\x1e\x00" + bytes(30)
    assert rc.lc3_payload_bits(lc3_file) == 8 * 70
    mode8 = bytes([(8 << 3) | 4]) + bytes(60)  # 477 codec bits in 60 bytes after the TOC byte
    mode0 = bytes([(0 << 3) | 4]) + bytes(17)  # 132 codec bits
    assert rc.amrwb_payload_bits(mode8 + mode0 + mode8) == 477 * 2 + 132


# ---------------------------------------------------------------- summaries and the telucodec row


def test_mean_ci_uses_student_t() -> None:
    mean, half, n = quality.mean_ci([1.0, 2.0, 3.0, math.nan])
    assert (mean, n) == (2.0, 3)
    assert half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    assert math.isnan(quality.mean_ci([5.0])[1])


class DelayingCodec:
    """Stand-in for a telucodec model: int16 'compression' whose decoder output is 40 samples late."""

    def compress(self, wav: np.ndarray, sample_rate: int, n_q: int) -> bytes:
        assert sample_rate == SR
        return b"TLC0" + (np.asarray(wav) * 32767).astype("<i2").tobytes()

    def decompress(self, data: bytes) -> np.ndarray:
        wav = np.frombuffer(data[4:], dtype="<i2").astype(np.float32) / 32767
        return np.concatenate([np.zeros(40, np.float32), wav])


def test_telucodec_row_counts_file_bits_and_compensates_delay() -> None:
    wav = speech_like(1.0, seed=0)
    result = quality.telucodec_setting(DelayingCodec(), 4, 256.0, wav)
    assert result.payload_bits == 8 * (4 + 2 * len(wav))
    assert result.delay == 40
    assert (result.family, result.label, result.nominal_kbps) == ("telucodec", "telucodec-q4", 256.0)
    assert all_metrics(wav, result.decoded, perceptual=False)["snr"] > 40


# ---------------------------------------------------------------- the CLI


@pytest.mark.skipif(not (shutil.which("opusenc") and shutil.which("opusdec")), reason="opus-tools not installed")
def test_quick_opus_run(tmp_path: Path) -> None:
    make_clips(tmp_path / "clips")
    out = tmp_path / "out"
    proc = run_quality(["--audio-dir", str(tmp_path / "clips"), "--quick", "--codecs", "opus", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    for name in ("per_clip.csv", "results.md", "rate_pesq.png", "rate_stoi.png", "rate_si_sdr.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "rate_pesq.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| Opus (WB) | opus-wb-24k | 24 |" in proc.stdout
    assert (out / "results.md").read_text() == proc.stdout.rstrip("\n") + "\n"

    rows = read_rows(out / "per_clip.csv")
    assert len(rows) == 2 * 10  # 2 clips x 5 bitrates x {wideband, auto}
    for row in rows:
        assert abs(int(row["delay_samples"])) <= 2  # opusdec already removes the pre-skip
        assert 1.0 <= float(row["pesq"]) <= 4.65 and 0.0 <= float(row["stoi"]) <= 1.0
    for bw in ("wb", "auto"):
        assert mean_of(rows, f"opus-{bw}-24k", "snr") > mean_of(rows, f"opus-{bw}-6k", "snr")
        assert mean_of(rows, f"opus-{bw}-24k", "pesq") > mean_of(rows, f"opus-{bw}-6k", "pesq")
        for kbps in quality.OPUS_KBPS:
            measured = mean_of(rows, f"opus-{bw}-{kbps}k", "measured_kbps")
            assert abs(measured - kbps) <= 0.3 * kbps, (bw, kbps, measured)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_missing_tool_warns_and_the_rest_runs(tmp_path: Path) -> None:
    make_clips(tmp_path / "clips")
    bin_dir = tmp_path / "bin"  # a PATH with ffmpeg only, so codec2's c2enc is "not installed"
    bin_dir.mkdir()
    (bin_dir / "ffmpeg").symlink_to(shutil.which("ffmpeg"))
    env = {**os.environ, "PATH": str(bin_dir)}
    out = tmp_path / "out"
    args = ["--audio-dir", str(tmp_path / "clips"), "--quick", "--codecs", "codec2,g722", "--out", str(out)]
    proc = run_quality(args, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("install the Debian package 'codec2'") == 1
    rows = read_rows(out / "per_clip.csv")
    assert {r["label"] for r in rows} == {"g722-64k"}


def test_unknown_codec_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run_quality(["--audio-dir", str(tmp_path), "--codecs", "mp3", "--out", str(tmp_path / "out")])
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("quality.py: error: unknown codec(s) mp3")
