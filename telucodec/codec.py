"""The user-facing codec: load a trained model, turn audio into codes, bytes and back.

    import telucodec
    codec = telucodec.load()                      # the shipped default model (or a path)
    codes = codec.encode(wav, 16000, kbps=6)      # int64 (n_q, frames): 3 quantizers (or n_q=3)
    audio = codec.decode(codes)                   # float32 (samples,)
    audio = codec.decode(codes, len(codec.prepare(wav, rate)))   # trimmed to the input's 16 kHz length
    data = codec.compress(wav, 16000, kbps=6)     # .tlc bytes; codec.decompress(data) -> audio

A model file may carry an entropy model (``entropy.EntropyModel``, fitted by ``telucodec
fit-entropy``); ``compress`` then writes entropy-coded streams (format version 2).

Long inputs are processed in chunks with context on both sides (left only for causal models);
the output matches whole-input processing away from chunk edges. ``encode_stream`` and
``decode_stream`` take and give audio in blocks, so a long file's audio is never held whole
(the codes are: n_q x frames int64). Clips of any length from one sample are coded.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from .audio import pcm_to_float, to_mono_16k
from .bitstream import CodecHeader, decode_bytes, encode_bytes
from .checkpoint import model_from_checkpoint
from .config import ModelConfig, QuantizerConfig, TrainConfig, dataclass_from_dict
from .entropy import PREFIX as ENTROPY_PREFIX
from .entropy import EntropyModel
from .errors import TeluCodecError
from .model import TeluCodec, load_weights
from .modelfile import DEFAULT_MODEL, model_file
from .realtime import StreamDecoder, StreamEncoder


# Model config fields added after the first model ids were issued, with the value every earlier
# model had: the id hashes such a field only where a model's value differs, so earlier models
# (and the .tlc files made with them) keep their ids.
_LATER_MODEL_FIELDS = {"spectral_power": 0.3, "codes_of": ""}
_LATER_QUANTIZER_FIELDS = {"kind": "ema", "code_dim": 8, "commitment": 0.25}


def _id_config(cfg: ModelConfig) -> dict:
    """The model config as the id hashes it: as it was written before the later fields existed."""
    data = TrainConfig(model=cfg).to_dict()["model"]
    quantizer = data["quantizer"]
    for section, later in ((data, _LATER_MODEL_FIELDS), (quantizer, _LATER_QUANTIZER_FIELDS)):
        for key, old_value in later.items():
            if section[key] == old_value:
                del section[key]
    # dead_code_ratio replaced a fixed dead_code_threshold: 2.0 in every earlier model (0 = off)
    legacy_threshold = {QuantizerConfig().dead_code_ratio: 2.0, 0.0: 0.0}.get(quantizer["dead_code_ratio"])
    if legacy_threshold is not None:
        del quantizer["dead_code_ratio"]
        quantizer["dead_code_threshold"] = legacy_threshold
    return data


def model_id(model: TeluCodec) -> str:
    """16 hex chars: a hash of the model config and every weight and codebook value."""
    digest = hashlib.sha256(json.dumps(_id_config(model.cfg), sort_keys=True).encode())
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class Codec:
    """A trained TeluCodec ready for inference (eval mode, no gradients), with the entropy model
    of its codes when it has one (None: streams are written bit-packed, format version 1)."""

    def __init__(self, model: TeluCodec, chunk_seconds: float = 10.0, context_seconds: float = 1.0,
                 entropy: EntropyModel | None = None):
        self.model = model.eval()
        self.config: ModelConfig = model.cfg
        self.model_id = model_id(model)
        # the code space its files carry: its own, or that of the model it was decoder-fine-tuned from
        self.codes_id = self.config.codes_of or self.model_id
        if entropy is not None and (entropy.codebook_size != self.config.quantizer.codebook_size
                                    or entropy.n_q > self.config.quantizer.n_q):
            raise TeluCodecError(f"the entropy model ({entropy.n_q} quantizers of {entropy.codebook_size} codes) "
                                 f"does not fit this model's codebooks")
        self.entropy = entropy
        self.chunk_frames = max(1, round(chunk_seconds * self.config.frame_rate))
        self.context_frames = math.ceil(context_seconds * self.config.frame_rate)

    # ------------------------------------------------------------------ properties
    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    @property
    def max_n_q(self) -> int:
        return self.config.quantizer.n_q

    @property
    def codebook_bits(self) -> int:
        return (self.config.quantizer.codebook_size - 1).bit_length()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> "Codec":
        self.model.to(device)
        return self

    def bitrates(self) -> list[tuple[int, float]]:
        """(n_q, nominal kbps) for every number of quantizers the model offers."""
        return [(n, self.config.kbps(n)) for n in range(1, self.max_n_q + 1)]

    def n_q_for_kbps(self, kbps: float) -> int:
        """The most quantizers whose nominal rate does not exceed ``kbps`` (all of them above the
        highest rate). Raises TeluCodecError below the lowest rate (one quantizer's): no rate
        ever exceeds the one asked for."""
        lowest = self.config.kbps(1)
        if not math.isfinite(kbps) or kbps <= 0:
            raise TeluCodecError(f"--kbps must be a positive number, got {kbps:g}")
        if kbps < lowest - 1e-9:
            raise TeluCodecError(f"--kbps {kbps:g} is below this model's lowest rate, {lowest:g} kbps (n_q=1)")
        return int(min(self.max_n_q, math.floor(kbps / lowest + 1e-9)))

    def kbps_note(self, kbps: float | None) -> str | None:
        """What the user should know of the rate ``n_q_for_kbps(kbps)`` gives, when it is not ``kbps``:
        the highest rate was used, or ``kbps`` is not a multiple of one quantizer's rate (None for
        an exact rate, or no ``kbps``)."""
        if kbps is None:
            return None
        n_q = self.n_q_for_kbps(kbps)
        used = f"using n_q={n_q} ({self.config.kbps(n_q):g} kbps)"
        if kbps > self.config.kbps(self.max_n_q) + 1e-9:
            return f"--kbps {kbps:g} is above this model's highest rate; {used}"
        if abs(self.config.kbps(n_q) - kbps) > 1e-9:
            return f"--kbps {kbps:g} is not a multiple of {self.config.kbps(1):g} kbps; {used}"
        return None

    def resolve_n_q(self, n_q: int | None = None, kbps: float | None = None) -> int:
        """The quantizer count asked for by ``n_q`` or ``kbps`` (``n_q_for_kbps``; all quantizers
        when neither is given). Raises TeluCodecError when both are given, or for a bad value."""
        if n_q is not None and kbps is not None:
            raise TeluCodecError(f"give n_q or kbps, not both (n_q={n_q}, kbps={kbps:g})")
        return self.n_q_for_kbps(kbps) if kbps is not None else self.check_n_q(n_q)

    def check_n_q(self, n_q: int | None) -> int:
        n_q = self.max_n_q if n_q is None else int(n_q)
        if not 1 <= n_q <= self.max_n_q:
            raise TeluCodecError(f"n_q must be between 1 and {self.max_n_q}, got {n_q}")
        return n_q

    # ------------------------------------------------------------------ audio in
    def prepare(self, wav, sample_rate: int) -> np.ndarray:
        """The audio as the model takes it: float32 (samples,), mono, at ``self.sample_rate``, in [-1, 1].

        ``wav`` is a numpy array or torch tensor: (samples,) mono, or 2-D with the channels on the
        shorter axis, (samples, channels) as soundfile returns or (channels, samples) as torchaudio
        does; float in [-1, 1] (louder samples are clipped), or integer PCM, scaled as soundfile
        scales it (``audio.pcm_to_float``: int16 / 32768, ...). ``len(prepare(wav, rate))`` is the
        length that ``decode(codes, num_samples)`` and ``header(n_q, num_samples)`` take.
        Raises TeluCodecError for an empty or non-finite array, a 2-D array whose samples and
        channels cannot be told apart (both axes the same length, or both 8 or shorter), or a dtype
        that is not audio.
        """
        if isinstance(wav, torch.Tensor):
            wav = wav.detach().cpu()
            wav = (wav.float() if wav.is_floating_point() else wav).numpy()
        wav = np.asarray(wav)
        if wav.ndim not in (1, 2) or wav.size == 0:
            raise TeluCodecError(f"expected audio of shape (samples,) or (samples, channels), got {wav.shape}")
        if wav.ndim == 2 and 1 not in wav.shape:
            if wav.shape[0] == wav.shape[1] or max(wav.shape) <= 8:
                raise TeluCodecError(f"audio of shape {wav.shape}: cannot tell samples from channels; "
                                     "pass (samples,) mono or (samples, channels) with more samples than channels")
            if wav.shape[0] < wav.shape[1]:
                wav = wav.T                           # (channels, samples) -> (samples, channels)
        elif wav.ndim == 2:
            wav = wav.reshape(-1)                     # one channel, on either axis
        wav = pcm_to_float(wav)
        if not np.isfinite(wav).all():
            raise TeluCodecError("audio contains NaN or infinite samples")
        return to_mono_16k(wav, sample_rate, self.sample_rate)

    # ------------------------------------------------------------------ codes
    def _windows(self, frames: int):
        """(start, stop, lo, hi): emit frames [start, stop) computed from context window [lo, hi)."""
        right = 0 if self.config.causal else self.context_frames
        for start in range(0, frames, self.chunk_frames):
            stop = min(frames, start + self.chunk_frames)
            yield start, stop, max(0, start - self.context_frames), min(frames, stop + right)

    def encode(self, wav, sample_rate: int, n_q: int | None = None, kbps: float | None = None) -> np.ndarray:
        """Codes, int64 of shape (n_q, ceil(samples / hop)), for audio of any length from one sample,
        mono or multichannel, at any rate (``prepare`` says what it accepts; ``samples`` is
        ``len(prepare(wav, sample_rate))``). ``n_q`` quantizers, or as many as ``kbps`` allows
        (``n_q_for_kbps``, as the CLI's --kbps), or all. Raises TeluCodecError for bad audio, n_q or kbps."""
        return self._encode(self.prepare(wav, sample_rate)[None], self.resolve_n_q(n_q, kbps))[0]

    def encode_stream(self, blocks: Iterable[np.ndarray], n_q: int | None = None,
                      kbps: float | None = None) -> tuple[np.ndarray, int]:
        """(codes (n_q, frames) int64, samples) for prepared audio (mono float32 at ``sample_rate``,
        e.g. ``audio.read_audio_blocks``) arriving in consecutive blocks of any sizes: each chunk is
        encoded as soon as its samples and right context are in, so memory holds one chunk with its
        context, not the signal. The codes equal ``encode`` of the joined blocks (``n_q`` / ``kbps`` as there)."""
        codes, samples = self._encode_stream(((np.asarray(b, dtype=np.float32)[None]) for b in blocks),
                                             self.resolve_n_q(n_q, kbps))
        return codes[0], samples

    def _encode(self, wavs: np.ndarray, n_q: int) -> np.ndarray:
        """Codes (B, n_q, frames) of prepared clips of one length, ``wavs`` (B, samples)."""
        step = self.chunk_frames * self.hop_length
        return self._encode_stream((wavs[:, i : i + step] for i in range(0, wavs.shape[1], step)), n_q)[0]

    @torch.no_grad()
    def _encode_stream(self, blocks: Iterable[np.ndarray], n_q: int) -> tuple[np.ndarray, int]:
        """``_encode`` of blocks (B, n) joined along time: (codes (B, n_q, frames), samples)."""
        hop, right = self.hop_length, 0 if self.config.causal else self.context_frames
        held, first, done, samples = None, 0, 0, 0    # held: samples from frame ``first`` on
        parts: list[np.ndarray] = []

        def run(start: int, stop: int, lo: int, hi: int) -> None:
            chunk = torch.from_numpy(np.ascontiguousarray(held[:, (lo - first) * hop : (hi - first) * hop]))
            codes = self.model.encode(chunk[:, None].to(self.device), n_q)
            parts.append(codes[:, :, start - lo : stop - lo].cpu().numpy())

        for block in blocks:
            held = block if held is None else np.concatenate([held, block], axis=1)
            samples += block.shape[1]
            while (done + self.chunk_frames + right) * hop <= samples:   # this window is complete
                stop = done + self.chunk_frames
                run(done, stop, max(0, done - self.context_frames), stop + right)
                done = stop
                keep = max(0, done - self.context_frames)              # the next window's left context
                held, first = held[:, (keep - first) * hop :], keep
        if samples == 0:
            raise TeluCodecError("audio is empty")
        frames = math.ceil(samples / hop)
        held = np.pad(held, ((0, 0), (0, frames * hop - samples)))      # the last partial frame
        for start, stop, lo, hi in self._windows(frames):
            if start >= done:
                run(start, stop, lo, hi)
        return np.concatenate(parts, axis=2), samples

    def _check_codes(self, codes) -> np.ndarray:
        """``codes`` (n_q, frames) as a C-contiguous int64 array (any strides in, negative included);
        TeluCodecError for a wrong shape or a code outside the codebooks."""
        codes = np.asarray(codes)
        if codes.size and not np.issubdtype(codes.dtype, np.integer):
            raise TeluCodecError(f"codes must be integers, got dtype {codes.dtype}")
        if codes.ndim != 2 or not 1 <= codes.shape[0] <= self.max_n_q:
            raise TeluCodecError(f"codes must have shape (n_q <= {self.max_n_q}, frames), got {codes.shape}")
        if codes.size and (codes.min() < 0 or codes.max() >= self.config.quantizer.codebook_size):
            raise TeluCodecError("codes out of range for this model's codebooks")
        return np.ascontiguousarray(codes, dtype=np.int64)

    def decode(self, codes, num_samples: int | None = None) -> np.ndarray:
        """Float32 audio (samples,) in [-1, 1] at ``sample_rate`` from codes (n_q, frames): frames x hop
        samples, or the first ``num_samples`` of them. Raises TeluCodecError for codes of the wrong
        shape or out of the codebooks' range."""
        codes = self._check_codes(codes)
        length = codes.shape[1] * self.hop_length
        out = np.empty(length if num_samples is None else max(0, min(length, num_samples)), dtype=np.float32)
        filled = 0
        for block in self.decode_stream(codes, num_samples):
            out[filled : filled + len(block)] = block
            filled += len(block)
        return out

    def decode_stream(self, codes, num_samples: int | None = None) -> Iterator[np.ndarray]:
        """``decode`` as consecutive float32 blocks (one per chunk, ``chunk_seconds`` long), for
        writing a long output without holding it whole (``audio.write_audio`` takes them)."""
        codes = self._check_codes(codes)
        if num_samples is not None and num_samples < 0:
            raise TeluCodecError(f"num_samples must be >= 0, got {num_samples}")
        remaining = codes.shape[1] * self.hop_length if num_samples is None else num_samples
        for block in self._decode_stream(codes[None]):
            yield block[0, :remaining]
            remaining -= min(remaining, block.shape[1])
            if remaining == 0:
                return

    @torch.no_grad()
    def _decode_stream(self, codes: np.ndarray) -> Iterator[np.ndarray]:
        """Audio blocks (B, samples) of codes (B, n_q, frames) int64, chunk by chunk."""
        hop, codes_t = self.hop_length, torch.from_numpy(codes)
        for start, stop, lo, hi in self._windows(codes.shape[2]):
            audio = self.model.decode(codes_t[:, :, lo:hi].to(self.device))[:, 0].float().cpu().numpy()
            yield audio[:, (start - lo) * hop : (stop - lo) * hop]

    def encode_batch(self, wavs: list, sample_rate: int, n_q: int | None = None,
                     kbps: float | None = None) -> list[np.ndarray]:
        """``encode`` of each clip (``n_q`` / ``kbps`` as there), clips of the same prepared length in
        one forward pass (clips are never padded, so each item's codes are what ``encode`` gives it
        alone). An empty list gives an empty list."""
        n_q = self.resolve_n_q(n_q, kbps)
        clips = [self.prepare(w, sample_rate) for w in wavs]
        codes: list[np.ndarray] = [np.empty(0)] * len(clips)
        for indices in _same_length(len(c) for c in clips):
            for i, item in zip(indices, self._encode(np.stack([clips[i] for i in indices]), n_q)):
                codes[i] = item
        return codes

    def decode_batch(self, codes: list[np.ndarray], lengths: list[int] | None = None) -> list[np.ndarray]:
        """``decode`` of each code array, those of the same shape in one forward pass (never padded
        to a common length: padding codes would change the last frames of the shorter items).
        ``lengths``: samples to keep of each (default frames x hop). An empty list gives an empty list."""
        codes = [self._check_codes(c) for c in codes]
        lengths = lengths or [c.shape[1] * self.hop_length for c in codes]
        if len(lengths) != len(codes):
            raise TeluCodecError(f"{len(codes)} code arrays but {len(lengths)} lengths")
        audio: list[np.ndarray] = [np.empty(0)] * len(codes)
        for indices in _same_length(c.shape for c in codes):
            decoded = np.concatenate(list(self._decode_stream(np.stack([codes[i] for i in indices]))), axis=1)
            for i, item in zip(indices, decoded):
                audio[i] = item[: lengths[i]]
        return audio

    # ------------------------------------------------------------------ real time
    def stream_encoder(self, n_q: int | None = None, kbps: float | None = None,
                       sample_rate: int | None = None) -> StreamEncoder:
        """A real-time encoder for one stream (``realtime.StreamEncoder``): ``push(block)`` takes
        mono audio at ``sample_rate`` (default the model's) and returns the codes now final.
        Raises TeluCodecError for a model that is not causal, or a bad n_q / kbps."""
        return StreamEncoder(self, self.resolve_n_q(n_q, kbps), sample_rate)

    def stream_decoder(self) -> StreamDecoder:
        """A real-time decoder for one stream (``realtime.StreamDecoder``): ``push(codes)`` returns
        the audio now final. Raises TeluCodecError for a model that is not causal."""
        return StreamDecoder(self)

    # ------------------------------------------------------------------ bytes
    @property
    def model_header(self) -> CodecHeader:
        """The header fields every file this model decodes must match (n_q: the most it takes);
        ``bitstream.check_header`` compares them."""
        return self.header(self.max_n_q, 0)

    def header(self, n_q: int, num_samples: int) -> CodecHeader:
        return CodecHeader(model_id=self.codes_id, sample_rate=self.sample_rate, hop_length=self.hop_length,
                           n_q=n_q, codebook_bits=self.codebook_bits, num_samples=num_samples)

    def stream_entropy(self, n_q: int, entropy_coded: bool = True) -> EntropyModel | None:
        """The entropy model a stream of ``n_q`` quantizers is written with: None (version 1) when
        not ``entropy_coded``, or when the model has none covering ``n_q`` quantizers."""
        usable = self.entropy is not None and n_q <= self.entropy.n_q
        return self.entropy if entropy_coded and usable else None

    def compress(self, wav, sample_rate: int, n_q: int | None = None, entropy_coded: bool = True,
                 kbps: float | None = None) -> bytes:
        """A complete ``.tlc`` stream (see docs/FORMAT.md) for the audio and ``n_q`` / ``kbps`` (what
        ``encode`` accepts): entropy-coded (version 2) when the model has an entropy model and
        ``entropy_coded``, else bit-packed (version 1)."""
        wav = self.prepare(wav, sample_rate)
        codes = self._encode(wav[None], self.resolve_n_q(n_q, kbps))[0]
        n_q = codes.shape[0]
        return encode_bytes(codes, self.header(n_q, len(wav)), self.stream_entropy(n_q, entropy_coded))

    def decompress(self, data: bytes) -> np.ndarray:
        """Audio from a ``.tlc`` stream (version 1 or 2) made by this model (FormatError for any
        other, or for a header whose sample rate, hop, codebook bits or n_q this model does not have)."""
        codes, header = decode_bytes(data, entropy=self.entropy, model=self.model_header)
        return self.decode(codes, header.num_samples)


def _same_length(shapes: Iterable) -> list[list[int]]:
    """Indices of the items grouped by equal shape (or length), in order of first appearance."""
    groups: dict = {}
    for i, shape in enumerate(shapes):
        groups.setdefault(shape, []).append(i)
    return list(groups.values())


def save_pretrained(model: TeluCodec, path: str | os.PathLike, half: bool = True,
                    entropy: EntropyModel | None = None) -> None:
    """Inference weights and config in one safetensors file (fp16 by default), atomically, with
    the entropy model's integer tables (tensors named ``entropy.*``) when one is given. Raises
    OutputError naming ``path`` when it cannot be written (a full disk: nothing is left)."""
    from safetensors.torch import save

    from .fileio import write_files

    tensors = {k: (v.half() if half and v.is_floating_point() else v).contiguous()
               for k, v in model.state_dict().items()}
    if entropy is not None:
        tensors.update({k: torch.from_numpy(v) for k, v in entropy.to_tensors().items()})
    config = json.dumps(TrainConfig(model=model.cfg).to_dict()["model"])
    write_files({Path(path): save(tensors, metadata={"config": config, "format": "telucodec"})})


def safetensors_config(path: Path) -> ModelConfig:
    """The model config in a telucodec .safetensors file's metadata (no tensor is read);
    TeluCodecError naming the file when it is unreadable, has none, or an invalid one."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as exc:
        raise TeluCodecError(f"{path}: not a readable safetensors file ({type(exc).__name__})") from None
    if "config" not in metadata:
        raise TeluCodecError(f"{path}: no telucodec config in the safetensors metadata")
    try:
        return dataclass_from_dict(ModelConfig, json.loads(metadata["config"]))
    except (ValueError, TypeError, TeluCodecError) as exc:   # not JSON, not a dict, or not a valid config
        raise TeluCodecError(f"{path}: the model config in its metadata is not valid "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None


def _load_safetensors(path: Path) -> tuple[TeluCodec, EntropyModel | None]:
    from safetensors import safe_open

    model = TeluCodec(safetensors_config(path))
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise TeluCodecError(f"{path}: not a readable safetensors file ({type(exc).__name__})") from None
    load_weights(model, {k: v for k, v in tensors.items() if not k.startswith(ENTROPY_PREFIX)}, path)
    tables = {k: v.numpy() for k, v in tensors.items() if k.startswith(ENTROPY_PREFIX)}
    try:
        return model, EntropyModel.from_tensors(tables) if tables else None
    except TeluCodecError as exc:
        raise TeluCodecError(f"{path}: {exc}") from None


def load(path: str | os.PathLike | None = None, **kwargs) -> Codec:
    """A Codec from a model shipped in the package by name: "default" (also with no path) or
    "realtime" (the causal model for ``stream_encoder`` / ``stream_decoder``); a checkpoint (.pt);
    a training folder (its model.safetensors, else best.pt, else last.pt); or a .safetensors file
    (``modelfile.model_file``)."""
    path = model_file(path)
    if path.suffix == ".safetensors":
        model, entropy = _load_safetensors(path)
        return Codec(model, entropy=entropy, **kwargs)
    return Codec(model_from_checkpoint(path)[0], **kwargs)
