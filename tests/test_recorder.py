"""The recorder writes exactly what SGD writes, and refuses optimisers whose update is not a write."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import tol
from kvlib import attribution as A
from kvlib.dual_identity import layer_errors
from kvlib.recorder import MemoryRecorder
from kvlib.training import make_mlp, train_layer

F64 = torch.float64


def _data(n=64, d=12, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.randint(c, (n,), generator=g)


def _train(model, opt, rec, xs, ys, steps, ids=True):
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        idx = torch.randint(xs.shape[0], (8,), generator=g)
        if ids:
            rec.set_example_ids(idx)
        loss = nn.functional.cross_entropy(model(xs[idx]), ys[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_teaching_copy_by_hand_equals_the_recorder():
    """The pairs collected with autograd by hand are the recorder's, step by step."""
    torch.manual_seed(0)
    layer = nn.Linear(5, 3, bias=False, dtype=F64)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    rec = MemoryRecorder(layer, opt)
    keys, values = [], []
    for _ in range(4):
        x = torch.randn(8, 5, dtype=F64)
        y = layer(x)
        y.retain_grad()
        loss = (y - 1.0).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        keys.append(x)
        values.append(-0.1 * y.grad)
        opt.step()
    mem = rec.memories[""]
    assert all(torch.equal(a, b) for a, b in zip(mem.keys, keys))
    assert all(torch.allclose(a, b, atol=1e-15, rtol=0) for a, b in zip(mem.values, values))
    assert mem.tags == ["train"] * 4 and mem.decay == [1.0] * 4


@pytest.mark.parametrize("make, word", [
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), "momentum"),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), "momentum"),
    (lambda p: torch.optim.Adam(p, lr=1e-3), "Adam"),
])
def test_refuses_optimisers_it_cannot_express(make, word):
    model = make_mlp((4, 3), seed=0)
    with pytest.raises(ValueError, match=word):
        MemoryRecorder(model, make(model.parameters()))
    MemoryRecorder(model, make(model.parameters()), approximate=True)   # on purpose: allowed


def test_bias_in_another_param_group_is_refused():
    lin = nn.Linear(3, 2)
    opt = torch.optim.SGD([{"params": [lin.weight]}, {"params": [lin.bias], "lr": 1.0}], lr=0.1)
    with pytest.raises(ValueError, match="bias"):
        MemoryRecorder(lin, opt)


def test_decayed_dual_form_is_exact_and_naive_is_not():
    x, y = _data(seed=4)
    model = make_mlp((12, 10, 3), seed=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.05)
    rec = MemoryRecorder(model, opt)
    _train(model, opt, rec, x, y, 30)
    assert max(layer_errors(model, rec, x).values()) <= tol(F64)
    assert max(layer_errors(model, rec, x, decay=False).values()) > 1e-3
    # the same run recorded "approximately" (decay ignored at recording) is the naive memory
    model2 = make_mlp((12, 10, 3), seed=1)
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.1, weight_decay=0.05)
    rec2 = MemoryRecorder(model2, opt2, approximate=True)
    _train(model2, opt2, rec2, x, y, 30)
    for name in rec.memories:
        assert torch.allclose(rec2.memories[name].weight(), rec.memories[name].weight(decay=False),
                              atol=1e-12, rtol=0)
    # step weights: each step's memories decay by (1 - lr * wd) for every later step
    sw = rec.memories["0"].step_weights()
    assert torch.allclose(sw[-1], torch.tensor(1.0, dtype=F64))
    assert torch.allclose(sw[0], torch.tensor((1 - 0.1 * 0.05) ** 29, dtype=F64))
    assert rec.memories["0"].w0_weight() == pytest.approx((1 - 0.1 * 0.05) ** 30, rel=1e-12)


def test_momentum_is_a_memory_with_reweighted_steps():
    """Chapter 3, exercise 1: with momentum mu, step s's pairs count (1 - mu^(T-s)) / (1 - mu)."""
    mu, T = 0.9, 25
    lin, rec = train_layer(steps=T, momentum=mu, approximate=True, seed=0)
    mem = rec.memories[""]
    w = [(1 - mu ** (T - s)) / (1 - mu) for s in range(T)]
    W = mem.W0 + sum(w[s] * mem.values[s].T @ mem.keys[s] for s in range(T))   # by hand
    assert (W - lin.weight.detach()).abs().max() <= tol(F64)
    assert (mem.weight() - lin.weight.detach()).abs().max() > 1e-3     # unweighted: wrong
    q = torch.randn(3, 6, dtype=F64)
    with torch.no_grad():   # attribution's re-weighting says the same
        assert (A.dual_readout(mem, q, A.pattern_weights(mem, mu)) - lin(q)).abs().max() <= tol(F64)


def test_phases_tags_and_example_indices_travel_with_the_memories():
    x, y = _data()
    model = make_mlp((12, 3), seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = MemoryRecorder(model, opt)
    _train(model, opt, rec, x, y, 2, ids=False)
    with rec.phase("later"):
        _train(model, opt, rec, x, y, 2)
    mem = rec.memories["0"]
    assert mem.tags == ["train", "train", "later", "later"]
    ids = mem.example_ids()
    assert (ids[:16] == -1).all() and (ids[16:] >= 0).all()
    with pytest.raises(TypeError, match="ids"):
        rec.set_example_ids(torch.rand(8))
    with pytest.raises(ValueError, match="ids"):
        rec.set_example_ids(torch.tensor([-2, 0]))
    with pytest.raises(ValueError, match="tag"):
        rec.phase("")                                    # checked when called, not when entered
    with pytest.raises(ValueError, match="layers"):
        MemoryRecorder(model, opt, layers=["1"])
    with pytest.raises(TypeError, match="optimizer"):
        MemoryRecorder(model, "sgd")


def test_store_device_keeps_the_pairs_elsewhere_and_reads_back():
    x, y = _data()
    model = make_mlp((12, 5, 3), seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = MemoryRecorder(model, opt, store_device="cpu")
    _train(model, opt, rec, x, y, 5)
    assert all(k.device.type == "cpu" for k in rec.memories["0"].keys)
    assert max(layer_errors(model, rec, x).values()) <= tol(F64)
    with pytest.raises(ValueError, match="store_device"):
        MemoryRecorder(model, opt, store_device="tpu")
