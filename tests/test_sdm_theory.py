"""Kanerva's analysis of the sparse distributed memory: binomial tails, overlaps, critical distance."""
from __future__ import annotations

import math

import pytest

from kvlib import sdm_theory as T


def test_activation_probability_is_the_binomial_tail():
    # Kanerva's example: radius 451 of 1000 bits activates about 1 in 1000 locations
    assert T.activation_probability(1000, 451) == pytest.approx(0.001, rel=0.1)
    assert T.radius_for_fraction(1000, 0.001) == 451
    assert T.activation_probability(11, 5) == pytest.approx(0.5, abs=1e-15)   # symmetry
    assert T.activation_probability(20, 20) == 1.0
    assert T.activation_probability(20, 0) == 2.0 ** -20
    # normal approximation to the tail at n = 1000, radius n/2 - 2 sd
    z = (450.5 - 500) / math.sqrt(250)
    assert T.activation_probability(1000, 450) == pytest.approx(0.5 * math.erfc(-z / math.sqrt(2)), rel=0.1)
    assert T.kanerva_fraction(1_000_000, 10_000) == pytest.approx((2e10) ** (-1 / 3), rel=1e-12)


def test_intersection_probability_identities_float64():
    n, r = 64, 26
    p = T.activation_probability(n, r)
    curve = [T.intersection_probability(n, r, d) for d in range(n + 1)]
    assert curve[0] == pytest.approx(p, abs=1e-15)
    # falls with distance, in steps of two: balls at distance 2k - 1 and 2k meet equally
    for k in range(1, r + 1):
        assert curve[2 * k - 1] == pytest.approx(curve[2 * k], rel=1e-12)
        assert curve[2 * k - 2] > curve[2 * k - 1]
    assert all(c == 0.0 for c in curve[2 * r + 1:])                            # balls apart
    assert T.intersection_curve(n, r).tolist() == curve                       # the same exact sums
    # a uniform random second address is independent of the location: E_d[P_2(d)] = p^2
    weights = [math.comb(n, d) / 2 ** n for d in range(n + 1)]
    assert sum(w * c for w, c in zip(weights, curve)) == pytest.approx(p * p, abs=1e-12)


def test_read_error_refuses_a_table_it_cannot_hold():
    with pytest.raises(ValueError, match="n_locations"):
        T.read_error(10, 1000, 1_000_000, 451, 10_000)                    # Kanerva's full-size memory


def test_radius_for_fraction_inverts_the_activation_probability():
    for n, r in ((256, 110), (784, 360), (1000, 451)):
        assert T.radius_for_fraction(n, T.activation_probability(n, r)) == r
    with pytest.raises(ValueError, match="fraction"):
        T.radius_for_fraction(100, 1.0)


def test_intersection_probability_counts_every_location_by_brute_force():
    n, r = 10, 3
    locations = [[(i >> b) & 1 for b in range(n)] for i in range(2 ** n)]        # all of {0, 1}^10
    a = [0] * n
    for d in range(n + 1):
        b = [1] * d + [0] * (n - d)
        both = sum(sum(x != y for x, y in zip(loc, a)) <= r and sum(x != y for x, y in zip(loc, b)) <= r
                   for loc in locations)
        assert T.intersection_probability(n, r, d) == both / 2 ** n
