"""Rate-quality benchmark of telucodec against reference speech codecs.

    python -m bench.quality --audio-dir DIR [--model PATH] [--codecs opus,codec2,...] [--out DIR] [--quick]

Every audio file under DIR (any format soundfile reads, converted to 16 kHz mono) goes
through each codec setting; the decoded audio is delay-compensated (see
``reference_codecs``) and scored against the input with SNR, SI-SDR, PESQ-WB, STOI,
ESTOI, log-mel distance, level difference (decoded minus input RMS, dB) and, when the
``speechmos`` package imports, DNSMOS (overall MOS).

Writes into --out:
- ``per_clip.csv``: one row per (clip, codec setting) with measured kbps, delay and metrics;
- ``results.md``: mean +- 95% confidence half-width (Student t over clips) per setting and
  metric, also printed to stdout;
- ``rate_pesq.png``, ``rate_stoi.png``, ``rate_si_sdr.png``: metric vs measured kbps,
  one line per codec family.

A codec whose tool is missing is skipped with one warning naming its Debian package.
"""
from __future__ import annotations

import argparse
import csv
import functools
import io
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

import telucodec
from bench import reference_codecs as rc
from bench.common import SAMPLE_RATE, one_line_errors
from bench.common import warn as warn_as
from telucodec.audio import atomic_write, find_audio_files, load_audio
from telucodec.errors import TeluCodecError
from telucodec.metrics import all_metrics

PROG = "quality.py"
QUICK_CLIPS = 2

Setting = Callable[[np.ndarray], rc.CodecResult]

OPUS_KBPS = (6, 8, 12, 16, 24)
REFERENCE_SETTINGS: dict[str, list[Setting]] = {
    "opus": [functools.partial(rc.opus, kbps=k, force_wideband=wb) for wb in (True, False) for k in OPUS_KBPS],
    "codec2": [rc.codec2_3200],
    "speex": [functools.partial(rc.speex_wb, kbps=k) for k in sorted(rc.SPEEX_WB_QUALITY)],
    "g722": [rc.g722],
    "amrwb": [functools.partial(rc.amr_wb, kbps=k) for k in (6.6, 8.85, 12.65, 15.85, 23.85)],
    "lc3": [functools.partial(rc.lc3, kbps=k) for k in (16, 24, 32)],
}
CODEC_NAMES = ("telucodec", *REFERENCE_SETTINGS)

METRICS = ("snr", "si_sdr", "pesq", "stoi", "estoi", "log_mel", "level_db")
METRIC_TITLES = {
    "snr": "SNR dB", "si_sdr": "SI-SDR dB", "pesq": "PESQ-WB", "stoi": "STOI", "estoi": "ESTOI",
    "log_mel": "log-mel dist", "level_db": "level dB", "dnsmos": "DNSMOS ovrl",
}
PLOTS = ("pesq", "stoi", "si_sdr")


def warn(message: str) -> None:
    """``quality.py: warning: MESSAGE`` on stderr."""
    warn_as(PROG, message)


# ---------------------------------------------------------------- telucodec rows


def telucodec_setting(codec, n_q: int, nominal_kbps: float, wav: np.ndarray) -> rc.CodecResult:
    """One clip (at SAMPLE_RATE) through telucodec at ``n_q`` quantizers; bits are the whole .tlc file,
    header included.

    ``codec.compress`` resamples the clip to the model's own rate, ``codec.sample_rate`` (its
    config's ``sample_rate``), and ``codec.decompress`` returns audio at that rate, not at the
    input's. Every preset runs at 16 kHz = SAMPLE_RATE, which the scoring against ``wav`` assumes.
    """
    data = codec.compress(wav, SAMPLE_RATE, n_q=n_q)
    decoded = np.asarray(codec.decompress(data), dtype=np.float32)
    aligned, delay = rc.align(wav, decoded)
    return rc.CodecResult(aligned, 8 * len(data), f"telucodec-q{n_q}", "telucodec", float(nominal_kbps), delay)


def telucodec_settings(model: str | None) -> list[Setting]:
    """A setting per bitrate the model offers; none (with a warning) when no model can be loaded.

    An explicit --model that fails to load is an error; a missing shipped model is only a warning
    so the reference codecs can be benchmarked before a model exists.
    """
    try:
        codec = telucodec.load(model)
    except TeluCodecError as exc:
        if model is not None:
            raise
        warn(f"telucodec: {exc}; skipping telucodec rows")
        return []
    return [functools.partial(telucodec_setting, codec, n_q, kbps) for n_q, kbps in codec.bitrates()]


# ---------------------------------------------------------------- scoring


