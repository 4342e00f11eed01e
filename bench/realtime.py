"""Real-time benchmark of a causal telucodec model: latency, cost per 20 ms block, and quality on
held-out speech against Opus at its real-time settings and a non-causal model, in one run.

    python -m bench.realtime --audio-dir DIR [--model realtime] [--reference-model default]
                             [--kbps 6 8 12] [--seconds 20] [--out DIR] [--quick]

- **Latency, measured:** an impulse is pushed one sample at a time through ``stream_encoder`` and
  ``stream_decoder``, at every offset within a hop; the latency of an offset is the number of
  samples pushed from the impulse on until the output sample at its position leaves the decoder
  (1 for a codec with no delay). The worst offset is the algorithmic latency. Also: pushed minus
  emitted samples while streaming 20 ms blocks.
- **Cost:** each 20 ms block of ``--seconds`` of speech-like audio timed through the encoder's
  ``push`` alone, the decoder's alone, and both interleaved (a two-way call on one thread), on one
  thread (mean, 99th percentile, and headroom = 20 ms / time; the fastest of 3 streams), against
  the same model's whole-signal ``encode`` / ``decode`` per 20 ms of audio (best of 3), measured
  in the same run.
- **Quality:** every clip of DIR streamed in 20 ms blocks at each ``--kbps``; bitrate from the
  ``.tlc`` file of the same codes (entropy-coded when the model has tables, header included);
  PESQ-WB, STOI, SI-SDR and level against the input. The same for the reference model (whole
  files) and for Opus (opusenc/opusdec, 20 ms frames, speech/VoIP mode, VBR: its real-time setup,
  26.5 ms algorithmic delay) at the same nominal rates, delay-compensated.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

import telucodec
from bench import reference_codecs as rc
from bench.common import SAMPLE_RATE, evenly_spread, one_line_errors, speech_like
from telucodec.audio import atomic_write, find_audio_files, load_audio
from telucodec.bitstream import encode_bytes
from telucodec.errors import TeluCodecError
from telucodec.metrics import all_metrics

PROG = "realtime.py"
BLOCK = SAMPLE_RATE // 50          # 20 ms
METRICS = ("pesq", "stoi", "si_sdr", "level_db")


def stream(codec, wav: np.ndarray, n_q: int, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Codes and audio of ``wav`` pushed block by block through a stream encoder and decoder."""
    enc, dec = codec.stream_encoder(n_q=n_q), codec.stream_decoder()
    codes, audio = [], []
    for start in range(0, len(wav), block):
        codes.append(enc.push(wav[start : start + block]))
        audio.append(dec.push(codes[-1]))
    codes.append(enc.flush())
    audio += [dec.push(codes[-1]), dec.flush()]
    return np.concatenate(codes, axis=1), np.concatenate(audio)[: len(wav)]


def impulse_latency(codec, offset: int) -> int:
    """Samples pushed from an impulse on until the output sample at its position is emitted."""
    impulse = 8 * codec.hop_length + offset
    wav = np.zeros(impulse + 16 * codec.hop_length, np.float32)
    wav[impulse] = 0.5
    enc, dec = codec.stream_encoder(n_q=1), codec.stream_decoder()
    emitted = 0
    for pushed in range(1, len(wav) + 1):
        emitted += len(dec.push(enc.push(wav[pushed - 1 : pushed])))
        if emitted > impulse:
            return pushed - impulse
    raise TeluCodecError("the impulse never left the decoder")


def latency_rows(codec) -> list[str]:
    """Markdown lines: the measured latency for one-sample pushes (worst and best offset in a hop)
    and for 20 ms blocks (a block's first sample waits for the block, then for the overlap-add)."""
    delays = [impulse_latency(codec, k) for k in range(codec.hop_length)]
    enc, dec = codec.stream_encoder(n_q=1), codec.stream_decoder()
    wav = speech_like(1.0, seed=1)
    block_delay = pushed = emitted = 0
    for start in range(0, len(wav), BLOCK):
        out = dec.push(enc.push(wav[start : start + BLOCK]))
        pushed += len(wav[start : start + BLOCK])
        if len(out):
            block_delay = max(block_delay, pushed - emitted)   # the first new sample arrived this long ago
        emitted += len(out)
    ms = 1000 / codec.sample_rate
    return [f"- algorithmic latency (impulse pushed one sample at a time, worst offset in a hop): {max(delays)} "
            f"samples = {max(delays) * ms:.2f} ms; best offset {min(delays)} samples = {min(delays) * ms:.2f} ms",
            f"- with 20 ms blocks, from a sample's arrival to its output: up to {block_delay} samples = "
            f"{block_delay * ms:.2f} ms (Opus at 20 ms frames: 26.5 ms, the frame and 6.5 ms of look-ahead)"]


