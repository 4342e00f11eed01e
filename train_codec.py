#!/usr/bin/env python3
"""Train a telucodec model (the design notes' command line). Same as ``telucodec train``."""
import sys

from telucodec.train import main

if __name__ == "__main__":
    sys.exit(main())
