"""``telucodec demo``: hear the shipped model work. Round-trips the packaged Telugu clip at every
bitrate, writes the decoded wavs and a spectrogram PNG, and prints the metrics table on stdout
(progress goes to stderr: a bar over the bitrates, each with PESQ-WB and STOI, takes a while)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .audio import atomic_write, load_audio, write_audio
from .errors import TeluCodecError
from .fileio import check_output_folder, require_file

DEMO_CLIP = Path(__file__).parent / "assets" / "demo_te.wav"
MARKER = ".telucodec_demo.json"   # the names of the files the demo wrote in its folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, default=Path("telucodec_demo"), help="folder for wavs and PNG")
    parser.add_argument("--input", type=Path, default=DEMO_CLIP, help="audio to use instead of the shipped clip")
    parser.add_argument("--model", type=Path, help="checkpoint, training folder or .safetensors (default: shipped)")
    parser.add_argument("--force", action="store_true",
                        help="write into a folder holding files the demo did not write (replacing any of its names)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr (the table still prints)")


def _own_files(out: Path) -> set[str]:
    """The files an earlier demo run wrote in ``out``, as its marker file lists them."""
    try:
        names = json.loads((out / MARKER).read_text())
    except (OSError, ValueError):
        return set()
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


def _check_folder(out: Path, force: bool) -> None:
    """Refuse (before any work) a folder that cannot be written, or that holds files an earlier
    demo run did not write (unless ``force``): a user's own ``reference.wav`` is never replaced."""
    check_output_folder(out)
    if force or not out.is_dir():
        return
    ours = _own_files(out) | {MARKER}
    theirs = sorted(p.name for p in out.iterdir() if p.name not in ours)
    if theirs:
        raise TeluCodecError(f"{out / theirs[0]}: not written by telucodec demo; pass --force to write "
                             f"into {out} anyway, or choose another -o")


def _claim(out: Path, names: list[str]) -> None:
    """Record the files this run is about to write, so that a later run may replace them."""
    listed = sorted(_own_files(out) | set(names))
    atomic_write(out / MARKER, lambda tmp: Path(tmp).write_text(json.dumps(listed) + "\n"))


def spectrogram_png(path: Path, panels: list[tuple[str, np.ndarray]], sample_rate: int) -> None:
    """Log-mel spectrograms, one panel each, stacked vertically (written atomically)."""
    import matplotlib

    from . import metrics

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.2 * len(panels)), sharex=True)
    for ax, (title, wav) in zip(np.atleast_1d(axes), panels):
        ax.imshow(metrics.log_mel(wav, sample_rate), origin="lower", aspect="auto", cmap="magma", vmin=-11, vmax=2,
                  extent=(0, len(wav) / sample_rate, 0, 80))
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel band")
    np.atleast_1d(axes)[-1].set_xlabel("seconds")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=80))
    plt.close(fig)


def _round_trips(codec, reference: np.ndarray, out: Path, quiet: bool) -> tuple[list[dict], dict[int, np.ndarray]]:
    """Compress and decompress ``reference`` at every bitrate, writing each decoded wav; returns the
    metrics rows and the decoded audio by n_q. A progress bar on stderr names the bitrate at work."""
    from tqdm import tqdm

    from . import metrics

    seconds = len(reference) / codec.sample_rate
    rows, decoded = [], {}
    bar = tqdm(codec.bitrates(), desc="telucodec demo", unit="bitrate", file=sys.stderr, disable=quiet)
    for n_q, nominal in bar:
        bar.set_postfix_str(f"{nominal:g} kbps: encode, decode, PESQ-WB, STOI")
        data = codec.compress(reference, codec.sample_rate, n_q)
        decoded[n_q] = codec.decompress(data)
        write_audio(out / f"decoded_{nominal:g}kbps.wav", decoded[n_q], codec.sample_rate)
        rows.append({"n_q": n_q, "kbps": len(data) * 8 / seconds / 1000,
                     **metrics.all_metrics(reference, decoded[n_q])})
    return rows, decoded


def run(args: argparse.Namespace) -> list[dict]:
    out = args.output
    _check_folder(out, args.force)
    require_file(args.input, "an audio file")
    from .codec import load   # torch: only once the folder and the input are known to be good

    if not args.quiet:
        print("telucodec demo: loading the model", file=sys.stderr, flush=True)
    codec = load(args.model)
    reference = load_audio(args.input, codec.sample_rate)
    _claim(out, ["reference.wav", "spectrograms.png"] + [f"decoded_{kbps:g}kbps.wav" for _, kbps in codec.bitrates()])
    write_audio(out / "reference.wav", reference, codec.sample_rate)
    rows, decoded = _round_trips(codec, reference, out, args.quiet)
    seconds = len(reference) / codec.sample_rate
    picks = sorted({1, codec.max_n_q // 4, codec.max_n_q // 2, codec.max_n_q} - {0})
    panels = [("reference", reference)] + [(f"decoded, {codec.config.kbps(n):g} kbps nominal", decoded[n]) for n in picks]
    spectrogram_png(out / "spectrograms.png", panels, codec.sample_rate)
    print(f"{args.input.name}: {seconds:.2f} s, model {codec.model_id}; wavs and spectrograms.png in {out}/")
    print("| kbps (measured) | n_q | SNR dB | SI-SDR dB | PESQ-WB | STOI | log-mel |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['kbps']:.2f} | {r['n_q']} | {r['snr']:.2f} | {r['si_sdr']:.2f} | {r['pesq']:.2f} | "
              f"{r['stoi']:.3f} | {r['log_mel']:.3f} |")
    return rows
