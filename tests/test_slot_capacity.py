"""Tests for kvlib.slot_capacity: Tyulmankov et al.'s (2021) Fig 2 benchmark — the slot memory
and their Hopfield baseline on their task — against their numbers, the named settings that
depart from them, and the capacity search.

Source numbers: what ``gyyang/bio-kvm``'s own code computes at its reference setting
(``configs.get_config('ref_seq' | 'ref_rand' | 'hopfield', stim_dim=N, hidden_size=N)``,
``plot_all_figs_helper._get_acc_vs_seqlen`` with ``repeat='auto'`` for Fig 2b and
``get_capacity(thres=0.98, repeat=1)`` × 50 for Fig 2c), run unchanged; the paper shows them
only as plots. The values are ``BIO_KVM_FIG2B`` / ``BIO_KVM_FIG2C`` of
``kvlib/reproductions/ch4_substrates.py``.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from kvlib import slot_capacity as sc
from kvlib.reproductions.ch4_substrates import BIO_KVM_FIG2B, BIO_KVM_FIG2C


# --------------------------------------------------------------------------- the task
def test_fig2_lengths_is_bio_kvm_grid():
    ref = np.unique(np.logspace(0, np.log10(180), 50, dtype=int)).tolist()
    assert sc.fig2_lengths(180, 50) == ref
    assert sc.fig2_lengths(40, 20) == np.unique(np.logspace(0, np.log10(40), 20, dtype=int)).tolist()


# --------------------------------------------------------------------------- the source's numbers
@pytest.fixture(scope="module")
def curves():
    """bio-kvm's Fig 2b protocol: their item counts, max(10, 180 // T) repeats."""
    out = {}
    for m in sc.MODELS:
        L, acc = sc.fig2_curve(m, 40)
        out[m] = dict(zip(L, acc.tolist()))
    return L, out


def test_fig2b_sequential_is_perfect_until_its_N_slots_are_full(curves):
    L, acc = curves
    assert min(acc["sequential"][T] for T in L if T <= 40) > 0.995
    assert acc["sequential"][45] < 0.97                          # 5 of 45 items overwritten


@pytest.mark.parametrize("model", sc.MODELS)
def test_fig2b_matches_bio_kvm(curves, model):
    """Within noise of bio-kvm's own run (both: ≥ 10 repeats, ≥ 180 recalled items per point)."""
    _, acc = curves
    margin = {"sequential": 0.01, "random": 0.03, "hopfield": 0.02}[model]
    for T, ref in BIO_KVM_FIG2B[model].items():
        assert abs(acc[model][T] - ref) < margin, (model, T, acc[model][T], ref)


def test_fig2b_orderings_of_the_source(curves):
    _, acc = curves
    seq, rnd, hop = acc["sequential"], acc["random"], acc["hopfield"]
    assert seq[21] > hop[21] + 0.1 and seq[21] > rnd[21] + 0.05    # within the slots: slots win
    assert hop[179] > seq[179] + 0.03 > rnd[179] + 0.06          # far beyond: Hopfield ahead
    assert hop[62] > rnd[62] + 0.05


@pytest.mark.parametrize("model", sc.MODELS)
def test_fig2c_capacities_match_bio_kvm(model):
    """Mean of 50 runs of bio-kvm's noisy search, at N = 20 and 40 (their 50 runs)."""
    margin = {"sequential": 2.0, "random": 2.5, "hopfield": 1.0}[model]
    for N, ref in BIO_KVM_FIG2C[model].items():
        runs = sc.capacity_runs(model, N, seeds=range(50))
        assert abs(sum(runs) / 50 - ref) < margin, (model, N, sum(runs) / 50, ref)


def test_random_factor_loses_items_stored_nowhere():
    """With p = 4/N and N slots, (1 − 4/N)^N ≈ e⁻⁴ of items get no slot; their read-out is the
    tie noise, right on half of the bits."""
    acc = float(sc.accuracy_curve("random", 40, 1, seeds=range(4000))[0])
    lost = 0.5 * (1 - 4 / 40) ** 40                              # 0.74 % of bits
    assert abs((1 - acc) - lost) < 0.004                         # binomial s.d. ≈ 0.001


# --------------------------------------------------------------------------- the named settings
def test_eq13_costs_the_random_factor_accuracy_and_not_the_sequential():
    L = [20, 40, 62, 105]
    for seeds in (range(0, 10), range(10, 20)):
        rep = sc.accuracy_curve("random", 40, 105, lengths=L, seeds=seeds)
        e13 = sc.accuracy_curve("random", 40, 105, lengths=L, seeds=seeds, value_rule="eq13")
        assert float((rep - e13).min()) > 0.02                   # shared value updates lose accuracy
    s_rep = sc.accuracy_curve("sequential", 40, 105, lengths=L, seeds=range(5))
    s_e13 = sc.accuracy_curve("sequential", 40, 105, lengths=L, seeds=range(5), value_rule="eq13")
    assert float((s_rep - s_e13).abs().max()) < 1e-3             # one slot per item: α ≈ 1, rules agree


def test_zero_diagonal_hopfield_falls_behind_the_slot_memory():
    """The textbook baseline (no self-connections) stops echoing the cue's known bits."""
    kw = dict(lengths=[20, 179], seeds=range(10))
    hop0 = sc.accuracy_curve("hopfield", 40, 179, hopfield_diagonal=False, **kw)
    hop = sc.accuracy_curve("hopfield", 40, 179, **kw)
    seq = sc.accuracy_curve("sequential", 40, 179, **kw)
    assert float(hop0[1]) < float(seq[1]) - 0.05 < float(hop[1]) - 0.1
    assert float(hop0[0]) < float(hop[0])


