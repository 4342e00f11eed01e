"""onnxruntime vs PyTorch: encode and decode time on CPU for one clip, and how closely they agree.

Each model is exported with ``telucodec.export`` (ONNX, to a temporary folder); both sides then
process the whole clip at once (``TeluCodec.encode`` / ``decode`` against the two graphs), timed
alternately so machine load affects both alike; the median of ``--repeats`` runs is reported.
Presets get untrained weights (speed does not depend on training) with codebooks initialised
by one training-mode forward.

    python -m bench.export_speed (--preset NAME... | --model PATH...) [--seconds 10] [--threads 1] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from bench.common import speech_like


def build_model(preset_name: str | None, path: str | None):
    """(label, eval-mode model): a checkpoint, or a preset with codebooks initialised on speech-like audio."""
    from telucodec.codec import load
    from telucodec.config import preset
    from telucodec.model import TeluCodec

    if path is not None:
        return Path(path).name, load(path).model
    torch.manual_seed(0)
    model = TeluCodec(preset(preset_name))
    batch = torch.from_numpy(np.stack([speech_like(1.0, seed, model.cfg.sample_rate) for seed in range(8)]))
    with torch.no_grad():
        model(batch[:, None])           # training mode: k-means initialises the codebooks
    return preset_name, model.eval()


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds one call of ``fn`` takes."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(label: str, model, seconds: float, threads: int, repeats: int) -> dict:
    """Median ms of PyTorch and onnxruntime encode/decode of a ``seconds`` clip, and how far their outputs differ."""
    import onnxruntime as ort

    from telucodec.export import export

    torch.set_num_threads(threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    with tempfile.TemporaryDirectory() as folder:
        export(model, folder, "onnx")
        encoder = ort.InferenceSession(f"{folder}/encoder.onnx", options, providers=["CPUExecutionProvider"])
        decoder = ort.InferenceSession(f"{folder}/decoder.onnx", options, providers=["CPUExecutionProvider"])
    clip = speech_like(seconds, seed=99, sample_rate=model.cfg.sample_rate)[None, None]
    wav = torch.from_numpy(clip)
    with torch.inference_mode():
        codes = model.encode(wav)
        jobs = {
            "torch_encode": lambda: model.encode(wav),
            "ort_encode": lambda: encoder.run(None, {"audio": clip}),
            "torch_decode": lambda: model.decode(codes),
            "ort_decode": lambda: decoder.run(None, {"codes": codes.numpy()}),
        }
        for job in jobs.values():      # warm-up: allocations and one-off graph preparation
            job()
        times: dict[str, list[float]] = {name: [] for name in jobs}
        for _ in range(repeats):       # alternate, so load on a shared machine hits all alike
            for name, job in jobs.items():
                times[name].append(timed(job))
        ort_codes = encoder.run(None, {"audio": clip})[0]
        torch_audio = model.decode(codes).numpy()
        audio_diff = np.abs(decoder.run(None, {"codes": codes.numpy()})[0] - torch_audio).max()
        # end to end: a code flipped on a near-tie should barely change the sound
        round_trip_diff = np.abs(decoder.run(None, {"codes": ort_codes})[0] - torch_audio).max()
    ms = {name: 1000 * statistics.median(t) for name, t in times.items()}
    return {"model": label, "architecture": model.cfg.architecture, "threads": threads, "seconds": seconds,
            **ms, "codes_equal_pct": 100 * float((ort_codes == codes.numpy()).mean()),
            "audio_max_abs_diff": float(audio_diff), "round_trip_max_abs_diff": float(round_trip_diff),
            "audio_peak": float(np.abs(torch_audio).max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--preset", nargs="+", help="model presets (untrained weights)")
    which.add_argument("--model", nargs="+", help="checkpoints, training folders or .safetensors files")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for both runtimes")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sources = [(name, None) for name in args.preset or []] + [(None, path) for path in args.model or []]
    print(f"| model | arch | threads | clip (s) | encode PyTorch (ms) | encode ORT (ms) | decode PyTorch (ms) | "
          f"decode ORT (ms) | codes equal (%) | decoder max abs diff | round-trip max abs diff | output peak |\n"
          + "|---" * 12 + "|", flush=True)
    for preset_name, path in sources:
        r = measure(*build_model(preset_name, path), args.seconds, args.threads, args.repeats)
        print(f"| {r['model']} | {r['architecture']} | {r['threads']} | {r['seconds']:g} | "
              f"{r['torch_encode']:.0f} | {r['ort_encode']:.0f} ({r['torch_encode'] / r['ort_encode']:.2f}x) | "
              f"{r['torch_decode']:.0f} | {r['ort_decode']:.0f} ({r['torch_decode'] / r['ort_decode']:.2f}x) | "
              f"{r['codes_equal_pct']:.2f} | {r['audio_max_abs_diff']:.1e} | {r['round_trip_max_abs_diff']:.1e} | "
              f"{r['audio_peak']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
