"""One dataclass tree for everything: model, quantizer, losses, optimiser, data, training.

A checkpoint stores ``asdict(TrainConfig)``; ``TrainConfig.from_dict`` rebuilds it, so a checkpoint
alone rebuilds its model. Presets name whole model configs (``seed`` is the design notes' codec).
"""
from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import TeluCodecError


@dataclass
class QuantizerConfig:
    """Residual VQ with EMA codebooks."""

    n_q: int = 8                      # number of residual quantizers (8 x 10 bits x 200 Hz = 16 kbps)
    codebook_size: int = 1024
    ema_decay: float = 0.99
    init: str = "kmeans"              # "kmeans" on the first batch, or "random" (the seed's small init)
    random_init_scale: float = 0.01   # std of the seed's random init
    kmeans_iters: int = 10
    dead_code_threshold: float = 2.0  # codes whose EMA count falls below this are restarted
    dropout_prob: float = 0.0         # probability an example trains with a random n_q in [1, n_q]


@dataclass
class ModelConfig:
    """The codec's architecture. The hop (samples per latent frame) is the product of the strides.

    ``architecture``: "seanet" (strided convs down, transposed convs up, post-net conv + Tanh) or
    "frame" (STFT with that hop -> ConvNeXt blocks -> iSTFT + Tanh; uses frame_dim / frame_blocks).
    """

    architecture: str = "seanet"
    sample_rate: int = 16000
    channels: int = 32                # first encoder stage; doubled after every stride
    max_channels: int = 512
    strides: tuple[int, ...] = (2, 2, 2, 2, 5)
    latent_dim: int = 128
    residual_layers: int = 1          # dilated residual units per stage (dilations 1, 3, 9, ...)
    kernel_size: int = 7
    causal: bool = False              # seanet only: no output depends on future input
    frame_dim: int = 256
    frame_blocks: int = 8
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)

    @property
    def hop_length(self) -> int:
        hop = 1
        for s in self.strides:
            hop *= s
        return hop

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def kbps(self, n_q: int | None = None) -> float:
        """Nominal bitrate with ``n_q`` quantizers (all of them by default)."""
        bits = (self.quantizer.codebook_size - 1).bit_length()
        return self.frame_rate * bits * (n_q or self.quantizer.n_q) / 1000


@dataclass
class LossConfig:
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
    commit_weight: float = 1.0


@dataclass
class AdversarialConfig:
    """Adversarial training (off by default): a multi-scale STFT discriminator with hinge loss and
    feature matching, switched on at ``start_step`` (after a reconstruction warm-up, or when
    fine-tuning a trained model)."""

    start_step: int = -1              # global step at which it starts; -1 = never
    ffts: tuple[int, ...] = (1024, 512, 256)
    channels: int = 16
    max_items: int = 8                # segments per micro-batch the discriminator sees (0 = all): on CPU it
                                      # costs more than the generator, so it sees only part of each batch
    adversarial_weight: float = 0.5
    feature_weight: float = 1.0
    learning_rate: float = 2e-4


@dataclass
class OptimConfig:
    optimizer: str = "adamw"          # "adam" or "adamw"
    learning_rate: float = 3e-4
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.0
    warmup_steps: int = 500
    grad_clip: float = 1.0


@dataclass
class DataConfig:
    segment_seconds: float = 1.0
    val_fraction: float = 0.05        # of files, when no --val_dir is given
    val_seconds: float = 4.0          # each validation clip is the first val_seconds of a file
    max_val_files: int = 16
    perceptual_val_files: int = 4     # PESQ/STOI are slow: computed on this many clips
    silence_threshold: float = 1e-4   # peak below this = a silent file, skipped


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    batch_size: int = 16
    grad_accum_steps: int = 1         # micro-batches per optimiser step (effective batch x this)
    num_epochs: int = 100
    max_steps: int = 0                # 0 = no limit; stops (and checkpoints) at this step
    seed: int = 0
    log_every: int = 50
    save_every: int = 500             # steps between checkpoints, besides each epoch end
    num_workers: int = 0
    precision: str = "fp32"           # fp32, bf16 or fp16 (fp16 only on CUDA)
    audio_clips_to_log: int = 2

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        return dataclass_from_dict(cls, data)


def dataclass_from_dict(cls, data: dict):
    """Build dataclass ``cls`` from a (possibly partial) nested dict; unknown keys are errors."""
    if not isinstance(data, dict):
        raise TeluCodecError(f"config for {cls.__name__} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise TeluCodecError(f"unknown config key(s) for {cls.__name__}: {', '.join(sorted(unknown))}")
    kwargs = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = dataclass_from_dict(hint, value)
        elif typing.get_origin(hint) is tuple:
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


# Model presets. ``seed``: the design notes' codec (input conv + 5 strided convs to 200 Hz, 8 x 1024 RVQ).
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
