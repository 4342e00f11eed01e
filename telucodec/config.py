"""One dataclass tree for everything: model, quantizer, losses, optimiser, data, training.

A checkpoint stores ``asdict(TrainConfig)``; ``TrainConfig.from_dict`` rebuilds it, so a checkpoint
alone rebuilds its model. Presets name whole model configs: the preset ``seed`` is the design notes'
codec (not to be confused with ``TrainConfig.seed``, the random seed).

Every construction validates itself (types, the allowed words of ``Literal`` fields, ranges), so a bad
value in a preset, a checkpoint, a safetensors file or a ``--config`` file is one TeluCodecError
naming the key, never a silent fallback or a KeyError later.
"""
from __future__ import annotations

import dataclasses
import json
import functools
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from .errors import TeluCodecError


class _Validated:
    """Base of every config dataclass: ``__post_init__`` checks each field against its type hint
    (numbers, strings, tuples, the words of a ``Literal``) and then the class's ``_checks``."""

    section: ClassVar[str] = ""       # where the class sits in the tree, for messages: "model.quantizer"

    def __post_init__(self) -> None:
        hints = _type_hints(type(self))
        for f in dataclasses.fields(self):
            _check_type(self.key(f.name), hints[f.name], getattr(self, f.name))
        for ok, message in self._checks():
            if not ok:
                raise TeluCodecError(message)

    @classmethod
    def key(cls, name: str) -> str:
        """The dotted name of field ``name`` in the config tree."""
        return f"{cls.section}.{name}" if cls.section else name

    @classmethod
    def migrate(cls, data: dict) -> dict:
        """``data`` with keys that older versions wrote replaced by their successors."""
        return data

    def _checks(self) -> list[tuple[bool, str]]:
        """(condition, message if it fails) pairs beyond the type hints."""
        return []


@functools.cache
def _type_hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


def allowed_values(cls: type, name: str) -> tuple:
    """The words a ``Literal`` field ``name`` of config class ``cls`` accepts (e.g. for argparse choices)."""
    return typing.get_args(_type_hints(cls)[name])


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_type(key: str, hint, value) -> None:
    """TeluCodecError naming ``key`` unless ``value`` fits ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        if value not in args:
            raise TeluCodecError(f"{key} must be one of {', '.join(map(repr, args))} (got {value!r})")
    elif origin is tuple:
        if not isinstance(value, (tuple, list)) or (Ellipsis not in args and len(value) != len(args)):
            raise TeluCodecError(f"{key} must be a list of {len(args) if Ellipsis not in args else 'any number of'} "
                                 f"values (got {value!r})")
        for item in value:
            _check_type(key, args[0], item)
    elif hint is int and not (_is_number(value) and isinstance(value, int)):
        raise TeluCodecError(f"{key} must be an integer (got {value!r})")
    elif hint is float and not _is_number(value):
        raise TeluCodecError(f"{key} must be a number (got {value!r})")
    elif hint in (bool, str) and not isinstance(value, hint):
        raise TeluCodecError(f"{key} must be {'true or false' if hint is bool else 'a string'} (got {value!r})")
    elif dataclasses.is_dataclass(hint) and not isinstance(value, hint):
        raise TeluCodecError(f"{key} must be a mapping (got {value!r})")


@dataclass
class QuantizerConfig(_Validated):
    """Residual VQ: EMA codebooks over the whole latent (``kind: ema``, SoundStream / EnCodec) or
    factorised low-dimensional L2-normalised codes learned by gradient (``kind: factorized``, DAC)."""

    section: ClassVar[str] = "model.quantizer"

    kind: Literal["ema", "factorized"] = "ema"
    n_q: int = 8                      # number of residual quantizers (8 x 10 bits x 200 Hz = 16 kbps)
    codebook_size: int = 1024
    ema_decay: float = 0.99
    init: Literal["kmeans", "random"] = "kmeans"   # k-means on the first batch, or small random vectors
    random_init_scale: float = 0.01   # std of the random init
    kmeans_iters: int = 10
    # ema only: a code whose EMA count falls below this fraction of the mean count (rows per step /
    # codebook_size) is restarted; 0 = never (Moshi's threshold_usage_ratio, 0.1 there). 0.25: on
    # clustered vectors at 400 rows per step and 1024 codes, 0.1 and 0.25 kept >= 98% of codes in use
    # with < 0.4 restarts per step after warm-up (0.25 with 5% less error), 0.5 churned 1.5 codes a
    # step, 1.0 (the EMA's noise, ~11% of the mean, reaches it) 850 codes a step
    dead_code_ratio: float = 0.25
    dropout_prob: float = 0.0         # probability an example trains with a random n_q in [1, n_q]
    code_dim: int = 8                 # factorized only: dimension of the code lookup
    commitment: float = 0.25          # factorized only: weight of the commitment term (DAC's)

    @classmethod
    def migrate(cls, data: dict) -> dict:
        """Configs written before ``dead_code_ratio`` (checkpoints, the shipped model's metadata) hold
        a fixed ``dead_code_threshold``: 0 meant no restarts, which ratio 0 keeps; any other value
        takes the relative rule's default."""
        data = dict(data)
        data.pop("bypass_steps", None)   # a training setting now: TrainConfig.bypass_quantizer_steps
        threshold = data.pop("dead_code_threshold", None)
        if _is_number(threshold) and threshold <= 0:
            data.setdefault("dead_code_ratio", 0.0)
        return data

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (self.n_q >= 1 and self.codebook_size >= 2, "model.quantizer: n_q must be >= 1 and codebook_size >= 2"),
            (0 <= self.ema_decay < 1, "model.quantizer.ema_decay must be in [0, 1)"),
            (self.dead_code_ratio >= 0, "model.quantizer.dead_code_ratio must be >= 0"),
            (0 <= self.dropout_prob <= 1, "model.quantizer.dropout_prob must be in [0, 1]"),
            (self.code_dim >= 1, "model.quantizer.code_dim must be >= 1"),
        ]


