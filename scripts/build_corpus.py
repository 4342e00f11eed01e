#!/usr/bin/env python3
"""Build the telucodec training corpus (synthetic Telugu + real recordings from Debian packages).

Same as ``telucodec corpus``; see ``telucodec/corpus.py``. Example:

    python scripts/build_corpus.py /work/corpus --install-deps --num 1500 --seed 0 \\
        --text /work/shared/data/te_commonvoice_sentences.txt \\
        --demo-clip telucodec/assets/demo_te.wav
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from telucodec.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["corpus", *sys.argv[1:]]))
