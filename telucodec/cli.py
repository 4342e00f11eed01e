"""The ``telucodec`` command: one subcommand per job, every user error a one-line message and exit 2.

    telucodec train ...                      train or resume (same flags as train_codec.py)
    telucodec encode IN... -o OUT [--kbps K | --n_q N] [--model PATH] [--force] [--no-entropy-coding] [-q]
    telucodec decode IN.tlc... -o OUT [--model PATH] [--force] [-q]
    telucodec roundtrip IN -o OUT.wav [--kbps K | --n_q N] [-q]
    telucodec info FILE.tlc [--model PATH]
    telucodec fit-entropy DIR... -o OUT.safetensors [--model PATH] [--max-files N]
    telucodec tokenize DIR -o OUT_DIR [--n_q N] [--jobs J] [--force]
    telucodec stream [IN|-] [-o OUT|-] [--kbps K] [--block-ms MS]   real time, block by block (causal model)
    telucodec demo [-o DIR] [-q]             round-trip the shipped clip at every bitrate
    telucodec corpus OUT_DIR ...             build the training corpus
    telucodec export -o DIR [--format onnx|torchscript] [--n_q N] [--model PATH]

On success, encode, decode and roundtrip print a line per file written on stdout (-q: none).
Only the jobs import torch (lazily), so --help, info and a bad flag answer at once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from .command import OutputPath, Parser, positive_float, positive_int, run_with_errors
from .errors import OutputError, TeluCodecError

Pairs = list[tuple[Path, Path]]       # (input file, output file)
Work = Callable[[Path, Path], None]   # makes the output of one pair


# ----------------------------------------------------------------------------- helpers

def _load_codec(args: argparse.Namespace):
    from .codec import load

    return load(args.model)


def _n_q(codec, args: argparse.Namespace) -> int:
    """The quantizer count from --n_q or --kbps (reporting the choice when the rate is not the one asked)."""
    n_q = codec.resolve_n_q(args.n_q, args.kbps)
    note = codec.kbps_note(args.kbps)
    if note:
        print(f"telucodec: {note}", file=sys.stderr)
    return n_q


def _pairs(args: argparse.Namespace, inputs: list[Path], extensions: tuple[str, ...], what: str,
           new_suffix: str) -> tuple[Pairs, list[str]]:
    """(input file, output file) pairs: one file to one file, or many (or folders) into a folder;
    and for each folder a line saying how many ``what`` it holds (printed once outputs are checked).

    ``-o`` is a folder when it exists as one or ends in a slash (``-o out/``), even for one input.
    Folders are scanned for ``extensions`` (``fileio.scan_folder``: any case, links followed,
    hidden files skipped) and mirrored (``DIR/sub/a.wav`` -> ``OUT/sub/a.tlc``); inputs that would
    share an output keep their extension in its name (``fileio.distinct_outputs``). Raises
    TeluCodecError when folders hold no input file."""
    from .fileio import distinct_outputs, scan_folder

    output = args.output
    if len(inputs) == 1 and not inputs[0].is_dir() and not (args.into_folder or output.is_dir()):
        return [(inputs[0], output)], []
    sources, names, found = [], [], []
    for item in inputs:
        if item.is_dir():
            scan = scan_folder(item, extensions)
            found.append(f"telucodec: {scan.summary(item, what)}")
            sources += scan.files
            names += [f.relative_to(item) for f in scan.files]
        else:
            sources.append(item)
            names.append(Path(item.name))
    if not sources:
        raise TeluCodecError(f"no input files found in {', '.join(map(str, inputs))}")
    return [(src, output / name) for src, name in zip(sources, distinct_outputs(names, new_suffix, sources))], found


def _written(src: Path, dst: Path, codec, n_q: int, num_bytes: int, seconds: float) -> str:
    """What ``src -> dst`` at ``n_q`` quantizers wrote: bytes, measured and nominal kbps, seconds."""
    kbps = num_bytes * 8 / seconds / 1000 if seconds else float("nan")
    return (f"{src} -> {dst}: n_q={n_q}, {num_bytes} bytes, {kbps:.2f} kbps measured "
            f"({codec.config.kbps(n_q):g} kbps nominal), {seconds:.2f} s")


def _say(args: argparse.Namespace, line: str) -> None:
    """A result line on stdout (through tqdm, so it never lands on a progress bar), unless -q."""
    if not args.quiet:
        from tqdm import tqdm

        tqdm.write(line)


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


def _startable(pairs: Pairs, force: bool) -> tuple[Pairs, int]:
    """(the pairs whose input exists and whose output is free or --force'd, how many were refused).
    Checked before the model is loaded; each refusal is reported on its own line."""
    from .fileio import require_file

    startable = []
    for src, dst in pairs:
        try:
            require_file(src, "an input file")
            _check_output(dst, force)
            startable.append((src, dst))
        except TeluCodecError as exc:
            print(f"telucodec: error: {exc}", file=sys.stderr)
    return startable, len(pairs) - len(startable)


def _for_each(pairs: tuple[Pairs, list[str]], force: bool, make_work: Callable[[], Work]) -> int:
    """Run the work on every pair of ``_pairs`` with a progress bar. The output folders are checked
    first (an unwritable one stops the command before any work), then ``_pairs``' lines on what
    the folders hold are printed; ``make_work`` (which loads the model) is called only when some
    pair passes ``_startable``'s checks. A failing input is reported on its own line, skipped and
    counted, the others go on, and the exit code is 2 when any was skipped. An output that cannot
    be written (OutputError: disk full) stops the batch."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from .fileio import check_output_folder

    pairs, found = pairs
    for folder in sorted({dst.parent for _, dst in pairs}):
        check_output_folder(folder, pairs[0][1] if len(pairs) == 1 else folder)
    for line in found:
        print(line, file=sys.stderr)
    todo, failed = _startable(pairs, force)
    work = make_work() if todo else None
    with logging_redirect_tqdm():   # warnings (e.g. clipping) print above the bar, not into it
        for src, dst in tqdm(todo, disable=len(pairs) == 1, unit="file"):
            try:
                work(src, dst)
            except OutputError:        # a full disk or a read-only folder: no point trying the next file
                raise
            except Exception as exc:   # any other failure of one file (a name too long...): report, skip, go on
                tqdm.write(f"telucodec: error: {_one_line(src, dst, exc)}", file=sys.stderr)
                failed += 1
    if failed and len(pairs) > 1:
        tqdm.write(f"telucodec: {failed} of {len(pairs)} files skipped (errors above)", file=sys.stderr)
    return 2 if failed else 0


# ----------------------------------------------------------------------------- jobs

def cmd_encode(args: argparse.Namespace) -> int:
    from .audio import AUDIO_EXTENSIONS

    pairs = _pairs(args, args.inputs, AUDIO_EXTENSIONS, "audio files", ".tlc")

    def make_work() -> Work:
        from .audio import read_audio_blocks
        from .bitstream import save_codes

        codec = _load_codec(args)
        n_q = _n_q(codec, args)
        entropy = codec.stream_entropy(n_q, not args.no_entropy_coding)

        def work(src: Path, dst: Path) -> None:
            codes, samples = codec.encode_stream(read_audio_blocks(src, codec.sample_rate), n_q)
            save_codes(dst, codes, codec.header(n_q, samples), entropy)
            _say(args, _written(src, dst, codec, n_q, dst.stat().st_size, samples / codec.sample_rate))
        return work

    return _for_each(pairs, args.force, make_work)


def cmd_decode(args: argparse.Namespace) -> int:
    from .audio import audio_format

    pairs = _pairs(args, args.inputs, (".tlc",), ".tlc files", ".wav")
    for _, dst in pairs[0]:
        audio_format(dst)   # an -o extension soundfile cannot write: refused before loading the model

    def make_work() -> Work:
        from .audio import write_audio
        from .bitstream import load_codes

        codec = _load_codec(args)

        def work(src: Path, dst: Path) -> None:
            codes, header = load_codes(src, entropy=codec.entropy, model=codec.model_header)
            write_audio(dst, codec.decode_stream(codes, header.num_samples), codec.sample_rate)
            _say(args, f"{src} -> {dst}: {header.num_samples / header.sample_rate:.2f} s, "
                       f"{codec.sample_rate} Hz mono {' '.join(audio_format(dst))}")
        return work

    return _for_each(pairs, args.force, make_work)


def cmd_roundtrip(args: argparse.Namespace) -> int:
    from .audio import AUDIO_EXTENSIONS, audio_format

    pairs = _pairs(args, [args.input], AUDIO_EXTENSIONS, "audio files", ".wav")
    for _, dst in pairs[0]:
        audio_format(dst)

    def make_work() -> Work:
        from .audio import read_audio_blocks, write_audio
        from .bitstream import decode_bytes, encode_bytes

        codec = _load_codec(args)
        n_q = _n_q(codec, args)

        def work(src: Path, dst: Path) -> None:
            codes, samples = codec.encode_stream(read_audio_blocks(src, codec.sample_rate), n_q)
            data = encode_bytes(codes, codec.header(n_q, samples), codec.stream_entropy(n_q))
            # through the bytes, as a file would go
            codes, header = decode_bytes(data, entropy=codec.entropy, model=codec.model_header)
            write_audio(dst, codec.decode_stream(codes, header.num_samples), codec.sample_rate)
            _say(args, _written(src, dst, codec, n_q, len(data), samples / codec.sample_rate))
        return work

    return _for_each(pairs, args.force, make_work)


def _header_problem(header, args: argparse.Namespace) -> tuple[str, str | None]:
    """(which model the file is for, what is wrong with its header or None). Checked against the
    model given with --model (a file of another model is a mismatch: it does not decode with it);
    otherwise for plausibility only, so that a plain ``info`` answers at once without loading a
    model (or torch)."""
    from .audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
    from .bitstream import FormatError, check_header

    if args.model is not None:
        codec = _load_codec(args)
        if header.model_id == codec.codes_id:   # its own codes, or those it was fine-tuned to keep
            try:
                check_header(header, codec.model_header)
            except FormatError as exc:
                return "this model", str(exc)
            return "this model", None
        which = f"another model (not {codec.codes_id}); fields checked for plausibility only"
    else:
        which = "fields checked for plausibility; --model PATH checks them against a model"
    if not MIN_SAMPLE_RATE <= header.sample_rate <= MAX_SAMPLE_RATE or header.hop_length > header.sample_rate:
        return which, (f"implausible header: sample rate {header.sample_rate} Hz, hop {header.hop_length} "
                       f"(expected {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz and at least one frame per second)")
    if args.model is not None:
        return which, (f"made with model {header.model_id}, not with {args.model} ({codec.codes_id}); "
                       "it decodes only with its own model")
    return which, None


def cmd_info(args: argparse.Namespace) -> None:
    """Print a .tlc header; a header at odds with its model (or implausible) is an error, exit 2,
    after the fields are shown (no duration or bitrate is computed from it)."""
    from .bitstream import PACKED_VERSION, load_header

    header, version = load_header(args.input)
    which, problem = _header_problem(header, args)
    coding = "bit-packed codes" if version == PACKED_VERSION else "entropy-coded codes"
    print(f"file:        {args.input}\nformat:      version {version} ({coding})\n"
          f"model id:    {header.model_id} ({which})\n"
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


def _check_fit_entropy(args: argparse.Namespace) -> None:
    """fit-entropy's checks that need no model (nor torch); TeluCodecError for the first failing."""
    from .fileio import check_output_file

    if args.into_folder or args.output.is_dir():
        raise TeluCodecError(f"{args.output}: is a folder; -o takes the model file to write "
                             f"(such as {args.output / 'model.safetensors'})")
    _check_output(args.output, args.force)
    check_output_file(args.output)
    for folder in args.inputs:
        if not folder.is_dir():
            raise TeluCodecError(f"{folder}: not a folder of audio files")
    if args.max_files < 2:
        raise TeluCodecError(f"--max-files must be at least 2, got {args.max_files}")


def _save_with_entropy(codec, clips: list, path: Path) -> str:
    """Fit the entropy model on the codes ``clips`` and write the model with it to ``path``;
    returns the new entropy model's id."""
    import torch

    from .codec import save_pretrained
    from .entropy_fit import fit_entropy_model

    entropy = fit_entropy_model(clips, codec.config.quantizer.codebook_size)
    state = codec.model.state_dict()
    # fp16 when the weights are fp16 values already (as in shipped models): the model id stays
    half = all(torch.equal(v, v.half().to(v.dtype)) for v in state.values() if v.is_floating_point())
    save_pretrained(codec.model, path, half=half, entropy=entropy)
    return entropy.model_id


def cmd_fit_entropy(args: argparse.Namespace) -> int:
    """Fit the entropy model on the codes of a folder of speech; write the model file with it."""
    from tqdm import tqdm

    from .audio import load_audio, scan_audio_files

    _check_fit_entropy(args)
    codec = _load_codec(args)
    files = []
    for folder in args.inputs:
        scan = scan_audio_files(folder)
        print(f"telucodec: {scan.summary(folder, 'audio files')}", file=sys.stderr)
        files += scan.files[:: max(1, -(-len(scan.files) // args.max_files))]   # spread over the folder
    clips, failed = [], 0
    for path in tqdm(files, unit="file"):
        try:
            clips.append(codec.encode(load_audio(path, codec.sample_rate), codec.sample_rate))
        except Exception as exc:   # one bad file is reported on its own line and skipped, as in _for_each
            tqdm.write(f"telucodec: error: {_one_line(path, args.output, exc)}", file=sys.stderr)
            failed += 1
    entropy_id = _save_with_entropy(codec, clips, args.output)
    print(f"{args.output}: entropy model {entropy_id} fitted on {len(clips)} files "
          f"({sum(c.shape[1] for c in clips)} frames){f', {failed} skipped' if failed else ''}")
    return 2 if failed else 0


def cmd_train(args: argparse.Namespace) -> dict:
    from .train_args import check_paths

    check_paths(args)
    from .train import train

    return train(args)


def cmd_export(args: argparse.Namespace) -> None:
    from .export_args import check

    check(args)
    from .export import run

    run(args)


def cmd_tokenize(args: argparse.Namespace) -> int:
    from .tokenize import tokenize_folder

    return tokenize_folder(args.input, args.output, args.model, args.n_q, args.kbps, args.jobs, args.force)


# ----------------------------------------------------------------------------- parser

def _add_output(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("-o", "--output", action=OutputPath, required=True, help=help)
    p.set_defaults(into_folder=False)


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, help="checkpoint, training folder or .safetensors (default: shipped model)")


def _add_quiet(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help=f"print nothing on success ({what})")


def _add_rate(p: argparse.ArgumentParser) -> None:
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--kbps", type=positive_float, help="target bitrate; picks the number of quantizers")
    rate.add_argument("--n_q", type=positive_int, help="number of quantizers")


def _add_file_commands(sub) -> None:
    """encode, decode, roundtrip, info and fit-entropy: the commands that make and read .tlc files."""
    p = sub.add_parser("encode", help="audio files -> .tlc codec files")
    p.add_argument("inputs", nargs="+", type=Path, help="audio files or folders")
    _add_output(p, "output file, or folder (an existing one, or ending in /) for one or more inputs")
    _add_rate(p), _add_model(p), _add_quiet(p, "no line per file written")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--no-entropy-coding", action="store_true",
                   help="write bit-packed codes (format version 1) even when the model has an entropy model")
    p.set_defaults(job=cmd_encode)

    p = sub.add_parser("decode", help=".tlc codec files -> 16 kHz wav")
    p.add_argument("inputs", nargs="+", type=Path, help=".tlc files or folders")
    _add_output(p, "output file, or folder (an existing one, or ending in /) for one or more inputs")
    _add_model(p), _add_quiet(p, "no line per file written")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.set_defaults(job=cmd_decode)

    p = sub.add_parser("roundtrip", help="encode + decode in memory; prints the bitrate")
    p.add_argument("input", type=Path)
    _add_output(p, "output .wav, or folder (an existing one, or ending in /)")
    _add_rate(p), _add_model(p), _add_quiet(p, "no bitrate line")
    p.add_argument("--force", action="store_true")
    p.set_defaults(job=cmd_roundtrip)

    p = sub.add_parser("info", help="show a .tlc file's header, checked against the model")
    p.add_argument("input", type=Path)
    _add_model(p)
    p.set_defaults(job=cmd_info)

    p = sub.add_parser("fit-entropy", help="fit the entropy model of the codes on speech; writes the model with it")
    p.add_argument("inputs", nargs="+", type=Path, help="folders of speech the model was not evaluated on")
    _add_output(p, "the model file to write (.safetensors)")
    _add_model(p)
    p.add_argument("--max-files", type=int, default=500, help="files used per folder, spread over it")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.set_defaults(job=cmd_fit_entropy)


def build_parser() -> argparse.ArgumentParser:
    # argument definitions only: none of these imports torch (the jobs do, when they run)
    from . import corpus, demo, export_args, live, train_args

    parser = Parser(prog="telucodec", description="Neural speech codec for Telugu.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("train", help="train or resume a codec")
    train_args.add_arguments(p)
    p.set_defaults(job=cmd_train)

    _add_file_commands(sub)

    p = sub.add_parser("tokenize", help="codes (.npy int16, n_q x frames) for every audio file of a folder")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for the .npy files and manifest.jsonl")
    _add_rate(p), _add_model(p)
    p.add_argument("--jobs", type=positive_int, default=1, help="worker processes")
    p.add_argument("--force", action="store_true", help="overwrite .npy files this command did not write")
    p.set_defaults(job=cmd_tokenize)

    p = sub.add_parser("stream", help="real time: audio through a causal model's stream encoder and decoder, "
                                      "block by block; reports the delay and real-time factor")
    live.add_arguments(p)
    p.set_defaults(job=live.run)

    p = sub.add_parser("demo", help="round-trip the shipped Telugu clip at every bitrate, with a metrics table")
    demo.add_arguments(p)
    p.set_defaults(job=demo.run)

    p = sub.add_parser("corpus", help="build the synthetic + real speech training corpus")
    corpus.add_arguments(p)
    p.set_defaults(job=corpus.run)

    p = sub.add_parser("export", help="encoder and decoder graphs (ONNX or TorchScript) with dynamic length")
    export_args.add_arguments(p)
    p.set_defaults(job=cmd_export)
    return parser


def _run_job(args: argparse.Namespace) -> object:
    """The job, after the check every command with --model shares: a --model that is not there is
    refused before torch is imported (each job checks its own inputs and outputs before loading)."""
    from .modelfile import model_file

    if getattr(args, "model", None) is not None:
        model_file(args.model)
    return args.job(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_with_errors(lambda: _run_job(args))


if __name__ == "__main__":
    sys.exit(main())
