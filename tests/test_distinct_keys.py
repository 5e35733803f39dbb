"""Tests for kvlib.distinct_keys: keys and values are distinct, each shaped for its own job (§4.2)."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import distinct_keys as D

SEEDS = (0, 1, 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_reminder_restores_context_specificity_only_with_keys(seed):
    c = D.context_fear_conditions(seed=seed)
    A, B = c["freezing_A_mean"], c["freezing_B_mean"]
    day1, week, reminded, lesion, lesion_reminded = range(5)
    assert A[day1] - B[day1] > 0.8                               # specific a day later
    assert B[week] > 0.3 and A[week] - B[week] < A[day1] - B[day1] - 0.3   # generalises
    assert A[reminded] - B[reminded] > 0.8                       # reminder restores specificity
    for k in (lesion, lesion_reminded):                          # without keys: no specificity
        assert abs(A[k] - B[k]) < 0.05 and B[k] > 0.5


def test_the_reminder_copies_the_stored_keys_detail_back():
    plain = D.context_fear([7])
    reminded = D.context_fear([7], reminder=True)
    assert plain["query_detail_gain"][0] == pytest.approx(math.exp(-140 / 100), rel=1e-6)   # assumed decay
    assert reminded["query_detail_gain"][0] > 0.9               # the stored key kept its detail
    lesion = D.context_fear([7], reminder=True, keys=False)
    assert lesion["query_detail_gain"][0] == pytest.approx(plain["query_detail_gain"][0], rel=1e-6)


def test_freezing_is_bounded_and_beta_1e4_stays_finite():
    r = D.context_fear([1, 7], beta=1e4)
    vals = r["freezing_A_mean"] + r["freezing_B_mean"]
    assert all(math.isfinite(v) and -1e-6 <= v <= 1 + 1e-6 for v in vals)
    assert r["freezing_A_mean"][0] > 0.99                        # a sharp read: A's cue finds the fear key


def test_negative_beta_is_rejected():            # regression: context_fear(beta=-1) was accepted
    with pytest.raises(ValueError, match="beta: expected a number > 0"):
        D.context_fear(beta=-1)
    with pytest.raises(ValueError, match="beta"):
        D.context_fear_conditions(beta=0.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_keys_of_overlapping_routes_repel_past_input_similarity_and_come_back(seed):
    r = D.repulsion(seed=seed, participants=12)
    assert r["input_similarity_pairmate"] > r["input_similarity_other"] + 0.5
    learned_pm = r["learned_pairmate_similarity"].mean()
    learned_ot = r["learned_other_similarity"].mean()
    assert learned_pm < learned_ot - 0.05                        # reversal of input similarity
    assert r["repulsion_accuracy_correlation"] > 0.5             # repulsion tracks discrimination
    assert torch.all(r["discrimination_accuracy"] > r["discrimination_accuracy_before"])
    pm = r["key_similarity_pairmate_mean"]                       # gradual, not a jump
    assert pm[1] > learned_pm + 0.2
    released = r["released_pairmate_similarity"].mean()          # reversible once released
    assert released > learned_pm + 0.1
    assert released > r["released_other_similarity"].mean()


def test_input_codes_have_the_asked_similarities():
    r = D.repulsion(steps=1, release_steps=0, participants=3, pair_similarity=0.7, other_similarity=0.1)
    assert r["input_similarity_pairmate"] == pytest.approx(0.7, abs=1e-5)
    assert r["input_similarity_other"] == pytest.approx(0.1, abs=1e-5)


@pytest.mark.parametrize("call, match", [
    (lambda: D.context_fear(days=[-1]), r"days\[0\]: expected a number >= 0"),
    (lambda: D.context_fear(memories_per_day=1e30), "memories_per_day: expected at most"),
    (lambda: D.context_fear_conditions(long_delay=1e30), "long_delay: expected at most"),
    (lambda: D.context_fear(reminder="yes"), "reminder: expected True or False"),
    (lambda: D.repulsion(lr_range=(0.0, 1.0)), r"lr_range\[0\]: expected"),
    (lambda: D.repulsion(lr_range=(1.0, 0.5)), "lr_range: expected"),
    (lambda: D.repulsion(d=8), "d: expected at least"),
    (lambda: D.repulsion(other_similarity=0.9), "other_similarity: expected"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_repulsion_numbers_end_of_learning_and_first_crossing():
    res = {"step": [0, 10, 20, 30, 40], "release_starts_at": 30,
           "key_similarity_pairmate_mean": torch.tensor([0.9, 0.8, 0.5, 0.4, 0.7]),
           "key_similarity_other_mean": torch.tensor([0.6, 0.6, 0.6, 0.6, 0.6]),
           "input_similarity_pairmate": 0.8, "input_similarity_other": 0.3,
           "repulsion_accuracy_correlation": 0.5,
           "discrimination_accuracy_before": torch.tensor([0.4, 0.6]),
           "discrimination_accuracy": torch.tensor([0.8, 1.0]),
           "released_pairmate_similarity": torch.tensor([0.7]),
           "released_other_similarity": torch.tensor([0.6])}
    nums = D.repulsion_numbers(res)
    assert nums["rep_learn_pm"] == pytest.approx(0.4) and nums["rep_learn_ot"] == pytest.approx(0.6)
    assert nums["rep_cross"] == 20                              # the first step with pairmates below others
    assert nums["rep_acc_before"] == pytest.approx(0.5) and nums["rep_acc_after"] == pytest.approx(0.9)
    never = {**res, "key_similarity_pairmate_mean": torch.full((5,), 0.9)}
    assert math.isnan(D.repulsion_numbers(never)["rep_cross"])
