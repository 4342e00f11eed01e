#!/usr/bin/env python3
"""Inference speed of telucodec on CPU, against opusenc/opusdec and the DAC and EnCodec architectures.

    python bench/speed.py [--model PATH | --preset NAME [NAME ...]] [--audio FILE] [--seconds 60]
                          [--threads 1 2] [--bitrates all | KBPS ...] [--repeats 1] [--no-reference-archs]
                          [--ref-python PY] [--quick] [--json OUT]
    python bench/speed.py --long [--model PATH | --preset NAME] [--long-seconds 3600]

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
codebook look-ups change.

DAC and EnCodec run in a separate Python (``--ref-python``, default /tmp/refcodecs/bin/python
when it exists) because their packages depend on torchaudio, which would replace our torch:

    python -m venv /tmp/refcodecs --system-site-packages
    /tmp/refcodecs/bin/pip install --no-deps descript-audio-codec encodec einops argbind docstring-parser

torchaudio and audiotools (dac's audio toolkit) are replaced by empty stand-ins in that process:
both are imported by the packages but not used to build or run the models.

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
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 16000
CHUNK_SECONDS = 10.0          # telucodec's chunk length; also the reference archs' chunks and the MAC pass
WARMUP_SECONDS = 12.0         # one chunk plus its context: every kernel shape of the timed runs
OPUS_MIN_KBPS = 6.0           # libopus's lowest useful speech rate; opusenc clamps lower requests silently
LONG_RSS_LIMIT_MB = 1536.0    # "an hour must encode and decode in < 1.5 GB"
DEFAULT_REF_PYTHON = Path("/tmp/refcodecs/bin/python")
REF_SETUP = ("python -m venv /tmp/refcodecs --system-site-packages && /tmp/refcodecs/bin/pip install --no-deps "
             "descript-audio-codec encodec einops argbind docstring-parser")
# DAC's 16 kHz model (conf/final/16khz.yml in descript-audio-codec): 50 Hz x 12 codebooks x 10 bits = 6 kbps
DAC_16KHZ = {"encoder_dim": 64, "encoder_rates": [2, 4, 5, 8], "decoder_dim": 1536, "decoder_rates": [8, 5, 4, 2],
             "n_codebooks": 12, "codebook_size": 1024, "codebook_dim": 8, "sample_rate": 16000}
REFERENCE_ARCHS = ("dac-16khz", "encodec-24khz")


def warn(message: str) -> None:
    print(f"speed.py: warning: {message}", file=sys.stderr)


# ----------------------------------------------------------------------------- audio

def speech_like(seconds: float, seed: int = 0, sample_rate: int = SAMPLE_RATE):
    """Deterministic speech-like audio, float32 in [-1, 1].

    Syllable-length segments (80-300 ms): voiced ones are harmonics of a gliding 90-220 Hz pitch
    weighted by two formant-like resonances, others are fricative noise bursts or near-silent
    pauses. Neural codecs cost the same on any input, but Opus's VBR coder does not, so the
    input should look like speech to it.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    total = int(seconds * sample_rate)
    out = np.zeros(total, dtype=np.float32)
    pos = 0
    while pos < total:
        n = min(total - pos, int(rng.uniform(0.08, 0.3) * sample_rate))
        kind = rng.choice(["voiced", "voiced", "voiced", "fricative", "pause"])
        if kind == "voiced":
            f0 = np.linspace(rng.uniform(90, 220), rng.uniform(90, 220), n)
            phase = 2 * np.pi * np.cumsum(f0) / sample_rate
            formants = rng.uniform([300, 900], [900, 2500])
            harmonics = np.arange(1, int(4000 / f0.max()) + 1)
            freqs = harmonics * f0.mean()
            gains = sum(1 / (1 + ((freqs - f) / 150) ** 2) for f in formants) / harmonics
            segment = 0.15 * (gains[:, None] * np.sin(harmonics[:, None] * phase[None])).sum(0)
        elif kind == "fricative":
            segment = 0.05 * np.diff(rng.standard_normal(n + 1))   # first difference: high-pass noise
        else:
            segment = 0.001 * rng.standard_normal(n)
        out[pos : pos + n] = segment * np.hanning(n)
        pos += n
    return np.clip(out, -1, 1)


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


