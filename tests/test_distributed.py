"""Data-parallel training on CPU (gloo): ranks stay identical, and 2 ranks equal 1 rank with the
same global batch; torchrun end to end (rank-0 checkpoint, resume); bf16 autocast on CPU."""
import os
import subprocess
import sys
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from conftest import tiny_model_config, voiced_clip
from telucodec.config import AdversarialConfig, LossConfig
from telucodec.data import EpochSampler
from telucodec.discriminator import Adversary
from telucodec.losses import CodecLoss
from telucodec.model import TeluCodec
from telucodec.distrib import check_same_step, wrap_ddp
from telucodec.train import train_step

ROOT = Path(__file__).resolve().parents[1]
STEPS, ACCUM, GLOBAL_BATCH, SAMPLES = 4, 2, 4, 4000   # 4 optimiser steps of 2 micro-batches of 4 x 0.25 s


def init_group(rank: int, world: int, folder: str) -> None:
    """A gloo group meeting in a file under ``folder``; a stuck peer fails the test within a minute."""
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world,
                            timeout=timedelta(seconds=60))


def speech_batches() -> torch.Tensor:
    """(steps, accum, global batch, 1, samples) of distinct speech-like clips."""
    clips = [voiced_clip(SAMPLES / 16000, f0=100 + 7 * i, seed=i) for i in range(STEPS * ACCUM * GLOBAL_BATCH)]
    return torch.from_numpy(np.stack(clips)).view(STEPS, ACCUM, GLOBAL_BATCH, 1, SAMPLES)


def nan_total(loss_fn: CodecLoss):
    """``loss_fn`` with a NaN total, as a rank whose batch made the loss diverge would have."""
    def poisoned(pred: torch.Tensor, target: torch.Tensor, commit_loss: torch.Tensor,
                 adversarial: dict | None = None) -> dict:
        losses = loss_fn(pred, target, commit_loss, adversarial)
        return {**losses, "total": losses["total"] * float("nan")}
    return poisoned


def _train_rank(rank: int, world: int, model_cfg, loss_cfg: LossConfig, batches: torch.Tensor, out_dir: str,
                local_init: bool, nan_at: tuple[int, int] | None, adversarial: AdversarialConfig | None) -> None:
    """One process: the production ``train_step`` on this rank's shard of every micro-batch,
    then its whole state (weights and codebooks) and which steps updated the weights saved as
    rank<R>.pt.

    ``local_init``: k-means-initialise the codebooks on the whole first global batch before the
    process group exists, so every process (whatever the world size) starts from the same ones.
    ``nan_at``: (rank, step) whose loss is NaN. ``adversarial``: train with a discriminator too.
    """
    torch.set_num_threads(1)
    torch.manual_seed(0)          # same initial weights and codebooks everywhere, as in train.py
    model = TeluCodec(model_cfg)
    if local_init:
        with torch.no_grad():
            model(batches[0, 0])
    if world > 1:
        init_group(rank, world, out_dir)
    ddp_model = wrap_ddp(model) if world > 1 else model
    adversary = Adversary(adversarial, torch.device("cpu")) if adversarial else None   # wraps itself in DDP
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.8, 0.99))
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss_fn = CodecLoss(loss_cfg, model_cfg.sample_rate)
    stepped = []
    for step, step_batches in enumerate(batches):
        micro_batches = [batch.chunk(world)[rank] for batch in step_batches]
        step_loss = nan_total(loss_fn) if nan_at == (rank, step) else loss_fn
        stepped.append(train_step(ddp_model, step_loss, optimizer, scaler, micro_batches, nullcontext(), 1.0,
                                  adversary)[1])
    torch.save({"state": model.state_dict(), "stepped": stepped,
                "discriminator": adversary.discriminator.state_dict() if adversary else None},
               Path(out_dir) / f"rank{rank}.pt")
    if world > 1:
        dist.destroy_process_group()


def run_ranks(world: int, out_dir: Path, model_cfg, loss_cfg: LossConfig, local_init: bool = False,
              nan_at: tuple[int, int] | None = None, adversarial: AdversarialConfig | None = None) -> list[dict]:
    """Train ``world`` spawned processes on the same global batches; what each saved."""
    out_dir.mkdir()
    mp.spawn(_train_rank, args=(world, model_cfg, loss_cfg, speech_batches(), str(out_dir), local_init, nan_at,
                                   adversarial),
             nprocs=world)
    return [torch.load(out_dir / f"rank{r}.pt") for r in range(world)]


