"""Chapter 3: a linear layer trained by SGD is a key-value memory (Eqs 10-11), exactly."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from conftest import requires_data, tol
from kvlib import dualform as D
from kvlib.dualform import LayerMemory, MemoryRecorder

F64 = torch.float64


def _train(model, opt, rec, xs, ys, steps, ids=True, phase=None):
    """A few SGD steps on fixed data; returns nothing (the recorder keeps the memories)."""
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        idx = torch.randint(xs.shape[0], (8,), generator=g)
        if ids:
            rec.set_example_ids(idx)
        loss = nn.functional.cross_entropy(model(xs[idx]), ys[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def _data(n=64, d=12, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.randint(c, (n,), generator=g)


@pytest.mark.parametrize("bias", [True, False])
def test_identity_every_layer_and_whole_network(bias):
    x, y = _data()
    model = D.make_mlp((12, 16, 8, 3), bias=bias, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = MemoryRecorder(model, opt)
    _train(model, opt, rec, x, y, 40)
    errs = D.layer_errors(model, rec, x)
    assert set(errs) == {"0", "2", "4"}
    assert max(errs.values()) <= tol(F64)
    for name, mem in rec.memories.items():           # Eq 10: the weights themselves
        W = model.get_submodule(name).weight
        if bias:
            W = torch.cat([W, model.get_submodule(name).bias[:, None]], 1)
        assert torch.allclose(mem.weight(), W.detach(), atol=1e-12, rtol=0)
    with torch.no_grad():
        assert (D.dual_forward(model, rec, x) - model(x)).abs().max() <= tol(F64)


def test_sequence_inputs_are_flattened_into_memories():
    lin = nn.Linear(5, 4, dtype=F64)
    opt = torch.optim.SGD(lin.parameters(), lr=0.05)
    rec = MemoryRecorder(lin, opt)
    x = torch.randn(3, 7, 5, dtype=F64)                 # (B, T, d): every position is a memory
    for _ in range(3):
        loss = lin(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    mem = rec.memories[""]
    assert mem.n_memories == 3 * 21
    with torch.no_grad():
        assert (mem(x.reshape(-1, 5)) - lin(x).reshape(-1, 4)).abs().max() <= tol(F64)


@settings(max_examples=12, deadline=None)
@given(d_in=st.integers(1, 9), d_out=st.integers(1, 6), lr=st.floats(1e-3, 0.5),
       steps=st.integers(1, 6), bias=st.booleans())
def test_identity_property(d_in, d_out, lr, steps, bias):
    torch.manual_seed(0)
    lin = nn.Linear(d_in, d_out, bias=bias, dtype=F64)
    opt = torch.optim.SGD(lin.parameters(), lr=lr)
    rec = MemoryRecorder(lin, opt)
    for _ in range(steps):
        loss = lin(torch.randn(4, d_in, dtype=F64)).tanh().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    q = torch.randn(10, d_in, dtype=F64)
    with torch.no_grad():
        assert (rec.memories[""](q) - lin(q)).abs().max() <= tol(F64) * max(1.0, lr * steps)


@pytest.mark.parametrize("make, word", [
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), "momentum"),
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), "momentum"),
    (lambda p: torch.optim.Adam(p, lr=1e-3), "Adam"),
])
def test_refuses_optimisers_it_cannot_express(make, word):
    model = D.make_mlp((4, 3), seed=0)
    with pytest.raises(ValueError, match=word):
        MemoryRecorder(model, make(model.parameters()))
    MemoryRecorder(model, make(model.parameters()), approximate=True)   # on purpose: allowed


def test_bias_in_another_param_group_is_refused():
    lin = nn.Linear(3, 2)
    opt = torch.optim.SGD([{"params": [lin.weight]}, {"params": [lin.bias], "lr": 1.0}], lr=0.1)
    with pytest.raises(ValueError, match="bias"):
        MemoryRecorder(lin, opt)


@pytest.mark.parametrize("setting", ["momentum", "adam", "weight_decay"])
def test_negative_controls_break_the_identity(setting):
    x, y = _data(seed=3)
    errs, _, _ = D.identity_errors(setting, x, y, x, sizes=(12, 16, 3), steps=30, batch_size=8,
                                   lr=0.1, weight_decay=0.05)
    exact, _, _ = D.identity_errors("sgd", x, y, x, sizes=(12, 16, 3), steps=30, batch_size=8,
                                    lr=0.1, weight_decay=0.05)
    assert max(exact.values()) <= tol(F64)
    assert max(errs.values()) > 1e-4 > 1e6 * max(exact.values())


def test_decayed_dual_form_is_exact_and_naive_is_not():
    x, y = _data(seed=4)
    model = D.make_mlp((12, 10, 3), seed=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.05)
    rec = MemoryRecorder(model, opt)
    _train(model, opt, rec, x, y, 30)
    assert max(D.layer_errors(model, rec, x).values()) <= tol(F64)
    assert max(D.layer_errors(model, rec, x, decay=False).values()) > 1e-3
    # the same run recorded "approximately" (decay ignored at recording) is the naive memory
    model2 = D.make_mlp((12, 10, 3), seed=1)
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


def test_tags_split_the_output_and_scaling_out_a_phase_restores_it():
    x, y = _data(seed=5)
    model = D.make_mlp((12, 10, 3), seed=2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = MemoryRecorder(model, opt)
    with rec.phase("task1"):
        _train(model, opt, rec, x, y, 15)
    with torch.no_grad():
        after1 = model(x).clone()
    with rec.phase("task2"):
        _train(model, opt, rec, x, (y + 1) % 3, 15)
    with torch.no_grad():
        assert (D.dual_forward(model, rec, x, scale={"task2": 0.0}) - after1).abs().max() <= tol(F64)
        assert (D.dual_forward(model, rec, x) - after1).abs().max() > 1e-3
    mem = rec.memories["2"]
    h = torch.relu(model[0](x)).detach()
    parts = mem.tag_outputs(h)
    assert list(parts) == ["W0", "task1", "task2"]
    assert (sum(parts.values()) - mem(h)).abs().max() <= tol(F64)
    shares = mem.tag_shares(h)
    assert torch.allclose(sum(shares.values()), torch.ones(h.shape[0], dtype=F64), atol=1e-10)
    with pytest.raises(ValueError, match="scale"):
        mem.forward(h, scale={"task3": 1.0})


def test_example_contributions_add_up_and_support_is_a_decomposition():
    x, y = _data(n=20, seed=6)
    model = D.make_mlp((12, 6, 3), seed=3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = MemoryRecorder(model, opt)
    _train(model, opt, rec, x, y, 25)                  # 200 draws from 20 examples: repeats
    mem = rec.memories["0"]
    q = torch.randn(4, 12, dtype=F64)
    c = mem.example_contributions(q, n_examples=20)     # (B, E, d_out)
    assert c.shape == (4, 20, 6)
    w0 = mem.forward(q, tags=[])
    assert (w0 + c.sum(1) - mem(q)).abs().max() <= tol(F64)
    support = mem.example_scores(q, "support", n_examples=20)
    y_out = mem(q)
    w0_support = (w0 * y_out).sum(-1) / y_out.norm(dim=-1)
    assert torch.allclose(support.sum(-1) + w0_support, y_out.norm(dim=-1), atol=1e-10)
    att = mem.example_scores(q, "attention", n_examples=20)
    assert torch.allclose(att.sum(-1), mem.attention(q).sum(-1), atol=1e-10)


def test_top_examples_finds_a_planted_memory():
    # keys one-hot: the query e_j attends to memory j only, so j must come out on top
    E, d = 6, 6
    mem = LayerMemory("planted", torch.zeros(2, d, dtype=F64), has_bias=False,
                      keys=[torch.eye(d, dtype=F64)], values=[torch.ones(E, 2, dtype=F64)],
                      decay=[1.0], tags=["train"], ids=[torch.arange(E)])
    idx, score = mem.top_examples(torch.eye(d, dtype=F64)[[4, 1]], k=1)
    assert idx[:, 0].tolist() == [4, 1]
    assert torch.allclose(score[:, 0], torch.full((2,), 2 ** 0.5, dtype=F64))


def test_concentration_extremes():
    one = torch.zeros(1, 100, 3)
    one[0, 7] = 1.0
    conc = D.concentration(one)
    assert conc["top_share"].item() == pytest.approx(1.0)
    assert conc["effective_fraction"].item() == pytest.approx(0.01)
    flat = D.concentration(torch.ones(1, 100, 3))
    assert flat["top_share"].item() == pytest.approx(0.01)
    assert flat["effective_fraction"].item() == pytest.approx(1.0)


def test_example_indices_are_required_and_checked():
    x, y = _data()
    model = D.make_mlp((12, 3), seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = MemoryRecorder(model, opt)
    _train(model, opt, rec, x, y, 2, ids=False)
    with pytest.raises(ValueError, match="set_example_ids"):
        rec.memories["0"].example_contributions(x)
    with pytest.raises(ValueError, match="ids"):
        rec.set_example_ids(torch.rand(8))
    with pytest.raises(TypeError, match="Sequential"):
        D.dual_forward(nn.Linear(12, 3), rec, x)
    with pytest.raises(ValueError, match="setting"):
        D.identity_errors("rmsprop", x, y, x)
    with pytest.raises(ValueError, match="by"):
        rec.memories["0"].example_scores(x, by="largest")


def test_make_mlp_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    D.make_mlp((4, 3, 2), seed=5)
    assert torch.equal(state, torch.random.get_rng_state())
    a, b = D.make_mlp((4, 3), seed=5), D.make_mlp((4, 3), seed=5)
    assert torch.equal(a[0].weight, b[0].weight)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_memories_on_gpu():
    x, y = _data(seed=7)
    out = {}
    for dev in ("cpu", "cuda"):
        errs, rec, model = D.identity_errors("sgd", x.to(dev), y.to(dev), x.to(dev),
                                             sizes=(12, 8, 3), steps=20, batch_size=8)
        assert max(errs.values()) <= tol(F64, dev)
        out[dev] = rec.memories["0"].weight().cpu()
    assert torch.allclose(out["cpu"], out["cuda"], atol=1e-10)


@requires_data
def test_identity_on_mnist_and_controls_are_orders_of_magnitude_worse():
    res = D.dual_form_identity(n_train=400, n_test=100, steps=120, hidden=32)
    assert res["max_abs_error_float64"] <= 1e-10
    assert set(res["controls"]) == {"momentum", "adam", "weight_decay",
                                    "weight_decay_decayed_memories"}
    assert res["controls"]["weight_decay_decayed_memories"] <= 1e-10
    for name in ("momentum", "adam", "weight_decay"):
        assert res["controls"][name] > 1e6 * res["max_abs_error_float64"]
        assert res["controls"][name] > 1e-3


def test_momentum_is_a_memory_with_reweighted_steps():
    """Chapter 3, exercise 1: with momentum mu, step s's pairs count (1 - mu^(T-s)) / (1 - mu)."""
    torch.manual_seed(0)
    lin = nn.Linear(6, 4, bias=False, dtype=F64)
    mu, lr, T = 0.9, 0.05, 25
    opt = torch.optim.SGD(lin.parameters(), lr=lr, momentum=mu)
    rec = MemoryRecorder(lin, opt, approximate=True)
    for _ in range(T):
        loss = lin(torch.randn(5, 6, dtype=F64)).sin().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    mem = rec.memories[""]
    w = [(1 - mu ** (T - s)) / (1 - mu) for s in range(T)]
    W = mem.W0 + sum(w[s] * mem.values[s].T @ mem.keys[s] for s in range(T))
    assert (W - lin.weight.detach()).abs().max() <= tol(F64)
    assert (mem.weight() - lin.weight.detach()).abs().max() > 1e-3     # unweighted: wrong