def dnsmos_scorer() -> Callable[[np.ndarray], float] | None:
    """DNSMOS overall MOS from ``speechmos`` if it imports, else None (the column is left out)."""
    try:
        from speechmos import dnsmos
    except ImportError:
        return None
    return lambda wav: float(dnsmos.run(np.clip(wav, -1.0, 1.0), SAMPLE_RATE)["ovrl_mos"])


def score(ref: np.ndarray, result: rc.CodecResult, dnsmos: Callable[[np.ndarray], float] | None) -> dict[str, float]:
    """Measured kbps (payload bits over the clip duration), delay and every metric for one decode."""
    row = {
        "measured_kbps": result.payload_bits / (len(ref) / SAMPLE_RATE) / 1000,
        "delay_samples": result.delay,
        **all_metrics(ref, result.decoded, SAMPLE_RATE),
    }
    if dnsmos is not None:
        row["dnsmos"] = dnsmos(result.decoded)
    return row


def coded(
    name: str, wav: np.ndarray, settings: dict[str, list[Setting]], disabled: set[str],
    warn_fn: Callable[[str], None] | None = None,
) -> Iterator[tuple[str, rc.CodecResult]]:
    """(codec name, result) for every setting on one clip. A codec whose tool is missing is warned
    about once and added to ``disabled`` (later clips skip it); one failing decode skips its row."""
    warn_fn = warn_fn or warn
    for codec_name, codec_settings in settings.items():
        if codec_name in disabled:
            continue
        for setting in codec_settings:
            try:
                yield codec_name, setting(wav)
            except rc.MissingTool as exc:
                warn_fn(f"{codec_name}: {exc}; skipping {codec_name}")
                disabled.add(codec_name)
                break
            except TeluCodecError as exc:  # one failing decode should not sink the whole run
                warn_fn(f"{codec_name} on {name}: {exc}; row skipped")


def run_benchmark(
    clips: list[tuple[str, np.ndarray]],
    settings: dict[str, list[Setting]],
    dnsmos: Callable[[np.ndarray], float] | None,
) -> list[dict]:
    """Score every clip through every setting (see ``coded`` for missing tools and failures)."""
    rows: list[dict] = []
    disabled: set[str] = set()
    for index, (name, wav) in enumerate(clips, 1):
        print(f"[{index}/{len(clips)}] {name}", file=sys.stderr)
        for _, result in coded(name, wav, settings, disabled):
            rows.append({"clip": name, "family": result.family, "label": result.label,
                         "nominal_kbps": result.nominal_kbps, **score(wav, result, dnsmos)})
    return rows


# ---------------------------------------------------------------- summaries


def mean_ci(values: list[float]) -> tuple[float, float, int]:
    """Mean, 95% confidence half-width (Student t, n-1 dof; NaN for n < 2) and n, ignoring NaNs."""
    from scipy.stats import t

    x = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if len(x) == 0:
        return math.nan, math.nan, 0
    if len(x) == 1:
        return float(x[0]), math.nan, 1
    half = t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(half), len(x)


