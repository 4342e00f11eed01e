"""Listening page: telucodec next to Opus, clip by clip, in one self-contained HTML file.

    python -m bench.report --audio-dir DIR -o report.html [--model PATH] [--max-clips 4] [--bitrates 2,4,8] [--force]

Up to --max-clips files under DIR (spread evenly over the sorted list, so each sub-folder of a
mixed corpus tends to show up) each get a table: the reference, telucodec at the chosen bitrates
(default: about doubling steps from one quantizer to all of them) and Opus (speech mode, libopus's
own bandwidth) at 6-24 kbps. Every row has an audio player, a log-mel spectrogram, the measured
kbps and SNR, SI-SDR, PESQ-WB, STOI and log-mel distance, scored exactly as ``quality.py`` does
(16 kHz mono, decoder delay compensated).

Nothing is fetched when the page is opened: audio is FLAC and spectrograms PNG, both as base64
data URIs, and the CSS is inline, so the file can be attached to an issue or mailed as is. A small
inline script records in ``<body data-images-ok data-audio-ok>`` whether the browser decoded every
image and every audio element (the tests read it back from headless Chromium). Without opus-tools
the Opus rows are left out with a warning.
"""
from __future__ import annotations

import argparse
import base64
import functools
import html
import io
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

import telucodec
from bench import quality
from bench import reference_codecs as rc
from bench.common import SAMPLE_RATE, evenly_spread, one_line_errors
from bench.common import warn as warn_as
from telucodec.audio import atomic_write, find_audio_files, load_audio
from telucodec.demo import spectrogram_png
from telucodec.errors import TeluCodecError

PROG = "report.py"
DEFAULT_MAX_CLIPS = 4
PNG_COLOURS = 128

