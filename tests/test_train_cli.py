"""The training command, driven through its CLI: epochs, resume (exact), bad files, bad flags."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import voiced_clip

ROOT = Path(__file__).resolve().parents[1]
BASE = ["--preset", "tiny", "--batch_size", "4", "--segment_seconds", "0.25", "--learning_rate", "1e-3",
        "--num_workers", "0", "--threads", "1", "--seed", "3"]


def run_train(*args, entry=("train_codec.py",)):
    cmd = [sys.executable, *[str(ROOT / e) if e.endswith(".py") else e for e in entry], *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_trains_two_epochs_reports_and_resumes(clip_dir, tmp_path):
    ckpt = tmp_path / "ckpt"
    first = run_train("--data_dir", clip_dir, "--checkpoint_dir", ckpt, "--experiment_name", "exp",
                      "--num_epochs", 2, *BASE)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert out.count("validation (") == 2 and "SNR" in out and "SI-SDR" in out and "PESQ-WB" in out
    assert "output range [" in out and "codebooks: q1" in out and "audio-s/s" in out
    run = ckpt / "exp"
    assert (run / "last.pt").is_file() and (run / "best.pt").is_file() and list((run / "tb").iterdir())
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1]
    # STOI is a correlation: after 14 steps the tiny model's output is still noise, whose STOI can
    # fall just below 0, so the check is that a valid STOI was reported
    assert np.isfinite(records[-1]["val"]["snr"]) and -1 <= records[-1]["val"]["stoi"] <= 1
    # the same command with more epochs continues where it stopped
    again = run_train("--data_dir", clip_dir, "--checkpoint_dir", ckpt, "--experiment_name", "exp",
                      "--num_epochs", 3, *BASE, entry=("-m", "telucodec.cli", "train"))
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout and again.stdout.count("validation (") == 1
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1, 2]


def test_resume_is_exact(clip_dir, tmp_path):
    common = ["--data_dir", clip_dir, "--num_epochs", 5, "--save_every", 1000, *BASE]
    straight = run_train(*common, "--checkpoint_dir", tmp_path / "a", "--max_steps", 12)
    half = run_train(*common, "--checkpoint_dir", tmp_path / "b", "--max_steps", 6)
    resumed = run_train(*common, "--checkpoint_dir", tmp_path / "b", "--max_steps", 12)
    for result in (straight, half, resumed):
        assert result.returncode == 0, result.stderr
    assert "resuming" in resumed.stdout
    a = torch.load(tmp_path / "a" / "telucodec" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "telucodec" / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 12
    for key, value in a["model"].items():   # weights and EMA codebooks alike
        assert torch.equal(value, b["model"][key]), key
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()


def test_bad_files_are_skipped_and_counted(clip_dir, tmp_path):
    (clip_dir / "empty.wav").write_bytes(b"")
    (clip_dir / "notaudio.wav").write_text("hello")
    sf.write(clip_dir / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    sf.write(clip_dir / "short.wav", voiced_clip(0.05), 16000)
    nan = voiced_clip(1.0)
    nan[100:200] = np.nan
    sf.write(clip_dir / "nan.wav", nan, 16000, subtype="FLOAT")
    result = run_train("--data_dir", clip_dir, "--checkpoint_dir", tmp_path, "--num_epochs", 1,
                       "--val_dir", clip_dir / "sub", *BASE)
    assert result.returncode == 0, result.stderr
    assert "5 file(s) skipped" in result.stdout
    for name, reason in [("empty.wav", ""), ("notaudio.wav", "cannot read"), ("silent.wav", "silent"),
                         ("short.wav", "shorter than a segment"), ("nan.wav", "NaN")]:
        assert any(name in line and reason in line for line in result.stderr.splitlines()), name


def test_nothing_usable_is_a_one_line_error(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "bad.wav").write_text("nope")
    result = run_train("--data_dir", tmp_path / "d", "--checkpoint_dir", tmp_path / "c", *BASE)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("telucodec: error:")
    assert "no usable training audio" in result.stderr and "Traceback" not in result.stderr


def test_bad_flags_and_folders_exit_2_without_traceback(clip_dir, tmp_path):
    cases = [
        ["--data_dir", tmp_path / "missing", "--checkpoint_dir", tmp_path],
        ["--data_dir", clip_dir, "--checkpoint_dir", tmp_path, "--batch_size", "0"],
        ["--data_dir", clip_dir, "--checkpoint_dir", tmp_path, "--batch_size", "many"],
        ["--data_dir", clip_dir, "--checkpoint_dir", tmp_path, "--precision", "fp16"],
        ["--checkpoint_dir", tmp_path],
    ]
    for args in cases:
        result = run_train(*args, "--preset", "tiny")
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("telucodec: error:"), (args, result.stderr)


def test_no_resume_refuses_to_overwrite_and_low_lr_warns(clip_dir, tmp_path):
    args = ["--data_dir", clip_dir, "--checkpoint_dir", tmp_path, "--max_steps", 1, *BASE]
    first = run_train(*args, "--learning_rate", "1e-5")
    assert first.returncode == 0 and "usual range is 1e-4 to 3e-4" in first.stderr
    before = (tmp_path / "telucodec" / "last.pt").read_bytes()
    refused = run_train(*args, "--no_resume")
    assert refused.returncode == 2 and "a checkpoint exists" in refused.stderr
    assert (tmp_path / "telucodec" / "last.pt").read_bytes() == before


def test_config_file_sets_the_tree(clip_dir, tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("model:\n  latent_dim: 6\n  quantizer:\n    n_q: 2\nloss:\n  mel_weight: 0.5\n")
    result = run_train("--data_dir", clip_dir, "--checkpoint_dir", tmp_path, "--config", cfg, "--max_steps", 1, *BASE)
    assert result.returncode == 0, result.stderr
    state = torch.load(tmp_path / "telucodec" / "last.pt", weights_only=False)
    assert state["config"]["model"]["latent_dim"] == 6 and state["config"]["model"]["quantizer"]["n_q"] == 2
    assert state["config"]["loss"]["mel_weight"] == 0.5 and state["config"]["batch_size"] == 4


def test_resuming_with_a_config_file_changes_the_losses_but_never_the_model(clip_dir, tmp_path):
    args = ["--data_dir", clip_dir, "--checkpoint_dir", tmp_path, "--num_epochs", 5, *BASE]
    assert run_train(*args, "--max_steps", 1).returncode == 0
    finetune = tmp_path / "finetune.yaml"
    finetune.write_text("loss:\n  complex_weight: 2.0\n")
    result = run_train(*args, "--max_steps", 2, "--config", finetune)
    assert result.returncode == 0, result.stderr
    state = torch.load(tmp_path / "telucodec" / "last.pt", weights_only=False)
    assert state["step"] == 2 and state["config"]["loss"]["complex_weight"] == 2.0
    other_model = tmp_path / "other.yaml"
    other_model.write_text("model:\n  latent_dim: 6\n")
    refused = run_train(*args, "--max_steps", 3, "--config", other_model)
    assert refused.returncode == 2 and "model cannot change" in refused.stderr and "Traceback" not in refused.stderr
    assert torch.load(tmp_path / "telucodec" / "last.pt", weights_only=False)["step"] == 2
    low_rates = tmp_path / "low_rates.yaml"     # quantizer dropout is a training setting: it may change
    low_rates.write_text("model:\n  quantizer:\n    dropout_prob: 1.0\n")
    result = run_train(*args, "--max_steps", 3, "--config", low_rates)
    assert result.returncode == 0, result.stderr
    state = torch.load(tmp_path / "telucodec" / "last.pt", weights_only=False)
    assert state["step"] == 3 and state["config"]["model"]["quantizer"]["dropout_prob"] == 1.0


def test_resuming_follows_a_new_learning_rate_and_schedule(clip_dir, tmp_path):
    from telucodec.train import lr_lambda

    args = ["--data_dir", clip_dir, "--checkpoint_dir", tmp_path, "--save_every", 1000, *BASE]
    assert run_train(*args, "--num_epochs", 5, "--max_steps", 2).returncode == 0
    resumed = run_train(*args, "--num_epochs", 9, "--max_steps", 4, "--learning_rate", "3e-4")
    assert resumed.returncode == 0 and "resuming" in resumed.stdout, resumed.stderr
    state = torch.load(tmp_path / "telucodec" / "last.pt", weights_only=False)
    steps_per_epoch = int(re.search(r"(\d+) steps per epoch", resumed.stdout).group(1))
    expected = 3e-4 * lr_lambda(state["config"]["optim"]["warmup_steps"], 9 * steps_per_epoch)(4)
    assert state["step"] == 4 and state["config"]["optim"]["learning_rate"] == 3e-4
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(expected, rel=1e-9)


def test_every_recipe_is_a_valid_config():
    from telucodec.config import TrainConfig, load_config_file, merge

    recipes = sorted((ROOT / "recipes").glob("*.yaml"))
    assert len(recipes) >= 2
    for path in recipes:
        merge(TrainConfig(), load_config_file(path))     # every config is validated as it is built


def test_keep_best_false_writes_last_pt_only_and_small_data_is_shown_in_seconds(clip_dir, tmp_path):
    result = run_train("--data_dir", clip_dir, "--checkpoint_dir", tmp_path, "--experiment_name", "exp",
                       "--num_epochs", 1, "--keep_best", "false", *BASE)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "exp" / "last.pt").is_file() and not (tmp_path / "exp" / "best.pt").exists()
    assert re.search(r"^data: \d+ training files \(\d+\.\d s\)", result.stdout, re.MULTILINE), result.stdout


def test_durations_use_the_unit_that_shows_them():
    from telucodec.train import duration

    assert [duration(s) for s in (4.5, 59.94, 60, 750, 3599, 3600, 13464)] == \
        ["4.5 s", "59.9 s", "1.0 min", "12.5 min", "60.0 min", "1.00 h", "3.74 h"]


def test_short_validation_clips_are_scored_with_the_frame_architecture(clip_dir, tmp_path):
    """A 100-sample validation clip (the frame encoder's reflect padding needs more than 2 hops, 160
    samples, and STOI about 0.4 s) is scored like any other: the epoch validates it (STOI NaN, left
    out of the mean) and writes its checkpoint."""
    val = tmp_path / "val"
    val.mkdir()
    sf.write(val / "short.wav", voiced_clip(100 / 16000), 16000)
    sf.write(val / "long.wav", voiced_clip(0.5, seed=4), 16000)
    cfg = tmp_path / "frame.yaml"
    cfg.write_text("model:\n  architecture: frame\n  strides: [80]\n  frame_dim: 16\n  frame_blocks: 1\n")
    result = run_train("--data_dir", clip_dir, "--val_dir", val, "--checkpoint_dir", tmp_path, "--config", cfg,
                       "--num_epochs", 1, *BASE)
    assert result.returncode == 0, result.stderr
    assert "validation (2 clips" in result.stdout and (tmp_path / "telucodec" / "last.pt").is_file()


def test_segments_too_short_for_the_losses_are_refused_before_training(clip_dir, tmp_path):
    # 320 samples: four codec frames, but the 1024-point STFT losses need more than 512
    result = run_train("--data_dir", clip_dir, "--checkpoint_dir", tmp_path, *BASE, "--segment_seconds", "0.02")
    assert result.returncode == 2
    assert result.stderr.strip() == ("telucodec: error: data.segment_seconds must be at least 0.0320625 s (513 samples: "
                                     "one codec frame, and more than half the largest FFT of the losses), got 0.02")
    assert not (tmp_path / "telucodec").exists()


def test_a_resumed_run_follows_the_run_length_it_is_given_and_says_where_it_stopped(clip_dir, tmp_path):
    args = ["--data_dir", clip_dir, "--checkpoint_dir", tmp_path, "--num_epochs", 1, *BASE]
    last = tmp_path / "telucodec" / "last.pt"
    first = run_train(*args, "--max_steps", 4)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == f"stopped at step 4, epoch 0 (batch 4): max_steps 4 reached; {last} holds it"
    # the same command without --max_steps: no step limit now (not the checkpoint's 4), so the epoch is finished
    second = run_train(*args)
    assert second.returncode == 0, second.stderr
    assert "max_steps none" in second.stdout and second.stdout.count("validation (") == 1
    steps = torch.load(last, weights_only=False)["step"]
    assert steps > 4
    assert second.stdout.splitlines()[-1] == f"stopped at step {steps}, epoch 1 (batch 0): num_epochs 1 done; {last} holds it"
    # nothing left to do: said so, and why, without reading the data
    third = run_train(*args)
    assert third.returncode == 0, third.stderr
    assert "data:" not in third.stdout and "nothing left to do" in third.stdout
    assert third.stdout.splitlines()[-1].startswith(f"stopped at step {steps}, epoch 1 (batch 0): num_epochs 1 done "
                                                    "before this run began")


def test_every_speaker_folder_keeps_a_validation_file(tmp_path):
    """The hashed 5% split alone would hold out nothing of a speaker with few files; each speaker
    folder of two or more files keeps one, so the held-out report covers every speaker."""
    from telucodec.data import split_files

    for speaker, count in (("spk_a", 3), ("spk_b", 2), ("spk_c", 1)):
        (tmp_path / speaker).mkdir()
        for i in range(count):
            sf.write(tmp_path / speaker / f"{i}.wav", voiced_clip(0.3, seed=i), 16000)
    train, val = split_files(tmp_path, None, 0.05)
    held = sorted(p.parent.name for p in val)
    assert held == ["spk_a", "spk_b"] and len(train) + len(val) == 6


def test_a_new_run_never_overwrites_files_of_the_users_in_its_folder(clip_dir, tmp_path):
    run = tmp_path / "ckpt" / "mine"
    run.mkdir(parents=True)
    (run / "report.md").write_text("my notes")
    (run / "config.json").write_text("{}")
    result = run_train("--data_dir", clip_dir, "--checkpoint_dir", tmp_path / "ckpt", "--experiment_name", "mine",
                       "--num_epochs", 1, *BASE)
    assert result.returncode == 2 and "holds report.md, config.json, which a new run would overwrite" in result.stderr
    assert (run / "report.md").read_text() == "my notes" and (run / "config.json").read_text() == "{}"
