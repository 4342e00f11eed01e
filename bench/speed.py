"""Inference speed of telucodec on CPU, against opusenc/opusdec and the DAC and EnCodec architectures.

    python -m bench.speed [--model PATH | --preset NAME [NAME ...]] [--audio FILE] [--seconds 60]
                          [--threads 1 2] [--bitrates all | KBPS ...] [--repeats 1] [--no-reference-archs]
                          [--ref-python PY] [--quick] [--json OUT]
    python -m bench.speed --long [--model PATH | --preset NAME] [--long-seconds 3600]

For one file (``--audio``, looped or cut to ``--seconds``; by default generated speech-like audio),
it prints one markdown table with, per codec, bitrate and thread count:

- encode and decode speed as a real-time factor: audio seconds per processing second (x real time),
  best of ``--repeats`` after an untimed warm-up;
- the ratio of that speed to opusenc/opusdec at the same bitrate on the same file (Opus runs
  below 6 kbps are not useful for speech, so lower rates are compared with Opus at 6 kbps);
- peak resident memory of the process that did the work;
- parameters, and multiply-accumulates (MACs) per second of audio for one encode (at the highest
  bitrate) and one decode pass over a 10 s chunk (convolutions, matrix products and LSTMs;
  STFT/FFT work is not counted).

Every telucodec or reference measurement runs in a fresh process per thread count, so
``torch.set_num_threads`` and the peak memory are its own. The Opus tools are single-threaded
and timed as the command-line programs they are (process start and file I/O included).

telucodec processes long inputs in 10 s chunks with 1 s of context on each side; the reference
architectures (random weights: no weights can be downloaded here) are run on plain 10 s chunks,
which slightly favours them. Decoding cost barely depends on the number of quantizers: only the
codebook look-ups change. DAC and EnCodec run in a separate Python (``--ref-python``); how to set
it up is in ``bench/speed_reference.py``.

After the table, whole commands are timed as a user runs them, in fresh processes, start-up
and model loading included: ``telucodec encode`` of a 5 s file against ``opusenc`` on the same
file, and ``telucodec --help`` / ``info`` against ``python -c "import torch"`` (which they avoid).

``--long`` instead encodes and then decodes a generated ``--long-seconds`` (one hour) file with
the ``telucodec encode`` / ``telucodec decode`` commands, and reports each command's wall time
and peak resident memory against the 1.5 GB budget (exit status 1 when over it).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from bench.common import (SAMPLE_RATE, best_time, count_macs, one_line_errors, run_measured, run_worker,
                          serve_worker, speech_like, warn)
from bench.speed_reference import CHUNK_SECONDS, WARMUP_SECONDS, default_ref_python, reference_rows
from telucodec.errors import TeluCodecError

PROG = "speed.py"
OPUS_MIN_KBPS = 6.0           # libopus's lowest useful speech rate; opusenc clamps lower requests silently
LONG_RSS_LIMIT_MB = 1536.0    # "an hour must encode and decode in < 1.5 GB"
CLI_SECONDS = 5.0             # the file the whole-command timings encode
CLI_KBPS = 6.0


# ----------------------------------------------------------------------------- audio

def write_speech_wav(path: Path, seconds: float, block_seconds: float = 60.0) -> None:
    """Write ``seconds`` of speech-like 16-bit audio block by block, so an hour never sits in memory."""
    import soundfile as sf

    with sf.SoundFile(str(path), "w", SAMPLE_RATE, 1, subtype="PCM_16") as f:
        for block in range(math.ceil(seconds / block_seconds)):
            f.write(speech_like(min(block_seconds, seconds - block * block_seconds), seed=block))


def prepare_audio(source: Path | None, seconds: float, dest: Path) -> str:
    """Write the benchmark input to ``dest`` (16 kHz mono PCM) and describe it."""
    import numpy as np
    import soundfile as sf

    if source is None:
        write_speech_wav(dest, seconds)
        return f"{seconds:g} s of generated speech-like audio"
    from telucodec.audio import load_audio

    wav = load_audio(source, SAMPLE_RATE)
    length = int(seconds * SAMPLE_RATE)
    sf.write(str(dest), np.resize(wav, length), SAMPLE_RATE, subtype="PCM_16")   # np.resize loops short files
    return f"{seconds:g} s of {source}" + (" (looped)" if len(wav) < length else "")


# ----------------------------------------------------------------------------- telucodec (in a worker)

def _load_codec(spec: dict):
    import torch

    import telucodec

    if spec.get("preset"):
        from telucodec.config import preset
        from telucodec.model import TeluCodec

        torch.manual_seed(0)
        return telucodec.Codec(TeluCodec(preset(spec["preset"])))
    return telucodec.load(spec.get("model"))


def _select_n_q(codec, bitrates: list[float] | None, quick: bool) -> list[int]:
    """Quantizer counts to time: every one, or those of the requested kbps; --quick keeps the ends."""
    n_qs = sorted({codec.n_q_for_kbps(k) for k in bitrates}) if bitrates else [n for n, _ in codec.bitrates()]
    return sorted({n_qs[0], n_qs[-1]}) if quick else n_qs


def telucodec_worker(spec: dict) -> dict:
    """Time telucodec encode/decode of the audio at each bitrate on ``spec['threads']`` threads."""
    import soundfile as sf
    import torch

    from telucodec.audio import to_mono_16k

    torch.set_num_threads(spec["threads"])
    codec = _load_codec(spec)
    rate = codec.sample_rate
    wav, file_rate = sf.read(spec["audio"], dtype="float32")
    wav = to_mono_16k(wav, file_rate, rate)   # at the model's own rate, so no timed call resamples
    seconds = len(wav) / rate
    warm = wav[: int(WARMUP_SECONDS * rate)]
    codec.decode(codec.encode(warm, rate), len(warm))
    rows = []
    for n_q in _select_n_q(codec, spec["bitrates"], spec["quick"]):
        enc_s, codes = best_time(lambda: codec.encode(wav, rate, n_q), spec["repeats"])
        dec_s, _ = best_time(lambda: codec.decode(codes, len(wav)), spec["repeats"])
        rows.append({"n_q": n_q, "kbps": codec.config.kbps(n_q), "enc_rtf": seconds / enc_s, "dec_rtf": seconds / dec_s})
    chunk = torch.from_numpy(wav[: int(CHUNK_SECONDS * rate)])[None, None]
    chunk_seconds = chunk.shape[-1] / rate
    codes = codec.model.encode(chunk)
    return {
        "rows": rows,
        "params_m": sum(p.numel() for p in codec.model.parameters()) / 1e6,
        "enc_gmacs": count_macs(codec.model, codec.model.encode, chunk) / chunk_seconds / 1e9,
        "dec_gmacs": count_macs(codec.model, codec.model.decode, codes) / chunk_seconds / 1e9,
    }


# ----------------------------------------------------------------------------- Opus

def opus_kbps(kbps: float) -> float:
    """The Opus rate a telucodec row is compared with: the same, or the lowest useful for speech."""
    return max(OPUS_MIN_KBPS, kbps)


def time_opus(audio: Path, kbps: float, repeats: int, tmp: Path) -> dict:
    """opusenc/opusdec wall time (best of ``repeats``) and peak RSS on ``audio`` at ``kbps``."""
    encoded, decoded = tmp / "opus.opus", tmp / "opus.wav"
    enc = [run_measured(["opusenc", "--quiet", "--bitrate", f"{kbps:g}", str(audio), str(encoded)])
           for _ in range(repeats)]
    dec = [run_measured(["opusdec", "--quiet", "--rate", str(SAMPLE_RATE), str(encoded), str(decoded)])
           for _ in range(repeats)]
    for run in enc + dec:
        if run.returncode != 0:
            raise TeluCodecError(f"opus tool failed: {run.stderr.strip()}")
    seconds = _wav_seconds(audio)
    peak = max(r.peak_rss_mb for r in enc + dec)
    floor = run_measured(["true"]).peak_rss_mb   # the launcher's own size (see bench.common.RUSAGE_WRAPPER)
    return {"codec": "Opus (opusenc/opusdec)", "kbps": kbps, "n_q": None, "threads": 1,
            "enc_rtf": seconds / min(r.wall_s for r in enc), "dec_rtf": seconds / min(r.wall_s for r in dec),
            "peak_rss_mb": f"<= {floor:.0f}" if peak <= floor + 1 else peak}


def _wav_seconds(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return info.frames / info.samplerate


# ----------------------------------------------------------------------------- report

COLUMNS = [("codec", "codec"), ("kbps", "kbps"), ("n_q", "n_q"), ("threads", "threads"),
           ("enc_rtf", "encode xRT"), ("dec_rtf", "decode xRT"), ("enc_vs_opus", "encode / Opus"),
           ("dec_vs_opus", "decode / Opus"), ("peak_rss_mb", "peak RSS (MB)"), ("params_m", "params (M)"),
           ("enc_gmacs", "encode GMAC/s"), ("dec_gmacs", "decode GMAC/s")]


def fmt(value) -> str:
    """A table cell: '-' for missing, yes/NO for a check, thousands or 3 significant digits for a number."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def markdown_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """``rows`` as a markdown table of ``columns`` (row key, column title)."""
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row.get(key)) for key, _ in columns) + " |" for row in rows]
    return "\n".join(lines)


def add_opus_ratios(rows: list[dict], opus: dict[float, dict]) -> None:
    """Each row's speed as a fraction of Opus's at the same (or the lowest useful) bitrate."""
    for row in rows:
        ref = opus.get(opus_kbps(row["kbps"]))
        if ref:
            row["enc_vs_opus"] = row["enc_rtf"] / ref["enc_rtf"]
            row["dec_vs_opus"] = row["dec_rtf"] / ref["dec_rtf"]


def machine_line() -> str:
    """CPU model, CPU count, torch version and load average: what the numbers were measured on."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__}, load average {load} at start"


