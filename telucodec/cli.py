"""The ``telucodec`` command: one subcommand per job, every user error a one-line message and exit 2.

    telucodec train ...                      train or resume (same flags as train_codec.py)
    telucodec encode IN... -o OUT [--kbps K | --n_q N] [--model PATH] [--force]
    telucodec decode IN.tlc... -o OUT [--model PATH] [--force]
    telucodec roundtrip IN -o OUT.wav [--kbps K | --n_q N]
    telucodec info FILE.tlc [--model PATH]
    telucodec tokenize DIR -o OUT_DIR [--n_q N] [--jobs J] [--force]
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
from .errors import OutputError, TeluCodecError


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
    """(input file, output file) pairs: one file to one file, or many (or folders) into a folder.

    Folders are mirrored (``DIR/sub/a.wav`` -> ``OUT/sub/a.tlc``); inputs that would share an
    output keep their extension in its name (``fileio.distinct_outputs``)."""
    from .audio import find_audio_files
    from .fileio import distinct_outputs

    single = len(inputs) == 1 and not inputs[0].is_dir() and not output.is_dir() and not str(output).endswith("/")
    if single:
        return [(inputs[0], output)]
    sources, names = [], []
    for item in inputs:
        if item.is_dir():
            files = find_audio_files(item) if new_suffix == ".tlc" else sorted(item.rglob("*.tlc"))
            sources += files
            names += [f.relative_to(item) for f in files]
        else:
            sources.append(item)
            names.append(Path(item.name))
    if not sources:
        raise TeluCodecError(f"no input files found in {', '.join(map(str, inputs))}")
    return [(src, output / name) for src, name in zip(sources, distinct_outputs(names, new_suffix, sources))]


def _check_output(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise TeluCodecError(f"{path}: output exists; pass --force to overwrite it")


def _one_line(src: Path, dst: Path, exc: Exception) -> str:
    """The error for one input of a batch, naming the file (input, or output when writing failed)."""
    if isinstance(exc, TeluCodecError):
        message = str(exc)
        return message if str(src) in message or str(dst) in message else f"{src}: {message}"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{src}: unexpected {type(exc).__name__}: {first}"


def _for_each(pairs: list[tuple[Path, Path]], force: bool, work: Callable[[Path, Path], None]) -> int:
    """Run ``work`` on every pair with a progress bar. The output folders are checked first (an
    unwritable one stops the command before any work); then a failing input is reported on its own
    line, skipped and counted, the others go on, and the exit code is 2 when any was skipped. An
    output that cannot be written (OutputError: disk full) stops the batch."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from .fileio import check_output_folder

    for folder in sorted({dst.parent for _, dst in pairs}):
        check_output_folder(folder, pairs[0][1] if len(pairs) == 1 else folder)
    failed = 0
    with logging_redirect_tqdm():   # warnings (e.g. clipping) print above the bar, not into it
        for src, dst in tqdm(pairs, disable=len(pairs) == 1, unit="file"):
            try:
                _check_output(dst, force)
                work(src, dst)
            except OutputError:        # a full disk or a read-only folder: no point trying the next file
                raise
            except Exception as exc:   # any other failure of one file: report it, skip it, go on
                tqdm.write(f"telucodec: error: {_one_line(src, dst, exc)}", file=sys.stderr)
                failed += 1
    if failed and len(pairs) > 1:
        tqdm.write(f"telucodec: {failed} of {len(pairs)} files skipped (errors above)", file=sys.stderr)
    return 2 if failed else 0


# ----------------------------------------------------------------------------- jobs

def cmd_encode(args: argparse.Namespace) -> int:
    from .audio import load_audio
    from .bitstream import save_codes

    codec = _load_codec(args)
    n_q = _n_q(codec, args)

    def work(src: Path, dst: Path) -> None:
        wav = load_audio(src, codec.sample_rate)
        save_codes(dst, codec.encode(wav, codec.sample_rate, n_q), codec.header(n_q, len(wav)))

    return _for_each(_pairs(args.inputs, args.output, ".tlc"), args.force, work)


