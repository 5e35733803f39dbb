"""Tests for kvlib.substrates: the TEM-like structural memory and the neuron-astrocyte network
(Chapter 4 §TEM as key-value memory, §Astrocytes compute attention)."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import tol
from kvlib import substrates as sb


# --------------------------------------------------------------------------- TEM-like sketch
def test_path_integration_lands_on_the_code_of_the_end_position():
    tor = sb.Torus((3, 4))
    acts, pos = sb.random_walk(60, 20, start=(5, -3), generator=torch.Generator().manual_seed(0))
    g = tor.code(pos[:, 0])
    for t in range(60):
        g = tor.step(g, acts[:, t])
    assert torch.equal(g, tor.code(pos[:, -1]))
    # opposite moves undo each other: T_{+x} T_{−x} = I
    assert torch.equal(tor.transitions[0] @ tor.transitions[1], torch.eye(tor.codebook.shape[1]))


def test_place_code_is_one_cell_per_place():
    tor = sb.Torus((3, 5))
    p = tor.place_code(tor.codebook)                              # (225, 225)
    assert torch.equal(p.sum(dim=1), torch.ones(225))
    assert torch.equal(p.sum(dim=0), torch.ones(225))             # a permutation: every place its own cell


def test_conjunctive_memory_is_hebbian():
    mem = sb.ConjunctiveMemory(4, 3)
    p = torch.eye(4)[[0, 2]]
    s = torch.tensor([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]])
    mem.store(p, s)
    assert torch.equal(mem.M, p.T @ s)
    assert torch.equal(mem.recall(torch.eye(4)[[2]]), s[1:])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tem_agent_recalls_every_visited_place_by_any_route(seed):
    res = sb.tem_trial(sb.Torus((3, 4)), 300, generator=torch.Generator().manual_seed(seed))
    assert res["tem_visited"] == 1.0
    assert res["tem"] > res["route"] + 0.3                        # routes rarely retrace known steps


def test_accuracy_grows_with_exploration_and_tem_stays_ahead():
    res = sb.tem_experiment(explore_steps=(0, 50, 200, 800), seeds=(0, 1, 2))
    f, tem, route = res["fraction_visited"], res["accuracy"]["tem"], res["accuracy"]["route"]
    assert f == sorted(f) and tem == sorted(tem)
    for e, t, r in zip(res["ends_visited"], tem, route):
        assert t >= r
        assert abs(t - (e + (1 - e) / 10)) < 0.05                 # right at every visited end, chance elsewhere
    assert tem[-1] > 0.9 and route[-1] < 0.5


def test_bad_torus_and_walk():
    with pytest.raises(ValueError, match="co-prime"):
        sb.Torus((2, 4))
    with pytest.raises(ValueError, match="periods"):
        sb.Torus((3, 0))
    with pytest.raises(ValueError, match="n_steps"):
        sb.random_walk(-1)
    with pytest.raises(ValueError, match="n_obs"):
        sb.tem_trial(sb.Torus((3, 4)), 10, n_obs=0)


# --------------------------------------------------------------------------- astrocytes
def _inputs(seed=0, T=20, B=6, d=5, m=64):
    g = torch.Generator().manual_seed(seed)
    K = torch.randn(T, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    V = torch.randn(T, 3, generator=g, dtype=torch.float64)
    Q = torch.randn(B, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    return K, V, Q, sb.draw_features(d, m, g)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_neuron_astrocyte_network_equals_kernel_attention(seed):
    K, V, Q, omega = _inputs(seed)
    net = sb.NeuronAstrocyteNetwork(omega)
    net.write(K, V)
    out = net.read(Q)
    assert torch.allclose(out["output"], sb.kernel_attention(Q, K, V, omega), atol=tol(torch.float64), rtol=0)
    # the astrocyte's calcium is the summed key-query similarity Σ_t φ(q)·φ(k_t)
    S = sb.positive_random_features(Q, omega) @ sb.positive_random_features(K, omega).T
    assert torch.allclose(out["calcium"], S.sum(dim=1), atol=tol(torch.float64), rtol=1e-12)
    # each process responds linearly to its hidden neuron's activity
    assert torch.allclose(out["processes"], out["hidden"] * net.z, atol=0, rtol=0)


def test_random_features_approach_softmax_attention():
    res = sb.astrocyte_error_curve(n_features=(16, 256, 4096), seeds=(0, 1, 2))
    assert max(res["to_kernel"]) < 1e-10
    e = res["to_softmax"]
    assert e[0] > e[1] > e[2] and e[2] < 0.1
    assert e[0] / e[2] > 4                                        # ≈ √(4096/16) = 16 in expectation


def test_positive_random_features_are_unbiased():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 4, generator=g, dtype=torch.float64) / 2, torch.randn(1, 4, generator=g, dtype=torch.float64) / 2
    omega = sb.draw_features(4, 200_000, g)
    est = float(sb.positive_random_features(q, omega) @ sb.positive_random_features(k, omega).T)
    assert abs(est - math.exp(float(q @ k.T))) < 0.02


def test_bad_astrocyte_inputs():
    K, V, Q, omega = _inputs()
    with pytest.raises(ValueError, match=r"x: expected shape \(B, 5\)"):
        sb.positive_random_features(torch.ones(2, 4, dtype=torch.float64), omega)
    net = sb.NeuronAstrocyteNetwork(omega)
    with pytest.raises(ValueError, match="write memories first"):
        net.read(Q)
    with pytest.raises(ValueError, match="V: expected 20 rows"):
        net.write(K, V[:3])
    with pytest.raises(ValueError, match="m"):
        sb.draw_features(5, 0)
