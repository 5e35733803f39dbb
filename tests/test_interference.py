"""Tests for kvlib.interference: forgetting in free recall as retrieval interference (§4.1).

Stochastic claims are checked over several seeds; "noise" always means the simulation's own
standard errors, never a hand-picked number.
"""
from __future__ import annotations

import json

import pytest
import torch

from kvlib import interference as I
from kvlib.figures.registry import reproduce

SEEDS = (0, 1, 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_recall_falls_with_list_length_while_items_stay_stored(seed):
    r = I.list_length_curve(seed=seed)
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
    r = I.recovery_curve(seed=seed)
    curve = r["cumulative_recall_mean"]
    assert torch.all(curve[1:] >= curve[:-1] - 1e-6)           # float sums may wobble
    assert r["missed_fraction"] > 0.4                             # plenty was missed at first
    assert r["missed_recovered_by_more_attempts"] > 0.95
    assert r["missed_recovered_by_item_cue"] > 0.95


def test_capacity_erases_the_oldest_items():
    mem = I.study_lists([10, 10], participants=50, generator=torch.Generator().manual_seed(0))
    _, recalled = I.recall_list(mem, 0, attempts=50, capacity=15, generator=torch.Generator().manual_seed(1))
    assert not recalled[:, :5].any()                             # the 5 oldest are gone
    assert recalled[:, 5:10].any()


def test_only_items_of_the_cued_list_count_as_recalled():
    mem = I.study_lists([6, 6], participants=30, generator=torch.Generator().manual_seed(0))
    p, recalled = I.recall_list(mem, 1, attempts=40, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(p, recalled[:, 6:].float().mean(1))
    assert recalled[:, 6:].float().mean() > 5 * recalled[:, :6].float().mean()   # its context points at it


@pytest.mark.parametrize("seed", SEEDS)
def test_list_before_last_depends_on_its_own_length_not_the_last(seed):
    r = I.list_before_last(seed=seed)
    m, se = r["key_value_recall_mean"], r["key_value_recall_se"]
    assert torch.all(I.last_list_effect(r)["z"].abs() < 3)       # the last list's length: within noise
    for i in range(len(r["target_list_length"])):
        assert (m[i].max() - m[i].min()) < 0.05
    own = m.mean(1)                                              # longer list before last, lower recall
    own_se = torch.sqrt((se ** 2).mean(1) / se.shape[1])
    assert torch.all(own[:-1] - own[1:] > 3 * (own_se[:-1] + own_se[1:]))
    d = r["displacement_recall_mean"]                            # the rival account does depend on it
    assert torch.all(d[:, -1] < m[:, -1] - 0.3)
    assert torch.all(I.last_list_effect(r, "displacement")["z"] > 10)


def test_overlapping_list_contexts_let_the_last_list_interfere():
    r = I.list_before_last(list_overlap=0.8, participants=100)
    assert torch.all(I.last_list_effect(r)["z"] > 3)             # Exercise 1's answer, over 3 SE


@pytest.mark.parametrize("call, match", [
    (lambda: I.study_lists([5, 0]), r"lengths\[1\]: expected an integer >= 1"),
    (lambda: I.recall_list(I.study_lists([3]), target=1), "target: expected an integer >= 0 and <= 0"),
    (lambda: I.recall_list("memory", target=0), "memory: expected a ListMemory"),
    (lambda: I.list_length_curve(seed=-1), "seed: expected"),
    (lambda: I.list_length_curve(beta=0.0, participants=3), "beta: expected"),
    (lambda: I.list_length_curve(cue_noise=-0.1), "cue_noise: expected"),
    (lambda: I.recovery_curve(first_attempts=200), "first_attempts: expected"),
    (lambda: I.list_before_last(device="tpu"), "device"),
    (lambda: I.ListMemory(torch.ones(2, 3, 4), torch.tensor([0, 0, 5]), torch.ones(2, 1, 4)), "list_id"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_thread_setting_is_restored():
    before = torch.get_num_threads()
    I.list_before_last(participants=10)
    assert torch.get_num_threads() == before


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_results_on_gpu():
    cpu = I.list_length_curve(participants=50)
    gpu = I.list_length_curve(participants=50, device="cuda")
    assert torch.allclose(cpu["cued_recall_mean"], gpu["cued_recall_mean"], atol=0.02)
    assert torch.allclose(cpu["free_recall_mean"], gpu["free_recall_mean"], atol=0.02)


def test_reproduce_writes_png_and_json_with_the_plotted_curves(tmp_path):
    rec = reproduce("list-before-last", out=tmp_path, device="cpu", progress=False, participants=20)
    assert (tmp_path / "list-before-last.png").stat().st_size > 10_000
    data = json.loads((tmp_path / "list-before-last.json").read_text())
    assert data["last_list_length"] == [5, 10, 15, 20]
    assert len(data["key_value_recall_mean_by_target_and_last_length"]) == 3
    assert rec["provenance"]["figure"] == "list-before-last"


def test_list_length_numbers_and_list_before_last_numbers():
    curve = {"list_length": [5, 10, 40],
             "free_recall_mean": torch.tensor([[0.8, 0.6, 0.25], [0.9, 0.7, 0.4]]),
             "cued_recall_mean": torch.tensor([0.99, 0.97, 0.95])}
    rec = {"first_attempts": 10, "missed_fraction": 0.3, "missed_recovered_by_item_cue": 0.9,
           "missed_recovered_by_more_attempts": 0.5}
    nums = I.list_length_numbers(curve, rec)
    assert (nums["ll_short"], nums["ll_long"]) == (5, 40)
    assert nums["ll_recall_short"] == pytest.approx(80.0) and nums["ll_recall_long"] == pytest.approx(25.0)
    assert nums["ll_number_short"] == pytest.approx(4.0) and nums["ll_number_long"] == pytest.approx(10.0)
    assert nums["ll_cued_min"] == pytest.approx(95.0) and nums["rec_cue"] == pytest.approx(90.0)
    lbl = I.list_before_last([20, 5, 10], [2, 6], participants=4, d=8)      # lengths in any order
    eff, got = I.last_list_effect(lbl), I.list_before_last_numbers(lbl)
    assert got["lbl_ratio_max"] == pytest.approx(float(eff["z"].abs().max()))
    assert got["lbl_own_20"] == pytest.approx(100 * float(lbl["key_value_recall_mean"][0].mean()))
    assert got["lbl_disp_10"] == pytest.approx(100 * float(lbl["displacement_recall_mean"][2, -1]))
    with pytest.raises(ValueError, match="5, 10 and 20"):
        I.list_before_last_numbers(I.list_before_last([5, 10], [2, 6], participants=4, d=8))
