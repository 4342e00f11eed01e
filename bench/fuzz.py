"""Fuzzing: mutated .tlc streams through the decoder and bad audio files through the CLI. Only
clean errors are allowed; anything else is counted as a failure and makes the exit code 1.

    python -m bench.fuzz [--model PATH] [--tlc 10000] [--audio 1000] [--seed 0]

Part 1 runs ``--tlc`` mutations of a few real encodings through ``Codec.decompress`` in this
process: truncations, bit flips, header fields set to edge values, payload bytes, appended
garbage, splices, random bytes after the magic. Mutations of the header and payload are also
made with a recomputed CRC, so that the checks behind the CRC are reached. A clean outcome is a
``FormatError`` or audio of exactly the header's length, finite and within [-1, 1].

Part 2 writes ``--audio`` bad audio files (random bytes, truncated and corrupted WAV / FLAC /
OGG, NaN and huge float samples, empty, one-sample, many-channel, odd rates) into one folder and
runs ``telucodec encode FOLDER`` once. A clean outcome per file is a .tlc or one error line
naming it; the command must exit 0 or 2 without a traceback.

Prints counts by outcome (errors grouped by their message with numbers and paths taken out).
"""
from __future__ import annotations

import argparse
import io
import re
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import soundfile as sf

import telucodec
from bench.common import REPO_ROOT, speech_like
from telucodec.bitstream import CRC_SIZE, HEADER_SIZE, FormatError

# (name, offset, struct format) of the .tlc header fields (bitstream's layout, docs/FORMAT.md)
HEADER_FIELDS = (("version", 4, "<B"), ("codebook_bits", 5, "<B"), ("n_q", 6, "<B"), ("model_id", 7, "<Q"),
                 ("sample_rate", 15, "<I"), ("hop_length", 19, "<I"), ("num_samples", 23, "<Q"))


# ----------------------------------------------------------------------------- part 1: .tlc streams

def with_crc(body: bytes) -> bytes:
    """``body`` (a stream without its CRC) with a correct CRC32 appended."""
    return body + struct.pack("<I", zlib.crc32(body))


def _edge_values(fmt: str, current: int, rng: np.random.Generator) -> int:
    top = 2 ** (8 * struct.calcsize(fmt)) - 1
    return int(rng.choice([0, 1, 2, current - 1, current + 1, current * 2, top, top // 2,
                           int(rng.integers(0, min(top, 2**62)))]) % (top + 1))


