"""Tests for kvlib.episodic: Chapter 5's read is the dual form (Eq 3), its "nothing" option a
softmax competitor with an empty value, and its attempts draws from the softmax."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import episodic as E

R = E.weighted_recall


def _data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(s, generator=g, dtype=torch.float64) for s in ((5, 8), (30, 8), (30, 3)))


def _explicit(q, K, V, beta, nothing=None):
    """The read written out term by term: softmax over the memories (and the empty one)."""
    logits = [[beta * float(q[b] @ K[n]) for n in range(K.shape[0])] for b in range(q.shape[0])]
    if nothing is not None:
        logits = [row + [beta * nothing] for row in logits]
    out, weights = [], []
    for row in logits:
        top = max(row)
        e = [math.exp(x - top) for x in row]
        w = [x / sum(e) for x in e][: K.shape[0]]
        weights.append(w)
        out.append(sum(w[n] * V[n] for n in range(K.shape[0])))
    return torch.stack(out), torch.tensor(weights, dtype=torch.float64)


def test_recall_is_the_dual_form_sum_float64():
    q, K, V = _data()
    v_hat, alpha = R(q, K, V, beta=0.7, return_weights=True)
    ref_v, ref_w = _explicit(q, K, V, 0.7)
    assert torch.allclose(alpha, ref_w, atol=1e-10, rtol=0)
    assert torch.allclose(v_hat, ref_v, atol=1e-10, rtol=0)
    assert torch.allclose(alpha.sum(-1), torch.ones(5, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("nothing", [-1.0, 0.5, 3.0])
def test_nothing_is_one_more_competitor_with_an_empty_value_float64(nothing):
    q, K, V = _data(1)
    v_hat, alpha = R(q, K, V, beta=2.0, nothing=nothing, return_weights=True)
    ref_v, ref_w = _explicit(q, K, V, 2.0, nothing)
    assert torch.allclose(alpha, ref_w, atol=1e-10, rtol=0)
    assert torch.allclose(v_hat, ref_v, atol=1e-10, rtol=0)
    assert torch.all(alpha.sum(-1) < 1)                          # the rest went to "nothing"


def test_a_high_threshold_reads_nothing_and_a_low_one_changes_nothing():
    K = torch.eye(3)
    V = torch.tensor([[1.0], [2.0], [3.0]])
    q = 0.5 * K[1:2]                                             # a weak match to memory 1
    assert R(q, K, V, beta=50.0, nothing=0.9).abs().item() < 1e-6
    assert torch.allclose(R(q, K, V, beta=50.0, nothing=-10.0), R(q, K, V, beta=50.0))


def test_mask_removes_memories_and_a_large_beta_picks_the_nearest_key():
    K = torch.eye(4)
    V = torch.arange(4.0)[:, None]
    mask = torch.tensor([False, True, True, True])
    _, alpha = R(K[:1], K, V, beta=3.0, mask=mask, return_weights=True)
    assert alpha[0, 0] == 0 and torch.isclose(alpha.sum(), torch.tensor(1.0))
    q = torch.tensor([[0.1, 0.9, 0.2, 0.0]])
    assert R(q, K, V, beta=200.0).item() == pytest.approx(1.0, abs=1e-6)
    for nothing in (None, 0.5):                                  # β = 1e4: finite, the nearest key
        out = R(q, K, V, beta=1e4, nothing=nothing)
        assert out.item() == pytest.approx(1.0, abs=1e-6)


def test_recall_is_differentiable_in_the_keys_float64():
    q, K, V = _data(2)
    K = K.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda k: R(q, k, V, beta=0.5), (K,))
    assert torch.autograd.gradcheck(lambda k: R(q, k, V, beta=0.5, nothing=0.2), (K,))


def test_attempts_are_drawn_with_the_softmax_probabilities():
    K = torch.eye(4)
    q = torch.tensor([[0.0, 1.0, 2.0, -1.0]])
    idx = E.sample_recall(q, K, beta=1.0, attempts=40000, generator=torch.Generator().manual_seed(0))
    assert idx.shape == (1, 40000)
    freq = torch.bincount(idx.flatten(), minlength=4).float() / idx.numel()
    p = torch.softmax(q[0], 0)
    se = torch.sqrt(p * (1 - p) / idx.numel())
    assert torch.all((freq - p).abs() < 4 * se)


def test_attempts_never_land_on_masked_memories_and_follow_batch_axes():
    keys = E.random_unit((3, 10, 8), torch.Generator().manual_seed(0))
    q = keys[:, :2]                                              # (3, 2, 8)
    mask = torch.arange(10) >= 6
    g = torch.Generator().manual_seed(1)
    idx = E.sample_recall(q, keys, beta=5.0, attempts=50, generator=g, mask=mask)
    assert idx.shape == (3, 2, 50) and bool((idx >= 6).all())
    sharp = E.sample_recall(q, keys, beta=1e4, attempts=20, generator=torch.Generator().manual_seed(2))
    assert bool((sharp == torch.arange(2)[None, :, None]).all())   # β = 1e4: always the best key


def test_cues_and_codes_are_unit_vectors_and_noise_zero_is_the_code():
    g = torch.Generator().manual_seed(0)
    x = E.random_unit((5, 16), g)
    assert torch.allclose(x.norm(dim=-1), torch.ones(5), atol=1e-6)
    assert torch.equal(E.noisy_cue(x, 0.0, g), torch.nn.functional.normalize(x, dim=-1))
    c = E.noisy_cue(x, 1.0, g)
    assert torch.allclose(c.norm(dim=-1), torch.ones(5), atol=1e-6)
    cos = (c * x).sum(-1)                                        # noise of length 1 vs a unit code
    assert bool((cos > 0.2).all() and (cos < 0.99).all())


def test_mean_se_is_the_mean_and_the_standard_error_float64():
    x = torch.tensor([1.0, 2.0, 4.0, 7.0], dtype=torch.float64)
    m, se = E.mean_se(x)
    assert m.item() == pytest.approx(3.5, abs=1e-12)
    assert se.item() == pytest.approx(math.sqrt(7.0 / 4), abs=1e-12)   # sample variance 7, n = 4


@pytest.mark.parametrize("call, match", [
    (lambda: R(torch.ones(1, 3), torch.ones(2, 4), torch.ones(2, 1), 1.0), "keys: expected dimension"),
    (lambda: R(torch.ones(1, 3), torch.ones(2, 3), torch.ones(3, 1), 1.0), "values: expected one row"),
    (lambda: R(torch.ones(1, 3), torch.ones(2, 3), torch.ones(2, 1), 0.0), "beta: expected"),
    (lambda: R(torch.ones(1, 3), torch.ones(2, 3), torch.ones(2, 1), 1, nothing=math.nan), "nothing"),
    (lambda: E.sample_recall(torch.ones(1, 3), torch.ones(2, 3), 1.0, 0, torch.Generator()), "attempts"),
    (lambda: E.sample_recall(torch.ones(1, 3), torch.ones(2, 3), 1.0, 2, 3), "generator"),
    (lambda: E.noisy_cue(torch.ones(3), -1.0, torch.Generator()), "noise"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
