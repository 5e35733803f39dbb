"""Tests for kvlib.position_codes: path-integrated structural codes against a fixed time code,
addressing the same TEM memory (Chapter 4, §4.6)."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import position_codes as pc
from kvlib import tem

SMALL = dict(size=4, n_steps=120, n_envs=4)


def test_ring_code_path_integrates_exactly():
    # By construction: each step by ±1 rotates the code onto the next place's code.
    ring = pc.RingCode(12)
    g = ring.codebook[[0, 5, 11]]
    for moves, shift in (([0, 0, 0], 1), ([1, 1, 1], -1), ([2, 2, 2], 0)):
        nxt = ring.step(g, torch.tensor(moves))
        assert torch.allclose(nxt, ring.codebook[[(c + shift) % 12 for c in (0, 5, 11)]], atol=1e-6)
    # distinct places have distinct codes; the code is a cos/sin pair per frequency (n - 1 cells)
    assert ring.n_g == 11 and torch.unique(ring.codebook.round(decimals=5), dim=0).shape[0] == 12


def test_sinusoidal_code_follows_the_transformer_formula_and_never_repeats():
    code = pc.sinusoidal_code(200, n_g=8, amplitude=1.0).double()
    t, i = 37, 3                                      # odd index: cos(t / 10000^(2·1/8))
    assert math.isclose(float(code[t, i]), math.cos(t / 10000 ** (2 / 8)), abs_tol=1e-6)
    d = torch.cdist(code, code) + torch.eye(201) * 10
    assert float(d.min()) > 1e-3                      # a new code at every step


def test_grid_codes_walked_back_to_a_place_are_its_code():
    # Path integration on the torus returns the place's own code, whatever the route.
    acts, pos = tem.random_walk(50, 3, generator=torch.Generator().manual_seed(0))
    G = pc._codes("torus", "grid", 5, acts, pos, torch.device("cpu"))   # noqa: SLF001 (the module's own helper)
    torus = tem.Torus(5)
    assert torch.allclose(G[:, -1], torus.code(pos[:, -1]), atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_only_a_code_of_the_worlds_structure_predicts_new_routes(seed):
    # The finding (measured over 4 seeds at this size: matched 0.55-0.69, ring on the torus
    # 0.12-0.21, time code 0.00-0.11; chance 1/45).
    r = pc.position_code_experiment(seed=seed, **SMALL)
    z = r["zero_shot"]
    for matched in ("torus/grid", "loop/ring"):
        assert z[matched] > 0.45 and z[matched] > z["torus/ring"] + 0.25
    assert z["torus/ring"] < 0.35
    for timed in ("torus/sinusoidal", "loop/sinusoidal"):
        assert z[timed] < 0.2 and r["revisit"][timed] < 0.2


def test_the_grid_code_lives_on_the_torus():
    with pytest.raises(ValueError, match="code: the grid code lives on the torus"):
        pc.code_walk("loop", "grid")
