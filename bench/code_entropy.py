"""What entropy coding saves: measured ``.tlc`` file rates with and without it, and its speed.

    python -m bench.code_entropy [--model PATH] --eval-dir DIR [DIR ...] [--max-files 300]
                                 [--speed-seconds 30] [--speed-kbps 6]

For every folder (held-out speakers or voices: the model's entropy tables must not have been fitted
on them), each file is encoded once with all quantizers; then, for every rate, the whole files are
written both ways and measured, header and CRC included:

- ``fixed``: version 1, bit-packed codes (the reference, measured in the same run);
- ``entropy``: version 2, range-coded with the model's context tables (``telucodec fit-entropy``);

and the table gives kbps = bytes * 8 / audio seconds, and entropy / nominal and entropy / fixed.
Every version-2 stream is decoded again and must give exactly the codes that were encoded.

Speed (one thread, ``--speed-seconds`` of the first folder's audio at ``--speed-kbps``): encode
(audio -> .tlc bytes) and decode (.tlc bytes -> audio) as x real time, with and without entropy
coding, best of 3.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import telucodec
from bench.common import best_time, evenly_spread, one_line_errors
from telucodec.audio import find_audio_files, load_audio
from telucodec.bitstream import decode_bytes, encode_bytes
from telucodec.errors import TeluCodecError

PROG = "code_entropy.py"


def folder_clips(codec: telucodec.Codec, folder: Path, max_files: int) -> list[tuple[np.ndarray, int]]:
    """(codes with every quantizer (max_n_q, frames), samples) of up to ``max_files`` files spread
    over the folder."""
    files = find_audio_files(folder)
    if not files:
        raise TeluCodecError(f"{folder}: no audio files")
    clips = []
    for i in evenly_spread(len(files), max_files):
        wav = load_audio(files[i], codec.sample_rate)
        clips.append((codec.encode(wav, codec.sample_rate), len(wav)))
    return clips


def rate_rows(codec: telucodec.Codec, clips: list[tuple[np.ndarray, int]]) -> list[tuple[int, float, float, float]]:
    """(n_q, nominal, fixed, entropy kbps) per rate; checks that every stream decodes exactly."""
    seconds = sum(samples for _, samples in clips) / codec.sample_rate
    rows = []
    for n_q, nominal in codec.bitrates():
        fixed = coded = 0
        for codes, samples in clips:
            header = codec.header(n_q, samples)
            fixed += len(encode_bytes(codes[:n_q], header))
            data = encode_bytes(codes[:n_q], header, codec.entropy)
            if not np.array_equal(decode_bytes(data, codec.model_id, codec.entropy)[0], codes[:n_q]):
                raise AssertionError(f"n_q={n_q}: a stream decoded to other codes than were encoded")
            coded += len(data)
        rows.append((n_q, nominal, fixed * 8 / seconds / 1000, coded * 8 / seconds / 1000))
    return rows


def speed_audio(codec: telucodec.Codec, folder: Path, seconds: float) -> np.ndarray:
    """``seconds`` of the folder's files one after another (looped when the folder is shorter)."""
    wanted, parts = int(seconds * codec.sample_rate), []
    for path in find_audio_files(folder):
        parts.append(load_audio(path, codec.sample_rate))
        if sum(map(len, parts)) >= wanted:
            break
    return np.resize(np.concatenate(parts), wanted)


def speed(codec: telucodec.Codec, wav: np.ndarray, n_q: int) -> dict[str, float]:
    """x real time of compress / decompress with and without entropy coding, and of the range
    coder alone on the same codes (one thread, best of 3)."""
    seconds = len(wav) / codec.sample_rate
    out = {}
    for name, coded in (("fixed", False), ("entropy", True)):
        encode_time, data = best_time(lambda: codec.compress(wav, codec.sample_rate, n_q, entropy_coded=coded), 3)
        decode_time, _ = best_time(lambda: codec.decompress(data), 3)
        out[f"encode {name}"], out[f"decode {name}"] = seconds / encode_time, seconds / decode_time
    codes = codec.encode(wav, codec.sample_rate, n_q)
    encode_time, payload = best_time(lambda: codec.entropy.encode(codes), 3)
    decode_time, _ = best_time(lambda: codec.entropy.decode(payload, n_q, codes.shape[1]), 3)
    out["range coder alone: encode"], out["decode"] = seconds / encode_time, seconds / decode_time
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--eval-dir", type=Path, nargs="+", required=True)
    parser.add_argument("--max-files", type=int, default=300)
    parser.add_argument("--speed-seconds", type=float, default=30.0)
    parser.add_argument("--speed-kbps", type=float, default=6.0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    codec = telucodec.load(args.model)
    if codec.entropy is None:
        raise TeluCodecError("the model has no entropy model; fit one with telucodec fit-entropy")
    print(f"model {codec.model_id}, entropy tables {codec.entropy.model_id}; whole files, header and CRC included")
    for folder in args.eval_dir:
        clips = folder_clips(codec, folder, args.max_files)
        seconds = sum(samples for _, samples in clips) / codec.sample_rate
        print(f"\n{folder}: {len(clips)} files, {seconds:.1f} s\n")
        print("| n_q | nominal kbps | fixed kbps | entropy kbps | entropy / nominal | entropy / fixed |")
        print("|---:|---:|---:|---:|---:|---:|")
        for n_q, nominal, fixed, coded in rate_rows(codec, clips):
            print(f"| {n_q} | {nominal:g} | {fixed:.3f} | {coded:.3f} | {100 * coded / nominal:.1f}% "
                  f"| {100 * coded / fixed:.1f}% |")
    wav = speed_audio(codec, args.eval_dir[0], args.speed_seconds)
    n_q = codec.n_q_for_kbps(args.speed_kbps)
    print(f"\nspeed, one thread, {args.speed_seconds:g} s at n_q={n_q}: "
          + ", ".join(f"{k} {v:.0f}x real time" for k, v in speed(codec, wav, n_q).items()))
    return 0


if __name__ == "__main__":
    sys.exit(one_line_errors(PROG, main))
