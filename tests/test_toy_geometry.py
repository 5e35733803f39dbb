"""kvlib.toy_geometry on runs built by hand, where each number is known exactly, and on a short
optimisation, where it must obey the symmetries of the measurement."""
import math

import pytest
import torch

from kvlib.toy import CLASS_FEATURES, ToyRun, ToySetting, train_toy
from kvlib.toy_geometry import (
    class_direction_cosine,
    key_drift,
    quadrant_share,
    snapshot_index,
    value_gap,
    value_progress,
)


def hand_run(keys, values=None, classes=(0, 0, 1, 1), steps=None, lr=3e-4):
    """A ToyRun from snapshots (S, N, 2) given by hand (float64: exact arithmetic)."""
    keys = torch.as_tensor(keys, dtype=torch.float64)
    values = torch.full_like(keys, 0.5) if values is None else torch.as_tensor(values, dtype=torch.float64)
    classes = torch.tensor(classes)
    S = keys.shape[0]
    steps = torch.arange(S) if steps is None else torch.tensor(steps)
    return ToyRun(keys=keys, values=values, steps=steps, loss=torch.ones(max(1, int(steps[-1])),
                  dtype=torch.float64), classes=classes, n_classes=int(classes.max()) + 1,
                  setting=ToySetting(lr=lr))


def test_quadrant_share_counts_keys_in_opposite_quadrants():
    k = [[[1.0, 2.0], [0.5, 0.1], [-1.0, -1.0], [3.0, -1.0]]]     # the last key is in the wrong quadrant
    assert quadrant_share(hand_run(k)) == pytest.approx(75.0, abs=1e-12)
    k_flipped = [[[-x, -y] for x, y in k[0]]]                       # which quadrant is class 0's is not fixed
    assert quadrant_share(hand_run(k_flipped)) == pytest.approx(75.0, abs=1e-12)


def test_quadrant_share_is_blind_to_a_rotation_by_a_right_angle():
    run = train_toy(2, n_pairs=12, steps=20, snapshots=2)
    rot = torch.tensor([[0.0, -1.0], [1.0, 0.0]])                    # maps quadrants onto quadrants
    turned = ToyRun(keys=run.keys @ rot.T, values=run.values, steps=run.steps, loss=run.loss,
                    classes=run.classes, n_classes=2)
    assert quadrant_share(turned) == pytest.approx(quadrant_share(run), abs=1e-9)


def test_class_direction_cosine_is_the_cosine_of_the_mean_keys():
    angle = 0.7
    c, s = math.cos(angle), math.sin(angle)
    k = [[[2.0, 0.0], [4.0, 0.0], [c, s], [3 * c, 3 * s]]]
    assert class_direction_cosine(hand_run(k)) == pytest.approx(math.cos(angle), abs=1e-12)
    # three classes: the largest of the three pairwise cosines
    k3 = [[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]]
    assert class_direction_cosine(hand_run(k3, classes=(0, 1, 2))) == pytest.approx(0.0, abs=1e-12)


def test_value_gap_is_the_largest_distance_from_a_class_feature():
    feats = CLASS_FEATURES[[0, 0, 1, 1]].double()
    v = feats.clone()
    v[2:] += torch.tensor([0.3, 0.4], dtype=torch.float64)    # class 1 off by a 3-4-5 triangle
    run = hand_run(torch.zeros(1, 4, 2), values=v[None])
    assert value_gap(run) == pytest.approx(0.5, abs=1e-12)
    assert value_gap(hand_run(torch.zeros(1, 4, 2), values=feats[None])) == pytest.approx(0.0, abs=1e-12)


def test_value_progress_runs_from_0_to_100_percent():
    run = train_toy(2, n_pairs=10, steps=40, snapshots=4)
    assert value_progress(run, 0) == pytest.approx(0.0, abs=1e-9)
    assert value_progress(run, int(run.steps[-1])) == pytest.approx(100.0, abs=1e-9)


def test_key_drift_of_keys_moving_at_one_learning_rate_a_step():
    lr, T = 1e-3, 10
    t = torch.arange(T + 1, dtype=torch.float64)[:, None, None]
    keys = torch.ones(1, 4, 2, dtype=torch.float64) + lr * t * torch.tensor([1.0, -1.0])   # (T+1, 4, 2)
    drift = key_drift(hand_run(keys, lr=lr), since_step=4)
    assert drift["late"] == pytest.approx(1.0, rel=1e-9)
    assert drift["moved"] == pytest.approx(math.sqrt(2) * lr * T, rel=1e-9)


def test_snapshot_index_finds_the_step_or_names_it():
    run = hand_run(torch.zeros(3, 4, 2), steps=[0, 5, 10])
    assert snapshot_index(run, 5) == 1 and snapshot_index(run) == 2
    with pytest.raises(ValueError, match="at_step"):
        snapshot_index(run, 7)
    with pytest.raises(ValueError, match="since_step"):
        key_drift(run, since_step=10)
    with pytest.raises(ValueError, match="two-class"):
        quadrant_share(hand_run(torch.zeros(1, 3, 2), classes=(0, 1, 2)))