@dataclass
class ModelConfig(_Validated):
    """The codec's architecture. The hop (samples per latent frame) is the product of the strides.

    ``architecture``: "seanet" (strided convs down, transposed convs up, post-net conv + Tanh),
    "frame" (STFT with that hop -> ConvNeXt blocks -> iSTFT + Tanh; uses frame_dim / frame_blocks) or
    "complex" (compressed complex STFT with hop strides[0] -> ConvNeXt blocks, further strides as
    strided convs -> latent -> the mirror image -> iSTFT; complex_stft.py).
    """

    section: ClassVar[str] = "model"

    architecture: Literal["seanet", "frame", "complex"] = "seanet"
    sample_rate: int = 16000
    channels: int = 32                # first encoder stage; doubled after every stride
    max_channels: int = 512
    strides: tuple[int, ...] = (2, 2, 2, 2, 5)
    latent_dim: int = 128
    residual_layers: int = 1          # dilated residual units per stage (dilations 1, 3, 9, ...)
    kernel_size: int = 7
    causal: bool = False              # seanet, complex: no output depends on future input (complex: one stride)
    frame_dim: int = 256
    frame_blocks: int = 8
    spectral_power: float = 0.3       # complex only: exponent of the compressed complex STFT
    # the model id whose codes this model writes and reads: a decoder-only fine-tune keeps the
    # encoder and codebooks of that model, so its files (and entropy tables) stay valid; "" = its own
    codes_of: str = ""
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (len(self.strides) >= 1 and all(s >= 1 for s in self.strides), "model.strides must be integers >= 1"),
            (not (self.causal and self.architecture == "frame"),
             "model.causal is available for the seanet and complex architectures"),
            (not (self.causal and self.architecture == "complex" and len(self.strides) != 1),
             "model.causal with the complex architecture takes one stride (the STFT hop)"),
        ]

    @property
    def hop_length(self) -> int:
        hop = 1
        for s in self.strides:
            hop *= s
        return hop

    @property
    def synthesis_tail(self) -> int:
        """Samples at the end of a decoded signal that later frames would still add to: the causal
        complex model's overlap-add (n_fft - hop); 0 for the others, whose outputs are complete."""
        return 3 * self.hop_length if self.causal and self.architecture == "complex" else 0

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def kbps(self, n_q: int | None = None) -> float:
        """Nominal bitrate with ``n_q`` quantizers (all of them by default)."""
        bits = (self.quantizer.codebook_size - 1).bit_length()
        return self.frame_rate * bits * (n_q or self.quantizer.n_q) / 1000


