"""The EMA quantizer, each property proven: gradients, EMA, dead codes (relative rule), residual refinement."""
import torch

from telucodec.config import QuantizerConfig
from telucodec.quantizer import EMACodebook, ResidualVQ, nearest


def test_nearest_is_the_l2_nearest_row_of_the_table():
    torch.manual_seed(0)
    x, table = torch.randn(500, 8) * 3, torch.randn(64, 8)
    assert torch.equal(nearest(x, table), torch.cdist(x, table).argmin(dim=1))


def test_commitment_loss_sends_gradient_to_encoder_not_codebooks():
    rvq = ResidualVQ(8, QuantizerConfig(n_q=2, codebook_size=16, kmeans_iters=2))
    z = torch.randn(2, 8, 50, requires_grad=True)
    out = rvq(z)
    out.commit_loss.backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    # codebooks are buffers learned by EMA: nothing in the quantizer takes a gradient
    assert list(rvq.parameters()) == []
    assert all(not b.requires_grad for b in rvq.buffers())


def test_straight_through_passes_gradient_unchanged():
    rvq = ResidualVQ(8, QuantizerConfig(n_q=3, codebook_size=16, kmeans_iters=2))
    z = torch.randn(2, 8, 50, requires_grad=True)
    rvq(z).quantized.sum().backward()
    assert torch.allclose(z.grad, torch.ones_like(z))


def test_ema_moves_codebook_toward_mean_of_assigned_outputs():
    cfg = QuantizerConfig(codebook_size=2, init="random", ema_decay=0.9, dead_code_ratio=0.0)
    book = EMACodebook(2, cfg)
    book.embed.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0]]))
    book.embed_sum.copy_(book.embed)
    data = torch.tensor([[1.0, 1.0], [1.0, 3.0]])   # both nearest to code 0, mean (1, 2)
    target = data.mean(0)
    before = (book.embed[0] - target).norm()
    for _ in range(50):
        book(data)
    after = (book.embed[0] - target).norm()
    assert after < 0.05 * before
    # an unassigned code stays put (up to the small bias of Laplace smoothing)
    assert torch.allclose(book.embed[1], torch.tensor([10.0, 10.0]), rtol=0.01)


def test_dead_codes_are_replaced_with_current_residuals():
    cfg = QuantizerConfig(codebook_size=8, init="random", random_init_scale=0.01)
    book = EMACodebook(4, cfg)
    far = torch.full((4,), 100.0)
    book.embed[3] = far                     # a code no input will ever pick
    book.embed_sum[3] = far
    data = torch.randn(64, 4) + 5.0
    for _ in range(100):                    # its EMA count decays below the threshold
        book(data)
    assert (book.embed - far).norm(dim=1).min() > 50, "the dead code was never restarted"
    # every code now sits among the data, and after restarts the batch uses most of them
    assert book.encode(data).unique().numel() >= 6


def test_more_quantizers_lower_the_residual_error():
    rvq = ResidualVQ(8, QuantizerConfig(n_q=6, codebook_size=32, kmeans_iters=5))
    z = torch.randn(4, 8, 200)
    rvq.train()
    for _ in range(5):
        rvq(z)
    rvq.eval()
    errors = [float((rvq.decode(rvq.encode(z, n_q)) - z).pow(2).mean()) for n_q in range(1, 7)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors


def test_quantizer_dropout_varies_n_q_and_codes_match_encode():
    rvq = ResidualVQ(8, QuantizerConfig(n_q=4, codebook_size=16, kmeans_iters=2, dropout_prob=1.0))
    z = torch.randn(32, 8, 10)
    rvq(z)                                   # first step initialises every stage, no dropout
    out = rvq(z)
    assert len(set(out.n_q.tolist())) > 1
    assert out.n_q.min() >= 1 and out.n_q.max() <= 4
    rvq.eval()
    full = rvq(z)
    assert torch.equal(full.codes, rvq.encode(z))
    assert torch.allclose(full.quantized, rvq.decode(full.codes), atol=1e-5)


def test_a_well_used_codebook_is_not_churned_at_small_batches_but_a_dead_code_is_restarted():
    # 400 rows per step for 1024 codes: the mean EMA count is 0.39, so a fixed threshold of 2 called
    # every code dead at every step (102 400 restarts in 100 steps, 364 codes in use at the end)
    torch.manual_seed(0)
    centres = torch.randn(1024, 8)                      # clustered vectors, one cluster per code

    def batch(rows: int = 400) -> torch.Tensor:
        return centres[torch.randint(0, 1024, (rows,))] + 0.05 * torch.randn(rows, 8)

    book = EMACodebook(8, QuantizerConfig(codebook_size=1024, kmeans_iters=5))
    book(batch())                                       # k-means init
    far = torch.full((8,), 100.0)                       # a code no input will ever pick, counted as used
    book.embed[0], book.cluster_size[0] = far, book.cluster_size.mean()
    book.embed_sum[0] = far * book.cluster_size[0]
    restarts = []
    for _ in range(600):
        before = book.restarts
        book(batch())
        restarts.append(book.restarts - before)
    assert sum(restarts[-100:]) < 50, sum(restarts[-100:])          # after warm-up: almost none
    assert (book.embed - far).norm(dim=1).min() > 50, "the dead code was never restarted"
    assert book.encode(batch(4000)).unique().numel() >= 800         # and the codebook is well used


def test_configs_written_before_the_relative_rule_still_load():
    from telucodec.config import dataclass_from_dict

    old = {"n_q": 2, "codebook_size": 16, "dead_code_threshold": 2.0}
    assert dataclass_from_dict(QuantizerConfig, old).dead_code_ratio == QuantizerConfig().dead_code_ratio
    off = dataclass_from_dict(QuantizerConfig, {**old, "dead_code_threshold": 0.0})
    assert off.dead_code_ratio == 0.0                    # restarts off stays off
