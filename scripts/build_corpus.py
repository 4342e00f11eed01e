#!/usr/bin/env python3
"""Build the telucodec training corpus (synthetic Telugu + real recordings from Debian packages).

Same as ``telucodec corpus``; see ``telucodec/corpus.py``. Example:

    python scripts/build_corpus.py /work/corpus --install-deps --num 1500 --seed 0 \\
        --text /work/shared/data/te_commonvoice_sentences.txt \\
        --demo-clip telucodec/assets/demo_te.wav
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from telucodec import corpus  # noqa: E402
from telucodec.errors import TeluCodecError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build_corpus.py", description=corpus.__doc__.split("\n\n")[0],
        epilog="Writes OUT_DIR/{train,heldout}/<source>/*.wav (16 kHz mono PCM16) and "
               "OUT_DIR/manifest.jsonl.")
    corpus.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return corpus.run(args)
    except TeluCodecError as exc:
        print(f"build_corpus.py: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("build_corpus.py: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
