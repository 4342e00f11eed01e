"""Shared test helpers: tiny configs and generated speech-like audio (fixed seeds)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

import telucodec
from telucodec.config import ModelConfig, dataclass_from_dict
from telucodec.model import TeluCodec

# one thread: tests stay fast and deterministic on a shared 2-core machine
torch.set_num_threads(1)


def voiced_clip(seconds: float, f0: float = 140.0, seed: int = 0, sr: int = 16000) -> np.ndarray:
    """A harmonic, amplitude-modulated tone with a little noise: speech-like enough for a codec test."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    wav = sum(np.sin(k * phase + k) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (0.25 * wav * envelope + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


def tiny_model_config(**quantizer) -> ModelConfig:
    q = {"n_q": 4, "codebook_size": 64, "kmeans_iters": 2, **quantizer}
    return dataclass_from_dict(ModelConfig, {"channels": 8, "max_channels": 32, "latent_dim": 16,
                                     "strides": [2, 4, 5, 2], "quantizer": q})


def trained_tiny(causal: bool = False) -> TeluCodec:
    """A tiny seanet model in eval mode, its codebooks initialised by k-means on a 2 s clip."""
    cfg = tiny_model_config()
    cfg.causal = causal
    model = TeluCodec(cfg)
    model(torch.from_numpy(voiced_clip(2.0))[None, None])   # k-means init of the codebooks
    return model.eval()


def tiny_complex(causal: bool = True) -> TeluCodec:
    """A tiny complex model (hop 80, n_fft 320 as the shipped ones; causal by default) in eval
    mode, its codebooks initialised by k-means on a 1 s clip."""
    cfg = dataclass_from_dict(ModelConfig, {
        "architecture": "complex", "strides": [80], "latent_dim": 16, "frame_dim": 32, "frame_blocks": 2,
        "causal": causal, "quantizer": {"n_q": 4, "codebook_size": 64, "kmeans_iters": 2}})
    torch.manual_seed(0)
    model = TeluCodec(cfg)
    model(torch.from_numpy(voiced_clip(1.0))[None, None])
    return model.eval()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """``trained_tiny()`` saved as a float32 .safetensors model file (one per test module)."""
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    torch.manual_seed(0)
    telucodec.save_pretrained(trained_tiny(), path, half=False)
    return path


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def clip_dir(tmp_path):
    """Six 1.5 s clips in assorted formats, rates and channel counts."""
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    for i in range(6):
        wav = voiced_clip(1.5, f0=110 + 15 * i, seed=i)
        if i % 3 == 0:
            sf.write(root / f"clip{i}.wav", wav, 16000)
        elif i % 3 == 1:
            sf.write(root / "sub" / f"clip{i}.flac", np.stack([wav, wav], 1), 16000)
        else:
            import soxr
            sf.write(root / f"clip{i}.ogg", soxr.resample(wav, 16000, 22050), 22050)
    return root
