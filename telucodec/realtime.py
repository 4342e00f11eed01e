"""Real-time streaming, Opus-like in shape: push audio in blocks of any size and get codes as soon as
they are final; push codes and get audio as soon as it is final. One stream per object.

    codec = telucodec.load("realtime")            # a causal model
    enc, dec = codec.stream_encoder(kbps=6), codec.stream_decoder()
    for block in blocks:                          # float32 mono at 16 kHz, any length
        codes = enc.push(block)                   # int64 (n_q, frames): the frames now final, maybe none
        audio = dec.push(codes)                   # float32 (samples,): the samples now final
    audio = dec.push(enc.flush()); tail = dec.flush()

The model runs block by block under a ``streaming.StreamState`` (each causal layer's history, the
synthesis overlap-add tail), so the codes equal whole-signal ``Codec.encode`` and the audio equals
``Codec.decode`` to float rounding. Delays, at 16 kHz with hop 80 and n_fft 320: the encoder holds
back the samples of an incomplete hop (< 80); the decoder holds back the last n_fft - hop = 240
samples of what it has decoded, which the next frames still add to. The algorithmic latency, from
a sample entering to it leaving, is therefore at most n_fft = 320 samples (20 ms).
"""
from __future__ import annotations

import numpy as np
import soxr
import torch

from .audio import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, pcm_to_float
from .errors import TeluCodecError
from .quantizer import sum_of_codes
from .streaming import StreamState


def check_streamable(codec) -> None:
    """TeluCodecError unless ``codec`` (a ``codec.Codec``, which imports this module) holds a model
    that is causal and runs block by block (the causal complex architecture)."""
    cfg = codec.config
    if not (cfg.causal and cfg.architecture == "complex"):
        raise TeluCodecError(f"model {codec.model_id} is not a causal streaming model (it looks ahead): "
                             "use the realtime model (--model realtime, telucodec.load('realtime')), or "
                             "encode / decode for files")


def _block(block) -> np.ndarray:
    """A pushed block as float32 (samples,) in [-1, 1]; TeluCodecError for anything else."""
    if isinstance(block, torch.Tensor):
        block = block.detach().cpu()
        block = (block.float() if block.is_floating_point() else block).numpy()
    block = np.asarray(block)
    if block.ndim == 2 and 1 in block.shape:
        block = block.reshape(-1)
    if block.ndim != 1:
        raise TeluCodecError(f"a stream takes mono blocks of shape (samples,), got {block.shape}")
    block = pcm_to_float(block)
    if not np.isfinite(block).all():
        raise TeluCodecError("audio block contains NaN or infinite samples")
    return np.clip(block, -1.0, 1.0)


def _check_rate(sample_rate) -> int:
    """``sample_rate`` as an int of audio's range; TeluCodecError otherwise."""
    if isinstance(sample_rate, bool) or not float(sample_rate).is_integer() \
            or not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise TeluCodecError(f"sample_rate must be a whole number of Hz in {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE}, "
                             f"got {sample_rate!r}")
    return int(sample_rate)


class _Stream:
    """What both directions share: the codec, the state, and being closed by ``flush``."""

    def __init__(self, codec):
        check_streamable(codec)
        self.codec = codec
        self.state = StreamState()
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise TeluCodecError("this stream was flushed; start a new one")

    def state_bytes(self) -> int:
        """Bytes of model state the stream holds (layer histories, overlap tail)."""
        return self.state.nbytes()


