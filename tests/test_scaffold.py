"""Tests for kvlib.scaffold: Vector-HaSH / MESH scaffolds, the pseudoinverse, the Hopfield
baselines, the metrics and the no-cliff result of Chapter 4 §Scaffold memories."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import tol
from kvlib import scaffold as sf
from kvlib.plasticity import random_items


# --------------------------------------------------------------------------- codebooks and clean-up
def test_grid_codes_are_unique_and_one_hot_per_module():
    book = sf.grid_codebook((3, 4, 5))
    assert book.shape == (3600, 50)
    assert torch.equal(book[:, :9].sum(1), torch.ones(3600))
    assert torch.equal(book[:, 9:25].sum(1), torch.ones(3600))
    assert torch.equal(book[:, 25:].sum(1), torch.ones(3600))
    assert torch.unique(book, dim=0).shape[0] == 3600          # Chinese remainder theorem
    # position (x, y) = row x·60 + y; module 3 phase (x mod 3, y mod 3)
    x, y = 7, 11
    assert int(book[x * 60 + y, :9].argmax()) == (x % 3) * 3 + (y % 3)


def test_khot_codebook_is_distinct_k_hot():
    book = sf.khot_codebook(50, 3, 3600, torch.Generator().manual_seed(0))
    assert torch.equal(book.sum(1), torch.full((3600,), 3.0))
    assert torch.unique(book, dim=0).shape[0] == 3600


def test_wta_and_top_k():
    x = torch.tensor([[0.1, 0.9, 0.3, 0.2, 0.8, 0.0]])
    assert module_equal(sf.module_wta(x, (2, 4)), [[0, 1, 0, 0, 1, 0]])
    assert module_equal(sf.top_k(x, 3), [[0, 1, 1, 0, 1, 0]])


def module_equal(a, b):
    return torch.equal(a, torch.tensor(b, dtype=a.dtype))


# --------------------------------------------------------------------------- the scaffold
def test_every_grid_state_is_a_fixed_point_once_n_h_is_large():
    for seed in range(3):
        sc = sf.vector_hash(600, generator=torch.Generator().manual_seed(seed))
        assert sf.stable_state_count(sc) == 3600


def test_more_hippocampal_cells_more_stable_states_and_modules_help():
    res = sf.stable_state_sweep((50, 100, 200, 400), seeds=(0, 1, 2))
    vh, me = res["stable_states"], res["mesh_stable_states"]
    assert vh == sorted(vh) and me == sorted(me)
    assert vh[0] < 0.5 * 3600 and vh[-1] > 0.99 * 3600
    assert vh[0] > me[0] and vh[1] > me[1]                      # module-wise WTA beats global top-K when N_h is small


def test_scaffold_weights_follow_box1():
    g = torch.Generator().manual_seed(0)
    sc = sf.vector_hash(100, threshold=0.5, connectivity=0.6, generator=g)
    assert abs(float((sc.W_gh != 0).float().mean()) - 0.6) < 0.05
    assert torch.allclose(sc.H, torch.relu(sc.codebook @ sc.W_gh - 0.5))
    assert torch.allclose(sc.W_hg, sc.H.T @ sc.codebook / 3600, atol=tol(torch.float32))


def test_pseudoinverse_reproduces_stored_patterns_exactly_below_capacity():
    g = torch.Generator().manual_seed(1)
    sc = sf.vector_hash(600, generator=g)
    assert sf.stable_state_count(sc) == sc.n_states
    S = random_items(600, 1000, g)
    for P in (50, 300, 600):                                     # P ≤ N_h: H has full row rank
        mem = sf.VectorHaSHMemory(sc).store(S[:P])
        assert torch.equal(mem.recall(S[:P]), S[:P]), P
        # the learned maps satisfy S W_sh = H and H W_hs = S
        assert torch.allclose(S[:P] @ mem.W_sh, sc.H[:P], atol=1e-3)


def test_recall_runs_through_the_scaffold():
    """A cue the pseudoinverse maps slightly off its key is snapped back by the grid clean-up."""
    g = torch.Generator().manual_seed(1)
    sc = sf.vector_hash(600, generator=g)
    S = random_items(200, 1000, g)
    mem = sf.VectorHaSHMemory(sc).store(S)
    noisy = S.clone()
    flip = torch.rand(noisy.shape, generator=g) < 0.1
    noisy[flip] *= -1                                            # 10 % of cue bits flipped
    assert torch.equal(mem.recall(noisy), S)


# --------------------------------------------------------------------------- linear algebra
@pytest.mark.parametrize("shape", [(30, 50), (50, 30), (40, 40)])
def test_pinv_solve_matches_the_pseudoinverse(shape):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(*shape, generator=g, dtype=torch.float64)
    Y = torch.randn(shape[0], 7, generator=g, dtype=torch.float64)
    assert torch.allclose(sf.pinv_solve(X, Y), torch.linalg.pinv(X) @ Y, atol=1e-8)


def test_pinv_solve_rank_deficient_falls_back():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 5, generator=g, dtype=torch.float64) @ torch.randn(5, 40, generator=g, dtype=torch.float64)
    Y = torch.randn(30, 3, generator=g, dtype=torch.float64)
    assert torch.allclose(sf.pinv_solve(X, Y), torch.linalg.pinv(X) @ Y, atol=1e-8)


def test_pinv_hopfield_fixed_points_then_nothing():
    g = torch.Generator().manual_seed(0)
    X = random_items(90, 100, g)
    W = sf.pinv_hopfield_weights(X)
    assert torch.all(W.diagonal() == 0)
    from kvlib.plasticity import hopfield_recall
    assert torch.equal(hopfield_recall(W, X), X)                 # P < N: every pattern a fixed point
    assert torch.count_nonzero(sf.pinv_hopfield_weights(random_items(100, 100, g))) == 0   # P = N: W = I − diag


def test_matched_hopfield_size():
    n = sf.matched_hopfield_size(3600, 400, 50)
    assert abs(n * n - 2 * 400 * 3650) <= 2 * n


# --------------------------------------------------------------------------- metrics
def test_mutual_information_per_bit():
    t = random_items(4, 1000, torch.Generator().manual_seed(0))
    assert torch.allclose(sf.mutual_information_per_bit(t, t), torch.ones(4))
    assert torch.allclose(sf.mutual_information_per_bit(-t, t), torch.ones(4))   # a flipped copy is informative
    assert torch.allclose(sf.mutual_information_per_bit(torch.zeros_like(t), t), torch.zeros(4))
    r = t.clone()
    r[:, :100] *= -1                                             # ε = 0.1 exactly
    h = -(0.1 * math.log2(0.1) + 0.9 * math.log2(0.9))
    assert torch.allclose(sf.mutual_information_per_bit(r, t), torch.full((4,), 1 - h), atol=1e-6)
    assert torch.allclose(sf.overlap(r, t), torch.full((4,), 0.8))


# --------------------------------------------------------------------------- the no-cliff result
@pytest.fixture(scope="module")
def sweep():
    return sf.capacity_sweep((200, 400, 800, 1600, 2400, 3600), n_test=48, seed=1)


def test_vector_hash_is_perfect_up_to_n_h_then_degrades_gracefully(sweep):
    P = sweep["n_patterns"]
    mi = dict(zip(P, sweep["mutual_information"]["vector-hash"]))
    assert mi[200] > 0.99 and mi[400] > 0.99                     # seed 1: every scaffold state is stable
    ys = [mi[p] for p in (400, 800, 1600, 2400, 3600)]
    assert ys == sorted(ys, reverse=True)                        # a monotone decline ...
    assert mi[3600] > 0.03                                       # ... that never reaches zero
    total = sweep["bits_per_synapse"]["vector-hash"]             # information recalled in total
    for t in total[P.index(400):]:
        assert t > 0.4 * max(total)                              # no cliff: the total never collapses


def test_hopfield_networks_fall_off_a_cliff(sweep):
    P = sweep["n_patterns"]
    hop = dict(zip(P, sweep["mutual_information"]["hopfield"]))
    pinv = dict(zip(P, sweep["mutual_information"]["pinv-hopfield"]))
    vh = dict(zip(P, sweep["mutual_information"]["vector-hash"]))
    N = sweep["n_hopfield"]
    assert hop[200] > 0.95 and hop[400] < 0.2                    # classical: capacity ≈ 0.14 N ≈ 240
    tot = dict(zip(P, sweep["bits_per_synapse"]["hopfield"]))
    assert tot[400] < 0.25 * tot[200]                            # the total collapses past capacity
    assert pinv[1600] == 1.0 and all(pinv[p] == 0.0 for p in P if p >= N)
    for p in P:
        if p >= 400:
            assert vh[p] > hop[p]
        if p >= N:
            assert vh[p] > pinv[p]


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("periods", [(3, 0, 5), (3, -4), (2.5, 3), ("a",), (), 7, (True, 3)])
def test_bad_periods(periods):
    with pytest.raises(ValueError, match="periods"):
        sf.grid_codebook(periods)
    with pytest.raises(ValueError, match="periods"):
        sf.vector_hash(10, periods=periods)


@pytest.mark.parametrize("kwargs, match", [
    (dict(threshold=-0.1), "threshold"), (dict(threshold=math.inf), "threshold"),
    (dict(connectivity=0.0), "connectivity"), (dict(connectivity=1.2), "connectivity"),
    (dict(n_hippocampal=0), "n_hippocampal"),
])
def test_bad_scaffold_arguments(kwargs, match):
    args = dict(n_hippocampal=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sf.vector_hash(**args)


def test_bad_memory_arguments():
    sc = sf.vector_hash(50, periods=(2, 3), generator=torch.Generator().manual_seed(0))   # 36 states
    with pytest.raises(ValueError, match="at most 36 patterns"):
        sf.VectorHaSHMemory(sc).store(random_items(40, 100))
    with pytest.raises(ValueError, match="S: expected a 2-D"):
        sf.VectorHaSHMemory(sc).store(torch.ones(10))
    mem = sf.VectorHaSHMemory(sc).store(random_items(10, 100))
    with pytest.raises(ValueError, match=r"cue: expected shape \(B, 100\)"):
        mem.recall(torch.ones(2, 99))
    with pytest.raises(ValueError, match="target"):
        sf.mutual_information_per_bit(torch.ones(1, 3), torch.tensor([[1.0, 0.2, -1.0]]))
    with pytest.raises(ValueError, match="X"):
        sf.pinv_hopfield_weights(torch.full((3, 5), 0.5))
    with pytest.raises(ValueError, match="k"):
        sf.khot_codebook(5, 6, 1)
    with pytest.raises(ValueError, match="models"):
        sf.capacity_sweep((10,), models=("hopfield", "ferret"))
