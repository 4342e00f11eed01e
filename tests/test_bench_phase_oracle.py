"""bench/phase_oracle.py: the magnitude/phase swap gives back what each side got right."""
import numpy as np
import torch

from bench import phase_oracle
from bench.common import speech_like
from telucodec.metrics import snr


def test_swap_takes_magnitude_from_one_side_and_phase_from_the_other():
    ref = speech_like(1.0)
    quieter = phase_oracle.swap(ref, 0.5 * ref, hop=160)       # right phase, wrong magnitude
    assert snr(ref, quieter["true magnitude + model phase"]) > 40
    assert np.allclose(quieter["model magnitude + true phase"], 0.5 * ref, atol=1e-4)
    inverted = phase_oracle.swap(ref, -ref, hop=160)            # right magnitude, phase off by pi
    assert snr(ref, inverted["model magnitude + true phase"]) > 40
    assert snr(ref, inverted["true magnitude + model phase"]) < -5


def test_unquantized_decodes_the_continuous_latent_without_the_quantizer(monkeypatch):
    from telucodec.config import preset
    from telucodec.model import TeluCodec

    torch.manual_seed(0)
    model = TeluCodec(preset("tiny")).eval()
    ref = speech_like(0.5)[:7777]                  # not a whole number of hops
    expected = model.decoder(model.encoder(torch.nn.functional.pad(
        torch.from_numpy(ref)[None, None], (0, -len(ref) % model.cfg.hop_length))))[0, 0, :len(ref)]

    def no_quantizer(*args, **kwargs):
        raise AssertionError("the quantizer was used")

    monkeypatch.setattr(model.quantizer, "forward", no_quantizer)
    monkeypatch.setattr(model.quantizer, "encode", no_quantizer)
    out = phase_oracle.unquantized(model, ref)
    assert out.shape == ref.shape
    assert np.allclose(out, expected.detach().numpy(), atol=1e-6)