def test_two_ranks_keep_identical_weights_and_codebooks_even_when_one_loss_is_nan(tmp_path):
    # the full quantizer: k-means init, dead-code restarts and quantizer dropout all draw random
    # vectors, which must come from rank 0 for the codebooks to stay the same everywhere
    model_cfg = tiny_model_config(dropout_prob=0.5)
    rank0, rank1 = run_ranks(2, tmp_path / "ddp", model_cfg, LossConfig(), nan_at=(1, 1))
    # rank 1's NaN loss in step 1 skips that update on both ranks
    assert rank0["stepped"] == rank1["stepped"] == [True, False, True, True]
    for key, value in rank0["state"].items():
        assert torch.equal(value, rank1["state"][key]), key
    torch.manual_seed(0)
    initial = TeluCodec(model_cfg).state_dict()
    for key in ("quantizer.codebooks.0.embed", "decoder.net.0.conv.bias"):   # it did train
        assert not torch.equal(rank0["state"][key], initial[key]), key


def test_two_ranks_keep_identical_generators_and_discriminators_in_adversarial_training(tmp_path):
    adversarial = AdversarialConfig(start_step=0, ffts=(128, 64), channels=4, max_items=1)
    rank0, rank1 = run_ranks(2, tmp_path / "ddp", tiny_model_config(), LossConfig(), nan_at=(0, 2),
                             adversarial=adversarial)
    assert rank0["stepped"] == rank1["stepped"] == [True, True, False, True]
    for part in ("state", "discriminator"):
        for key, value in rank0[part].items():
            assert torch.equal(value, rank1[part][key]), (part, key)
    torch.manual_seed(0)
    TeluCodec(tiny_model_config())
    fresh = Adversary(adversarial, torch.device("cpu")).discriminator.state_dict()
    assert any(not torch.equal(v, fresh[k]) for k, v in rank0["discriminator"].items())


def test_two_ranks_match_one_process_with_the_same_global_batch(tmp_path):
    # Equivalence holds where every part is a mean over equal shards: DDP averages gradients of
    # per-rank mean losses, and the EMA all-reduce sums every rank's counts and vectors. So the
    # parts that legitimately differ are left out: k-means init and dead-code restarts sample
    # from rank 0's shard only (here: init before the process group, no restarts), and spectral
    # convergence is a ratio of norms over the whole batch.
    model_cfg = tiny_model_config(dead_code_ratio=0.0)
    loss_cfg = LossConfig(stft_weight=0.0)
    (single,) = run_ranks(1, tmp_path / "one", model_cfg, loss_cfg, local_init=True)
    rank0, _ = run_ranks(2, tmp_path / "two", model_cfg, loss_cfg, local_init=True)
    assert single["stepped"] == rank0["stepped"] == [True] * STEPS
    single, rank0 = single["state"], rank0["state"]
    torch.manual_seed(0)
    initial = TeluCodec(model_cfg).state_dict()
    for key, value in single.items():
        if value.is_floating_point():
            # Only float summation order differs, but Adam can turn the rounding of a near-zero
            # gradient into a full step for a rare element (measured: weights mostly 1e-5 apart, one
            # element of 4096 3.3e-4 apart on some CPUs). So each tensor's distance between the two
            # runs is compared with how far training moved it (measured: at most 0.2% here, over 1%
            # on a loaded machine); a real mismatch (unaveraged gradients, one rank's shard) is O(1).
            moved = (value - initial[key]).norm()
            assert (rank0[key] - value).norm() <= 0.05 * moved + 1e-6, key


def _start_at(rank: int, steps: tuple[int, int], out_dir: str) -> None:
    init_group(rank, 2, out_dir)
    check_same_step(steps[rank], torch.device("cpu"))
    dist.destroy_process_group()


def test_ranks_resuming_from_different_steps_fail_together(tmp_path):
    # e.g. a node that cannot see the checkpoint folder starts at 0 while the others resume
    # (agreeing ranks pass the same check in every torchrun test below)
    with pytest.raises(mp.ProcessRaisedException, match="ranks start at different steps"):
        mp.spawn(_start_at, args=((0, 7), str(tmp_path)), nprocs=2)


