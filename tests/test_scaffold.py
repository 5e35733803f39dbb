"""Tests for kvlib.scaffold: MESH and Vector-HaSH as their code builds them — codebooks,
clean-up, the fixed scaffold, pseudoinverse binding of feature patterns — and the scores both
codes use (Chapter 4 §4.2). Their capacity curves are tests/test_scaffold_capacity.py."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import tol
from kvlib import binary_channel as bc
from kvlib import hopfield
from kvlib import scaffold as sf


def pm1(P, n, seed=0):
    return hopfield.random_patterns(P, n, torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- codebooks and clean-up
@pytest.mark.parametrize("order", ["vector-hash", "raster"])
def test_grid_codes_are_unique_and_one_hot_per_module(order):
    book = sf.grid_codebook((3, 4, 5), order=order)
    assert book.shape == (3600, 50)
    for lo, hi in ((0, 9), (9, 25), (25, 50)):
        assert torch.equal(book[:, lo:hi].sum(1), torch.ones(3600))
    assert torch.unique(book, dim=0).shape[0] == 3600          # Chinese remainder theorem


def test_grid_orders_list_the_same_states():
    vh, raster = sf.grid_codebook((2, 3), order="vector-hash"), sf.grid_codebook((2, 3), order="raster")
    # Vector-HaSH's order: state n has cell n mod λ² active in each module
    assert [int(vh[7, :4].argmax()), int(vh[7, 4:].argmax())] == [7 % 4, 7 % 9]
    # raster: position (x, y) at row x·L + y, module cell (x mod λ)·λ + (y mod λ)
    x, y = 4, 5
    assert int(raster[x * 6 + y, 4:].argmax()) == (x % 3) * 3 + y % 3
    # same set of (module-1 cell, module-2 cell) combinations: all 4 × 9
    pairs = lambda b: {(int(r[:4].argmax()), int(r[4:].argmax())) for r in b}
    assert len(pairs(vh)) == len(pairs(raster)) == 36


def test_khot_codebook_is_every_three_hot_state():
    book = sf.khot_codebook(18, 3, torch.Generator().manual_seed(0))
    assert book.shape == (816, 18) and math.comb(18, 3) == 816
    assert torch.equal(book.sum(1), torch.full((816,), 3.0))
    assert torch.unique(book, dim=0).shape[0] == 816
    assert not torch.equal(book, sf.khot_codebook(18, 3, shuffle=False))   # shuffled, as MESH does


def test_wta_and_top_k():
    x = torch.tensor([[0.1, 0.9, 0.3, 0.2, 0.8, 0.0]])
    assert torch.equal(sf.module_wta(x, (2, 4)), torch.tensor([[0.0, 1, 0, 0, 1, 0]]))
    assert torch.equal(sf.top_k(x, 3), torch.tensor([[0.0, 1, 1, 0, 1, 0]]))


# --------------------------------------------------------------------------- the scaffolds
def test_vector_hash_weights_follow_its_code():
    sc = sf.vector_hash(400, generator=torch.Generator().manual_seed(0))
    # int(0.4 · 50 · 400) entries zeroed with replacement: exp(-0.4) ≈ 0.670 survive
    assert abs(float((sc.W_gh != 0).float().mean()) - math.exp(-0.4)) < 0.01
    assert sc.units == "relu" and sc.threshold == 0.5 and sc.modules == (9, 16, 25)
    assert torch.allclose(sc.H, torch.relu(sc.codebook @ sc.W_gh - 0.5))
    assert torch.allclose(sc.W_hg, sc.H.T @ sc.codebook / 3600, atol=tol(torch.float32))


def test_mesh_weights_follow_its_code():
    sc = sf.mesh(generator=torch.Generator().manual_seed(0))
    assert (sc.n_states, sc.n_g, sc.n_h, sc.k, sc.units) == (816, 18, 300, 3, "sign")
    assert torch.equal(sc.H, torch.sign(sc.codebook @ sc.W_gh))
    assert float((sc.W_gh != 0).float().mean()) == 1.0          # dense Gaussian projection
    assert torch.allclose(sc.W_hg, sc.H.T @ sc.codebook / 816, atol=tol(torch.float32))


# --------------------------------------------------------------------------- the memory
def test_memory_binds_patterns_to_states_by_pseudoinverse():
    sc = sf.mesh(generator=torch.Generator().manual_seed(1))
    S = pm1(200, 816, 1)
    mem = sf.ScaffoldMemory(sc).store(S)
    assert torch.allclose(S.double() @ mem.W_sh.double(), sc.H[:200].double(), atol=1e-3)   # S W_sh = H
    assert torch.equal(mem.recall(S), S)                       # P < N_H: every pattern exactly
    out = mem.recall(bc.flip_bits(S, 0.05, torch.Generator().manual_seed(2)), details=True)
    assert torch.equal(out["g"], sc.codebook[:200])            # noisy cues land on the right labels


# --------------------------------------------------------------------------- one state for the figure
def test_grid_state_is_one_cell_per_module_and_a_sparse_key():
    st = sf.grid_state((7, 11), 400, seed=0)
    assert [b.shape for b in st["modules"]] == [(3, 3), (4, 4), (5, 5)]
    assert all(float(b.sum()) == 1.0 for b in st["modules"])
    assert st["phases"] == [(1, 2), (3, 3), (2, 1)] and st["n_states"] == 3600
    for block, (x, y) in zip(st["modules"], st["phases"]):
        assert float(block[x, y]) == 1.0                           # the raster order: cell (x mod λ, y mod λ)
    assert 0.0 < st["active_fraction"] < 0.5 and abs(st["connectivity"] - math.exp(-0.4)) < 0.01


def test_integer_patterns_store_and_recall_like_float_ones():
    """Regression: integer ±1 patterns are converted exactly, so the memory equals the float one."""
    sc = sf.mesh(generator=torch.Generator().manual_seed(1))
    S = pm1(50, 816, 2)
    a = sf.ScaffoldMemory(sc).store(S.long()).recall(S.long())
    assert torch.equal(a, sf.ScaffoldMemory(sc).store(S).recall(S)) and torch.equal(a, S)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("periods", [(3, 0, 5), (3, -4), (2.5, 3), ("a",), (), 7, (True, 3)])
def test_bad_periods(periods):
    with pytest.raises((ValueError, TypeError), match="periods"):
        sf.grid_codebook(periods)
    with pytest.raises((ValueError, TypeError), match="periods"):
        sf.vector_hash(10, periods=periods)


@pytest.mark.parametrize("kwargs, match", [
    (dict(threshold=-0.1), "threshold"), (dict(threshold=math.inf), "threshold"),
    (dict(connectivity=0.0), "connectivity"), (dict(connectivity=1.2), "connectivity"),
    (dict(n_hippocampal=0), "n_hippocampal"), (dict(order="spiral"), "order"),
])
def test_bad_scaffold_arguments(kwargs, match):
    args = dict(n_hippocampal=10)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        sf.vector_hash(**args)


def test_bad_memory_arguments():
    sc = sf.vector_hash(50, periods=(2, 3), generator=torch.Generator().manual_seed(0))   # 36 states
    with pytest.raises(ValueError, match="at most 36 patterns"):
        sf.ScaffoldMemory(sc).store(pm1(40, 100))
    with pytest.raises(ValueError, match="S: expected 2 dimensions"):
        sf.ScaffoldMemory(sc).store(torch.ones(10))
    mem = sf.ScaffoldMemory(sc).store(pm1(10, 100))
    with pytest.raises(ValueError, match=r"cue: expected shape \(·, 100\)"):
        mem.recall(torch.ones(2, 99))
    with pytest.raises(ValueError, match="k"):
        sf.khot_codebook(5, 6)
    with pytest.raises(ValueError, match="units"):
        sf.Scaffold(sc.codebook, sc.W_gh, sc.W_hg, sc.H, "tanh", modules=sc.modules)
    with pytest.raises(ValueError, match="modules"):
        sf.Scaffold(sc.codebook, sc.W_gh, sc.W_hg, sc.H, "relu", modules=(4, 4))
    with pytest.raises(ValueError, match="W_hg"):
        sf.Scaffold(sc.codebook, sc.W_gh, sc.W_hg.T, sc.H, "relu", modules=sc.modules)