def cmd_decode(args: argparse.Namespace) -> int:
    from .audio import write_wav
    from .bitstream import load_codes

    codec = _load_codec(args)

    def work(src: Path, dst: Path) -> None:
        codes, header = load_codes(src, model=codec.model_header)
        write_wav(dst, codec.decode(codes, header.num_samples), codec.sample_rate)

    return _for_each(_pairs(args.inputs, args.output, ".wav"), args.force, work)


def cmd_roundtrip(args: argparse.Namespace) -> None:
    from .audio import load_audio, write_wav
    from .fileio import check_output_file

    _check_output(args.output, args.force)
    check_output_file(args.output)      # before loading the model and encoding, not after
    codec = _load_codec(args)
    n_q = _n_q(codec, args)
    wav = load_audio(args.input, codec.sample_rate)
    data = codec.compress(wav, codec.sample_rate, n_q)
    write_wav(args.output, codec.decompress(data), codec.sample_rate)
    seconds = len(wav) / codec.sample_rate
    print(f"{args.input} -> {args.output}: n_q={n_q}, {len(data)} bytes, {len(data) * 8 / seconds / 1000:.2f} kbps "
          f"measured ({codec.config.kbps(n_q):g} kbps nominal), {seconds:.2f} s")


def _header_problem(header, args: argparse.Namespace) -> tuple[str, str | None]:
    """(which model the file is for, what is wrong with its header or None). Checked against the
    model (--model, else the shipped one) when the file names it; otherwise for plausibility."""
    from .audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
    from .bitstream import FormatError, check_header
    from .codec import DEFAULT_MODEL

    if args.model is not None or DEFAULT_MODEL.is_file():
        codec = _load_codec(args)
        if header.model_id == codec.model_id:
            try:
                check_header(header, codec.model_header)
            except FormatError as exc:
                return "this model", str(exc)
            return "this model", None
        which = f"another model (not {codec.model_id}); fields checked for plausibility only"
    else:
        which = "not checked (no model)"
    if not MIN_SAMPLE_RATE <= header.sample_rate <= MAX_SAMPLE_RATE or header.hop_length > header.sample_rate:
        return which, (f"implausible header: sample rate {header.sample_rate} Hz, hop {header.hop_length} "
                       f"(expected {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz and at least one frame per second)")
    return which, None


def cmd_info(args: argparse.Namespace) -> None:
    """Print a .tlc header; a header at odds with its model (or implausible) is an error, exit 2,
    after the fields are shown (no duration or bitrate is computed from it)."""
    from .bitstream import load_codes

    _, header = load_codes(args.input)
    which, problem = _header_problem(header, args)
    print(f"file:        {args.input}\nmodel id:    {header.model_id} ({which})\n"
          f"sample rate: {header.sample_rate} Hz\nhop:         {header.hop_length} samples\n"
          f"n_q:         {header.n_q} x {header.codebook_bits} bits\nframes:      {header.num_frames}")
    if problem:
        raise TeluCodecError(f"{args.input}: {problem}")
    seconds = header.num_samples / header.sample_rate
    size = args.input.stat().st_size
    kbps = size * 8 / seconds / 1000 if seconds else float("nan")
    print(f"frame rate:  {header.sample_rate / header.hop_length:g} frames/s\nduration:    {seconds:.3f} s\n"
          f"bytes:       {size}\n"
          f"bitrate:     {kbps:.2f} kbps measured, {header.nominal_bitrate / 1000:g} kbps nominal")


def cmd_tokenize(args: argparse.Namespace) -> int:
    from .tokenize import tokenize_folder

    return tokenize_folder(args.input, args.output, args.model, args.n_q, args.kbps, args.jobs, args.force)


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

    p = sub.add_parser("info", help="show a .tlc file's header, checked against the model")
    p.add_argument("input", type=Path)
    _add_model(p)
    p.set_defaults(job=cmd_info)

    p = sub.add_parser("tokenize", help="codes (.npy int16, n_q x frames) for every audio file of a folder")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    _add_rate(p), _add_model(p)
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument("--force", action="store_true", help="overwrite .npy files this command did not write")
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
