"""bench.realtime end to end on tiny models: it measures the causal model's latency (320 samples
at hop 80, n_fft 320), times blocks and scores clips, and refuses a non-causal model in one line."""
from __future__ import annotations

import subprocess
import sys

import soundfile as sf

import telucodec
from conftest import tiny_complex, voiced_clip


def run_bench(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.realtime", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def test_realtime_benchmark_measures_latency_cost_and_quality(tmp_path):
    causal, other = tmp_path / "causal.safetensors", tmp_path / "other.safetensors"
    telucodec.save_pretrained(tiny_complex(), causal, half=False)
    telucodec.save_pretrained(tiny_complex(causal=False), other, half=False)
    clips = tmp_path / "clips"
    clips.mkdir()
    for seed in range(2):
        sf.write(clips / f"c{seed}.wav", voiced_clip(1.0, seed=seed), 16000)
    result = run_bench("--audio-dir", clips, "--model", causal, "--reference-model", other, "--seconds", 1,
                       "--kbps", 2.4, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "worst offset in a hop): 320 samples = 20.00 ms; best offset 241 samples" in result.stdout
    assert "with 20 ms blocks, from a sample's arrival to its output: up to 560 samples = 35.00 ms" in result.stdout
    assert "| decode |" in result.stdout and "| encode + decode, interleaved |" in result.stdout
    assert "(streamed, 20 ms blocks) | 2.4 |" in result.stdout
    assert (tmp_path / "out" / "realtime.md").read_text() in result.stdout + "\n"
    refused = run_bench("--audio-dir", clips, "--model", other, "--reference-model", other)
    assert refused.returncode == 2 and "not a causal streaming model" in refused.stderr
    assert "Traceback" not in refused.stderr
