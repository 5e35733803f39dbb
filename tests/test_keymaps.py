"""Chapter 2: learned key/query maps against fixed scaffolds (Eqs 7-9) on look-alike items."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from conftest import requires_data, tol
from kvlib import keymaps as K


def test_thumbnail_is_block_averaging():
    x = torch.rand(5, 784)
    P = K.thumbnail_matrix()
    ref = F.avg_pool2d(x.view(5, 1, 28, 28), 4).reshape(5, 49)
    assert torch.allclose(x @ P, ref, atol=tol(torch.float32))
    with pytest.raises(ValueError, match="block"):
        K.thumbnail_matrix(28, 5)


def test_keymaps_kinds():
    x = torch.rand(3, 784)
    auto = K.make_keymaps("autoassociative")
    assert torch.equal(auto.keys(x), x) and torch.equal(auto.queries(x), x)
    rnd = K.make_keymaps("random", d_key=20, seed=1)
    assert rnd.keys(x).shape == (3, 20) and torch.equal(rnd.keys(x), rnd.queries(x))
    assert not list(rnd.parameters())                       # a fixed scaffold learns nothing
    learned = K.make_keymaps("learned", d_key=20, seed=1)
    assert len(list(learned.parameters())) == 2             # W_k and W_q (Eqs 7, 9)
    assert torch.equal(learned.keys(x), rnd.keys(x))        # starts as the random scaffold
    assert not torch.equal(K.make_keymaps("random", d_key=20, seed=2).keys(x), rnd.keys(x))
    with pytest.raises(ValueError, match="kind"):
        K.make_keymaps("hash")
    with pytest.raises(ValueError, match="SparseDistributedMemory"):
        K.make_keymaps("sdm")
    with pytest.raises(ValueError, match="d_key"):
        K.make_keymaps("index", d_key=50)
    with pytest.raises(ValueError, match="x"):
        rnd.keys(torch.rand(3, 783))


def test_random_projection_has_the_stated_scale():
    # N(0, 1/d_in) entries: a key keeps the input's squared norm on average, times d_key / d_in
    W = K.KeyMaps("random", d_in=784, d_key=400, seed=0).W_k
    assert W.mean().item() == pytest.approx(0.0, abs=4 / math.sqrt(W.numel() * 784))
    assert (W.var() * 784).item() == pytest.approx(1.0, rel=0.02)


def test_scores_are_the_scaled_dot_product_and_read_is_softmax_attention():
    g = torch.Generator().manual_seed(0)
    maps = K.KeyMaps("learned", d_in=12, d_key=6, seed=0)
    with torch.no_grad():
        maps.W_q.add_(0.1 * torch.randn(12, 6, generator=g))   # W_q != W_k
        cues, x = torch.randn(2, 3, 12, generator=g), torch.randn(2, 5, 12, generator=g)
        q, k = cues @ maps.W_q, x @ maps.W_k
        S = torch.einsum("bid,bjd->bij", q, k) / math.sqrt(6)                  # Eq 5
        assert torch.allclose(maps.scores(cues, x), S, atol=tol(torch.float32))
        w = torch.exp(2.0 * S) / torch.exp(2.0 * S).sum(-1, keepdim=True)      # Eq 6, β = 2
        assert torch.allclose(maps.attention(cues, x, beta=2.0), w, atol=tol(torch.float32))
        assert torch.allclose(maps.read(cues, x, beta=2.0), w @ x, atol=tol(torch.float32))


def test_a_sharp_read_returns_the_best_matching_item_exactly():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3, 8, 20, generator=g)
    maps = K.KeyMaps("autoassociative", d_in=20)
    read = maps.read(x, x, beta=1e4)                       # numerically safe at β = 1e4
    best = maps.scores(x, x).argmax(-1)                    # (3, 8)
    assert torch.isfinite(read).all()
    assert torch.allclose(read, torch.gather(x, 1, best[..., None].expand(-1, -1, 20)), atol=1e-6)


def test_softmax_attention_ignores_a_shift_shared_by_every_key():
    # Exercise 3: q·(k + c) = q·k + q·c, the same for every key, cancels in the softmax
    g = torch.Generator().manual_seed(2)
    maps = K.KeyMaps("autoassociative", d_in=8)
    cues, x = torch.randn(1, 3, 8, generator=g, dtype=torch.float64), torch.randn(1, 5, 8, generator=g,
                                                                                 dtype=torch.float64)
    shift = torch.randn(8, generator=g, dtype=torch.float64)
    gap = (maps.attention(cues, x) - maps.attention(cues, x + shift)).abs().max()
    assert gap < 1e-12
    assert (maps.scores(cues, x) - maps.scores(cues, x + shift)).abs().max() > 0.1   # scores do move


def test_fit_inverse_temperature_extremes():
    grid = torch.tensor([0.1, 1.0, 10.0])
    S = torch.eye(5)[None]                              # right item always scores highest
    assert K.fit_inverse_temperature(S, grid) == pytest.approx(10.0)
    assert K.fit_inverse_temperature(-S, grid) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="S"):
        K.fit_inverse_temperature(torch.zeros(2, 3, 4))


def test_key_similarity_and_offdiagonal():
    keys = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    S = K.key_similarity(keys)
    assert torch.allclose(S.diagonal(), torch.ones(3))
    assert S[0, 1].item() == pytest.approx(0.0, abs=1e-7)
    assert K.mean_offdiagonal(S) == pytest.approx((2 * math.sqrt(0.5) * 2) / 6, rel=1e-6)
    with pytest.raises(ValueError, match="S"):
        K.mean_offdiagonal(torch.ones(1, 1))               # no off-diagonal entries: undefined


def test_training_that_diverges_is_an_error():
    # issue 12: a diverged run must fail, not return NaN losses
    from kvlib.lookalikes import class_table
    maps = K.KeyMaps("learned", d_in=16, d_key=4, seed=0)
    images = torch.rand(40, 16, generator=torch.Generator().manual_seed(0))
    table = class_table(torch.arange(4).repeat_interleave(10))
    with pytest.raises(ValueError, match="diverged"):
        K.train_learned_keys(maps, images, table, steps=5, n_items=4, lr=1e30)


@pytest.fixture(scope="module")
def scaffold_results():
    return [K.compare_scaffolds(train_steps=250, n_test_episodes=60, seed=s) for s in (0, 1)]


@requires_data
def test_learned_keys_beat_every_fixed_scaffold_on_look_alikes(scaffold_results):
    # the review's claim (§2.2): keys learned for discrimination beat fixed scaffolds
    for res in scaffold_results:
        acc = res["accuracy"]
        assert list(acc) == list(K.SCAFFOLDS)
        for k in K.SCAFFOLDS[:-1]:
            assert acc["learned"] > acc[k] + 0.1, k
        # look-alike episodes are harder than mixed ones for every fixed scaffold
        for k in ("autoassociative", "random", "index", "sdm"):
            assert res["accuracy_mixed"][k] > acc[k]
        assert res["loss"][-1] < 0.5 * res["loss"][0]


@requires_data
def test_random_projection_to_fewer_dimensions_loses_to_the_pixels(scaffold_results):
    # a 49-dim random projection keeps inner products only roughly (Johnson-Lindenstrauss):
    # it must lose to the raw pixels it compresses
    for res in scaffold_results:
        assert res["accuracy"]["autoassociative"] > res["accuracy"]["random"] + 0.1


@requires_data
def test_learning_separates_the_keys_and_sharpens_attention(scaffold_results):
    for res in scaffold_results:
        off = res["offdiag"]
        assert off["learned keys, after"] < off["learned keys, before"] - 0.1
        assert off["learned keys, after"] < off["inputs (autoassociative keys)"] - 0.1
        on_right = {k: float(w.diagonal().mean()) for k, (w, _) in res["attention"].items()}
        assert on_right["learned"] > on_right["autoassociative"] + 0.1


@requires_data
def test_the_sdm_scaffold_tends_to_its_limit_in_the_comparison(scaffold_results):
    for res in scaffold_results:
        sdm = res["sdm"]
        # Kanerva (1993): the radius activates about (2 M T)^(-1/3) of the hard locations
        assert sdm["activation_probability"] == pytest.approx(sdm["kanerva_fraction"], rel=0.1)
        assert sdm["active_fraction_measured"] == pytest.approx(sdm["activation_probability"], rel=0.25)
        # finitely many locations: a noisy estimate of the limit, which it does not beat beyond noise
        assert res["accuracy"]["sdm"] < sdm["limit_accuracy"] + 0.03
        assert res["accuracy_mixed"]["sdm"] < sdm["limit_accuracy_mixed"] + 0.03
