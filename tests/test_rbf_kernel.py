"""The radial basis kernel as a memory's similarity: what holds by construction (the smoother is a
softmax of the negative squared distance; on keys of equal norm it is softmax attention) and the
finding (with unequal key norms the RBF smoother beats the exponential kernel)."""
from __future__ import annotations

import pytest
import torch

from kvlib import kernels
from kvlib import rbf_kernel as rk


def _data(seed, N=400, d=64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, d, generator=g, dtype=torch.float64) / 8 * (0.5 + torch.rand(N, 1, generator=g,
                                                                                      dtype=torch.float64))


@pytest.mark.parametrize("seed,norm,h", [(0, 0.3, 0.5), (1, 3.0, 0.5), (2, 1.0, 2.0)])
def test_on_unit_keys_rbf_smoother_is_softmax_attention(seed, norm, h):
    assert rk.rbf_dot_gap(n_keys=150, d=16, query_norm=norm, bandwidth=h, seed=seed) < 1e-12


@pytest.mark.parametrize("kernel", list(rk.SMOOTHER_KERNELS))
def test_smoother_is_the_normalised_kernel(kernel):
    K, Q = _data(0, 50, 8) * 4, _data(1, 7, 8) * 4
    V = _data(2, 50, 3)
    h = 1.5
    k = {"exponential": (Q @ K.T / h ** 2).exp(),
         "rbf": (-torch.cdist(Q, K).square() / (2 * h ** 2)).exp(),
         "laplacian": (-torch.cdist(Q, K, p=1) / h).exp()}[kernel]
    want = (k / k.sum(1, keepdim=True)) @ V
    assert torch.allclose(rk.smoother_read(Q, K, V, kernel, h), want, rtol=1e-10, atol=1e-12)


def test_the_kernel_as_written_underflows_and_the_softmax_does_not():
    K = torch.tensor([[0., 0.], [3., 0.]])
    V = torch.tensor([[0.], [1.]])
    far = torch.tensor([[60., 0.]])                          # every kernel value exp(-1000+) = 0
    assert rk.naive_smoother_read(far, K, V, 1.0).item() == 0.0
    assert rk.smoother_read(far, K, V, "rbf", 1.0).item() == pytest.approx(1.0)   # nearest key's value
    near = torch.tensor([[1.0, 0.2]])
    assert torch.allclose(rk.naive_smoother_read(near, K, V, 1.0), rk.smoother_read(near, K, V, "rbf", 1.0))


def test_under_max_separation_rbf_ranks_as_euclidean():
    K, Q = _data(3, 100, 16).float(), _data(4, 30, 16).float()
    a = kernels.retrieve(Q, K, K, "rbf", "max", bandwidth=3.0)
    b = kernels.retrieve(Q, K, K, "euclidean", "max")
    assert torch.equal(a, b)


HS = {"exponential": (0.06, 0.125, 0.25), "rbf": (0.06, 0.125, 0.25), "laplacian": (0.125, 0.25, 0.5)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rbf_beats_exponential_when_key_norms_differ(seed):
    X = _data(seed).float()
    r = rk.smoother_capacity(X, (50, 400), noise=0.1, seed=seed, bandwidths=HS)
    assert r["accuracy"]["rbf"][-1] > r["accuracy"]["exponential"][-1] + 0.1
    assert r["norm_cv"] > 0.2


@pytest.mark.parametrize("seed", [0, 1])
def test_on_unit_norm_keys_rbf_and_exponential_coincide(seed):
    X = _data(seed).float()
    hs = {k: tuple(h / 10 for h in v) for k, v in HS.items()}
    r = rk.smoother_capacity(X, (50, 400), noise=0.1, seed=seed, unit_norm=True, bandwidths=hs)
    assert r["accuracy"]["rbf"] == r["accuracy"]["exponential"]
    assert r["bandwidth"]["rbf"] == r["bandwidth"]["exponential"]


def test_bad_arguments_name_themselves():
    X = _data(0, 10, 4).float()
    with pytest.raises(ValueError, match="kernel"):
        rk.smoother_read(X, X, X, "gaussian")
    with pytest.raises(ValueError, match="n_stored"):
        rk.smoother_capacity(X, (20,))
    with pytest.raises(ValueError, match="bandwidths"):
        rk.smoother_capacity(X, (5,), bandwidths={"cosine": (1.0,)})
