"""Chapter 2: learned key/query maps vs fixed scaffolds (Eqs 7-9); drifting context and contiguity."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from conftest import requires_data, tol
from kvlib import representations as R


# ----------------------------------------------------------------------------- scaffolds
def test_thumbnail_is_block_averaging():
    x = torch.rand(5, 784)
    P = R.thumbnail_matrix()
    ref = F.avg_pool2d(x.view(5, 1, 28, 28), 4).reshape(5, 49)
    assert torch.allclose(x @ P, ref, atol=tol(torch.float32))
    with pytest.raises(ValueError, match="block"):
        R.thumbnail_matrix(28, 5)


def test_keymaps_kinds():
    x = torch.rand(3, 784)
    auto = R.make_keymaps("autoassociative")
    assert torch.equal(auto.keys(x), x) and torch.equal(auto.queries(x), x)
    rnd = R.make_keymaps("random", d_key=20, seed=1)
    assert rnd.keys(x).shape == (3, 20) and torch.equal(rnd.keys(x), rnd.queries(x))
    assert not list(rnd.parameters())                       # a fixed scaffold learns nothing
    learned = R.make_keymaps("learned", d_key=20, seed=1)
    assert len(list(learned.parameters())) == 2             # W_k and W_q (Eqs 7, 9)
    assert torch.equal(learned.keys(x), rnd.keys(x))        # starts as the random scaffold
    with pytest.raises(ValueError, match="kind"):
        R.make_keymaps("hash")
    with pytest.raises(ValueError, match="d_key"):
        R.make_keymaps("index", d_key=50)


def test_attend_is_softmax_attention():
    g = torch.Generator().manual_seed(0)
    q, K, V = (torch.randn(2, n, d, generator=g) for n, d in ((3, 4), (5, 4), (5, 6)))
    S, out = R.attend(q, K, V)
    ref = torch.softmax(q @ K.transpose(1, 2) / 2.0, -1) @ V
    assert torch.allclose(out, ref, atol=tol(torch.float32))
    assert S.shape == (2, 3, 5)
    with pytest.raises(ValueError, match="q, K"):
        R.attend(q, K[..., :3])


def test_episodes_are_look_alikes_or_mixed():
    y = torch.arange(10).repeat_interleave(30)
    table = R.class_table(y)
    assert table.shape == (10, 30) and (y[table] == torch.arange(10)[:, None]).all()
    g = torch.Generator().manual_seed(0)
    idx = R.sample_episodes(table, 50, 12, True, g)
    labels = y[idx]
    assert (labels == labels[:, :1]).all()                  # one class per episode
    assert all(len(set(r.tolist())) == 12 for r in idx)     # distinct items
    mixed = y[R.sample_episodes(table, 50, 12, False, g)]
    assert (mixed != mixed[:, :1]).any(1).float().mean() > 0.9
    with pytest.raises(ValueError, match="n_items"):
        R.sample_episodes(table, 2, 31, True, g)


def test_retrieval_accuracy_is_perfect_for_clean_cues_and_chance_for_constant_keys():
    g = torch.Generator().manual_seed(0)
    x = torch.eye(16)[None].repeat(4, 1, 1) + 0.01 * torch.rand(4, 16, 16, generator=g)
    ep = R.EpisodeBatch(x, x.clone())
    maps = R.KeyMaps("autoassociative", d_in=16)
    assert R.retrieval_accuracy(maps, ep) == 1.0
    const = R.EpisodeBatch(torch.ones(4, 16, 16), x)        # every key identical: argmax = item 0
    assert R.retrieval_accuracy(maps, const) == pytest.approx(1 / 16)


def test_key_similarity_and_offdiagonal():
    K = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    S = R.key_similarity(K)
    assert torch.allclose(S.diagonal(), torch.ones(3))
    assert S[0, 1].item() == pytest.approx(0.0, abs=1e-7)
    assert R.mean_offdiagonal(S) == pytest.approx((2 * math.sqrt(0.5) * 2) / 6, rel=1e-6)


@pytest.fixture(scope="module")
def scaffold_results():
    return [R.compare_scaffolds(train_steps=250, n_test_episodes=60, seed=s) for s in (0, 1)]


@requires_data
def test_learned_keys_beat_every_fixed_scaffold_on_look_alikes(scaffold_results):
    for res in scaffold_results:
        acc = res["accuracy"]
        assert acc["learned"] > acc["autoassociative"] + 0.1
        assert acc["learned"] > acc["random"] + 0.3
        assert acc["autoassociative"] > acc["random"] > acc["index"]
        # look-alike episodes are harder than mixed ones for every fixed scaffold
        for k in ("autoassociative", "random", "index"):
            assert res["accuracy_mixed"][k] > acc[k]
        assert res["loss"][-1] < 0.5 * res["loss"][0]


@requires_data
def test_learning_separates_the_keys(scaffold_results):
    for res in scaffold_results:
        off = res["offdiag"]
        assert off["learned keys, after"] < off["learned keys, before"] - 0.1
        assert off["learned keys, after"] < off["inputs (autoassociative keys)"] - 0.1


# ----------------------------------------------------------------------- temporal context
def _recurrence(f, c0, drift):
    """Teaching copy: the TCM-style drift as an explicit loop (the library uses one matmul)."""
    rho = math.sqrt(1 - drift ** 2)
    c, out = c0, []
    for t in range(f.shape[1]):
        c = rho * c + drift * f[:, t]
        out.append(c)
    return F.normalize(torch.stack(out, 1), dim=-1)


@pytest.mark.parametrize("drift", [0.0, 0.2, 0.7, 1.0])
def test_drifting_context_matches_the_recurrence(drift):
    g = torch.Generator().manual_seed(3)
    keys, items = R.drifting_context(5, 9, 16, drift, g)
    g = torch.Generator().manual_seed(3)                    # redraw the same f and c0
    f = F.normalize(torch.randn(5, 9, 16, generator=g), dim=-1)
    c0 = F.normalize(torch.randn(5, 16, generator=g), dim=-1)
    assert torch.allclose(items, f)
    assert torch.allclose(keys, _recurrence(f, c0, drift), atol=1e-5)


def test_context_extremes():
    g = torch.Generator().manual_seed(0)
    keys, items = R.drifting_context(3, 6, 8, 0.0, g)
    assert torch.allclose(keys, keys[:, :1].expand_as(keys))   # no drift: one shared address
    keys, items = R.drifting_context(3, 6, 8, 1.0, g)
    assert torch.allclose(keys, items, atol=1e-6)               # full drift: a fresh one each time
    sims = torch.einsum("btd,bsd->bts", *R.drifting_context(200, 8, 64, 0.4, g)[:1] * 2).mean(0)
    assert (sims[0, 1:].diff() < 0).all()                       # similarity falls with distance


def test_crp_by_lag_by_hand():
    # list of 4; recalls 1 -> 2 -> 0. Transition 1->2 makes lag +1 with lags -1, +1, +2
    # possible (0, 2, 3 unrecalled); transition 2->0 makes lag -2 with -2, +1 possible (0, 3).
    lags, crp = R.crp_by_lag(torch.tensor([[1, 2, 0]]), 4)
    table = dict(zip(lags.tolist(), crp.tolist()))
    assert table[1] == 0.5 and table[-2] == 1.0 and table[-1] == 0.0 and table[2] == 0.0
    assert all(math.isnan(table[lag]) for lag in (-3, 0, 3))
    with pytest.raises(ValueError, match="order"):
        R.crp_by_lag(torch.tensor([[1]]), 4)


def test_free_recall_recalls_distinct_items():
    g = torch.Generator().manual_seed(0)
    keys, items = R.drifting_context(50, 10, 32, 0.5, g)
    order = R.free_recall(keys, items, 0.5, 10, g)
    assert torch.equal(order.sort(1).values, torch.arange(10).expand(50, 10))
    with pytest.raises(ValueError, match="n_recalls"):
        R.free_recall(keys, items, 0.5, 11, g)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contiguity_peaks_at_plus_one_and_is_forward_asymmetric(seed):
    lags, crp = R.temporal_contiguity(0.5, seed=seed)
    table = dict(zip(lags.tolist(), crp.tolist()))
    assert max(table[l] for l in table if l != 0) == table[1]
    assert max(table[l] for l in table if l < 0) == table[-1]
    assert table[1] > 1.3 * table[-1]                  # forward asymmetry
    assert table[-1] > 2 * table[-5]                   # contiguity on the backward side too


@pytest.mark.parametrize("drift", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_contiguity_vanishes_without_a_slowly_drifting_context(drift, seed):
    lags, crp = R.temporal_contiguity(drift, seed=seed)
    vals = crp[~crp.isnan()]
    assert vals.max() / vals.min() < 1.4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_recall_on_gpu():
    a = R.temporal_contiguity(0.5, n_lists=300, seed=0)[1]
    b = R.temporal_contiguity(0.5, n_lists=300, seed=0, device="cuda")[1].cpu()
    assert torch.allclose(a, b, equal_nan=True, atol=0.02)


def test_fit_inverse_temperature_extremes():
    grid = torch.tensor([0.1, 1.0, 10.0])
    S = torch.eye(5)[None]                              # right item always scores highest
    assert R.fit_inverse_temperature(S, grid) == pytest.approx(10.0)
    assert R.fit_inverse_temperature(-S, grid) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="S"):
        R.fit_inverse_temperature(torch.zeros(2, 3, 4))
