"""Tests for kvlib.astrocytes: the neuron-astrocyte circuit equals attention with its random-feature
kernel (an identity, float64), approaches softmax attention as the processes grow, and stays
finite where a plain exponential of the features under- or overflows (Chapter 4 §4.4)."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import tol
from kvlib import astrocytes as A


def _inputs(seed=0, T=20, B=6, d=5, m=64, scale=None):
    g = torch.Generator().manual_seed(seed)
    s = 1 / math.sqrt(d) if scale is None else scale
    K = torch.randn(T, d, generator=g, dtype=torch.float64) * s
    V = torch.randn(T, 3, generator=g, dtype=torch.float64)
    Q = torch.randn(B, d, generator=g, dtype=torch.float64) * s
    return K, V, Q, A.random_features(d, m, g)


def _kernel_reference(Q, K, V, f):
    """Σ_t S(k_t, q) v_t / Σ_t S(k_t, q) with S = φ(q)·φ(k), in log space (exact for any input)."""
    lq, lk = f.log_features(Q).double(), f.log_features(K).double()
    log_s = torch.logsumexp(lq[:, None, :] + lk[None, :, :], dim=2)      # (B, T) log S(k_t, q)
    return torch.softmax(log_s, dim=1) @ V.double()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_neuron_astrocyte_network_equals_kernel_attention(seed):
    K, V, Q, f = _inputs(seed)
    net = A.NeuronAstrocyteNetwork(f)
    net.write(K, V)
    out = net.read(Q)
    assert torch.allclose(out["output"], A.kernel_attention(Q, K, V, f), atol=tol(torch.float64), rtol=0)
    assert torch.allclose(out["output"], _kernel_reference(Q, K, V, f), atol=tol(torch.float64), rtol=0)
    # the astrocyte's calcium is the summed key-query similarity Σ_t φ(q)·φ(k_t)
    S = f(Q) @ f(K).T
    assert torch.allclose(out["calcium"], S.sum(dim=1), atol=0, rtol=1e-12)
    # each process responds linearly to its hidden neuron's activity
    assert torch.allclose(out["processes"], out["hidden"] * f(K).sum(dim=0), atol=0, rtol=1e-12)
    assert torch.allclose(out["hidden"], f(Q), atol=0, rtol=1e-14)


def test_random_features_approach_softmax_attention():
    res = A.astrocyte_error_curve(n_features=(16, 256, 4096), seeds=(0, 1, 2))
    assert max(res["to_kernel"]) < 1e-10
    e = res["to_softmax"]
    assert e[0] > e[1] > e[2] and e[2] < 0.1
    assert e[0] / e[2] > 4                                        # ≈ √(4096/16) = 16 in expectation


def test_positive_random_features_are_unbiased():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 4, generator=g, dtype=torch.float64) / 2
    k = torch.randn(1, 4, generator=g, dtype=torch.float64) / 2
    f = A.random_features(4, 200_000, g)
    est = float(f(q) @ f(k).T)
    assert abs(est - math.exp(float(q @ k.T))) < 0.02


@pytest.mark.parametrize("dtype, scale", [(torch.float32, 6.0), (torch.float64, 20.0), (torch.float64, 40.0)])
def test_kernel_attention_stays_finite_at_large_scores(dtype, scale):
    """Regression: exp(x ωᵀ − |x|²/2) underflows for inputs of moderate norm (|x| ≈ 14 in float32,
    38 in float64), and the unshifted kernel attention returned 0/0 = NaN there."""
    K, V, Q, f = _inputs(3, d=8, scale=scale)
    K, V, Q = K.to(dtype), V.to(dtype), Q.to(dtype)
    f.omega = f.omega.to(dtype)
    naive = f(Q) @ f(K).T
    assert not bool(torch.isfinite(naive / naive.sum(1, keepdim=True)).all())   # the old computation
    out = A.kernel_attention(Q, K, V, f)
    assert bool(torch.isfinite(out).all())
    ref = _kernel_reference(Q, K, V, f)
    assert torch.allclose(out.double(), ref, atol=1e-4 if dtype == torch.float32 else 1e-9, rtol=0)
    net = A.NeuronAstrocyteNetwork(f)
    net.write(K, V)
    assert torch.allclose(net.read(Q)["output"].double(), ref, atol=1e-4 if dtype == torch.float32 else 1e-9)


def test_a_mask_leaves_memories_out_and_an_empty_one_reads_zero():
    """Regression: an all-False mask gave NaN weights; it now reads zero."""
    K, V, Q, f = _inputs(4)
    keep = torch.zeros(K.shape[0], dtype=torch.bool)
    keep[:7] = True
    masked = A.kernel_attention(Q, K, V, f, mask=keep)
    assert torch.allclose(masked, A.kernel_attention(Q, K[:7], V[:7], f), atol=tol(torch.float64), rtol=0)
    empty = A.kernel_attention(Q, K, V, f, mask=torch.zeros(K.shape[0], dtype=torch.bool))
    assert torch.equal(empty, torch.zeros_like(empty))


def test_comparison_reports_the_identities():
    res = A.astrocyte_comparison(m=256, n_features=(16, 256), seed=1)
    assert res["to_kernel"] < 1e-12 and res["to_calcium"] < 1e-12
    assert res["circuit"].shape == res["softmax"].shape == (16, 8)
    assert res["curve"]["to_softmax"][0] > res["curve"]["to_softmax"][1]


def test_bad_astrocyte_inputs():
    K, V, Q, f = _inputs()
    with pytest.raises(ValueError, match=r"Q: expected shape \(·, 5\)"):
        A.kernel_attention(torch.ones(2, 4, dtype=torch.float64), K, V, f)
    with pytest.raises(TypeError, match="Q"):
        A.kernel_attention(Q.float(), K, V, f)                    # the features are float64
    with pytest.raises(TypeError, match="features"):
        A.kernel_attention(Q, K, V, f.omega)
    net = A.NeuronAstrocyteNetwork(f)
    with pytest.raises(ValueError, match="write memories first"):
        net.read(Q)
    with pytest.raises(ValueError, match="V: expected 20 rows"):
        net.write(K, V[:3])
    with pytest.raises(ValueError, match="m"):
        A.random_features(5, 0)
    with pytest.raises(ValueError, match="K"):
        A.kernel_attention(Q, K[:0], V[:0], f)
