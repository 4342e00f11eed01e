"""``telucodec export``: ONNX graphs that onnxruntime runs like PyTorch, TorchScript, and the
complex-free STFT / iSTFT (spectral.py) the STFT architectures' graphs use."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import telucodec
from conftest import tiny_model_config, voiced_clip
from telucodec.codec import save_pretrained
from telucodec.config import ModelConfig, dataclass_from_dict
from telucodec.model import TeluCodec
from telucodec.spectral import ConvISTFT, ConvSTFT

ROOT = Path(__file__).resolve().parents[1]
# 1 s, a length that is not a whole number of frames, and clips of 1 to 320 samples (the frame
# encoder's reflect padding needs more than 2 hops: shorter clips are zero-padded inside the model)
CLIPS = [voiced_clip(1.0, seed=5), voiced_clip(0.77, f0=190, seed=6),
         *[voiced_clip(n / 16000, seed=7) for n in (1, 100, 160, 320)]]
# Tolerances. Codes: a nearest-code search can flip on a float near-tie, and a flip in the first
# quantizer changes that frame's later stages too (measured: 100% equal on these clips, 99.8% on
# a 2.5 s one). Audio from the same codes: measured 1.8e-7 (seanet, peak 0.26) and 5e-8 (frame, peak 0.05).
MIN_CODES_EQUAL = 0.99
AUDIO_ATOL = 1e-5


def tiny_spectral_config(architecture: str) -> ModelConfig:
    """A tiny ``frame`` model (EMA codebooks), a tiny ``complex`` one (factorised codes, a stride-2
    latent), or a tiny ``causal-complex`` one (EMA codebooks, the real-time model's design)."""
    quantizer = {"n_q": 4, "codebook_size": 64, "kmeans_iters": 2}
    strides, causal = [80], architecture == "causal-complex"
    architecture = "complex" if causal else architecture
    if architecture == "complex" and not causal:
        quantizer["kind"], strides = "factorized", [80, 2]
    return dataclass_from_dict(ModelConfig, {"architecture": architecture, "strides": strides, "latent_dim": 16,
                                             "frame_dim": 32, "frame_blocks": 2, "causal": causal,
                                             "quantizer": quantizer})


@pytest.fixture(scope="module", params=["seanet", "frame", "complex", "causal-complex"])
def model_file(request, tmp_path_factory) -> Path:
    """A tiny model of each architecture, codebooks initialised by one training forward."""
    torch.manual_seed(0)
    model = TeluCodec(tiny_model_config() if request.param == "seanet" else tiny_spectral_config(request.param))
    model(torch.from_numpy(np.stack([voiced_clip(0.5, seed=i) for i in range(4)]))[:, None])
    path = tmp_path_factory.mktemp(request.param) / "model.safetensors"
    save_pretrained(model, path, half=False)
    return path


def run_export(*args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "telucodec.cli", "export", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


def check_graphs(model: TeluCodec, encode, decode, n_q: int) -> None:
    """``encode``/``decode`` (numpy in, numpy out) against the PyTorch model on every clip."""
    for clip in CLIPS:
        wav = torch.from_numpy(clip)[None, None]
        codes = encode(clip[None, None])
        reference = model.encode(wav, n_q).numpy()
        assert codes.shape == reference.shape == (1, n_q, -(-len(clip) // model.cfg.hop_length))
        assert (codes == reference).mean() >= MIN_CODES_EQUAL
        for k in (model.cfg.quantizer.n_q, 2):        # the decoder takes any number of quantizers
            all_codes = model.encode(wav)[:, :k]
            audio = decode(all_codes.numpy())
            assert audio.shape == (1, 1, all_codes.shape[-1] * model.cfg.hop_length)
            np.testing.assert_allclose(audio, model.decode(all_codes).numpy(), rtol=0, atol=AUDIO_ATOL)


def test_onnx_graphs_match_pytorch_in_onnxruntime(model_file, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    result = run_export("--model", model_file, "--format", "onnx", "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    model = telucodec.load(model_file).model
    info = json.loads((tmp_path / "telucodec.json").read_text())
    assert info["encoder_n_q"] == info["max_n_q"] == 4 and info["hop_length"] == model.cfg.hop_length
    assert info["model_id"] == telucodec.load(model_file).model_id
    encoder = ort.InferenceSession(str(tmp_path / "encoder.onnx"), providers=["CPUExecutionProvider"])
    decoder = ort.InferenceSession(str(tmp_path / "decoder.onnx"), providers=["CPUExecutionProvider"])
    check_graphs(model, lambda audio: encoder.run(None, {"audio": audio})[0],
                 lambda codes: decoder.run(None, {"codes": codes})[0], n_q=4)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # torch.jit.load: deprecated, still the libtorch format
def test_torchscript_graphs_match_pytorch_and_n_q_limits_the_encoder(model_file, tmp_path):
    result = run_export("--model", model_file, "--format", "torchscript", "--n_q", 2, "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    encoder, decoder = torch.jit.load(tmp_path / "encoder.pt"), torch.jit.load(tmp_path / "decoder.pt")
    check_graphs(telucodec.load(model_file).model, lambda audio: encoder(torch.from_numpy(audio)).numpy(),
                 lambda codes: decoder(torch.from_numpy(codes)).numpy(), n_q=2)
    # existing graphs are kept unless --force
    again = run_export("--model", model_file, "--format", "torchscript", "-o", tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr


def test_bad_n_q_is_a_one_line_error(tmp_path):
    torch.manual_seed(0)
    save_pretrained(TeluCodec(tiny_model_config()), tmp_path / "m.safetensors")
    result = run_export("--model", tmp_path / "m.safetensors", "--n_q", 9, "-o", tmp_path / "out")
    assert result.returncode == 2 and result.stderr.strip() == "telucodec: error: --n_q must be between 1 and 4, got 9"


@pytest.mark.parametrize("hop", [80, 160])
def test_convolutional_stft_and_istft_match_torch(hop):
    n_fft = 4 * hop
    window = torch.hann_window(n_fft)
    wav = torch.from_numpy(np.stack([voiced_clip(0.5, seed=1), voiced_clip(0.5, seed=2)]))
    spec = torch.stft(wav, n_fft, hop, window=window, return_complex=True)
    real, imag = ConvSTFT(n_fft, hop, pad_mode="reflect").real_imag(wav)
    # magnitudes reach ~30 here; measured differences ~1e-5 (float32 DFT sums vs FFT)
    torch.testing.assert_close(real, spec.real, rtol=0, atol=1e-4)
    torch.testing.assert_close(imag, spec.imag, rtol=0, atol=1e-4)
    # random spectra (DC and Nyquist imaginary parts too, which the inverse ignores)
    random = torch.randn(2, n_fft // 2 + 1, 50, dtype=torch.complex64)
    expected = torch.istft(random, n_fft, hop, window=window, length=50 * hop)
    torch.testing.assert_close(ConvISTFT(n_fft, hop).from_real_imag(random.real, random.imag, 50 * hop), expected,
                               rtol=0, atol=1e-6)
