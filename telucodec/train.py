"""Training: ``python train_codec.py`` / ``telucodec train``, on one CPU, one GPU or many (torchrun).

Read it top to bottom: arguments -> config (``train_args``) -> ``build_data`` -> ``build_state`` (model, optimiser,
counters: the ``TrainState`` a checkpoint holds; resumed from ``last.pt`` when there is one) ->
``build_run`` (schedule, DDP, TensorBoard) -> per epoch ``run_epoch`` (``train_step`` per step,
``EpochStats``) and ``end_epoch`` (validate, report, checkpoint). ``train()`` strings them together.
Running the same command again resumes.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import math
import os
import random
import time
import warnings
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import metrics
from .checkpoint import BEST, LAST, read_checkpoint, save_checkpoint
from .config import TrainConfig, merge
from .data import EpochSampler, SegmentDataset, scan_files, split_files, validation_clips
from .discriminator import Adversary
from .distrib import all_ranks_finite, broadcast, check_same_step, setup_distributed, sync_on_last, wrap_ddp
from .command import Terminated
from .errors import TeluCodecError
from .board import Board
from .fileio import append_line, atomic_write, check_output_folder
from .finetune import finish_finetune
from .losses import CodecLoss
from .model import CodecOutput, TeluCodec
from .train_args import config_from_args
from .warm_start import load_into, read_weights
from .workers import exit_with_parent

log = logging.getLogger("telucodec")
MIN_FINETUNE_SECONDS = 60   # less training audio than this: a fine-tuning run warns it is unlikely to help


# ----------------------------------------------------------------------------- small helpers

def duration(seconds: float) -> str:
    """A length of audio in the unit that shows it: '42.0 s', '12.5 min' or '3.74 h'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def lr_lambda(warmup: int, total: int):
    """Linear warm-up, then cosine decay to 10% at ``total`` steps."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))
    return factor


def autocast_context(precision: str, device: torch.device):
    """Autocast for ``precision`` on ``device``; TeluCodecError for fp16 without CUDA."""
    if precision == "fp32":
        return nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise TeluCodecError("--precision fp16 needs CUDA; use bf16 or fp32 on CPU")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def micro_batch_groups(loader: DataLoader, size: int) -> Iterator[list[torch.Tensor]]:
    """Lists of ``size`` consecutive batches from ``loader``: one list per optimiser step
    (an incomplete last group is dropped, like the loader's own incomplete last batch)."""
    group = []
    for batch in loader:
        group.append(batch)
        if len(group) == size:
            yield group
            group = []


def codebook_usage(counts: torch.Tensor) -> list[dict]:
    """Per quantizer: % of codes used and perplexity, from (n_q, codebook_size) counts."""
    usage = []
    for row in counts.double():
        probs = row / row.sum().clamp(min=1)
        entropy = -(probs[probs > 0] * probs[probs > 0].log()).sum()
        usage.append({"used_pct": float((row > 0).double().mean() * 100), "perplexity": float(entropy.exp())})
    return usage


# ----------------------------------------------------------------------------- one step

def train_step(ddp_model: torch.nn.Module, loss_fn: CodecLoss, optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler, micro_batches: list[torch.Tensor], autocast,
               grad_clip: float, adversary: Adversary | None = None,
               quantize: bool = True, tail: int = 0) -> tuple[list[tuple[dict, CodecOutput]], bool]:
    """One optimiser step over ``micro_batches``; returns (losses, output) per micro-batch and
    whether the weights were updated.

    Each micro-batch's loss is divided by their number, so the gradient is that of the mean
    loss over all of them (and DDP averages it over ranks). Only the last backward
    synchronises gradients across ranks; the others run under ``no_sync``. A non-finite loss
    on any rank, or a non-finite gradient norm, skips the update on every rank alike. The
    quantizer's EMA codebooks update in every forward, skipped or not.

    With an ``adversary``, the generator also gets its adversarial and feature-matching losses,
    and the discriminator then takes one step on the same micro-batches. ``quantize=False``
    trains the autoencoder with the quantizer bypassed. The last ``tail`` samples of each segment
    are left out of the losses: a causal model's overlap-add has not completed them (later frames
    would add to them), so they say nothing the model could learn.
    """
    results, finite = [], True
    for i, wav in enumerate(micro_batches):
        with sync_on_last(ddp_model, i, len(micro_batches)):
            with autocast:
                out = ddp_model(wav, quantize=quantize)
            audio, target = out.audio[..., : wav.shape[-1] - tail], wav[..., : wav.shape[-1] - tail]
            adversarial = adversary.generator_losses(audio, target) if adversary is not None else None
            losses = loss_fn(audio, target, out.commit_loss, adversarial)
            finite = all_ranks_finite(losses["total"]) and finite   # a NaN/inf loss never reaches the weights
            if finite:
                scaler.scale(losses["total"] / len(micro_batches)).backward()
        # detached: a skipped step must not keep every micro-batch's autograd graph alive
        results.append(({k: v.detach() for k, v in losses.items()},
                        dataclasses.replace(out, audio=out.audio.detach(), commit_loss=out.commit_loss.detach())))
    stepped = False
    if finite:
        scaler.unscale_(optimizer)
        # gradients are already averaged across ranks here, so every rank sees the same norm
        grad_norm = torch.nn.utils.clip_grad_norm_(ddp_model.parameters(), grad_clip)
        if torch.isfinite(grad_norm):
            scaler.step(optimizer)
            stepped = True
        scaler.update()
    optimizer.zero_grad(set_to_none=True)
    if adversary is not None:
        disc = adversary.step([out.audio for _, out in results], micro_batches, grad_clip)
        for losses, _ in results:
            losses["disc"] = disc
    return results, stepped


# ----------------------------------------------------------------------------- the run's parts

@dataclass
class Data:
    """The training stream and the fixed validation clips of one process."""

    dataset: SegmentDataset
    sampler: EpochSampler
    loader: DataLoader
    val_clips: list[np.ndarray]
    steps_per_epoch: int
    step_items: int           # segments per optimiser step, all ranks together
    skipped_files: int


def build_data(args: argparse.Namespace, config: TrainConfig, rank: int, world: int) -> Data:
    """Scan --data_dir / --val_dir (16 kHz mono, bad files skipped and counted) into this rank's
    loader; TeluCodecError when nothing is usable. Rank 0 prints a one-line summary."""
    sr = config.model.sample_rate
    segment = int(config.data.segment_seconds * sr)
    train_files, val_files = split_files(args.data_dir, args.val_dir, config.data.val_fraction)
    train_set = scan_files(train_files, sr, segment, config.data.silence_threshold)
    val_set = scan_files(val_files, sr, config.model.hop_length, config.data.silence_threshold)
    skipped = len(train_set.skipped) + len(val_set.skipped)
    if not train_set.clips:
        raise TeluCodecError(f"{args.data_dir}: no usable training audio ({skipped} file(s) skipped)")
    if config.init_from and not val_set.clips:   # early stopping and the report need held-out clips
        raise TeluCodecError(f"{args.data_dir}: fine-tuning needs held-out clips: two or more usable files, "
                             "or --val_dir")
    total_samples = sum(len(c) for c in train_set.clips)
    step_items = config.batch_size * world * config.grad_accum_steps
    items_per_epoch = max(step_items, total_samples // segment)
    dataset = SegmentDataset(train_set.clips, segment, items_per_epoch, config.seed)
    sampler = EpochSampler(items_per_epoch, rank, world)
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, num_workers=config.num_workers,
                        drop_last=True, generator=torch.Generator().manual_seed(config.seed),
                        worker_init_fn=functools.partial(exit_with_parent, os.getpid()))
    data = Data(dataset, sampler, loader, validation_clips(val_set.clips, sr, config.data.val_seconds,
                                                           config.data.max_val_files),
                items_per_epoch // step_items, step_items, skipped)
    if rank == 0 and config.init_from and total_samples < MIN_FINETUNE_SECONDS * sr:
        log.warning(f"only {duration(total_samples / sr)} of training audio: fine-tuning on less than "
                    f"{MIN_FINETUNE_SECONDS // 60} minute is unlikely to do any good (held-out clips decide, below)")
    if rank == 0:
        print(f"data: {len(train_set.clips)} training files ({duration(total_samples / sr)}), "
              f"{len(data.val_clips)} validation clips, {skipped} file(s) skipped; "
              f"{data.steps_per_epoch} steps per epoch", flush=True)
    return data


@dataclass
class TrainState:
    """Everything a checkpoint holds (DAC's ``State``): the model, its optimiser and loss scaler,
    the adversary, the config, and where the run stands."""

    COUNTERS = ("step", "epoch", "batch_in_epoch", "skipped_steps", "best", "epochs_since_best")

    config: TrainConfig
    model: TeluCodec
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    adversary: Adversary | None
    step: int = 0                 # optimiser steps taken (skipped ones included)
    epoch: int = 0
    batch_in_epoch: int = 0       # steps taken in the current epoch
    skipped_steps: int = 0        # steps whose update a non-finite loss or gradient skipped
    best: float = math.inf        # lowest validation log-mel through the quantizer so far
    epochs_since_best: int = 0    # validated epochs since ``best`` last fell (early stopping)

    def state_dict(self) -> dict:
        """The checkpoint: keys model, optimizer, scaler, config, the counters, rng, adversary."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(), "config": self.config.to_dict(),
                **{name: getattr(self, name) for name in self.COUNTERS}, "rng": rng_state(),
                "adversary": self.adversary.state_dict() if self.adversary is not None else None}

    def load_state_dict(self, state: dict) -> None:
        """Restore from a checkpoint, random number generators included; its ``config`` is not
        applied here (``config_from_args`` already built this state's config from it)."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        for name in self.COUNTERS:    # checkpoints from before a counter existed keep its default
            setattr(self, name, state.get(name, getattr(self, name)))
        set_rng_state(state["rng"])
        if self.adversary is not None and state.get("adversary"):
            self.adversary.load_state_dict(state["adversary"])


def build_state(config: TrainConfig, device: torch.device, resumed: dict | None) -> TrainState:
    """A fresh model, optimiser, scaler and adversary for ``config``, restored from ``resumed``."""
    model = TeluCodec(config.model).to(device)
    if config.trainable == "decoder":
        model.freeze_codes()
    optimizer_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[config.optim.optimizer]
    optimizer = optimizer_cls([p for p in model.parameters() if p.requires_grad], lr=config.optim.learning_rate,
                              betas=config.optim.betas, weight_decay=config.optim.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
    adversary = Adversary(config.adversarial, device) if config.adversarial.start_step >= 0 else None
    state = TrainState(config, model, optimizer, scaler, adversary)
    if resumed is not None:
        state.load_state_dict(resumed)
    return state


@dataclass
class Run:
    """What one process needs to train a ``TrainState`` and is not saved: where it writes, the
    DDP-wrapped model, the loss, the schedule, autocast and (rank 0) TensorBoard."""

    dir: Path
    device: torch.device
    is_main: bool
    ddp_model: torch.nn.Module
    loss_fn: CodecLoss
    scheduler: torch.optim.lr_scheduler.LambdaLR
    autocast: object
    writer: Board | None      # TensorBoard on rank 0
    saved_step: int | None = None   # the step DIR/last.pt holds

    def checkpoint(self, state: TrainState, name: str = LAST) -> None:
        """Rank 0 writes ``state`` to DIR/``name``, atomically."""
        if self.is_main:
            save_checkpoint(self.dir / name, state.state_dict())
        if name == LAST:
            self.saved_step = state.step

    def stop_early(self, state: TrainState) -> str | None:
        """Why to stop early (None: go on): the validation log-mel has not improved for
        ``early_stop_patience`` epochs. Rank 0 validated, so every rank takes its verdict."""
        patience = state.config.early_stop_patience
        verdict = torch.tensor([float(0 < patience <= state.epochs_since_best)], device=self.device)
        if not broadcast(verdict).item():
            return None
        return (f"early stop: the validation log-mel has not improved for {patience} epochs "
                f"(best {state.best:.4f}, in {self.dir / BEST})")


def build_run(run_dir: Path, state: TrainState, data: Data, device: torch.device, rank: int, world: int) -> Run:
    """The schedule, the DDP wrapper and, on rank 0, the run folder with config.json and TensorBoard."""
    config = state.config
    # The schedule is a function of the config and the step alone (not restored from the checkpoint),
    # so a resumed run follows its new --learning_rate and --num_epochs from its first step.
    for group in state.optimizer.param_groups:
        group["initial_lr"] = config.optim.learning_rate
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        state.optimizer, lr_lambda(config.optim.warmup_steps, config.num_epochs * data.steps_per_epoch),
        last_epoch=state.step - 1)
    quantizer = config.model.quantizer
    ddp_model = wrap_ddp(state.model, config.bypass_quantizer_steps > 0 or quantizer.kind != "ema") \
        if world > 1 else state.model
    writer = None
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(config.to_dict(), indent=2)))
        writer = Board(run_dir / "tb")
    return Run(run_dir, device, rank == 0, ddp_model, CodecLoss(config.loss, config.model.sample_rate,
                                                                config.adversarial).to(device),
               scheduler, autocast_context(config.precision, device), writer, state.step if state.step else None)


# ----------------------------------------------------------------------------- one epoch

def _restarts(model: TeluCodec) -> list[int]:
    """Dead codes restarted so far, per quantizer."""
    return [codebook.restarts for codebook in model.quantizer.codebooks]


@dataclass
class EpochStats:
    """What this rank's steps of one epoch add up to: loss sums, signal ranges, code counts,
    codebook restarts and the time taken; ``record`` makes the epoch's report of them."""

    code_counts: torch.Tensor                 # (n_q, codebook_size) codes chosen
    restarts_before: list[int]                # per quantizer, when the epoch (or its resumed part) began
    sums: dict[str, float] = field(default_factory=dict)
    n_batches: int = 0
    ranges: list[float] = field(default_factory=lambda: [math.inf, -math.inf, math.inf, -math.inf])  # in, out
    started: float = field(default_factory=time.time)
    elapsed: float = 0.0

    @classmethod
    def start(cls, model: TeluCodec, device: torch.device) -> EpochStats:
        q = model.cfg.quantizer
        return cls(torch.zeros(q.n_q, q.codebook_size, device=device), _restarts(model))

    def add(self, micro_batches: list[torch.Tensor], results: list[tuple[dict, CodecOutput]], accum: int) -> dict:
        """Count one step (``train_step``'s results); returns its losses, averaged over micro-batches."""
        step_losses: dict[str, float] = {}
        for wav, (losses, out) in zip(micro_batches, results):
            for key, value in losses.items():
                step_losses[key] = step_losses.get(key, 0.0) + float(value) / accum
            self.ranges = [min(self.ranges[0], float(wav.min())), max(self.ranges[1], float(wav.max())),
                           min(self.ranges[2], float(out.audio.min())), max(self.ranges[3], float(out.audio.max()))]
            for q in range(out.codes.shape[1]):
                active = out.n_q > q
                self.code_counts[q] += torch.bincount(out.codes[active, q].flatten(),
                                                      minlength=self.code_counts.shape[1])
        for key, value in step_losses.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.n_batches += 1
        return step_losses

    def record(self, state: TrainState, data: Data, val: dict, val_quantized: bool) -> dict:
        """The epoch's line of metrics.jsonl (the epoch just finished: ``state.epoch - 1``)."""
        restarts = [now - before for now, before in zip(_restarts(state.model), self.restarts_before)]
        lo_in, hi_in, lo_out, hi_out = self.ranges
        return {
            "epoch": state.epoch - 1, "step": state.step, "skipped_steps": state.skipped_steps,
            "skipped_files": data.skipped_files,
            "audio_sec_per_sec": self.n_batches * data.step_items * state.config.data.segment_seconds / self.elapsed,
            "steps_per_sec": self.n_batches / self.elapsed,
            "train": {**{k: v / self.n_batches for k, v in self.sums.items()},
                      "in_min": lo_in, "in_max": hi_in, "out_min": lo_out, "out_max": hi_out},
            "codebooks": [{**usage, "restarts": count}
                          for usage, count in zip(codebook_usage(self.code_counts.cpu()), restarts)],
            "val": val, "val_clips": len(data.val_clips), "val_quantized": val_quantized,
        }


def run_epoch(run: Run, state: TrainState, data: Data) -> EpochStats:
    """Train from ``state.batch_in_epoch`` to the end of epoch ``state.epoch`` (or to max_steps),
    checkpointing every save_every steps; returns this rank's statistics of the steps taken."""
    config = state.config
    accum = config.grad_accum_steps
    data.dataset.epoch, data.sampler.skip = state.epoch, state.batch_in_epoch * config.batch_size * accum
    stats = EpochStats.start(state.model, run.device)
    bar = tqdm(micro_batch_groups(data.loader, accum), desc=f"epoch {state.epoch}", initial=state.batch_in_epoch,
               total=data.steps_per_epoch, disable=not run.is_main, leave=False, dynamic_ncols=True)
    for micro_batches in bar:
        micro_batches = [wav.to(run.device, non_blocking=True) for wav in micro_batches]
        adversary = state.adversary if state.adversary is not None and state.adversary.active(state.step) else None
        results, stepped = train_step(run.ddp_model, run.loss_fn, state.optimizer, state.scaler, micro_batches,
                                      run.autocast, config.optim.grad_clip, adversary,
                                      quantize=state.step >= config.bypass_quantizer_steps,
                                      tail=config.model.synthesis_tail)
        state.skipped_steps += not stepped
        run.scheduler.step()
        state.step += 1
        state.batch_in_epoch += 1
        step_losses = stats.add(micro_batches, results, accum)
        if run.is_main and state.step % config.log_every == 0:
            bar.set_postfix(loss=f"{step_losses['total']:.3f}")
            for key, value in {"lr": run.scheduler.get_last_lr()[0], **step_losses}.items():
                run.writer.add_scalar(f"train/{key}", value, state.step)
        if state.step % config.save_every == 0:
            run.checkpoint(state)
        if 0 < config.max_steps <= state.step:
            break
    bar.close()
    stats.elapsed = time.time() - stats.started
    return stats


# ----------------------------------------------------------------------------- validation and report

@torch.no_grad()
def validate(model: TeluCodec, clips: list[np.ndarray], device: torch.device, n_perceptual: int,
             quantize: bool = True) -> tuple[dict, list]:
    """Mean metrics over validation clips (PESQ/STOI on the first ``n_perceptual``) and the decodes
    (through the quantizer unless ``quantize`` is False, as in the bypass warm-up)."""
    model.eval()
    rows, decoded = [], []
    for i, clip in enumerate(clips):
        wav = torch.from_numpy(clip)[None, None].to(device)
        out = model(wav, quantize=quantize).audio[0, 0].float().cpu().numpy()
        decoded.append(out)
        rows.append(metrics.all_metrics(clip, out, perceptual=i < n_perceptual))
    model.train()
    keys = {k for r in rows for k in r}
    summary = {k: float(np.nanmean([r[k] for r in rows if k in r])) for k in sorted(keys)}
    return summary, decoded


def format_epoch(record: dict) -> str:
    """The per-epoch block printed to the console."""
    t, v = record["train"], record["val"]
    extra_losses = ("complex", "magnitude", "level", "loudness", "adv", "feat", "disc")
    lines = [
        f"epoch {record['epoch']} | step {record['step']} | loss {t['total']:.4f} "
        f"(recon {t['recon']:.4f}, stft {t['stft']:.4f}, mel {t['mel']:.4f}, vq {t['vq']:.4f}"
        + "".join(f", {k} {t[k]:.4f}" for k in extra_losses if t.get(k)) + ") | "
        f"{record['audio_sec_per_sec']:.1f} audio-s/s | skipped steps {record['skipped_steps']}",
        f"  output range [{t['out_min']:.3f}, {t['out_max']:.3f}] vs input [{t['in_min']:.3f}, {t['in_max']:.3f}]",
        "  codebooks: " + " | ".join(f"q{i + 1} {u['used_pct']:.0f}% ppl {u['perplexity']:.0f} "
                                     f"restarts {u['restarts']}" for i, u in enumerate(record["codebooks"])),
        f"  validation ({record['val_clips']} clips{'' if record['val_quantized'] else ', quantizer bypassed'}): "
        f"SNR {v['snr']:.2f} dB | SI-SDR {v['si_sdr']:.2f} dB | log-mel {v['log_mel']:.3f}"
        + (f" | PESQ-WB {v['pesq']:.2f} | STOI {v['stoi']:.3f}" if "pesq" in v else ""),
    ]
    return "\n".join(lines)


def end_epoch(run: Run, state: TrainState, data: Data, stats: EpochStats) -> dict:
    """Rank 0, after an epoch: validate, print and log the record, checkpoint last.pt and (when
    the validation log-mel through the quantizer is the lowest yet, and keep_best) best.pt. Returns the record."""
    config = state.config
    quantize = state.step > config.bypass_quantizer_steps
    val, decoded = validate(state.model, data.val_clips, run.device, config.data.perceptual_val_files, quantize) \
        if data.val_clips else ({}, [])
    record = stats.record(state, data, val, quantize)
    print(format_epoch(record) if val else json.dumps(record["train"]), flush=True)
    append_line(run.dir / "metrics.jsonl", json.dumps(record))
    for key, value in val.items():
        run.writer.add_scalar(f"val/{key}", value, state.step)
    for i, clip in enumerate(decoded[: config.audio_clips_to_log]):
        run.writer.add_audio(f"val/decoded_{i}", clip[None], state.step, sample_rate=config.model.sample_rate)
    run.writer.flush()
    # not in the bypass warm-up: a model without its quantizer is not a codec yet
    is_best = bool(val) and quantize and val["log_mel"] < state.best
    state.best = val["log_mel"] if is_best else state.best
    state.epochs_since_best = 0 if is_best else state.epochs_since_best + (bool(val) and quantize)
    run.checkpoint(state)
    if is_best and config.keep_best:
        run.checkpoint(state, BEST)
    return record


# ----------------------------------------------------------------------------- the run

def stop_reason(config: TrainConfig, step: int, epoch: int) -> str | None:
    """Why a run at ``step`` and ``epoch`` has nothing left to do (None: it goes on). The run length
    (num_epochs, max_steps) is the command's, never a resumed checkpoint's."""
    if 0 < config.max_steps <= step:
        return f"max_steps {config.max_steps} reached"
    if epoch >= config.num_epochs:
        return f"num_epochs {config.num_epochs} done"
    return None


def stopped_line(step: int, epoch: int, batch: int, reason: str, checkpoint: Path, saved_step: int | None) -> str:
    """The last line of every run: where it stopped (step, epoch, batch), why, and which
    checkpoint holds it (or which step it holds, when it is behind)."""
    holds = ("no checkpoint was written" if saved_step is None else f"{checkpoint} holds it" if saved_step == step
             else f"{checkpoint} holds step {saved_step}")
    return f"stopped at step {step}, epoch {epoch} (batch {batch}): {reason}; {holds}"


def _setup(args: argparse.Namespace) -> tuple[Path, dict | None, TrainConfig]:
    """(run folder, the checkpoint resumed or None, the config) from the command line."""
    run_dir = args.checkpoint_dir / args.experiment_name
    check_output_folder(run_dir)   # a file in the way or a read-only disk: one line now, not after an epoch
    resumed = read_checkpoint(run_dir / LAST) if (run_dir / LAST).exists() else None
    if resumed is not None and not args.resume:
        raise TeluCodecError(f"{run_dir / LAST}: a checkpoint exists (step {resumed['step']}); "
                             "drop --no_resume to continue it, or choose another --experiment_name")
    return run_dir, resumed, config_from_args(args, resumed["config"] if resumed else None, run_dir / LAST)


def _epochs(run: Run, state: TrainState, data: Data) -> tuple[dict, str]:
    """Train until the config's run length: (the last epoch's record on rank 0, why it stopped).
    Ctrl-C or SIGTERM prints where it stopped (rank 0) and goes on up."""
    record: dict = {}
    try:
        while (reason := stop_reason(state.config, state.step, state.epoch)) is None:
            stats = run_epoch(run, state, data)
            if state.batch_in_epoch >= data.steps_per_epoch:
                state.epoch, state.batch_in_epoch = state.epoch + 1, 0
                if run.is_main and stats.n_batches:
                    record = end_epoch(run, state, data, stats)
                if (early := run.stop_early(state)) is not None:
                    return record, early
            elif stats.n_batches and state.step % state.config.save_every != 0:
                run.checkpoint(state)   # stopped by max_steps mid-epoch
    except (KeyboardInterrupt, Terminated):
        if run.is_main:
            print(stopped_line(state.step, state.epoch, state.batch_in_epoch, "interrupted", run.dir / LAST,
                               run.saved_step), flush=True)
        raise
    return record, reason


def train(args: argparse.Namespace) -> dict:
    """Train (or resume) as the arguments say; returns the last epoch's record (rank 0). Ends with
    ``stopped_line``; a resumed run with nothing left to do says so, reading no data."""
    if args.threads:
        torch.set_num_threads(args.threads)
    rank, world, device = setup_distributed(args.device)
    if rank != 0:     # every rank reads the same files and config: rank 0 alone reports on them
        log.setLevel(logging.ERROR)
        warnings.filterwarnings("ignore")
    run_dir, resumed, config = _setup(args)
    autocast_context(config.precision, device)   # checks the precision fits the device before any work
    counters = (resumed["step"], resumed["epoch"], resumed["batch_in_epoch"]) if resumed else (0, 0, 0)
    done = stop_reason(config, counters[0], counters[1]) if resumed else None
    if done is not None:
        if rank == 0:
            print(stopped_line(*counters, f"{done} before this run began, nothing left to do (raise "
                               "--max_steps or --num_epochs to train on)", run_dir / LAST, counters[0]), flush=True)
        if world > 1:
            dist.destroy_process_group()
        return {}
    seed_everything(config.seed)
    weights = read_weights(config.init_from) if config.init_from and resumed is None else None
    if weights is not None:   # a config that changes the model's shape: one line before the data is read
        # a decoder-only run keeps the codes of the weights; any other makes codes of its own
        config = merge(config, {"model": {"codes_of": weights.codes_id if config.trainable == "decoder" else ""}})
        load_into(TeluCodec(config.model), weights, reinit_codebooks=False)
    data = build_data(args, config, rank, world)
    check_same_step(counters[0], device)
    state = build_state(config, device, resumed)
    if weights is not None:
        load_into(state.model, weights, reinit_codebooks=config.bypass_quantizer_steps > 0)
        if rank == 0:
            print(f"starting from {weights.path} (model id {weights.model_id})", flush=True)
    if resumed is not None and rank == 0:
        print(f"resuming {run_dir / LAST} at step {state.step} (epoch {state.epoch}, batch {state.batch_in_epoch}); "
              f"this run: num_epochs {config.num_epochs}, max_steps {config.max_steps or 'none'}", flush=True)
    run = build_run(run_dir, state, data, device, rank, world)
    record, reason = _epochs(run, state, data)
    if run.is_main:
        run.writer.close()
        print(stopped_line(state.step, state.epoch, state.batch_in_epoch, reason, run_dir / LAST, run.saved_step),
              flush=True)
    if config.init_from and run.is_main:
        finish_finetune(run_dir, config, data.val_clips, data.dataset.clips)
    if world > 1:
        dist.destroy_process_group()
    return record
