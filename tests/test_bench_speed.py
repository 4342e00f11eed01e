"""bench.speed, bench.train_speed and bench.pack_speed: a quick run of each prints its table."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def table_rows(stdout: str, which: int = 0) -> list[dict[str, str]]:
    """The rows of the ``which``-th markdown table as dicts keyed by column title."""
    tables = [block for block in stdout.split("\n\n") if block.lstrip().startswith("|")]
    lines = [line for line in tables[which].splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]


def test_quick_run_prints_table(tmp_path):
    out = tmp_path / "speed.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.speed", "--quick", "--preset", "tiny", "--seconds", "3",
         "--threads", "1", "--no-reference-archs", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=REPO)
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
    # whole commands, start-up included: encode of a 5 s file against opusenc, --help and info against torch
    commands = {r["whole command"].split(",")[0]: r for r in table_rows(result.stdout, 1)}
    assert {"telucodec --help", "telucodec info", "telucodec encode"} <= commands.keys()
    assert all(float(r["wall (s)"]) > 0 for r in commands.values())
    assert commands["telucodec --help"]["reference"] == "python -c 'import torch'"
    assert float(commands["telucodec --help"]["speed vs reference"]) > 0
    encode = commands["telucodec encode"]
    if shutil.which("opusenc"):
        assert encode["reference"].startswith("opusenc") and float(encode["speed vs reference"]) > 0
    else:
        assert encode["reference"] == encode["speed vs reference"] == "-"
    assert [r["command"] for r in report["commands"]] == [r["whole command"] for r in table_rows(result.stdout, 1)]


def test_train_speed_times_each_preset_and_precision_through_its_cli():
    result = subprocess.run([sys.executable, "-m", "bench.train_speed",
                             "--presets", "tiny", "--precisions", "fp32", "bf16", "--batch_size", "2",
                             "--segment_seconds", "0.25", "--steps", "1", "--threads", "1"],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines()[2:]]
    assert [(r[0].strip(), r[1].strip(), r[2].strip()) for r in rows] == [("tiny", "fp32", "eager"),
                                                                           ("tiny", "bf16", "eager")]
    assert all(float(r[8]) > 0 and float(r[9]) > 0 for r in rows)     # audio-s/s and steps/s


def test_pack_speed_times_pack_and_unpack_against_a_plain_copy():
    result = subprocess.run([sys.executable, "-m", "bench.pack_speed", "--seconds", "60", "--repeats", "1"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode in (0, 1), result.stderr     # 1: over the target, still a table
    rows = {r["step"]: r for r in table_rows(result.stdout)}
    assert {"pack_codes", "unpack_codes"} <= rows.keys()
    assert all(float(r["seconds"]) > 0 and float(r["time / uint16 copy"]) > 0 for r in rows.values())
    assert (result.returncode == 0) == all(r["< 0.0167 s"] == "yes" for r in rows.values())
