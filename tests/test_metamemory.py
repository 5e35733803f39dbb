"""Tests for kvlib.metamemory: keys are used but not recalled (§4.3)."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import metamemory as M

SEEDS = (0, 1, 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_feeling_of_knowing_predicts_recognition_and_familiarity_raises_it_not_recall(seed):
    f = M.feeling_of_knowing(seed=seed)
    rec = f["recognition_by_fok_quartile"]
    assert f["fok_recognition_gamma"] > 0.3
    assert rec[-1] > rec[0] + 0.3
    assert f["fok_mean_familiar_cue"] > f["fok_mean"] + 3 * math.hypot(f["fok_se"], f["fok_se_familiar_cue"])
    assert f["recall_rate_familiar_cue"] <= f["recall_rate"] + 2 * math.hypot(
        f["recall_se"], f["recall_se_familiar_cue"])


def test_the_feeling_of_knowing_reads_keys_only():
    """The FOK is the best key-query match: the read's temperature cannot change it."""
    sharp = M.feeling_of_knowing(questions=200)
    soft = M.feeling_of_knowing(questions=200, beta=1e-3)
    assert soft["fok_mean"] == sharp["fok_mean"]
    assert soft["fok_mean_familiar_cue"] == sharp["fok_mean_familiar_cue"]
    assert all(math.isfinite(v) for v in soft.values() if isinstance(v, float))
    assert soft["recall_rate"] < sharp["recall_rate"]           # ... while a blurred read recalls less


def test_beta_zero_is_a_clear_error_not_nan():                  # regression: beta=0.0 gave NaN
    with pytest.raises(ValueError, match="beta: expected a number > 0"):
        M.feeling_of_knowing(beta=0.0)
    with pytest.raises(ValueError, match="beta"):
        M.judgment_steps(beta=0.0)


def test_a_huge_beta_stays_finite():
    f = M.feeling_of_knowing(questions=200, beta=1e4)
    assert all(math.isfinite(v) for v in f.values() if isinstance(v, float))
    s = M.judgment_steps(questions=50, beta=1e4)
    assert math.isfinite(s["median_steps_retrieve"])


@pytest.mark.parametrize("seed", SEEDS)
def test_is_it_stored_takes_fewer_steps_than_retrieval(seed):
    s = M.judgment_steps(seed=seed)
    assert s["fraction_decided_by_both"] > 0.5
    assert s["median_steps_is_it_stored"] < s["median_steps_retrieve"]
    diff = s["steps_retrieve"] - s["steps_is_it_stored"]
    assert diff.mean() > 3 * diff.std() / math.sqrt(diff.numel())
    assert torch.all(s["cumulative_is_it_stored"] >= s["cumulative_retrieved"])


def test_trivia_keys_are_strength_times_question_code():
    m = M.study_trivia(questions=50, d=16, d_v=4, strength_range=(0.3, 0.6))
    assert torch.allclose(m.keys.norm(dim=-1), m.strength, atol=1e-6)
    assert bool(((m.strength >= 0.3) & (m.strength <= 0.6)).all())
    assert torch.allclose(m.keys, m.strength[:, None] * m.x)


@pytest.mark.parametrize("call, match", [
    (lambda: M.feeling_of_knowing(cue_noise=-0.1), "cue_noise: expected"),
    (lambda: M.feeling_of_knowing(prime_similarity=1.5), "prime_similarity: expected"),
    (lambda: M.study_trivia(strength_range=(0.5, 0.1)), "strength_range: expected"),
    (lambda: M.study_trivia(questions=4), "questions: expected an integer >= 8"),
    (lambda: M.judgment_steps(confidence=0.0), "confidence: expected"),
    (lambda: M.feeling_of_knowing(questions=8, cue_noise=0.0, recall_threshold=-1.0), "cue_noise"),
    (lambda: M.TriviaMemory(torch.ones(3, 4), torch.ones(2, 2), torch.ones(3, 4), torch.ones(3)), "values"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_metamemory_numbers():
    fok = {"recognition_by_fok_quartile": torch.tensor([0.3, 0.4, 0.5, 0.7]), "fok_recognition_gamma": 0.4,
           "fok_mean": 0.2, "fok_mean_familiar_cue": 0.5, "recall_rate": 0.3,
           "recall_rate_familiar_cue": 0.28,
           "recall_se": 0.01}
    steps = {"median_steps_is_it_stored": 2.0, "median_steps_retrieve": 9.0}
    nums = M.metamemory_numbers(fok, steps)
    assert nums["fok_rec_low"] == pytest.approx(30.0) and nums["fok_rec_high"] == pytest.approx(70.0)
    assert nums["fok_recall_fam"] == pytest.approx(28.0) and nums["fok_recall_se"] == pytest.approx(1.0)
    assert (nums["fok_steps_stored"], nums["fok_steps_retrieve"]) == (2.0, 9.0)
    with pytest.raises(ValueError, match="steps"):
        M.metamemory_numbers(fok, {})
