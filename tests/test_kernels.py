"""kvlib.kernels: similarities, feature maps, separations and the composable read (Eqs 3-6)."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import tol
from kvlib import kernels as K
from kvlib import random_features as RF

ALL_SIMS = list(K.SIMILARITIES)
SAFE_SEPS = [("softmax", {}), ("max", {}), ("topk", {"k": 2}), ("threshold", {"threshold": 0.0}),
             ("polynomial", {"degree": 3}), ("identity", {})]


def _data(B=7, N=50, d=12, dv=5, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, d, generator=g, dtype=dtype), torch.randn(N, d, generator=g, dtype=dtype),
            torch.randn(N, dv, generator=g, dtype=dtype))


# --- similarities -------------------------------------------------------------------------

def test_similarities_match_their_definitions():
    q, k, _ = _data()
    d = q.shape[1]
    diff = q[:, None, :] - k[None, :, :]                                   # (B, N, d), reference only
    ref = {
        "dot": q @ k.T,
        "scaled_dot": q @ k.T / math.sqrt(d),
        "cosine": (q / q.norm(dim=1, keepdim=True)) @ (k / k.norm(dim=1, keepdim=True)).T,
        "euclidean": -diff.square().sum(-1),
        "manhattan": -diff.abs().sum(-1),
        "rbf": torch.exp(-diff.square().sum(-1) / 2.0),
        "elu1": (torch.nn.functional.elu(q) + 1) @ (torch.nn.functional.elu(k) + 1).T,
        # Millidge et al.'s (functions.py): L1-normalised dot product, reciprocal distances
        "l1_dot": (q / q.abs().sum(1, keepdim=True)) @ (k / k.abs().sum(1, keepdim=True)).T,
        "inverse_euclidean": 1.0 / diff.square().sum(-1),
        "inverse_manhattan": 1.0 / diff.abs().sum(-1),
    }
    for name, want in ref.items():
        torch.testing.assert_close(K.SIMILARITIES[name](q, k), want, atol=1e-10, rtol=1e-10, msg=name)
    torch.testing.assert_close(K.rbf(q, k, bandwidth=2.0), torch.exp(-diff.square().sum(-1) / 8.0))


def test_dpfp_features_shape_and_definition():
    x = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    r = torch.tensor([1.0, 0.0, 0.0, 2.0], dtype=torch.float64)             # [relu(x), relu(-x)]
    for nu in (1, 2, 3):
        phi = K.dpfp_features(x, nu)
        assert phi.shape == (1, 2 * nu * 2)
        want = torch.cat([r * torch.roll(r, j) for j in range(1, nu + 1)])
        torch.testing.assert_close(phi[0], want)
    assert (K.dpfp_features(torch.randn(20, 8), 2) >= 0).all()


def test_feature_kernel_is_eq4():
    q, k, _ = _data()
    S = K.feature_kernel(K.elu_plus_one)
    torch.testing.assert_close(S(q, k), K.elu1(q, k), atol=1e-12, rtol=0)
    torch.testing.assert_close(K.feature_kernel(K.identity_features)(q, k), K.dot(q, k))


# --- separations --------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=2, max_size=40, unique=True), st.integers(0, 10**6))
def test_softmax_at_huge_beta_is_max(values, seed):
    x = torch.tensor(values, dtype=torch.float32)
    top2 = x.topk(2).values
    if float(top2[0] - top2[1]) < 1e-2:                                    # need a clear winner
        return
    x = x[torch.randperm(len(values), generator=torch.Generator().manual_seed(seed))].unsqueeze(0)
    torch.testing.assert_close(K.softmax(x, beta=1e4), K.hardmax(x), atol=1e-6, rtol=0)


def test_softmax_matches_torch_and_is_uniform_at_beta_zero():
    x = torch.randn(4, 30, dtype=torch.float64)
    torch.testing.assert_close(K.softmax(x, beta=2.5), torch.softmax(2.5 * x, dim=-1), atol=1e-12, rtol=0)
    torch.testing.assert_close(K.softmax(x, beta=0.0), torch.full_like(x, 1 / 30))
    x16 = x.to(torch.float16)
    out16 = K.softmax(x16, beta=3.0)
    assert out16.dtype == torch.float16 and torch.isfinite(out16).all()


def test_separations_do_not_mutate_by_default():
    x = torch.randn(3, 10)
    before = x.clone()
    for name, params in SAFE_SEPS:
        K.SEPARATIONS[name](x, **params)
    assert torch.equal(x, before)


def test_topk_and_threshold_and_polynomial():
    x = torch.tensor([[0.1, 0.9, 0.5, -1.0]])
    torch.testing.assert_close(K.topk(x, k=2), torch.tensor([[0.0, 0.5, 0.5, 0.0]]))
    torch.testing.assert_close(K.topk(x, k=1), K.hardmax(x))
    torch.testing.assert_close(K.threshold(x, threshold=0.5), torch.tensor([[0.0, 1.0, 1.0, 0.0]]))
    torch.testing.assert_close(K.polynomial(x, degree=3), torch.tensor([[0.001, 0.729, 0.125, 0.0]]))


# --- retrieve -----------------------------------------------------------------------------

def _reference_weights(scores: torch.Tensor, sep: str, beta: float, params: dict) -> torch.Tensor:
    """Each separation written from its definition (not through kvlib), then normalised (Eq 3's ∝)."""
    x = beta * scores
    if sep == "softmax":
        return torch.softmax(x, dim=-1)
    if sep == "max":
        w = torch.nn.functional.one_hot(x.argmax(-1), x.shape[-1]).to(x.dtype)
    elif sep == "topk":
        w = torch.zeros_like(x).scatter(-1, x.topk(params["k"], dim=-1).indices, 1.0)
    elif sep == "threshold":
        w = (x >= params["threshold"]).to(x.dtype)
    elif sep == "polynomial":
        w = x.clamp(min=0) ** params["degree"]
    else:
        w = x
    total = w.sum(-1, keepdim=True)
    return w / torch.where(total != 0, total, torch.ones_like(total))


def test_retrieve_matches_the_definitions_of_eq3():
    """v̂ = σ(β S(K, q)) V / Σσ with S from its formula and σ from its definition (Eqs 3-6)."""
    q, k, v = _data()
    diff = q[:, None, :] - k[None, :, :]
    ref_scores = {"dot": q @ k.T, "euclidean": -diff.square().sum(-1), "manhattan": -diff.abs().sum(-1),
                  "cosine": (q / q.norm(dim=1, keepdim=True)) @ (k / k.norm(dim=1, keepdim=True)).T}
    for sim, scores in ref_scores.items():
        for sep, params in SAFE_SEPS:
            out = K.retrieve(q, k, v, sim, sep, beta=0.7, normalize=True, **params)
            want = _reference_weights(scores, sep, 0.7, params) @ v
            torch.testing.assert_close(out, want, atol=1e-10, rtol=1e-9, msg=f"{sim}/{sep}")


def test_normalize_scores_is_millidges_order_of_operations():
    """Their general_update_rule: scores / Σ scores, then σ (softmax with its parameter), then / Σ."""
    g = torch.Generator().manual_seed(0)
    scores = torch.rand(4, 30, generator=g, dtype=torch.float64) + 0.1
    got = K.separate(scores, "softmax", beta=1000.0, normalize=True, normalize_scores=True)
    torch.testing.assert_close(got, torch.softmax(1000.0 * scores / scores.sum(1, keepdim=True), -1),
                               atol=1e-12, rtol=0)
    # a polynomial is homogeneous: normalising the scores first changes nothing after the last step
    first = K.separate(scores, "polynomial", degree=3, normalize=True, normalize_scores=True)
    torch.testing.assert_close(first, K.separate(scores, "polynomial", degree=3, normalize=True),
                               atol=1e-12, rtol=0)


def test_retrieve_chunks_and_single_query_agree():
    q, k, v = _data(B=37)
    full = K.retrieve(q, k, v, "euclidean", "softmax", beta=0.3)
    for chunk in (1, 5, 36, 100):
        torch.testing.assert_close(K.retrieve(q, k, v, "euclidean", "softmax", beta=0.3, chunk_size=chunk),
                                   full, atol=1e-12, rtol=0)
    torch.testing.assert_close(K.retrieve(q[3], k, v, "euclidean", "softmax", beta=0.3), full[3])


def test_retrieve_softmax_large_beta_equals_max_on_stored_keys():
    q, k, v = _data(dtype=torch.float32)
    noisy = k[:7] + 0.01 * torch.randn(7, k.shape[1], generator=torch.Generator().manual_seed(3))
    hard = K.retrieve(noisy, k, v, "euclidean", "max")
    torch.testing.assert_close(hard, v[:7])
    torch.testing.assert_close(K.retrieve(noisy, k, v, "euclidean", "softmax", beta=1e4), hard)


def test_max_fast_path_matches_weights_path():
    q, k, v = _data()
    out, w = K.retrieve(q, k, v, "cosine", "max", return_weights=True)
    torch.testing.assert_close(out, K.retrieve(q, k, v, "cosine", "max"))
    torch.testing.assert_close(out, w @ v)


def test_monotone_similarities_agree_under_max():
    q, k, v = _data(dtype=torch.float32)
    torch.testing.assert_close(K.retrieve(q, k, v, "rbf", "max", bandwidth=3.0),
                               K.retrieve(q, k, v, "euclidean", "max"))
    torch.testing.assert_close(K.retrieve(q, k, v, "scaled_dot", "max"), K.retrieve(q, k, v, "dot", "max"))


@pytest.mark.parametrize("scale", [1e15, 1e-30])
@pytest.mark.parametrize("beta", [1e-4, 1.0, 1e4])
def test_no_nan_or_inf_for_huge_tiny_inputs_and_large_beta(scale, beta):
    q, k, v = _data(dtype=torch.float32)
    for sim in ALL_SIMS:
        s = min(scale, 1e7) if sim == "dpfp" else scale      # DPFP squares its products: stay in range
        for sep, params in SAFE_SEPS:
            out = K.retrieve(q * s, k * s, v, sim, sep, beta=beta, normalize=True, **params)
            assert torch.isfinite(out).all(), (sim, sep, scale, beta)


def test_softmax_survives_infinite_and_nan_scores():
    x = torch.tensor([[float("inf"), 0.0, -float("inf")], [float("nan"), 1.0, 2.0]])
    out = K.softmax(x, beta=1e4)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.sum(-1), torch.ones(2))
    torch.testing.assert_close(out[0], torch.tensor([1.0, 0.0, 0.0]))


