"""Training: ``python train_codec.py`` / ``telucodec train``, on one CPU, one GPU or many (torchrun).

Read it top to bottom: arguments -> config -> data -> model -> resume -> the loop
(step, log, checkpoint) -> per-epoch validation. Running the same command again resumes.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import random
import time
import warnings
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import metrics
from .checkpoint import BEST, LAST, read_checkpoint, save_checkpoint
from .config import PRESETS, TrainConfig, load_config_file, merge, preset
from .data import EpochSampler, SegmentDataset, scan_files, split_files, validation_clips
from .discriminator import Adversary
from .errors import TeluCodecError
from .losses import CodecLoss
from .model import CodecOutput, TeluCodec

log = logging.getLogger("telucodec")


# ----------------------------------------------------------------------------- arguments

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The seed's flags plus what users of EnCodec / DAC training expect."""
    a = parser.add_argument
    a("--data_dir", required=True, type=Path, help="folder tree of speech files (any format, rate, channels)")
    a("--checkpoint_dir", required=True, type=Path, help="checkpoints go to CHECKPOINT_DIR/EXPERIMENT_NAME/")
    a("--experiment_name", default="telucodec")
    a("--batch_size", type=int, help="segments per micro-batch (per process under torchrun)")
    a("--grad_accum_steps", type=int,
      help="micro-batches per optimiser step: the step sees batch_size x processes x this segments")
    a("--num_epochs", type=int)
    a("--learning_rate", type=float)
    a("--preset", choices=sorted(PRESETS), help="model preset (default: seed, or the resumed run's)")
    a("--config", type=Path, help="JSON/YAML file with (part of) the config tree; flags override it "
                                  "(when resuming it applies on top of the checkpoint's config, model excepted)")
    a("--val_dir", type=Path, help="validation folder (default: a deterministic 5%% split of DATA_DIR)")
    a("--device", default="auto", choices=["auto", "cpu", "cuda"])
    a("--num_workers", type=int)
    a("--segment_seconds", type=float)
    a("--seed", type=int)
    a("--log_every", type=int)
    a("--save_every", type=int, help="steps between checkpoints (also saved every epoch)")
    a("--max_steps", type=int, help="stop at this global step (0 = run all epochs)")
    a("--precision", choices=["fp32", "bf16", "fp16"])
    a("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    a("--adversarial_start_step", type=int,
      help="global step at which the STFT discriminator and its losses switch on (-1 = never, the default)")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument("--resume", dest="resume", action="store_true", default=True,
                        help="continue from CHECKPOINT_DIR/EXPERIMENT_NAME/last.pt if present (default)")
    resume.add_argument("--no_resume", dest="resume", action="store_false",
                        help="start fresh; refuses to run where a checkpoint already exists")


def config_from_args(args: argparse.Namespace, resumed: dict | None) -> TrainConfig:
    """Preset (or the resumed run's config) <- --config file <- command-line flags."""
    if resumed is not None:
        config = TrainConfig.from_dict(resumed)
        if args.preset:
            log.warning("resuming: the config comes from the checkpoint, so --preset is ignored; "
                        "--config and the other flags still apply")
        if args.config:     # e.g. a fine-tuning stage: new loss weights, a discriminator, a schedule
            changed = merge(config, load_config_file(args.config))
            if changed.model != config.model:
                raise TeluCodecError(f"{args.config}: a resumed run's model cannot change "
                                     "(start a new --experiment_name to train another model)")
            config = changed
    else:
        config = TrainConfig(model=preset(args.preset or "seed"))
        if args.config:
            config = merge(config, load_config_file(args.config))
    flags = {
        "batch_size": args.batch_size, "grad_accum_steps": args.grad_accum_steps, "num_epochs": args.num_epochs,
        "num_workers": args.num_workers, "seed": args.seed, "log_every": args.log_every, "save_every": args.save_every,
        "max_steps": args.max_steps, "precision": args.precision,
    }
    overrides: dict = {k: v for k, v in flags.items() if v is not None}
    if args.learning_rate is not None:
        overrides["optim"] = {"learning_rate": args.learning_rate}
    if args.segment_seconds is not None:
        overrides["data"] = {"segment_seconds": args.segment_seconds}
    if args.adversarial_start_step is not None:
        overrides["adversarial"] = {"start_step": args.adversarial_start_step}
    config = merge(config, overrides)
    validate_config(config)
    return config


