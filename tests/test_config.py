"""The config tree validates itself on every load: a bad value in a --config file is one line naming
the file and the key, and exit code 2, through both command lines."""
import pytest

from telucodec.config import PRESETS, TrainConfig, merge, preset
from telucodec.errors import TeluCodecError
from test_train_cli import BASE, run_train


@pytest.mark.parametrize("yaml, key, entry", [
    ("precision: fp8\n", "precision", ("train_codec.py",)),
    ("optim:\n  optimizer: adamW\n", "optim.optimizer", ("-m", "telucodec.cli", "train")),
    ("model:\n  architecture: nope\n", "model.architecture", ("train_codec.py",)),
])
def test_a_bad_word_in_a_config_file_is_one_line_and_exit_2(clip_dir, tmp_path, yaml, key, entry):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml)
    result = run_train("--data_dir", clip_dir, "--checkpoint_dir", tmp_path / "c", "--config", cfg, *BASE,
                       entry=entry)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"telucodec: error: {cfg}: {key} must be one of"), lines
    assert not (tmp_path / "c").exists()                # refused before any work


def test_values_of_the_wrong_type_or_range_are_refused_with_their_key():
    cases = [({"optim": {"learning_rate": "1e-3"}}, "optim.learning_rate must be a number"),
             ({"model": {"strides": [2, "x"]}}, "model.strides must be an integer"),
             ({"model": {"quantizer": {"kind": "rvq"}}}, "model.quantizer.kind must be one of"),
             ({"model": {"quantizer": {"init": "zeros"}}}, "model.quantizer.init must be one of"),
             ({"model": {"quantizer": {"dead_code_ratio": -1}}}, "dead_code_ratio must be >= 0"),
             ({"model": {"causal": True, "architecture": "frame"}}, "model.causal is available for the seanet and complex"),
             ({"model": {"causal": True, "architecture": "complex", "strides": [80, 2]}}, "takes one stride"),
             ({"batch_size": 0}, "batch_size must be at least 1"),
             ({"loss": {"mel_wieght": 1.0}}, "unknown config key(s): loss.mel_wieght")]
    for overrides, message in cases:
        with pytest.raises(TeluCodecError) as info:
            merge(TrainConfig(), overrides)
        assert message in str(info.value), (overrides, str(info.value))


def test_every_preset_is_valid():
    for name in PRESETS:
        TrainConfig(model=preset(name))
