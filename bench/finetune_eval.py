"""A fine-tuned model against its original on any folder of speech (e.g. speakers it never saw):
the table of a fine-tuning run's report (PESQ-WB, STOI, level, measured kbps at 2 / 6 / 16 kbps).

    python -m bench.finetune_eval --tuned runs/my_finetune --audio-dir unseen/ [--original default]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import telucodec
from bench.common import evenly_spread, one_line_errors
from telucodec.audio import find_audio_files, load_audio
from telucodec.errors import TeluCodecError
from telucodec.finetune import report_table, score

PROG = "finetune_eval.py"


def benchmark(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)
    paths = find_audio_files(args.audio_dir)
    if not paths:
        raise TeluCodecError(f"{args.audio_dir}: no audio files found")
    clips = [load_audio(paths[i]) for i in evenly_spread(len(paths), args.max_clips)]
    original, tuned = telucodec.load(args.original), telucodec.load(args.tuned)
    rows = score("original", original, clips) + score("fine-tuned", tuned, clips)
    print(f"{len(clips)} clips of {args.audio_dir}: original {original.model_id}, fine-tuned {tuned.model_id}\n")
    print(report_table(rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tuned", required=True, help="the fine-tuned model (run folder or model file)")
    parser.add_argument("--original", default="default", help="the model it started from (default: shipped)")
    parser.add_argument("--audio-dir", type=Path, required=True)
    parser.add_argument("--max-clips", type=int, default=30, help="clips of --audio-dir, evenly spread")
    args = parser.parse_args(argv)
    return one_line_errors(PROG, lambda: benchmark(args))


if __name__ == "__main__":
    sys.exit(main())