def summarise(rows: list[dict], metrics: tuple[str, ...]) -> list[dict]:
    """One entry per setting (family, label): nominal kbps and (mean, ci, n) of measured kbps and each metric.

    Sorted by family then nominal kbps, telucodec first.
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["family"], row["label"]), []).append(row)
    summary = []
    for (family, label), group in groups.items():
        entry = {"family": family, "label": label, "nominal_kbps": group[0]["nominal_kbps"]}
        for key in ("measured_kbps", *metrics):
            entry[key] = mean_ci([float(r[key]) for r in group])
        summary.append(entry)
    return sorted(summary, key=lambda e: (e["family"] != "telucodec", e["family"], e["nominal_kbps"]))


def _fmt(stat: tuple[float, float, int], digits: int) -> str:
    mean, half, _ = stat
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if math.isnan(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"


def markdown_table(
    summary: list[dict], metrics: tuple[str, ...], n_clips: int, reference_dnsmos: tuple[float, float, int] | None
) -> str:
    """results.md: the table plus how bitrate, delay and the CI were obtained.

    ``reference_dnsmos`` (DNSMOS of the uncoded clips) is the ceiling that column should be read against.
    """
    digits = {"pesq": 2, "stoi": 3, "estoi": 3, "log_mel": 3, "dnsmos": 2}
    head = ["codec", "setting", "nominal kbps", "measured kbps", *(METRIC_TITLES[m] for m in metrics)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in summary:
        cells = [e["family"], e["label"], f"{e['nominal_kbps']:g}", _fmt(e["measured_kbps"], 2),
                 *(_fmt(e[m], digits.get(m, 1)) for m in metrics)]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        f"Mean ± 95% confidence half-width (Student t) over {n_clips} clips, 16 kHz mono.",
        "Measured kbps = payload bits / clip duration. Payload excludes containers: Ogg page headers "
        "(Opus, Speex: sum of audio packet sizes), the LC3 file header and per-frame length prefixes, "
        "the AMR-WB storage TOC bytes and padding (exact codec bits per frame type); Codec2 and G.722 "
        "are raw frame files. telucodec counts the whole .tlc file, its header of a few tens of bytes included.",
        "Decoder delay is compensated per clip before scoring, by cross-correlation within ±50 ms, "
        f"except Codec2: fixed {rc.CODEC2_DELAY_SAMPLES} samples, as it keeps no waveform phase to correlate.",
        "Higher is better except log-mel distance.",
    ]
    if reference_dnsmos is not None:
        notes.append("DNSMOS (speechmos, overall MOS; needs no reference) of the uncoded clips: "
                     f"{_fmt(reference_dnsmos, 2)}.")
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"


def write_csv(path: Path, rows: list[dict]) -> None:
    fields = list(rows[0])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write(path, lambda tmp: Path(tmp).write_text(buf.getvalue()))


def plot_rate_quality(path: Path, summary: list[dict], metric: str) -> None:
    """Metric vs measured kbps (log axis), one line per codec family, 95% CI as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for family in dict.fromkeys(e["family"] for e in summary):
        points = sorted((e["measured_kbps"][0], e[metric][0], e[metric][1]) for e in summary if e["family"] == family)
        kbps, mean, half = (np.array(v) for v in zip(*points))
        ax.errorbar(kbps, mean, yerr=np.nan_to_num(half), marker="o", capsize=3, label=family)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("measured kbit/s (payload)")
    ax.set_ylabel(METRIC_TITLES[metric])
    ax.set_title(f"{METRIC_TITLES[metric]} vs bitrate")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


# ---------------------------------------------------------------- CLI


def parse_codecs(values: list[str]) -> list[str]:
    """Codec names from ``--codecs a,b c``; unknown names are an error."""
    names = [n.strip().lower() for v in values for n in v.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CODEC_NAMES))
    if unknown:
        raise TeluCodecError(f"unknown codec(s) {', '.join(unknown)}; choose from {', '.join(CODEC_NAMES)}")
    return list(dict.fromkeys(names))


def load_clips(audio_dir: Path, quick: bool) -> list[tuple[str, np.ndarray]]:
    """(relative name, 16 kHz audio) for each audio file under ``audio_dir``; the first few with --quick."""
    paths = find_audio_files(audio_dir)
    if not paths:
        raise TeluCodecError(f"{audio_dir}: no audio files found")
    if quick:
        paths = paths[:QUICK_CLIPS]
    return [(str(p.relative_to(audio_dir)), load_audio(p)) for p in paths]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 0, or 2 after a one-line error."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audio-dir", type=Path, required=True, help="folder of clips (searched recursively)")
    parser.add_argument("--model", help="telucodec model; default: the shipped one, if any")
    parser.add_argument("--codecs", nargs="+", default=[",".join(CODEC_NAMES)],
                        help=f"comma-separated subset of {','.join(CODEC_NAMES)} (default: all)")
    parser.add_argument("--out", type=Path, default=Path("bench_results"), help="output folder")
    parser.add_argument("--quick", action="store_true", help=f"only the first {QUICK_CLIPS} clips")
    args = parser.parse_args(argv)
    return one_line_errors(PROG, lambda: benchmark(args))


def benchmark(args: argparse.Namespace) -> int:
    """Code and score every clip, write --out and print the table (TeluCodecError on bad input)."""
    codecs = parse_codecs(args.codecs)
    clips = load_clips(args.audio_dir, args.quick)
    settings = {name: telucodec_settings(args.model) if name == "telucodec" else REFERENCE_SETTINGS[name]
                for name in codecs}
    dnsmos = dnsmos_scorer()
    rows = run_benchmark(clips, settings, dnsmos)
    if not rows:
        raise TeluCodecError("no codec could be run; see the warnings above")
    metrics = METRICS + (("dnsmos",) if dnsmos is not None else ())
    summary = summarise(rows, metrics)
    reference_dnsmos = mean_ci([dnsmos(wav) for _, wav in clips]) if dnsmos is not None else None
    table = markdown_table(summary, metrics, len(clips), reference_dnsmos)
    write_csv(args.out / "per_clip.csv", rows)
    atomic_write(args.out / "results.md", lambda tmp: Path(tmp).write_text(table))
    for metric in PLOTS:
        plot_rate_quality(args.out / f"rate_{metric}.png", summary, metric)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
