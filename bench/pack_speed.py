"""Speed of the ``.tlc`` bit-packing: one hour of codes at 16 kbps, packed and unpacked.

    python -m bench.pack_speed [--seconds 3600] [--repeats 5]

Codes: ``--seconds`` of 8 quantizers x 10-bit codes at 200 frames/s (16 kbps; 5.76 M codes for an
hour), uniformly random. Each step is timed best of ``--repeats``, against a reference measured in
the same run: the same codes written and read as plain uint16 (``tobytes`` / ``frombuffer``),
the copy any format has to make. The target is under 1 s for each of pack and unpack of an hour
(exit status 1 when over it).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from bench.common import best_time, one_line_errors
from bench.speed import markdown_table
from telucodec.bitstream import CodecHeader, decode_bytes, encode_bytes, pack_codes, unpack_codes

PROG = "pack_speed.py"
BITS, N_Q, FRAME_RATE, HOP = 10, 8, 200, 80
TARGET_S_PER_HOUR = 1.0


def measure(seconds: float, repeats: int) -> list[dict]:
    """Rows of (step, seconds, reference seconds, ratio, within target) for ``seconds`` of codes."""
    frames = int(seconds * FRAME_RATE)
    codes = np.random.default_rng(0).integers(0, 1 << BITS, (N_Q, frames))
    header = CodecHeader("0123456789abcdef", FRAME_RATE * HOP, HOP, N_Q, BITS, frames * HOP)
    pack_s, packed = best_time(lambda: pack_codes(codes, BITS), repeats)
    unpack_s, unpacked = best_time(lambda: unpack_codes(packed, codes.size, BITS), repeats)
    write_s, stream = best_time(lambda: encode_bytes(codes, header), repeats)
    read_s, (decoded, _) = best_time(lambda: decode_bytes(stream), repeats)
    if not (np.array_equal(unpacked.reshape(codes.shape), codes) and np.array_equal(decoded, codes)):
        raise AssertionError("codes did not survive the round trip")
    raw_write_s, raw = best_time(lambda: codes.astype(np.uint16).tobytes(), repeats)
    raw_read_s, _ = best_time(lambda: np.frombuffer(raw, dtype=np.uint16).astype(np.int64), repeats)
    target = TARGET_S_PER_HOUR * seconds / 3600
    rows = [("pack_codes", pack_s, raw_write_s), ("unpack_codes", unpack_s, raw_read_s),
            ("encode_bytes (header, pack, CRC32)", write_s, raw_write_s),
            ("decode_bytes (checks, CRC32, unpack)", read_s, raw_read_s)]
    return [{"step": step, "seconds": s, "reference_s": ref, "ratio": s / ref, "within": s < target}
            for step, s, ref in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600.0, help="audio length the codes stand for")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per step; the fastest counts")
    args = parser.parse_args(argv)
    rows = measure(args.seconds, args.repeats)
    target = TARGET_S_PER_HOUR * args.seconds / 3600
    print(f"{args.seconds:g} s of codes at 16 kbps: {N_Q} x {int(args.seconds * FRAME_RATE)} codes of {BITS} bits.\n")
    print(markdown_table(rows, [("step", "step"), ("seconds", "seconds"), ("reference_s", "uint16 copy (s)"),
                                ("ratio", "time / uint16 copy"), ("within", f"< {target:.3g} s")]))
    print("\nuint16 copy: the same codes written (tobytes) or read (frombuffer) as plain 16-bit integers, "
          "timed in this run; a time / copy ratio near 1 means packing costs no more than copying.")
    return 0 if all(row["within"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(one_line_errors(PROG, main))
