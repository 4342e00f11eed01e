"""bench/speed.py: a --quick run prints the speed table, and the MAC counter counts what it claims."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))  # bench/ is a folder of scripts, not a package

import speed  # noqa: E402


def table_rows(stdout: str) -> list[dict[str, str]]:
    """The markdown table's rows as dicts keyed by column title."""
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]


def test_quick_run_prints_table(tmp_path):
    out = tmp_path / "speed.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "speed.py"), "--quick", "--preset", "tiny", "--seconds", "3",
         "--threads", "1", "--no-reference-archs", "--json", str(out)],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    ours = [r for r in rows if r["codec"].startswith("telucodec tiny")]
    assert [r["n_q"] for r in ours] == ["1", "4"]   # --quick: lowest and highest bitrate
    for row in ours:
        for column in ("encode xRT", "decode xRT", "peak RSS (MB)", "encode GMAC/s", "decode GMAC/s"):
            value = float(row[column].replace(",", ""))
            assert math.isfinite(value) and value > 0, (column, row)
    opus = [r for r in rows if r["codec"].startswith("Opus")]
    if shutil.which("opusenc") and shutil.which("opusdec"):
        assert opus and float(opus[0]["encode xRT"].replace(",", "")) > 0
        assert all(float(r["encode / Opus"]) > 0 for r in ours)
    else:
        assert not opus and "opusenc/opusdec not found" in result.stderr
    report = json.loads(out.read_text())
    assert all(r["enc_rtf"] > 0 and r["dec_rtf"] > 0 for r in report["rows"])


def test_count_macs_convs_linear_and_lstm():
    conv = torch.nn.Conv1d(4, 6, 3, padding=1, groups=2)
    linear = torch.nn.Linear(6, 5)
    lstm = torch.nn.LSTM(5, 7, num_layers=2)
    model = torch.nn.ModuleList([conv, linear, lstm])

    def forward(x: torch.Tensor) -> None:
        y = linear(conv(x).transpose(1, 2))          # (1, 10, 5)
        lstm(y.transpose(0, 1))                      # (time 10, batch 1, 5)

    expected = (10 * 6 * (4 // 2) * 3                # grouped conv: out x in/groups x kernel per step
                + 10 * 6 * 5                         # linear
                + 10 * 4 * 7 * (5 + 7) + 10 * 4 * 7 * (7 + 7))   # two LSTM layers, 4 gates each
    with torch.no_grad():
        assert speed.count_macs(model, forward, torch.randn(1, 4, 10)) == expected


def test_speech_like_is_deterministic_and_bounded():
    a, b = speed.speech_like(2.0, seed=3), speed.speech_like(2.0, seed=3)
    assert len(a) == 32000 and (a == b).all() and a.dtype.name == "float32"
    assert 0 < abs(a).max() <= 1


def test_train_speed_times_each_preset_and_precision_through_its_cli():
    result = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "bench" / "train_speed.py"),
                             "--presets", "tiny", "--precisions", "fp32", "bf16", "--batch_size", "2",
                             "--segment_seconds", "0.25", "--steps", "1", "--threads", "1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines()[2:]]
    assert [(r[0].strip(), r[1].strip(), r[2].strip()) for r in rows] == [("tiny", "fp32", "eager"),
                                                                           ("tiny", "bf16", "eager")]
    assert all(float(r[8]) > 0 and float(r[9]) > 0 for r in rows)     # audio-s/s and steps/s
