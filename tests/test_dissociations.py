"""Tests for kvlib.dissociations: damage to keys or to values (§4.2)."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import dissociations as D

SEEDS = (0, 1, 2)


def test_degrade_keeps_a_known_share_of_the_code():
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(4000, 256, generator=g, dtype=torch.float64), dim=-1)
    for loss in (0.0, 0.36, 0.75, 1.0):
        y = D.degrade(x, loss, g)
        assert torch.allclose(y.norm(dim=-1), torch.ones(4000, dtype=torch.float64), atol=1e-12)
        # cos(x, y) -> sqrt(1 - loss) for long codes: the noise is near-orthogonal to x
        assert abs((x * y).sum(-1).mean().item() - math.sqrt(1 - loss)) < 0.02


def test_recognition_auc_is_the_mann_whitney_probability():
    g = torch.Generator().manual_seed(1)
    old, new = torch.randn(50, generator=g) + 1.0, torch.randn(40, generator=g)
    pairs = sum(float(o > n) + 0.5 * float(o == n) for o in old for n in new) / (50 * 40)
    assert D.recognition_auc(old, new).item() == pytest.approx(pairs, abs=1e-6)
    assert D.recognition_auc(new, new).item() == pytest.approx(0.5, abs=1e-6)   # ties and symmetry
    # shifted normals: AUC = Phi(shift / sqrt 2)
    o, n = torch.randn(3000, generator=g) + 1.0, torch.randn(3000, generator=g)
    assert D.recognition_auc(o, n).item() == pytest.approx(0.5 * (1 + math.erf(0.5)), abs=0.02)


@pytest.mark.parametrize("seed", SEEDS)
def test_degraded_values_spare_key_recognition_but_not_recall(seed):
    r = D.memory_lesions(seed=seed)
    keys, content = r["values_recognition_keys_mean"], r["values_recognition_content_mean"]
    recall, ers = r["values_recall_mean"], r["values_reinstatement_mean"]
    assert keys[0] > 0.65                                          # above chance when intact
    assert (keys - keys[0]).abs().max() < 1e-6                     # untouched by value damage
    assert recall[0] > 0.5 and recall[-2] < 0.15                   # recall collapses at 90 % loss
    assert content[0] - content[-2] > 0.15                         # content recognition falls too
    assert ers[0] > 0.5 and abs(ers[-1]) < 0.05


@pytest.mark.parametrize("seed", SEEDS)
def test_degraded_keys_abolish_reinstatement_recall_and_recognition(seed):
    r = D.memory_lesions(seed=seed)
    ers, recall, rec = r["keys_reinstatement_mean"], r["keys_recall_mean"], r["keys_recognition_keys_mean"]
    assert ers[0] > 0.5 and abs(ers[-1]) < 0.05                    # reinstatement needs the keys
    assert recall[-1] < 0.05
    assert abs(rec[-1] - 0.5) < 0.05                               # recognition at chance
    assert bool((ers[1:] <= ers[:-1] + 0.02).all())                # falls with the damage
    assert r["match_reinstatement_correlation"] > 0.2              # a better match, a better reinstatement


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="loss"):
        D.degrade(torch.ones(2, 3), 1.5, torch.Generator())
    with pytest.raises(ValueError, match="levels"):
        D.memory_lesions(levels=[])


def test_lesion_numbers_read_intact_90_percent_and_last_levels():
    levels = [0.0, 0.5, 0.9, 1.0]
    res = {"level": levels, "match_reinstatement_correlation": 0.7}
    for i, name in enumerate(["values_recognition_keys", "values_recognition_content", "values_recall",
                              "keys_reinstatement", "keys_recall", "keys_recognition_keys"]):
        res[f"{name}_mean"] = torch.tensor([0.1, 0.2, 0.3, 0.4]) + i      # distinct per measure and level
    nums = D.lesion_numbers(res)
    assert nums["les_i90"] == pytest.approx(90.0)
    assert nums["les_rec"] == pytest.approx(0.1) and nums["les_rec90"] == pytest.approx(0.3)
    assert nums["les_content90"] == pytest.approx(1.3) and nums["les_recall90"] == pytest.approx(230.0)
    assert nums["les_ers"] == pytest.approx(3.1) and nums["les_ers_k"] == pytest.approx(3.4)
    assert nums["les_recall_k"] == pytest.approx(440.0) and nums["les_rec_k"] == pytest.approx(5.4)
    assert nums["les_r"] == 0.7
    with pytest.raises(ValueError, match="0.9"):
        D.lesion_numbers({**res, "level": [0.0, 0.5, 0.8, 1.0]})