def validate_config(config: TrainConfig) -> None:
    checks = [
        (config.batch_size >= 1, "--batch_size must be at least 1"),
        (config.grad_accum_steps >= 1, "--grad_accum_steps must be at least 1"),
        (config.num_epochs >= 1, "--num_epochs must be at least 1"),
        (config.optim.learning_rate > 0, "--learning_rate must be positive"),
        (config.data.segment_seconds * config.model.sample_rate >= config.model.hop_length,
         "--segment_seconds is shorter than one codec frame"),
        (config.num_workers >= 0, "--num_workers must be >= 0"),
        (config.log_every >= 1 and config.save_every >= 1, "--log_every and --save_every must be >= 1"),
        (config.model.architecture in ("seanet", "frame"), "model.architecture must be 'seanet' or 'frame'"),
        (not (config.model.causal and config.model.architecture == "frame"),
         "model.causal is only available for the seanet architecture"),
        (config.adversarial.start_step >= -1, "--adversarial_start_step must be -1 (off) or a step >= 0"),
        (all(n >= 16 for n in config.adversarial.ffts) and config.adversarial.channels >= 1,
         "adversarial.ffts must be at least 16 and adversarial.channels at least 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise TeluCodecError(message)
    if config.optim.learning_rate < 5e-5:
        warnings.warn(f"learning rate {config.optim.learning_rate:g} is very low for this kind of model; "
                      "the usual range is 1e-4 to 3e-4", stacklevel=2)


# ----------------------------------------------------------------------------- set-up helpers

def setup_distributed(device_arg: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device). Under torchrun: NCCL on GPUs, gloo on CPU."""
    cuda = device_arg == "cuda" or (device_arg == "auto" and torch.cuda.is_available())
    if device_arg == "cuda" and not torch.cuda.is_available():
        raise TeluCodecError("--device cuda: no CUDA device is available")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    return rank, world, device


def check_same_step(step: int, device: torch.device) -> None:
    """Every rank must start from the same step: a node that cannot see the checkpoint folder
    would start over while the others resume, and the run would hang or diverge."""
    if not dist.is_initialized():
        return
    bounds = torch.tensor([step, -step], device=device)
    dist.all_reduce(bounds, op=dist.ReduceOp.MAX)          # (max step, -min step)
    if int(bounds[0]) != -int(bounds[1]):
        raise TeluCodecError(f"ranks start at different steps ({-int(bounds[1])} to {int(bounds[0])}): "
                             "--checkpoint_dir must be one folder that every node sees")


def wrap_ddp(model: torch.nn.Module) -> DistributedDataParallel:
    """DDP without buffer broadcasts: the quantizer keeps its codebook buffers identical on all
    ranks itself (all-reduced EMA statistics, rank 0's init and restarts), so re-broadcasting
    them before every forward would only cost time."""
    with warnings.catch_warnings():
        # torch 2.13 deprecates broadcast_buffers for forward_sync_buffers, which older torch lacks
        warnings.filterwarnings("ignore", message=".*broadcast_buffers", category=FutureWarning)
        return DistributedDataParallel(model, broadcast_buffers=False)


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

def all_ranks_finite(value: torch.Tensor) -> bool:
    """Whether ``value`` is finite on every rank: one flag, min-reduced, so that all ranks
    skip a step together (a rank that skipped alone would stall or desynchronise the others)."""
    flag = torch.isfinite(value.detach()).float().reshape(1)
    if dist.is_initialized():
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def sync_on_last(module: torch.nn.Module, index: int, count: int):
    """Context for the backward of micro-batch ``index`` of ``count``: under DDP only the last one
    all-reduces gradients (the others accumulate locally under ``no_sync``)."""
    if index == count - 1 or not isinstance(module, DistributedDataParallel):
        return nullcontext()
    return module.no_sync()


def train_step(ddp_model: torch.nn.Module, loss_fn: CodecLoss, optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler, micro_batches: list[torch.Tensor], autocast,
               grad_clip: float, adversary: Adversary | None = None) -> tuple[list[tuple[dict, CodecOutput]], bool]:
    """One optimiser step over ``micro_batches``; returns (losses, output) per micro-batch and
    whether the weights were updated.

    Each micro-batch's loss is divided by their number, so the gradient is that of the mean
    loss over all of them (and DDP averages it over ranks). Only the last backward
    synchronises gradients across ranks; the others run under ``no_sync``. A non-finite loss
    on any rank, or a non-finite gradient norm, skips the update on every rank alike. The
    quantizer's EMA codebooks update in every forward, skipped or not.

    With an ``adversary``, the generator also gets its adversarial and feature-matching losses,
    and the discriminator then takes one step on the same micro-batches.
    """
    results, finite = [], True
    for i, wav in enumerate(micro_batches):
        with sync_on_last(ddp_model, i, len(micro_batches)):
            with autocast:
                out = ddp_model(wav)
            losses = loss_fn(out.audio, wav, out.commit_loss)
            if adversary is not None:
                adversarial = adversary.generator_losses(out.audio, wav)
                losses = {**losses, "total": losses["total"] + sum(adversarial.values()),
                          **{k: v.detach() for k, v in adversarial.items()}}
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
        disc = discriminator_step(adversary, [out.audio for _, out in results], micro_batches, grad_clip)
        for losses, _ in results:
            losses["disc"] = disc
    return results, stepped


def discriminator_step(adversary: Adversary, fakes: list[torch.Tensor], reals: list[torch.Tensor],
                       grad_clip: float) -> torch.Tensor:
    """One discriminator update on the generator's detached outputs, synchronised and skipped
    across ranks like ``train_step``; returns the mean hinge loss."""
    total, finite = torch.zeros(()), True
    for i, (fake, real) in enumerate(zip(fakes, reals)):
        with sync_on_last(adversary.trained, i, len(fakes)):
            loss = adversary.loss(fake, real)
            finite = all_ranks_finite(loss) and finite
            if finite:
                (loss / len(fakes)).backward()
        total += loss.detach().cpu() / len(fakes)
    if finite:
        grad_norm = torch.nn.utils.clip_grad_norm_(adversary.discriminator.parameters(), grad_clip)
        if torch.isfinite(grad_norm):
            adversary.optimizer.step()
    adversary.optimizer.zero_grad(set_to_none=True)
    return total


# ----------------------------------------------------------------------------- validation

@torch.no_grad()
def validate(model: TeluCodec, clips: list[np.ndarray], device: torch.device, n_perceptual: int) -> tuple[dict, list]:
    """Mean metrics over validation clips (PESQ/STOI on the first ``n_perceptual``) and the decodes."""
    model.eval()
    rows, decoded = [], []
    for i, clip in enumerate(clips):
        wav = torch.from_numpy(clip)[None, None].to(device)
        out = model(wav).audio[0, 0].float().cpu().numpy()
        decoded.append(out)
        rows.append(metrics.all_metrics(clip, out, perceptual=i < n_perceptual))
    model.train()
    keys = {k for r in rows for k in r}
    summary = {k: float(np.nanmean([r[k] for r in rows if k in r])) for k in sorted(keys)}
    return summary, decoded


def format_epoch(record: dict) -> str:
    """The per-epoch block printed to the console."""
    t, v = record["train"], record["val"]
    lines = [
        f"epoch {record['epoch']} | step {record['step']} | loss {t['total']:.4f} "
        f"(recon {t['recon']:.4f}, stft {t['stft']:.4f}, mel {t['mel']:.4f}, vq {t['vq']:.4f}"
        + "".join(f", {k} {t[k]:.4f}" for k in ("complex", "adv", "feat", "disc") if t.get(k)) + ") | "
        f"{record['audio_sec_per_sec']:.1f} audio-s/s | skipped steps {record['skipped_steps']}",
        f"  output range [{t['out_min']:.3f}, {t['out_max']:.3f}] vs input [{t['in_min']:.3f}, {t['in_max']:.3f}]",
        "  codebooks: " + " | ".join(f"q{i + 1} {u['used_pct']:.0f}% ppl {u['perplexity']:.0f}"
                                     for i, u in enumerate(record["codebooks"])),
        f"  validation ({record['val_clips']} clips): SNR {v['snr']:.2f} dB | SI-SDR {v['si_sdr']:.2f} dB | "
        f"log-mel {v['log_mel']:.3f}" + (f" | PESQ-WB {v['pesq']:.2f} | STOI {v['stoi']:.3f}" if "pesq" in v else ""),
    ]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the run

def train(args: argparse.Namespace) -> dict:
    """Train (or resume) as the arguments say; returns the last epoch's record."""
    if args.threads:
        torch.set_num_threads(args.threads)
    rank, world, device = setup_distributed(args.device)
    is_main = rank == 0
    if not is_main:     # every rank reads the same files and config: rank 0 alone reports on them
        log.setLevel(logging.ERROR)
        warnings.filterwarnings("ignore")
    run_dir = args.checkpoint_dir / args.experiment_name
    last_path = run_dir / LAST
    resumed = read_checkpoint(last_path) if last_path.exists() else None
    if resumed is not None and not args.resume:
        raise TeluCodecError(f"{last_path}: a checkpoint exists (step {resumed['step']}); "
                             "drop --no_resume to continue it, or choose another --experiment_name")
    config = config_from_args(args, resumed["config"] if resumed else None)
    autocast = autocast_context(config.precision, device)   # checks the precision fits the device
    seed_everything(config.seed)

    # data
    sr = config.model.sample_rate
    segment = int(config.data.segment_seconds * sr)
    train_files, val_files = split_files(args.data_dir, args.val_dir, config.data.val_fraction)
    train_set = scan_files(train_files, sr, segment, config.data.silence_threshold)
    val_set = scan_files(val_files, sr, config.model.hop_length, config.data.silence_threshold)
    skipped = len(train_set.skipped) + len(val_set.skipped)
    if not train_set.clips:
        raise TeluCodecError(f"{args.data_dir}: no usable training audio ({skipped} file(s) skipped)")
    total_samples = sum(len(c) for c in train_set.clips)
    accum = config.grad_accum_steps
    step_items = config.batch_size * world * accum          # segments per optimiser step, all ranks
    items_per_epoch = max(step_items, total_samples // segment)
    dataset = SegmentDataset(train_set.clips, segment, items_per_epoch, config.seed)
    sampler = EpochSampler(items_per_epoch, rank, world)
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, num_workers=config.num_workers,
                        drop_last=True, generator=torch.Generator().manual_seed(config.seed))
    val_clips = validation_clips(val_set.clips, sr, config.data.val_seconds, config.data.max_val_files)
    steps_per_epoch = items_per_epoch // step_items
    if is_main:
        print(f"data: {len(train_set.clips)} training files ({total_samples / sr / 3600:.2f} h), "
              f"{len(val_clips)} validation clips, {skipped} file(s) skipped; {steps_per_epoch} steps per epoch",
              flush=True)

    # model, loss, optimiser
    model = TeluCodec(config.model).to(device)
    loss_fn = CodecLoss(config.loss, sr).to(device)
    opt_cls = torch.optim.AdamW if config.optim.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(model.parameters(), lr=config.optim.learning_rate, betas=config.optim.betas,
                        weight_decay=config.optim.weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
    adversary = Adversary(config.adversarial, device) if config.adversarial.start_step >= 0 else None

    step, epoch, batch_in_epoch, skipped_steps, best = 0, 0, 0, 0, float("inf")
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        scaler.load_state_dict(resumed["scaler"])
        step, epoch, batch_in_epoch = resumed["step"], resumed["epoch"], resumed["batch_in_epoch"]
        skipped_steps, best = resumed["skipped_steps"], resumed["best"]
        set_rng_state(resumed["rng"])
        if adversary is not None and resumed.get("adversary"):
            adversary.load_state_dict(resumed["adversary"])
        if is_main:
            print(f"resuming {last_path} at step {step} (epoch {epoch}, batch {batch_in_epoch})", flush=True)
    # The schedule is a function of the config and the step alone (not restored from the checkpoint),
    # so a resumed run follows its new --learning_rate and --num_epochs from its first step.
    for group in optimizer.param_groups:
        group["initial_lr"] = config.optim.learning_rate
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(config.optim.warmup_steps, config.num_epochs * steps_per_epoch), last_epoch=step - 1)
    check_same_step(step, device)
    ddp_model = wrap_ddp(model) if world > 1 else model
    if adversary is not None and world > 1:
        adversary.trained = wrap_ddp(adversary.discriminator)
    writer = None
    if is_main:
        from torch.utils.tensorboard import SummaryWriter

        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
        writer = SummaryWriter(str(run_dir / "tb"))

    def checkpoint(path: Path) -> None:
        if is_main:
            save_checkpoint(path, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                "config": config.to_dict(), "step": step, "epoch": epoch, "batch_in_epoch": batch_in_epoch,
                "skipped_steps": skipped_steps, "best": best, "rng": rng_state(),
                "adversary": adversary.state_dict() if adversary is not None else None,
            })

    record: dict = {}
    max_steps = config.max_steps or None
    while epoch < config.num_epochs and (max_steps is None or step < max_steps):
        dataset.epoch, sampler.skip = epoch, batch_in_epoch * config.batch_size * accum
        sums: dict[str, float] = {}
        n_batches = 0
        ranges = [math.inf, -math.inf, math.inf, -math.inf]   # in min/max, out min/max
        code_counts = torch.zeros(config.model.quantizer.n_q, config.model.quantizer.codebook_size, device=device)
        started = time.time()
        bar = tqdm(micro_batch_groups(loader, accum), desc=f"epoch {epoch}", initial=batch_in_epoch,
                   total=steps_per_epoch, disable=not is_main, leave=False, dynamic_ncols=True)
        for micro_batches in bar:
            micro_batches = [wav.to(device, non_blocking=True) for wav in micro_batches]
            results, stepped = train_step(ddp_model, loss_fn, optimizer, scaler, micro_batches, autocast,
                                          config.optim.grad_clip,
                                          adversary if adversary is not None and adversary.active(step) else None)
            skipped_steps += not stepped
            scheduler.step()
            step += 1
            batch_in_epoch += 1
            n_batches += 1

            # statistics for the epoch summary (this rank's micro-batches)
            step_losses: dict[str, float] = {}
            for wav, (losses, out) in zip(micro_batches, results):
                for key, value in losses.items():
                    step_losses[key] = step_losses.get(key, 0.0) + float(value) / accum
                ranges = [min(ranges[0], float(wav.min())), max(ranges[1], float(wav.max())),
                          min(ranges[2], float(out.audio.min())), max(ranges[3], float(out.audio.max()))]
                for q in range(out.codes.shape[1]):
                    active = out.n_q > q
                    code_counts[q] += torch.bincount(out.codes[active, q].flatten(), minlength=code_counts.shape[1])
            for key, value in step_losses.items():
                sums[key] = sums.get(key, 0.0) + value
            if is_main and step % config.log_every == 0:
                entry = {"step": step, "epoch": epoch, "lr": scheduler.get_last_lr()[0], **step_losses}
                bar.set_postfix(loss=f"{entry['total']:.3f}")
                for key, value in entry.items():
                    if key not in ("step", "epoch"):
                        writer.add_scalar(f"train/{key}", value, step)
            if step % config.save_every == 0:
                checkpoint(last_path)
            if max_steps is not None and step >= max_steps:
                break
        bar.close()
        elapsed = time.time() - started
        epoch_done = batch_in_epoch >= steps_per_epoch
        if epoch_done:
            epoch, batch_in_epoch = epoch + 1, 0
        if not epoch_done and n_batches and step % config.save_every != 0:
            checkpoint(last_path)   # stopped by max_steps mid-epoch
        if not epoch_done or not is_main or n_batches == 0:
            continue

        # end of epoch: validate, report, checkpoint (rank 0)
        val, decoded = validate(model, val_clips, device, config.data.perceptual_val_files) if val_clips else ({}, [])
        record = {
            "epoch": epoch - 1, "step": step, "skipped_steps": skipped_steps, "skipped_files": skipped,
            "audio_sec_per_sec": n_batches * step_items * config.data.segment_seconds / elapsed,
            "steps_per_sec": n_batches / elapsed,
            "train": {**{k: v / n_batches for k, v in sums.items()},
                      "in_min": ranges[0], "in_max": ranges[1], "out_min": ranges[2], "out_max": ranges[3]},
            "codebooks": codebook_usage(code_counts.cpu()), "val": val, "val_clips": len(val_clips),
        }
        print(format_epoch(record) if val else json.dumps(record["train"]), flush=True)
        with open(run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        for key, value in val.items():
            writer.add_scalar(f"val/{key}", value, step)
        for i, clip in enumerate(decoded[: config.audio_clips_to_log]):
            writer.add_audio(f"val/decoded_{i}", clip[None], step, sample_rate=sr)
        writer.flush()
        is_best = bool(val) and val["log_mel"] < best   # "best" = lowest validation log-mel distance
        best = val["log_mel"] if is_best else best
        checkpoint(last_path)
        if is_best:
            checkpoint(run_dir / BEST)
    if writer is not None:
        writer.close()
    if world > 1:
        dist.destroy_process_group()
    return record


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``train_codec.py``."""
    from .cli import Parser, run_with_errors

    parser = Parser(prog="train_codec.py", description="Train a telucodec model.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_with_errors(lambda: train(args))
