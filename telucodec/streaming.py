"""Causal layers that can also run block by block, and the state that carries them across blocks.

A causal layer's output at frame t depends on input frames up to t only, so it can run on a
signal cut into consecutive blocks, provided each block sees the end of the previous one instead
of the zeros that pad the start of a whole signal. ``StreamState`` holds those ends, one tensor
per layer; inside ``with state.active():`` every causal layer takes its history from the state
and leaves its own end there, and outside it the layers pad with zeros. So one forward serves
whole-signal training and block-by-block streaming, and the two agree to float rounding.
The state lives in a context variable, not in the modules, so one model serves any number of
streams (one ``StreamState`` each), from any number of threads. The same idea as the streaming
modules of EnCodec (``modules/conv.py``, ``StreamableConv1d``) and Moshi
(github.com/kyutai-labs/moshi, ``modules/streaming.py``), written as one small mechanism.
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

_ACTIVE: contextvars.ContextVar[StreamState | None] = contextvars.ContextVar("telucodec_stream", default=None)


class StreamState:
    """The per-layer tensors one stream carries between blocks (empty at the stream's start)."""

    def __init__(self) -> None:
        self.tensors: dict[int, torch.Tensor] = {}

    @contextlib.contextmanager
    def active(self) -> Iterator[StreamState]:
        """Within this block, causal layers read and write this state."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def nbytes(self) -> int:
        """Bytes of tensors held."""
        return sum(t.numel() * t.element_size() for t in self.tensors.values())


def active_state() -> StreamState | None:
    """The stream whose block is being processed, or None for whole-signal processing."""
    return _ACTIVE.get()


def with_history(layer: nn.Module, x: torch.Tensor, size: int) -> torch.Tensor:
    """``x`` (B, C, T) with ``size`` frames of history in front: zeros for a whole signal (or a
    stream's first block), else the last ``size`` frames ``layer`` saw in the previous block."""
    state = active_state()
    if state is None or size == 0:
        return F.pad(x, (size, 0))
    history = state.tensors.get(id(layer))
    if history is None:
        history = x.new_zeros(*x.shape[:-1], size)
    full = torch.cat([history, x], dim=-1)
    state.tensors[id(layer)] = full[..., full.shape[-1] - size:]
    return full


class CausalConv1d(nn.Conv1d):
    """``nn.Conv1d`` (stride 1, no dilation; depthwise or dense) whose output at frame t sees input
    frames t - kernel + 1 .. t: left-padded with kernel - 1 zeros, or, while streaming, with the
    previous block's last frames. Input and output (B, C, T); the same parameters (names and
    shapes) as the centred conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, groups: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = with_history(self, x, self.kernel_size[0] - 1)
        if active_state() is None:
            return super().forward(x)
        # a stream's few frames: the same sums over sliding windows, in another order, by one
        # element-wise product (depthwise) or one matrix product; a conv1d call's fixed cost is
        # several times theirs at these sizes
        windows = x.unfold(-1, self.kernel_size[0], 1)                  # (B, C_in, T, kernel)
        if self.groups == self.in_channels == self.out_channels:
            return (windows * self.weight[:, 0, None]).sum(-1) + self.bias[:, None]
        flat = windows.transpose(1, 2).flatten(2)                       # (B, T, C_in x kernel)
        return F.linear(flat, self.weight.flatten(1), self.bias).transpose(1, 2)


class PointwiseConv1d(nn.Conv1d):
    """A kernel-1 ``nn.Conv1d`` (same parameters) computed as one matrix product over channels:
    (B, C_in, T) -> (B, C_out, T). On a stream's few frames a conv1d call costs several times more."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.transpose(1, 2), self.weight[:, :, 0], self.bias).transpose(1, 2)
