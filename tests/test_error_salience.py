"""Errors are salient: the stored values of a trained layer are its errors, and the largest ones
supply more of the read-out than their number."""
from __future__ import annotations

import pytest
import torch

from conftest import tol
from kvlib import error_salience as ES
from kvlib.dualform import LayerMemory, layer_io
from kvlib.recorder import MemoryRecorder
from kvlib.training import make_mlp, train_classifier

F64 = torch.float64


def _random_memory(seed=0, steps=6, batch=10, d_in=5, d_out=3):
    g = torch.Generator().manual_seed(seed)
    keys = [torch.randn(batch, d_in, generator=g, dtype=F64) for _ in range(steps)]
    values = [torch.randn(batch, d_out, generator=g, dtype=F64) * torch.rand(batch, 1, generator=g, dtype=F64)
              for _ in range(steps)]
    return LayerMemory("m", torch.zeros(d_out, d_in, dtype=F64), False, keys=keys, values=values,
                       decay=[1.0] * steps, tags=["t"] * steps)


def _trained(seed, n=400, d=20, classes=4, hidden=16):
    """A ReLU MLP trained by plain SGD on Gaussian blobs, every pair recorded; and test inputs."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, d, generator=g, dtype=F64)
    y, yt = torch.randint(classes, (n,), generator=g), torch.randint(classes, (100,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g, dtype=F64)
    xt = centers[yt] + torch.randn(100, d, generator=g, dtype=F64)
    model = make_mlp((d, hidden, classes), seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = MemoryRecorder(model, opt)
    train_classifier(model, opt, x, y, epochs=3, batch_size=20, recorder=rec, seed=seed)
    rec.remove()
    return model, rec, xt


def test_the_stored_value_is_the_error_signal():
    # one SGD step of a linear layer on 0.5 |y - t|^2: the value written is -lr (y - t), so its
    # strength is lr |y - t|, the size of the layer's error on that example
    g = torch.Generator().manual_seed(1)
    layer = torch.nn.Linear(4, 2, bias=False, dtype=F64)
    opt = torch.optim.SGD(layer.parameters(), lr=0.3)
    rec = MemoryRecorder(layer, opt)
    x, t = torch.randn(6, 4, generator=g, dtype=F64), torch.randn(6, 2, generator=g, dtype=F64)
    err = (layer(x) - t).detach()
    (0.5 * (layer(x) - t).pow(2).sum()).backward()
    opt.step()
    rec.remove()
    assert torch.allclose(ES.error_strengths(rec.memories[""]), 0.3 * err.norm(dim=1), atol=1e-12)


def test_weight_decay_weakens_old_errors():
    mem = _random_memory()
    mem.decay = [0.5] * mem.n_steps
    plain = ES.error_strengths(mem, decay=False)
    decayed = ES.error_strengths(mem)
    B = mem.keys[0].shape[0]
    ratio = (decayed / plain).reshape(-1, B)                      # each step: 0.5 ** (later steps)
    expected = 0.5 ** torch.arange(mem.n_steps - 1, -1, -1, dtype=F64)
    assert torch.allclose(ratio, expected[:, None].expand_as(ratio), atol=1e-12)


@pytest.mark.parametrize("order", ["largest", "largest_in_step"])
def test_salient_sets_hold_the_largest_errors(order):
    mem = _random_memory(seed=2)
    s = ES.error_strengths(mem)
    mask = ES.salient_set(mem, 0.3, order)
    if order == "largest":
        assert int(mask.sum()) == round(0.3 * s.numel())
        assert s[mask].min() >= s[~mask].max()
    else:
        B = mem.keys[0].shape[0]
        m, st = mask.reshape(-1, B), s.reshape(-1, B)
        assert (m.sum(1) == round(0.3 * B)).all()
        for row, srow in zip(m, st):
            assert srow[row].min() >= srow[~row].max()


def test_readout_share_is_the_projection_of_the_set_read_alone():
    mem = _random_memory(seed=3)
    x = torch.randn(7, 5, generator=torch.Generator().manual_seed(4), dtype=F64)
    for f in (0.1, 0.5):
        mask = ES.salient_set(mem, f)
        shares = ES.salience_shares(mem, x, f)
        r = mem.forward(x, include_w0=False)
        part = mem.forward(x, include_w0=False, weights=mask.to(F64))   # the set, read alone (Eq 11)
        rest = mem.forward(x, include_w0=False, weights=(~mask).to(F64))
        n2 = r.pow(2).sum(-1)
        assert (shares["readout"] - (part * r).sum(-1) / n2).abs().max() <= tol(F64)
        assert ((part * r).sum(-1) / n2 + (rest * r).sum(-1) / n2 - 1).abs().max() <= tol(F64)
    full = ES.salience_shares(mem, x, 1.0)
    for name in ES.SALIENCE_MEASURES:
        assert (full[name] - 1).abs().max() <= tol(F64)


def test_equal_errors_make_contribution_and_attention_shares_equal():
    mem = _random_memory(seed=5)
    mem.values = [v / v.norm(dim=1, keepdim=True) for v in mem.values]   # every |e_n| = 1
    mem._sums = {}
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(6), dtype=F64)
    s = ES.salience_shares(mem, x, 0.2)
    assert (s["contribution"] - s["attention"]).abs().max() <= tol(F64)


def test_shuffled_control_has_expectation_f():
    # a uniformly random set of k memories: every share has expectation k / N (linearity)
    mem = _random_memory(seed=7, steps=5, batch=8)
    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(8), dtype=F64)
    g = torch.Generator().manual_seed(9)
    draws = torch.stack([torch.stack([v.mean() for v in
                                      ES.salience_shares(mem, x, 0.25, "shuffled", g).values()])
                         for _ in range(600)])                               # (draws, measures)
    mean, sem = draws.mean(0), draws.std(0) / draws.shape[0] ** 0.5
    assert ((mean - 0.25).abs() <= 5 * sem + 1e-12).all(), (mean, sem)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_large_error_memories_contribute_beyond_their_number(seed):
    # in a trained network the 10% largest-error memories get no more than their share of the
    # attention, yet supply at least 1.5 times their share of the contributions' total size
    model, rec, xt = _trained(seed)
    io = layer_io(model, rec.memories, xt)
    for name, mem in rec.memories.items():
        s = {k: float(v.mean()) for k, v in ES.salience_shares(mem, io[name][0], 0.1).items()}
        assert s["attention"] <= 0.1 + 0.01, (name, s)
        assert s["contribution"] >= 1.5 * s["count"], (name, s)


def test_curves_and_study_shapes_and_controls():
    model, rec, xt = _trained(0, n=200)
    st = ES.salience_study(model, rec, xt, n_queries=30, fractions=(0.1, 0.5), n_shuffles=3)
    assert st["layers"] == ["0", "2"] and st["fractions"] == [0.1, 0.5]
    for curves in st["curves"].values():
        assert set(curves) == {"fractions", "early", *ES.ERROR_ORDERS}
        assert len(curves["early"]) == 2 and all(0 <= e <= 1 for e in curves["early"])
        assert curves["largest"]["count"] == pytest.approx([0.1, 0.5])
        for m in ES.SALIENCE_MEASURES:                      # the control sits near the diagonal
            assert curves["shuffled"][m] == pytest.approx([0.1, 0.5], abs=0.12)


def test_bad_arguments_are_named():
    mem = _random_memory()
    with pytest.raises(ValueError, match="fraction"):
        ES.salient_set(mem, 0.0)
    with pytest.raises(ValueError, match="order"):
        ES.salient_set(mem, 0.1, "smallest")
    with pytest.raises(TypeError, match="memory"):
        ES.error_strengths("not a memory")
    empty = LayerMemory("e", torch.zeros(2, 3, dtype=F64), False)
    with pytest.raises(ValueError, match="memory"):
        ES.error_strengths(empty)
