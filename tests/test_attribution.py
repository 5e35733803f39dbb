"""Spotlights of attention (Irie, Csordás & Schmidhuber 2022): the weights are the dual form's, exactly."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import requires_data, tol
from kvlib import attention_stats as AS
from kvlib import attribution as A
from kvlib.dualform import LayerMemory, layer_io
from kvlib.recorder import MemoryRecorder
from kvlib.spotlight_run import SpotlightConfig, SpotlightRun, train_recorded
from kvlib.training import make_mlp

F64 = torch.float64


def _source_optimiser_run(bias=True, momentum=0.9, clip=0.3, steps=25, seed=0):
    """A float64 MLP trained as in the source (SGD + momentum + norm clipping), recorded."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(200, 12, generator=g, dtype=F64)
    y = torch.randint(4, (200,), generator=g)
    model = make_mlp((12, 16, 8, 4), bias=bias, seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=momentum)
    rec = MemoryRecorder(model, opt, approximate=True)
    seen, scales = [], []
    for _ in range(steps):
        idx = torch.randint(200, (16,), generator=g)
        rec.set_example_ids(idx)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        norm = float(nn.utils.clip_grad_norm_(model.parameters(), clip))
        scales.append(min(1.0, clip / (norm + 1e-6)))
        opt.step()
        seen.append(x[idx])
    rec.remove()
    return model, rec, torch.cat(seen), scales


@pytest.mark.parametrize("bias", [True, False])
def test_attention_weights_rebuild_every_layer_under_momentum_and_clipping(bias):
    """Eq 11 with keys = each example's layer input per step: exact for the source's optimiser."""
    model, rec, _, scales = _source_optimiser_run(bias=bias)
    assert sum(s < 1 for s in scales) > 0                  # clipping really acted
    q = torch.randn(7, 12, dtype=F64)
    io = layer_io(model, rec.memories, q)
    for name, mem in rec.memories.items():
        w = A.pattern_weights(mem, 0.9, scales)
        assert (A.dual_readout(mem, io[name][0], w) - io[name][1]).abs().max() <= tol(F64)
        # without the momentum and clipping weights the same keys and values do not add up
        plain = A.pattern_weights(mem)
        assert (A.dual_readout(mem, io[name][0], plain) - io[name][1]).abs().max() > 1e-3


def test_first_layer_attention_is_the_dot_product_with_each_presented_example():
    """x_t is one example's input at one step (not a batch mean); the bias input is left out."""
    model, rec, seen, _ = _source_optimiser_run(steps=6)
    q = torch.randn(3, 12, dtype=F64)
    att = A.raw_attention(rec.memories["0"], q)
    assert att.shape == (3, 6 * 16)
    assert torch.allclose(att, (q @ seen.T).abs(), atol=1e-12, rtol=0)
    signed = A.raw_attention(rec.memories["0"], q, absolute=False, include_bias=True)
    assert torch.allclose(signed, q @ seen.T + 1, atol=1e-12, rtol=0)
    assert A.pattern_steps(rec.memories["0"]).tolist() == [t for t in range(6) for _ in range(16)]


def test_pattern_weights_are_the_unrolled_momentum_sum():
    # by hand: step s of T is re-added at every later step with factor mu per step
    mem = _source_optimiser_run(steps=5)[1].memories["2"]
    mu, T = 0.5, 5
    w = A.pattern_weights(mem, mu).view(T, -1)[:, 0]
    hand = [sum(mu ** (t - s) for t in range(s, T)) for s in range(T)]
    assert torch.allclose(w, torch.tensor(hand, dtype=F64), atol=1e-15)
    with pytest.raises(ValueError, match="clip_scales"):
        A.pattern_weights(mem, mu, [1.0, 1.0])
    with pytest.raises(ValueError, match="momentum"):
        A.pattern_weights(mem, 1.0)


_RUNS: dict[int, SpotlightRun] = {}


def _mnist_run(seed: int) -> SpotlightRun:
    """The source's model shape and optimiser, small: trained once per seed for the tests below."""
    if seed not in _RUNS:
        _RUNS[seed] = train_recorded(SpotlightConfig(hidden=(32, 32), steps=100, n_train=4000,
                                                         n_queries=50, seed=seed))
    return _RUNS[seed]


@requires_data
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_input_layer_spotlights_fall_on_the_test_digits_class(seed):
    """The source's finding: the most-attended training patterns are like the test input.

    In the input layer |x . x_t| compares images pixel by pixel; over several seeds the ten
    most-attended patterns mostly share the test digit's class (chance: 0.1), far above the
    same digits with their pixels shuffled, and the vote (largest class total) beats chance.
    """
    st = A.spotlight_stats(_mnist_run(seed), layers=["0"], seed=seed)["0"]
    assert st["same_class_top"] >= 0.6
    assert st["shuffled_same_class_top"] <= 0.25
    assert st["vote_is_label"] >= 0.3


@requires_data
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_attention_mass_is_spread_over_most_patterns(seed):
    """Why Chapter 3's reading differs from "a few training steps": in every layer the top 1 %
    of patterns hold less than 5 % of all attention, and the participation ratio stays above
    one half, although the brightest patterns stand out from the median."""
    for name, st in A.spotlight_stats(_mnist_run(seed), seed=seed).items():
        if name == "model":
            continue
        assert st["top_0.01"] < 5 * st["uniform_top_0.01"]
        assert st["participation"] > 0.5
        assert st["peak_to_median"] > 1.5


def test_raw_attention_checks_its_input():
    _, rec, _, _ = _source_optimiser_run(steps=2)
    with pytest.raises(ValueError, match="x: expected shape"):
        A.raw_attention(rec.memories["0"], torch.randn(3, 11, dtype=F64))
    with pytest.raises(ValueError, match="index"):
        AS.aggregate(torch.ones(2, 5), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="att"):
        AS.lorenz(torch.ones(2, 0), [0.5])                   # no patterns: undefined


def test_attention_summary_on_planted_patterns():
    """Two classes of one-hot patterns: a query along class 0's axes attends to class 0 only."""
    keys = torch.eye(4, dtype=F64)
    mem = LayerMemory("p", torch.zeros(1, 4, dtype=F64), False, keys=[keys],
                      values=[torch.tensor([[1.0], [1.0], [1.0], [3.0]], dtype=F64)], decay=[1.0],
                      tags=["train"], ids=[torch.arange(4)])
    s = A.attention_summary(mem, torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=F64),
                            torch.tensor([0, 0, 1, 1]), torch.tensor([0]), k=2, fraction=0.5)
    assert s["same_class"] == 1.0 and s["top_pattern"] == 1.0 and s["top_example"] == 1.0
    assert s["participation_example"] == pytest.approx(0.5)
    assert s["cv_values"] == pytest.approx(float(torch.tensor([1.0, 1, 1, 3]).std() / 1.5))
