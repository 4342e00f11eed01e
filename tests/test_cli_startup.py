"""The command line answers --help, info and a bad flag without importing torch (issue 16): only the
jobs that run a model import it. Checked in a fresh interpreter through the ``telucodec`` entry point."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from telucodec.bitstream import CodecHeader, save_codes

ROOT = Path(__file__).resolve().parents[1]

# Runs ``telucodec ARGS`` in-process, then reports on stderr whether torch got imported.
HARNESS = """
import sys
from telucodec.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("torch imported:", "torch" in sys.modules, file=sys.stderr)
sys.exit(code)
"""


def telucodec_in_fresh_python(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", HARNESS, *map(str, args)], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def tlc_file(tmp_path):
    header = CodecHeader("0123456789abcdef", 16000, 80, 2, 10, 16000)
    path = tmp_path / "x.tlc"
    save_codes(path, np.zeros((2, header.num_frames), dtype=np.int64), header)
    return path


@pytest.mark.parametrize("args,code", [
    (["--help"], 0),
    (["encode", "--help"], 0),
    (["train", "--help"], 0),
    (["export", "--help"], 0),
    (["demo", "--help"], 0),
    (["encode", "in.wav"], 2),                                  # -o missing
    (["train", "--data_dir", "d", "--checkpoint_dir", "c", "--batch_size", "many"], 2),
    (["export", "-o", "out", "--format", "tflite"], 2),
])
def test_help_and_bad_flags_do_not_import_torch(args, code):
    result = telucodec_in_fresh_python(*args)
    assert result.returncode == code, result.stderr
    assert result.stderr.strip().endswith("torch imported: False"), result.stderr


@pytest.mark.parametrize("args,code", [(["--help"], 0), (["--data_dir", "d", "--checkpoint_dir", "c", "--seed", "x"], 2)])
def test_train_codec_py_help_and_bad_flags_do_not_import_torch(args, code):
    harness = HARNESS.replace("from telucodec.cli import main", f"sys.path.insert(0, {str(ROOT)!r})\n"
                                                                 "from train_codec import main")
    result = subprocess.run([sys.executable, "-c", harness, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == code, result.stderr
    assert result.stderr.strip().endswith("torch imported: False"), result.stderr


def test_info_does_not_import_torch(tlc_file):
    result = telucodec_in_fresh_python("info", tlc_file)
    assert result.returncode == 0, result.stderr
    assert "n_q:         2 x 10 bits" in result.stdout and "duration:    1.000 s" in result.stdout
    assert result.stderr.strip().endswith("torch imported: False"), result.stderr


def test_import_telucodec_leaves_torch_for_first_use():
    """Also shows that a check of sys.modules sees torch once something imports it."""
    code = ("import sys, telucodec; assert 'torch' not in sys.modules; "
            "assert callable(telucodec.load) and 'torch' in sys.modules; print(telucodec.Codec.__name__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "Codec", result.stderr


def _bad_input_cases(tmp: Path, tlc: Path) -> dict[str, list]:
    """Command lines whose fault is visible without a model: missing inputs, outputs that exist
    (no --force), impossible numbers, a --model that is not there."""
    wav = tmp / "a.wav"
    sf.write(wav, np.zeros(1600, dtype=np.float32), 16000)
    (tmp / "taken.wav").write_bytes(b"mine")
    (tmp / "graphs").mkdir()
    (tmp / "graphs" / "encoder.onnx").write_bytes(b"mine")
    missing = tmp / "missing"
    return {
        "encode_missing_input": ["encode", missing / "x.wav", "-o", tmp / "x.tlc"],
        "encode_existing_output": ["encode", tlc, "-o", tmp / "taken.wav"],
        "encode_negative_kbps": ["encode", wav, "-o", tmp / "y.tlc", "--kbps", "-3"],
        "encode_zero_n_q": ["encode", wav, "-o", tmp / "y.tlc", "--n_q", "0"],
        "encode_missing_model": ["encode", wav, "-o", tmp / "y.tlc", "--model", missing / "m.pt"],
        "decode_missing_input": ["decode", missing / "x.tlc", "-o", tmp / "x.wav"],
        "decode_existing_output": ["decode", tlc, "-o", tmp / "taken.wav"],
        "roundtrip_missing_input": ["roundtrip", missing / "x.wav", "-o", tmp / "r.wav"],
        "roundtrip_existing_output": ["roundtrip", wav, "-o", tmp / "taken.wav"],
        "info_missing_model": ["info", tlc, "--model", missing / "m.pt"],
        "tokenize_missing_model": ["tokenize", tmp, "-o", tmp / "tok", "--model", missing / "m.pt"],
        "fit_entropy_missing_folder": ["fit-entropy", missing, "-o", tmp / "m.safetensors"],
        "fit_entropy_existing_output": ["fit-entropy", tmp, "-o", tmp / "taken.wav"],
        "export_existing_graphs": ["export", "-o", tmp / "graphs"],
        "export_zero_n_q": ["export", "-o", tmp / "g2", "--n_q", "0"],
        "demo_missing_input": ["demo", "-o", tmp / "demo", "--input", missing / "x.wav"],
        "train_missing_data": ["train", "--data_dir", missing, "--checkpoint_dir", tmp / "ckpt"],
        "train_missing_init_from": ["train", "--data_dir", tmp, "--checkpoint_dir", tmp / "ckpt",
                                    "--init_from", missing / "m.safetensors"],
        "stream_missing_input": ["stream", missing / "x.wav", "--model", tlc],
        "stream_existing_output": ["stream", wav, "-o", tmp / "taken.wav", "--model", tlc],
    }


@pytest.mark.parametrize("case", [
    "encode_missing_input", "encode_existing_output", "encode_negative_kbps", "encode_zero_n_q",
    "encode_missing_model", "decode_missing_input", "decode_existing_output", "roundtrip_missing_input",
    "roundtrip_existing_output", "info_missing_model", "tokenize_missing_model", "fit_entropy_missing_folder",
    "fit_entropy_existing_output", "export_existing_graphs", "export_zero_n_q", "demo_missing_input",
    "train_missing_data", "train_missing_init_from", "stream_missing_input", "stream_existing_output"])
def test_bad_input_is_refused_before_torch_is_imported(case, tmp_path, tlc_file):
    result = telucodec_in_fresh_python(*_bad_input_cases(tmp_path, tlc_file)[case])
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and lines[0].startswith("telucodec: error: "), result.stderr
    assert "Traceback" not in result.stderr and lines[-1] == "torch imported: False", result.stderr