def block_costs(codec, wav: np.ndarray, n_q: int, passes: int = 3) -> dict[str, np.ndarray]:
    """Seconds per 20 ms block (after one warm-up second) of the encoder's push alone, the decoder's
    push alone (as a listener runs it), and both interleaved on one thread (as a two-way call runs
    them: each evicts the other's weights from the cache), each from the fastest of ``passes``
    streams of ``wav`` (the others were slowed by the machine)."""
    codes = stream(codec, wav, n_q)[0]
    blocks = [wav[start : start + BLOCK] for start in range(0, len(wav), BLOCK)]
    frames = BLOCK // codec.hop_length
    packets = [codes[:, i : i + frames] for i in range(0, codes.shape[1], frames)]
    runs = {"encode": lambda: _push_times(codec.stream_encoder(n_q=n_q).push, blocks),
            "decode": lambda: _push_times(codec.stream_decoder().push, packets),
            "encode + decode, interleaved": lambda: _push_times(_duplex(codec, n_q), blocks)}
    return {name: min((run() for _ in range(passes)), key=np.mean) for name, run in runs.items()}


def _push_times(push, items: list) -> np.ndarray:
    """Seconds of ``push(item)`` for each item, less the first second's (warm-up)."""
    return np.array([_timed(lambda: push(item)) for item in items][SAMPLE_RATE // BLOCK :])


def _duplex(codec, n_q: int):
    """A block's push through a new encoder and, at once, a new decoder (both ends of a call)."""
    enc, dec = codec.stream_encoder(n_q=n_q), codec.stream_decoder()
    return lambda block: dec.push(enc.push(block))


def whole_signal_costs(codec, wav: np.ndarray, n_q: int) -> tuple[float, float]:
    """Seconds per 20 ms of audio for whole-signal encode and decode (best of 3)."""
    blocks = len(wav) / BLOCK
    codes = codec.encode(wav, SAMPLE_RATE, n_q=n_q)
    enc = min(_timed(lambda: codec.encode(wav, SAMPLE_RATE, n_q=n_q)) for _ in range(3))
    dec = min(_timed(lambda: codec.decode(codes)) for _ in range(3))
    return enc / blocks, dec / blocks


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cost_rows(codec, seconds: float, n_q: int) -> list[str]:
    """Markdown table of the cost per 20 ms block, streaming against whole-signal processing."""
    wav = speech_like(seconds + 1.0, seed=2)
    costs = block_costs(codec, wav, n_q)
    whole_enc, whole_dec = whole_signal_costs(codec, wav, n_q)
    whole = {"encode": whole_enc, "decode": whole_dec, "encode + decode, interleaved": whole_enc + whole_dec}
    lines = ["| per 20 ms block, 1 thread | mean ms | p99 ms | headroom (20 ms / mean) | headroom at p99 "
             "| whole-signal ms per 20 ms | streaming / whole |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, t in costs.items():
        mean, p99 = t.mean() * 1e3, np.percentile(t, 99) * 1e3
        lines.append(f"| {name} | {mean:.2f} | {p99:.2f} | {20 / mean:.1f}x | {20 / p99:.1f}x "
                     f"| {whole[name] * 1e3:.2f} | {t.mean() / whole[name]:.2f} |")
    return lines


def telucodec_row(codec, wav: np.ndarray, n_q: int, streamed: bool) -> dict:
    """Scores of one clip through a telucodec model; bits of the .tlc file of its codes."""
    if streamed:
        codes, decoded = stream(codec, wav, n_q)
    else:
        codes = codec.encode(wav, SAMPLE_RATE, n_q=n_q)
        decoded = codec.decode(codes, len(wav))
    bits = 8 * len(encode_bytes(codes, codec.header(n_q, len(wav)), codec.stream_entropy(n_q)))
    return {"kbps": bits / (len(wav) / SAMPLE_RATE) / 1000, **all_metrics(wav, decoded, SAMPLE_RATE)}


def opus_row(wav: np.ndarray, kbps: float) -> dict:
    result = rc.opus(wav, kbps=kbps, force_wideband=False)
    return {"kbps": result.payload_bits / (len(wav) / SAMPLE_RATE) / 1000,
            **all_metrics(wav, result.decoded, SAMPLE_RATE)}


def quality_rows(clips: list[np.ndarray], systems: dict, kbps_list: list[float]) -> list[str]:
    """Markdown table: mean measured kbps and metrics per system and nominal rate."""
    lines = ["| system | nominal kbps | measured kbps | PESQ-WB | STOI | SI-SDR dB | level dB |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, run in systems.items():
        for kbps in kbps_list:
            rows = [run(wav, kbps) for wav in clips]
            mean = {k: float(np.nanmean([r[k] for r in rows])) for k in ("kbps", *METRICS)}
            lines.append(f"| {name} | {kbps:g} | {mean['kbps']:.2f} | {mean['pesq']:.2f} | {mean['stoi']:.3f} "
                         f"| {mean['si_sdr']:.1f} | {mean['level_db']:+.1f} |")
    return lines


def load_clips(audio_dir: Path, max_clips: int) -> list[np.ndarray]:
    paths = find_audio_files(audio_dir)
    if not paths:
        raise TeluCodecError(f"{audio_dir}: no audio files found")
    return [load_audio(paths[i]) for i in evenly_spread(len(paths), max_clips)]


def benchmark(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)
    codec, reference = telucodec.load(args.model), telucodec.load(args.reference_model)
    clips = load_clips(args.audio_dir, 2 if args.quick else args.max_clips)
    n_q = {k: codec.n_q_for_kbps(k) for k in args.kbps}
    systems = {
        f"telucodec {args.model} (streamed, 20 ms blocks)": lambda w, k: telucodec_row(codec, w, n_q[k], True),
        f"telucodec {args.reference_model} (whole files)":
            lambda w, k: telucodec_row(reference, w, reference.n_q_for_kbps(k), False),
    }
    if shutil.which("opusenc") and shutil.which("opusdec"):
        systems["Opus (opusenc --framesize 20, speech, VBR)"] = opus_row
    else:
        print(f"{PROG}: warning: opusenc/opusdec not found (Debian package opus-tools); no Opus rows",
              file=sys.stderr)
    report = [f"# Real-time benchmark: model {codec.model_id} ({args.model}) against "
              f"{reference.model_id} ({args.reference_model}) and Opus", "", "## Latency", "",
              *latency_rows(codec), "", f"## Cost, n_q {n_q[args.kbps[0]]}, {args.seconds:g} s of speech-like audio",
              "", *cost_rows(codec, args.seconds, n_q[args.kbps[0]]), "",
              f"## Quality: {len(clips)} clips of {args.audio_dir}", "", *quality_rows(clips, systems, args.kbps)]
    text = "\n".join(report) + "\n"
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        atomic_write(args.out / "realtime.md", lambda tmp: Path(tmp).write_text(text))
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audio-dir", type=Path, required=True, help="held-out speech (searched recursively)")
    parser.add_argument("--model", default="realtime", help="a causal model (default: the shipped realtime)")
    parser.add_argument("--reference-model", default="default", help="the non-causal model to compare with")
    parser.add_argument("--kbps", type=float, nargs="+", default=[6.0, 8.0, 12.0])
    parser.add_argument("--seconds", type=float, default=20.0, help="audio timed for the cost table")
    parser.add_argument("--max-clips", type=int, default=30, help="clips of --audio-dir, evenly spread")
    parser.add_argument("--out", type=Path, help="also write realtime.md here")
    parser.add_argument("--quick", action="store_true", help="2 clips")
    args = parser.parse_args(argv)
    return one_line_errors(PROG, lambda: benchmark(args))


if __name__ == "__main__":
    sys.exit(main())