# ----------------------------------------------------------------------------- modes

def model_specs(args: argparse.Namespace) -> list[dict]:
    """One spec per codec to time: each --preset (random weights), or --model, or the shipped default."""
    if args.preset:
        return [{"preset": name, "label": f"telucodec {name} (random weights)"} for name in args.preset]
    if args.model:
        return [{"model": str(args.model), "label": f"telucodec {Path(args.model).name}"}]
    return [{"model": None, "label": "telucodec (shipped model)"}]


def benchmark(args: argparse.Namespace, tmp: Path) -> dict:
    """The speed table for every codec, bitrate and thread count; returns what --json writes."""
    repeats = 1 if args.quick else args.repeats
    audio = tmp / "input.wav"
    description, machine = prepare_audio(args.audio, args.seconds, audio), machine_line()
    print(f"Input: {description}. Machine: {machine}.\n", flush=True)
    warnings: list[str] = []
    rows: list[dict] = []
    for spec in model_specs(args):
        for threads in args.threads:
            result = run_worker("bench.speed", {
                **spec, "audio": str(audio), "threads": threads, "repeats": repeats,
                "bitrates": args.bitrates, "quick": args.quick})
            if "error" in result:
                raise TeluCodecError(f"{spec['label']}: {result['error']}")
            shared = {k: result[k] for k in ("params_m", "enc_gmacs", "dec_gmacs", "peak_rss_mb")}
            rows += [{"codec": spec["label"], "threads": threads, **row, **shared} for row in result["rows"]]
    if not args.no_reference_archs:
        rows += reference_rows(args.ref_python, args.threads, audio, repeats, warnings)
    opus: dict[float, dict] = {}
    if shutil.which("opusenc") and shutil.which("opusdec"):
        for kbps in sorted({opus_kbps(r["kbps"]) for r in rows}):
            opus[kbps] = time_opus(audio, kbps, 1 if args.quick else max(3, repeats), tmp)
    else:
        warnings.append("opusenc/opusdec not found: no Opus rows or ratios (apt-get install opus-tools)")
    add_opus_ratios(rows, opus)
    rows += opus.values()
    commands = command_rows(args, tmp)
    for message in warnings:
        warn(PROG, message)
    print(markdown_table(rows, COLUMNS))
    print("\nxRT: audio seconds per processing second. Encode / Opus, decode / Opus: speed relative to "
          f"opusenc / opusdec at the same kbps (at {OPUS_MIN_KBPS:g} kbps for lower rates). Decode cost barely "
          "depends on n_q. GMAC/s: multiply-accumulates per second of audio (FFT work not counted).\n")
    print(markdown_table(commands, [("command", "whole command"), ("wall_s", "wall (s)"),
                                    ("reference", "reference"), ("ratio", "speed vs reference")]))
    print("\nWhole commands: fresh processes, Python start-up, imports, model loading and file I/O included. "
          "Speed vs reference: the reference's wall time / the command's (above 1: faster).")
    return {"input": description, "machine": machine, "rows": rows, "commands": commands, "warnings": warnings}


