"""What each training example contributes to a trained layer's output (the book's statistic)."""
from __future__ import annotations

import pytest
import torch

from conftest import tol
from kvlib import contributions as C
from kvlib.dualform import LayerMemory, layer_io
from kvlib.recorder import MemoryRecorder
from kvlib.training import make_mlp, train_classifier

F64 = torch.float64


def _run(n=20, seed=6):
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, 12, generator=g, dtype=F64), torch.randint(3, (n,), generator=g)
    model = make_mlp((12, 6, 3), seed=3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = MemoryRecorder(model, opt)
    train_classifier(model, opt, x, y, epochs=10, batch_size=8, recorder=rec)   # repeats
    return model, rec, x, y


@pytest.mark.parametrize("seed", [6, 7])
def test_example_contributions_add_up_and_support_is_a_decomposition(seed):
    model, rec, x, y = _run(seed=seed)
    mem = rec.memories["0"]
    q = torch.randn(4, 12, dtype=F64)
    c = C.example_contributions(mem, q, n_examples=20)               # (B, E, d_out)
    assert c.shape == (4, 20, 6)
    w0 = mem.forward(q, tags=[])
    assert (w0 + c.sum(1) - mem(q)).abs().max() <= tol(F64)
    support = C.example_scores(mem, q, "support", n_examples=20)
    y_out = mem(q)
    w0_support = (w0 * y_out).sum(-1) / y_out.norm(dim=-1)
    assert torch.allclose(support.sum(-1) + w0_support, y_out.norm(dim=-1), atol=1e-10)
    att = C.example_scores(mem, q, "attention", n_examples=20)
    assert torch.allclose(att.sum(-1), mem.attention(q).sum(-1), atol=1e-10)
    assert torch.allclose(C.example_scores(mem, q, "magnitude", n_examples=20), c.norm(dim=-1))


def test_top_examples_finds_a_planted_memory():
    # keys one-hot: the query e_j attends to memory j only, so j must come out on top
    E, d = 6, 6
    mem = LayerMemory("planted", torch.zeros(2, d, dtype=F64), has_bias=False,
                      keys=[torch.eye(d, dtype=F64)], values=[torch.ones(E, 2, dtype=F64)],
                      decay=[1.0], tags=["train"], ids=[torch.arange(E)])
    idx, score = C.top_examples(mem, torch.eye(d, dtype=F64)[[4, 1]], k=1)
    assert idx[:, 0].tolist() == [4, 1]
    assert torch.allclose(score[:, 0], torch.full((2,), 2 ** 0.5, dtype=F64))
    with pytest.raises(ValueError, match="k"):
        C.top_examples(mem, torch.eye(d, dtype=F64), k=7)


def test_concentration_extremes():
    one = torch.zeros(1, 100, 3)
    one[0, 7] = 1.0
    conc = C.contribution_concentration(one)
    assert conc["top_share"].item() == pytest.approx(1.0)
    assert conc["effective_fraction"].item() == pytest.approx(0.01)
    flat = C.contribution_concentration(torch.ones(1, 100, 3))
    assert flat["top_share"].item() == pytest.approx(0.01)
    assert flat["effective_fraction"].item() == pytest.approx(1.0)
    none = C.contribution_concentration(torch.zeros(1, 100, 3))       # no contribution: 0, not NaN
    assert none["top_share"].item() == 0 and none["effective_fraction"].item() == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_retrieval_stats_finds_same_class_examples_on_separable_data(seed):
    g = torch.Generator().manual_seed(seed)
    centres = 4.0 * torch.randn(3, 12, generator=g, dtype=F64)
    y = torch.arange(3).repeat_interleave(40)
    x = (centres[y] + torch.randn(120, 12, generator=g, dtype=F64)).relu()
    model = make_mlp((12, 16, 3), seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    rec = MemoryRecorder(model, opt)
    train_classifier(model, opt, x, y, epochs=5, batch_size=10, recorder=rec, seed=seed)
    io = layer_io(model, ["2"], x[::7])
    stats = C.retrieval_stats(rec.memories["2"], io["2"][0], y, y[::7], k=10, batch=4)
    assert stats["same_class_support"] > 0.8                  # chance is 1/3
    with pytest.raises(ValueError, match="query_labels"):
        C.retrieval_stats(rec.memories["2"], io["2"][0], y, y[:3])
    study = C.retrieval_study(model, rec, x, y, x, y, n_queries=30, n_shown=4, n_top=3)
    assert study["top"]["0"]["support"].shape == (4, 3) and study["chance"] == pytest.approx(1 / 3)
    assert study["stats"]["2"]["same_class_support"] > 0.8


def test_example_indices_are_required():
    model, rec, x, y = _run()
    mem = rec.memories["0"]
    bare = LayerMemory("bare", mem.W0, mem.has_bias, mem.keys, mem.values, mem.decay, mem.tags)
    with pytest.raises(ValueError, match="set_example_ids"):
        C.example_contributions(bare, x)
    with pytest.raises(ValueError, match="by"):
        C.example_scores(mem, x, by="largest")
    with pytest.raises(ValueError, match="n_examples"):
        C.example_contributions(mem, x, n_examples=3)
