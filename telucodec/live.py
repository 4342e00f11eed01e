"""``telucodec stream``: audio through a causal model's stream encoder and decoder block by block,
as a call or a live stream would use them, with the delay and the real-time factor reported.

    sox speech.wav -t raw -r 16000 -e signed -b 16 -c 1 - | telucodec stream > decoded.raw
    telucodec stream speech.flac -o decoded.wav --kbps 8 --block-ms 10

Input ``-`` (the default) is raw signed 16-bit little-endian mono PCM at ``--rate`` on stdin; a file
is any format soundfile reads (mono or down-mixed, at its own rate). Output ``-`` (the default) is
raw 16-bit PCM at the model's rate on stdout, written as each block is decoded; a file is written
in the format its extension names (WAV without one), atomically at the end. The report goes to
stderr. Bad input, a missing model or an output that exists (without ``--force``) are refused
before the model is loaded.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import TeluCodecError

STDIO = Path("-")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", nargs="?", type=Path, default=STDIO,
                   help="audio file, or - for raw s16le mono PCM on stdin (default)")
    p.add_argument("-o", "--output", type=Path, default=STDIO,
                   help="audio file (format from its extension), or - for raw s16le PCM on stdout (default)")
    p.add_argument("--model", type=Path, default=Path("realtime"),
                   help="a causal model (default: the shipped realtime model)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--kbps", type=float, default=None, help="target bitrate (default 6); picks n_q")
    rate.add_argument("--n_q", type=int, help="number of quantizers")
    p.add_argument("--rate", type=int, default=16000, help="sample rate of raw PCM on stdin (default 16000)")
    p.add_argument("--block-ms", type=float, default=20.0, help="block size pushed at a time (default 20 ms)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")


def _check_args(args: argparse.Namespace) -> None:
    """Everything that can be refused before torch is imported and the model loaded."""
    from .audio import audio_format
    from .fileio import check_output_file
    from .modelfile import model_file

    if args.input != STDIO and not args.input.is_file():
        raise TeluCodecError(f"{args.input}: no such file")
    if args.output != STDIO:
        if args.output.exists() and not args.force:
            raise TeluCodecError(f"{args.output}: output exists; pass --force to overwrite it")
        check_output_file(args.output)
        audio_format(args.output)          # an extension soundfile cannot write
    model_file(args.model)
    if not 1000 <= args.rate <= 768000:
        raise TeluCodecError(f"--rate must be between 1000 and 768000 Hz, got {args.rate}")
    if not 0 < args.block_ms <= 1000:
        raise TeluCodecError(f"--block-ms must be in (0, 1000], got {args.block_ms:g}")


def _blocks(args: argparse.Namespace) -> tuple[Iterator[np.ndarray], int]:
    """Blocks of float32 mono audio of --block-ms from the input, and their sample rate."""
    if args.input == STDIO:
        size = max(1, round(args.rate * args.block_ms / 1000))
        return _raw_blocks(sys.stdin.buffer, size), args.rate
    import soundfile as sf

    try:
        rate = sf.info(str(args.input)).samplerate
    except Exception as exc:
        raise TeluCodecError(f"{args.input}: not a readable audio file ({exc})") from None
    size = max(1, round(rate * args.block_ms / 1000))
    blocks = sf.blocks(str(args.input), blocksize=size, dtype="float32", always_2d=True)
    return (block.mean(axis=1) for block in blocks), rate


def _raw_blocks(stream, size: int) -> Iterator[np.ndarray]:
    while data := stream.read(2 * size):
        if len(data) % 2:
            data = data[:-1]      # a torn last sample: no whole 16-bit value to take
        yield np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768


def _pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).round().astype("<i2").tobytes()


class Streamer:
    """The blocks through one encoder and one decoder, timing each block and tracking the backlog."""

    def __init__(self, codec, n_q: int, rate: int):
        self.enc, self.dec = codec.stream_encoder(n_q=n_q, sample_rate=rate), codec.stream_decoder()
        self.times: list[float] = []
        self.backlog = 0              # most samples (at the model's rate) pushed and not yet emitted

    def run(self, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for block in blocks:
            started = time.perf_counter()
            audio = self.dec.push(self.enc.push(block))
            self.times.append(time.perf_counter() - started)
            self.backlog = max(self.backlog, self.enc.samples - self.dec.samples)
            yield audio
        yield self.dec.push(self.enc.flush())
        yield self.dec.flush()


def run(args: argparse.Namespace) -> None:
    _check_args(args)
    import torch

    from .audio import write_audio
    from .codec import load

    torch.set_num_threads(1)
    codec = load(args.model)
    n_q = codec.resolve_n_q(args.n_q, 6.0 if args.kbps is None and args.n_q is None else args.kbps)
    blocks, rate = _blocks(args)
    streamer = Streamer(codec, n_q, rate)
    started = time.perf_counter()
    if args.output == STDIO:
        for audio in streamer.run(blocks):
            sys.stdout.buffer.write(_pcm16(audio))
            sys.stdout.buffer.flush()
    else:
        write_audio(args.output, streamer.run(blocks), codec.sample_rate)
    _report(codec, streamer, n_q, args.block_ms, time.perf_counter() - started)


def _report(codec, streamer: Streamer, n_q: int, block_ms: float, wall: float) -> None:
    times = np.array(streamer.times or [0.0]) * 1000
    seconds = streamer.enc.samples / codec.sample_rate
    hop_ms = 1000 * codec.hop_length / codec.sample_rate
    backlog_ms = 1000 * streamer.backlog / codec.sample_rate
    print(f"telucodec: streamed {seconds:.2f} s in {len(streamer.times)} blocks of {block_ms:g} ms at n_q={n_q} "
          f"({codec.config.kbps(n_q):g} kbps nominal); delay: up to {backlog_ms:.1f} ms pushed and not yet "
          f"out + {hop_ms:g} ms hop = {backlog_ms + hop_ms:.1f} ms; encode+decode per block "
          f"{times.mean():.2f} ms mean, {np.percentile(times, 99):.2f} ms p99 "
          f"({block_ms / max(times.mean(), 1e-9):.1f}x real time, one thread); {seconds / wall:.1f}x overall",
          file=sys.stderr)
