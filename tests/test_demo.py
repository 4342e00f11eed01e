"""`telucodec demo` with the model shipped in the package, through the CLI."""
import os
import subprocess
import sys

import pytest
import soundfile as sf

from conftest import voiced_clip
from telucodec.codec import DEFAULT_MODEL
from telucodec.demo import MARKER


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no default model shipped")
def test_demo_round_trips_the_shipped_clip_at_every_bitrate(tmp_path):
    out = tmp_path / "demo"
    # a fresh matplotlib cache: the first run is when matplotlib says "generated new fontManager"
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl")}
    result = subprocess.run([sys.executable, "-m", "telucodec.cli", "demo", "-o", str(out)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    # progress on stderr (a bar over the bitrates), results alone on stdout, no library chatter
    assert "telucodec demo: loading the model" in result.stderr and "bitrate" in result.stderr
    assert "fontManager" not in result.stderr and "INFO" not in result.stderr, result.stderr
    assert all(line.startswith("|") or "spectrograms.png" in line for line in result.stdout.splitlines())
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "kbps" not in line]
    wavs = sorted(out.glob("decoded_*kbps.wav"))
    assert len(rows) == len(wavs) >= 2
    first, last = (list(map(float, r.strip("| ").split(" | "))) for r in (rows[0], rows[-1]))
    assert last[0] > first[0]                      # measured kbps grows with n_q
    assert 1.0 <= last[4] <= 4.6 and 0 < last[5] <= 1   # PESQ-WB and STOI are real scores
    reference, sr = sf.read(out / "reference.wav")
    decoded, _ = sf.read(wavs[0])
    assert sr == 16000 and len(decoded) == len(reference)
    assert (out / "spectrograms.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    result = subprocess.run([sys.executable, "-m", "telucodec.cli", "demo", "-o", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "mine.txt: not written by telucodec demo" in result.stderr
    assert (tmp_path / "mine.txt").read_text() == "keep"


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no default model shipped")
def test_demo_runs_again_over_its_own_outputs_and_quiet_shows_no_progress(tmp_path):
    out, clip = tmp_path / "out", tmp_path / "clip.wav"
    out.mkdir()
    (out / "reference.wav").write_bytes(b"old demo output")
    (out / MARKER).write_text('["reference.wav"]')     # what an earlier run records of its files
    sf.write(clip, voiced_clip(1.5), 16000)    # a short clip of its own: the shipped one takes much longer
    result = subprocess.run([sys.executable, "-m", "telucodec.cli", "demo", "-o", str(out), "--input", str(clip),
                             "-q"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert sf.info(out / "reference.wav").samplerate == 16000
    assert "clip.wav: 1.50 s" in result.stdout
