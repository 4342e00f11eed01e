"""Model shape contracts, bounded output, FP32 spectral losses, and that it can learn at all."""
import numpy as np
import pytest
import torch

from conftest import tiny_model_config, voiced_clip
from telucodec import metrics
from telucodec.config import LossConfig, ModelConfig, preset
from telucodec.losses import (CodecLoss, CompressedSpectrumLoss, MultiResolutionSTFTLoss, MultiScaleMelLoss,
                              loudness_loss)
from telucodec.model import TeluCodec


@pytest.mark.parametrize("length", [80, 1000, 16000, 16037])
def test_lengths_and_code_shapes(length):
    model = TeluCodec(tiny_model_config()).eval()
    wav = torch.randn(2, 1, length) * 0.1
    codes = model.encode(wav)
    frames = -(-length // 80)
    assert codes.shape == (2, 4, frames) and codes.dtype == torch.int64
    assert model.decode(codes).shape == (2, 1, frames * 80)
    assert model(wav).audio.shape == wav.shape


def test_seed_preset_is_the_design_notes_codec():
    cfg = preset("seed")
    assert cfg.hop_length == 80 and cfg.frame_rate == 200
    assert cfg.quantizer.n_q == 8 and cfg.quantizer.codebook_size == 1024
    assert cfg.quantizer.ema_decay == 0.99
    assert cfg.kbps() == 16.0 and cfg.kbps(3) == 6.0


def test_output_stays_in_range_for_inputs_far_outside_it():
    model = TeluCodec(tiny_model_config())
    wav = torch.randn(2, 1, 4000) * 50          # peaks far beyond [-1, 1]
    out = model(wav).audio
    assert out.abs().max() <= 1.0
    model.eval()
    assert model.decode(model.encode(wav)).abs().max() <= 1.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_spectral_losses_are_finite_for_half_precision_inputs(dtype):
    target = torch.from_numpy(voiced_clip(0.5))[None].to(dtype)
    pred = (target.float() * 0.5).to(dtype)
    quiet = torch.zeros_like(target)             # log of near-zero magnitudes must not blow up
    for loss in (MultiResolutionSTFTLoss((256, 512)), MultiScaleMelLoss((512,), 40, 16000),
                 CompressedSpectrumLoss((256, 512), 0.3)):
        for p in (pred, quiet):
            values = loss(p, target)                 # one scalar, or (complex, magnitude)
            for value in values if isinstance(values, tuple) else (values,):
                assert value.dtype == torch.float32 and torch.isfinite(value)


def test_only_the_complex_loss_sees_a_phase_error():
    t = torch.arange(8000) / 16000
    target = torch.sin(2 * torch.pi * 440 * t)[None, None] * 0.5
    shifted = torch.cos(2 * torch.pi * 440 * t)[None, None] * 0.5      # same magnitudes, phase off by 90 degrees
    ffts = (320, 640)
    def complex_loss(pred, target):
        return CompressedSpectrumLoss(ffts, 0.3)(pred, target)[0]

    assert complex_loss(target, target) == 0
    # a 90-degree phase error costs more than silence; for the magnitude loss it is almost free
    assert complex_loss(shifted, target) > complex_loss(torch.zeros_like(target), target)
    magnitude_loss = MultiResolutionSTFTLoss(ffts)
    assert magnitude_loss(shifted, target) < 0.15 * magnitude_loss(torch.zeros_like(target), target)


def test_spectral_convergence_stays_readable_on_digital_silence():
    """A batch of silent segments (a corpus that is mostly silence) once logged a step loss of 3.4e7:
    spectral convergence divided by the norm of an all-zero spectrum. Over silence it is now scored
    against a -60 dBFS noise floor; on speech it is the plain ||T - P|| / ||T||."""
    loss = MultiResolutionSTFTLoss((256, 512, 1024))
    silence = torch.zeros(4, 1, 16000)
    loud = torch.randn(4, 1, 16000, generator=torch.Generator().manual_seed(0)) * 0.3
    assert loss(silence, silence) == 0
    assert 1 < loss(loud, silence) < 1000        # still says "wrong", on a readable scale (was 4.3e7)
    speech = torch.from_numpy(voiced_clip(1.0))[None, None]
    expected = 0
    for n_fft in loss.ffts:
        p, t = loss.magnitude(n_fft, 0.8 * speech[:, 0]), loss.magnitude(n_fft, speech[:, 0])
        expected += torch.linalg.norm(t - p) / torch.linalg.norm(t) + (p.log() - t.log()).abs().mean()
    assert torch.allclose(loss(0.8 * speech, speech), expected / len(loss.ffts), rtol=1e-5)


def test_total_loss_under_cpu_autocast_is_finite_and_has_gradient():
    model = TeluCodec(tiny_model_config())
    wav = torch.from_numpy(voiced_clip(0.5))[None, None]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(wav)
    losses = CodecLoss(LossConfig(), 16000)(out.audio, wav, out.commit_loss)
    assert torch.isfinite(losses["total"])
    losses["total"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_tiny_model_overfits_one_clip_to_positive_snr():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    clip = voiced_clip(0.5)
    wav = torch.from_numpy(clip)[None, None]
    model = TeluCodec(tiny_model_config())
    loss_fn = CodecLoss(LossConfig(stft_weight=0, mel_weight=0), 16000)   # waveform L1 + MSE
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    before = metrics.snr(clip, model.eval().decode(model.encode(wav))[0, 0].numpy())
    model.train()
    for _ in range(250):
        out = model(wav)
        loss = loss_fn(out.audio, wav, out.commit_loss)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    after = metrics.snr(clip, model.decode(model.encode(wav))[0, 0].numpy())
    assert before < 1.0 and after > 8.0, (before, after)


def test_causal_model_output_does_not_depend_on_the_future():
    cfg = tiny_model_config()
    cfg.causal = True
    model = TeluCodec(cfg).eval()
    wav = torch.randn(1, 1, 3200) * 0.1
    changed = wav.clone()
    changed[..., 1600:] = torch.randn(1, 1, 1600) * 0.1
    a, b = model.decode(model.encode(wav)), model.decode(model.encode(changed))
    assert torch.equal(a[..., :1600], b[..., :1600])
    assert not torch.equal(a[..., 1600:], b[..., 1600:])


def test_causal_algorithmic_latency_is_one_hop():
    cfg = tiny_model_config()
    cfg.causal = True
    model = TeluCodec(cfg).eval()
    wav = torch.randn(1, 1, 4000) * 0.1
    for changed_from in (1000, 1040, 1119):
        other = wav.clone()
        other[..., changed_from:] += 0.5
        diff = (model.encoder(wav) - model.encoder(other)).abs().amax(dim=1)[0]
        # frame t sees samples up to (t + 1) * hop - 1: the first changed frame holds the change
        assert int((diff > 0).nonzero()[0]) == changed_from // 80
    latent = model.encoder(wav)
    bumped = latent.clone()
    bumped[..., 20:] += 1.0
    out_diff = (model.decoder(latent) - model.decoder(bumped)).abs()[0, 0]
    assert int((out_diff > 0).nonzero()[0]) == 20 * 80     # frame t only shapes samples from t * hop on


def test_band_level_loss_is_a_gain_in_nepers_and_blind_to_phase():
    noise = 0.02 * torch.randn(8000, generator=torch.Generator().manual_seed(0))   # energy in every band
    target = (torch.from_numpy(voiced_clip(0.5)) + noise)[None, None]
    loss = MultiScaleMelLoss((512, 1024), 40, 16000)
    quieter = target * 10 ** (-2 / 20)                     # 2 dB down: ln(10^(2/20)) = 0.2303 Np in every band
    assert abs(float(loss(quieter, target)[1]) - 0.2303) < 1e-3
    assert float(loss(target, target)[1]) == 0.0
    t = torch.arange(8000) / 16000
    fade = torch.hann_window(8000, periodic=False)        # no edge clicks, which differ with the phase
    sine, cosine = (f(2 * torch.pi * 440 * t)[None, None] * 0.5 * fade for f in (torch.sin, torch.cos))
    assert float(loss(cosine, sine)[1]) < 0.01             # same level, other phase


def test_loudness_loss_is_the_segments_gain_in_nepers():
    target = torch.from_numpy(np.stack([voiced_clip(0.5, seed=0), 0.1 * voiced_clip(0.5, seed=1)]))[:, None]
    gains_db = torch.tensor([-2.0, 1.0])[:, None, None]       # |ln 10^(g/20)|: 0.2303 and 0.1151 Np
    assert abs(float(loudness_loss(target * 10 ** (gains_db / 20), target)) - (0.2303 + 0.1151) / 2) < 1e-4
    assert float(loudness_loss(target, target)) == 0.0
    weighted = CodecLoss(LossConfig(loudness_weight=3.0), 16000)(0.5 * target, target, torch.zeros(()))
    assert abs(float(weighted["loudness"]) - 3.0 * 0.6931) < 1e-3     # half the amplitude: ln 2 Np
