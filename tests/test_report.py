"""bench/report.py: a self-contained listening page, rendered in headless Chromium when it is installed."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

import telucodec
from bench import report
from bench.common import SAMPLE_RATE, speech_like
from conftest import tiny_model_config
from telucodec.model import TeluCodec

REPO = Path(__file__).resolve().parents[1]

CHROMIUM = Path("/usr/bin/chromium")
N_CLIPS = 2
TELUCODEC_ROWS = 3  # the tiny model has 4 quantizers: default picks 1, 2 and 4
OPUS_ROWS = len(report.quality.OPUS_KBPS)
HAS_OPUS = bool(shutil.which("opusenc") and shutil.which("opusdec"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    """Two short speech-like clips and a tiny untrained model with k-means-initialised codebooks."""
    root = tmp_path_factory.mktemp("report")
    clips = root / "clips" / "sub"
    clips.mkdir(parents=True)
    for i in range(N_CLIPS):
        sf.write(clips / f"clip ఒక {i}.wav", speech_like(1.5, seed=i), SAMPLE_RATE)
    torch.manual_seed(0)
    model = TeluCodec(tiny_model_config())
    model(torch.from_numpy(speech_like(2.0))[None, None])  # k-means init of the codebooks
    telucodec.save_pretrained(model.eval(), root / "tiny.safetensors", half=False)
    return root / "clips", root / "tiny.safetensors"


@pytest.fixture(scope="module")
def page(inputs, tmp_path_factory) -> Path:
    """The report for both clips, made through the command line as a user would."""
    clips, model = inputs
    out = tmp_path_factory.mktemp("page") / "report.html"
    proc = subprocess.run([sys.executable, "-m", "bench.report", "--audio-dir", str(clips), "--model", str(model),
                           "-o", str(out)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return out


def test_page_is_self_contained(page):
    text = page.read_text(encoding="utf-8")
    rows = N_CLIPS * (1 + TELUCODEC_ROWS + (OPUS_ROWS if HAS_OPUS else 0))
    assert text.count("<audio ") == rows and text.count('src="data:audio/flac;base64,') == rows
    assert text.count("<img ") == rows and text.count('src="data:image/png;base64,') == rows
    # no resource outside the file: every src/href is a data URI, and no URL anywhere
    assert all(url.startswith("data:") for url in re.findall(r'(?:src|href)="([^"]*)"', text))
    assert "http://" not in text and "https://" not in text and "<link" not in text
    assert "clip ఒక 0.wav" in text and "sub/clip ఒక 1.wav" in text  # names pass through, UTF-8 intact
    assert [p.name for p in page.parent.iterdir()] == ["report.html"]  # atomic write left no temp file


def test_existing_output_is_kept_without_force(inputs, tmp_path, capsys):
    clips, model = inputs
    out = tmp_path / "report.html"
    out.write_text("mine")
    assert report.main(["--audio-dir", str(clips), "--model", str(model), "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "mine"


def test_missing_opus_tools_leave_out_the_opus_rows(inputs, tmp_path, monkeypatch, capsys):
    clips, model = inputs
    monkeypatch.setenv("PATH", str(tmp_path))  # no opusenc/opusdec to be found
    out = tmp_path / "report.html"
    out.write_text("old")
    args = ["--audio-dir", str(clips), "--model", str(model), "-o", str(out), "--max-clips", "1",
            "--bitrates", "2.4", "--force"]
    assert report.main(args) == 0
    err = capsys.readouterr().err
    assert err.count("warning: opus: opusenc not found; install the Debian package 'opus-tools'") == 1
    text = out.read_text(encoding="utf-8")
    assert text.count("<audio ") == 2 and "Opus (auto bw)" not in text and "telucodec 2.4 kbps" in text


def test_default_bitrates_step_by_doubling():
    assert report.default_n_qs(1) == [1]
    assert report.default_n_qs(4) == [1, 2, 4]
    assert report.default_n_qs(12) == [1, 2, 4, 8, 12]
    assert report.default_n_qs(16) == [1, 2, 4, 8, 16]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium (Debian package 'chromium')")
def test_page_renders_in_headless_chromium(page, tmp_path):
    """The browser parses the page, decodes every spectrogram and loads every audio element's metadata."""
    flags = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000"]
    url = page.as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=60).stdout
    assert dom.count("<audio ") == page.read_text(encoding="utf-8").count("<audio ")
    assert 'data-images-ok="true"' in dom and 'data-audio-ok="true"' in dom
    shot = tmp_path / "page.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1280,2000", url], capture_output=True, timeout=60)
    assert shot.stat().st_size > 10_000
