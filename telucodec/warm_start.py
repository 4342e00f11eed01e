"""Starting a training run from trained weights (``--init_from``): the shipped model, a
``.safetensors`` export, a ``.pt`` checkpoint or a training folder.

The model config comes from the weights; a ``--config`` may change settings that keep every
tensor's name and shape (``model.causal``, quantizer dropout, loss weights, the schedule...), and
anything else is refused with one line before any data is read. Only the model's weights are
taken: the optimiser, the step counter and the schedule start afresh.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .config import ModelConfig, dataclass_from_dict
from .errors import TeluCodecError
from .model import mismatched_tensors
from .modelfile import model_file


def resolve(source: str) -> Path:
    """The file behind ``source``: a shipped model's name ("default", "realtime"), a model file, or a
    training folder (``modelfile.model_file``)."""
    try:
        return model_file(source)
    except TeluCodecError as exc:
        raise TeluCodecError(f"--init_from: {exc}") from None


def model_config(source: str) -> ModelConfig:
    """The model config of the weights at ``source`` (TeluCodecError naming the file if unusable)."""
    from .checkpoint import read_checkpoint
    from .codec import safetensors_config

    path = resolve(source)
    if path.suffix == ".safetensors":
        return safetensors_config(path)
    raw = read_checkpoint(path)["config"]["model"]
    try:
        return dataclass_from_dict(ModelConfig, raw)
    except TeluCodecError as exc:
        raise TeluCodecError(f"{path}: {exc}") from None


@dataclass
class Weights:
    """Trained weights to start from, and what they came with."""

    path: Path
    state: dict[str, torch.Tensor]
    model_id: str
    codes_id: str               # the code space of its files: its own id, or the one it keeps (codes_of)
    entropy: object | None      # entropy.EntropyModel of a .safetensors file, if it has one


def read_weights(source: str) -> Weights:
    """Load the weights at ``source`` (float32, CPU) with their model id and entropy model."""
    from .codec import load

    path = resolve(source)
    codec = load(path)
    state = {k: v.float() if v.is_floating_point() else v for k, v in codec.model.state_dict().items()}
    return Weights(path, state, codec.model_id, codec.codes_id, codec.entropy)


def load_into(model: torch.nn.Module, weights: Weights, reinit_codebooks: bool) -> None:
    """Copy ``weights`` into ``model``; TeluCodecError naming the file when a tensor's name or
    shape differs (the config changed the model's shape). ``reinit_codebooks``: the EMA codebooks
    start again from k-means of the new encoder's outputs when the quantizer switches on (the
    promise of a bypass warm-up), instead of keeping the old encoder's codebooks."""
    changed = mismatched_tensors(model.state_dict(), weights.state)
    if changed:
        raise TeluCodecError(f"{weights.path}: the config changes the model's shape ({changed}); "
                             "fine-tuning keeps the model of the weights")
    model.load_state_dict(weights.state)
    if reinit_codebooks:
        for codebook in getattr(model.quantizer, "codebooks", []):
            if hasattr(codebook, "initialized") and codebook.cfg.init == "kmeans":
                codebook.initialized.fill_(False)
