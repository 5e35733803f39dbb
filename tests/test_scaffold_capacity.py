"""Tests for kvlib.scaffold_capacity: MESH's and Vector-HaSH's committed numbers within noise,
the Hopfield baselines of MESH's comparison, and Box 1's noisy-cue test (Chapter 4 §4.2).
Source values: FieteLab/MESH (committed results), FieteLab/VectorHaSH (saved notebook output);
see kvlib/reproductions/ch4_substrates.py for where each comes from."""
from __future__ import annotations

import pytest
import torch

from kvlib import scaffold as sf
from kvlib import scaffold_capacity as sc
from kvlib.reproductions.ch4_substrates import (
    MESH_BASELINES,
    MESH_COMMITTED,
    MESH_NOISY_CAPACITY,
    MESH_SCAFFOLD_ERROR,
    VH_COMMITTED,
)


# --------------------------------------------------------------------------- the scaffolds alone
def test_stable_states_grow_with_hidden_cells():
    res = sc.stable_state_sweep((50, 100, 400), seeds=(0, 1, 2))
    vh, me = res["stable_states"], res["mesh_stable_states"]
    assert vh == sorted(vh) and me == sorted(me)
    assert vh[0] < 0.5 * 3600 and vh[-1] > 0.99 * 3600         # a few hundred cells hold 3600 states
    assert me[-1] == 816


@pytest.mark.parametrize("n_h", sorted(MESH_SCAFFOLD_ERROR))
def test_mesh_scaffold_cleans_noisy_hidden_states_as_committed(n_h):
    """MESH Fig 3 (memscaffold_results): error left after one pass from 20 %-flipped states."""
    errs = [sc.scaffold_cleanup_error(sf.mesh(n_h, generator=torch.Generator().manual_seed(s)),
                                      generator=torch.Generator().manual_seed(50 + s)) for s in range(3)]
    mean = sum(errs) / 3
    assert abs(mean - MESH_SCAFFOLD_ERROR[n_h]) < {200: 0.025, 300: 0.006, 400: 0.003}[n_h]


# --------------------------------------------------------------------------- MESH's committed numbers
@pytest.fixture(scope="module")
def mesh_clean():
    return sc.mesh_capacity(n_patterns=(300, 400, 500, 600, 816), n_sensory=(400, 816), n_runs=1, seed=3)


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
    res = sc.mesh_capacity(n_patterns=(330, 375, 520, 575), n_sensory=(816,), n_runs=2, cue_flip=0.05, seed=4)
    fe, le = res["feature_error"]["816"], res["label_error"]["816"]
    assert fe[0] < 0.01 < fe[1] and 330 < MESH_NOISY_CAPACITY["feature"] + 1 < 375
    assert le[2] < 0.01 < le[3] and 520 < MESH_NOISY_CAPACITY["label"] + 1 < 575


# --------------------------------------------------------------------------- MESH's baselines
@pytest.mark.parametrize("name, rule, flip, loads, margin", [
    ("hopfield", "hebbian", 0.0, (60, 300), 0.03),
    ("pinv-hopfield-noisy", "pinv", 0.05, (300, 500), 0.02),
    ("pinv-hopfield-clean", "pinv", 0.0, (700, 708), 0.0),
    ("bounded-hopfield", "bounded", 0.0, (40, 200), 0.02),
])
def test_baselines_reproduce_mesh_committed_curves(name, rule, flip, loads, margin):
    res = sc.hopfield_curve(loads, N=708, rule=rule, cue_flip=flip, n_test=120, seed=5)
    for P, mi in zip(res["n_patterns"], res["mutual_information"]):
        ref = MESH_BASELINES[name][P]
        assert abs(mi - ref) <= max(margin, 0.01 if ref in (0.0, 1.0) else margin), (name, P, mi, ref)


def test_matched_hopfield_size():
    assert sc.matched_hopfield_size(816, 300, 18) == 708       # MESH's N
    assert sc.matched_hopfield_size(3600, 400, 50) == 1709


# --------------------------------------------------------------------------- Vector-HaSH's numbers
def test_vector_hash_reproduces_its_fig3_curve():
    res = sc.vector_hash_curve((401, 601), n_hippocampal=400, seed=0)
    for P, mi in zip(res["n_patterns"], res["mutual_information"]):
        ref = VH_COMMITTED["mutual_information"][P]
        assert abs(mi - ref) < 0.02, (P, mi, ref)


def test_vector_hash_basin_matches_its_notebook():
    r = sc.basin_curve(600, flips=(0.0, 0.2, 0.3), n_draws=1, seed=2)
    assert r["p_correct"][0] == 1.0
    for f, p in zip((0.2, 0.3), r["p_correct"][1:]):
        assert abs(p - VH_COMMITTED["basin_600"][f]) < (0.06 if f < 0.25 else 0.1)


# --------------------------------------------------------------------------- Box 1's noisy-cue test
@pytest.fixture(scope="module")
def sweep():
    loads = (100, 200, 300, 500, 700, 816)
    kw = dict(n_hippocampal=275, n_sensory=900, periods=(2, 3, 5), models=sc.SWEEP_MODELS, n_test=64,
              n_hopfield=708, seed=1)
    return sc.capacity_sweep(loads, cue_flip=0.05, **kw), sc.capacity_sweep(loads, cue_flip=0.0, **kw)


def test_sweep_records_its_setting(sweep):
    noisy, clean = sweep
    assert noisy["cue_flip"] == 0.05 and clean["cue_flip"] == 0.0
    assert noisy["n_tested"]["mesh"] == noisy["n_patterns"]     # scaffolds: every stored pattern
    assert max(noisy["n_tested"]["hopfield"]) == 64
    for m in sc.SWEEP_MODELS:
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


def test_cleanup_errors_average_scaffolds():
    res = sc.cleanup_errors((300,), seeds=(0, 1))
    ref = [sc.scaffold_cleanup_error(sf.mesh(300, generator=torch.Generator().manual_seed(s)),
                                     generator=torch.Generator().manual_seed(100 + s)) for s in (0, 1)]
    assert res[300] == pytest.approx(sum(ref) / 2)
    assert abs(res[300] - MESH_SCAFFOLD_ERROR[300]) < 0.006


# --------------------------------------------------------------------------- bad input
def test_bad_experiment_arguments():
    with pytest.raises(ValueError, match="models"):
        sc.capacity_sweep((10,), models=("hopfield", "ferret"))
    with pytest.raises(ValueError, match="n_patterns: expected at most 816"):
        sc.mesh_capacity(n_patterns=(900,))
    with pytest.raises(ValueError, match="n_patterns"):
        sc.hopfield_curve((10, 10), N=20)
    with pytest.raises(ValueError, match="rule"):
        sc.hopfield_curve((10,), N=20, rule="oja")
    with pytest.raises(ValueError, match="cue_flip"):
        sc.hopfield_curve((10,), N=20, cue_flip=1.5)
    with pytest.raises(ValueError, match="device"):
        sc.mesh_capacity((10,), device="tpu")
    small = sf.vector_hash(50, periods=(2, 3), generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="scaffold: expected a MESH"):
        sc.scaffold_cleanup_error(small)
    with pytest.raises(ValueError, match="n_patterns"):
        sc.basin_curve(5000)