def test_retrieve_accepts_callables():
    q, k, v = _data()
    out = K.retrieve(q, k, v, lambda a, b: -torch.cdist(a, b), lambda s: torch.softmax(s, -1))
    want = torch.softmax(-torch.cdist(q, k), -1) @ v
    torch.testing.assert_close(out, want)


# --- errors -------------------------------------------------------------------------------

def _raises(match, fn, *a, **kw):
    with pytest.raises((ValueError, TypeError), match=match):
        fn(*a, **kw)


def test_errors_name_argument_and_list_choices():
    q, k, v = _data()
    _raises(r"similarity: expected one of dot, scaled_dot, cosine.*got 'cosin'", K.retrieve, q, k, v, "cosin")
    _raises(r"separation: expected one of identity, softmax, max.*got 'argmax'", K.retrieve, q, k, v,
            "dot", "argmax")
    _raises(r"keys: expected dimension d = 12", K.retrieve, q, k[:, :5], v)
    _raises(r"values: expected shape \(\.\.\., N, d_v\) .*N = 50", K.retrieve, q, k, v[:3])
    _raises(r"keys: expected dtype torch.float64", K.retrieve, q, k.float(), v)
    _raises(r"values: expected dtype torch.float64", K.retrieve, q, k, v.float())
    _raises(r"keys: expected a tensor with data, got one on the meta device", K.retrieve, q, k.to("meta"), v)
    _raises(r"queries: expected a floating-point tensor", K.retrieve, q.long(), k, v)
    _raises(r"bandwidth: expected a number > 0, got 0", K.retrieve, q, k, v, "rbf", bandwidth=0)
    _raises(r"bandwidth: expected a number > 0, got -1.0", K.rbf, q, k, bandwidth=-1.0)
    _raises(r"degree: expected a number > 0, got 0", K.retrieve, q, k, v, "dot", "polynomial",
            degree=0)
    _raises(r"nu: expected an integer > 0, got 0", K.dpfp_features, q, 0)
    _raises(r"beta: expected a number >= 0, got -1", K.retrieve, q, k, v, beta=-1)
    _raises(r"beta: expected a finite number >= 0, got inf", K.softmax, q, beta=math.inf)
    _raises(r"k: expected at most the number of memories N = 50", K.retrieve, q, k, v, "dot", "topk", k=51)
    _raises(r"params: .*accept the settings: bandwidth; got bandwith", K.retrieve, q, k, v, "rbf",
            bandwith=2.0)
    _raises(r"n_features: expected an integer > 0", K.PositiveRandomFeatures, 4, 0)