def mutate(stream: bytes, other: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    """(kind, a mutated copy of ``stream``); ``other`` is a second valid stream for splices."""
    data, body = bytearray(stream), bytearray(stream[:-CRC_SIZE])
    kind = str(rng.choice(["truncate", "flip", "flip+crc", "field+crc", "field", "payload+crc", "append",
                           "append+crc", "splice", "random", "length+crc"]))
    if kind == "truncate":
        return kind, bytes(data[: int(rng.integers(0, len(data)))])
    if kind in ("flip", "flip+crc"):
        target = data if kind == "flip" else body
        for bit in rng.integers(0, len(target) * 8, int(rng.integers(1, 9))):
            target[bit // 8] ^= 1 << (bit % 8)
        return kind, bytes(data) if kind == "flip" else with_crc(bytes(body))
    if kind in ("field", "field+crc"):
        name, offset, fmt = HEADER_FIELDS[int(rng.integers(len(HEADER_FIELDS)))]
        (current,) = struct.unpack_from(fmt, body, offset)
        struct.pack_into(fmt, body, offset, _edge_values(fmt, current, rng))
        return f"{kind}:{name}", with_crc(bytes(body)) if kind == "field+crc" else bytes(body) + data[-CRC_SIZE:]
    if kind == "payload+crc" and len(body) > HEADER_SIZE:
        start = int(rng.integers(HEADER_SIZE, len(body)))
        stop = min(len(body), start + int(rng.integers(1, 64)))
        body[start:stop] = rng.integers(0, 256, stop - start, dtype=np.uint8).tobytes()
        return kind, with_crc(bytes(body))
    if kind in ("append", "append+crc"):
        garbage = rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8).tobytes()
        return kind, bytes(data) + garbage if kind == "append" else with_crc(bytes(body) + garbage)
    if kind == "splice":
        cut = int(rng.integers(0, min(len(data), len(other))))
        return kind, bytes(data[:cut]) + other[cut:]
    if kind == "length+crc":   # a consistent stream of another length: header and payload size agree
        return kind, _relength(stream, rng)
    return "random", b"TLUC" + rng.integers(0, 256, int(rng.integers(0, 400)), dtype=np.uint8).tobytes()


def _relength(stream: bytes, rng: np.random.Generator) -> bytes:
    """``stream`` with num_samples changed and, for bit-packed (version 1) streams, the payload
    cut or zero-extended to fit; CRC fixed. An entropy-coded payload is kept as it is."""
    from telucodec.bitstream import PACKED_VERSION, parse_stream

    header, version, _ = parse_stream(stream)
    samples = int(rng.integers(0, 2 * header.num_samples + 2))
    frames = -(-samples // header.hop_length)
    payload = bytearray(stream[HEADER_SIZE:-CRC_SIZE])
    size = -(-frames * header.n_q * header.codebook_bits // 8) if version == PACKED_VERSION else len(payload)
    payload = payload[:size] + bytes(max(0, size - len(payload)))
    if size and version == PACKED_VERSION:   # padding bits after the last code must stay zero
        used = frames * header.n_q * header.codebook_bits - (size - 1) * 8
        payload[-1] &= (1 << used) - 1
    head = bytearray(stream[:HEADER_SIZE])
    struct.pack_into("<Q", head, 23, samples)
    return with_crc(bytes(head) + bytes(payload))


def classify_error(message: str) -> str:
    """An error message with paths and numbers taken out: the kind of error, for counting."""
    message = re.sub(r"\S*/\S*", "PATH", message)
    message = re.sub(r"\([^)]*\)", "(...)", message)
    return re.sub(r"\b[0-9a-f]{16}\b|-?\d+(\.\d+)?", "N", message)[:90]


def decode_outcome(codec: telucodec.Codec, data: bytes) -> tuple[str, bool]:
    """(outcome, clean) of decoding ``data``."""
    from telucodec.bitstream import parse_stream

    try:
        audio = codec.decompress(data)
    except FormatError as exc:
        return f"FormatError: {classify_error(str(exc))}", True
    except Exception as exc:   # noqa: BLE001 -- anything else is what the fuzzer is looking for
        return f"FAILURE {type(exc).__name__}: {classify_error(str(exc))}", False
    expected = parse_stream(data)[0].num_samples
    if len(audio) != expected:
        return f"FAILURE decoded {len(audio)} samples, the header says {expected}", False
    if audio.size and not (np.isfinite(audio).all() and np.abs(audio).max() <= 1):
        return "FAILURE decoded audio is not finite or outside [-1, 1]", False
    return "decoded", True


def fuzz_streams(codec: telucodec.Codec, count: int, seed: int) -> Counter:
    """Counts of outcomes ("FAILURE ..." for unclean ones) over ``count`` mutated streams."""
    rng = np.random.default_rng(seed)
    versions = (False, True) if codec.entropy is not None else (False,)   # bit-packed and entropy-coded
    streams = [codec.compress(speech_like(seconds, seed=i), codec.sample_rate, n_q, entropy_coded=coded)
               for i, (seconds, n_q) in enumerate([(0.2, 1), (0.4, codec.max_n_q), (0.05, 2), (0.6, 3)])
               for coded in versions]
    outcomes: Counter = Counter()
    for _ in range(count):
        i = int(rng.integers(len(streams)))
        kind, data = mutate(streams[i], streams[(i + 1) % len(streams)], rng)
        outcome, clean = decode_outcome(codec, data)
        outcomes[outcome if clean else f"{outcome} [{kind}]"] += 1
    return outcomes


# ----------------------------------------------------------------------------- part 2: audio files

def _wav_bytes(wav: np.ndarray, rate: int, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wav, rate, subtype=subtype, format=fmt)
    return buffer.getvalue()


def bad_audio(rng: np.random.Generator, i: int) -> tuple[str, bytes]:
    """(file name, contents) of the ``i``-th bad (or odd) audio file."""
    clip = speech_like(float(rng.uniform(0.05, 0.6)), seed=i)
    kind = i % 12
    if kind == 0:
        return f"{i}_random.{rng.choice(['wav', 'flac', 'ogg', 'mp3'])}", rng.bytes(int(rng.integers(0, 3000)))
    if kind in (1, 2):
        data = _wav_bytes(clip, 16000, fmt="WAV" if kind == 1 else "FLAC", subtype="PCM_16")
        return f"{i}_truncated.{'wav' if kind == 1 else 'flac'}", data[: int(rng.integers(0, len(data)))]
    if kind in (3, 4):
        data = bytearray(_wav_bytes(clip, 16000, fmt="WAV" if kind == 3 else "FLAC", subtype="PCM_16"))
        for position in rng.integers(0, min(len(data), 60), int(rng.integers(1, 6))):   # header bytes
            data[position] = int(rng.integers(0, 256))
        return f"{i}_header.{'wav' if kind == 3 else 'flac'}", bytes(data)
    if kind == 5:
        values = rng.choice([np.nan, np.inf, -np.inf, 1e30, 1e-40, 3.0])
        clip[rng.integers(0, len(clip), 3)] = values
        return f"{i}_float.wav", _wav_bytes(clip, 16000, subtype="FLOAT")
    if kind == 6:
        return f"{i}_empty.wav", b"" if rng.random() < 0.5 else _wav_bytes(np.zeros(0, np.float32), 16000)
    if kind == 7:
        return f"{i}_tiny.wav", _wav_bytes(clip[: int(rng.integers(1, 4))], 16000)
    if kind == 8:
        channels = int(rng.integers(3, 64))
        return f"{i}_channels.wav", _wav_bytes(np.tile(clip[:2000, None], (1, channels)), 16000)
    if kind == 9:
        rate = int(rng.choice([1, 8, 100, 7999, 96000, 384000]))
        return f"{i}_rate.wav", _wav_bytes(clip, rate)
    if kind == 10:
        data = _wav_bytes(clip, 22050, fmt="OGG", subtype="VORBIS")
        return f"{i}_truncated.ogg", data[: int(rng.integers(0, len(data)))]
    return f"{i}_text.wav", f"not audio {i}\n".encode() * int(rng.integers(0, 50))


def fuzz_audio(model: Path | None, count: int, seed: int) -> Counter:
    """Counts of outcomes of ``count`` bad audio files through one ``telucodec encode FOLDER``."""
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "in", Path(tmp) / "out"
        folder.mkdir()
        names = []
        for i in range(count):
            name, data = bad_audio(rng, i)
            (folder / name).write_bytes(data)
            names.append(name)
        command = [sys.executable, "-m", "telucodec.cli", "encode", str(folder), "-o", str(out)]
        result = subprocess.run(command + (["--model", str(model)] if model else []), capture_output=True,
                                text=True, cwd=REPO_ROOT)
        encoded = {p.name for p in out.glob("*.tlc")} if out.is_dir() else set()
        return _audio_outcomes(names, encoded, folder, result)


def _audio_outcomes(names: list[str], encoded: set[str], folder: Path, result) -> Counter:
    errors = {}
    for line in result.stderr.splitlines():
        match = re.search(rf"telucodec: error: {re.escape(str(folder))}/([^:]+): (.*)", line)
        if match:
            errors[match.group(1)] = match.group(2)
    outcomes: Counter = Counter()
    for name in names:
        if Path(name).stem + ".tlc" in encoded or name + ".tlc" in encoded:
            outcomes["encoded"] += 1
        elif name in errors and not errors[name].startswith("unexpected"):
            outcomes[f"error: {classify_error(errors[name])}"] += 1
        else:
            outcomes[f"FAILURE {errors.get(name, 'no output and no error line')[:90]}"] += 1
    if result.returncode not in (0, 2) or "Traceback" in result.stderr:
        outcomes[f"FAILURE exit code {result.returncode}: {result.stderr.strip().splitlines()[-1:]}"] += 1
    return outcomes


# ----------------------------------------------------------------------------- report

def report(title: str, outcomes: Counter, seconds: float) -> int:
    """Print the counts; returns how many outcomes were failures."""
    failures = sum(n for outcome, n in outcomes.items() if outcome.startswith("FAILURE"))
    print(f"\n{title}: {sum(outcomes.values())} cases in {seconds:.1f} s, {failures} failures")
    for outcome, n in sorted(outcomes.items(), key=lambda item: (-item[1], item[0])):
        print(f"{n:7d}  {outcome}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="checkpoint, training folder or .safetensors (default: shipped)")
    parser.add_argument("--tlc", type=int, default=10000, help="mutated .tlc streams through the decoder")
    parser.add_argument("--audio", type=int, default=1000, help="bad audio files through telucodec encode")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    failures = 0
    if args.tlc:
        codec = telucodec.load(args.model)
        start = time.perf_counter()
        failures += report(".tlc mutations through Codec.decompress", fuzz_streams(codec, args.tlc, args.seed),
                           time.perf_counter() - start)
    if args.audio:
        start = time.perf_counter()
        failures += report("bad audio files through telucodec encode",
                           fuzz_audio(args.model, args.audio, args.seed), time.perf_counter() - start)
    print(f"\n{'FAIL' if failures else 'OK'}: {failures} unclean outcomes")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
