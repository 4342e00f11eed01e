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
import io
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .command import OutputPath
from .errors import TeluCodecError

STDIO = Path("-")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", nargs="?", type=Path, default=STDIO,
                   help="audio file, or - for raw s16le mono PCM on stdin (default)")
    p.add_argument("-o", "--output", action=OutputPath, default=STDIO,
                   help="audio file (format from its extension) or folder, or - for raw s16le PCM at "
                        "16 kHz on stdout (default)")
    p.set_defaults(into_folder=False)
    p.add_argument("--model", type=Path, default=Path("realtime"),
                   help="a causal model (default: the shipped realtime model)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--kbps", type=float, default=None, help="target bitrate (default 6); picks n_q")
    rate.add_argument("--n_q", type=int, help="number of quantizers")
    p.add_argument("--rate", type=int, help="sample rate of raw PCM on stdin (default 16000)")
    p.add_argument("--block-ms", type=float, default=20.0, help="block size pushed at a time (default 20 ms)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")


def _output(args: argparse.Namespace) -> Path:
    """The output file: -o as given, or a file named after the input inside -o DIR/ or an existing folder."""
    if args.output == STDIO or not (args.into_folder or args.output.is_dir()):
        return args.output
    if args.input == STDIO:
        raise TeluCodecError(f"{args.output}: a folder; name the output file when the input is stdin")
    return args.output / f"{args.input.stem}.wav"


def _check_args(args: argparse.Namespace) -> None:
    """Everything that can be refused before torch is imported and the model loaded."""
    from .audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, audio_format
    from .fileio import check_output_file
    from .modelfile import model_file

    if args.input != STDIO and not args.input.is_file():
        raise TeluCodecError(f"{args.input}: no such file")
    args.output = _output(args)
    if args.output != STDIO:
        if args.output.exists() and not args.force:
            raise TeluCodecError(f"{args.output}: output exists; pass --force to overwrite it")
        check_output_file(args.output)
        audio_format(args.output)          # an extension soundfile cannot write
    if args.rate is not None and not MIN_SAMPLE_RATE <= args.rate <= MAX_SAMPLE_RATE:
        raise TeluCodecError(f"--rate must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz, got {args.rate}")
    if args.rate is not None and args.input != STDIO:
        print(f"telucodec: --rate is for raw PCM on stdin; {args.input} is read at its own rate", file=sys.stderr)
    if not 0 < args.block_ms <= 1000:
        raise TeluCodecError(f"--block-ms must be in (0, 1000], got {args.block_ms:g}")
    model_file(args.model)


def _blocks(args: argparse.Namespace) -> tuple[Iterator[np.ndarray], int, int]:
    """Blocks of float32 mono audio of --block-ms from the input, their sample rate and size."""
    if args.input == STDIO:
        rate = args.rate or 16000
        size = max(1, round(rate * args.block_ms / 1000))
        return _raw_blocks(sys.stdin.buffer, size), rate, size
    import soundfile as sf

    try:
        rate = sf.info(str(args.input)).samplerate
    except Exception as exc:
        raise TeluCodecError(f"{args.input}: not a readable audio file ({exc})") from None
    size = max(1, round(rate * args.block_ms / 1000))
    blocks = sf.blocks(str(args.input), blocksize=size, dtype="float32", always_2d=True)
    return (block.mean(axis=1) for block in blocks), rate, size


def _raw_blocks(stream, size: int) -> Iterator[np.ndarray]:
    while data := stream.read(2 * size):
        if len(data) % 2:
            print("telucodec: stdin ended in half a 16-bit sample; that byte was dropped", file=sys.stderr)
            data = data[:-1]
        yield np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768


def _pcm16(audio: np.ndarray, rate: int) -> bytes:
    """16-bit little-endian PCM as soundfile writes it into files (the same rounding and scale)."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="RAW", subtype="PCM_16", endian="LITTLE")
    return buffer.getvalue()


class Streamer:
    """The blocks through one encoder and one decoder, timing each block and measuring the delay:
    for each sample, the samples pushed from its arrival on until it leaves the decoder."""

    def __init__(self, codec, n_q: int, rate: int):
        self.enc, self.dec = codec.stream_encoder(n_q=n_q, sample_rate=rate), codec.stream_decoder()
        self.times: list[float] = []
        self.delay = 0                # samples at the model's rate (the resampler's own delay not counted)

    def run(self, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for block in blocks:
            started = time.perf_counter()
            audio = self.dec.push(self.enc.push(block))
            self.times.append(time.perf_counter() - started)
            if len(audio):   # its first sample came in the most samples ago
                self.delay = max(self.delay, self.enc.samples - (self.dec.samples - len(audio)))
            yield audio
        tail = np.concatenate([self.dec.push(self.enc.flush()), self.dec.flush()])
        # the input's length, not the last hop's zero padding
        yield tail[: max(0, len(tail) - (self.dec.samples - self.enc.samples))]


def run(args: argparse.Namespace) -> None:
    _check_args(args)
    import torch

    from .audio import write_audio
    from .codec import load
    from .realtime import check_streamable

    torch.set_num_threads(1)
    codec = load(args.model)
    check_streamable(codec)
    kbps = 6.0 if args.kbps is None and args.n_q is None else args.kbps
    n_q = codec.resolve_n_q(args.n_q, kbps)
    if args.kbps is not None and (note := codec.kbps_note(args.kbps)):
        print(f"telucodec: {note}", file=sys.stderr)
    blocks, rate, size = _blocks(args)
    streamer = Streamer(codec, n_q, rate)
    started = time.perf_counter()
    if args.output == STDIO:
        for audio in streamer.run(blocks):
            sys.stdout.buffer.write(_pcm16(audio, codec.sample_rate))
            sys.stdout.buffer.flush()
    else:
        write_audio(args.output, streamer.run(blocks), codec.sample_rate)
    _report(codec, streamer, n_q, 1000 * size / rate, time.perf_counter() - started)


def _report(codec, streamer: Streamer, n_q: int, block_ms: float, wall: float) -> None:
    if not streamer.times:
        print("telucodec: nothing streamed: the input is empty", file=sys.stderr)
        return
    times = np.array(streamer.times) * 1000
    seconds = streamer.enc.samples / codec.sample_rate
    overlap_ms = 1000 * codec.config.synthesis_tail / codec.sample_rate
    print(f"telucodec: streamed {seconds:.2f} s in {len(streamer.times)} blocks of {block_ms:.3g} ms at n_q={n_q} "
          f"({codec.config.kbps(n_q):g} kbps nominal); delay from a sample's arrival to its output: up to "
          f"{1000 * streamer.delay / codec.sample_rate:.1f} ms (its block, then the {overlap_ms:g} ms overlap-add); "
          f"encode+decode per block {times.mean():.2f} ms mean, {np.percentile(times, 99):.2f} ms p99 "
          f"({block_ms / max(times.mean(), 1e-9):.1f}x real time, one thread); {seconds / wall:.1f}x overall",
          file=sys.stderr)
