"""kvlib.reactivation_threshold: the first beta at which a curve reaches a level."""
import math

import pytest

from kvlib.reactivation_threshold import recovery_beta


def test_first_beta_reaching_the_level_in_the_given_order():
    betas = [1.0, 1.1, 1.2, 1.3]
    assert recovery_beta(betas, [50.0, 95.0, 94.0, 99.0]) == 1.1       # reached exactly counts
    assert recovery_beta(betas, [50.0, 60.0, 70.0, 80.0], level=75) == 1.3
    assert recovery_beta(betas, [50.0, 60.0, 70.0, 80.0], level=0) == 1.0


def test_never_reached_is_nan_and_lengths_must_match():
    assert math.isnan(recovery_beta([1.0, 2.0], [10.0, 20.0]))
    with pytest.raises(ValueError, match="accuracies"):
        recovery_beta([1.0, 2.0], [10.0])
    with pytest.raises(ValueError, match="accuracies"):
        recovery_beta([1.0], [120.0])                                     # a percentage
