"""A model's id (in every .tlc header) survives config fields added after it was issued."""
import hashlib
import json

import torch

from telucodec.codec import model_id
from telucodec.config import ModelConfig, dataclass_from_dict
from telucodec.model import TeluCodec

# a model config as every model before the compressed-complex architecture wrote it
EARLIER_CONFIG = {
    "architecture": "seanet", "sample_rate": 16000, "channels": 4, "max_channels": 16, "strides": [2, 2, 2, 2, 5],
    "latent_dim": 8, "residual_layers": 1, "kernel_size": 7, "causal": False, "frame_dim": 256, "frame_blocks": 8,
    "quantizer": {"n_q": 4, "codebook_size": 64, "ema_decay": 0.99, "init": "kmeans", "random_init_scale": 0.01,
                  "kmeans_iters": 2, "dead_code_threshold": 2.0, "dropout_prob": 0.0},
}


def earlier_model_id(config: dict, model: TeluCodec) -> str:
    """The id as it was computed when EARLIER_CONFIG was current: the config as written, then every tensor."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def test_a_model_written_before_the_new_fields_keeps_its_id():
    torch.manual_seed(0)
    model = TeluCodec(dataclass_from_dict(ModelConfig, EARLIER_CONFIG))
    assert model_id(model) == earlier_model_id(EARLIER_CONFIG, model)


def test_the_new_fields_change_the_id_when_they_differ_from_what_earlier_models_had():
    torch.manual_seed(0)
    model = TeluCodec(dataclass_from_dict(ModelConfig, EARLIER_CONFIG))
    ids = {model_id(model)}
    for model_change, quantizer_change in (({"spectral_power": 0.5}, {}), ({}, {"dead_code_ratio": 0.5}),
                                           ({}, {"code_dim": 4})):
        config = {**EARLIER_CONFIG, **model_change,
                  "quantizer": {**EARLIER_CONFIG["quantizer"], **quantizer_change}}
        other = TeluCodec(dataclass_from_dict(ModelConfig, config))
        other.load_state_dict(model.state_dict())
        ids.add(model_id(other))
    assert len(ids) == 4


SHIPPED_MODEL_ID = "685fee73251a726c"   # in every .tlc file the shipped model (v5) has written


def test_the_shipped_model_keeps_its_id_with_entropy_tables_added():
    """Adding the entropy tables to the shipped file (issue 15) must not change the codec's id, or
    the version-1 files made with the shipped model would no longer decode."""
    import pytest

    from telucodec.codec import DEFAULT_MODEL, load

    if not DEFAULT_MODEL.is_file():
        pytest.skip("no default model shipped")
    codec = load()
    assert codec.model_id == SHIPPED_MODEL_ID, "a new shipped model: update SHIPPED_MODEL_ID (and MODEL_CARD.md)"
    assert codec.entropy is not None and codec.entropy.n_q == codec.max_n_q
