"""The ``telucodec`` command: one subcommand per job, every user error a one-line message and exit 2."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from .errors import TeluCodecError


def run_with_errors(job: Callable[[], object]) -> int:
    """Run ``job``; a TeluCodecError becomes ``telucodec: error: ...`` on stderr and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="telucodec: %(levelname)s: %(message)s")
    try:
        job()
    except TeluCodecError as exc:
        print(f"telucodec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("telucodec: interrupted", file=sys.stderr)
        return 130
    return 0


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (exit 2), not a usage dump."""

    def error(self, message: str):
        self.exit(2, f"telucodec: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from . import train

    parser = Parser(prog="telucodec", description="Neural speech codec for Telugu.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    train_parser = sub.add_parser("train", help="train or resume a codec")
    train.add_arguments(train_parser)
    train_parser.set_defaults(job=train.train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_with_errors(lambda: args.job(args))


if __name__ == "__main__":
    sys.exit(main())
