"""Tests for kvlib.accessibility: interference lowers accessibility, not precision (§4.1;
Berens et al. 2020)."""
from __future__ import annotations

import math

import pytest
import torch

from kvlib import accessibility as A

SEEDS = (0, 1, 2)


def _mixture_sample(n: int, p: float, kappa: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)                                      # VonMises.sample has no generator argument
    vm = torch.distributions.VonMises(torch.tensor(0.0), torch.tensor(kappa)).sample((n,))
    guess = (torch.rand(n, generator=g) * 2 - 1) * math.pi
    return torch.where(torch.rand(n, generator=g) < p, vm, guess).double()


def test_fit_guess_vonmises_recovers_a_known_mixture():
    errors = _mixture_sample(4000, 0.7, 8.0, 0)
    p, kappa = A.fit_guess_vonmises(errors)
    assert p.item() == pytest.approx(0.7, abs=0.03)
    assert kappa.item() == pytest.approx(8.0, rel=0.15)
    batch = torch.stack([errors, _mixture_sample(4000, 0.4, 3.0, 1)])   # leading axes fit separately
    pb, kb = A.fit_guess_vonmises(batch)
    assert pb[0].item() == pytest.approx(p.item(), abs=1e-6) and pb[1].item() == pytest.approx(0.4, abs=0.04)


def test_integer_and_half_errors_are_converted_not_truncated():
    e = torch.tensor([0, 1, -1, 0, 2, 0, 0, -3] * 20)
    p_int, k_int = A.fit_guess_vonmises(e)
    p_f, k_f = A.fit_guess_vonmises(e.float())
    assert torch.allclose(p_int, p_f) and torch.allclose(k_int, k_f)
    p_h, _ = A.fit_guess_vonmises(e.half())
    assert p_h.dtype == torch.float32 and abs(p_h.item() - p_f.item()) < 1e-3


def test_circular_sd_tends_to_one_over_sqrt_kappa_and_is_infinite_for_the_uniform():
    big = torch.tensor([400.0], dtype=torch.float64)             # SD -> 1/sqrt(kappa) rad
    assert A.circular_sd_deg(big).item() == pytest.approx(math.degrees(1 / 20), rel=0.01)
    assert math.isinf(A.circular_sd_deg(torch.tensor([0.0])).item())


@pytest.mark.parametrize("p, kappa", [(1.0, 8.0), (0.3, 2.0), (0.0, 5.0)])
def test_mixture_density_integrates_to_one_per_degree(p, kappa):
    grid = torch.linspace(-180, 180, 36001)[:-1] + 0.005         # midpoints, 0.01° apart
    total = (A.mixture_density(grid, p, kappa).double() * 0.01).sum().item()
    assert total == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("seed", SEEDS)
def test_accessibility_falls_while_precision_stays_within_its_interval(seed):
    r = A.accessibility_precision(seed=seed)
    assert r["p_memory_ci_high"][-1] < r["p_memory_ci_low"][0]  # accessibility falls
    assert r["p_memory"][-1] < r["p_memory"][0] - 0.2
    lo, hi = r["precision_sd_ci_low"], r["precision_sd_ci_high"]
    assert lo[-1] < hi[0] and lo[0] < hi[-1]                      # precision intervals overlap
    # precision is set by encoding noise (20 deg), not by interference
    assert torch.all((r["precision_sd_deg"] > 16) & (r["precision_sd_deg"] < 26))


def test_a_soft_softmax_blurs_the_answers_as_interference_grows():
    soft = A.accessibility_precision(beta=10.0, n_boot=20)
    sd = soft["precision_sd_deg"]
    assert sd[-1] > 1.5 * sd[0] and sd[-1] > 40                  # Exercise 2: blends widen the peak


def test_no_interference_leaves_every_answer_at_its_encoding_noise():
    r = A.word_location_errors(intervals=[0], interference_rate=0.0, cue_noise=0.0, participants=10)
    sd = math.degrees(r["errors"].std().item())
    assert r["n_interfering"] == [0] and sd == pytest.approx(20.0, rel=0.1)


@pytest.mark.parametrize("call, match", [
    (lambda: A.fit_guess_vonmises(torch.zeros(1)), "errors: expected a tensor"),
    (lambda: A.fit_guess_vonmises(torch.tensor([0.1, float("nan")])), "errors: expected finite"),
    (lambda: A.fit_guess_vonmises(torch.zeros(4), init=(2.0, 1.0)), "init: expected values in"),
    (lambda: A.circular_sd_deg(torch.tensor([-1.0])), "kappa: expected concentrations >= 0"),
    (lambda: A.accessibility_precision(n_boot=True), "n_boot: expected an integer"),
    (lambda: A.word_location_errors(interference_rate=1e30), "interference_rate: expected at most"),
    (lambda: A.word_location_errors(intervals=[1, -2]), r"intervals\[1\]"),
    (lambda: A.mixture_density(torch.zeros(3), p=1.5, kappa=1.0), "p: expected"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_results_on_gpu():
    a = A.accessibility_precision(n_boot=20)
    b = A.accessibility_precision(n_boot=20, device="cuda")
    assert torch.allclose(a["p_memory"], b["p_memory"], atol=1e-3)


def test_accessibility_numbers_first_and_last_interval():
    res = {"interval": [1, 8, 64], "n_interfering": [0, 7, 63],
           "p_memory": torch.tensor([0.9, 0.6, 0.3]), "p_memory_ci_low": torch.tensor([0.85, 0.5, 0.2]),
           "p_memory_ci_high": torch.tensor([0.95, 0.7, 0.4]),
           "precision_sd_deg": torch.tensor([20.0, 21.0, 22.0]),
           "precision_sd_ci_low": torch.tensor([18.0, 19.0, 17.0]),
           "precision_sd_ci_high": torch.tensor([23.0, 24.0, 26.0])}
    nums = A.accessibility_numbers(res)
    assert (nums["ap_days_first"], nums["ap_days_last"], nums["ap_n_last"]) == (1, 64, 63)
    assert nums["ap_p_first"] == pytest.approx(0.9) and nums["ap_p_last_hi"] == pytest.approx(0.4)
    assert nums["ap_p_first_lo"] == pytest.approx(0.85) and nums["ap_sd_last"] == pytest.approx(22.0)
    assert nums["ap_sd_first_hi"] == pytest.approx(23.0) and nums["ap_sd_last_lo"] == pytest.approx(17.0)
