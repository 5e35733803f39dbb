"""Tests for kvlib.tem: TEM's memory step as torch_tem writes it (its Hebbian rule, attractor,
conjunctive code and parameters), the path-integrating structural code, and TEM's zero-shot test
against the node and edge agents (Chapter 4 §4.3)."""
from __future__ import annotations

import pytest
import torch

from conftest import tol
from kvlib import tem


# --------------------------------------------------------------------------- TEM's memory
def test_path_integration_lands_on_the_code_of_the_end_position():
    tor = tem.Torus(6)
    acts, pos = tem.random_walk(300, 20, start=(5, -3), generator=torch.Generator().manual_seed(0))
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
    tor = tem.Torus(6, amplitude=1.0)
    assert tor.n_g == 35                                       # 36 − 1 Fourier modes of a 6 × 6 torus
    G = tor.codebook.double()
    C = G.T @ G
    assert torch.allclose(C - torch.diag(C.diagonal()), torch.zeros(35, 35, dtype=torch.float64), atol=1e-4)
    assert torch.linalg.matrix_rank(G) == 35


def test_tem_parameters_are_torch_tem_defaults():
    mem = tem.TEMMemory(4, 3)
    assert (mem.lam, mem.eta, mem.kappa, mem.n_iter) == (0.9999, 0.5, 0.8, 5)   # parameters.py


def test_hebbian_update_is_tems_rule():
    g = torch.Generator().manual_seed(0)
    mem = tem.TEMMemory(4, 3, batch=2)
    mem.M = torch.rand(2, 12, 12, generator=g) * 2 - 1
    M0 = mem.M.clone()
    p, p_hat = torch.rand(2, 12, generator=g), torch.rand(2, 12, generator=g)
    mem.hebbian(p, p_hat)
    for b in range(2):                                        # M = clip(λM + η (p + p̂)ᵀ(p − p̂), −1, 1)
        expect = (0.9999 * M0[b] + 0.5 * torch.outer(p[b] + p_hat[b], p[b] - p_hat[b])).clamp(-1, 1)
        assert torch.allclose(mem.M[b], expect, atol=tol(torch.float32))


def test_attractor_is_tems_iteration():
    g = torch.Generator().manual_seed(1)
    mem = tem.TEMMemory(4, 3, batch=2)
    mem.M = (torch.rand(2, 12, 12, generator=g) * 2 - 1) * 0.3
    h0 = torch.randn(2, 12, generator=g)
    f = lambda x: torch.nn.functional.leaky_relu(torch.clamp(x, -1, 1))
    h = f(h0)
    for _ in range(5):                                        # h ← f_p(κh + hM)
        h = f(0.8 * h + torch.einsum("bi,bij->bj", h, mem.M))
    assert torch.allclose(mem.attractor(h0), h, atol=tol(torch.float32))


def test_conjunction_query_and_read_out():
    mem = tem.TEMMemory(3, 4)
    g = torch.tensor([[0.1, -0.2, 0.3]])
    x = torch.tensor([[0.0, 0.6, 0.8, 0.0]])
    p = mem.conjunction(g, x)
    assert torch.allclose(p, tem.TEMMemory.f_p(torch.outer(g[0], x[0]).reshape(1, -1)))   # g-major flatten
    assert torch.equal(mem.query(g), g.repeat_interleave(4, dim=1))                      # g ⊗ 1
    assert torch.allclose(mem.read_x(torch.outer(g[0], x[0]).reshape(1, -1)), g.sum() * x)
    codes = tem.two_hot_codes(45, 10)
    assert codes.shape == (45, 10) and torch.unique(codes, dim=0).shape[0] == 45
    xp = tem.TEMMemory.prepare_x(codes)
    assert torch.allclose(xp.norm(dim=1), torch.ones(45)) and bool((xp >= 0).all())


def test_one_memory_is_retrieved_from_its_place_alone():
    tor = tem.Torus(6)
    mem = tem.TEMMemory(tor.n_g, 10)
    x = tem.TEMMemory.prepare_x(tem.two_hot_codes(45, 10))
    g = tor.code(torch.tensor([[2, 3]]))
    p_hat = mem.attractor(mem.query(g))
    mem.hebbian(mem.conjunction(g, x[[17]]), p_hat)
    read = mem.read_x(mem.attractor(mem.query(g)))
    assert int((read @ x.T).argmax()) == 17


@pytest.fixture(scope="module")
def tem_runs():
    return [tem.tem_experiment(n_steps=300, n_envs=4, seed=s) for s in range(3)]


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
    small = tem.tem_experiment(tem.Torus(6, max_frequency=1.0), n_steps=300, n_envs=4, seed=0)
    full = tem.tem_experiment(tem.Torus(6), n_steps=300, n_envs=4, seed=0)
    assert small["revisit_total"]["tem"] < full["revisit_total"]["tem"] - 0.3


def test_bad_torus_and_walk():
    with pytest.raises(ValueError, match="size"):
        tem.Torus(1)
    with pytest.raises(ValueError, match="amplitude"):
        tem.Torus(6, amplitude=0)
    with pytest.raises(ValueError, match="max_frequency"):
        tem.Torus(6, max_frequency=0.5)
    with pytest.raises(ValueError, match="n_steps"):
        tem.random_walk(-1)
    with pytest.raises(ValueError, match="n_obs"):
        tem.two_hot_codes(46, 10)
    with pytest.raises(ValueError, match="kappa"):
        tem.TEMMemory(3, 3, kappa=-1)
    with pytest.raises(ValueError, match="lam"):
        tem.TEMMemory(3, 3, lam=1.5)
    with pytest.raises(ValueError, match="device"):
        tem.Torus(6, device="tpu")
    with pytest.raises(ValueError, match="bins"):
        tem.tem_experiment(n_steps=10, n_envs=1, bins=(0.5, 0.2))
    tor = tem.Torus(4)
    with pytest.raises(ValueError, match="actions"):
        tor.step(tor.code(torch.tensor([[0, 0]])), torch.tensor([4]))
    with pytest.raises(TypeError, match="xy"):
        tor.code(torch.tensor([[0.5, 1.0]]))
    mem = tem.TEMMemory(tor.n_g, 3)
    with pytest.raises(ValueError, match="h"):
        mem.attractor(torch.zeros(2, tor.n_g * 3))                   # one environment, two rows


def test_steps_without_data_are_none_not_nan():
    """Regression: an empty bin used to be NaN, which broke the figure's JSON."""
    res = tem.tem_experiment(n_steps=5, n_envs=1, bins=(0.0, 0.5, 0.95, 1.0))
    assert res["accuracy"]["tem"][-1] is None and res["n_zero_shot"][-1] == 0
    assert all(v is None or 0.0 <= v <= 1.0 for v in res["accuracy"]["node"])
