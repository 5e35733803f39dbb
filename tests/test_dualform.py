"""Chapter 3: a linear layer trained by SGD is a key-value memory (Eqs 10-11), read in both forms."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from conftest import tol
from kvlib.dual_identity import layer_errors
from kvlib.dualform import LayerMemory, dual_forward, layer_io
from kvlib.recorder import MemoryRecorder
from kvlib.training import make_mlp

F64 = torch.float64


def _data(n=64, d=12, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.randint(c, (n,), generator=g)


def _train(model, opt, rec, xs, ys, steps, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(xs.shape[0], (8,), generator=g)
        rec.set_example_ids(idx)
        loss = nn.functional.cross_entropy(model(xs[idx]), ys[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def _two_tasks(bias=False, seed=5, steps=15):
    """A 12-10-4 MLP trained on task 1, then on task 2 (other labels); memories tagged."""
    x, y = _data(seed=seed)
    model = make_mlp((12, 10, 4), bias=bias, seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = MemoryRecorder(model, opt)
    with rec.phase("task1"):
        _train(model, opt, rec, x, y, steps)
    with torch.no_grad():
        after1 = model(x).clone()
    with rec.phase("task2"):
        _train(model, opt, rec, x, y + 1, steps, seed=2)
    rec.remove()
    return model, rec, x, after1


@pytest.mark.parametrize("bias", [True, False])
def test_identity_every_layer_and_whole_network(bias):
    x, y = _data()
    model = make_mlp((12, 16, 8, 3), bias=bias, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = MemoryRecorder(model, opt)
    _train(model, opt, rec, x, y, 40)
    errs = layer_errors(model, rec, x)
    assert set(errs) == {"0", "2", "4"}
    assert max(errs.values()) <= tol(F64)
    for name, mem in rec.memories.items():           # Eq 10: the weights themselves
        W = model.get_submodule(name).weight
        if bias:
            W = torch.cat([W, model.get_submodule(name).bias[:, None]], 1)
        assert torch.allclose(mem.weight(), W.detach(), atol=1e-12, rtol=0)
    with torch.no_grad():
        assert (dual_forward(model, rec, x) - model(x)).abs().max() <= tol(F64)


def test_sequence_inputs_are_flattened_into_memories_and_read_back():
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
        assert (mem(x) - lin(x)).abs().max() <= tol(F64)          # (..., d_in) in, (..., d_out) out
        assert (mem.forward(x, chunk=5) - lin(x)).abs().max() <= tol(F64)   # many small blocks


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


def test_attention_is_the_dot_product_with_every_stored_key():
    model, rec, x, _ = _two_tasks(bias=True)
    mem = rec.memories["0"]
    K = torch.cat(mem.keys)                              # (N, 13): inputs and the bias's 1
    assert torch.allclose(mem.attention(x[:5]), torch.cat([x[:5], torch.ones(5, 1, dtype=F64)], 1) @ K.T,
                          atol=1e-12, rtol=0)


def test_scaling_out_a_phase_restores_the_network_before_it():
    model, rec, x, after1 = _two_tasks()
    with torch.no_grad():
        assert (dual_forward(model, rec, x, scale={"task2": 0.0}) - after1).abs().max() <= tol(F64)
        assert (dual_forward(model, rec, x) - after1).abs().max() > 1e-3
    mem = rec.memories["2"]
    h = torch.relu(model[0](x)).detach()
    parts = mem.tag_outputs(h)
    assert list(parts) == ["W0", "task1", "task2"]
    assert (sum(parts.values()) - mem(h)).abs().max() <= tol(F64)
    few = mem.tag_outputs(h[:2])                         # fewer queries than outputs: the dual path
    assert all((few[k] - parts[k][:2]).abs().max() <= tol(F64) for k in parts)
    shares, live = mem.tag_shares(h), mem(h).norm(dim=-1) > 0     # a zero output has no shares
    assert 0 < int(live.sum()) < h.shape[0]                      # (dead ReLU rows: no bias here)
    assert torch.allclose(sum(shares.values())[live], torch.ones(int(live.sum()), dtype=F64), atol=1e-10)
    assert (sum(shares.values())[~live] == 0).all()
    with pytest.raises(ValueError, match="scale"):
        mem.forward(h, scale={"task3": 1.0})


@pytest.mark.parametrize("beta", [0.0, 1.0, 1.7])
@pytest.mark.parametrize("scale_w0", [True, False])
def test_beta_through_the_memory_is_eq10_with_scaled_memories(beta, scale_w0):
    """Figure 3's reactivation: W = b W0 (or W0) + b sum_{task 1} v^T k + sum_{task 2} v^T k."""
    model, rec, x, _ = _two_tasks()
    for name, mem in rec.memories.items():
        by_hand = {t: sum(v.T @ k for v, k, tag in zip(mem.values, mem.keys, mem.tags) if tag == t)
                   for t in ("task1", "task2")}
        want = (beta if scale_w0 else 1.0) * mem.W0 + beta * by_hand["task1"] + by_hand["task2"]
        got = mem.weight(scale={"task1": beta}, scale_w0=scale_w0)
        assert torch.allclose(got, want, atol=1e-12, rtol=0)
        if not scale_w0:                                 # W0's own factor, named "W0"
            assert torch.allclose(mem.weight(scale={"task1": beta, "W0": 0.5}),
                                  want - 0.5 * mem.W0, atol=1e-12, rtol=0)
        # the dual form with the same scales reads the same weights
        h = layer_io(model, [name], x)[name][0]
        assert (mem.forward(h, scale={"task1": beta}, scale_w0=scale_w0) - h @ want.T).abs().max() <= tol(F64)
    with pytest.raises(ValueError, match="scale_w0"):
        rec.memories["0"].weight(scale={"W0": 2.0}, scale_w0=True)


