"""What the benchmarks share: the comparison rate, speech-like test audio, evenly spread picks,
one-line errors, and the worker processes that keep each measurement's threads and memory its own.

Run every benchmark from the repository root as a module (``python -m bench.speed``); a worker is
started the same way, so it finds ``bench`` and ``telucodec`` as its parent did.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The rate codecs are compared at: wideband, the rate of the reference speech codecs and of every
# telucodec preset. A telucodec model's own rate is ``codec.sample_rate``.
SAMPLE_RATE = 16000
REPO_ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- audio and picks

def speech_like(seconds: float, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Deterministic speech-like audio: float32 (samples,) in [-1, 1], ``seed`` picks the utterance.

    Syllable-length segments (80-300 ms): voiced ones are harmonics of a gliding 90-220 Hz pitch
    weighted by two formant-like resonances, others are fricative noise bursts or near-silent
    pauses. Neural codecs cost the same on any input, but Opus's VBR coder and a codec's k-means
    codebooks do not, so the input should look like speech to them.
    """
    rng = np.random.default_rng(seed)
    total = int(seconds * sample_rate)
    out = np.zeros(total, dtype=np.float32)
    pos = 0
    while pos < total:
        n = min(total - pos, int(rng.uniform(0.08, 0.3) * sample_rate))
        kind = rng.choice(["voiced", "voiced", "voiced", "fricative", "pause"])
        if kind == "voiced":
            segment = _voiced_segment(rng, n, sample_rate)
        elif kind == "fricative":
            segment = 0.05 * np.diff(rng.standard_normal(n + 1))   # first difference: high-pass noise
        else:
            segment = 0.001 * rng.standard_normal(n)
        out[pos : pos + n] = segment * np.hanning(n)
        pos += n
    return np.clip(out, -1, 1)


def _voiced_segment(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """``n`` samples of harmonics of a gliding pitch under two formant-like peaks (below 4 kHz)."""
    f0 = np.linspace(rng.uniform(90, 220), rng.uniform(90, 220), n)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    formants = rng.uniform([300, 900], [900, 2500])
    harmonics = np.arange(1, int(4000 / f0.max()) + 1)
    freqs = harmonics * f0.mean()
    gains = sum(1 / (1 + ((freqs - f) / 150) ** 2) for f in formants) / harmonics
    return 0.15 * (gains[:, None] * np.sin(harmonics[:, None] * phase[None])).sum(0)


def evenly_spread(count: int, picks: int) -> list[int]:
    """Ascending indices of up to ``picks`` of ``count`` items spread evenly, first and last included.

    Evenly spread rather than the first few because sorted paths group by sub-folder (speaker,
    source), and a sample of one group would hide how the codec does on the others.
    """
    return np.unique(np.linspace(0, count - 1, min(picks, count)).round().astype(int)).tolist()


# ----------------------------------------------------------------------------- messages

def warn(prog: str, message: str) -> None:
    """``PROG: warning: MESSAGE`` on stderr."""
    print(f"{prog}: warning: {message}", file=sys.stderr)


def one_line_errors(prog: str, body: Callable[[], int]) -> int:
    """``body()``'s exit status, or 2 after ``PROG: error: MESSAGE`` on stderr when it raises TeluCodecError."""
    # imported here, not at the top: the reference-codec workers import this module but not telucodec
    from telucodec.errors import TeluCodecError

    try:
        return body()
    except TeluCodecError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2


# ----------------------------------------------------------------------------- worker processes

@dataclass
class Measured:
    """A finished command: exit status, wall seconds, its own peak resident memory (MB) and output."""

    returncode: int
    wall_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str


# A child's ru_maxrss starts at its parent's peak (Linux carries the high-water mark across
# fork/vfork + exec), so a command started from this process, which may hold torch, would report
# at least our size. This small interpreter starts the command instead and reports its rusage.
RUSAGE_WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.call(sys.argv[2:])
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as f:
    json.dump([code, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss], f)
"""


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``cmd`` from the repository root to completion; its wall time and the peak RSS of that process alone."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp, name) for name in ("result", "stdout", "stderr")]
        with paths[1].open("wb") as out, paths[2].open("wb") as err:
            subprocess.run([sys.executable, "-I", "-c", RUSAGE_WRAPPER, str(paths[0]), *cmd],
                           stdout=out, stderr=err, env=env, cwd=REPO_ROOT, check=True)
        code, wall, peak_kib = json.loads(paths[0].read_text())
        return Measured(code, wall, peak_kib / 1024, paths[1].read_text(errors="replace"),
                        paths[2].read_text(errors="replace"))


def run_worker(module: str, spec: dict, python: str = sys.executable) -> dict:
    """``python -m MODULE --worker SPEC_JSON`` in a fresh process (see ``serve_worker``).

    Returns the worker's JSON answer plus ``peak_rss_mb`` of its process, or ``{"error": ...}``
    with its last stderr line when it fails.
    """
    result = run_measured([python, "-m", module, "--worker", json.dumps(spec)])
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"worker exited {result.returncode}: {detail}"}
    data = json.loads(lines[-1])
    data["peak_rss_mb"] = result.peak_rss_mb
    return data


def serve_worker(worker: Callable[[dict], dict], spec_json: str) -> None:
    """The worker side of ``run_worker``: print ``worker(spec)`` as one line of JSON."""
    print(json.dumps(worker(json.loads(spec_json))))


# ----------------------------------------------------------------------------- timing

def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """(fastest wall seconds of ``repeats`` calls, the last call's result)."""
    best, result = math.inf, None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def count_macs(model, fn: Callable, *args) -> float:
    """Multiply-accumulates of ``fn(*args)`` on ``model`` (a torch.nn.Module).

    Convolutions (grouped and transposed too) and matrix products come from torch's
    FlopCounterMode, which counts 2 FLOPs per MAC. It does not see LSTMs (EnCodec has them),
    so those are added from their shapes: 4 gates x hidden x (input + hidden) per step and layer.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    lstm_macs = 0

    def on_lstm(module: torch.nn.LSTM, inputs: tuple, _output) -> None:
        nonlocal lstm_macs
        steps = inputs[0].numel() // inputs[0].shape[-1]   # time x batch, whatever the layout
        dirs = 2 if module.bidirectional else 1
        for layer in range(module.num_layers):
            width = module.input_size if layer == 0 else module.hidden_size * dirs
            lstm_macs += steps * dirs * 4 * module.hidden_size * (width + module.hidden_size)

    hooks = [m.register_forward_hook(on_lstm) for m in model.modules() if isinstance(m, torch.nn.LSTM)]
    try:
        with FlopCounterMode(display=False) as counter:
            fn(*args)
    finally:
        for hook in hooks:
            hook.remove()
    return counter.get_total_flops() / 2 + lstm_macs
