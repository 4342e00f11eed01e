#!/usr/bin/env python3
"""Training throughput per model preset on this machine.

For each preset and precision: audio-seconds processed per wall-second, steps/s and peak resident
memory of a training step (forward, losses, backward, optimiser) on batches of speech-like audio.
Each runs in its own process so peak memory is its own. bf16 is autocast, as ``--precision bf16``
trains (the spectral losses stay in FP32). "compiled" wraps the model in torch.compile; its two
untimed warm-up steps include the compilation (training has no such flag: docs/EXPERIMENTS.md E10
found no gain on CPU).

    python bench/train_speed.py [--presets seed small tiny] [--precisions fp32 bf16] [--compile eager compiled]
                                [--batch_size 16] [--segment_seconds 1] [--steps 10] [--threads 2]
"""
from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time


def measure(preset_name: str, precision: str, batch: int, segment: float, steps: int, threads: int,
            mode: str) -> dict:
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
    n = int(segment * cfg.sample_rate)
    t = torch.arange(n) / cfg.sample_rate
    f0 = torch.linspace(100, 250, batch)[:, None]
    wav = (0.3 * torch.sin(2 * torch.pi * f0 * t) * torch.sin(2 * torch.pi * 3 * t) ** 2)[:, None]

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
        "peak_rss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["seed", "small", "tiny"])
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--segment_seconds", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", nargs="+", default=["eager"], choices=["eager", "compiled"],
                        help="measure eager mode, torch.compile, or both")
    parser.add_argument("--one", help=argparse.SUPPRESS)   # internal: measure one preset, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.precisions[0], args.batch_size, args.segment_seconds, args.steps,
                                 args.threads, args.compile[0])))
        return
    rows = []
    for name in args.presets:
        for precision, mode in itertools.product(args.precisions, args.compile):
            cmd = [sys.executable, __file__, "--one", name, "--precisions", precision, "--compile", mode,
                   "--batch_size", str(args.batch_size), "--segment_seconds", str(args.segment_seconds),
                   "--steps", str(args.steps), "--threads", str(args.threads)]
            rows.append(json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout))
    header = ("| preset | precision | mode | params (M) | kbps | threads | batch | warm-up (s) | audio-s / s | "
              "steps / s | peak RSS (MB) |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in rows:
        print(f"| {r['preset']} | {r['precision']} | {r['mode']} | {r['params_M']:.2f} | {r['kbps']:g} | {r['threads']} | "
              f"{r['batch']} | {r['warmup_s']:.1f} | {r['audio_sec_per_sec']:.1f} | {r['steps_per_sec']:.2f} | "
              f"{r['peak_rss_MB']:.0f} |")


if __name__ == "__main__":
    main()
