"""Tests for kvlib.substrates: TEM's memory step as torch_tem writes it, and the neuron-astrocyte
network (Chapter 4 §4.3, §4.4)."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import tol
from kvlib import substrates as sb


# --------------------------------------------------------------------------- TEM's memory
def test_path_integration_lands_on_the_code_of_the_end_position():
    tor = sb.Torus(6)
    acts, pos = sb.random_walk(300, 20, start=(5, -3), generator=torch.Generator().manual_seed(0))
    g = tor.code(pos[:, 0])
    for t in range(300):
        g = tor.step(g, acts[:, t])
    assert torch.allclose(g, tor.code(pos[:, -1]), atol=1e-5)
    T = tor.transitions.double()
    eye = torch.eye(tor.n_g, dtype=torch.float64)
    assert torch.allclose(T[0] @ T[1], eye, atol=1e-6)         # opposite moves undo each other
    assert torch.allclose(T[0] @ T[2], T[2] @ T[0], atol=1e-6)  # moves commute
    assert torch.allclose(T[0] @ T[0].T, eye, atol=1e-6)       # rotations: orthogonal


def test_structural_code_is_plane_waves_on_the_torus():
    tor = sb.Torus(6, amplitude=1.0)
    assert tor.n_g == 35                                       # 36 − 1 Fourier modes of a 6 × 6 torus
    G = tor.codebook.double()
    C = G.T @ G
    assert torch.allclose(C - torch.diag(C.diagonal()), torch.zeros(35, 35, dtype=torch.float64), atol=1e-4)
    assert torch.linalg.matrix_rank(G) == 35


def test_tem_parameters_are_torch_tem_defaults():
    mem = sb.TEMMemory(4, 3)
    assert (mem.lam, mem.eta, mem.kappa, mem.n_iter) == (0.9999, 0.5, 0.8, 5)   # parameters.py


def test_hebbian_update_is_tems_rule():
    g = torch.Generator().manual_seed(0)
    mem = sb.TEMMemory(4, 3, batch=2)
    mem.M = torch.rand(2, 12, 12, generator=g) * 2 - 1
    M0 = mem.M.clone()
    p, p_hat = torch.rand(2, 12, generator=g), torch.rand(2, 12, generator=g)
    mem.hebbian(p, p_hat)
    for b in range(2):                                        # M = clip(λM + η (p + p̂)ᵀ(p − p̂), −1, 1)
        expect = (0.9999 * M0[b] + 0.5 * torch.outer(p[b] + p_hat[b], p[b] - p_hat[b])).clamp(-1, 1)
        assert torch.allclose(mem.M[b], expect, atol=tol(torch.float32))


def test_attractor_is_tems_iteration():
    g = torch.Generator().manual_seed(1)
    mem = sb.TEMMemory(4, 3, batch=2)
    mem.M = (torch.rand(2, 12, 12, generator=g) * 2 - 1) * 0.3
    h0 = torch.randn(2, 12, generator=g)
    f = lambda x: torch.nn.functional.leaky_relu(torch.clamp(x, -1, 1))
    h = f(h0)
    for _ in range(5):                                        # h ← f_p(κh + hM)
        h = f(0.8 * h + torch.einsum("bi,bij->bj", h, mem.M))
    assert torch.allclose(mem.attractor(h0), h, atol=tol(torch.float32))


def test_conjunction_query_and_read_out():
    mem = sb.TEMMemory(3, 4)
    g = torch.tensor([[0.1, -0.2, 0.3]])
    x = torch.tensor([[0.0, 0.6, 0.8, 0.0]])
    p = mem.conjunction(g, x)
    assert torch.allclose(p, sb.TEMMemory.f_p(torch.outer(g[0], x[0]).reshape(1, -1)))   # g-major flatten
    assert torch.equal(mem.query(g), g.repeat_interleave(4, dim=1))                      # g ⊗ 1
    assert torch.allclose(mem.read_x(torch.outer(g[0], x[0]).reshape(1, -1)), g.sum() * x)
    codes = sb.two_hot_codes(45, 10)
    assert codes.shape == (45, 10) and torch.unique(codes, dim=0).shape[0] == 45
    xp = sb.TEMMemory.prepare_x(codes)
    assert torch.allclose(xp.norm(dim=1), torch.ones(45)) and bool((xp >= 0).all())


def test_one_memory_is_retrieved_from_its_place_alone():
    tor = sb.Torus(6)
    mem = sb.TEMMemory(tor.n_g, 10)
    x = sb.TEMMemory.prepare_x(sb.two_hot_codes(45, 10))
    g = tor.code(torch.tensor([[2, 3]]))
    p_hat = mem.attractor(mem.query(g))
    mem.hebbian(mem.conjunction(g, x[[17]]), p_hat)
    read = mem.read_x(mem.attractor(mem.query(g)))
    assert int((read @ x.T).argmax()) == 17


@pytest.fixture(scope="module")
def tem_runs():
    return [sb.tem_experiment(n_steps=300, n_envs=4, seed=s) for s in range(3)]


def test_tem_memory_infers_returns_by_new_routes_like_a_node_agent(tem_runs):
    """torch_tem's analyse.zero_shot / compare_to_agents: returns to a visited place by an
    untaken (place, action) are predicted by TEM and the node agent, not by the edge agent."""
    for r in tem_runs:
        z = r["zero_shot_total"]
        assert z["node"] == 1.0                                # by definition
        assert z["edge"] < 0.1                                 # chance = 1/45 by definition
        assert z["tem"] > 0.8 and r["revisit_total"]["tem"] > 0.85
        assert r["first_visit_total"]["tem"] < 0.1             # nothing to recall on a first visit


def test_tem_memory_fails_when_the_code_is_much_smaller_than_the_environment():
    small = sb.tem_experiment(sb.Torus(6, max_frequency=1.0), n_steps=300, n_envs=4, seed=0)
    full = sb.tem_experiment(sb.Torus(6), n_steps=300, n_envs=4, seed=0)
    assert small["revisit_total"]["tem"] < full["revisit_total"]["tem"] - 0.3


def test_bad_torus_and_walk():
    with pytest.raises(ValueError, match="size"):
        sb.Torus(1)
    with pytest.raises(ValueError, match="amplitude"):
        sb.Torus(6, amplitude=0)
    with pytest.raises(ValueError, match="max_frequency"):
        sb.Torus(6, max_frequency=0.5)
    with pytest.raises(ValueError, match="n_steps"):
        sb.random_walk(-1)
    with pytest.raises(ValueError, match="n_obs"):
        sb.two_hot_codes(46, 10)
    with pytest.raises(ValueError, match="kappa"):
        sb.TEMMemory(3, 3, kappa=-1)


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
    q = torch.randn(1, 4, generator=g, dtype=torch.float64) / 2
    k = torch.randn(1, 4, generator=g, dtype=torch.float64) / 2
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