def test_every_rank_gets_the_same_number_of_items():
    for n, world, skip in [(7, 2, 0), (10, 3, 0), (6, 2, 0), (1, 2, 0), (11, 4, 1)]:
        samplers = [EpochSampler(n, rank, world) for rank in range(world)]
        for sampler in samplers:
            sampler.skip = skip
        shards = [list(sampler) for sampler in samplers]
        assert [len(shard) for shard in shards] == [len(sampler) for sampler in samplers] == [n // world - skip] * world
        assert len(set().union(*shards)) == sum(map(len, shards))    # no item twice


# ----------------------------------------------------------------------------- through the CLI

def run_cli(*args, torchrun: bool = False) -> subprocess.CompletedProcess:
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"] if torchrun else []
    cmd = [sys.executable, *launcher, str(ROOT / "train_codec.py"), *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


COMMON = ["--preset", "tiny", "--batch_size", "2", "--segment_seconds", "0.25", "--learning_rate", "1e-3",
          "--num_workers", "0", "--threads", "1", "--seed", "3", "--num_epochs", "5"]


def test_torchrun_writes_one_checkpoint_from_rank_0_and_resumes_exactly(clip_dir, tmp_path):
    args = ["--data_dir", clip_dir, "--grad_accum_steps", "2", *COMMON]
    first = run_cli(*args, "--checkpoint_dir", tmp_path, "--max_steps", 2, torchrun=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("data: ") == 1 and "3 steps per epoch" in first.stdout   # 30 segments / (2 x 2 x 2)
    run = tmp_path / "telucodec"
    assert torch.load(run / "last.pt", weights_only=False)["step"] == 2
    # past the epoch end: rank 0 validates while rank 1 goes on to the next epoch's first step
    resumed = run_cli(*args, "--checkpoint_dir", tmp_path, "--max_steps", 4, torchrun=True)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.count("resuming") == 1 and resumed.stdout.count("validation (") == 1
    assert resumed.stderr.count("the config comes from the checkpoint") == 1    # rank 0 logs alone
    state = torch.load(run / "last.pt", weights_only=False)
    assert state["step"] == 4 and state["epoch"] == 1 and state["skipped_steps"] == 0
    assert state["config"]["grad_accum_steps"] == 2
    # the same 4 steps without stopping: bit-identical weights and codebooks
    straight = run_cli(*args, "--checkpoint_dir", tmp_path / "straight", "--max_steps", 4, torchrun=True)
    assert straight.returncode == 0, straight.stderr
    reference = torch.load(tmp_path / "straight" / "telucodec" / "last.pt", weights_only=False)["model"]
    for key, value in reference.items():
        assert torch.equal(value, state["model"][key]), key
    # one writer: one metrics line, one TensorBoard event file per run, no stray temporary files
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    assert len(list((run / "tb").iterdir())) == 2 and sorted(p.name for p in run.iterdir()) == [
        "best.pt", "config.json", "last.pt", "metrics.jsonl", "tb"]


def test_bf16_autocast_on_cpu_trains_with_finite_losses(clip_dir, tmp_path):
    result = run_cli("--data_dir", clip_dir, "--checkpoint_dir", tmp_path, "--precision", "bf16",
                     "--max_steps", 2, *COMMON)
    assert result.returncode == 0, result.stderr
    state = torch.load(tmp_path / "telucodec" / "last.pt", weights_only=False)
    assert state["step"] == 2 and state["skipped_steps"] == 0   # every loss and gradient norm was finite
    assert state["config"]["precision"] == "bf16"
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_torchrun_with_segments_that_do_not_split_evenly_over_ranks(tmp_path):
    # one 1.75 s clip in 0.25 s segments: 7 per epoch over 2 ranks with batch 1. Before, rank 0 took
    # a 4th step in an epoch announced as 3, and the ranks' all_reduces paired across steps
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "one.wav", voiced_clip(1.75), 16000)
    result = run_cli("--data_dir", data, "--checkpoint_dir", tmp_path, *COMMON, "--batch_size", "1",
                     "--num_epochs", "2", torchrun=True)
    assert result.returncode == 0, result.stderr
    assert "3 steps per epoch" in result.stdout
    state = torch.load(tmp_path / "telucodec" / "last.pt", weights_only=False)
    assert state["step"] == 6 and state["epoch"] == 2
