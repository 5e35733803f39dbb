"""Tests for kvlib.long_retention: decades of retention beside lists forgotten in minutes (§4.1)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from kvlib import long_retention as R
from kvlib.extinction import context_drift

SEEDS = (0, 1, 2)


def test_blocked_contexts_equal_the_unrolled_recurrence():
    f = torch.randn(2, 700, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    full = F.normalize(context_drift(f, 0.1), dim=-1)
    assert torch.allclose(R.long_contexts(f, 0.1), full, atol=1e-10)


def test_context_similarity_decays_as_rho_to_the_lag():
    # for random unit inputs the context autocorrelation is rho^lag (a stationary AR(1) process)
    g = torch.Generator().manual_seed(1)
    f = F.normalize(torch.randn(16, 1800, 256, generator=g, dtype=torch.float64), dim=-1)
    c = R.long_contexts(f, 0.1)
    rho = (1 - 0.1 ** 2) ** 0.5
    for lag in (10, 100, 300):
        sim = (c[:, 1000:1500] * c[:, 1000 + lag:1500 + lag]).sum(-1).mean().item()
        assert abs(sim - rho ** lag) < 0.03


@pytest.mark.parametrize("seed", SEEDS)
def test_item_cues_last_while_context_cues_fade(seed):
    r = R.retention_curves(seed=seed)
    item, ctx, gaps = r["item_cue_mean"], r["context_cue_mean"], r["interval"]
    at = {g: i for i, g in enumerate(gaps)}
    assert item[at[1]] > 0.95 and item[at[10000]] > 0.5            # after 10,000 more memories
    assert ctx[at[1]] > 0.4 and ctx[at[30]] < 0.05                 # a list lost within tens of steps
    assert bool((item[1:] <= item[:-1] + 0.01).all())              # both only decline
    assert bool((ctx[1:] <= ctx[:-1] + 0.01).all())


def test_without_drift_the_context_cue_keeps_finding_the_list_share():
    # a context that never moves cannot tell the list from what came after: the list's share of
    # the weight is its share of the memories (10 of 10 + gap)
    r = R.retention_curves(intervals=[10, 90], drift=0.0, subjects=4)
    assert r["context_cue_mean"][0].item() == pytest.approx(10 / 20, abs=1e-4)
    assert r["context_cue_mean"][1].item() == pytest.approx(10 / 100, abs=1e-4)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="intervals"):
        R.retention_curves(intervals=[])
    with pytest.raises(ValueError, match="drift"):
        R.long_contexts(torch.zeros(3, 2), -0.1)


def test_retention_numbers_read_intervals_1_10_100_and_last():
    res = {"interval": [1, 10, 100, 1000], "item_cue_mean": torch.tensor([0.9, 0.85, 0.8, 0.7]),
           "context_cue_mean": torch.tensor([0.5, 0.2, 0.05, 0.0])}
    nums = R.retention_numbers(res)
    assert nums["rt_item_1"] == pytest.approx(90.0) and nums["rt_item_last"] == pytest.approx(70.0)
    assert nums["rt_ctx_10"] == pytest.approx(20.0) and nums["rt_ctx_100"] == pytest.approx(5.0)
    assert nums["rt_last"] == 1000
    with pytest.raises(ValueError, match="10"):
        R.retention_numbers({**res, "interval": [1, 3, 100, 1000]})
