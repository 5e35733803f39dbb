"""Tests for kvlib.psych: the Chapter 5 simulations assert the paper's qualitative claims.

Stochastic claims are checked over several seeds; "noise" always means the simulation's own
standard errors or bootstrap intervals, never a hand-picked number.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import tol
from kvlib import psych
from kvlib.reproduce import reproduce

SEEDS = (0, 1, 2)


# --- the retrieval rule -------------------------------------------------------------

def test_retrieve_is_the_dual_form_sum_float64():
    g = torch.Generator().manual_seed(0)
    q, K, V = (torch.randn(s, generator=g, dtype=torch.float64) for s in ((5, 8), (30, 8), (30, 3)))
    v_hat, alpha = psych.retrieve(q, K, V, beta=0.7)
    logits = 0.7 * q @ K.T
    weights = torch.exp(logits - logits.max(1, keepdim=True).values)
    weights = weights / weights.sum(1, keepdim=True)
    explicit = torch.stack([sum(weights[b, n] * V[n] for n in range(30)) for b in range(5)])
    assert torch.allclose(alpha, weights, atol=tol(torch.float64), rtol=0)
    assert torch.allclose(v_hat, explicit, atol=tol(torch.float64), rtol=0)
    assert torch.allclose(alpha.sum(-1), torch.ones(5, dtype=torch.float64), atol=1e-12)


def test_attention_mask_removes_memories_and_large_beta_picks_nearest_key():
    K = torch.eye(4)
    mask = torch.tensor([False, True, True, True])
    alpha = psych.attention(K[:1], K, beta=3.0, mask=mask)
    assert alpha[0, 0] == 0 and torch.isclose(alpha.sum(), torch.tensor(1.0))
    V = torch.arange(4.0)[:, None]
    v_hat, _ = psych.retrieve(torch.tensor([[0.1, 0.9, 0.2, 0.0]]), K, V, beta=200.0)
    assert v_hat.item() == pytest.approx(1.0, abs=1e-6)


def test_sample_retrieval_draws_with_softmax_probabilities():
    logits = torch.tensor([[0.0, 1.0, 2.0, -1.0]])
    idx = psych.sample_retrieval(logits, 40000, torch.Generator().manual_seed(0))
    freq = torch.bincount(idx.flatten(), minlength=4).float() / idx.numel()
    p = torch.softmax(logits[0], 0)
    se = torch.sqrt(p * (1 - p) / idx.numel())
    assert torch.all((freq - p).abs() < 4 * se)


# --- 4.1 retrieval interference, not erasure -----------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_recall_falls_with_list_length_while_items_stay_stored(seed):
    r = psych.list_length_curve(seed=seed)
    m, se = r["free_recall_mean"], r["free_recall_se"]
    for i in range(len(r["attempts"])):
        drops = m[i, :-1] - m[i, 1:]
        assert torch.all(drops > 2 * torch.sqrt(se[i, :-1] ** 2 + se[i, 1:] ** 2)), m[i]
    assert torch.all(m[1] > m[0])                                # more attempts, more recall
    # Murdock (1962): the proportion falls but the number of items recalled still grows
    n = torch.tensor(r["list_length"], dtype=m.dtype)
    number, number_se = n * m, n * se
    rises = number[:, 1:] - number[:, :-1]
    assert torch.all(rises > 2 * torch.sqrt(number_se[:, 1:] ** 2 + number_se[:, :-1] ** 2)), number
    assert torch.all(r["cued_recall_mean"] > 0.95)               # ... and every item is still stored
    assert m[0, -1] < 0.5 * r["cued_recall_mean"][-1]


@pytest.mark.parametrize("seed", SEEDS)
def test_missed_items_come_back_with_more_attempts_or_a_better_cue(seed):
    r = psych.recovery_curve(seed=seed)
    curve = r["cumulative_recall_mean"]
    assert torch.all(curve[1:] >= curve[:-1] - 1e-6)           # float sums may wobble
    assert r["missed_fraction"] > 0.4                             # plenty was missed at first
    assert r["missed_recovered_by_more_attempts"] > 0.95
    assert r["missed_recovered_by_item_cue"] > 0.95


def test_capacity_erases_the_oldest_items():
    mem = psych.study_lists([10, 10], participants=50, generator=torch.Generator().manual_seed(0))
    _, recalled = psych.free_recall(mem, 0, attempts=50, capacity=15,
                                    generator=torch.Generator().manual_seed(1))
    assert not recalled[:, :5].any()                             # the 5 oldest are gone
    assert recalled[:, 5:10].any()


@pytest.mark.parametrize("seed", SEEDS)
def test_list_before_last_depends_on_its_own_length_not_the_last(seed):
    r = psych.list_before_last(seed=seed)
    m, se = r["key_value_recall_mean"], r["key_value_recall_se"]
    for i in range(len(r["target_list_length"])):
        change = (m[i, -1] - m[i, 0]).abs()
        noise = 3 * torch.sqrt(se[i, -1] ** 2 + se[i, 0] ** 2)
        assert change < noise, (r["target_list_length"][i], change, noise)
        assert (m[i].max() - m[i].min()) < 0.05
    own = m.mean(1)                                              # longer list before last, lower recall
    own_se = torch.sqrt((se ** 2).mean(1) / se.shape[1])
    assert torch.all(own[:-1] - own[1:] > 3 * (own_se[:-1] + own_se[1:]))
    d = r["displacement_recall_mean"]                            # the rival account does depend on it
    assert torch.all(d[:, -1] < m[:, -1] - 0.3)


def test_fit_guess_vonmises_recovers_known_mixture():
    torch.manual_seed(0)
    n, p_true, kappa_true = 4000, 0.7, 8.0
    vm = torch.distributions.VonMises(torch.tensor(0.0), torch.tensor(kappa_true)).sample((n,))
    guess = (torch.rand(n) * 2 - 1) * math.pi
    errors = torch.where(torch.rand(n) < p_true, vm, guess).double()
    p, kappa = psych.fit_guess_vonmises(errors)
    assert p.item() == pytest.approx(p_true, abs=0.03)
    assert kappa.item() == pytest.approx(kappa_true, rel=0.15)
    big = torch.tensor([400.0], dtype=torch.float64)             # SD -> 1/sqrt(kappa) rad
    assert psych.circular_sd_deg(big).item() == pytest.approx(math.degrees(1 / 20), rel=0.01)


@pytest.mark.parametrize("seed", SEEDS)
def test_accessibility_falls_while_precision_stays_within_its_interval(seed):
    r = psych.accessibility_precision(seed=seed)
    assert r["p_memory_ci_high"][-1] < r["p_memory_ci_low"][0]  # accessibility falls
    assert r["p_memory"][-1] < r["p_memory"][0] - 0.2
    lo, hi = r["precision_sd_ci_low"], r["precision_sd_ci_high"]
    assert lo[-1] < hi[0] and lo[0] < hi[-1]                      # precision CIs overlap
    # precision is set by encoding noise (20 deg), not by interference
    assert torch.all((r["precision_sd_deg"] > 16) & (r["precision_sd_deg"] < 26))


# --- 4.2 keys and values are distinct ------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_reminder_restores_context_specificity_only_with_keys(seed):
    c = psych.context_fear_conditions(seed=seed)
    A, B = c["freezing_A_mean"], c["freezing_B_mean"]
    day1, week, reminded, lesion, lesion_reminded = range(5)
    assert A[day1] - B[day1] > 0.8                               # specific a day later
    assert B[week] > 0.3 and A[week] - B[week] < A[day1] - B[day1] - 0.3   # generalises
    assert A[reminded] - B[reminded] > 0.8                       # reminder restores specificity
    for k in (lesion, lesion_reminded):                          # without keys: no specificity
        assert abs(A[k] - B[k]) < 0.05 and B[k] > 0.5


@pytest.mark.parametrize("seed", SEEDS)
def test_keys_of_overlapping_routes_repel_past_input_similarity_and_come_back(seed):
    r = psych.repulsion(seed=seed, participants=12)
    assert r["input_similarity_pairmate"] > r["input_similarity_other"] + 0.5
    learned_pm = r["learned_pairmate_similarity"].mean()
    learned_ot = r["learned_other_similarity"].mean()
    assert learned_pm < learned_ot - 0.05                        # reversal of input similarity
    assert r["repulsion_accuracy_correlation"] > 0.5             # repulsion tracks discrimination
    assert torch.all(r["discrimination_accuracy"] > r["discrimination_accuracy_before"])
    pm = r["key_similarity_pairmate_mean"]                       # gradual, not a jump
    assert pm[1] > learned_pm + 0.2
    released = r["released_pairmate_similarity"].mean()          # reversible once release
    assert released > learned_pm + 0.1
    assert released > r["released_other_similarity"].mean()


# --- 4.3 keys are used but not recalled ----------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_feeling_of_knowing_predicts_recognition_and_familiarity_raises_it_not_recall(seed):
    f = psych.feeling_of_knowing(seed=seed)
    rec = f["recognition_by_fok_quartile"]
    assert f["fok_recognition_gamma"] > 0.3
    assert rec[-1] > rec[0] + 0.3
    assert f["fok_mean_familiar_cue"] > f["fok_mean"] + 3 * math.hypot(f["fok_se"], f["fok_se_familiar_cue"])
    assert f["recall_rate_familiar_cue"] <= f["recall_rate"] + 2 * math.hypot(
        f["recall_se"], f["recall_se_familiar_cue"])


@pytest.mark.parametrize("seed", SEEDS)
def test_is_it_stored_takes_fewer_steps_than_retrieval(seed):
    s = psych.judgment_steps(seed=seed)
    assert s["fraction_decided_by_both"] > 0.5
    assert s["steps_is_it_stored"].median() < s["steps_retrieve"].median()
    diff = s["steps_retrieve"] - s["steps_is_it_stored"]
    assert diff.mean() > 3 * diff.std() / math.sqrt(diff.numel())
    assert torch.all(s["cumulative_is_it_stored"] >= s["cumulative_retrieved"])


# --- errors, devices, threads, CLI ---------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: psych.study_lists([5, 0]), "lengths: expected a non-empty sequence of ints >= 1"),
    (lambda: psych.attention(torch.ones(1, 3), torch.ones(2, 4)), "q, K: expected the same last dimension"),
    (lambda: psych.attention(torch.ones(1, 3), torch.ones(2, 3), beta=-1.0), "beta: expected a value >= 0"),
    (lambda: psych.retrieve(torch.ones(1, 3), torch.ones(2, 3), torch.ones(3, 1)), "K, V: expected the same"),
    (lambda: psych.free_recall(psych.study_lists([3]), target=1), "target: expected a value <= 0"),
    (lambda: psych.fit_guess_vonmises(torch.zeros(1)), "errors: expected a tensor"),
    (lambda: psych.context_fear(days=[-1]), "days: expected a non-empty sequence"),
    (lambda: psych.repulsion(lr_range=(0.0, 1.0)), "lr_range: expected"),
    (lambda: psych.feeling_of_knowing(cue_noise=-0.1), "cue_noise: expected a value >= 0"),
    (lambda: psych.list_length_curve(seed=-1), "seed: expected a value >= 0"),
    (lambda: psych.accessibility_precision(n_boot=True), "n_boot: expected an int"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_thread_setting_is_restored():
    before = torch.get_num_threads()
    psych.list_before_last(participants=10)
    assert torch.get_num_threads() == before


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_results_on_gpu():
    cpu = psych.list_length_curve(participants=50)
    gpu = psych.list_length_curve(participants=50, device="cuda")
    assert torch.allclose(cpu["cued_recall_mean"], gpu["cued_recall_mean"], atol=0.02)
    a = psych.accessibility_precision(n_boot=20)
    b = psych.accessibility_precision(n_boot=20, device="cuda")
    assert torch.allclose(a["p_memory"], b["p_memory"], atol=1e-3)


def test_reproduce_writes_png_and_json_with_the_plotted_curves(tmp_path):
    rec = reproduce("list-before-last", out=tmp_path, device="cpu", progress=False)
    assert (tmp_path / "list-before-last.png").stat().st_size > 10_000
    data = json.loads((tmp_path / "list-before-last.json").read_text())
    assert data["last_list_length"] == [5, 10, 15, 20]
    assert len(data["key_value_recall_mean_by_target_and_last_length"]) == 3
    assert rec["provenance"]["figure"] == "list-before-last"
