"""kvlib.learned_capacity: setting-1 capacities, the book's small runs and Schlag et al.'s logs."""
from __future__ import annotations

import pytest

from kvlib import associative_retrieval as AR
from kvlib import fastweights as FW
from kvlib import learned_capacity as LC


def test_setting1_capacity_tracks_the_feature_dimension():
    """Schlag et al.'s finding, at a small scale and with three independent runs of each size:
    with 16-dimensional keys, elu+1 (m = 16) learns 8 keys but sits on the rank bound at 32, while
    DPFP-2 (m = 64) learns 32 keys and sits on the bound at 128. Same key size, capacity set by m.
    (At this key size two DPFP keys now and then end up sharing their active features, a local
    minimum that costs 0.25 per query, 0.016 in the mean over 32: hence 0.02, far below 0.25.)"""
    runs = [(name, n) for name, m in (("elu1", 16), ("dpfp2", 64)) for n in (m // 2, 2 * m)
            for _ in range(3)]
    res = AR.associative_retrieval(runs, d_key=16, value_in_key=False, max_steps=1500)
    for (name, n), loss, bound in zip(runs, res["final_loss"], res["bound"]):
        m = FW.feature_dim(name, 16)
        if n < m:
            assert loss <= 0.02, (name, n, loss)
        else:
            assert bound == 0.25
            assert bound - 0.005 <= loss <= bound + 0.03, (name, n, loss)


def test_their_logs_sit_on_the_rank_bound():
    """Schlag et al.'s committed losses for S ≤ 200 (all queries evaluated) against ½(1 - m/S)."""
    for name in ("elu1", "dpfp1", "dpfp2", "dpfp3"):
        m = FW.feature_dim(name, 64)
        for n, loss in LC.SCHLAG2021_LOGS[name].items():
            if n <= 200:
                assert loss >= AR.rank_bound(n, m) - 0.01, (name, n)    # chunk means: a little below
                assert loss <= AR.rank_bound(n, m) + 0.03, (name, n)
    logs = LC.SCHLAG2021_LOGS
    caps = {name: LC.capacity_from_losses(sorted(logs[name]), [logs[name][n] for n in sorted(logs[name])])
            for name in ("dpfp1", "dpfp2", "dpfp3")}
    for name, cap in caps.items():
        assert cap == pytest.approx(FW.feature_dim(name, 64), rel=0.1)




def test_retrieval_capacity_errors():
    with pytest.raises(ValueError, match=r"scale: expected one of small, paper, got 'huge'"):
        LC.retrieval_capacity("huge")
    with pytest.raises(ValueError, match=r"features\[0\]: features: expected identity"):
        LC.retrieval_capacity(features=["relu"])


def test_capacity_from_losses_stops_at_the_first_loss_above_the_level():
    assert LC.capacity_from_losses([20, 40, 60, 80], [0.001, 0.002, 0.2, 0.001]) == 40
    assert LC.capacity_from_losses([20, 40], [0.5, 0.0]) == 0