# ----------------------------------------------------------------------------- processes

@dataclass
class Measured:
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
    """Run ``cmd`` to completion; its wall time and the peak RSS of that process alone."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp, name) for name in ("result", "stdout", "stderr")]
        with paths[1].open("wb") as out, paths[2].open("wb") as err:
            subprocess.run([sys.executable, "-I", "-c", RUSAGE_WRAPPER, str(paths[0]), *cmd],
                           stdout=out, stderr=err, env=env, check=True)
        code, wall, peak_kib = json.loads(paths[0].read_text())
        return Measured(code, wall, peak_kib / 1024, paths[1].read_text(errors="replace"),
                        paths[2].read_text(errors="replace"))


def run_worker(python: str, flag: str, spec: dict) -> dict:
    """Run this script's hidden worker mode ``flag`` with ``spec``; its JSON result plus the process's peak RSS."""
    result = run_measured([python, __file__, flag, json.dumps(spec)])
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"worker exited {result.returncode}: {detail}"}
    data = json.loads(lines[-1])
    data["peak_rss_mb"] = result.peak_rss_mb
    return data


# ----------------------------------------------------------------------------- measuring (in workers)

def best_time(fn, repeats: int):
    """(fastest wall time of ``repeats`` calls, the last call's result)."""
    best, result = math.inf, None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def count_macs(model, fn, *args) -> float:
    """Multiply-accumulates of ``fn(*args)``.

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

    torch.set_num_threads(spec["threads"])
    codec = _load_codec(spec)
    wav, _ = sf.read(spec["audio"], dtype="float32")
    seconds = len(wav) / SAMPLE_RATE
    warm = wav[: int(WARMUP_SECONDS * SAMPLE_RATE)]
    codec.decode(codec.encode(warm, SAMPLE_RATE), len(warm))
    rows = []
    for n_q in _select_n_q(codec, spec["bitrates"], spec["quick"]):
        enc_s, codes = best_time(lambda: codec.encode(wav, SAMPLE_RATE, n_q), spec["repeats"])
        dec_s, _ = best_time(lambda: codec.decode(codes, len(wav)), spec["repeats"])
        rows.append({"n_q": n_q, "kbps": codec.config.kbps(n_q), "enc_rtf": seconds / enc_s, "dec_rtf": seconds / dec_s})
    chunk = torch.from_numpy(wav[: int(CHUNK_SECONDS * SAMPLE_RATE)])[None, None]
    chunk_seconds = chunk.shape[-1] / SAMPLE_RATE
    codes = codec.model.encode(chunk)
    return {
        "rows": rows,
        "params_m": sum(p.numel() for p in codec.model.parameters()) / 1e6,
        "enc_gmacs": count_macs(codec.model, codec.model.encode, chunk) / chunk_seconds / 1e9,
        "dec_gmacs": count_macs(codec.model, codec.model.decode, codes) / chunk_seconds / 1e9,
    }


def _stub_missing_modules() -> list[str]:
    """Install empty stand-ins for torchaudio and audiotools where they are not installed.

    encodec imports torchaudio and dac imports audiotools (which needs torchaudio) when the
    packages load, but neither is used to build or run the models, and installing torchaudio
    would replace our torch. Returns the names stubbed.
    """
    import importlib.util
    import types

    from torch import nn

    stubbed = []
    if importlib.util.find_spec("torchaudio") is None:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
        stubbed.append("torchaudio")
    if importlib.util.find_spec("audiotools") is None:
        class Unused:
            """An audiotools class dac names at import time but never uses to build or run a model."""

        class BaseModel(nn.Module):
            """audiotools.ml.BaseModel without its save/load helpers; dac extends these two lists."""
            INTERN: list[str] = []
            EXTERN: list[str] = []

        root, ml, core = (types.ModuleType(n) for n in ("audiotools", "audiotools.ml", "audiotools.core"))
        ml.BaseModel, ml.Accelerator = BaseModel, Unused
        core.util = types.ModuleType("audiotools.core.util")
        root.ml, root.core, root.AudioSignal, root.STFTParams = ml, core, Unused, Unused
        sys.modules.update({"audiotools": root, "audiotools.ml": ml, "audiotools.core": core,
                            "audiotools.core.util": core.util})
        stubbed.append("audiotools")
    return stubbed


def _build_reference(arch: str):
    """(label, sample rate, kbps, model, encode, decode) for a reference architecture, random weights."""
    if arch == "dac-16khz":
        import dac

        model = dac.model.DAC(**DAC_16KHZ).eval()
        rate = DAC_16KHZ["sample_rate"]
        return ("DAC 16 kHz", rate, 6.0, model,
                lambda x: model.encode(model.preprocess(x, rate))[1],
                lambda codes: model.decode(model.quantizer.from_codes(codes)[0]))
    import encodec

    model = encodec.EncodecModel.encodec_model_24khz(pretrained=False).eval()
    model.set_target_bandwidth(6.0)   # 8 codebooks x 10 bits x 75 Hz
    return "EnCodec 24 kHz", model.sample_rate, 6.0, model, model.encode, model.decode


def reference_worker(spec: dict) -> dict:
    """Time a reference architecture on the audio (resampled to its rate) in 10 s chunks."""
    try:
        import numpy as np
        import soundfile as sf
        import soxr
        import torch

        stubbed = _stub_missing_modules()
        label, rate, kbps, model, encode, decode = _build_reference(spec["arch"])
    except Exception as exc:   # any import or construction failure becomes a skipped row
        return {"skipped": f"{spec['arch']}: {type(exc).__name__}: {exc}"}
    torch.set_num_threads(spec["threads"])
    wav, sr = sf.read(spec["audio"], dtype="float32")
    seconds = len(wav) / sr
    audio = torch.from_numpy(soxr.resample(wav, sr, rate).astype(np.float32))[None, None]
    chunks = torch.split(audio, int(CHUNK_SECONDS * rate), dim=-1)
    with torch.inference_mode():
        decode(encode(audio[..., : int(WARMUP_SECONDS * rate)]))
        enc_s, codes = best_time(lambda: [encode(c) for c in chunks], spec["repeats"])
        dec_s, _ = best_time(lambda: [decode(c) for c in codes], spec["repeats"])
        chunk_seconds = chunks[0].shape[-1] / rate
        enc_macs = count_macs(model, encode, chunks[0])
        dec_macs = count_macs(model, decode, codes[0])
    return {
        "label": label, "sample_rate": rate, "kbps": kbps, "stubbed": stubbed,
        "enc_rtf": seconds / enc_s, "dec_rtf": seconds / dec_s,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "enc_gmacs": enc_macs / chunk_seconds / 1e9, "dec_gmacs": dec_macs / chunk_seconds / 1e9,
    }


# ----------------------------------------------------------------------------- Opus

def opus_kbps(kbps: float) -> float:
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
            raise SystemExit(f"speed.py: error: opus tool failed: {run.stderr.strip()}")
    seconds = _wav_seconds(audio)
    peak = max(r.peak_rss_mb for r in enc + dec)
    floor = run_measured(["true"]).peak_rss_mb   # the launcher's own size (see RUSAGE_WRAPPER)
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
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def markdown_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
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
            result = run_worker(sys.executable, "--worker", {
                **spec, "audio": str(audio), "threads": threads, "repeats": repeats,
                "bitrates": args.bitrates, "quick": args.quick})
            if "error" in result:
                raise SystemExit(f"speed.py: error: {spec['label']}: {result['error']}")
            shared = {k: result[k] for k in ("params_m", "enc_gmacs", "dec_gmacs", "peak_rss_mb")}
            rows += [{"codec": spec["label"], "threads": threads, **row, **shared} for row in result["rows"]]
    if not args.no_reference_archs:
        rows += reference_rows(args, audio, repeats, warnings)
    opus: dict[float, dict] = {}
    if shutil.which("opusenc") and shutil.which("opusdec"):
        for kbps in sorted({opus_kbps(r["kbps"]) for r in rows}):
            opus[kbps] = time_opus(audio, kbps, 1 if args.quick else max(3, repeats), tmp)
    else:
        warnings.append("opusenc/opusdec not found: no Opus rows or ratios (apt-get install opus-tools)")
    add_opus_ratios(rows, opus)
    rows += opus.values()
    for message in warnings:
        warn(message)
    print(markdown_table(rows, COLUMNS))
    print("\nxRT: audio seconds per processing second. Encode / Opus, decode / Opus: speed relative to "
          f"opusenc / opusdec at the same kbps (at {OPUS_MIN_KBPS:g} kbps for lower rates). Decode cost barely "
          "depends on n_q. GMAC/s: multiply-accumulates per second of audio (FFT work not counted).")
    return {"input": description, "machine": machine, "rows": rows, "warnings": warnings}


def reference_rows(args: argparse.Namespace, audio: Path, repeats: int, warnings: list[str]) -> list[dict]:
    """DAC and EnCodec rows from --ref-python; a warning instead where they cannot be built."""
    if not args.ref_python.is_file():
        warnings.append(f"--ref-python {args.ref_python} not found: no DAC or EnCodec rows; to time them: {REF_SETUP}")
        return []
    rows = []
    for arch in REFERENCE_ARCHS:
        for threads in args.threads:
            result = run_worker(str(args.ref_python), "--ref-worker", {
                "arch": arch, "audio": str(audio), "threads": threads, "repeats": repeats})
            reason = result.get("skipped") or result.get("error")
            if reason:
                warnings.append(f"reference architecture skipped ({reason}); to time it: {REF_SETUP}")
                break
            rows.append({"codec": f"{result['label']} (random weights)", "threads": threads, **result})
    return rows


def long_run(args: argparse.Namespace, tmp: Path) -> dict:
    """Encode and decode a long generated file with the CLI; wall time and peak RSS of each command."""
    if args.preset:
        from telucodec.codec import save_pretrained
        from telucodec.config import preset
        from telucodec.model import TeluCodec

        model = str(tmp / f"{args.preset[0]}.safetensors")
        save_pretrained(TeluCodec(preset(args.preset[0])), model)
        label = f"telucodec {args.preset[0]} (random weights)"
    else:
        model = str(args.model) if args.model else None
        label = f"telucodec {Path(model).name}" if model else "telucodec (shipped model)"
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
            raise SystemExit(f"speed.py: error: telucodec {step} failed: {run.stderr.strip()}")
        rows.append({"step": f"telucodec {step}", "wall_s": run.wall_s, "rtf": args.long_seconds / run.wall_s,
                     "peak_rss_mb": run.peak_rss_mb, "within": run.peak_rss_mb < LONG_RSS_LIMIT_MB})
    if abs(_wav_seconds(decoded) - _wav_seconds(source)) > 1 / SAMPLE_RATE:
        raise SystemExit("speed.py: error: the decoded file's length differs from the input's")
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
    parser.add_argument("--ref-python", type=Path,
                        default=DEFAULT_REF_PYTHON if DEFAULT_REF_PYTHON.exists() else Path(sys.executable),
                        help="Python with dac and encodec installed (see the module docstring)")
    parser.add_argument("--quick", action="store_true", help="one run each, lowest and highest bitrate only")
    parser.add_argument("--long", action="store_true", help="instead: encode + decode a long file via the CLI")
    parser.add_argument("--long-seconds", type=float, default=3600.0)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)       # internal: one telucodec measurement
    parser.add_argument("--ref-worker", help=argparse.SUPPRESS)   # internal: one reference measurement
    args = parser.parse_args(argv)
    args.bitrates = None if args.bitrates == ["all"] else [float(b) for b in args.bitrates]
    if args.long and args.preset and len(args.preset) > 1:
        parser.error("--long takes one --preset")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker or args.ref_worker:
        worker = telucodec_worker if args.worker else reference_worker
        print(json.dumps(worker(json.loads(args.worker or args.ref_worker))))
        return
    with tempfile.TemporaryDirectory(prefix="telucodec-speed-") as tmp:
        report = long_run(args, Path(tmp)) if args.long else benchmark(args, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.long and not all(row["within"] for row in report["long"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
