"""Tests for kvlib.plasticity: the three-factor rules of Tyulmankov et al. (2021) — Eq 12 on the
keys, bio-kvm's value rule and the review's Eq 13 — for one memory (SlotMemory) and for many at
once (write_streams, and final_weights in closed form), checked against the equations in float64."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import tol
from kvlib import hopfield
from kvlib import plasticity as pl
from kvlib import slot_capacity as sc


def _items(n, d, g, **kw):
    return hopfield.random_patterns(n, d, g, **kw)


def _filled(local: str, n_slots: int = 6, d: int = 10, n_items: int = 4, seed: int = 0,
            **kw) -> pl.SlotMemory:
    g = torch.Generator().manual_seed(seed)
    mem = pl.SlotMemory(n_slots, d, local=local, generator=g, **kw)
    for x in _items(n_items, d, g):
        mem.write(x)
    return mem

# --------------------------------------------------------------------------- the rules
@pytest.mark.parametrize("rule", pl.VALUE_RULES)
@pytest.mark.parametrize("local", pl.LOCAL_FACTORS)
def test_one_write_changes_exactly_the_selected_slots(local, rule):
    mem = _filled(local, p_random=0.3, value_rule=rule)
    K0, V0 = mem.keys.clone(), mem.values.clone()
    x = _items(1, 10, torch.Generator().manual_seed(9))[0]
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
    for x in _items(5, 10, torch.Generator().manual_seed(3)):
        mem.write(x, mu=0)
    assert torch.equal(mem.keys, state[0]) and torch.equal(mem.values, state[1])
    assert torch.equal(mem.last_used, state[2]) and (mem.pointer, mem.clock) == state[3:]


def _partial_write(rule: str):
    g = torch.Generator().manual_seed(1)
    mem = pl.SlotMemory(5, 7, d_value=3, lr_key=0.3, lr_value=0.6, beta=0.4, value_rule=rule,
                        dtype=torch.float64)
    mem.keys.copy_(torch.randn(5, 7, generator=g, dtype=torch.float64))
    mem.values.copy_(torch.randn(5, 3, generator=g, dtype=torch.float64))
    K0, V0 = mem.keys.clone(), mem.values.clone()
    x = torch.randn(7, generator=g, dtype=torch.float64)
    v = torch.randn(3, generator=g, dtype=torch.float64)
    gamma = torch.tensor([0., 1., 0., 1., 0.], dtype=torch.float64)
    _, alpha = mem.write(x, v, gamma=gamma)
    K1 = K0 + 0.3 * gamma[:, None] * (x - K0)                    # Eq 12
    a = torch.softmax(0.4 * K1 @ x, dim=0)                         # attention after the key write
    return mem, alpha, K1, a, V0, v, gamma


def test_eq12_and_eq13_partial_rates_float64():
    """Eq 12: ΔK_i = η_K γ_i (x − K_i); Eq 13: ΔV_i = η_V γ_i α_i (v − V_i), α after the key write."""
    mem, alpha, K1, a, V0, v, gamma = _partial_write("eq13")
    V1 = V0 + 0.6 * (gamma * a)[:, None] * (v - V0)
    assert torch.allclose(mem.keys, K1, atol=tol(torch.float64), rtol=0)
    assert torch.allclose(alpha, a, atol=tol(torch.float64), rtol=0)
    assert torch.allclose(mem.values, V1, atol=tol(torch.float64), rtol=0)


def test_replace_rule_is_bio_kvm_active_decay_float64():
    """bio-kvm h2o with decay='active': V ← (1 − ηγ) V + ηγ α v (decay 1 − clamp(ηγ))."""
    mem, alpha, K1, a, V0, v, gamma = _partial_write("replace")
    V1 = (1 - 0.6 * gamma[:, None]) * V0 + 0.6 * (gamma * a)[:, None] * v
    assert torch.allclose(mem.keys, K1, atol=tol(torch.float64), rtol=0)
    assert torch.allclose(mem.values, V1, atol=tol(torch.float64), rtol=0)


def test_value_rules_agree_when_one_slot_takes_all_attention():
    """With α_i = 1 (one slot), (1 − γ)V + γαv = V + γα(v − V): the rules differ only through α."""
    g = torch.Generator().manual_seed(2)
    X = _items(6, 5, g, dtype=torch.float64)
    mems = [pl.SlotMemory(1, 5, lr_value=0.7, value_rule=r, dtype=torch.float64) for r in pl.VALUE_RULES]
    for x in X:
        for m in mems:
            m.write(x)
    assert torch.allclose(mems[0].values, mems[1].values, atol=tol(torch.float64), rtol=0)


@pytest.mark.parametrize("rule", pl.VALUE_RULES)
@pytest.mark.parametrize("local", ("sequential", "random"))
@pytest.mark.parametrize("lr", (1.0, 0.7))
def test_closed_form_final_state_equals_the_write_loop_float64(rule, local, lr):
    """The batched search uses a loop-free form of the writes; it must equal writing item by item."""
    g = torch.Generator().manual_seed(4)
    draws = [sc._draw(25, 9, 6, local, 0.4, 0.6, g) for _ in range(3)]
    X, C, G, K0, V0 = (torch.stack(z) for z in zip(*draws))
    V0 = V0 + torch.randn(V0.shape, generator=g, dtype=torch.float64)   # non-trivial initial weights
    K0 = K0 + torch.randn(K0.shape, generator=g, dtype=torch.float64)
    K_hist, V_hist = pl.write_streams(X, G, K0, V0, rule, 0.8, lr)
    K, V = pl.final_weights(X, G, K0, V0, rule, 0.8, lr)
    assert torch.allclose(K, K_hist[-1], atol=tol(torch.float64), rtol=0)
    assert torch.allclose(V, V_hist[-1], atol=tol(torch.float64), rtol=0)
    # and the stream itself is SlotMemory.write, one memory at a time
    mem = pl.SlotMemory(6, 9, value_rule=rule, lr_value=lr, beta=0.8, dtype=torch.float64)
    mem.keys, mem.values = K0[0].clone(), V0[0].clone()
    for t in range(X.shape[1]):
        mem.write(X[0, t], gamma=G[0, t])
    assert torch.allclose(mem.values, V_hist[-1, 0], atol=tol(torch.float64), rtol=0)


def test_sequential_and_lru_pick_the_right_slots():
    seq = pl.SlotMemory(3, 4, local="sequential")
    lru = pl.SlotMemory(3, 4, local="lru")
    items = _items(5, 4, torch.Generator().manual_seed(0))
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


def test_random_factor_rate_and_bio_kvm_default():
    g = torch.Generator().manual_seed(0)
    mem = pl.SlotMemory(50, 4, local="random", p_random=0.2, generator=g)
    draws = torch.stack([mem.local_factor() for _ in range(400)])
    assert abs(float(draws.mean()) - 0.2) < 0.01                # 20,000 Bernoulli draws
    assert pl.SlotMemory(40, 4, local="random").p_random == pytest.approx(4 / 40)   # bio-kvm ref_rand


def test_recall_is_softmax_attention():
    mem = _filled("sequential", beta=0.7)
    q = torch.randn(3, 10, generator=torch.Generator().manual_seed(5))
    ref = torch.softmax(0.7 * q @ mem.keys.T, dim=1) @ mem.values
    assert torch.allclose(mem.recall(q), ref, atol=tol(torch.float32), rtol=0)


def test_tie_noise_gives_an_empty_memory_random_signs():
    mem = pl.SlotMemory(8, 200, tie_noise=pl.TIE_NOISE, generator=torch.Generator().manual_seed(0))
    assert float(mem.values.abs().max()) <= pl.TIE_NOISE
    out = mem.recall(_items(4, 200, torch.Generator().manual_seed(1)))
    assert bool((out != 0).all()) and abs(float((out > 0).float().mean()) - 0.5) < 0.05


def test_the_sequential_closed_form_needs_only_the_write_times():
    """With slots taken in turn and replaced values, the end state depends only on which item each
    slot saw last (final_weights(last=...)), which the capacity search uses without Γ."""
    g = torch.Generator().manual_seed(5)
    X, _, G, K0, V0 = (torch.stack([z]) for z in sc._draw(23, 8, 5, "sequential", 0.0, 0.6, g))
    full = pl.final_weights(X, G, K0, V0)
    lazy = pl.final_weights(X, None, K0, V0, last=pl.last_writes(G))
    assert all(torch.allclose(a, b, atol=tol(torch.float64), rtol=0) for a, b in zip(full, lazy))
    assert pl.last_writes(G)[0, -1].tolist() == [20, 21, 22, 18, 19]     # item t in slot t mod 5


def test_read_slots_is_softmax_attention_per_memory():
    g = torch.Generator().manual_seed(6)
    K, V = torch.randn(3, 4, 5, generator=g), torch.randn(3, 4, 5, generator=g)
    C = torch.randn(3, 2, 5, generator=g)
    out = pl.read_slots(K, V, C, beta=1.5)
    for r in range(3):
        ref = torch.softmax(1.5 * C[r] @ K[r].T, dim=1) @ V[r]
        assert torch.allclose(out[r], ref, atol=tol(torch.float32), rtol=0)


def test_write_changes_only_with_the_global_factor():
    res = pl.write_changes(n_slots=6, dim=12, n_filled=4, seed=0)
    assert res["slots_changed"] == 1 and res["slot"] == 4            # the next slot in turn
    assert res["mu0_change"] == 0.0
    assert int(res[1]["gamma"].sum()) == 1 and int(res[0]["gamma"].sum()) == 1


def test_partial_cue_zeroes_the_requested_fraction():
    X = _items(500, 40, torch.Generator().manual_seed(0))
    C = pl.partial_cue(X, 0.6, torch.Generator().manual_seed(1))       # bio-kvm: Bernoulli per entry
    assert abs(float((C == 0).float().mean()) - 0.6) < 0.01            # 20,000 entries
    assert torch.equal(C[C != 0], X[C != 0])
    E = pl.partial_cue(X[:20], 0.6, torch.Generator().manual_seed(1), exact=True)
    assert torch.all((E == 0).sum(dim=1) == 24)


def test_bit_accuracy_counts_a_zero_as_wrong():
    t = torch.tensor([[1.0, -1.0, 1.0, -1.0]])
    assert float(pl.bit_accuracy(torch.tensor([[0.3, -2.0, 0.0, 1.0]]), t)) == 0.5
    assert float(pl.bit_accuracy(t.long(), t)) == 1.0                 # integer read-outs: exact


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, err, match", [
    (dict(n_slots=0, d_key=3), ValueError, "n_slots"),
    (dict(n_slots=2.5, d_key=3), TypeError, "n_slots"),
    (dict(n_slots=2, d_key=3, local="fifo"), ValueError, "local"),
    (dict(n_slots=2, d_key=3, p_random=0.0), ValueError, "p_random"),
    (dict(n_slots=2, d_key=3, p_random=1.5), ValueError, "p_random"),
    (dict(n_slots=2, d_key=3, p_random=math.nan), ValueError, "p_random"),
    (dict(n_slots=2, d_key=3, beta=-1.0), ValueError, "beta"),
    (dict(n_slots=2, d_key=3, lr_key=2.0), ValueError, "lr_key"),
    (dict(n_slots=2, d_key=3, value_rule="hebb"), ValueError, "value_rule"),
    (dict(n_slots=2, d_key=3, tie_noise=-1.0), ValueError, "tie_noise"),
    (dict(n_slots=2, d_key=3, device="tpu"), ValueError, "device"),
])
def test_bad_constructor_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        pl.SlotMemory(**kwargs)


def test_bad_write_and_recall_arguments():
    mem = pl.SlotMemory(3, 4)
    with pytest.raises(ValueError, match=r"x: expected shape \(4\)"):
        mem.write(torch.ones(5))
    with pytest.raises(ValueError, match="mu"):
        mem.write(torch.ones(4), mu=0.5)
    with pytest.raises(ValueError, match="gamma"):
        mem.write(torch.ones(4), gamma=torch.tensor([0.5, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"q: expected shape \(·, 4\)"):
        mem.recall(torch.ones(2, 3))
    with pytest.raises(ValueError, match="v: required"):
        pl.SlotMemory(3, 4, d_value=2).write(torch.ones(4))
    with pytest.raises(ValueError, match="x"):
        mem.write(torch.tensor([1.0, math.nan, 0.0, 0.0]))


def test_integer_queries_read_like_float_ones():
    """Regression (issue 12's class of integer inputs cast to the memory's dtype): an integer
    query is converted exactly, it does not truncate the stored weights."""
    mem = _filled("sequential", beta=0.7)
    q = torch.tensor([[1, -1, 1, 1, -1, 1, -1, -1, 1, 1]])
    assert torch.allclose(mem.recall(q), mem.recall(q.float()), atol=0, rtol=0)
    assert bool((mem.recall(q) != 0).any())


def test_values_outside_pm1_are_rejected_where_required():
    with pytest.raises(ValueError, match="items"):
        pl.partial_cue(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="fraction_zeroed"):
        pl.partial_cue(torch.ones(2, 4), fraction_zeroed=1.0)
    with pytest.raises(ValueError, match="target"):
        pl.bit_accuracy(torch.ones(1, 2), torch.tensor([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="G"):
        X = torch.ones(1, 3, 2)
        pl.write_streams(X, torch.full((1, 3, 2), 0.5), torch.zeros(1, 2, 2), torch.zeros(1, 2, 2))
