"""Worker processes never outlive their command: after a ``kill -9`` of the parent, the workers of
``tokenize --jobs`` and of training's data loader exit within seconds instead of running on (and
then blocking forever) as orphans."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from conftest import voiced_clip

ROOT = Path(__file__).resolve().parents[1]


def _children(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit() and int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("command", ["tokenize", "train"])
def test_workers_exit_when_their_parent_is_killed(command, tmp_path, model_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        sf.write(src / f"c{i:02d}.wav", voiced_clip(4.0, seed=i), 16000)
    if command == "tokenize":
        args = ["tokenize", src, "-o", tmp_path / "tok", "--model", model_path, "--jobs", "2"]
    else:
        args = ["train", "--data_dir", src, "--checkpoint_dir", tmp_path / "ckpt", "--preset", "tiny",
                "--batch_size", "2", "--segment_seconds", "0.25", "--num_workers", "2", "--threads", "1",
                "--num_epochs", "100"]
    workers: set[int] = set()
    proc = subprocess.Popen([sys.executable, "-m", "telucodec.cli", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while len(_children(proc.pid)) < 2 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        workers = _children(proc.pid)
        assert len(workers) >= 2, "the workers never started"
        time.sleep(0.5)   # at work, not starting up
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.time() + 3
        while _alive(workers) and time.time() < deadline:
            time.sleep(0.05)
        assert not _alive(workers), "workers outlived their parent"
    finally:   # whatever failed above, leave no process behind
        for pid in _alive(_children(proc.pid) | workers):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
    assert not list(tmp_path.rglob(".*.tmp")), "a worker left its temp file"
