"""What every command line of the package shares: an argparse that reports a bad flag in one line,
and the runner that turns a TeluCodecError into ``telucodec: error: ...`` and exit code 2.

``cli`` (the ``telucodec`` command) and ``train_codec.py`` both build on this module (with the
flags of ``train_args``), so neither imports the other's entry point.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from .errors import TeluCodecError


def run_with_errors(job: Callable[[], object]) -> int:
    """Run ``job``; a TeluCodecError becomes ``telucodec: error: ...`` on stderr and exit code 2.

    A job may return an int exit code (batch commands return 2 when some inputs failed).
    """
    # our own INFO lines (corpus and training progress), but only warnings from libraries:
    # matplotlib's "generated new fontManager" and the like are not for the user
    logging.basicConfig(level=logging.WARNING, format="telucodec: %(levelname)s: %(message)s")
    logging.getLogger("telucodec").setLevel(logging.INFO)
    try:
        result = job()
    except TeluCodecError as exc:
        print(f"telucodec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("telucodec: interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (exit 2), not a usage dump."""

    def error(self, message: str):
        self.exit(2, f"telucodec: error: {message} (see {self.prog} --help)\n")
