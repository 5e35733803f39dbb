"""Tests for kvlib.binary_channel: the bit flips, bit errors and information per bit by which MESH
and Vector-HaSH score recall (Chapter 4 §4.2)."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import binary_channel as bc
from kvlib import hopfield


def pm1(P, n, seed=0):
    return hopfield.random_patterns(P, n, torch.Generator().manual_seed(seed))


def test_flip_bits_rate_and_metrics():
    t = pm1(8, 5000)
    f = bc.flip_bits(t, 0.05, torch.Generator().manual_seed(1))
    assert abs(float(bc.feature_error(f, t).mean()) - 0.05) < 0.005
    assert torch.equal(bc.flip_bits(t, 0.0), t)
    assert torch.equal(bc.feature_error(torch.zeros_like(t), t), torch.full((8,), 0.5))   # 0 counts half
    assert bc.mutual_information(0.0) == 1.0 and bc.mutual_information(0.5) == 0.0
    h = -(0.1 * math.log2(0.1) + 0.9 * math.log2(0.9))
    assert abs(bc.mutual_information(0.1) - (1 - h)) < 1e-12
    assert abs(bc.mutual_information(0.9) - (1 - h)) < 1e-12  # a flipped copy is informative


def test_integer_patterns_score_like_float_ones():
    """Regression: integer ±1 patterns are converted exactly (issue 12: integer patterns gave an
    information of 0), so the scores equal the float ones."""
    t = pm1(6, 300)
    r = bc.flip_bits(t, 0.1, torch.Generator().manual_seed(3))
    e_int, e_flt = bc.feature_error(r.long(), t.long()), bc.feature_error(r, t)
    assert torch.equal(e_int, e_flt) and float(e_flt.mean()) > 0.05
    assert bc.mutual_information(float(e_int.mean())) == bc.mutual_information(float(e_flt.mean())) < 0.6


def test_mutual_information_rejects_impossible_error_rates():
    """Regression: rates outside [0, 1] used to be clamped silently."""
    for bad in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="error"):
            bc.mutual_information(bad)
    with pytest.raises(ValueError, match="error"):
        bc.mutual_information(torch.tensor([0.1, 1.2]))
    assert torch.allclose(bc.mutual_information(torch.tensor([0.0, 0.5])),
                          torch.tensor([1.0, 0.0], dtype=torch.float64))


def test_bad_scores():
    with pytest.raises(ValueError, match="target"):
        bc.feature_error(torch.ones(1, 3), torch.tensor([[1.0, 0.2, -1.0]]))
    with pytest.raises(ValueError, match="recalled"):
        bc.feature_error(torch.ones(1, 2), torch.ones(1, 3))
    with pytest.raises(ValueError, match="p: expected a number"):
        bc.flip_bits(pm1(2, 3), 1.5)
    with pytest.raises(TypeError, match="x"):
        bc.flip_bits(torch.ones(2, 3, dtype=torch.bool), 0.1)
