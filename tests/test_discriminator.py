"""The STFT discriminator, its losses, its update, and adversarial training through the CLI."""
import json

import torch
from safetensors import safe_open

from conftest import voiced_clip
from telucodec.codec import load, save_pretrained
from telucodec.config import AdversarialConfig
from telucodec.discriminator import (Adversary, MultiScaleSTFTDiscriminator, discriminator_loss,
                                     feature_matching_loss)
from test_train_cli import BASE, run_train

TINY = AdversarialConfig(start_step=0, ffts=(128, 64), channels=4, max_items=2)


def test_every_scale_returns_logits_and_features():
    disc = MultiScaleSTFTDiscriminator((128, 64), 4)
    outputs = disc(torch.randn(3, 1, 1600) * 0.1)
    assert len(outputs) == 2
    for logits, features in outputs:
        assert logits.shape[:2] == (3, 1) and len(features) == 5
        assert all(f.shape[0] == 3 and f.shape[1] == 4 for f in features)


def test_hinge_and_feature_matching_values():
    confident = [(torch.full((2, 1, 4, 4), 5.0), []), (torch.full((2, 1, 4, 4), 5.0), [])]
    fooled = [(-logits, feats) for logits, feats in confident]
    assert discriminator_loss(confident, fooled) == 0            # real > 1 and fake < -1: nothing to learn
    assert discriminator_loss(fooled, confident) == 12           # both wrong: (1 + 5) + (1 + 5)
    features = [(None, [torch.randn(2, 4, 3, 3) for _ in range(3)])]
    assert feature_matching_loss(features, features) == 0
    doubled = [(None, [2 * f for f in features[0][1]])]
    assert torch.isclose(feature_matching_loss(features, doubled), torch.tensor(1.0))


def test_generator_losses_reach_the_generator_not_the_discriminator():
    torch.manual_seed(0)
    adversary = Adversary(TINY, torch.device("cpu"))
    fake = (torch.randn(3, 1, 1600) * 0.1).requires_grad_()
    losses = adversary.generator_losses(fake, torch.randn(3, 1, 1600) * 0.1)
    assert set(losses) == {"adv", "feat"}
    sum(losses.values()).backward()
    assert fake.grad[:2].abs().sum() > 0
    assert fake.grad[2:].abs().sum() == 0                         # beyond max_items: unseen by the discriminator
    assert all(p.grad is None for p in adversary.discriminator.parameters())
    assert all(p.requires_grad for p in adversary.discriminator.parameters())


def test_discriminator_steps_learn_to_tell_speechlike_from_noise():
    torch.manual_seed(0)
    adversary = Adversary(AdversarialConfig(start_step=0, ffts=(128, 64), channels=4, max_items=0,
                                            learning_rate=3e-3), torch.device("cpu"))
    real = torch.from_numpy(voiced_clip(0.2, seed=1)).float()[None, None].repeat(2, 1, 1)
    fake = torch.randn_like(real) * real.std()
    losses = [float(adversary.step([fake], [real], grad_clip=1.0)) for _ in range(60)]
    assert losses[0] > 1.9 and losses[-1] < 0.5, losses


def test_adversarial_training_through_the_cli_resumes_exactly_and_ships_without_the_discriminator(
        clip_dir, tmp_path):
    common = ["--data_dir", clip_dir, "--num_epochs", 5, "--save_every", 1000, "--adversarial_start_step", 3,
              "--config", tmp_path / "adv.json", *BASE]
    (tmp_path / "adv.json").write_text(json.dumps({"adversarial": {"ffts": [128, 64], "channels": 4}}))
    straight = run_train(*common, "--checkpoint_dir", tmp_path / "a", "--max_steps", 8)
    half = run_train(*common, "--checkpoint_dir", tmp_path / "b", "--max_steps", 5)
    resumed = run_train(*common, "--checkpoint_dir", tmp_path / "b", "--max_steps", 8)
    for result in (straight, half, resumed):
        assert result.returncode == 0, result.stderr
    a = torch.load(tmp_path / "a" / "telucodec" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "telucodec" / "last.pt", weights_only=False)
    assert a["config"]["adversarial"]["start_step"] == 3
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    for key, value in a["adversary"]["discriminator"].items():
        assert torch.equal(value, b["adversary"]["discriminator"][key]), key
    # the discriminator took one update per step from step 3 to step 7, in both runs
    for state in (a, b):
        assert {s["step"].item() for s in state["adversary"]["optimizer"]["state"].values()} == {5}
    shipped = tmp_path / "model.safetensors"
    save_pretrained(load(tmp_path / "a" / "telucodec").model, shipped)
    with safe_open(str(shipped), framework="pt") as f:
        assert set(f.keys()) == set(a["model"])