def test_half_slots_halve_the_sequential_capacity():
    half = sc.capacity_runs("sequential", 40, seeds=range(20), n_slots="half")
    assert 18 <= sum(half) / 20 <= 22                           # 20 slots (a few overwritten items tolerated)


# --------------------------------------------------------------------------- the capacity search
def test_capacity_search_is_bio_kvms(monkeypatch):
    """With a deterministic accuracy (≥ threshold iff T ≤ c) the search returns c, as bio-kvm's
    get_capacity does (doubling after each success, halving the gap after each failure)."""
    for c in (1, 2, 37, 64, 167):
        tested = []

        def fake(model, X, C, G, K0, V0, lengths, *args, c=c, tested=tested):
            tested.extend(lengths.tolist())
            return (lengths <= c).double()
        monkeypatch.setattr(sc, "_accuracy_at", fake)
        assert sc.capacity_runs("sequential", 100, seeds=[0]) == [c]
        assert tested[:2] == [2, 4] or c == 1                   # the search starts at 2 and doubles
    assert tested[-1] == 168                                     # c = 167: the last test is c + 1


def _returns_within(fn, seconds: float):
    box = {}

    def target():
        try:
            box["value"] = fn()
        except Exception as err:                                 # noqa: BLE001 - reported below
            box["error"] = err
    th = threading.Thread(target=target, daemon=True)
    th.start()
    th.join(seconds)
    assert not th.is_alive(), "did not return"
    return box


def test_capacity_search_is_bounded():
    """Regressions: these calls used to loop for ever."""
    box = _returns_within(lambda: sc.capacity_vs_size(dims=[8], models=["sequential"], seeds=[0],
                                                       threshold=0.5), 60)
    assert isinstance(box.get("error"), ValueError) and "max_items" in str(box["error"])
    box = _returns_within(lambda: sc.capacity_vs_size(dims=[8], models=["sequential"], seeds=[]), 60)
    assert isinstance(box.get("error"), ValueError) and "seeds" in str(box["error"])
    box = _returns_within(lambda: sc.capacity_runs("sequential", 8, seeds=[0], threshold=0.5,
                                                   max_items=1000), 60)
    assert isinstance(box.get("error"), ValueError)


def test_capacity_from_curve():
    assert sc.capacity_from_curve(torch.tensor([1.0, 0.99, 0.97, 0.99])) == 2
    assert sc.capacity_from_curve(torch.tensor([0.5, 1.0])) == 0
    assert sc.capacity_from_curve(torch.tensor([1.0, 1.0])) == 2


def test_lru_protects_rehearsed_items():
    res = sc.rehearsal_experiment(seeds=(0, 1, 2))
    assert res["lru"] > 0.97 and res["sequential"] < 0.8


def test_capacity_vs_size_reports_runs_means_and_slopes():
    res = sc.capacity_vs_size(dims=(20, 40), models=("sequential",), seeds=range(4))
    runs = res["runs"]["sequential"]
    assert [len(r) for r in runs] == [4, 4]
    assert res["capacity"]["sequential"] == [sum(r) / 4 for r in runs]
    c = res["capacity"]["sequential"]
    assert res["slope"]["sequential"] == pytest.approx((c[1] - c[0]) / 20)
    assert 0.8 < res["slope"]["sequential"] < 1.3                # about one item per slot


def test_fig2b_curves_holds_every_network():
    res = sc.fig2b_curves(dim=12, max_items=30, repeats=2)
    assert set(res["accuracy"]) == set(sc.MODELS) and res["n_items"] == sc.fig2_lengths(30)
    assert res["n_slots"] == 12 and all(len(v) == len(res["n_items"]) for v in res["accuracy"].values())


# --------------------------------------------------------------------------- bad input
def test_bad_experiment_arguments():
    with pytest.raises(ValueError, match="model"):
        sc.accuracy_curve("lsh", 8, 4)
    with pytest.raises(ValueError, match="n_slots"):
        sc.accuracy_curve("sequential", 8, 4, n_slots="quarter")
    with pytest.raises(TypeError, match="hopfield_diagonal"):
        sc.accuracy_curve("hopfield", 8, 4, hopfield_diagonal="yes")
    with pytest.raises(ValueError, match="lengths"):
        sc.accuracy_curve("sequential", 8, 4, lengths=[2, 9])
    with pytest.raises(ValueError, match="seeds"):
        sc.accuracy_curve("sequential", 8, 4, seeds=[])
    with pytest.raises(ValueError, match="device"):
        sc.accuracy_curve("sequential", 8, 4, device="tpu")
    with pytest.raises(ValueError, match="model"):
        sc.capacity_runs("lru", 8, seeds=[0])
    with pytest.raises(ValueError, match="threshold"):
        sc.capacity_runs("sequential", 8, seeds=[0], threshold=1.5)
    with pytest.raises(ValueError, match="repeats"):
        sc.fig2_curve("sequential", 8, 10, repeats="many")
    with pytest.raises(ValueError, match="threshold"):
        sc.capacity_from_curve(torch.ones(3), threshold=1.5)
