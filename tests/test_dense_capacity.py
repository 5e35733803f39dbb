"""Dense associative memory (Krotov & Hopfield 2016): the update is their energy difference, and
the capacity grows like d^(n-1) for F = max(x, 0)^n and exponentially for F = exp."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import dense_capacity as dc


def _pm1(P, d, seed):
    return 2.0 * torch.randint(0, 2, (P, d), generator=torch.Generator().manual_seed(seed)) - 1.0


@pytest.mark.parametrize("kind,degree", [("polynomial", 2), ("polynomial", 3), ("polynomial", 5),
                                         ("exponential", 2)])
def test_field_is_the_energy_difference_of_flipping_each_neuron(kind, degree):
    X, S = _pm1(30, 12, 0).double(), _pm1(5, 12, 1).double()
    field = dc.energy_field(S, X, kind, degree)
    for i in range(12):                                   # E(σ_i = -1) - E(σ_i = +1), by brute force
        up, down = S.clone(), S.clone()
        up[:, i], down[:, i] = 1.0, -1.0
        diff = dc.energy(down, X, kind, degree) - dc.energy(up, X, kind, degree)
        if kind == "exponential":                          # the field is divided by Σ e^(ξ·σ) > 0
            diff = diff / (S @ X.T).exp().sum(-1)
        assert torch.allclose(field[:, i], diff, rtol=1e-10, atol=1e-9)


def test_a_step_never_raises_the_energy_of_one_neuron_flip():
    X = _pm1(40, 16, 2)
    S = dc.flip_cues(X[:8], 4, torch.Generator().manual_seed(3))
    field = dc.energy_field(S, X, "polynomial", 3)
    new = dc.dense_step(S, X, "polynomial", 3)
    # each neuron, flipped alone to its new sign, lowers (or keeps) the energy: field·(new - old) >= 0
    assert bool(((field * (new - S.double())) >= 0).all())


def test_flip_cues_flips_exactly_n_bits():
    X = _pm1(7, 30, 4)
    C = dc.flip_cues(X, 6, torch.Generator().manual_seed(5))
    assert (C != X).sum(1).tolist() == [6] * 7


def test_degree_two_is_hebbian_up_to_the_self_term():
    # Every overlap >= 2, so F = max(x, 0)^2 is x^2 at s ± 2: A(s) = 4s, B(s) = -4, and the field
    # is 4 (σ Xᵀ X - P σ): the Hebbian field without the self-connections.
    X = torch.tensor([[1., 1, 1, 1, 1, -1], [1, 1, 1, 1, -1, -1], [-1, 1, 1, 1, 1, 1]])
    S = torch.ones(1, 6)
    want = (4 * (S @ X.T @ X - 3 * S)).double()
    assert torch.allclose(dc.energy_field(S, X, "polynomial", 2), want, rtol=0, atol=1e-12)


def test_capacity_scales_as_d_to_the_n_minus_1():
    r = dc.capacity_scaling({2: (40, 80, 160), 3: (20, 40, 80), 4: (20, 30, 40)}, seeds=(0, 1, 2, 3))
    for n in (2, 3, 4):                                   # Krotov & Hopfield: P ~ d^(n-1)
        assert abs(r["slope"][n] - (n - 1)) < 0.45, (n, r["slope"][n])
    assert r["slope"][2] < r["slope"][3] < r["slope"][4]
    # at the largest d, the Gaussian cross-talk estimate is within a factor 1.5 of the measurement
    for n in (3, 4):
        assert 1 / 1.5 < r["capacity"][n][-1] / r["estimate"][n][-1] < 1.5


def test_exponential_capacity_grows_exponentially_at_the_overlap_rate():
    caps = [dc.dense_capacity(d, "exponential", seeds=(0, 1, 2, 3)) for d in (10, 20, 30)]
    rates = [math.log(caps[i + 1] / caps[i]) / 10 for i in range(2)]
    assert all(abs(r - dc.overlap_rate(0.1)) < 0.12 for r in rates), rates
    # and beats every polynomial degree tried at d = 30
    assert caps[-1] > 3 * dc.dense_capacity(30, "polynomial", 4, seeds=(0, 1))


def test_overlap_rate_limits():
    assert dc.overlap_rate(0.0) == pytest.approx(math.log(2))
    assert dc.overlap_rate(0.25) < dc.overlap_rate(0.1) < dc.overlap_rate(0.0)


def test_bit_error_grows_with_load():
    errs = [dc.dense_bit_error(P, 40, "polynomial", 3, seed=s) for s in (0, 1) for P in (50, 400, 3000)]
    assert errs[0] < errs[1] < errs[2] and errs[3] < errs[4] < errs[5]


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="kind"):
        dc.energy_field(_pm1(2, 4, 0), _pm1(3, 4, 1), "cubic")
    with pytest.raises(ValueError, match="states"):
        dc.energy_field(_pm1(2, 5, 0), _pm1(3, 4, 1))
    with pytest.raises(ValueError, match="n_flips"):
        dc.flip_cues(_pm1(2, 4, 0), 5)