def test_retrieval_stats_finds_same_class_examples_on_separable_data():
    g = torch.Generator().manual_seed(0)
    centres = 4.0 * torch.randn(3, 12, generator=g, dtype=F64)
    y = torch.arange(3).repeat_interleave(40)
    x = (centres[y] + torch.randn(120, 12, generator=g, dtype=F64)).relu()
    model = D.make_mlp((12, 16, 3), seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    rec = MemoryRecorder(model, opt)
    D.train_classifier(model, opt, x, y, epochs=5, batch_size=10, recorder=rec)
    io = D.layer_io(model, ["2"], x[::7])
    stats = D.retrieval_stats(rec.memories["2"], io["2"][0], y, y[::7], k=10, batch=4)
    assert stats["same_class_support"] > 0.8                  # chance is 1/3
    with pytest.raises(ValueError, match="query_labels"):
        D.retrieval_stats(rec.memories["2"], io["2"][0], y, y[:3])


@requires_data
def test_sequential_tasks_forget_yet_erase_nothing():
    res = D.sequential_tasks(seed=1, n_per_task=2000)
    after1, after2 = res["accuracy_after_task1"], res["accuracy_after_task2"]
    assert after1["task1"] > 0.95 and after2["task2"] > 0.9
    assert after2["task1"] < after1["task1"] - 0.3                   # interference
    assert res["max_abs_diff_without_task2_vs_after_task1"] <= 1e-10  # ...but nothing erased
    assert res["task1_accuracy_without_task2_memories"] == after1["task1"]
    mem = res["recorder"].memories["2"]
    assert set(mem.tags) == {"task1", "task2"}
    ids = mem.example_ids()
    assert ids.min() == 0 and ids.max() == res["train_x"].shape[0] - 1
