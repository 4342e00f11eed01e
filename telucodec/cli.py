"""The ``telucodec`` command: one subcommand per job, every user error a one-line message and exit 2.

    telucodec train ...                      train or resume (same flags as train_codec.py)
    telucodec encode IN... -o OUT [--kbps K | --n_q N] [--model PATH] [--force]
    telucodec decode IN.tlc... -o OUT [--model PATH] [--force]
    telucodec roundtrip IN -o OUT.wav [--kbps K | --n_q N]
    telucodec info FILE.tlc
    telucodec tokenize DIR -o OUT_DIR [--n_q N] [--jobs J]
    telucodec demo [-o DIR]                  round-trip the shipped clip at every bitrate
    telucodec corpus OUT_DIR ...             build the training corpus
    telucodec export -o DIR [--format onnx|torchscript] [--n_q N] [--model PATH]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from .command import Parser, run_with_errors
from .errors import TeluCodecError


# ----------------------------------------------------------------------------- helpers

def _load_codec(args: argparse.Namespace):
    from .codec import load

    return load(args.model)


def _n_q(codec, args: argparse.Namespace) -> int:
    """The quantizer count from --n_q or --kbps (reporting the choice when the rate is not exact)."""
    n_q = codec.resolve_n_q(args.n_q, args.kbps)
    if args.n_q is None and args.kbps is not None and abs(codec.config.kbps(n_q) - args.kbps) > 1e-9:
        print(f"telucodec: --kbps {args.kbps:g} is not a multiple of {codec.config.kbps(1):g} kbps; "
              f"using n_q={n_q} ({codec.config.kbps(n_q):g} kbps)", file=sys.stderr)
    return n_q


def _pairs(inputs: list[Path], output: Path, new_suffix: str) -> list[tuple[Path, Path]]:
    """(input file, output file) pairs: one file to one file, or many (or folders) into a folder."""
    from .audio import find_audio_files

    single = len(inputs) == 1 and not inputs[0].is_dir() and not output.is_dir() and not str(output).endswith("/")
    if single:
        return [(inputs[0], output)]
    pairs = []
    for item in inputs:
        if item.is_dir():
            files = find_audio_files(item) if new_suffix == ".tlc" else sorted(item.rglob("*.tlc"))
            pairs += [(f, output / f.relative_to(item).with_suffix(new_suffix)) for f in files]
        else:
            pairs.append((item, output / (item.stem + new_suffix)))
    if not pairs:
        raise TeluCodecError(f"no input files found in {', '.join(map(str, inputs))}")
    return pairs


def _check_output(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise TeluCodecError(f"{path}: output exists; pass --force to overwrite it")


def _for_each(pairs: list[tuple[Path, Path]], force: bool, work: Callable[[Path, Path], None]) -> int:
    """Run ``work`` on every pair with a progress bar; a failing file is reported and skipped."""
    from tqdm import tqdm

    failed = 0
    for src, dst in tqdm(pairs, disable=len(pairs) == 1, unit="file"):
        try:
            _check_output(dst, force)
            work(src, dst)
        except TeluCodecError as exc:
            print(f"telucodec: error: {exc}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0


# ----------------------------------------------------------------------------- jobs

def cmd_encode(args: argparse.Namespace) -> int:
    from .audio import read_audio_blocks
    from .bitstream import save_codes

    codec = _load_codec(args)
    n_q = _n_q(codec, args)

    def work(src: Path, dst: Path) -> None:
        codes, samples = codec.encode_stream(read_audio_blocks(src, codec.sample_rate), n_q)
        save_codes(dst, codes, codec.header(n_q, samples))

    return _for_each(_pairs(args.inputs, args.output, ".tlc"), args.force, work)


def cmd_decode(args: argparse.Namespace) -> int:
    from .audio import write_wav
    from .bitstream import load_codes

    codec = _load_codec(args)

    def work(src: Path, dst: Path) -> None:
        codes, header = load_codes(src, expected_model_id=codec.model_id)
        write_wav(dst, codec.decode_stream(codes, header.num_samples), codec.sample_rate)

    return _for_each(_pairs(args.inputs, args.output, ".wav"), args.force, work)


def cmd_roundtrip(args: argparse.Namespace) -> None:
    from .audio import read_audio_blocks, write_wav
    from .bitstream import decode_bytes, encode_bytes

    codec = _load_codec(args)
    n_q = _n_q(codec, args)
    _check_output(args.output, args.force)
    codes, samples = codec.encode_stream(read_audio_blocks(args.input, codec.sample_rate), n_q)
    data = encode_bytes(codes, codec.header(n_q, samples))
    codes, header = decode_bytes(data, expected_model_id=codec.model_id)     # through the bytes, as a file would go
    write_wav(args.output, codec.decode_stream(codes, header.num_samples), codec.sample_rate)
    seconds = samples / codec.sample_rate
    print(f"{args.input} -> {args.output}: n_q={n_q}, {len(data)} bytes, {len(data) * 8 / seconds / 1000:.2f} kbps "
          f"measured ({codec.config.kbps(n_q):g} kbps nominal), {seconds:.2f} s")


def cmd_info(args: argparse.Namespace) -> None:
    from .bitstream import load_codes

    _, header = load_codes(args.input)
    seconds = header.num_samples / header.sample_rate
    size = args.input.stat().st_size
    kbps = size * 8 / seconds / 1000 if seconds else float("nan")
    print(f"file:        {args.input}\nmodel id:    {header.model_id}\nsample rate: {header.sample_rate} Hz\n"
          f"hop:         {header.hop_length} samples ({header.sample_rate / header.hop_length:g} frames/s)\n"
          f"n_q:         {header.n_q} x {header.codebook_bits} bits\nframes:      {header.num_frames}\n"
          f"duration:    {seconds:.3f} s\nbytes:       {size}\n"
          f"bitrate:     {kbps:.2f} kbps measured, {header.nominal_bitrate / 1000:g} kbps nominal")


def cmd_tokenize(args: argparse.Namespace) -> int:
    from .tokenize import tokenize_folder

    return tokenize_folder(args.input, args.output, args.model, args.n_q, args.kbps, args.jobs)


# ----------------------------------------------------------------------------- parser

def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, help="checkpoint, training folder or .safetensors (default: shipped model)")


def _add_rate(p: argparse.ArgumentParser) -> None:
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--kbps", type=float, help="target bitrate; picks the number of quantizers")
    rate.add_argument("--n_q", type=int, help="number of quantizers")


def build_parser() -> argparse.ArgumentParser:
    from . import corpus, demo, export, train

    parser = Parser(prog="telucodec", description="Neural speech codec for Telugu.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("train", help="train or resume a codec")
    train.add_arguments(p)
    p.set_defaults(job=train.train)

    p = sub.add_parser("encode", help="audio files -> .tlc codec files")
    p.add_argument("inputs", nargs="+", type=Path, help="audio files or folders")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file, or folder for several inputs")
    _add_rate(p), _add_model(p)
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(job=cmd_encode)

    p = sub.add_parser("decode", help=".tlc codec files -> 16 kHz wav")
    p.add_argument("inputs", nargs="+", type=Path, help=".tlc files or folders")
    p.add_argument("-o", "--output", type=Path, required=True, help="output file, or folder for several inputs")
    _add_model(p)
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(job=cmd_decode)

    p = sub.add_parser("roundtrip", help="encode + decode in memory; prints the bitrate")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    _add_rate(p), _add_model(p)
    p.add_argument("--force", action="store_true")
    p.set_defaults(job=cmd_roundtrip)

    p = sub.add_parser("info", help="show a .tlc file's header")
    p.add_argument("input", type=Path)
    p.set_defaults(job=cmd_info)

    p = sub.add_parser("tokenize", help="codes (.npy int16, n_q x frames) for every audio file of a folder")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    _add_rate(p), _add_model(p)
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.set_defaults(job=cmd_tokenize)

    p = sub.add_parser("demo", help="round-trip the shipped Telugu clip at every bitrate, with a metrics table")
    demo.add_arguments(p)
    p.set_defaults(job=demo.run)

    p = sub.add_parser("corpus", help="build the synthetic + real speech training corpus")
    corpus.add_arguments(p)
    p.set_defaults(job=corpus.run)

    p = sub.add_parser("export", help="encoder and decoder graphs (ONNX or TorchScript) with dynamic length")
    export.add_arguments(p)
    p.set_defaults(job=export.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_with_errors(lambda: args.job(args))


if __name__ == "__main__":
    sys.exit(main())
