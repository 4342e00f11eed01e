"""``telucodec corpus``: its arguments, running it, and the summary table it prints."""
from __future__ import annotations

import argparse

from .apt import install_deps
from .build import build_corpus
from .plan import DEFAULT_HELDOUT_LANGUAGES, DEFAULT_HELDOUT_VOICES
from .render import make_demo_clip
from .voices import SYNTH_VOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``telucodec corpus``."""
    parser.add_argument("out_dir", metavar="OUT_DIR",
                        help="output folder (its train/, heldout/ and manifest.jsonl are replaced)")
    parser.add_argument("--num", type=int, default=1500,
                        help="number of synthetic utterances, held-out voices included "
                             "(default 1500)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--voices", nargs="+", default=None, metavar="VOICE",
                        help="synthetic voices, optionally with a sampling weight as NAME=W "
                             f"(default: all installed of {', '.join(SYNTH_VOICES)})")
    parser.add_argument("--text", default=None, metavar="FILE",
                        help="UTF-8 Telugu sentences, one a line (default: festival-te's sample "
                             "text and the aspell-te word list)")
    parser.add_argument("--no-real", action="store_true",
                        help="leave out Debian's real recordings (klettres-data, codec2-examples)")
    parser.add_argument("--max-real-files", type=int, default=None, metavar="N",
                        help="use at most N of Debian's real recordings (for quick runs)")
    parser.add_argument("--real-variants", type=int, default=2, metavar="K",
                        help="pitch/tempo-varied copies of each of Debian's real training "
                             "recordings (default 2)")
    parser.add_argument("--heldout-voices", nargs="*", default=list(DEFAULT_HELDOUT_VOICES),
                        metavar="VOICE",
                        help="voices written to heldout/ only: synthetic voice names, or "
                             "klettres_<lang> / codec2_<name> (default: mbrola_in2)")
    parser.add_argument("--heldout-languages", nargs="*", default=list(DEFAULT_HELDOUT_LANGUAGES),
                        metavar="LANG",
                        help="languages of Debian's real recordings written to heldout/ only "
                             "(default: ml)")
    _add_real_dir_arguments(parser)
    parser.add_argument("--jobs", type=int, default=1, help="parallel workers (default 1)")
    parser.add_argument("--install-deps", action="store_true",
                        help="apt-get install the voices and recordings first (root)")
    parser.add_argument("--demo-clip", default=None, metavar="WAV",
                        help="also write the fixed demo clip (festival NSK) to WAV")


def _add_real_dir_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--real-dir", default=None, metavar="DIR",
                        help="also convert the real recordings listed in DIR/files.tsv (columns "
                             "path, language, speaker, seconds, licence), written as "
                             "real_<top folder>/<speaker>_<name>.wav")
    parser.add_argument("--real-heldout-speakers", type=int, default=10, metavar="N",
                        help="of --real-dir's speakers named spk*, the N first by SHA-1 of the "
                             "name go to heldout/ only; all other speakers train (default 10)")
    parser.add_argument("--real-dir-variants", type=int, default=0, metavar="K",
                        help="pitch/tempo-varied copies of each --real-dir training recording "
                             "(default 0)")


def format_summary(summary: dict) -> str:
    """The summary of build_corpus() as a table: files and hours per split and source."""
    width = max([14] + [len(src) for by_source in summary["splits"].values() for src in by_source])
    lines = [f"{'split':8} {'source':{width}} {'files':>6} {'hours':>7}"]
    for split in sorted(summary["splits"]):
        for src, s in sorted(summary["splits"][split].items()):
            lines.append(f"{split:8} {src:{width}} {s['files']:6d} {s['seconds'] / 3600:7.3f}")
    if summary["failed"]:
        lines.append(f"{'skipped (could not be made)':{width + 9}} {summary['failed']:6d}")
    lines.append(f"{'total':{width + 9}} {summary['files']:6d} {summary['seconds'] / 3600:7.3f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``telucodec corpus`` with parsed ``args``: print the summary table and what was
    written to stdout. Raises TeluCodecError on bad input."""
    if args.install_deps:
        install_deps()
    summary = build_corpus(args.out_dir, args.num, seed=args.seed, voices=args.voices,
                           text_file=args.text, include_real=not args.no_real,
                           heldout_voices=args.heldout_voices,
                           heldout_languages=args.heldout_languages,
                           max_real_files=args.max_real_files, real_variants=args.real_variants,
                           jobs=args.jobs, real_dir=args.real_dir,
                           real_heldout_speakers=args.real_heldout_speakers,
                           real_dir_variants=args.real_dir_variants)
    print(format_summary(summary))
    print(f"wrote {summary['files']} files ({summary['seconds'] / 3600:.2f} h) and manifest.jsonl "
          f"to {summary['out_dir']} in {summary['elapsed_s']:.0f} s")
    if args.demo_clip:
        secs = make_demo_clip(args.demo_clip)
        print(f"wrote demo clip {args.demo_clip} ({secs:.2f} s)")
    return 0
