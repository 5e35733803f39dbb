"""Tests for kvlib.extinction: extinguished and amnesic responses come back (§4.1)."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import extinction as E

SEEDS = (0, 1, 2)


def test_context_drift_is_the_recurrence_unrolled():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(2, 30, 5, generator=g, dtype=torch.float64)
    drift = 0.3
    rho = math.sqrt(1 - drift ** 2)
    c, loop = torch.zeros(2, 5, dtype=torch.float64), []
    for t in range(30):                                   # the recurrence, step by step
        c = rho * c + drift * f[:, t]
        loop.append(c)
    assert torch.allclose(E.context_drift(f, drift), torch.stack(loop, 1), atol=1e-12)


def test_context_drift_extremes():
    f = torch.randn(7, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.allclose(E.context_drift(f, 1.0), f, atol=1e-12)        # no memory of the past
    assert torch.count_nonzero(E.context_drift(f, 0.0)) == 0             # the context never moves


@pytest.mark.parametrize("seed", SEEDS)
def test_extinguished_response_recovers_with_delay_and_after_a_reminder(seed):
    r = E.extinction_recovery(seed=seed)
    m, rm = r["response_mean"], r["response_reminder_mean"]
    assert r["response_after_acquisition_mean"] > 0.95             # acquisition was learned
    assert m[0] < 0.1                                              # extinction worked at first
    assert bool((m[1:] >= m[:-1] - 0.02).all())                    # recovery grows with the delay
    assert m[-1] - m[0] > 0.3                                      # spontaneous recovery
    # at long delays the contexts no longer tell the trials apart: the response heads for the
    # share of acquisition trials among the stored CS memories (10 of 20)
    assert abs(m[-1] - 0.5) < 0.1
    assert bool((rm - m > 0.15).all()) and rm[0] - m[0] > 0.2      # reinstatement by one shock
    assert r["rescorla_wagner"] < 0.05                             # the erasing account stays extinguished


def test_more_extinction_trials_push_the_recovered_level_down():
    few, many = E.extinction_recovery(extinction=10), E.extinction_recovery(extinction=30)
    assert many["response_mean"][-1] < few["response_mean"][-1] - 0.15


@pytest.mark.parametrize("seed", SEEDS)
def test_amnesia_is_a_retrieval_failure_with_reminder_and_agent_recoveries(seed):
    r = E.amnesia_recovery(seed=seed)
    m = dict(zip(r["condition"], r["response_mean"]))
    assert m["control"] > 0.9
    assert m["amnesic"] < m["control"] - 0.4                       # amnesia
    assert m["amnesic + reminder"] > m["amnesic"] + 0.15           # a reminder shock recovers it
    assert m["amnesic + agent again"] > 0.9                        # the agent itself recovers it
    assert m["late agent"] > 0.9                                   # old memories are not affected


def test_amnesia_without_integration_is_no_amnesia():
    r = E.amnesia_recovery(integration=0.0)
    m = dict(zip(r["condition"], r["response_mean"]))
    same = [m[c] for c in ("control", "amnesic", "amnesic + agent again", "late agent")]
    assert max(same) - min(same) < 1e-6                            # the agent's state adds nothing


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="delays"):
        E.extinction_recovery(delays=[0, 1])                        # before the reminder can come
    with pytest.raises(ValueError, match="drift"):
        E.context_drift(torch.zeros(3, 2), 1.5)
    with pytest.raises(ValueError, match="lead"):
        E.amnesia_recovery(test_delay=5, lead=5)


def test_returning_response_numbers():
    rec = {"delay": [1, 10, 100], "response_mean": torch.tensor([0.1, 0.3, 0.6]),
           "response_reminder_mean": torch.tensor([0.4, 0.6, 0.8]), "rescorla_wagner": 0.0,
           "acquisition": 30, "extinction": 10}
    conds = ["control", "amnesic", "amnesic + reminder", "amnesic + agent again", "late agent"]
    amn = {"condition": conds, "response_mean": [0.9, 0.1, 0.5, 0.95, 0.85]}
    nums = E.returning_response_numbers(rec, amn)
    assert (nums["ext_first"], nums["ext_last"]) == (1, 100)
    assert nums["ext_m_last"] == pytest.approx(60.0) and nums["ext_r_first"] == pytest.approx(40.0)
    assert nums["ext_share"] == pytest.approx(75.0)            # 30 acquisition trials of 40
    assert nums["am_amnesic"] == pytest.approx(10.0) and nums["am_late"] == pytest.approx(85.0)
    with pytest.raises(ValueError, match="amnesia"):
        E.returning_response_numbers(rec, {"response_mean": []})