class StreamEncoder(_Stream):
    """Audio blocks in, codes out. Blocks are mono, float (or integer PCM) at ``sample_rate``
    (resampled to the model's rate by soxr's stream resampler, which adds its own delay)."""

    def __init__(self, codec, n_q: int, sample_rate: int | None = None):
        super().__init__(codec)
        self.n_q = n_q
        self.sample_rate = codec.sample_rate if sample_rate is None else _check_rate(sample_rate)
        self.resampler = None if self.sample_rate == codec.sample_rate else \
            soxr.ResampleStream(self.sample_rate, codec.sample_rate, 1, dtype="float32", quality="HQ")
        self.pending = np.zeros(0, dtype=np.float32)   # samples of the hop not yet complete
        self.samples = 0                               # samples at the model's rate taken in so far
        self.frames = 0                                # frames of codes given out so far

    def __repr__(self) -> str:
        return (f"StreamEncoder(n_q={self.n_q}, samples={self.samples}, frames={self.frames}, "
                f"pending={len(self.pending)}, state={self.state_bytes()} bytes)")

    def push(self, block) -> np.ndarray:
        """Codes int64 (n_q, frames) of the hops that ``block`` (samples,) completes: possibly none."""
        self._check_open()
        block = _block(block)
        if self.resampler is not None:
            block = self.resampler.resample_chunk(block)
        return self._encode(np.concatenate([self.pending, block]))

    def flush(self) -> np.ndarray:
        """Codes of the last, incomplete hop (zero-padded, as whole-signal encoding pads it); the
        stream is closed."""
        self._check_open()
        tail = self.resampler.resample_chunk(np.zeros(0, np.float32), last=True) if self.resampler else []
        audio = np.concatenate([self.pending, tail]).astype(np.float32)
        codes = self._encode(audio, pad=True)
        self.closed = True
        return codes

    @torch.inference_mode()
    def _encode(self, audio: np.ndarray, pad: bool = False) -> np.ndarray:
        hop = self.codec.hop_length
        self.samples += len(audio) - len(self.pending)
        whole = len(audio) // hop * hop if not pad else -(-len(audio) // hop) * hop
        ready, self.pending = np.pad(audio, (0, max(0, whole - len(audio))))[:whole], audio[whole:]
        if whole == 0:
            return np.zeros((self.n_q, 0), dtype=np.int64)
        with self.state.active():
            wav = torch.from_numpy(np.ascontiguousarray(ready))[None, None].to(self.codec.device)
            codes = self.codec.model.encode(wav, self.n_q)[0].cpu().numpy()
        self.frames += codes.shape[1]
        return codes


class StreamDecoder(_Stream):
    """Codes in, audio out (float32 at the model's rate). Each push may carry any number of frames
    and any n_q from 1 to the model's (the bitrate may change from packet to packet)."""

    def __init__(self, codec):
        super().__init__(codec)
        self.preroll = codec.config.synthesis_tail   # the first frames' overlap reaches before sample 0
        # every stage's code vectors in one table, gathered once: rebuilding it costs more than a
        # 20 ms block's decoder
        self.table = codec.model.quantizer.decode_table().detach()
        self.frames = 0
        self.samples = 0

    def __repr__(self) -> str:
        return (f"StreamDecoder(frames={self.frames}, samples={self.samples}, "
                f"held={self.held_samples()}, state={self.state_bytes()} bytes)")

    def held_samples(self) -> int:
        """Samples decoded but not yet final (the overlap-add tail)."""
        return self.frames * self.codec.hop_length - self.samples

    @torch.inference_mode()
    def push(self, codes) -> np.ndarray:
        """Audio float32 (samples,) made final by ``codes`` (n_q, frames) int64: possibly none."""
        self._check_open()
        codes = self.codec._check_codes(codes)
        if codes.shape[1] == 0:
            return np.zeros(0, dtype=np.float32)
        latent = sum_of_codes(torch.from_numpy(codes)[None].to(self.table.device), self.table,
                              self.codec.config.quantizer.codebook_size)
        with self.state.active():
            audio = self.codec.model.decoder(latent)
        self.frames += codes.shape[1]
        return self._emit(audio[0, 0].float().cpu().numpy())

    @torch.inference_mode()
    def flush(self) -> np.ndarray:
        """The last n_fft - hop samples, with no more frames to add to them; the stream is closed."""
        self._check_open()
        self.closed = True
        tail = self.codec.model.decoder.istft.tail(self.state)
        if tail is None:
            return np.zeros(0, dtype=np.float32)
        return self._emit(tail[0].clamp(-1, 1).float().cpu().numpy())

    def _emit(self, audio: np.ndarray) -> np.ndarray:
        skip = min(self.preroll, len(audio))
        self.preroll -= skip
        audio = np.ascontiguousarray(audio[skip:], dtype=np.float32)
        self.samples += len(audio)
        return audio
