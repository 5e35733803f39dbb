"""Spotlights of attention (Irie, Csordás & Schmidhuber 2022): the weights are the dual form's, exactly."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from conftest import requires_data, tol
from kvlib import attribution as A
from kvlib.dualform import MemoryRecorder, layer_io, make_mlp

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


def test_concentration_extremes_and_lorenz():
    N = 1000
    one = torch.zeros(2, N, dtype=F64)
    one[:, 17] = 3.0
    c = A.concentration(one, (0.001, 0.5))
    assert torch.allclose(c["top_0.001"], torch.ones(2, dtype=F64))
    assert torch.allclose(c["participation"], torch.full((2,), 1 / N, dtype=F64))
    flat = torch.ones(1, N, dtype=F64)
    c = A.concentration(flat, (0.001, 0.01, 0.5))
    for f in (0.001, 0.01, 0.5):
        assert c[f"top_{f:g}"].item() == pytest.approx(f)
    assert c["participation"].item() == pytest.approx(1.0)
    assert c["peak_to_median"].item() == pytest.approx(1.0)
    # a geometric profile: the top k of N hold (1 - r^k) / (1 - r^N)
    r = 0.99
    geo = r ** torch.arange(N, dtype=F64)[None].flip(-1)
    share = A.lorenz(geo, [0.01, 0.1])
    assert torch.allclose(share[0], torch.tensor([(1 - r ** k) / (1 - r ** N) for k in (10, 100)],
                                                 dtype=F64), atol=1e-12)
    with pytest.raises(ValueError, match="fractions"):
        A.lorenz(flat, [0.0])
    with pytest.raises(ValueError, match="att"):
        A.concentration(-flat)


def test_class_views_vote_and_top_k_on_planted_patterns():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    att = torch.tensor([[5.0, 4.0, 1.0, 1.0, 0.5, 0.5],      # top and vote: class 0
                        [3.0, 0.0, 2.0, 2.0, 0.1, 0.0]], dtype=F64)   # top: 0, vote: 1
    v = A.class_views(att, labels, torch.tensor([0, 1]), torch.tensor([0, 2]), k=1, n_classes=3)
    assert v["vote"].tolist() == [0, 1]
    assert v["vote_is_label"].tolist() == [1.0, 1.0]
    assert v["vote_is_output"].tolist() == [1.0, 0.0]
    assert v["same_class_top"].tolist() == [1.0, 0.0]
    per = A.sorted_per_class(att[0], labels, fraction=0.5, n_classes=3)
    assert [t.tolist() for t in per] == [[5.0], [1.0], [0.5]]
    steps = torch.tensor([0, 0, 1, 1, 2, 2])
    assert A.aggregate(att, steps).tolist() == [[9.0, 2.0, 1.0], [3.0, 4.0, 0.1]]


def test_shuffled_queries_keep_their_values_and_lose_their_order():
    x = torch.arange(24, dtype=F64).view(2, 12)
    s = A.shuffle_queries(x, torch.Generator().manual_seed(0))
    assert torch.equal(s.sort(-1).values, x)
    assert not torch.equal(s, x)
    with pytest.raises(TypeError, match="generator"):
        A.shuffle_queries(x, 0)


def test_config_settings_and_errors():
    src = A.SpotlightConfig.source()
    assert (src.hidden, src.steps, src.batch_size, src.lr, src.momentum, src.grad_clip) == \
        ((800, 800), 5000, 128, 3e-3, 0.9, 1.0)                # the source's sweep and defaults
    assert A.SpotlightConfig.named("source", hidden=[64, 64], dtype="float64").hidden == (64, 64)
    with pytest.raises(ValueError, match="setting"):
        A.SpotlightConfig.named("paper")
    with pytest.raises(ValueError, match="width"):
        A.SpotlightConfig.named("book", width=3)
    with pytest.raises(ValueError, match="steps"):
        A.SpotlightConfig(steps=0)


@requires_data
def test_mnist_run_is_exactly_a_dual_form_in_float64():
    run = A.train_recorded(A.SpotlightConfig(hidden=(32, 32), steps=40, n_train=2000, n_queries=20,
                                             grad_clip=0.3))      # low enough to clip often
    assert any(s < 1 for s in run.clip_scales)
    assert max(A.attention_identity_error(run).values()) <= tol(F64)


_RUNS: dict[int, A.SpotlightRun] = {}


def _mnist_run(seed: int) -> A.SpotlightRun:
    """The source's model shape and optimiser, small: trained once per seed for the tests below."""
    if seed not in _RUNS:
        _RUNS[seed] = A.train_recorded(A.SpotlightConfig(hidden=(32, 32), steps=100, n_train=4000,
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
        A.aggregate(torch.ones(2, 5), torch.zeros(4, dtype=torch.long))
    assert math.isclose(A.SOURCE_TOP_PER_CLASS, 500 / 64000)
