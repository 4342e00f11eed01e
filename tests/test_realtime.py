"""The causal complex model and the streaming API: block streaming equals whole-signal processing,
the measured latency is n_fft samples at most, and non-causal models refuse to stream."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.realtime import impulse_latency, stream
from conftest import tiny_complex, voiced_clip
from telucodec.codec import Codec
from telucodec.errors import TeluCodecError

HOP, N_FFT = 80, 320


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec(tiny_complex())


@pytest.mark.parametrize("block", [HOP, 320, 123, 1, 2000])
def test_block_streaming_equals_whole_signal(codec, block):
    wav = voiced_clip(1.5, seed=3)[: 24000 - 37]          # a final partial hop
    codes, audio = stream(codec, wav, 3, block)
    whole = codec.encode(wav, 16000, n_q=3)
    assert codes.shape == whole.shape == (3, -(-len(wav) // HOP))
    assert np.array_equal(codes, whole)
    decoded = codec.decode(whole, len(wav))
    assert audio.shape == decoded.shape
    assert np.abs(audio - decoded).max() < 1e-5


def test_decoder_takes_a_different_n_q_in_every_packet(codec):
    codes = codec.encode(voiced_clip(0.5), 16000, n_q=4)
    dec = codec.stream_decoder()
    packets = [codes[: 1 + i % 4, i * 4 : (i + 1) * 4] for i in range(codes.shape[1] // 4)]
    audio = np.concatenate([dec.push(p) for p in packets] + [dec.flush()])
    # the same frames decoded whole, each frame with its packet's quantizers (the rest zero vectors)
    expected = codec.model.quantizer.decode(torch.from_numpy(codes[:1])[None])
    for i, p in enumerate(packets):
        expected[..., i * 4 : (i + 1) * 4] = codec.model.quantizer.decode(torch.from_numpy(p)[None])
    whole = codec.model.decoder(expected)[0, 0].detach().numpy()
    assert np.abs(audio - whole).max() < 1e-5


def test_measured_latency_of_an_impulse_is_at_most_n_fft(codec):
    """Push an impulse one sample at a time; the output sample at the impulse's position (the
    codec is aligned: no delay inside the output) leaves the decoder when n_fft - k samples have
    been pushed from the impulse on, k its offset in its hop (a codec without delay: 1). The worst
    case, k = 0, is the algorithmic latency: 320 samples, 20 ms at 16 kHz."""
    delays = [impulse_latency(codec, offset) for offset in (0, 1, 40, 79)]
    assert delays == [N_FFT - offset for offset in (0, 1, 40, 79)]


def test_pushed_minus_emitted_is_n_fft_minus_hop_for_whole_hops(codec):
    enc, dec = codec.stream_encoder(n_q=4), codec.stream_decoder()
    pushed = emitted = 0
    for block in np.array_split(voiced_clip(0.5), 25):           # 20 ms blocks
        emitted += len(dec.push(enc.push(block)))
        pushed += len(block)
        assert pushed - emitted == N_FFT - HOP


def test_output_never_depends_on_input_more_than_n_fft_ahead(codec):
    wav = voiced_clip(1.0)
    changed = wav.copy()
    changed[8000:] = voiced_clip(1.0, seed=9)[8000:]
    a = codec.decode(codec.encode(wav, 16000))
    b = codec.decode(codec.encode(changed, 16000))
    first = int(np.nonzero(a != b)[0][0])
    assert 8000 - N_FFT < first <= 8000


def test_non_causal_models_refuse_to_stream():
    codec = Codec(tiny_complex(causal=False))
    for make in (codec.stream_encoder, codec.stream_decoder):
        with pytest.raises(TeluCodecError, match="not a causal streaming model"):
            make()


def test_a_flushed_stream_refuses_more_and_bad_blocks_are_refused(codec):
    enc = codec.stream_encoder(kbps=4)
    assert enc.n_q == 3                      # 64 codes: 6 bits x 200 Hz = 1.2 kbps per quantizer
    with pytest.raises(TeluCodecError, match="mono blocks"):
        enc.push(np.zeros((100, 2), np.float32))
    with pytest.raises(TeluCodecError, match="NaN"):
        enc.push(np.full(10, np.nan, np.float32))
    enc.flush()
    with pytest.raises(TeluCodecError, match="flushed"):
        enc.push(np.zeros(80, np.float32))


def test_streams_of_other_rates_are_resampled(codec):
    wav48 = np.repeat(voiced_clip(1.0), 3)          # 1 s at 48 kHz
    enc = codec.stream_encoder(n_q=2, sample_rate=48000)
    frames = sum(enc.push(wav48[i : i + 960]).shape[1] for i in range(0, len(wav48), 960))
    frames += enc.flush().shape[1]
    assert frames == 16000 // HOP


def test_bad_rates_tensors_and_codes_are_refused_in_one_line(codec):
    for rate in (0, -1, 44100.5, True):
        with pytest.raises(TeluCodecError, match="sample_rate must be"):
            codec.stream_encoder(n_q=2, sample_rate=rate)
    with pytest.raises(TeluCodecError, match="positive number"):
        codec.stream_encoder(kbps=float("nan"))
    enc = codec.stream_encoder(n_q=2)
    assert enc.push(torch.zeros(160, dtype=torch.bfloat16)).shape == (2, 2)
    for decode in (codec.stream_decoder().push, codec.decode):
        with pytest.raises(TeluCodecError, match="codes must be integers"):
            decode(np.full((2, 4), 1.5))
