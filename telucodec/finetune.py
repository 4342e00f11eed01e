"""The end of a run started from trained weights (``--init_from``): the model file with entropy
tables that fit its codes, and a before/after report on the run's held-out clips.

- ``trainable: decoder``: the codes are the original model's, so its entropy tables are kept and
  its files decode with the fine-tuned model (``model.codes_of``).
- ``trainable: all``: the codes changed, so the tables are refitted on the training clips.

Writes into the run folder ``model.safetensors`` (float32, so that its model id is that of the
checkpoint it holds; ``telucodec.load(RUN_DIR)`` takes it), and ``report.md``, ``report.json`` and
``report.png``: PESQ-WB, STOI, level and measured kbps at 2, 6 and 16 kbps (the nearest rates the
model has) of the original and the fine-tuned model on the held-out clips.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .config import TrainConfig
from .entropy_fit import fit_entropy_model
from .fileio import atomic_write
from .metrics import level_difference, pesq_wb, stoi

REPORT_KBPS = (2.0, 6.0, 16.0)
MAX_ENTROPY_CLIPS = 300
MODEL_FILE = "model.safetensors"


def finish_finetune(run_dir: Path, config: TrainConfig, val_clips: list[np.ndarray],
                    train_clips: list[np.ndarray]) -> list[dict]:
    """Write the model file and the report (see the module docstring); returns the report's rows."""
    from .checkpoint import BEST, LAST
    from .codec import Codec, load, save_pretrained
    from .warm_start import resolve

    original = load(resolve(config.init_from))
    best = run_dir / BEST if (run_dir / BEST).is_file() else run_dir / LAST
    tuned = load(best)
    if config.trainable == "decoder":
        entropy = original.entropy
    else:
        picks = np.unique(np.linspace(0, len(train_clips) - 1, min(MAX_ENTROPY_CLIPS, len(train_clips))).astype(int))
        codes = [tuned.encode(train_clips[i], tuned.sample_rate) for i in picks]
        entropy = fit_entropy_model(codes, tuned.config.quantizer.codebook_size) if len(codes) >= 2 else None
    save_pretrained(tuned.model, run_dir / MODEL_FILE, half=False, entropy=entropy)
    tuned = Codec(tuned.model, entropy=entropy)
    rows = [row for name, codec in (("original", original), ("fine-tuned", tuned))
            for row in score(name, codec, val_clips)]
    write_report(run_dir, rows, best, len(val_clips))
    return rows


def score(name: str, codec, clips: list[np.ndarray]) -> list[dict]:
    """Mean PESQ-WB, STOI, level and measured kbps of ``clips`` through ``codec`` at REPORT_KBPS."""
    rows = []
    for kbps in REPORT_KBPS:
        n_q = codec.n_q_for_kbps(kbps)
        scores = []
        for clip in clips:
            data = codec.compress(clip, codec.sample_rate, n_q=n_q)
            decoded = codec.decompress(data)
            scores.append((pesq_wb(clip, decoded), stoi(clip, decoded), level_difference(clip, decoded),
                           8 * len(data) / (len(clip) / codec.sample_rate) / 1000))
        pesq, intelligibility, level, measured = np.nanmean(np.array(scores), axis=0)
        rows.append({"model": name, "model_id": codec.model_id, "n_q": n_q, "nominal_kbps": codec.config.kbps(n_q),
                     "kbps": float(measured), "pesq": float(pesq), "stoi": float(intelligibility),
                     "level_db": float(level)})
    return rows


def report_table(rows: list[dict]) -> str:
    """Markdown: one line per rate, original against fine-tuned, with the differences."""
    lines = ["| nominal kbps | kbps original / tuned | PESQ-WB original / tuned (change) "
             "| STOI original / tuned (change) | level dB original / tuned |", "|---:|---|---|---|---|"]
    before = [r for r in rows if r["model"] == "original"]
    after = [r for r in rows if r["model"] == "fine-tuned"]
    for a, b in zip(before, after):
        lines.append(f"| {a['nominal_kbps']:g} | {a['kbps']:.2f} / {b['kbps']:.2f} "
                     f"| {a['pesq']:.2f} / {b['pesq']:.2f} ({b['pesq'] - a['pesq']:+.2f}) "
                     f"| {a['stoi']:.3f} / {b['stoi']:.3f} ({b['stoi'] - a['stoi']:+.3f}) "
                     f"| {a['level_db']:+.1f} / {b['level_db']:+.1f} |")
    return "\n".join(lines)


def write_report(run_dir: Path, rows: list[dict], checkpoint: Path, clips: int) -> None:
    """Print the report and write report.md, report.json and report.png into ``run_dir``."""
    table = report_table(rows)
    text = (f"# Fine-tuning report\n\nOriginal model {rows[0]['model_id']} against the fine-tuned "
            f"{rows[-1]['model_id']} ({checkpoint.name}, written as {MODEL_FILE}) on {clips} held-out clips; "
            f"kbps measured from the .tlc files.\n\n{table}\n")
    atomic_write(run_dir / "report.md", lambda tmp: Path(tmp).write_text(text))
    atomic_write(run_dir / "report.json", lambda tmp: Path(tmp).write_text(json.dumps(rows, indent=2)))
    _plot(run_dir / "report.png", rows)
    print(text, flush=True)


def _plot(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for name in ("original", "fine-tuned"):
        mine = [r for r in rows if r["model"] == name]
        for ax, key in zip(axes, ("pesq", "stoi")):
            ax.plot([r["kbps"] for r in mine], [r[key] for r in mine], "o-", label=name)
            ax.set_xlabel("measured kbps")
            ax.set_ylabel({"pesq": "PESQ-WB", "stoi": "STOI"}[key])
            ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
