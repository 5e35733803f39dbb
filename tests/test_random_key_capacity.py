"""kvlib.random_key_capacity: random keys in a fast weight, read back by the nearest stored value."""
from __future__ import annotations

import pytest

from kvlib import random_key_capacity as RK


def test_accuracy_crossing():
    assert RK.accuracy_crossing([10, 100], [1.0, 0.0]) == pytest.approx(10 ** 1.5)
    assert RK.accuracy_crossing([10, 100], [1.0, 0.9]) == float("inf")
    assert RK.accuracy_crossing([10, 100], [0.2, 0.1]) == 10


def test_effective_dimension_of_isotropic_and_shared_mean_features():
    """Unit-length Gaussian keys spread evenly over d directions (participation ratio d);
    elu+1 features share a large positive mean, which leaves few effective directions."""
    for d in (8, 32):
        assert RK.effective_dimension("identity", d, n=20000) == pytest.approx(d, rel=0.05)
    assert RK.effective_dimension("elu1", 32) < 3


def test_random_key_capacity_tracks_effective_dimension_not_feature_dimension():
    """Cross-talk of N unit-length random features has variance N·tr(C²) = N / m_eff, so the
    nearest-value capacity scales with m_eff: the ratio is the same for every map, while the
    ratio to the feature dimension m is not (DPFP-ν has m = 2ν d_key)."""
    sizes = [16, 32, 64, 128, 256, 512, 1024]
    res = RK.associative_capacity(sizes, d_key=32, seeds=2, features=("identity", "dpfp1", "dpfp2", "dpfp3"))
    cap = {n: RK.accuracy_crossing(sizes, a) for n, a in res["accuracy"].items()}
    per_eff = [cap[n] / res["effective_dim"][n] for n in cap]
    per_m = [cap[n] / res["feature_dim"][n] for n in cap]
    assert max(per_eff) / min(per_eff) < 1.4
    assert max(per_m) / min(per_m) > 3




def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"rule: expected one of sum, delta, got 'hebb'"):
        RK.associative_capacity([8], rule="hebb")
    with pytest.raises(ValueError, match=r"features: expected names among identity, elu1"):
        RK.associative_capacity([8], features=("relu",))
