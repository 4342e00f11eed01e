"""Training throughput per model preset on this machine.

For each preset and precision: audio-seconds processed per wall-second, steps/s and peak resident
memory of a training step (forward, losses, backward, optimiser) on batches of speech-like audio.
Each runs in its own process so peak memory is its own. bf16 is autocast, as ``--precision bf16``
trains (the spectral losses stay in FP32). "compiled" wraps the model in torch.compile; its two
untimed warm-up steps include the compilation (training has no such flag: docs/EXPERIMENTS.md E10
found no gain on CPU).

    python -m bench.train_speed [--presets seed small tiny] [--precisions fp32 bf16] [--compile eager compiled]
                                [--batch_size 16] [--segment_seconds 1] [--steps 10] [--threads 2]
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time

from bench.common import one_line_errors, run_worker, serve_worker, speech_like
from telucodec.errors import TeluCodecError


def measure(preset_name: str, precision: str, batch: int, segment: float, steps: int, threads: int,
            mode: str) -> dict:
    """Throughput of ``steps`` training steps of one preset after two untimed ones (``run_worker`` adds
    the process's peak memory)."""
    import numpy as np
    import torch

    from telucodec.config import LossConfig, OptimConfig, preset
    from telucodec.losses import CodecLoss
    from telucodec.model import TeluCodec
    from telucodec.train import autocast_context, train_step

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = preset(preset_name)
    model = TeluCodec(cfg)
    loss_fn = CodecLoss(LossConfig(), cfg.sample_rate)
    trained = torch.compile(model) if mode == "compiled" else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    wav = torch.from_numpy(np.stack([speech_like(segment, seed, cfg.sample_rate) for seed in range(batch)]))[:, None]

    scaler = torch.amp.GradScaler("cpu", enabled=False)

    def step() -> None:   # exactly what one training step costs, clipping and all
        train_step(trained, loss_fn, optimizer, scaler, [wav], autocast_context(precision, torch.device("cpu")),
                   OptimConfig().grad_clip)

    started = time.perf_counter()
    for _ in range(2):   # warm-up: k-means init, (re)compilation, allocator growth are not steady-state cost
        step()
    warmup = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - started
    return {
        "preset": preset_name, "precision": precision, "mode": mode, "warmup_s": warmup,
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
        "kbps": cfg.kbps(), "threads": threads, "batch": f"{batch} x {segment:g} s",
        "audio_sec_per_sec": steps * batch * segment / elapsed, "steps_per_sec": steps / elapsed,
    }


def main() -> int:
    """Print the throughput table, one worker process per preset, precision and mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["seed", "small", "tiny"])
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--segment_seconds", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", nargs="+", default=["eager"], choices=["eager", "compiled"],
                        help="measure eager mode, torch.compile, or both")
    parser.add_argument("--worker", help=argparse.SUPPRESS)   # internal: measure one setting, print JSON
    args = parser.parse_args()
    if args.worker:
        serve_worker(lambda spec: measure(**spec), args.worker)
        return 0
    rows = []
    for name, precision, mode in itertools.product(args.presets, args.precisions, args.compile):
        spec = {"preset_name": name, "precision": precision, "mode": mode, "batch": args.batch_size,
                "segment": args.segment_seconds, "steps": args.steps, "threads": args.threads}
        row = run_worker("bench.train_speed", spec)
        if "error" in row:
            raise TeluCodecError(f"{name} {precision} {mode}: {row['error']}")
        rows.append(row)
    header = ("| preset | precision | mode | params (M) | kbps | threads | batch | warm-up (s) | audio-s / s | "
              "steps / s | peak RSS (MB) |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in rows:
        print(f"| {r['preset']} | {r['precision']} | {r['mode']} | {r['params_M']:.2f} | {r['kbps']:g} | {r['threads']} | "
              f"{r['batch']} | {r['warmup_s']:.1f} | {r['audio_sec_per_sec']:.1f} | {r['steps_per_sec']:.2f} | "
              f"{r['peak_rss_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(one_line_errors("train_speed.py", main))
