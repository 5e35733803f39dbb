"""Tests for kvlib.plasticity: the three-factor rules of Eqs 12–13, the Hopfield baseline, and
the qualitative results of Chapter 4 §Three-factor learning."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import tol
from kvlib import plasticity as pl


def _filled(local: str, n_slots: int = 6, d: int = 10, n_items: int = 4, seed: int = 0, **kw) -> pl.SlotMemory:
    g = torch.Generator().manual_seed(seed)
    mem = pl.SlotMemory(n_slots, d, local=local, generator=g, **kw)
    for x in pl.random_items(n_items, d, g):
        mem.write(x)
    return mem


# --------------------------------------------------------------------------- the rules
@pytest.mark.parametrize("local", pl.LOCAL_FACTORS)
def test_one_write_changes_exactly_the_selected_slots(local):
    mem = _filled(local, p_random=0.3)
    K0, V0 = mem.keys.clone(), mem.values.clone()
    x = pl.random_items(1, 10, torch.Generator().manual_seed(9))[0]
    gamma, _ = mem.write(x)
    changed = ((mem.keys != K0).any(dim=1) | (mem.values != V0).any(dim=1)).float()
    assert torch.equal(changed, gamma * (K0 != x).any(dim=1).float())
    if local != "random":
        assert int(gamma.sum()) == 1
    # one-shot key write (Eq 12 with rate 1) puts the item in every selected slot
    assert torch.equal(mem.keys[gamma > 0], x.expand(int(gamma.sum()), -1))


@pytest.mark.parametrize("local", pl.LOCAL_FACTORS)
def test_global_factor_off_changes_nothing(local):
    mem = _filled(local, p_random=0.5)
    state = (mem.keys.clone(), mem.values.clone(), mem.last_used.clone(), mem.pointer, mem.clock)
    for x in pl.random_items(5, 10, torch.Generator().manual_seed(3)):
        mem.write(x, mu=0)
    assert torch.equal(mem.keys, state[0]) and torch.equal(mem.values, state[1])
    assert torch.equal(mem.last_used, state[2]) and (mem.pointer, mem.clock) == state[3:]


def test_eq12_and_eq13_partial_rates_float64():
    """ΔK_i = η_K γ_i (x − K_i); ΔV_i = η_V γ_i α_i (v − V_i) with α = softmax(β K x) after the key write."""
    g = torch.Generator().manual_seed(1)
    mem = pl.SlotMemory(5, 7, d_value=3, lr_key=0.3, lr_value=0.6, beta=0.4, dtype=torch.float64)
    mem.keys.copy_(torch.randn(5, 7, generator=g, dtype=torch.float64))
    mem.values.copy_(torch.randn(5, 3, generator=g, dtype=torch.float64))
    K0, V0 = mem.keys.clone(), mem.values.clone()
    x = torch.randn(7, generator=g, dtype=torch.float64)
    v = torch.randn(3, generator=g, dtype=torch.float64)
    gamma = torch.tensor([0., 1., 0., 1., 0.], dtype=torch.float64)
    _, alpha = mem.write(x, v, gamma=gamma)
    K1 = K0 + 0.3 * gamma[:, None] * (x - K0)
    a = torch.softmax(0.4 * K1 @ x, dim=0)
    V1 = V0 + 0.6 * (gamma * a)[:, None] * (v - V0)
    assert torch.allclose(mem.keys, K1, atol=tol(torch.float64), rtol=0)
    assert torch.allclose(alpha, a, atol=tol(torch.float64), rtol=0)
    assert torch.allclose(mem.values, V1, atol=tol(torch.float64), rtol=0)


def test_sequential_and_lru_pick_the_right_slots():
    seq = pl.SlotMemory(3, 4, local="sequential")
    lru = pl.SlotMemory(3, 4, local="lru")
    items = pl.random_items(5, 4, torch.Generator().manual_seed(0))
    picks = {"seq": [], "lru": []}
    for x in items:
        picks["seq"].append(int(seq.write(x)[0].argmax()))
        picks["lru"].append(int(lru.write(x)[0].argmax()))
    assert picks["seq"] == [0, 1, 2, 0, 1]
    assert picks["lru"] == [0, 1, 2, 0, 1]                       # writes only: LRU = sequential
    # a read touches slot 2 (holding item 2), so LRU now skips it; sequential does not
    lru.recall(items[2:3] * 1.0, touch=True)
    seq.recall(items[2:3] * 1.0, touch=True)
    assert int(lru.local_factor().argmax()) == 0                 # slot 2 refreshed, slot 0 is now the oldest
    assert int(seq.local_factor().argmax()) == 2


def test_random_factor_rate():
    g = torch.Generator().manual_seed(0)
    mem = pl.SlotMemory(50, 4, local="random", p_random=0.2, generator=g)
    draws = torch.stack([mem.local_factor() for _ in range(400)])
    assert abs(float(draws.mean()) - 0.2) < 0.01                # 20,000 Bernoulli draws


def test_recall_is_softmax_attention():
    mem = _filled("sequential", beta=0.7)
    q = torch.randn(3, 10, generator=torch.Generator().manual_seed(5))
    ref = torch.softmax(0.7 * q @ mem.keys.T, dim=1) @ mem.values
    assert torch.allclose(mem.recall(q), ref, atol=tol(torch.float32), rtol=0)


# --------------------------------------------------------------------------- Hopfield baseline
def test_hopfield_stores_few_patterns_and_forgets_many():
    X = pl.random_items(3, 200, torch.Generator().manual_seed(0))
    W = pl.hopfield_weights(X)
    assert torch.all(W.diagonal() == 0) and torch.allclose(W, W.T)
    assert torch.equal(pl.hopfield_recall(W, X), X)             # 3 patterns in 200 neurons: fixed points
    cue = pl.partial_cue(X, 0.6, torch.Generator().manual_seed(1))
    assert torch.equal(pl.hopfield_recall(W, cue), X)           # and completed from 40 % of their bits
    Xbig = pl.random_items(100, 200, torch.Generator().manual_seed(2))
    acc = pl.bit_accuracy(pl.hopfield_recall(pl.hopfield_weights(Xbig), Xbig), Xbig).mean()
    assert acc < 0.9                                             # α = 0.5 ≫ 0.138: stored patterns are lost


def test_partial_cue_zeroes_the_requested_fraction():
    X = pl.random_items(20, 40, torch.Generator().manual_seed(0))
    C = pl.partial_cue(X, 0.6, torch.Generator().manual_seed(1))
    assert torch.all((C == 0).sum(dim=1) == 24)
    assert torch.equal(C[C != 0], X[C != 0])


# --------------------------------------------------------------------------- the chapter's results
@pytest.fixture(scope="module")
def curves():
    return {m: pl.accuracy_curve(m, 40, 60) for m in pl.LOCAL_FACTORS + ("hopfield",)}


def test_slot_memories_are_perfect_until_the_slots_are_full(curves):
    for m in ("sequential", "lru"):
        assert float(curves[m][:20].min()) > 0.995               # 20 slots, 20 items
        assert float(curves[m][59]) < 0.85                       # 60 items: 40 overwritten


def test_orderings(curves):
    seq, rnd, hop = curves["sequential"], curves["random"], curves["hopfield"]
    assert torch.equal(seq, curves["lru"])                       # writes only: same slots chosen
    assert bool((seq[5:20] > hop[5:20]).all())                   # beyond a handful of items Hopfield fails
    assert bool((seq[4:20] > rnd[4:20]).all())                   # the random factor loses items early
    assert float(hop[0]) == 1.0 and float(hop[19]) < 0.9


def test_random_variant_loses_items_stored_nowhere():
    """With p = 0.1 and 20 slots, (0.9)^20 ≈ 12 % of items get no slot even in an empty memory."""
    acc = pl.accuracy_curve("random", 40, 1, seeds=range(400))
    lost = 1 - float(acc[0])                                     # an empty memory reads all zeros: 0 bits right
    assert abs(lost - 0.9 ** 20) < 0.05                          # binomial s.d. with 400 seeds ≈ 0.016


def test_capacity_grows_with_size_and_keeps_the_ordering():
    cap = pl.capacity_vs_size((20, 40, 80), seeds=(0, 1, 2))
    for m in cap:
        assert cap[m] == sorted(cap[m]), m
    for i, d in enumerate((20, 40, 80)):
        assert cap["sequential"][i] >= d // 2                     # every slot used
        assert cap["sequential"][i] > cap["hopfield"][i] > 0
        assert cap["sequential"][i] > cap["random"][i]


def test_capacity_at():
    assert pl.capacity_at(torch.tensor([1.0, 0.99, 0.97, 0.99])) == 2
    assert pl.capacity_at(torch.tensor([0.5, 1.0])) == 0
    assert pl.capacity_at(torch.tensor([1.0, 1.0])) == 2


def test_lru_protects_rehearsed_items():
    res = pl.rehearsal_experiment(seeds=(0, 1, 2))
    assert res["lru"] > 0.99 and res["sequential"] < 0.8


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(n_slots=0, d_key=3), "n_slots"),
    (dict(n_slots=2.5, d_key=3), "n_slots"),
    (dict(n_slots=2, d_key=3, local="fifo"), "local"),
    (dict(n_slots=2, d_key=3, p_random=0.0), "p_random"),
    (dict(n_slots=2, d_key=3, p_random=1.5), "p_random"),
    (dict(n_slots=2, d_key=3, p_random=math.nan), "p_random"),
    (dict(n_slots=2, d_key=3, beta=-1.0), "beta"),
    (dict(n_slots=2, d_key=3, lr_key=2.0), "lr_key"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pl.SlotMemory(**kwargs)


def test_bad_write_and_recall_arguments():
    mem = pl.SlotMemory(3, 4)
    with pytest.raises(ValueError, match=r"x: expected a tensor of shape \(4,\)"):
        mem.write(torch.ones(5))
    with pytest.raises(ValueError, match="mu"):
        mem.write(torch.ones(4), mu=0.5)
    with pytest.raises(ValueError, match="gamma"):
        mem.write(torch.ones(4), gamma=torch.tensor([0.5, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"q: expected shape \(B, 4\)"):
        mem.recall(torch.ones(2, 3))
    with pytest.raises(ValueError, match="v: required"):
        pl.SlotMemory(3, 4, d_value=2).write(torch.ones(4))


def test_values_outside_pm1_are_rejected_where_required():
    with pytest.raises(ValueError, match=r"X: expected values in \{-1, \+1\}"):
        pl.hopfield_weights(torch.tensor([[1.0, 0.5, -1.0]]))
    with pytest.raises(ValueError, match="items"):
        pl.partial_cue(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="fraction_zeroed"):
        pl.partial_cue(torch.ones(2, 4), fraction_zeroed=1.0)
    with pytest.raises(ValueError, match="target"):
        pl.bit_accuracy(torch.ones(1, 2), torch.tensor([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="threshold"):
        pl.capacity_at(torch.ones(3), threshold=1.5)
    with pytest.raises(ValueError, match=r"cue: expected shape \(B, 3\)"):
        pl.hopfield_recall(torch.zeros(3, 3), torch.ones(2, 4))