@dataclass
class LossConfig(_Validated):
    section: ClassVar[str] = "loss"

    l1_weight: float = 1.0
    mse_weight: float = 1.0
    stft_weight: float = 1.0
    stft_ffts: tuple[int, ...] = (256, 512, 1024)
    mel_weight: float = 1.0
    mel_ffts: tuple[int, ...] = (512, 1024)
    n_mels: int = 64
    complex_weight: float = 0.0       # compressed complex STFT loss: the only term that constrains phase
    complex_ffts: tuple[int, ...] = (320, 640, 1280)
    complex_power: float = 0.3
    magnitude_weight: float = 0.0     # MSE between compressed magnitudes |X|^p at complex_ffts
    level_weight: float = 0.0         # L1 between the segments' log mel-band levels (losses.MultiScaleMelLoss)
    loudness_weight: float = 0.0      # L1 between the segments' log broadband power (losses.loudness_loss)
    commit_weight: float = 1.0


@dataclass
class AdversarialConfig(_Validated):
    """Adversarial training (off by default): a multi-scale STFT discriminator with hinge loss and
    feature matching, switched on at ``start_step`` (after a reconstruction warm-up, or when
    fine-tuning a trained model)."""

    section: ClassVar[str] = "adversarial"

    start_step: int = -1              # global step at which it starts; -1 = never
    ffts: tuple[int, ...] = (1024, 512, 256)
    channels: int = 16
    max_items: int = 8                # segments per micro-batch the discriminator sees (0 = all): on CPU it
                                      # costs more than the generator, so it sees only part of each batch
    adversarial_weight: float = 0.5
    feature_weight: float = 1.0
    learning_rate: float = 2e-4

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (self.start_step >= -1, "adversarial.start_step must be -1 (off) or a step >= 0"),
            (all(n >= 16 for n in self.ffts) and self.channels >= 1,
             "adversarial.ffts must be at least 16 and adversarial.channels at least 1"),
        ]


@dataclass
class OptimConfig(_Validated):
    section: ClassVar[str] = "optim"

    optimizer: Literal["adam", "adamw"] = "adamw"
    learning_rate: float = 3e-4
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.0
    warmup_steps: int = 500
    grad_clip: float = 1.0

    def _checks(self) -> list[tuple[bool, str]]:
        return [(self.learning_rate > 0, f"optim.learning_rate must be positive (got {self.learning_rate:g})")]


@dataclass
class DataConfig(_Validated):
    section: ClassVar[str] = "data"

    segment_seconds: float = 1.0
    val_fraction: float = 0.05        # of files, when no --val_dir is given
    val_seconds: float = 4.0          # each validation clip is the first val_seconds of a file
    max_val_files: int = 16
    perceptual_val_files: int = 4     # PESQ/STOI are slow: computed on this many clips
    silence_threshold: float = 1e-4   # peak below this = a silent file, skipped


