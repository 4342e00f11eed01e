"""A full disk in every writer (training checkpoints, metrics and TensorBoard, export, fit-entropy):
one line, exit 2, nothing partial left, the previous checkpoint intact.

The disk is a real one: a tiny tmpfs mounted in a mount namespace of the test's own
(``unshare -rm``), so every library writes and fails as it would on a full drive.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from conftest import voiced_clip
from telucodec.errors import OutputError
from telucodec.fileio import atomic_write

ROOT = Path(__file__).resolve().parents[1]
CLI = f"{sys.executable} -m telucodec.cli"
TRAIN = ["--preset", "tiny", "--batch_size", "2", "--segment_seconds", "0.25", "--num_workers", "0",
         "--threads", "1", "--seed", "3", "--num_epochs", "50"]


def _can_mount() -> bool:
    probe = Path(__file__).parent
    try:
        return subprocess.run(["unshare", "-rm", "mount", "-t", "tmpfs", "tmpfs", str(probe)],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


needs_mount = pytest.mark.skipif(not shutil.which("unshare") or not _can_mount(),
                                 reason="needs unshare -rm with tmpfs mounts (user namespaces)")


def on_full_disk(tmp_path: Path, script: str, size: str = "100k") -> subprocess.CompletedProcess:
    """Run the bash ``script`` with $FULL a fresh tmpfs of ``size`` (gone when the script ends: the
    script lists what is left there on stdout)."""
    full = tmp_path / "full"
    full.mkdir(exist_ok=True)
    command = f'mount -t tmpfs -o size={size} tmpfs "$FULL" && {script}'
    return subprocess.run(["unshare", "-rm", "bash", "-c", command], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={**os.environ, "FULL": str(full), "PYTHONPATH": str(ROOT)})


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in result.stderr and "Exception" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("telucodec: error:")]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    for i in range(4):
        sf.write(root / f"c{i}.wav", voiced_clip(1.5, f0=110 + 15 * i, seed=i), 16000)
    return root


@needs_mount
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, model_path, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxscript")
    result = on_full_disk(tmp_path, f'{CLI} export --model {model_path} --format {fmt} -o "$FULL/graphs"; '
                                    'echo "rc=$?"; find "$FULL" -type f')
    assert "rc=2" in result.stdout, result.stderr      # not 134 (an abort in TorchScript's writer)
    lines = error_lines(result)
    assert len(lines) == 1 and "No space left on device" in lines[0], result.stderr
    assert str(tmp_path / "full") not in result.stdout.split("rc=2")[1]    # no file, no .tmp


@needs_mount
def test_fit_entropy_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, model_path, clips):
    result = on_full_disk(tmp_path, f'{CLI} fit-entropy {clips} --model {model_path} -o "$FULL/fitted.safetensors"; '
                                    'echo "rc=$?"; find "$FULL" -type f')
    assert "rc=2" in result.stdout, result.stderr
    lines = error_lines(result)
    assert len(lines) == 1 and "fitted.safetensors: cannot write (No space left on device)" in lines[0]
    assert str(tmp_path / "full") not in result.stdout.split("rc=2")[1]


@pytest.fixture(scope="module")
def one_step_run(tmp_path_factory, clips):
    """A training folder (checkpoint at step 1) to resume on a full disk."""
    ckpt = tmp_path_factory.mktemp("ckpt")
    done = subprocess.run([*CLI.split(), "train", "--data_dir", str(clips), "--checkpoint_dir", str(ckpt),
                           *TRAIN, "--max_steps", "1"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return ckpt / "telucodec"


@needs_mount
@pytest.mark.parametrize("free_kb, max_steps", [(100, 2), (4, 9), (12, 9)])   # checkpoint; metrics or TensorBoard
def test_training_on_a_full_disk_is_one_line_and_keeps_the_checkpoint(tmp_path, clips, one_step_run,
                                                                      free_kb, max_steps):
    check = "import torch, sys; print('step', torch.load(sys.argv[1], weights_only=False)['step'])"
    result = on_full_disk(tmp_path, f'''
        cp -r {one_step_run} "$FULL/run" && dd if=/dev/zero of="$FULL/slack" bs=1k count={free_kb} 2>/dev/null
        dd if=/dev/zero of="$FULL/filler" bs=4k 2>/dev/null; rm "$FULL/slack"
        {CLI} train --data_dir {clips} --checkpoint_dir "$FULL" --experiment_name run {" ".join(TRAIN)} \
            --max_steps {max_steps}
        echo "rc=$?"; {sys.executable} -c "{check}" "$FULL/run/last.pt"; find "$FULL/run" -name "*.tmp"''', size="4m")
    assert "rc=2" in result.stdout, result.stderr
    lines = error_lines(result)
    assert len(lines) == 1 and "cannot write (No space left on device)" in lines[0], result.stderr
    assert str(tmp_path / "full" / "run") in lines[0]
    after = result.stdout.split("rc=2")[1]
    assert "step 1" in after and ".tmp" not in after    # the previous checkpoint is intact, nothing partial


def test_any_failure_of_a_writer_is_one_output_error_and_leaves_no_temp_file(tmp_path):
    """What a library raises on a full disk varies (torch's RuntimeError, SafetensorError, OSError)."""
    class SafetensorError(Exception):
        pass

    for error in (RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed"),
                  SafetensorError("Error while serializing: I/O error")):
        def fail(tmp, error=error):
            Path(tmp).write_bytes(b"partial")
            raise error

        with pytest.raises(OutputError, match=f"out.bin: cannot write \\({type(error).__name__}: "):
            atomic_write(tmp_path / "out.bin", fail)
        assert list(tmp_path.iterdir()) == []
