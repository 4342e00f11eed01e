"""bench.common: the MAC counter counts what it claims, the generated speech is deterministic, picks
spread evenly, and a TeluCodecError becomes one line and exit status 2."""
from __future__ import annotations

import torch

from bench import common
from telucodec.errors import TeluCodecError


def test_count_macs_convs_linear_and_lstm():
    conv = torch.nn.Conv1d(4, 6, 3, padding=1, groups=2)
    linear = torch.nn.Linear(6, 5)
    lstm = torch.nn.LSTM(5, 7, num_layers=2)
    model = torch.nn.ModuleList([conv, linear, lstm])

    def forward(x: torch.Tensor) -> None:
        y = linear(conv(x).transpose(1, 2))          # (1, 10, 5)
        lstm(y.transpose(0, 1))                      # (time 10, batch 1, 5)

    expected = (10 * 6 * (4 // 2) * 3                # grouped conv: out x in/groups x kernel per step
                + 10 * 6 * 5                         # linear
                + 10 * 4 * 7 * (5 + 7) + 10 * 4 * 7 * (7 + 7))   # two LSTM layers, 4 gates each
    with torch.no_grad():
        assert common.count_macs(model, forward, torch.randn(1, 4, 10)) == expected


def test_speech_like_is_deterministic_and_bounded():
    a, b = common.speech_like(2.0, seed=3), common.speech_like(2.0, seed=3)
    assert len(a) == 32000 and (a == b).all() and a.dtype.name == "float32"
    assert 0 < abs(a).max() <= 1


def test_evenly_spread_includes_both_ends_without_repeats():
    assert common.evenly_spread(10, 4) == [0, 3, 6, 9]
    assert common.evenly_spread(3, 10) == [0, 1, 2]
    assert common.evenly_spread(0, 5) == []


def test_one_line_errors(capsys):
    def failing() -> int:
        raise TeluCodecError("clips/a.wav: not audio")

    assert common.one_line_errors("bench.py", failing) == 2
    assert capsys.readouterr().err == "bench.py: error: clips/a.wav: not audio\n"
    assert common.one_line_errors("bench.py", lambda: 0) == 0
