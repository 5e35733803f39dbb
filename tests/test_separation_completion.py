"""Pattern separation (a sparse random expansion) and completion (an attractor) on the key path."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import hopfield
from kvlib import separation_completion as SC

F64 = torch.float64


def _g(seed):
    return torch.Generator().manual_seed(seed)


def test_flip_exactly_sets_the_overlap_exactly():
    x = hopfield.random_patterns(50, 200, _g(0), dtype=F64)
    for f in (0.0, 0.1, 0.25, 0.5):
        y = SC.flip_exactly(x, f, _g(1))
        expected = torch.full((50,), 1 - 2 * round(f * 200) / 200, dtype=F64)
        assert torch.allclose(hopfield.overlap(y, x), expected)


def test_code_similarity_is_the_correlation():
    a, b = torch.randn(3, 40, generator=_g(2), dtype=F64), torch.randn(3, 40, generator=_g(3), dtype=F64)
    for i in range(3):
        r = float(torch.corrcoef(torch.stack([a[i], b[i]]))[0, 1])
        assert float(SC.code_similarity(a, b)[i]) == pytest.approx(r, abs=1e-12)
    assert torch.allclose(SC.code_similarity(a, a), torch.ones(3, dtype=F64))
    # k-hot codes: (shared/k - k/n) / (1 - k/n)
    n, k = 20, 5
    u = torch.zeros(1, n, dtype=F64)
    u[0, :k] = 1
    v = torch.zeros(1, n, dtype=F64)
    v[0, 2:2 + k] = 1
    assert float(SC.code_similarity(u, v)) == pytest.approx((3 / k - k / n) / (1 - k / n), abs=1e-12)


def test_half_active_expansion_follows_sheppards_formula():
    # k = n/2 thresholds each unit at about its median; for Gaussian-like inputs at correlation rho
    # two sign codes correlate by (2/pi) arcsin(rho) (Sheppard 1899)
    R = torch.randn(400, 4000, generator=_g(4), dtype=F64)
    x = hopfield.random_patterns(100, 400, _g(5), dtype=F64)
    for rho in (0.2, 0.5, 0.8):
        y = SC.flip_exactly(x, (1 - rho) / 2, _g(6))
        out = SC.code_similarity(SC.dentate_code(x, R, 2000), SC.dentate_code(y, R, 2000)).mean()
        assert float(out) == pytest.approx(2 / math.pi * math.asin(rho), abs=0.02)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expansion_separates_and_sparser_separates_more(seed):
    curves = {k: SC.similarity_transfer((0.3, 0.6, 0.9), active=k, cues=150, seed=seed)["separation"]
              for k in (20, 100, 400)}
    for k, c in curves.items():
        assert all(out < rho - 0.05 for out, rho in zip(c, (0.3, 0.6, 0.9))), (k, c)
    assert curves[20][1] < curves[100][1] < curves[400][1]


@pytest.mark.parametrize("seed", [0, 1])
def test_attractor_completes_similar_inputs(seed):
    tr = SC.similarity_transfer((0.0, 0.7, 0.8, 0.9), cues=150, seed=seed)
    for path in ("completion", "separation+completion"):
        zero, *close = tr[path]
        assert abs(zero) < 0.1, (path, tr[path])
        assert all(c > rho + 0.05 for c, rho in zip(close, (0.7, 0.8, 0.9))), (path, tr[path])


def test_stored_keys_are_fixed_points():
    X = SC.clustered_keys(10, 3, 120, 0.1, _g(7))
    assert torch.equal(SC.ca3_complete(SC.ca3_weights(X), X), X)
    H = SC.dentate_code(X, torch.randn(120, 500, generator=_g(8), dtype=F64), 25)
    assert torch.equal(SC.ca3_complete(SC.ca3_weights(H, sparse=True), H, active=25), H)


def test_members_of_a_cluster_overlap_as_designed():
    X = SC.clustered_keys(40, 2, 400, 0.1, _g(9))
    sib = hopfield.overlap(X[0::2], X[1::2])
    assert float(sib.mean()) == pytest.approx(0.8 ** 2, abs=0.03)


def test_each_stage_helps_where_it_should_and_separation_costs_noise_tolerance():
    r = SC.key_path_recall((0.0, 0.2, 0.3), cues=300, seeds=3)
    d, c, s, sc = (r[p] for p in SC.KEY_PATHS)
    assert s[0] > d[0] + 0.02 and sc[0] > d[0] + 0.02          # separation removes crosstalk of similar keys
    assert c[1] > d[1] + 0.03 and sc[1] > s[1] + 0.03          # completion removes cue noise
    assert s[2] < d[2] - 0.1                                    # separation alone amplifies cue noise


def test_a_feedforward_expansion_cannot_tell_a_cue_from_a_similar_memory():
    # the default noise makes a cue as similar to its memory as two members of a cluster are
    t = SC.separation_completion_tradeoff((50, 200), cues=200)
    assert abs(t["input"][0] - t["input"][1]) < 0.02
    for (sib, cue), (sib2, cue2) in zip(t["separation"], t["separation+completion"]):
        assert abs(sib - cue) < 0.04                               # one function of input similarity
        assert sib2 == sib and cue2 > cue + 0.3                    # the attractor lifts the cue only


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="active"):
        SC.key_path_recall(active=1000)
    with pytest.raises(ValueError, match="clusters"):
        SC.key_path_recall(clusters=60, members=4)
    with pytest.raises(ValueError, match="paths"):
        SC.key_path_recall(paths=("direct", "dentate"))
    with pytest.raises(ValueError, match="weights"):
        SC.dentate_code(torch.ones(2, 3), torch.ones(4, 5), 1)


def test_nearest_value_reads_the_nearest_grid_point():
    grid, curve = [0.0, 0.1, 0.2, 0.3], [5.0, 6.0, 7.0, 8.0]
    assert SC.nearest_value(curve, grid, 0.14) == 6.0
    assert SC.nearest_value(curve, grid, -1.0) == 5.0 and SC.nearest_value(curve, grid, 9.0) == 8.0
    assert SC.nearest_value([1.0, 2.0], [0.0, 1.0], 0.5) == 1.0          # a tie: the first
    with pytest.raises(ValueError, match="curve"):
        SC.nearest_value([1.0], grid, 0.1)


def test_separation_completion_numbers_read_each_curve_at_its_point():
    rho = [i / 10 for i in range(11)]
    transfer = {"input": rho, "separation": [r / 2 for r in rho],
                "completion": [min(1.0, 2 * r) for r in rho]}
    noise = [0.0, 0.1, 0.15, 0.2, 0.3]
    recall = {"noise": noise, **{p: [1.0 - i / 10 - j / 100 for j, _ in enumerate(noise)]
                                 for i, p in enumerate(SC.KEY_PATHS)}}
    tradeoff = {"actives": [10, 50], "input": (0.9, 0.8), "separation": [(0.5, 0.4), (0.3, 0.2)],
                "separation+completion": [(0.6, 0.7), (0.9, 0.95)]}
    nums = SC.separation_completion_numbers(transfer, recall, tradeoff, active=50)
    assert nums["sep08"] == pytest.approx(0.4) and nums["comp05"] == pytest.approx(1.0)
    assert nums["comp06"] == pytest.approx(1.0) and nums["sep05"] == pytest.approx(0.25)
    assert nums["d0"] == pytest.approx(100.0)
    assert nums["sc30"] == pytest.approx(100 * recall["separation+completion"][-1])
    assert nums["k_sib"] == 0.3 and nums["k_done"] == 0.95 and nums["k10_done"] == 0.7
    with pytest.raises(ValueError, match="active"):
        SC.separation_completion_numbers(transfer, recall, tradeoff, active=20)
