"""kvlib.memory_cliff: the classical Hopfield network's cliff near α ≈ 0.138, and the modern network."""
from __future__ import annotations

import pytest
import torch

from kvlib import hopfield
from kvlib import memory_cliff as C


def test_modern_hopfield_step_is_softmax_attention():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20, 16, generator=g, dtype=torch.float64)
    xi = torch.randn(4, 16, generator=g, dtype=torch.float64)
    want = torch.softmax(0.7 * xi @ x.T, dim=-1) @ x
    torch.testing.assert_close(C.modern_hopfield(x, xi, beta=0.7), want, atol=1e-12, rtol=0)
    two = C.modern_hopfield(x, xi, beta=0.7, steps=2)
    torch.testing.assert_close(two, torch.softmax(0.7 * want @ x.T, dim=-1) @ x, atol=1e-12, rtol=0)


def test_modern_hopfield_retrieves_a_stored_pattern_from_a_corrupted_one():
    x = hopfield.random_patterns(50, 100, torch.Generator().manual_seed(0), dtype=torch.float64)
    probe = x[:5].clone()
    probe[:, :20] *= -1                                     # a fifth of the bits flipped
    out = C.modern_hopfield(x, probe, beta=0.5)
    assert bool((hopfield.overlap(torch.sign(out), x[:5]) == 1).all())


@pytest.mark.parametrize("seed", [0, 1])
def test_hopfield_cliff_near_0138(seed):
    res = C.hopfield_capacity(300, [0.05, 0.1, 0.25, 1.0], seeds=1, n_probes=40) if seed == 0 else \
        C.hopfield_capacity(300, [0.05, 0.1, 0.25, 1.0], seeds=2, n_probes=30, flip=0.05)
    c, m = res["overlap_classical"], res["overlap_modern"]
    assert c[0] > 0.97 and c[1] > 0.95                     # below the cliff: recall
    assert c[2] < 0.6 and c[3] < 0.4                       # above it: collapse
    assert min(m) > 0.99                                   # modern Hopfield: no cliff here


def test_sync_and_async_dynamics_give_similar_overlaps():
    loads = [0.05, 0.3]
    s = C.hopfield_capacity(120, loads, n_probes=10, update="sync")["overlap_classical"]
    a = C.hopfield_capacity(120, loads, n_probes=10, update="async")["overlap_classical"]
    assert abs(s[0] - a[0]) < 0.02 and s[0] > 0.97
    assert s[1] < 0.7 and a[1] < 0.7


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="flip: expected a number"):
        C.hopfield_capacity(50, [0.1], flip=1.5)
    with pytest.raises(ValueError, match="update: expected one of"):
        C.hopfield_capacity(50, [0.1], update="random")
    with pytest.raises(ValueError, match="probes: expected last dimension 4"):
        C.modern_hopfield(torch.randn(3, 4), torch.randn(2, 5))
