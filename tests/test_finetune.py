"""Fine-tuning from trained weights (--init_from) through the training CLI: the decoder-only default
keeps the codes, entropy tables and files of the original; full mode refits the tables; a config
that changes the model's shape is refused before any data is read; the report is written."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import telucodec
from conftest import tiny_complex, voiced_clip
from telucodec.entropy_fit import fit_entropy_model

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--batch_size", "2", "--segment_seconds", "0.25", "--num_workers", "0", "--threads", "1",
        "--num_epochs", "2", "--learning_rate", "1e-3"]


def run_train(*args, entry=("train_codec.py",)) -> subprocess.CompletedProcess:
    cmd = [sys.executable, *[str(ROOT / e) if e.endswith(".py") else e for e in entry], *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    """A tiny complex model with entropy tables, as a shipped model file is."""
    path = tmp_path_factory.mktemp("orig") / "orig.safetensors"
    model = tiny_complex(causal=False)
    codec = telucodec.Codec(model)
    entropy = fit_entropy_model([codec.encode(voiced_clip(1.0, seed=s), 16000) for s in range(4)], 64)
    telucodec.save_pretrained(model, path, half=False, entropy=entropy)
    return path


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("speech")
    for seed in range(10):
        sf.write(folder / f"s{seed}.wav", voiced_clip(1.2, f0=110 + 10 * seed, seed=seed), 16000)
    return folder


def test_decoder_only_default_keeps_codes_tables_and_files(original, speech, tmp_path):
    result = run_train("--init_from", original, "--data_dir", speech, "--checkpoint_dir", tmp_path,
                       "--experiment_name", "ft", *FAST)
    assert result.returncode == 0, result.stderr
    run = tmp_path / "ft"
    assert "starting from" in result.stdout and "Fine-tuning report" in result.stdout
    assert "fine-tuning on less than 1 minute is unlikely to do any good" in result.stderr
    before, after = telucodec.load(original), telucodec.load(run)
    assert after.model_id != before.model_id                        # the decoder moved
    assert after.codes_id == before.model_id                        # ... its codes did not
    wav = voiced_clip(1.0, seed=42)
    assert np.array_equal(after.encode(wav, 16000), before.encode(wav, 16000))
    assert after.entropy is not None and after.entropy.model_id == before.entropy.model_id
    data = before.compress(wav, 16000, n_q=3)                        # a file of the original ...
    assert after.compress(wav, 16000, n_q=3) == data                  # ... is what the tuned one writes
    assert len(after.decompress(data)) == len(wav)                   # ... and decodes
    tuned = torch.load(run / "best.pt", weights_only=False)
    assert tuned["config"]["trainable"] == "decoder" and tuned["config"]["init_from"] == str(original)
    for key, value in before.model.state_dict().items():
        same = torch.equal(tuned["model"][key].float(), value.float())
        assert same == (not key.startswith("decoder.")), key
    rows = json.loads((run / "report.json").read_text())
    # 64 codes at 200 Hz: 1.2 kbps a quantizer; 2, 6 and 16 kbps map to n_q 1, 4 (the most) and 4
    assert [r["n_q"] for r in rows] == [1, 4, 4] * 2
    assert {r["model"] for r in rows} == {"original", "fine-tuned"} and len(rows) == 6
    assert (run / "report.md").is_file() and (run / "report.png").stat().st_size > 1000


def test_full_mode_makes_new_codes_and_refits_the_tables(original, speech, tmp_path):
    result = run_train("--init_from", original, "--finetune", "full", "--data_dir", speech, "--checkpoint_dir",
                       tmp_path, "--experiment_name", "ft", *FAST, entry=("-m", "telucodec.cli", "train"))
    assert result.returncode == 0, result.stderr
    before, after = telucodec.load(original), telucodec.load(tmp_path / "ft")
    assert after.codes_id == after.model_id != before.model_id
    assert after.entropy is not None and after.entropy.model_id != before.entropy.model_id
    wav = voiced_clip(1.0, seed=42)
    with pytest.raises(telucodec.FormatError, match="made by model"):
        after.decompress(before.compress(wav, 16000, n_q=3))


def test_a_config_that_changes_the_shape_is_refused_before_the_data(original, tmp_path):
    config = tmp_path / "wider.yaml"
    config.write_text("model:\n  frame_dim: 48\n")
    missing = tmp_path / "no_data_here"
    missing.mkdir()
    result = run_train("--init_from", original, "--config", config, "--data_dir", missing,
                       "--checkpoint_dir", tmp_path, *FAST)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the config changes the model's shape" in result.stderr and str(original) in result.stderr
    for args, message in ((["--preset", "tiny"], "drop --preset"), (["--finetune", "full"], None)):
        extra = ["--init_from", original] if message else []
        result = run_train(*extra, *args, "--data_dir", missing, "--checkpoint_dir", tmp_path, *FAST)
        assert result.returncode == 2 and (message or "--finetune needs --init_from") in result.stderr
    result = run_train("--init_from", tmp_path / "nothing.safetensors", "--data_dir", missing,
                       "--checkpoint_dir", tmp_path, *FAST)
    assert result.returncode == 2 and "no such model file" in result.stderr


def test_causal_flag_keeps_the_shape_so_a_model_can_be_made_causal_from_weights(original, speech, tmp_path):
    config = tmp_path / "causal.yaml"
    config.write_text("model:\n  causal: true\ntrainable: all\nearly_stop_patience: 0\n")
    result = run_train("--init_from", original, "--config", config, "--data_dir", speech, "--checkpoint_dir",
                       tmp_path, "--experiment_name", "rt", *FAST)
    assert result.returncode == 0, result.stderr
    codec = telucodec.load(tmp_path / "rt")
    assert codec.config.causal
    enc = codec.stream_encoder(n_q=2)
    assert enc.push(np.zeros(160, np.float32)).shape == (2, 2)


def test_a_fine_tune_of_a_fine_tune_starts_from_a_run_folder_and_keeps_the_first_codes(original, speech, tmp_path):
    first = run_train("--init_from", original, "--data_dir", speech, "--checkpoint_dir", tmp_path,
                      "--experiment_name", "one", *FAST)
    assert first.returncode == 0, first.stderr
    second = run_train("--init_from", tmp_path / "one" / "last.pt", "--data_dir", speech, "--checkpoint_dir",
                       tmp_path, "--experiment_name", "two", *FAST)
    assert second.returncode == 0, second.stderr
    assert "one/last.pt" in second.stdout
    third = run_train("--init_from", tmp_path / "two", "--data_dir", speech, "--checkpoint_dir", tmp_path,
                      "--experiment_name", "three", *FAST)
    assert third.returncode == 0, third.stderr
    base = telucodec.load(original)
    for run in ("one", "two", "three"):
        assert telucodec.load(tmp_path / run).codes_id == base.model_id


def test_fine_tuning_without_held_out_clips_is_refused_before_training(original, tmp_path):
    one = tmp_path / "one" / "spk"
    one.mkdir(parents=True)
    sf.write(one / "a.wav", voiced_clip(2.0), 16000)
    result = run_train("--init_from", original, "--data_dir", tmp_path / "one", "--checkpoint_dir", tmp_path,
                       *FAST)
    assert result.returncode == 2 and "fine-tuning needs held-out clips" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "telucodec" / "last.pt").exists()


def test_info_with_a_decoder_fine_tune_accepts_the_original_files(original, speech, tmp_path):
    assert run_train("--init_from", original, "--data_dir", speech, "--checkpoint_dir", tmp_path,
                     "--experiment_name", "ft", *FAST).returncode == 0
    tlc = tmp_path / "x.tlc"
    tlc.write_bytes(telucodec.load(original).compress(voiced_clip(1.0), 16000, n_q=2))
    info = subprocess.run([sys.executable, "-m", "telucodec.cli", "info", str(tlc), "--model", str(tmp_path / "ft")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert info.returncode == 0 and "(this model)" in info.stdout, info.stderr
