"""Tests for kvlib.cache_barcodes: sparse, conjunctive keys for caches at one site (§4.2)."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import cache_barcodes as C

SEEDS = (0, 1, 2)


def test_place_code_is_a_smooth_ring():
    p = C.place_code(16, 64)
    G = p @ p.T
    assert torch.allclose(G.diagonal(), torch.ones(16), atol=1e-6)
    near, far = G[0, 1].item(), G[0, 8].item()
    assert near > far and far < 1e-3                    # neighbours overlap, opposite sites do not
    assert torch.allclose(G[0, 1], G[5, 6], atol=1e-6)   # the same on all of the ring


def test_sparse_expansion_keeps_exactly_k_units():
    g = torch.Generator().manual_seed(0)
    x, W = torch.randn(5, 10, generator=g), torch.randn(10, 300, generator=g)
    y = C.sparse_expansion(x, W, 12)
    assert bool(((y > 0).sum(-1) <= 12).all()) and bool(((y > 0).sum(-1) >= 10).all())
    assert torch.allclose(y.norm(dim=-1), torch.ones(5), atol=1e-6)
    h = x @ W                                            # the kept units are the 12 largest
    assert bool((h.gather(-1, y.topk(1).indices) >= h.topk(12).values[:, -1:]).all())


def test_random_expansion_with_kwta_separates_overlapping_inputs():
    # pattern separation: inputs with cosine 0.5 give k-WTA codes with a much smaller overlap
    g = torch.Generator().manual_seed(1)
    d, M = 128, 4000
    base = torch.nn.functional.normalize(torch.randn(200, d, generator=g), dim=-1)
    other = torch.nn.functional.normalize(torch.randn(200, d, generator=g), dim=-1)
    pair = torch.nn.functional.normalize(base + other, dim=-1)          # cosine ~ 0.71 with base
    W = torch.randn(d, M, generator=g) / math.sqrt(d)
    cos_in = (base * pair).sum(-1).mean().item()
    cos_out = (C.sparse_expansion(base, W, 80) * C.sparse_expansion(pair, W, 80)).sum(-1).mean().item()
    assert cos_out < cos_in - 0.2


@pytest.mark.parametrize("seed", SEEDS)
def test_sparse_conjunctive_keys_tell_caches_at_one_site_apart(seed):
    r = C.cache_retrieval(seed=seed)
    last = -1                                                           # 16 caches per site
    # a place code gives caches at one site one key; the softmax then picks at random among them
    assert torch.allclose(r["place_same_site_cosine_mean"], torch.ones(4), atol=1e-5)
    for i, c in enumerate(r["caches_per_site"]):
        assert abs(r["place_softmax_accuracy_mean"][i].item() - 1 / c) < 0.05
    # the sparse code decorrelates same-site caches well below their input overlap (0.5)
    assert bool((r["sparse_same_site_cosine_mean"] < 0.3).all())
    assert abs(r["dense_same_site_cosine_mean"][last].item() - 0.5) < 0.05  # a projection keeps it
    # a linear read needs the decorrelation; a sharp softmax gets by with any conjunctive code
    assert bool((r["sparse_linear_accuracy_mean"][1:] > r["dense_linear_accuracy_mean"][1:] + 0.15).all())
    assert bool((r["dense_linear_accuracy_mean"] > r["place_linear_accuracy_mean"] + 0.1).all())
    assert r["sparse_softmax_accuracy_mean"].min() > 0.95 and r["dense_softmax_accuracy_mean"].min() > 0.95


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="active"):
        C.cache_retrieval(units=10, active=20)
    with pytest.raises(ValueError, match="caches_per_site"):
        C.cache_retrieval(caches_per_site=[1, 2])


def test_cache_numbers_read_the_most_caches_per_site():
    res = {"caches_per_site": [2, 4, 8]}
    names = [f"{c}_{r}_accuracy_mean" for c in C.KEY_CODES for r in ("softmax", "linear")] + [
        f"{c}_{s}_site_cosine_mean" for c in C.KEY_CODES for s in ("same", "other")]
    for i, name in enumerate(names):
        res[name] = torch.tensor([0.0, 0.5, i / 100])                     # only the last entry is read
    nums = C.cache_numbers(res)
    assert nums["cb_n"] == 8 and nums["cb_chance"] == pytest.approx(12.5)
    for code in C.KEY_CODES:
        assert nums[f"cb_lin_{code}"] == pytest.approx(names.index(f"{code}_linear_accuracy_mean"))
    assert nums["cb_place_soft"] == pytest.approx(names.index("place_softmax_accuracy_mean"))
    assert nums["cb_same_sparse"] == pytest.approx(names.index("sparse_same_site_cosine_mean") / 100)
    with pytest.raises(ValueError, match="result"):
        C.cache_numbers({"caches_per_site": [2]})