def model_file(args: argparse.Namespace, tmp: Path) -> tuple[str | None, str]:
    """(--model for the CLI, label): the first --preset saved with random weights, --model, or none."""
    if args.preset:
        from telucodec.codec import save_pretrained
        from telucodec.config import preset
        from telucodec.model import TeluCodec

        model = str(tmp / f"{args.preset[0]}.safetensors")
        save_pretrained(TeluCodec(preset(args.preset[0])), model)
        return model, f"telucodec {args.preset[0]} (random weights)"
    model = str(args.model) if args.model else None
    return model, f"telucodec {Path(model).name}" if model else "telucodec (shipped model)"


def command_rows(args: argparse.Namespace, tmp: Path) -> list[dict]:
    """Wall time (best of the repeats) of whole commands in fresh processes, start-up included, each
    with the reference it is compared with: opusenc for encode, importing torch for --help and info."""
    model, label = model_file(args, tmp)
    source, encoded, opus = tmp / "cli.wav", tmp / "cli.tlc", tmp / "cli.opus"
    write_speech_wav(source, CLI_SECONDS)
    cli, torch_import = [sys.executable, "-m", "telucodec.cli"], "python -c 'import torch'"
    opusenc = f"opusenc, {CLI_SECONDS:g} s at {CLI_KBPS:g} kbps" if shutil.which("opusenc") else None
    commands = [   # (name, command, reference name), in the order they run (info reads what encode wrote)
        (torch_import, [sys.executable, "-c", "import torch"], None),
        ("telucodec --help", [*cli, "--help"], torch_import),
        (f"telucodec encode, {CLI_SECONDS:g} s at {CLI_KBPS:g} kbps ({label})",
         [*cli, "encode", str(source), "-o", str(encoded), "--kbps", f"{CLI_KBPS:g}", "--force", "-q",
          *(["--model", model] if model else [])], opusenc),
        ("telucodec info", [*cli, "info", str(encoded)], torch_import),
    ]
    if opusenc:
        commands.append((opusenc, ["opusenc", "--quiet", "--bitrate", f"{CLI_KBPS:g}", str(source), str(opus)], None))
    walls: dict[str, float] = {}
    for name, cmd, _ in commands:
        runs = [run_measured(cmd) for _ in range(1 if args.quick else max(3, args.repeats))]
        if runs[0].returncode != 0:
            raise TeluCodecError(f"{name} failed: {runs[0].stderr.strip()}")
        walls[name] = min(r.wall_s for r in runs)
    return [{"command": name, "wall_s": walls[name], "reference": ref,
             "ratio": walls[ref] / walls[name] if ref else None} for name, _, ref in commands]