def test_beta_sweep_matches_continuals_reactivated_weights():
    """The LayerMemory API gives Chapter 6's beta-scaled weights (kvlib.continual's own code)."""
    continual = pytest.importorskip("kvlib.continual")
    model, rec, x, _ = _two_tasks()
    for notebook_setting in ("notebook", "text"):
        cfg = continual.ContinualConfig(setting=notebook_setting)
        run = continual.ContinualRun(cfg, model, rec.memories, [], [], {})
        for beta in (1.0, 1.3, 1.9):
            theirs = continual.reactivated_weights(run, beta)
            ours = [rec.memories[n].weight(scale={"task1": beta}, scale_w0=cfg.beta_scales_w0)
                    for n in ("0", "2")]
            for a, b in zip(ours, theirs):
                assert torch.allclose(a, b, atol=1e-12, rtol=0)


def test_tag_sums_are_rebuilt_when_steps_are_added():
    model, rec, x, _ = _two_tasks()
    mem = rec.memories["0"]
    before = mem.weight(tags=["task1"], include_w0=False).clone()
    opt = rec.optimizer
    rec2 = MemoryRecorder(model, opt)                    # a new recorder: new memories ...
    rec2.memories = rec.memories                         # ... written into the old ones
    with rec2.phase("task1"):
        _train(model, opt, rec2, x, (x[:, 0] > 0).long(), 3, seed=9)
    rec2.remove()
    after = mem.weight(tags=["task1"], include_w0=False)
    assert not torch.allclose(before, after)
    assert torch.allclose(mem.weight(), model[0].weight.detach(), atol=1e-12, rtol=0)


# -------------------------------------------------- issue 12: wrong results that were silent
def test_integer_queries_read_the_float_memory_not_a_truncated_one():
    mem = LayerMemory("m", torch.full((2, 3), 0.25, dtype=F64), False, keys=[torch.eye(3, dtype=F64)],
                      values=[torch.full((3, 2), 0.5, dtype=F64)], decay=[1.0], tags=["train"])
    q = torch.tensor([[1, 2, 3]])
    want = mem.forward(q.double())
    assert torch.equal(mem.forward(q), want)                         # was all zeros (weights cast to int)
    assert float(want.abs().min()) > 0
    assert mem.forward(q).dtype == F64
    assert torch.equal(mem.attention(q), mem.attention(q.double()))
    assert torch.equal(mem.tag_outputs(q)["train"], mem.tag_outputs(q.double())["train"])


def test_a_tag_given_as_a_string_is_one_tag():
    model, rec, x, _ = _two_tasks()
    mem = rec.memories["0"]
    assert torch.equal(mem.weight(tags="task1"), mem.weight(tags=["task1"]))   # was: 't','a','s','k','1'
    assert not torch.equal(mem.weight(tags="task1"), mem.W0)
    with pytest.raises(ValueError, match="tags"):
        mem.weight(tags=["task"])                                     # unknown: an error, not nothing


def test_bad_arguments_are_clear_errors():
    model, rec, x, _ = _two_tasks()
    mem = rec.memories["0"]
    with pytest.raises(ValueError, match="x: expected shape"):
        mem.forward(torch.randn(3, 11, dtype=F64))
    with pytest.raises(ValueError, match="x: expected finite"):
        mem.forward(torch.full((1, 12), float("nan"), dtype=F64))
    with pytest.raises(ValueError, match=r"scale\['task1'\]"):
        mem.weight(scale={"task1": -1.0})
    with pytest.raises(TypeError, match="Sequential"):
        dual_forward(nn.Linear(12, 3), rec, x)
    with pytest.raises(ValueError, match="values"):
        LayerMemory("m", torch.zeros(2, 3), False, keys=[torch.eye(3)], values=[], decay=[1.0], tags=["a"])
    with pytest.raises(ValueError, match="tags"):
        LayerMemory("m", torch.zeros(2, 3), False, keys=[torch.eye(3)], values=[torch.ones(3, 2)],
                    decay=[1.0], tags=["W0"])


def test_an_empty_memory_reads_its_initial_weights():
    mem = LayerMemory("empty", torch.eye(2, dtype=F64), False)
    q = torch.tensor([[1.0, 2.0]], dtype=F64)
    assert torch.equal(mem.forward(q), q)
    assert torch.equal(mem.weight(), mem.W0)
    assert mem.attention(q).shape == (1, 0)
    assert mem.step_weights().shape == (0,)
