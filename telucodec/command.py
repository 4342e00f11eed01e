"""What every command line of the package shares: an argparse that reports a bad flag in one line
(numbers included: nan, inf and out-of-range values are bad flags), and the runner that turns a
TeluCodecError into ``telucodec: error: ...`` and exit code 2, and SIGTERM into a clean exit.

``cli`` (the ``telucodec`` command) and ``train_codec.py`` both build on this module (with the
flags of ``train_args``), so neither imports the other's entry point.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
from pathlib import Path
from typing import Callable

from .errors import TeluCodecError

MAX_INT_FLAG = 2**63 - 1   # every int flag must fit an int64 (torch and numpy take them)


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM, so that ``finally`` blocks (temp-file removal in
    ``fileio.atomic_write``) run as they do for KeyboardInterrupt."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


def run_with_errors(job: Callable[[], object]) -> int:
    """Run ``job``; a TeluCodecError becomes ``telucodec: error: ...`` on stderr and exit code 2.

    A job may return an int exit code (batch commands return 2 when some inputs failed). SIGINT
    exits with 130 and SIGTERM with 143, after temp files being written are removed.
    """
    # our own INFO lines (corpus and training progress), but only warnings from libraries:
    # matplotlib's "generated new fontManager" and the like are not for the user
    logging.basicConfig(level=logging.WARNING, format="telucodec: %(levelname)s: %(message)s")
    logging.getLogger("telucodec").setLevel(logging.INFO)
    signal.signal(signal.SIGTERM, _raise_terminated)
    for stream in (sys.stdout, sys.stderr):   # a file name that is not UTF-8 prints escaped, not as a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        result = job()
        sys.stdout.flush()   # inside the try: a reader that went away is caught below, not at exit
    except TeluCodecError as exc:
        print(f"telucodec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("telucodec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # the reader of stdout went away (`| head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no second error at exit's flush
        return 128 + signal.SIGPIPE
    except Terminated:
        print("telucodec: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    return result if isinstance(result, int) else 0


def finite_float(text: str) -> float:
    """argparse type for every float flag: a finite number (nan, inf and 1e400 are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def bounded_int(text: str) -> int:
    """argparse type for every int flag: an integer that fits an int64."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if abs(value) > MAX_INT_FLAG:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range")
    return value


def positive_float(text: str) -> float:
    """argparse type for a rate: a finite number above zero."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def positive_int(text: str) -> int:
    """argparse type for a count: an integer of at least 1 that fits an int64."""
    value = bounded_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


class OutputPath(argparse.Action):
    """``-o`` as a Path, and ``into_folder``: whether it ends in a slash, which Path drops (with one
    input, ``-o out/`` means "into the folder out", as an existing folder does)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, Path(values))
        namespace.into_folder = values.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep))


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr (exit 2), not a usage dump, and every
    ``type=float`` / ``type=int`` flag is checked by ``finite_float`` / ``bounded_int``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("type", float, finite_float)
        self.register("type", int, bounded_int)

    def error(self, message: str):
        self.exit(2, f"telucodec: error: {message} (see {self.prog} --help)\n")
