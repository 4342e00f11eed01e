#!/usr/bin/env python3
"""Train a telucodec model (the design notes' command line). Same as ``telucodec train``.

Torch is imported once the flags and folders are checked, so ``--help``, a bad flag and a missing
folder answer at once."""
import sys

from telucodec.command import Parser, run_with_errors
from telucodec.train_args import add_arguments, check_paths


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="train_codec.py", description="Train a telucodec model.")
    add_arguments(parser)
    args = parser.parse_args(argv)

    def job() -> dict:
        check_paths(args)   # a missing folder is refused before torch is imported
        from telucodec.train import train

        return train(args)

    return run_with_errors(job)


if __name__ == "__main__":
    sys.exit(main())
