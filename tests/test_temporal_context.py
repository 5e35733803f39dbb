"""Chapter 2: a drifting temporal context as the key, free recall from it, and temporal contiguity."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kvlib import temporal_context as tc


def _recurrence(f, c0, drift):
    """Teaching copy: the TCM-style drift as an explicit loop (the library uses one matmul)."""
    rho = math.sqrt(1 - drift ** 2)
    c, out = c0, []
    for t in range(f.shape[1]):
        c = rho * c + drift * f[:, t]
        out.append(c)
    return F.normalize(torch.stack(out, 1), dim=-1)


@pytest.mark.parametrize("drift", [0.0, 0.2, 0.7, 1.0])
def test_drifting_context_matches_the_recurrence(drift):
    g = torch.Generator().manual_seed(3)
    keys, items = tc.drifting_context(5, 9, 16, drift, g)
    g = torch.Generator().manual_seed(3)                    # redraw the same f and c0
    f = F.normalize(torch.randn(5, 9, 16, generator=g), dim=-1)
    c0 = F.normalize(torch.randn(5, 16, generator=g), dim=-1)
    assert torch.allclose(items, f)
    assert torch.allclose(keys, _recurrence(f, c0, drift), atol=1e-5)


def test_context_extremes():
    g = torch.Generator().manual_seed(0)
    keys, items = tc.drifting_context(3, 6, 8, 0.0, g)
    assert torch.allclose(keys, keys[:, :1].expand_as(keys))   # no drift: one common address
    keys, items = tc.drifting_context(3, 6, 8, 1.0, g)
    assert torch.allclose(keys, items, atol=1e-6)               # full drift: a fresh one each time
    sims = tc.context_similarity(0.4, n_lists=200, length=8, dim=64)
    assert (sims[0, 1:].diff() < 0).all()                       # similarity falls with distance
    assert torch.allclose(sims.diagonal(), torch.ones(8), atol=1e-5)


def test_crp_by_lag_by_hand():
    # list of 4; recalls 1 -> 2 -> 0. Transition 1->2 makes lag +1 with lags -1, +1, +2
    # possible (0, 2, 3 unrecalled); transition 2->0 makes lag -2 with -2, +1 possible (0, 3).
    lags, crp = tc.crp_by_lag(torch.tensor([[1, 2, 0]]), 4)
    table = dict(zip(lags.tolist(), crp.tolist()))
    assert table[1] == 0.5 and table[-2] == 1.0 and table[-1] == 0.0 and table[2] == 0.0
    assert all(math.isnan(table[lag]) for lag in (-3, 0, 3))
    with pytest.raises(ValueError, match="order"):
        tc.crp_by_lag(torch.tensor([[1]]), 4)
    with pytest.raises(ValueError, match="order"):
        tc.crp_by_lag(torch.tensor([[1, 2, 1]]), 4)             # a position recalled twice
    with pytest.raises(ValueError, match="order"):
        tc.crp_by_lag(torch.tensor([[1, 4]]), 4)                # not a position of the list


def test_free_recall_recalls_distinct_items():
    g = torch.Generator().manual_seed(0)
    keys, items = tc.drifting_context(50, 10, 32, 0.5, g)
    order = tc.context_recall_order(keys, items, 0.5, 10, g)
    assert torch.equal(order.sort(1).values, torch.arange(10).expand(50, 10))
    with pytest.raises(ValueError, match="n_recalls"):
        tc.context_recall_order(keys, items, 0.5, 11, g)


def test_recall_draws_with_softmax_probabilities():
    # first recall from the end-of-list context: a softmax draw over all items (Luce choice)
    g = torch.Generator().manual_seed(1)
    keys, items = tc.drifting_context(1, 6, 16, 0.6, g)
    keys, items = keys.expand(20_000, -1, -1), items.expand(20_000, -1, -1)
    first = tc.context_recall_order(keys, items, 0.6, 1, g, sensitivity=3.0)[:, 0]
    p = torch.softmax(3.0 * keys[0] @ keys[0, -1], -1)
    freq = torch.bincount(first, minlength=6).float() / 20_000
    assert (freq - p).abs().max() < 4 * math.sqrt(0.25 / 20_000)
    # a huge sensitivity is safe and picks the best match: the last item itself
    sharp = tc.context_recall_order(keys[:50], items[:50], 0.6, 2, g, sensitivity=1e4)
    assert (sharp[:, 0] == 5).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contiguity_peaks_at_plus_one_and_is_forward_asymmetric(seed):
    lags, crp = tc.temporal_contiguity(0.5, seed=seed)
    table = dict(zip(lags.tolist(), crp.tolist()))
    assert max(table[lag] for lag in table if lag != 0) == table[1]
    assert max(table[lag] for lag in table if lag < 0) == table[-1]
    assert table[1] > 1.3 * table[-1]                  # forward asymmetry
    assert table[-1] > 2 * table[-5]                   # contiguity on the backward side too


@pytest.mark.parametrize("seed", [0, 1])
def test_forward_asymmetry_comes_from_the_items_own_features(seed):
    # Howard & Kahana (2002): retrieved context carries the item's own features, which
    # entered the context only after the item; reinstating the study context alone is
    # nearly symmetric at lag +-1
    ratio = {}
    for reinstate in (0.0, 0.3, 1.0):
        lags, crp = tc.temporal_contiguity(0.5, reinstate=reinstate, seed=seed)
        table = dict(zip(lags.tolist(), crp.tolist()))
        ratio[reinstate] = table[1] / table[-1]
    assert ratio[0.0] > ratio[0.3] > ratio[1.0]
    assert ratio[1.0] < 1.25 < 1.5 < ratio[0.3]


@pytest.mark.parametrize("drift", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_contiguity_vanishes_without_a_slowly_drifting_context(drift, seed):
    lags, crp = tc.temporal_contiguity(drift, seed=seed)
    vals = crp[~crp.isnan()]
    assert vals.max() / vals.min() < 1.4


def test_contiguity_by_drift_keeps_the_drifts_in_order():
    sweep = tc.contiguity_by_drift([0.5, 0.0], n_lists=300, seed=2)
    assert list(sweep) == [0.5, 0.0]
    peak = {d: int(lags[crp.nan_to_num(-1).argmax()]) for d, (lags, crp) in sweep.items()}
    assert peak[0.5] == 1                                   # contiguity only with a drift
    with pytest.raises(ValueError, match="drifts"):
        tc.contiguity_by_drift([0.5, 0.5])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_recall_on_gpu():
    a = tc.temporal_contiguity(0.5, n_lists=300, seed=0)[1]
    b = tc.temporal_contiguity(0.5, n_lists=300, seed=0, device="cuda")[1].cpu()
    assert torch.allclose(a, b, equal_nan=True, atol=0.02)
