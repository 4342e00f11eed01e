"""Export a model's encoder and decoder as graphs that run without this package.

    telucodec export [--model PATH] --format onnx|torchscript -o DIR [--n_q N]

writes to DIR:
    encoder.onnx / encoder.pt   audio float32 (1, 1, samples) at the model's rate (16 kHz)
                                -> codes int64 (1, n_q, ceil(samples / hop))
    decoder.onnx / decoder.pt   codes int64 (1, k, frames), any k from 1 to the model's n_q
                                -> audio float32 (1, 1, frames * hop) in [-1, 1]
    telucodec.json              sample rate, hop, n_q, codebook size and model id (for .tlc headers)

Lengths are dynamic: the encoder takes any clip of one sample or more, the decoder any number of
frames from one (the encoder's axis is declared from one hop up, the least torch.export accepts
for every architecture; shorter clips run as well, and the tests run 1 sample). The graphs
compute what ``TeluCodec.encode`` / ``decode`` compute on the whole input at once (``Codec``
processes long inputs in chunks, equal away from chunk edges).
ONNX has no complex numbers, so every STFT / iSTFT of the model is swapped for its convolution
form (``spectral.convolutional``): the same sums, equal to float rounding.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import parametrize

from .errors import TeluCodecError
from .export_args import FORMATS
from .fileio import check_output_folder, serialized, write_files
from .model import TeluCodec
from .spectral import convolutional

OPSET = 18


# ----------------------------------------------------------------------------- the graphs

def _inference_copy(model: TeluCodec) -> TeluCodec:
    """An eval-mode CPU copy with weight norm folded into plain weights (fewer ops in the graph) and
    every STFT / iSTFT in its convolution form (ONNX has no complex numbers).

    Rebuilt rather than deep-copied: a deep copy shares the parametrized class with the
    original, and removing the parametrization from it would break the original too."""
    copied = TeluCodec(model.cfg)
    copied.load_state_dict({k: v.float().cpu() for k, v in model.state_dict().items()})
    model = convolutional(copied.eval().requires_grad_(False))
    # listed first: removing a parametrization changes the module tree being walked
    for module in [m for m in model.modules() if parametrize.is_parametrized(m)]:
        for name in list(module.parametrizations):
            parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return model


class EncoderGraph(nn.Module):
    """Audio (1, 1, samples) -> codes (1, n_q, frames): ``TeluCodec.encode``."""

    def __init__(self, model: TeluCodec, n_q: int):
        super().__init__()
        self.model, self.n_q = model, n_q

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.model.encode(audio, self.n_q)


class DecoderGraph(nn.Module):
    """Codes (1, k, frames), k <= n_q -> audio (1, 1, frames * hop): ``TeluCodec.decode``."""

    def __init__(self, model: TeluCodec):
        super().__init__()
        self.model = model

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(codes)


# ----------------------------------------------------------------------------- writing them

def _example_inputs(model: TeluCodec) -> tuple[torch.Tensor, torch.Tensor]:
    """One second of noise and matching codes: only shapes and dtypes matter to the exporters."""
    cfg = model.cfg
    audio = torch.randn(1, 1, cfg.sample_rate, generator=torch.Generator().manual_seed(0)) * 0.1
    codes = torch.zeros(1, cfg.quantizer.n_q, math.ceil(cfg.sample_rate / cfg.hop_length), dtype=torch.long)
    return audio, codes


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporters' per-pass logging and deprecation chatter (restored afterwards):
    none of it is actionable for someone exporting a model."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _onnx_bytes(graph: nn.Module, example: torch.Tensor, input_name: str, output_name: str,
                dynamic: dict) -> memoryview:
    """The ONNX file of ``graph`` (one file: weights inside, not external data)."""
    try:
        import onnxscript  # noqa: F401  (torch.onnx's exporter needs it; a clear message beats its traceback)
    except ImportError:
        raise TeluCodecError("--format onnx needs the onnx and onnxscript packages: "
                             "pip install 'telucodec[export]'") from None
    program = torch.onnx.export(graph, (example,), input_names=[input_name], output_names=[output_name],
                                dynamic_shapes={input_name: dynamic}, opset_version=OPSET, dynamo=True,
                                verbose=False)
    return serialized(lambda buffer: program.save(buffer, external_data=False))


def _torchscript_bytes(graph: nn.Module, example: torch.Tensor) -> memoryview:
    """The TorchScript file of ``graph`` traced on ``example``."""
    traced = torch.jit.trace(graph, example, check_trace=False)
    return serialized(lambda buffer: torch.jit.save(traced, buffer))


def export(model: TeluCodec, out_dir: str | Path, fmt: str = "onnx", n_q: int | None = None,
           model_id: str = "") -> list[Path]:
    """Write encoder and decoder graphs (and telucodec.json) to ``out_dir``; returns their paths.

    The three files are written together or not at all: OutputError naming the file that could
    not be written (a full disk), with none of the three left behind."""
    if fmt not in FORMATS:
        raise TeluCodecError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    cfg = model.cfg
    n_q = cfg.quantizer.n_q if n_q is None else n_q
    if not 1 <= n_q <= cfg.quantizer.n_q:
        raise TeluCodecError(f"--n_q must be between 1 and {cfg.quantizer.n_q}, got {n_q}")
    out_dir = Path(out_dir)
    check_output_folder(out_dir)
    model = _inference_copy(model)
    encoder, decoder = EncoderGraph(model, n_q).eval(), DecoderGraph(model).eval()
    audio, codes = _example_inputs(model)
    paths = [out_dir / f"encoder{FORMATS[fmt]}", out_dir / f"decoder{FORMATS[fmt]}"]
    with torch.no_grad(), _quiet_exporter():
        if fmt == "onnx":
            samples = torch.export.Dim("samples", min=cfg.hop_length, max=2**31 - 1)
            decoder_dims = {2: torch.export.Dim("frames", min=1, max=2**31 - 1)}
            if cfg.quantizer.n_q > 1:   # a dimension that can only be 1 is not dynamic
                decoder_dims[1] = torch.export.Dim("n_q", min=1, max=cfg.quantizer.n_q)
            graphs = [_onnx_bytes(encoder, audio, "audio", "codes", {2: samples}),
                      _onnx_bytes(decoder, codes, "codes", "audio", decoder_dims)]
        else:   # torch.jit is deprecated in favour of torch.export, but TorchScript still loads in libtorch
            graphs = [_torchscript_bytes(encoder, audio), _torchscript_bytes(decoder, codes)]
    info = {"format": fmt, "model_id": model_id, "sample_rate": cfg.sample_rate, "hop_length": cfg.hop_length,
            "encoder_n_q": n_q, "max_n_q": cfg.quantizer.n_q, "codebook_size": cfg.quantizer.codebook_size,
            "encoder": paths[0].name, "decoder": paths[1].name}
    paths.append(out_dir / "telucodec.json")
    write_files(dict(zip(paths, [*graphs, (json.dumps(info, indent=2) + "\n").encode()])))
    return paths


# ----------------------------------------------------------------------------- command line

def run(args: argparse.Namespace) -> None:
    """``telucodec export``."""
    from .codec import load

    codec = load(args.model)   # the output and --model were checked before torch was imported (export_args.check)
    for path in export(codec.model, args.output, args.format, args.n_q, codec.model_id):
        print(path)
