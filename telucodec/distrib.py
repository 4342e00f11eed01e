"""Data-parallel plumbing in one place, shared by the quantizer, the discriminator and training
(as EnCodec's ``distrib.py`` is). Every helper is a no-op in a single process, so callers never
branch on whether torch.distributed is running.
"""
from __future__ import annotations

import os
import warnings
from contextlib import nullcontext

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .errors import TeluCodecError


def is_distributed() -> bool:
    """Whether a process group with more than one rank is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over ranks, in place; returns it."""
    if is_distributed():
        dist.all_reduce(tensor)
    return tensor


def broadcast(tensor: torch.Tensor) -> torch.Tensor:
    """Overwrite ``tensor`` with rank 0's, in place; returns it."""
    if is_distributed():
        dist.broadcast(tensor, src=0)
    return tensor


def setup_distributed(device_arg: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device) for ``--device`` auto / cpu / cuda. Under torchrun (WORLD_SIZE
    > 1) this joins the process group: NCCL on GPUs, gloo on CPU. Raises TeluCodecError when
    CUDA is asked for and absent."""
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
    would start over while the others resume, and the run would hang or diverge. Raises
    TeluCodecError on every rank when they differ."""
    if not dist.is_initialized():
        return
    bounds = torch.tensor([step, -step], device=device)
    dist.all_reduce(bounds, op=dist.ReduceOp.MAX)          # (max step, -min step)
    if int(bounds[0]) != -int(bounds[1]):
        raise TeluCodecError(f"ranks start at different steps ({-int(bounds[1])} to {int(bounds[0])}): "
                             "--checkpoint_dir must be one folder that every node sees")


def all_ranks_finite(value: torch.Tensor) -> bool:
    """Whether ``value`` is finite on every rank: one flag, min-reduced, so that all ranks
    skip a step together (a rank that skipped alone would stall or desynchronise the others)."""
    flag = torch.isfinite(value.detach()).float().reshape(1)
    if dist.is_initialized():
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def wrap_ddp(module: torch.nn.Module, find_unused_parameters: bool = False) -> DistributedDataParallel:
    """DDP without buffer broadcasts: the quantizer keeps its codebook buffers identical on all
    ranks itself (all-reduced EMA statistics, rank 0's init and restarts), so re-broadcasting
    them before every forward would only cost time. ``find_unused_parameters``: for steps that
    leave parameters out (a bypassed quantizer, stages dropped by quantizer dropout)."""
    with warnings.catch_warnings():
        # torch 2.13 deprecates broadcast_buffers for forward_sync_buffers, which older torch lacks
        warnings.filterwarnings("ignore", message=".*broadcast_buffers", category=FutureWarning)
        return DistributedDataParallel(module, broadcast_buffers=False, find_unused_parameters=find_unused_parameters)


def sync_on_last(module: torch.nn.Module, index: int, count: int):
    """Context for the backward of micro-batch ``index`` of ``count``: under DDP only the last one
    all-reduces gradients (the others accumulate locally under ``no_sync``)."""
    if index == count - 1 or not isinstance(module, DistributedDataParallel):
        return nullcontext()
    return module.no_sync()