@dataclass
class TrainConfig(_Validated):
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    batch_size: int = 16
    grad_accum_steps: int = 1         # micro-batches per optimiser step (effective batch x this)
    num_epochs: int = 100
    max_steps: int = 0                # 0 = no limit; stops (and checkpoints) at this step
    seed: int = 0                     # random seed (the preset named "seed" is another thing)
    log_every: int = 50
    save_every: int = 500             # steps between checkpoints, besides each epoch end
    num_workers: int = 0
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"   # fp16 only on CUDA
    audio_clips_to_log: int = 2
    # steps that train the encoder and decoder alone, the quantizer bypassed (a warm-up); its
    # codebooks then start from k-means of the encoder's outputs (kmeans init)
    bypass_quantizer_steps: int = 0
    # the weights the run started from (--init_from: "default", a .safetensors, .pt or run folder);
    # "" = random initialisation
    init_from: str = ""
    # what a run trains: everything, or the decoder alone (encoder and codebooks frozen: the codes
    # stay those of the --init_from model, and so do its entropy tables and files)
    trainable: Literal["all", "decoder"] = "all"
    # stop when the validation log-mel through the quantizer has not improved for this many
    # epochs (best.pt keeps the best); 0 = run every epoch
    early_stop_patience: int = 0
    # best.pt (lowest validation log-mel) besides last.pt; each is a full checkpoint with optimiser
    # state (about 113 MB for the seed preset), so short or disk-tight runs may skip it
    keep_best: bool = True

    @classmethod
    def migrate(cls, data: dict) -> dict:
        """Checkpoints written while the bypass was a quantizer setting carry it there."""
        quantizer = data.get("model", {}).get("quantizer", {}) if isinstance(data.get("model"), dict) else {}
        if isinstance(quantizer, dict) and "bypass_steps" in quantizer:
            data = {**data, "bypass_quantizer_steps": quantizer["bypass_steps"]}
        return data

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.grad_accum_steps >= 1, "grad_accum_steps must be at least 1"),
            (self.num_epochs >= 1, "num_epochs must be at least 1"),
            (self.data.segment_seconds * self.model.sample_rate >= self.min_segment_samples(),
             f"data.segment_seconds must be at least {self.min_segment_samples() / self.model.sample_rate:g} s "
             f"({self.min_segment_samples()} samples: one codec frame, and more than half the largest FFT "
             f"of the losses), got {self.data.segment_seconds:g}"),
            (self.num_workers >= 0, "num_workers must be >= 0"),
            (self.log_every >= 1 and self.save_every >= 1, "log_every and save_every must be >= 1"),
            (self.bypass_quantizer_steps >= 0, "bypass_quantizer_steps must be >= 0"),
            (self.early_stop_patience >= 0, "early_stop_patience must be >= 0"),
            (not (self.trainable == "decoder" and not self.init_from),
             "trainable: decoder needs trained weights to keep (--init_from)"),
        ]

    def min_segment_samples(self) -> int:
        """The shortest training segment (samples) every part of training can take: one codec
        frame, and more than n_fft / 2 samples for each reflect-padded STFT of a loss that is on."""
        loss, adversarial = self.loss, self.adversarial
        ffts = [*(loss.stft_ffts if loss.stft_weight else ()), *(loss.mel_ffts if loss.mel_weight else ()),
                *(loss.complex_ffts if loss.complex_weight or loss.magnitude_weight else ()),
                *(adversarial.ffts if adversarial.start_step >= 0 else ())]
        return max([self.model.hop_length, *(n_fft // 2 + 1 for n_fft in ffts)])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        return dataclass_from_dict(cls, data)


def dataclass_from_dict(cls, data: dict):
    """Build config dataclass ``cls`` from a (possibly partial) nested dict; keys that older
    versions wrote are migrated. Raises TeluCodecError naming the key for an unknown key or a bad
    value."""
    if not isinstance(data, dict):
        raise TeluCodecError(f"{cls.section or 'the config'} must be a mapping, got {type(data).__name__}")
    data = cls.migrate(data)
    hints = _type_hints(cls)
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise TeluCodecError(f"unknown config key(s): {', '.join(cls.key(k) for k in sorted(unknown))}")
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            kwargs[name] = dataclass_from_dict(hint, value)
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def merge(config: TrainConfig, overrides: dict) -> TrainConfig:
    """Return ``config`` with a nested dict of overrides applied."""
    def deep_update(base: dict, upd: dict) -> dict:
        for key, value in upd.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                deep_update(base[key], value)
            else:
                base[key] = value
        return base

    return TrainConfig.from_dict(deep_update(config.to_dict(), overrides))


def load_config_file(path: str | Path) -> dict:
    """Read a JSON or YAML config file into a dict."""
    path = Path(path)
    if not path.is_file():
        raise TeluCodecError(f"{path}: config file not found")
    text = path.read_text()
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise TeluCodecError(f"{path}: cannot parse config ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise TeluCodecError(f"{path}: config must be a mapping at the top level")
    return data


# Model presets. The preset ``seed``: the design notes' codec (input conv + 5 strided convs to 200 Hz, 8 x 1024 RVQ).
PRESETS: dict[str, dict] = {
    "seed": {},
    "small": {"channels": 16, "max_channels": 256, "latent_dim": 64},
    # frame-rate model at 100 Hz: 16 quantizers x 1 kbps, so 1-16 kbps in 1 kbps steps
    "frame": {
        "architecture": "frame", "strides": (160,), "latent_dim": 64, "frame_blocks": 6,
        "quantizer": {"n_q": 16, "dropout_prob": 0.5},
    },
    "tiny": {
        "channels": 4, "max_channels": 16, "latent_dim": 8,
        "quantizer": {"n_q": 4, "codebook_size": 64, "kmeans_iters": 2},
    },
}


def preset(name: str) -> ModelConfig:
    """The named model preset."""
    if name not in PRESETS:
        raise TeluCodecError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return dataclass_from_dict(ModelConfig, PRESETS[name])
