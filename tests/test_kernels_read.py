"""kvlib.kernels.retrieve beyond one plain read: batch axes, masks, "nothing comes to mind", sampling.

Each feature is checked against the plain read it must equal (float64, 1e-12) or against the
probabilities it must sample from.
"""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import kernels as K


def _mem(B=5, N=7, d=4, dv=3, lead=(), seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*lead, B, d, generator=g, dtype=torch.float64)
    k = torch.randn(*lead, N, d, generator=g, dtype=torch.float64)
    v = torch.randn(*lead, N, dv, generator=g, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("similarity", ["dot", "scaled_dot", "cosine", "euclidean", "manhattan", "rbf",
                                        "elu1", "dpfp", "l1_dot"])
@pytest.mark.parametrize("separation", ["softmax", "identity", "max", "polynomial", "topk"])
def test_leading_axes_equal_one_read_per_batch(similarity, separation):
    q, k, v = _mem(lead=(2, 3))
    kw = {"k": 2} if separation == "topk" else {}
    out = K.retrieve(q, k, v, similarity, separation, beta=2.0, **kw)
    for i in range(2):
        for j in range(3):
            want = K.retrieve(q[i, j], k[i, j], v[i, j], similarity, separation, beta=2.0, **kw)
            torch.testing.assert_close(out[i, j], want, atol=1e-12, rtol=0)
    # one memory read by a batch of query sets: the keys' leading axes broadcast
    out2 = K.retrieve(q, k[0, 0], v[0, 0], similarity, separation, **kw)
    torch.testing.assert_close(out2[1, 2], K.retrieve(q[1, 2], k[0, 0], v[0, 0], similarity, separation,
                                                      **kw), atol=1e-12, rtol=0)


@pytest.mark.parametrize("separation", ["softmax", "identity", "max", "threshold", "polynomial"])
def test_a_mask_equals_reading_the_allowed_memories_only(separation):
    q, k, v = _mem()
    mask = torch.tensor([True, False, True, True, False, True, False])
    out, w = K.retrieve(q, k, v, "dot", separation, beta=1.5, mask=mask, return_weights=True)
    want = K.retrieve(q, k[mask], v[mask], "dot", separation, beta=1.5)
    torch.testing.assert_close(out, want, atol=1e-12, rtol=0)
    assert bool((w[:, ~mask] == 0).all())
    # per-query masks
    m2 = torch.rand(5, 7, generator=torch.Generator().manual_seed(1)) > 0.4
    m2[:, 0] = True
    out2 = K.retrieve(q, k, v, "dot", separation, mask=m2)
    for b in range(5):
        torch.testing.assert_close(out2[b], K.retrieve(q[b], k[m2[b]], v[m2[b]], "dot", separation),
                                   atol=1e-12, rtol=0)


def test_a_row_with_nothing_allowed_reads_zero_not_nan():
    q, k, v = _mem()
    mask = torch.zeros(5, 7, dtype=torch.bool)
    mask[0, 2] = True
    r = K.retrieve(q, k, v, mask=mask, full=True)
    assert torch.isfinite(r.values).all() and torch.isfinite(r.weights).all()
    assert r.found.tolist() == [True, False, False, False, False]
    assert bool((r.values[1:] == 0).all()) and torch.allclose(r.values[0], v[2])


def test_min_score_is_nothing_comes_to_mind():
    k = torch.eye(3, dtype=torch.float64)
    v = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    q = torch.tensor([[0.0, 0.9, 0.1], [0.1, 0.2, 0.1]], dtype=torch.float64)
    r = K.retrieve(q, k, v, "dot", "softmax", beta=50.0, min_score=0.5, full=True)
    assert r.found.tolist() == [True, False]
    assert r.index.tolist() == [1, -1]
    assert float(r.values[1, 0]) == 0.0 and float(r.weights[1].abs().sum()) == 0.0
    torch.testing.assert_close(r.values[0], K.retrieve(q[0], k, v, "dot", "softmax", beta=50.0))


def test_sampling_draws_memories_with_the_attention_weights():
    q, k, v = _mem(B=1, N=4, d=3, dv=4)
    v = torch.eye(4, dtype=torch.float64)                      # value n is the one-hot of n
    w = K.retrieve(q, k, v, "dot", "softmax", beta=0.7)[0]
    qq = q.expand(20000, 3)
    r = K.retrieve(qq, k, v, "dot", "softmax", beta=0.7, sample=True, full=True,
                   generator=torch.Generator().manual_seed(3))
    freq = torch.bincount(r.index, minlength=4).double() / 20000
    assert torch.allclose(r.values, v[r.index])                # a sampled read returns one stored value
    se = (w * (1 - w) / 20000).sqrt()
    assert bool(((freq - w).abs() <= 5 * se + 1e-9).all()), (freq, w)
    again = K.retrieve(qq[:50], k, v, "dot", "softmax", beta=0.7, sample=True, full=True,
                       generator=torch.Generator().manual_seed(3)).index
    assert torch.equal(again, r.index[:50])                    # reproducible with the same generator


@pytest.mark.parametrize("beta", [1e2, 1e4])
def test_huge_beta_and_huge_scores_stay_finite(beta):
    q, k, v = _mem()
    out = K.retrieve(q * 100, k * 100, v, "dot", "softmax", beta=beta)
    torch.testing.assert_close(out, K.retrieve(q, k, v, "dot", "max"), atol=1e-9, rtol=0)
    masked = K.retrieve(q * 100, k * 100, v, "dot", "softmax", beta=beta, mask=torch.ones(7).bool())
    assert torch.isfinite(masked).all()


def test_non_finite_or_empty_memories_are_clear_errors():
    q, k, v = _mem()
    bad = q.clone()
    bad[0, 0] = math.nan
    with pytest.raises(ValueError, match="queries: expected finite values"):
        K.retrieve(bad, k, v)
    with pytest.raises(ValueError, match="keys: expected at least one stored memory"):
        K.retrieve(q, k[:0], v[:0])
    with pytest.raises(TypeError, match="mask: expected a boolean tensor"):
        K.retrieve(q, k, v, mask=torch.ones(7))
    with pytest.raises(ValueError, match="mask: expected a shape that broadcasts"):
        K.retrieve(q, k, v, mask=torch.ones(3, dtype=torch.bool))
    with pytest.raises(TypeError, match="min_score"):
        K.retrieve(q, k, v, min_score="high")
    with pytest.raises(TypeError, match="sample"):
        K.retrieve(q, k, v, sample="yes")
    with pytest.raises(ValueError, match="keys: expected leading"):
        K.retrieve(q.expand(2, 5, 4), k.expand(3, 7, 4), v.expand(3, 7, 3))


@pytest.mark.parametrize("separation,kw", [("softmax", {}), ("softmax", {"mask": True}),
                                           ("polynomial", {"normalize": True}), ("identity", {})])
def test_the_read_is_differentiable_and_its_gradient_is_the_formulas(separation, kw):
    q, k, v = _mem()
    mask = torch.tensor([True, True, False, True, True, True, False]) if kw.pop("mask", False) else None
    leaves = [t.clone().requires_grad_(True) for t in (q, k, v)]
    K.retrieve(*leaves, "dot", separation, beta=1.3, mask=mask, **kw).square().sum().backward()
    ref = [t.clone().requires_grad_(True) for t in (q, k, v)]
    s = ref[0] @ ref[1].T
    if separation == "softmax":
        s = (1.3 * s).masked_fill(~mask, -math.inf) if mask is not None else 1.3 * s
        a = torch.softmax(s, -1)
    elif separation == "polynomial":
        a = s.clamp(min=0).pow(2)
        a = a / a.sum(-1, keepdim=True)
    else:
        a = 1.3 * s
    (a @ ref[2]).square().sum().backward()
    for got, want in zip(leaves, ref):
        torch.testing.assert_close(got.grad, want.grad, atol=1e-10, rtol=0)
