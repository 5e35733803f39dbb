"""Tests for kvlib.pointers: keys matched, values not retrieved (§4.3)."""
from __future__ import annotations

import pytest

from kvlib import pointers as P

SEEDS = (0, 1, 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_faces_met_elsewhere_are_familiar_but_unnamed(seed):
    r = P.familiarity_recollection(seed=seed)
    assert r["familiar_in_context_mean"] > 0.9 and r["recollected_in_context_mean"] > 0.5
    assert r["familiar_out_of_context_mean"] > 0.5                       # well above the 5 % false alarms
    assert r["recollected_out_of_context_mean"] < 0.05                   # ... but the name does not come
    gap = r["familiar_not_recollected_out_of_context_mean"] - r["familiar_not_recollected_in_context_mean"]
    assert gap > 0.3


@pytest.mark.parametrize("seed", SEEDS)
def test_tip_of_the_tongue_carries_partial_information(seed):
    r = P.familiarity_recollection(seed=seed)
    assert r["familiar_not_recollected_in_context_mean"] > 0.1          # there are such states
    # the faint retrieved name gives its first letter far above chance (1/26), though not always
    assert r["tot_first_letter_in_context_mean"] > 3 * r["letter_chance"]
    assert r["tot_first_letter_in_context_mean"] < 0.9
    # out of context nothing is retrieved, so there is nothing partial to report either
    assert abs(r["tot_first_letter_out_of_context_mean"] - r["letter_chance"]) < 0.03


def test_false_alarm_rate_is_what_was_asked():
    # the familiarity criterion is the new faces' quantile: strangers pass it at the stated rate
    for fa in (0.05, 0.2):
        r = P.familiarity_recollection(false_alarms=fa, cue_noise=1e3, subjects=8)
        # a hopeless view met at a random place: known faces are as familiar as strangers
        assert abs(r["familiar_out_of_context_mean"] - fa) < 0.02 + 0.3 * fa


@pytest.mark.parametrize("seed", SEEDS)
def test_pointers_detect_changes_they_cannot_identify(seed):
    r = P.change_detection(seed=seed, subjects=4, trials=150)
    det, loc, ident = r["detection_mean"], r["localisation_mean"], r["identification_mean"]
    assert bool((det > 0.9).all())                                      # at a 5 % false-alarm rate
    assert bool((loc > r["localisation_chance"] + 0.3).all())
    assert (det.max() - det.min()).item() < 0.05                        # detection ignores memory size
    assert ident[0] > 0.5 and ident[-1] < 0.2                           # identification does not
    assert bool((ident[1:] < ident[:-1]).all())
    assert ident[-1] > 10 * r["identification_chance"][-1]              # still above chance


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="set_size"):
        P.change_detection(memory_sizes=[4], set_size=4)
    with pytest.raises(ValueError, match="strength_range"):
        P.familiarity_recollection(strength_range=(0.9, 0.2))


def test_pointer_numbers_are_percentages_of_the_right_entries():
    import torch
    keys = ["familiar_in_context_mean", "recollected_in_context_mean", "familiar_out_of_context_mean",
            "recollected_out_of_context_mean", "false_alarm_rate", "familiar_not_recollected_in_context_mean",
            "tot_first_letter_in_context_mean", "letter_chance"]
    faces = {k: (i + 1) / 100 for i, k in enumerate(keys)}
    change = {"detection_mean": torch.tensor([0.99, 0.95, 0.97]),
              "localisation_mean": torch.tensor([0.6, 0.8, 1.0]),
              "identification_mean": torch.tensor([0.9, 0.5, 0.1]), "memory_size": [10, 100, 1000]}
    nums = P.pointer_numbers(faces, change)
    assert nums["pt_fam_in"] == pytest.approx(1.0) and nums["pt_chance"] == pytest.approx(8.0)
    assert nums["pt_det_min"] == pytest.approx(95.0) and nums["pt_loc"] == pytest.approx(80.0)
    assert nums["pt_id_first"] == pytest.approx(90.0) and nums["pt_id_last"] == pytest.approx(10.0)
    assert (nums["pt_n_first"], nums["pt_n_last"]) == (10, 1000)
    with pytest.raises(ValueError, match="change"):
        P.pointer_numbers(faces, {})
