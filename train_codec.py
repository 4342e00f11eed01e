#!/usr/bin/env python3
"""Train a telucodec model (the design notes' command line). Same as ``telucodec train``.

Torch is imported once the flags are parsed, so ``--help`` and a bad flag answer at once."""
import sys

from telucodec.command import Parser, run_with_errors
from telucodec.train_args import add_arguments


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="train_codec.py", description="Train a telucodec model.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    from telucodec.train import train

    return run_with_errors(lambda: train(args))


if __name__ == "__main__":
    sys.exit(main())
