"""Export a model's encoder and decoder as graphs that run without this package.

    telucodec export [--model PATH] --format onnx|torchscript -o DIR [--n_q N]

writes to DIR:
    encoder.onnx / encoder.pt   audio float32 (1, 1, samples) at the model's rate (16 kHz)
                                -> codes int64 (1, n_q, ceil(samples / hop))
    decoder.onnx / decoder.pt   codes int64 (1, k, frames), any k from 1 to the model's n_q
                                -> audio float32 (1, 1, frames * hop) in [-1, 1]
    telucodec.json              sample rate, hop, n_q, codebook size and model id (for .tlc headers)

Lengths are dynamic. The graphs compute what ``TeluCodec.encode`` / ``decode`` compute on the
whole input at once (``Codec`` processes long inputs in chunks, equal away from chunk edges).
ONNX has no complex numbers, so for the ``frame`` architecture the STFT becomes a strided
convolution with a windowed DFT basis and the iSTFT a transposed convolution with the inverse
basis divided by the overlap-added window envelope: the same sums as ``torch.stft`` /
``torch.istft``, equal to float rounding.
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
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from .errors import TeluCodecError
from .model import TeluCodec

FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
OPSET = 18


# ----------------------------------------------------------------------------- STFT without complex numbers

class ConvSTFT(nn.Module):
    """``torch.stft(x, n_fft, hop, window, center=True, pad_mode="reflect", return_complex=True)``
    as (real, imag), each (B, n_fft // 2 + 1, 1 + L // hop), from (B, L) audio."""

    def __init__(self, n_fft: int, hop: int, window: torch.Tensor):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        bins = n_fft // 2 + 1
        angle = 2 * math.pi * torch.outer(torch.arange(bins), torch.arange(n_fft)).double() / n_fft
        basis = torch.cat([angle.cos(), -angle.sin()]) * window.double()
        self.register_buffer("basis", basis.float()[:, None], persistent=False)   # (2 bins, 1, n_fft)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        padded = F.pad(x[:, None], (self.n_fft // 2, self.n_fft // 2), mode="reflect")
        return F.conv1d(padded, self.basis, stride=self.hop).chunk(2, dim=1)


class ConvISTFT(nn.Module):
    """``torch.istft(complex(real, imag), n_fft, hop, window, center=True, length=frames * hop)``
    from (B, n_fft // 2 + 1, frames) real and imaginary parts; (B, frames * hop) audio."""

    def __init__(self, n_fft: int, hop: int, window: torch.Tensor):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        bins = n_fft // 2 + 1
        angle = 2 * math.pi * torch.outer(torch.arange(bins), torch.arange(n_fft)).double() / n_fft
        # inverse real DFT: bins other than DC and Nyquist stand for their mirror image too
        weight = torch.full((bins, 1), 2.0, dtype=torch.float64)
        weight[0] = weight[-1] = 1.0
        basis = torch.cat([angle.cos(), -angle.sin()]) * torch.cat([weight, weight]) / n_fft * window.double()
        self.register_buffer("basis", basis.float()[:, None], persistent=False)   # (2 bins, 1, n_fft)
        self.register_buffer("window_sq", window.pow(2)[None, None], persistent=False)

    def forward(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        frames = real.shape[-1]
        summed = F.conv_transpose1d(torch.cat([real, imag], dim=1), self.basis, stride=self.hop)
        envelope = F.conv_transpose1d(torch.ones_like(real[:, :1]), self.window_sq, stride=self.hop)
        start = self.n_fft // 2                      # center=True: the first frame is centred on sample 0
        return (summed / envelope)[:, 0, start : start + frames * self.hop]


# ----------------------------------------------------------------------------- the graphs

def _inference_copy(model: TeluCodec) -> TeluCodec:
    """An eval-mode CPU copy with weight norm folded into plain weights (fewer ops in the graph).

    Rebuilt rather than deep-copied: a deep copy shares the parametrized class with the
    original, and removing the parametrization from it would break the original too."""
    copied = TeluCodec(model.cfg)
    copied.load_state_dict({k: v.float().cpu() for k, v in model.state_dict().items()})
    model = copied.eval().requires_grad_(False)
    # listed first: removing a parametrization changes the module tree being walked
    for module in [m for m in model.modules() if parametrize.is_parametrized(m)]:
        for name in list(module.parametrizations):
            parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return model


class EncoderGraph(nn.Module):
    """Audio (1, 1, samples) -> codes (1, n_q, frames): ``TeluCodec.encode``."""

    def __init__(self, model: TeluCodec, n_q: int):
        super().__init__()
        self.encoder, self.quantizer, self.n_q = model.encoder, model.quantizer, n_q
        self.hop = model.cfg.hop_length
        self.frame = model.cfg.architecture == "frame"
        if self.frame:
            self.stft = ConvSTFT(self.encoder.n_fft, self.hop, self.encoder.window)

    def _frame_latent(self, wav: torch.Tensor) -> torch.Tensor:
        """FrameEncoder.forward with the convolutional STFT."""
        real, imag = self.stft(wav[:, 0])
        frames = wav.shape[-1] // self.hop
        real, imag = real[..., :frames], imag[..., :frames]
        magnitude = (real.pow(2) + imag.pow(2)).sqrt().clamp(min=1e-5)
        return self.encoder.net(torch.cat([magnitude.log(), real / magnitude, imag / magnitude], dim=1))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        wav = F.pad(audio.clamp(-1, 1), (0, (-audio.shape[-1]) % self.hop))
        latent = self._frame_latent(wav) if self.frame else self.encoder(wav)
        return self.quantizer.encode(latent, self.n_q)


class DecoderGraph(nn.Module):
    """Codes (1, k, frames), k <= n_q -> audio (1, 1, frames * hop): ``TeluCodec.decode``."""

    def __init__(self, model: TeluCodec):
        super().__init__()
        self.decoder = model.decoder
        codebooks = model.quantizer.codebooks
        size = model.cfg.quantizer.codebook_size
        # all codebooks in one table, so any number of quantizers is one gather and a sum
        self.register_buffer("table", torch.cat([cb.embed for cb in codebooks]), persistent=False)
        self.register_buffer("offsets", torch.arange(len(codebooks))[:, None] * size, persistent=False)
        self.frame = model.cfg.architecture == "frame"
        if self.frame:
            self.istft = ConvISTFT(self.decoder.n_fft, self.decoder.hop, self.decoder.window)

    def _frame_audio(self, latent: torch.Tensor) -> torch.Tensor:
        """FrameDecoder.forward with the convolutional iSTFT."""
        log_magnitude, phase = self.decoder.net(latent).split(self.decoder.bins, dim=1)
        magnitude = log_magnitude.clamp(max=6.0).exp()
        return torch.tanh(self.istft(magnitude * phase.cos(), magnitude * phase.sin()))[:, None]

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        vectors = F.embedding(codes + self.offsets[: codes.shape[1]], self.table)   # (1, k, frames, dim)
        latent = vectors.sum(dim=1).transpose(1, 2)
        return self._frame_audio(latent) if self.frame else self.decoder(latent)


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


def _export_onnx(graph: nn.Module, example: torch.Tensor, path: Path, input_name: str, output_name: str,
                 dynamic: dict) -> None:
    try:
        import onnxscript  # noqa: F401  (torch.onnx's exporter needs it; a clear message beats its traceback)
    except ImportError:
        raise TeluCodecError("--format onnx needs the onnx and onnxscript packages: "
                             "pip install 'telucodec[export]'") from None
    program = torch.onnx.export(graph, (example,), input_names=[input_name], output_names=[output_name],
                                dynamic_shapes={input_name: dynamic}, opset_version=OPSET, dynamo=True,
                                verbose=False)
    program.save(str(path))


def export(model: TeluCodec, out_dir: str | Path, fmt: str = "onnx", n_q: int | None = None,
           model_id: str = "") -> list[Path]:
    """Write encoder and decoder graphs (and telucodec.json) to ``out_dir``; returns their paths."""
    if fmt not in FORMATS:
        raise TeluCodecError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    cfg = model.cfg
    n_q = cfg.quantizer.n_q if n_q is None else n_q
    if not 1 <= n_q <= cfg.quantizer.n_q:
        raise TeluCodecError(f"--n_q must be between 1 and {cfg.quantizer.n_q}, got {n_q}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = _inference_copy(model)
    encoder, decoder = EncoderGraph(model, n_q).eval(), DecoderGraph(model).eval()
    audio, codes = _example_inputs(model)
    paths = [out_dir / f"encoder{FORMATS[fmt]}", out_dir / f"decoder{FORMATS[fmt]}"]
    with torch.no_grad(), _quiet_exporter():
        if fmt == "onnx":
            samples = torch.export.Dim("samples", min=2 * cfg.hop_length, max=2**31 - 1)
            decoder_dims = {2: torch.export.Dim("frames", min=2, max=2**31 - 1)}
            if cfg.quantizer.n_q > 1:   # a dimension that can only be 1 is not dynamic
                decoder_dims[1] = torch.export.Dim("n_q", min=1, max=cfg.quantizer.n_q)
            _export_onnx(encoder, audio, paths[0], "audio", "codes", {2: samples})
            _export_onnx(decoder, codes, paths[1], "codes", "audio", decoder_dims)
        else:   # torch.jit is deprecated in favour of torch.export, but TorchScript still loads in libtorch
            torch.jit.trace(encoder, audio, check_trace=False).save(str(paths[0]))
            torch.jit.trace(decoder, codes, check_trace=False).save(str(paths[1]))
    info = {"format": fmt, "model_id": model_id, "sample_rate": cfg.sample_rate, "hop_length": cfg.hop_length,
            "encoder_n_q": n_q, "max_n_q": cfg.quantizer.n_q, "codebook_size": cfg.quantizer.codebook_size,
            "encoder": paths[0].name, "decoder": paths[1].name}
    paths.append(out_dir / "telucodec.json")
    paths[-1].write_text(json.dumps(info, indent=2) + "\n")
    return paths


# ----------------------------------------------------------------------------- command line

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path,
                        help="checkpoint, training folder or .safetensors (default: shipped model)")
    parser.add_argument("--format", default="onnx", choices=sorted(FORMATS), help="graph format (default: onnx)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for the graphs")
    parser.add_argument("--n_q", type=int, help="quantizers the encoder emits (default: all)")
    parser.add_argument("--force", action="store_true", help="overwrite existing graphs")


def run(args: argparse.Namespace) -> None:
    """``telucodec export``."""
    from .codec import load

    existing = [args.output / f"{name}{FORMATS[args.format]}" for name in ("encoder", "decoder")]
    if not args.force and any(p.exists() for p in existing):
        raise TeluCodecError(f"{args.output}: already holds exported graphs; pass --force to overwrite them")
    codec = load(args.model)
    for path in export(codec.model, args.output, args.format, args.n_q, codec.model_id):
        print(path)