# (metric key, column title, decimals); higher is better for all but log-mel distance
COLUMNS = (("measured_kbps", "kbps", 2), ("snr", "SNR dB", 1), ("si_sdr", "SI-SDR dB", 1),
           ("pesq", "PESQ-WB", 2), ("stoi", "STOI", 3), ("log_mel", "log-mel dist", 3))

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h2 { margin-top: 2em; font-size: 1.15em; }
p.notes { max-width: 60em; font-size: 0.9em; color: #555; }
table { border-collapse: collapse; }
th, td { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.reference { background: #eef4ff; }
tr.telucodec { background: #f3fbf3; }
audio { width: 230px; }
img.spec { width: 400px; display: block; }
small { color: #777; }
"""

# Runs once everything is parsed; an audio element counts as decoded once its metadata has loaded.
CHECK_SCRIPT = """
addEventListener("load", async () => {
  const images = [...document.images];
  document.body.dataset.imagesOk = images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0);
  const audios = [...document.querySelectorAll("audio")];
  // a decode error may already have happened while the page was parsed
  const loaded = await Promise.all(audios.map(a => a.readyState >= 1 ? true : a.error ? false : new Promise(done => {
    a.addEventListener("loadedmetadata", () => done(true));
    a.addEventListener("error", () => done(false));
  })));
  document.body.dataset.audioOk = audios.length > 0 && loaded.every(Boolean);
});
"""


@dataclass(frozen=True)
class Row:
    """One line of a clip's table: what to call it, the audio to play and its scores (None: the reference)."""

    family: str
    title: str
    audio: np.ndarray
    scores: dict[str, float] | None


def warn(message: str) -> None:
    """``report.py: warning: MESSAGE`` on stderr."""
    warn_as(PROG, message)


# ---------------------------------------------------------------- inputs


def pick_clips(audio_dir: Path, max_clips: int) -> list[tuple[str, np.ndarray]]:
    """(relative name, 16 kHz audio) for up to ``max_clips`` files spread evenly over the sorted list
    (see ``evenly_spread``); TeluCodecError when the folder has none."""
    paths = find_audio_files(audio_dir)
    if not paths:
        raise TeluCodecError(f"{audio_dir}: no audio files found")
    return [(str(paths[i].relative_to(audio_dir)), load_audio(paths[i], SAMPLE_RATE))
            for i in evenly_spread(len(paths), max_clips)]


def default_n_qs(max_n_q: int) -> list[int]:
    """1, 2, 4, ... quantizers up to and including all of them: rate steps even on a log axis."""
    return sorted({2**i for i in range(max_n_q.bit_length()) if 2**i < max_n_q} | {max_n_q})


def parse_bitrates(text: str | None, codec: telucodec.Codec) -> list[int]:
    """Quantizer counts for ``--bitrates 2,4,8`` (kbps, each rounded down to what the model offers)."""
    if text is None:
        return default_n_qs(codec.max_n_q)
    try:
        kbps = [float(k) for k in text.split(",") if k.strip()]
    except ValueError:
        raise TeluCodecError(f"--bitrates: expected comma-separated kbps like 2,4,8, got {text!r}") from None
    if not kbps:
        raise TeluCodecError("--bitrates: no bitrate given")
    return sorted({codec.n_q_for_kbps(k) for k in kbps})


# ---------------------------------------------------------------- coding and scoring


def code_clip(
    name: str, wav: np.ndarray, settings: dict[str, list[quality.Setting]], disabled: set[str]
) -> list[Row]:
    """The reference row, then one scored row per setting; a codec whose tool is missing is
    warned about once and added to ``disabled`` (so later clips skip it silently)."""
    rows = [Row("reference", "reference", wav, None)]
    for codec_name, result in quality.coded(name, wav, settings, disabled, warn):
        title = f"{result.family} {result.nominal_kbps:g} kbps"
        rows.append(Row(codec_name, title, result.decoded, quality.score(wav, result, None)))
    return rows


# ---------------------------------------------------------------- HTML


def flac_data_uri(wav: np.ndarray) -> str:
    """16-bit FLAC as a data URI: lossless like WAV at roughly half the size."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(wav, -1.0, 1.0), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return "data:audio/flac;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def spectrogram_data_uri(title: str, wav: np.ndarray, scratch: Path) -> str:
    """A one-panel log-mel spectrogram PNG (same colour scale for every row) as a data URI.

    Reduced to a 128-colour palette: images were most of the page, and this shrinks each about
    2.5x without a visible change to the colour map. (Pillow comes with matplotlib.)
    """
    from PIL import Image

    path = scratch / "spectrogram.png"
    spectrogram_png(path, [(title, wav)], SAMPLE_RATE)
    buf = io.BytesIO()
    with Image.open(path) as image:
        image.convert("RGB").quantize(PNG_COLOURS).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _cell(scores: dict[str, float] | None, key: str, digits: int) -> str:
    if scores is None:
        return "&mdash;"
    value = scores[key]
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def row_html(row: Row, scratch: Path) -> str:
    title = html.escape(row.title)
    cells = "".join(f'<td class="num">{_cell(row.scores, key, digits)}</td>' for key, _, digits in COLUMNS)
    return (f'<tr class="{html.escape(row.family)}"><th scope="row">{title}</th>'
            f'<td><audio controls preload="metadata" src="{flac_data_uri(row.audio)}"></audio></td>'
            f'<td><img class="spec" alt="log-mel spectrogram, {title}" '
            f'src="{spectrogram_data_uri(row.title, row.audio, scratch)}"></td>{cells}</tr>')


def clip_html(name: str, rows: list[Row], scratch: Path) -> str:
    seconds = len(rows[0].audio) / SAMPLE_RATE
    head = "".join(f'<th scope="col">{html.escape(title)}</th>' for _, title, _ in COLUMNS)
    body = "\n".join(row_html(row, scratch) for row in rows)
    return (f"<h2>{html.escape(name)} <small>{seconds:.2f} s</small></h2>\n"
            f'<table>\n<tr><th scope="col">setting</th><th scope="col">listen</th>'
            f'<th scope="col">log-mel spectrogram</th>{head}</tr>\n{body}\n</table>')


def page_html(model_label: str, sections: list[str]) -> str:
    notes = ("Measured kbps is payload bits over the clip duration (telucodec: the whole .tlc file, header "
             "included; Opus: audio packets without Ogg framing). Decoded audio is delay compensated before "
             "scoring, as in bench/quality.py. Higher is better for every metric except log-mel distance. "
             "Opus runs in speech mode with libopus choosing the bandwidth (narrowband at 6 kbps).")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>telucodec listening report</title>\n<style>{STYLE}</style>\n<script>{CHECK_SCRIPT}</script>\n"
            f"</head>\n<body>\n<h1>telucodec listening report</h1>\n"
            f"<p>Model: {html.escape(model_label)}. {len(sections)} clip(s), 16 kHz mono.</p>\n"
            f'<p class="notes">{html.escape(notes)}</p>\n' + "\n".join(sections) + "\n</body>\n</html>\n")


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Write the page; exit status 0, or 2 after a one-line error."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audio-dir", type=Path, required=True, help="folder of clips (searched recursively)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")
    parser.add_argument("--model", help="telucodec model; default: the shipped one")
    parser.add_argument("--max-clips", type=int, default=DEFAULT_MAX_CLIPS, help="clips on the page")
    parser.add_argument("--bitrates", help="telucodec kbps, comma-separated (default: 1, 2, 4, ... quantizers)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    args = parser.parse_args(argv)
    return one_line_errors(PROG, lambda: write_report(args))


def write_report(args: argparse.Namespace) -> int:
    """Code, score and render the clips into --output (TeluCodecError on bad input)."""
    # checked first so a refusal costs no model loading or coding
    if args.output.exists() and not args.force:
        raise TeluCodecError(f"{args.output} exists; pass --force to overwrite it")
    if args.max_clips < 1:
        raise TeluCodecError(f"--max-clips must be at least 1, got {args.max_clips}")
    codec = telucodec.load(args.model)
    settings = {
        "telucodec": [functools.partial(quality.telucodec_setting, codec, n_q, codec.config.kbps(n_q))
                      for n_q in parse_bitrates(args.bitrates, codec)],
        "opus": [functools.partial(rc.opus, kbps=k, force_wideband=False) for k in quality.OPUS_KBPS],
    }
    clips = pick_clips(args.audio_dir, args.max_clips)
    disabled: set[str] = set()
    sections = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, (name, wav) in enumerate(clips, 1):
            print(f"[{index}/{len(clips)}] {name}", file=sys.stderr)
            sections.append(clip_html(name, code_clip(name, wav, settings, disabled), Path(scratch)))
    page = page_html(f"{args.model or 'shipped default'} (id {codec.model_id})", sections)
    atomic_write(args.output, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    print(f"{args.output}: {len(clips)} clip(s), {len(page.encode()) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
