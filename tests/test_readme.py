"""The README's code blocks run as written (issue 16): every Python block, and the commands of "Use it",
in a temporary folder holding a generated ``speech.flac`` (44.1 kHz stereo), ``recordings/`` and
``corpus/``. Every other bash block must be listed in NOT_RUN with the reason it is not run here."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import voiced_clip
from telucodec.codec import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUN = ("telucodec encode speech.flac", "telucodec stream speech.flac")   # bash blocks this test runs, by their first line's start
NOT_RUN = {    # bash blocks by their first line's start: why this test does not run them
    "pip install torch": "installs packages (the install and test commands themselves)",
    "telucodec corpus corpus/": "needs Debian's voices and hours of training (tests/test_train_cli.py, test_corpus)",
    "# the shipped model (v5)": "hours of training on the real corpus (recipes: test_every_recipe_is_a_valid_config)",
    "# phase-aware compressed": "resumes a real training run (tests/test_train_cli.py resumes with --config)",
    "pip install -e '.[export]'": "installs packages; export is run by tests/test_export.py",
    "python -m bench.train_speed": "benchmarks take minutes (tests/test_bench_*.py run them quick)",
    "telucodec train --init_from": "trains for minutes on your recordings (tests/test_finetune.py, tiny models)",
}
needs_model = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no default model shipped")


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)


def first_line_start(block: str, starts) -> str | None:
    return next((start for start in starts if block.startswith(start)), None)


@pytest.fixture
def workdir(tmp_path) -> Path:
    """What the README's examples name: speech.flac (44.1 kHz stereo), recordings/ and corpus/."""
    stereo = np.stack([voiced_clip(3.0, sr=44100), voiced_clip(3.0, f0=180, seed=1, sr=44100)], 1)
    sf.write(tmp_path / "speech.flac", stereo, 44100)
    for folder in ("recordings", "corpus"):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "a.wav", voiced_clip(1.5, seed=2), 16000)
        sf.write(tmp_path / folder / "b.ogg", voiced_clip(1.0, f0=200, seed=3, sr=22050), 22050)
    return tmp_path


def run_in(workdir: Path, cmd: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)


def test_every_bash_block_is_run_or_says_why_not():
    blocks = code_blocks("bash")
    assert blocks
    for block in blocks:
        assert first_line_start(block, RUN) or first_line_start(block, NOT_RUN), f"unclassified:\n{block}"
    assert all(any(b.startswith(start) for b in blocks) for start in (*RUN, *NOT_RUN)), "stale entry"


@needs_model
def test_python_blocks_run_as_written(workdir):
    blocks = code_blocks("python")
    assert blocks
    for block in blocks:
        result = run_in(workdir, [sys.executable, "-c", block])
        assert result.returncode == 0, f"{block}\n{result.stderr}"
    assert (workdir / "copy.tlc").read_bytes() == (workdir / "speech.tlc").read_bytes()


@needs_model
def test_the_use_it_commands_run_as_written(workdir):
    for block in (b for b in code_blocks("bash") if first_line_start(b, RUN)):
        # `telucodec` as this checkout's entry point, whatever is installed on PATH
        script = f'set -euo pipefail\ntelucodec() {{ "{sys.executable}" -m telucodec.cli "$@"; }}\n{block}'
        result = run_in(workdir, ["bash", "-c", script])
        assert result.returncode == 0, f"{block}\n{result.stderr}"
    assert sf.info(workdir / "speech.wav").samplerate == 16000 and (workdir / "decoded.wav").is_file()
    assert sorted(p.name for p in (workdir / "codes").iterdir()) == ["a.tlc", "b.tlc"]
    assert (workdir / "tokens" / "manifest.jsonl").is_file()
    assert sf.info(workdir / "live.wav").frames == sf.info(workdir / "speech.wav").frames   # telucodec stream
