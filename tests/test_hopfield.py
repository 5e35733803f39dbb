"""Tests for kvlib.hopfield: the weights of the classical networks (Hebbian with and without the
diagonal, projection, MESH's bounded rule) against their definitions, and the sign dynamics of
each source against plain reference loops written here from the textbook update rule."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import hopfield as H


def pm1(P, N, seed=0):
    return H.random_patterns(P, N, torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- reference dynamics
def _sync_reference(W, s, steps, keep_ties):
    """s ← sgn(sW) for every neuron at once, one cue at a time, until nothing changes."""
    s = s.clone()
    for _ in range(steps):
        h = s @ W
        new = torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, s if keep_ties else torch.zeros_like(s)))
        if torch.equal(new, s):
            break
        s = new
    return s


def _async_reference(W, S, sweeps, generator):
    """Hopfield (1982): neurons one at a time in a random order each sweep, zero field keeps."""
    S = S.clone()
    N = W.shape[0]
    for _ in range(sweeps):
        before = S.clone()
        for i in torch.randperm(N, generator=generator).tolist():
            for b in range(S.shape[0]):
                h = float(sum(W[i, j] * S[b, j] for j in range(N)))
                if h > 0:
                    S[b, i] = 1.0
                elif h < 0:
                    S[b, i] = -1.0
        if torch.equal(S, before):
            break
    return S


# --------------------------------------------------------------------------- weights
def test_random_patterns_are_balanced_signs():
    X = pm1(200, 300)
    assert set(X.unique().tolist()) == {-1.0, 1.0}
    assert abs(float(X.mean())) < 0.01                         # 60,000 fair signs: s.d. 0.004
    assert torch.equal(X, pm1(200, 300))                       # one seed, one draw


def test_hebbian_weights_are_the_sum_of_outer_products():
    X = pm1(7, 30)
    ref = sum(torch.outer(x, x) for x in X)                    # Σ_μ x_μᵀ x_μ
    assert torch.equal(H.hopfield_weights(X, diagonal=True), ref)          # bio-kvm: W_ii = P
    assert torch.all(H.hopfield_weights(X, diagonal=True).diagonal() == 7)
    W0 = H.hopfield_weights(X)
    assert torch.all(W0.diagonal() == 0) and torch.equal(W0 + 7 * torch.eye(30), ref)
    assert torch.allclose(H.hopfield_weights(X, normalize=True), W0 / 30, atol=1e-7, rtol=0)


def test_leading_axes_are_independent_networks_and_zero_rows_add_nothing():
    A, B = pm1(5, 20, 1), pm1(3, 20, 2)
    stacked = torch.stack([A, torch.cat([B, torch.zeros(2, 20)])])        # padded to 5 rows
    W = H.hopfield_weights(stacked, normalize=True)
    assert torch.equal(W[0], H.hopfield_weights(A, normalize=True))
    assert torch.equal(W[1], H.hopfield_weights(B, normalize=True))


def test_projection_rule_is_the_orthogonal_projection_onto_the_patterns():
    X = pm1(30, 100).double()
    P = H.hopfield_weights(X, "pinv", diagonal=True)
    ref = X.T @ torch.linalg.solve(X @ X.T, X)                 # Xᵀ(XXᵀ)⁻¹X
    assert torch.allclose(P, ref, atol=1e-10, rtol=0)
    assert torch.allclose(P @ P, P, atol=1e-10) and torch.allclose(P, P.T, atol=1e-12)
    assert torch.allclose(X @ P, X, atol=1e-10)                # every pattern is a fixed point of sWs
    full = H.hopfield_weights(pm1(100, 100).double(), "pinv", diagonal=True)
    assert torch.equal(full, torch.eye(100, dtype=torch.float64))          # P = N: the identity
    assert torch.count_nonzero(H.hopfield_weights(pm1(100, 100), "pinv")) == 0   # minus its diagonal


def test_bounded_rule_is_a_clipped_palimpsest():
    X = pm1(30, 100).double()
    big = H.hopfield_weights(X, "bounded", bound=1e9)          # never clipped: Hebbian / √N
    assert torch.allclose(big, H.hopfield_weights(X) / 10, atol=1e-12, rtol=0)
    W = H.hopfield_weights(X, "bounded", bound=0.3)
    assert float(W.abs().max()) <= 0.3 + 1e-15
    ref = torch.zeros(100, 100, dtype=torch.float64)
    for x in X:                                                # clip after every pattern (MESH)
        ref = (ref + torch.outer(x, x) / 10).clamp(-0.3, 0.3)
    ref.fill_diagonal_(0)
    assert torch.allclose(W, ref, atol=1e-12, rtol=0)
    half = H.hopfield_weights(X[:12], "bounded", bound=0.3)    # continuing from earlier weights
    assert torch.allclose(H.hopfield_weights(X[12:], "bounded", bound=0.3, start=half), W, atol=1e-12)


@pytest.mark.parametrize("rule", H.WEIGHT_RULES)
def test_integer_patterns_are_converted_exactly(rule):
    """Regression: integer ±1 patterns used to be truncated (the bounded rule's 1/√N steps on an
    integer matrix); now they give the float result."""
    X = pm1(12, 40)
    W_int = H.hopfield_weights(X.long(), rule)
    W_flt = H.hopfield_weights(X, rule)
    assert W_int.is_floating_point() and torch.allclose(W_int, W_flt, atol=1e-6, rtol=0)
    assert bool((W_int != 0).any())


# --------------------------------------------------------------------------- dynamics
@pytest.mark.parametrize("seed", (0, 1, 2))
@pytest.mark.parametrize("keep", (False, True))
def test_synchronous_recall_is_the_textbook_update(seed, keep):
    X = pm1(12, 60, seed)
    W = H.hopfield_weights(X)
    g = torch.Generator().manual_seed(10 + seed)
    cues = torch.where(torch.rand(8, 60, generator=g) < 0.3, 0.0, 1.0) * X[:8]   # cues with 0 entries
    out = H.recall(W, cues, max_steps=30, ties="keep" if keep else "zero")
    for c, o in zip(cues, out):
        assert torch.equal(o, _sync_reference(W, c[None], 30, keep)[0])


def test_asynchronous_recall_is_hopfields_update():
    X = pm1(4, 16, 3)
    W = H.hopfield_weights(X, normalize=True)
    cues = X * torch.where(torch.rand(4, 16, generator=torch.Generator().manual_seed(4)) < 0.2, -1.0, 1.0)
    out = H.recall(W, cues, max_steps=20, update="async", ties="keep",
                   generator=torch.Generator().manual_seed(5))
    ref = _async_reference(W, cues, 20, torch.Generator().manual_seed(5))
    assert torch.equal(out, ref)
    assert not torch.equal(out, cues)                          # the cues did move


def test_batched_networks_recall_like_separate_ones():
    Xs = torch.stack([pm1(20, 50, s) for s in range(3)])
    W = H.hopfield_weights(Xs, diagonal=True)
    flips = torch.rand(3, 20, 50, generator=torch.Generator().manual_seed(0)) < 0.15
    cues = Xs * torch.where(flips, -1.0, 1.0)
    out = H.recall(W, cues, stop="cycle")
    for r in range(3):
        assert torch.equal(out[r], H.recall(W[r], cues[r], stop="cycle"))


def test_few_patterns_are_fixed_points_and_are_completed():
    X = pm1(3, 200)
    for diagonal in (False, True):
        W = H.hopfield_weights(X, diagonal=diagonal)
        assert torch.equal(H.recall(W, X), X)
        cue = X * (torch.rand(3, 200, generator=torch.Generator().manual_seed(1)) >= 0.6)   # 40 % known
        assert torch.equal(H.recall(W, cue), X)


@pytest.mark.parametrize("seed", (0, 1, 2))
def test_with_its_diagonal_the_network_only_ends_on_fixed_points(seed):
    """W = XᵀX is positive semi-definite: synchronous dynamics have no two-cycles, so bio-kvm's
    'run until the state repeats' ends on a fixed point even far beyond capacity."""
    X = pm1(100, 40, seed)
    W = H.hopfield_weights(X, diagonal=True)
    cues = X * (torch.rand(100, 40, generator=torch.Generator().manual_seed(seed)) >= 0.6)
    S = H.recall(W, cues, stop="cycle")
    assert torch.equal(torch.sign(S @ W), S)


def test_stop_rules_on_a_two_cycle():
    W = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    cue = torch.tensor([[1.0, 1.0], [1.0, -1.0]])              # a fixed point and a two-cycle
    assert torch.equal(H.recall(W, cue, max_steps=1), torch.tensor([[1.0, 1.0], [-1.0, 1.0]]))
    assert torch.equal(H.recall(W, cue, max_steps=2), cue)     # MESH: the cycle keeps cycling
    assert torch.equal(H.recall(W, cue, max_steps=101), torch.tensor([[1.0, 1.0], [-1.0, 1.0]]))
    assert torch.equal(H.recall(W, cue, max_steps=101, stop="cycle"), cue)   # stops where it returns


def test_the_classical_network_collapses_near_its_critical_load():
    """Amit, Gutfreund & Sompolinsky (1985): retrieval holds up to α ≈ 0.14 and then collapses."""
    N = 500
    for alpha, lo, hi in ((0.05, 0.99, 1.0), (0.25, 0.0, 0.6)):
        X = pm1(int(alpha * N), N, 7)
        n = min(25, X.shape[0])
        flips = torch.where(torch.rand(n, N, generator=torch.Generator().manual_seed(8)) < 0.1, -1.0, 1.0)
        out = H.recall(H.hopfield_weights(X, normalize=True), X[:n] * flips, max_steps=20, ties="keep")
        m = float(H.overlap(out, X[:n]).mean())
        assert lo <= m <= hi, (alpha, m)


def test_overlap_is_the_normalised_dot_product():
    t = pm1(8, 1000)
    r = t.clone()
    r[:, :100] *= -1
    assert torch.allclose(H.overlap(r, t), torch.full((8,), 0.8))
    assert torch.equal(H.overlap(t.long(), t), torch.ones(8))


# --------------------------------------------------------------------------- the pseudoinverse solve
@pytest.mark.parametrize("shape", [(30, 50), (50, 30), (40, 40)])
def test_pinv_solve_matches_the_pseudoinverse(shape):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(*shape, generator=g, dtype=torch.float64)
    Y = torch.randn(shape[0], 7, generator=g, dtype=torch.float64)
    assert torch.allclose(H.pinv_solve(X, Y), torch.linalg.pinv(X) @ Y, atol=1e-8)


def test_pinv_solve_rank_deficient_falls_back():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 5, generator=g, dtype=torch.float64) @ \
        torch.randn(5, 40, generator=g, dtype=torch.float64)
    Y = torch.randn(30, 3, generator=g, dtype=torch.float64)
    assert torch.allclose(H.pinv_solve(X, Y), torch.linalg.pinv(X) @ Y, atol=1e-8)


# --------------------------------------------------------------------------- bad input
def test_bad_arguments_name_themselves():
    X = pm1(3, 5)
    with pytest.raises(ValueError, match="rule"):
        H.hopfield_weights(X, "oja")
    with pytest.raises(ValueError, match="normalize"):
        H.hopfield_weights(X, "pinv", normalize=True)
    with pytest.raises(ValueError, match="start"):
        H.hopfield_weights(X, "pinv", start=torch.zeros(5, 5))
    with pytest.raises(ValueError, match="patterns"):
        H.hopfield_weights(torch.ones(5))
    with pytest.raises(ValueError, match="patterns"):
        H.hopfield_weights(torch.tensor([[math.nan, 1.0]]))
    with pytest.raises(ValueError, match="bound"):
        H.hopfield_weights(X, "bounded", bound=-1.0)
    W = H.hopfield_weights(X)
    with pytest.raises(ValueError, match=r"cues: expected shape \(M, 5\)"):
        H.recall(W, torch.ones(2, 4))
    with pytest.raises(ValueError, match="weights"):
        H.recall(torch.zeros(3, 4), torch.ones(2, 4))
    with pytest.raises(ValueError, match="update"):
        H.recall(W, X, update="random")
    with pytest.raises(ValueError, match="stop"):
        H.recall(W, X, update="async", stop="cycle")
    with pytest.raises(ValueError, match="max_steps"):
        H.recall(W, X, max_steps=0)
    with pytest.raises(ValueError, match="states"):
        H.overlap(torch.ones(2, 3), torch.ones(2, 4))