# --- random features ----------------------------------------------------------------------

def test_random_fourier_features_converge_to_rbf():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=g, dtype=torch.float64)
    exact = K.rbf(x, x, bandwidth=1.5)
    errs = []
    for m in (64, 1024, 16384):
        phi = K.RandomFourierFeatures(6, m, bandwidth=1.5, generator=g, dtype=torch.float64)
        errs.append(float((phi(x) @ phi(x).T - exact).norm() / exact.norm()))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < errs[0] / 8          # Monte Carlo: error ∝ 1/√m, so 256× the features ≈ 1/16
    assert errs[2] < 0.05


@pytest.mark.parametrize("orthogonal", [True, False])
def test_positive_random_features_are_unbiased_for_exp_kernel(orthogonal):
    g = torch.Generator().manual_seed(1)
    # Small norms: the estimator's relative variance per feature is exp(4‖x‖²) - 1.
    x = 0.15 * torch.randn(10, 8, generator=g, dtype=torch.float64)
    feats = K.PositiveRandomFeatures(8, 20000, orthogonal=orthogonal, generator=g, dtype=torch.float64)
    phi = feats(x)
    assert (phi > 0).all()
    torch.testing.assert_close(phi @ phi.T, torch.exp(x @ x.T), rtol=0.05, atol=0)


def test_favor_attention_error_falls_with_features():
    res = K.random_feature_error([16, 256, 4096], seeds=2, rff=False)
    e = res["rel_error"]
    assert e[0] > e[1] > e[2]
    assert e[2] < e[0] / 6                # Monte Carlo rate: 256× the features, ≈ 1/16 the error
    assert e[2] < 0.08


def test_orthogonal_directions_are_orthogonal_within_blocks():
    w = RF._gaussian_directions(8, 16, True, torch.Generator().manual_seed(0), "cpu", torch.float64)
    block = w[:8] / w[:8].norm(dim=1, keepdim=True)
    torch.testing.assert_close(block @ block.T, torch.eye(8, dtype=torch.float64), atol=1e-12, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_result_on_gpu():
    q, k, v = _data(dtype=torch.float32)
    cpu = K.retrieve(q, k, v, "euclidean", "softmax", beta=0.5)
    gpu = K.retrieve(q.cuda(), k.cuda(), v.cuda(), "euclidean", "softmax", beta=0.5)
    torch.testing.assert_close(gpu.cpu(), cpu, atol=tol(torch.float32, "cuda"), rtol=1e-4)