def long_run(args: argparse.Namespace, tmp: Path) -> dict:
    """Encode and decode a long generated file with the CLI; wall time and peak RSS of each command."""
    model, label = model_file(args, tmp)
    source, encoded, decoded = tmp / "long.wav", tmp / "long.tlc", tmp / "long.out.wav"
    write_speech_wav(source, args.long_seconds)
    threads = max(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    model_flag = ["--model", model] if model else []
    machine = machine_line()
    print(f"Input: {args.long_seconds:g} s of generated speech-like audio ({source.stat().st_size / 1e6:.0f} MB wav). "
          f"Model: {label}. {threads} thread(s). Machine: {machine}.\n", flush=True)
    rows = []
    for step, cmd in (("encode", ["encode", str(source), "-o", str(encoded)]),
                      ("decode", ["decode", str(encoded), "-o", str(decoded)])):
        run = run_measured([sys.executable, "-m", "telucodec.cli", *cmd, *model_flag], env)
        if run.returncode != 0:
            raise TeluCodecError(f"telucodec {step} failed: {run.stderr.strip()}")
        rows.append({"step": f"telucodec {step}", "wall_s": run.wall_s, "rtf": args.long_seconds / run.wall_s,
                     "peak_rss_mb": run.peak_rss_mb, "within": run.peak_rss_mb < LONG_RSS_LIMIT_MB})
    if abs(_wav_seconds(decoded) - _wav_seconds(source)) > 1 / SAMPLE_RATE:
        raise TeluCodecError("the decoded file's length differs from the input's")
    print(markdown_table(rows, [("step", "command"), ("wall_s", "wall (s)"), ("rtf", "xRT"),
                                ("peak_rss_mb", "peak RSS (MB)"), ("within", f"< {LONG_RSS_LIMIT_MB:g} MB")]))
    print(f"\nWall time includes Python start-up, model loading and file I/O. Compressed size: "
          f"{encoded.stat().st_size / 1e6:.2f} MB.")
    return {"input": f"{args.long_seconds:g} s generated", "model": label, "threads": threads,
            "machine": machine, "long": rows}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model", type=Path, help="checkpoint, training folder or .safetensors (default: shipped model)")
    which.add_argument("--preset", nargs="+", help="time these architecture presets with random weights")
    parser.add_argument("--audio", type=Path, help="input file (default: generated speech-like audio)")
    parser.add_argument("--seconds", type=float, default=60.0, help="input length; a shorter --audio is looped")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--bitrates", nargs="+", default=["all"], help="'all' or kbps values (each -> its n_q)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per measurement; the fastest counts")
    parser.add_argument("--no-reference-archs", action="store_true", help="skip the DAC and EnCodec rows")
    parser.add_argument("--ref-python", type=Path, default=default_ref_python(),
                        help="Python with dac and encodec installed (see bench/speed_reference.py)")
    parser.add_argument("--quick", action="store_true", help="one run each, lowest and highest bitrate only")
    parser.add_argument("--long", action="store_true", help="instead: encode + decode a long file via the CLI")
    parser.add_argument("--long-seconds", type=float, default=3600.0)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)       # internal: one telucodec measurement
    args = parser.parse_args(argv)
    args.bitrates = None if args.bitrates == ["all"] else [float(b) for b in args.bitrates]
    if args.long and args.preset and len(args.preset) > 1:
        parser.error("--long takes one --preset")
    return args


def main(argv: list[str] | None = None) -> int:
    """The speed table (or, with --long, the long-file run); exit status 1 when --long is over budget."""
    args = parse_args(argv)
    if args.worker:
        serve_worker(telucodec_worker, args.worker)
        return 0
    with tempfile.TemporaryDirectory(prefix="telucodec-speed-") as tmp:
        report = long_run(args, Path(tmp)) if args.long else benchmark(args, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if args.long and not all(row["within"] for row in report["long"]) else 0


if __name__ == "__main__":
    sys.exit(one_line_errors(PROG, main))
