"""The flags of ``telucodec export`` and the graph formats it writes. Torch-free, so that
``telucodec --help`` and a bad flag answer without importing torch (``export`` does the work)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .command import positive_int
from .errors import TeluCodecError
from .fileio import check_output_folder

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}   # format -> file suffix of encoder / decoder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path,
                        help="checkpoint, training folder or .safetensors (default: shipped model)")
    parser.add_argument("--format", default="onnx", choices=sorted(FORMATS), help="graph format (default: onnx)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for the graphs")
    parser.add_argument("--n_q", type=positive_int, help="quantizers the encoder emits (default: all)")
    parser.add_argument("--force", action="store_true", help="overwrite existing graphs")


def check(args: argparse.Namespace) -> None:
    """What can be refused before torch is imported and the model loaded: graphs already in the
    output folder (without --force), a folder that cannot be written. Raises TeluCodecError
    (OutputError for the folder)."""
    existing = [args.output / f"{name}{FORMATS[args.format]}" for name in ("encoder", "decoder")]
    if not args.force and any(p.exists() for p in existing):
        raise TeluCodecError(f"{args.output}: already holds exported graphs; pass --force to overwrite them")
    check_output_folder(args.output)
