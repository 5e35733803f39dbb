"""Tests for kvlib.scaffold: MESH and Vector-HaSH as their code builds them, their committed
numbers within noise, the Hopfield baselines of MESH's comparison, and Box 1's noisy-cue test
(Chapter 4 §4.2). Source values: FieteLab/MESH (committed results), FieteLab/VectorHaSH (saved
notebook output); see kvlib/reproductions/ch4_substrates.py for where each comes from."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import tol
from kvlib import scaffold as sf
from kvlib.reproductions.ch4_substrates import (
    MESH_BASELINES,
    MESH_COMMITTED,
    MESH_NOISY_CAPACITY,
    MESH_SCAFFOLD_ERROR,
    VH_COMMITTED,
)


def pm1(P, n, seed=0):
    return sf._pm1((P, n), torch.Generator().manual_seed(seed))


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


def test_stable_states_grow_with_hidden_cells():
    res = sf.stable_state_sweep((50, 100, 400), seeds=(0, 1, 2))
    vh, me = res["stable_states"], res["mesh_stable_states"]
    assert vh == sorted(vh) and me == sorted(me)
    assert vh[0] < 0.5 * 3600 and vh[-1] > 0.99 * 3600         # a few hundred cells hold 3600 states
    assert me[-1] == 816


@pytest.mark.parametrize("n_h", sorted(MESH_SCAFFOLD_ERROR))
def test_mesh_scaffold_cleans_noisy_hidden_states_as_committed(n_h):
    """MESH Fig 3 (memscaffold_results): error left after one pass from 20 %-flipped states."""
    errs = [sf.scaffold_cleanup_error(sf.mesh(n_h, generator=torch.Generator().manual_seed(s)),
                                      generator=torch.Generator().manual_seed(50 + s)) for s in range(3)]
    mean = sum(errs) / 3
    assert abs(mean - MESH_SCAFFOLD_ERROR[n_h]) < {200: 0.025, 300: 0.006, 400: 0.003}[n_h]


# --------------------------------------------------------------------------- linear algebra
@pytest.mark.parametrize("shape", [(30, 50), (50, 30), (40, 40)])
def test_pinv_solve_matches_the_pseudoinverse(shape):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(*shape, generator=g, dtype=torch.float64)
    Y = torch.randn(shape[0], 7, generator=g, dtype=torch.float64)
    assert torch.allclose(sf.pinv_solve(X, Y), torch.linalg.pinv(X) @ Y, atol=1e-8)


def test_pinv_solve_rank_deficient_falls_back():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 5, generator=g, dtype=torch.float64) @ \
        torch.randn(5, 40, generator=g, dtype=torch.float64)
    Y = torch.randn(30, 3, generator=g, dtype=torch.float64)
    assert torch.allclose(sf.pinv_solve(X, Y), torch.linalg.pinv(X) @ Y, atol=1e-8)


def test_memory_binds_patterns_to_states_by_pseudoinverse():
    sc = sf.mesh(generator=torch.Generator().manual_seed(1))
    S = pm1(200, 816, 1)
    mem = sf.ScaffoldMemory(sc).store(S)
    assert torch.allclose(S.double() @ mem.W_sh.double(), sc.H[:200].double(), atol=1e-3)   # S W_sh = H
    assert torch.equal(mem.recall(S), S)                       # P < N_H: every pattern exactly
    out = mem.recall(sf.flip_bits(S, 0.05, torch.Generator().manual_seed(2)), details=True)
    assert torch.equal(out["g"], sc.codebook[:200])            # noisy cues land on the right labels


# --------------------------------------------------------------------------- cues and metrics
def test_flip_bits_rate_and_metrics():
    t = pm1(8, 5000)
    f = sf.flip_bits(t, 0.05, torch.Generator().manual_seed(1))
    assert abs(float(sf.feature_error(f, t).mean()) - 0.05) < 0.005
    assert torch.equal(sf.flip_bits(t, 0.0), t)
    assert torch.equal(sf.feature_error(torch.zeros_like(t), t), torch.full((8,), 0.5))   # 0 counts half
    assert sf.mutual_information(0.0) == 1.0 and sf.mutual_information(0.5) == 0.0
    h = -(0.1 * math.log2(0.1) + 0.9 * math.log2(0.9))
    assert abs(sf.mutual_information(0.1) - (1 - h)) < 1e-12
    assert abs(sf.mutual_information(0.9) - (1 - h)) < 1e-12  # a flipped copy is informative
    r = t.clone()
    r[:, :500] *= -1
    assert torch.allclose(sf.overlap(r, t), torch.full((8,), 0.8))


# --------------------------------------------------------------------------- MESH's committed numbers
@pytest.fixture(scope="module")
def mesh_clean():
    return sf.mesh_capacity(n_patterns=(300, 400, 500, 600, 816), n_sensory=(400, 816), n_runs=1, seed=3)


@pytest.mark.parametrize("ns", ["400", "816"])
def test_mesh_reproduces_its_committed_mutual_information(mesh_clean, ns):
    ref = MESH_COMMITTED[ns]["mutual_information"]
    for P, mi in zip(mesh_clean["n_patterns"], mesh_clean["mutual_information"][ns]):
        if P == 300:
            assert mi == 1.0                                   # perfect up to N_H
        elif P in ref:
            assert abs(mi - ref[P]) < 0.02, (ns, P, mi, ref[P])


def test_mesh_reproduces_its_committed_feature_error(mesh_clean):
    ref = MESH_COMMITTED["400"]["feature_error"]
    for P, e in zip(mesh_clean["n_patterns"], mesh_clean["feature_error"]["400"]):
        if P in ref:
            assert abs(e - ref[P]) < 0.012, (P, e, ref[P])
    assert max(mesh_clean["label_error"]["816"]) == 0.0       # N_s = 816: labels always right


def test_mesh_noisy_cues_reproduce_its_committed_capacities():
    """5 % cue flips, N_s = 816: ≤ 1 % error up to ~353 patterns (features), ~547 (labels)."""
    res = sf.mesh_capacity(n_patterns=(330, 375, 520, 575), n_sensory=(816,), n_runs=2, cue_flip=0.05, seed=4)
    fe, le = res["feature_error"]["816"], res["label_error"]["816"]
    assert fe[0] < 0.01 < fe[1] and 330 < MESH_NOISY_CAPACITY["feature"] + 1 < 375
    assert le[2] < 0.01 < le[3] and 520 < MESH_NOISY_CAPACITY["label"] + 1 < 575


# --------------------------------------------------------------------------- MESH's baselines
def test_hopfield_weights():
    X = pm1(30, 100).double()
    W = sf.hopfield_weights(X, "hebbian")
    expect = X.T @ X
    expect.fill_diagonal_(0)
    assert torch.equal(W, expect)
    P = sf.hopfield_weights(X, "pinv")                         # projection onto the patterns
    proj = X.T @ torch.linalg.solve(X @ X.T, X)
    proj.fill_diagonal_(0)
    assert torch.allclose(P, proj, atol=1e-10)
    assert torch.count_nonzero(sf.hopfield_weights(pm1(100, 100), "pinv")) == 0   # P = N: I − diag
    B = sf.hopfield_weights(X, "bounded", bound=1e9)           # no clipping: Hebbian / √N
    assert torch.allclose(B, expect / 10, atol=1e-12)
    assert float(sf.hopfield_weights(X, "bounded", bound=0.3).abs().max()) <= 0.3


def test_hopfield_recall_stops_at_fixed_points_and_counts_steps():
    W = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    cue = torch.tensor([[1.0, 1.0], [1.0, -1.0]])              # a fixed point and a two-cycle
    assert torch.equal(sf.hopfield_recall(W, cue, max_steps=1), torch.tensor([[1.0, 1.0], [-1.0, 1.0]]))
    assert torch.equal(sf.hopfield_recall(W, cue, max_steps=2), cue)   # the cycle keeps cycling
    assert torch.equal(sf.hopfield_recall(W, cue, max_steps=100), cue)


@pytest.mark.parametrize("name, rule, flip, loads, margin", [
    ("hopfield", "hebbian", 0.0, (60, 300), 0.03),
    ("pinv-hopfield-noisy", "pinv", 0.05, (300, 500), 0.02),
    ("pinv-hopfield-clean", "pinv", 0.0, (700, 708), 0.0),
    ("bounded-hopfield", "bounded", 0.0, (40, 200), 0.02),
])
def test_baselines_reproduce_mesh_committed_curves(name, rule, flip, loads, margin):
    res = sf.hopfield_curve(loads, N=708, rule=rule, cue_flip=flip, n_test=120, seed=5)
    for P, mi in zip(res["n_patterns"], res["mutual_information"]):
        ref = MESH_BASELINES[name][P]
        assert abs(mi - ref) <= max(margin, 0.01 if ref in (0.0, 1.0) else margin), (name, P, mi, ref)


def test_matched_hopfield_size():
    assert sf.matched_hopfield_size(816, 300, 18) == 708       # MESH's N
    assert sf.matched_hopfield_size(3600, 400, 50) == 1709


# --------------------------------------------------------------------------- Vector-HaSH's numbers
def test_vector_hash_reproduces_its_fig3_curve():
    g = torch.Generator().manual_seed(0)
    sc = sf.vector_hash(400, generator=g)
    S = sf._pm1((601, 3600), g)
    for P in (401, 601):
        mem = sf.ScaffoldMemory(sc).store(S[:P])
        mi = sf.mutual_information(float(sf.feature_error(mem.recall(S[:P]), S[:P]).mean()))
        ref = VH_COMMITTED["mutual_information"][P]
        assert abs(mi - ref) < 0.02, (P, mi, ref)


def test_vector_hash_basin_matches_its_notebook():
    r = sf.basin_curve(600, flips=(0.0, 0.2, 0.3), n_draws=1, seed=2)
    assert r["p_correct"][0] == 1.0
    for f, p in zip((0.2, 0.3), r["p_correct"][1:]):
        assert abs(p - VH_COMMITTED["basin_600"][f]) < (0.06 if f < 0.25 else 0.1)


# --------------------------------------------------------------------------- Box 1's noisy-cue test
@pytest.fixture(scope="module")
def sweep():
    loads = (100, 200, 300, 500, 700, 816)
    kw = dict(n_hippocampal=275, n_sensory=900, periods=(2, 3, 5), models=sf.SWEEP_MODELS, n_test=64,
              n_hopfield=708, seed=1)
    return sf.capacity_sweep(loads, cue_flip=0.05, **kw), sf.capacity_sweep(loads, cue_flip=0.0, **kw)


def test_sweep_records_its_setting(sweep):
    noisy, clean = sweep
    assert noisy["cue_flip"] == 0.05 and clean["cue_flip"] == 0.0
    assert noisy["n_tested"]["mesh"] == noisy["n_patterns"]     # scaffolds: every stored pattern
    assert max(noisy["n_tested"]["hopfield"]) == 64
    for m in sf.SWEEP_MODELS:
        for lo, mi, hi in zip(noisy["mi_low"][m], noisy["mutual_information"][m], noisy["mi_high"][m]):
            assert lo <= mi + 1e-12 and mi <= hi + 1e-12


def test_scaffolds_degrade_gracefully_where_hopfield_falls_off_a_cliff(sweep):
    noisy, _ = sweep
    mi = {m: dict(zip(noisy["n_patterns"], v)) for m, v in noisy["mutual_information"].items()}
    assert mi["mesh"][200] == 1.0 and mi["mesh"][500] > 0.4   # MESH: perfect, then partial recall
    assert mi["vector-hash"][500] > 0.25
    assert mi["hopfield"][200] < 0.15                          # classical: past its cliff at ~0.14 N
    assert mi["pinv-hopfield"][300] > 0.99 and mi["pinv-hopfield"][500] < 0.02   # cliff below N
    assert mi["bounded-hopfield"][200] < 0.1
    for m in ("mesh", "vector-hash"):
        assert mi[m][500] > mi["pinv-hopfield"][500] + 0.2


def test_noisy_cues_also_bring_the_scaffolds_to_a_cliff_as_patterns_approach_n_s(sweep):
    """With 5 % of cue bits flipped the feature→hidden pseudoinverse amplifies the noise as
    P approaches N_s: MESH and Vector-HaSH lose almost everything, though clean cues do not."""
    noisy, clean = sweep
    for m in ("mesh", "vector-hash"):
        n, c = noisy["mutual_information"][m][-1], clean["mutual_information"][m][-1]
        assert n < 0.06 and c > 0.15, (m, n, c)
    ref = MESH_COMMITTED["816"]["mutual_information"][816]
    assert clean["mutual_information"]["mesh"][-1] == pytest.approx(ref, abs=0.02)


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
    (dict(n_hippocampal=0), "n_hippocampal"), (dict(order="spiral"), "order"),
])
def test_bad_scaffold_arguments(kwargs, match):
    args = dict(n_hippocampal=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sf.vector_hash(**args)


def test_bad_memory_arguments():
    sc = sf.vector_hash(50, periods=(2, 3), generator=torch.Generator().manual_seed(0))   # 36 states
    with pytest.raises(ValueError, match="at most 36 patterns"):
        sf.ScaffoldMemory(sc).store(pm1(40, 100))
    with pytest.raises(ValueError, match="S: expected a 2-D"):
        sf.ScaffoldMemory(sc).store(torch.ones(10))
    mem = sf.ScaffoldMemory(sc).store(pm1(10, 100))
    with pytest.raises(ValueError, match=r"cue: expected shape \(B, 100\)"):
        mem.recall(torch.ones(2, 99))
    with pytest.raises(ValueError, match="target"):
        sf.feature_error(torch.ones(1, 3), torch.tensor([[1.0, 0.2, -1.0]]))
    with pytest.raises(ValueError, match="X"):
        sf.hopfield_weights(torch.full((3, 5), 0.5))
    with pytest.raises(ValueError, match="rule"):
        sf.hopfield_weights(pm1(3, 5), "oja")
    with pytest.raises(ValueError, match="k"):
        sf.khot_codebook(5, 6)
    with pytest.raises(ValueError, match="models"):
        sf.capacity_sweep((10,), models=("hopfield", "ferret"))
    with pytest.raises(ValueError, match="n_patterns: expected at most 816"):
        sf.mesh_capacity(n_patterns=(900,))
    with pytest.raises(ValueError, match="p: expected a probability"):
        sf.flip_bits(pm1(2, 3), 1.5)
    with pytest.raises(ValueError, match="scaffold: expected a MESH"):
        sf.scaffold_cleanup_error(sc)
