"""Chapter 1's prose numbers: each picks the quantity its text names (checked on inputs whose answer
is known in closed form), and the exercise computations obey the identities their solutions state."""
from __future__ import annotations

import math

import torch

from kvlib.figures import ch1_numbers as numbers


def test_noise_tradeoff_picks_least_error_beta_and_bayes_beta():
    betas = [0.01, 0.1, 1.0, 10.0]
    levels = [1.0, 2.0]
    mse = [[(math.log10(b) + 1) ** 2 for b in betas],           # least error at β = 0.1
           [(math.log10(b) + 2) ** 2 + 0.5 for b in betas]]     # least error at β = 0.01
    trade = {"noise_levels": levels, "betas": betas, "mse_softmax": mse, "mse_max": [0.3, 0.7],
             "acc_softmax": [[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]], "acc_max": [0.9, 0.4],
             "best_beta": [0.5, 1 / 8]}
    out = numbers.noise_tradeoff_numbers(trade)
    assert out["ch1_trade_best_beta"] == 0.01 and out["ch1_trade_mse_soft"] == 0.5
    assert out["ch1_trade_acc_soft"] == 0.5 and out["ch1_trade_acc_max"] == 0.4
    assert abs(out["ch1_trade_bayes_beta"] - 1 / 8) < 1e-15              # β* = 1/(2σ²) at σ = 2
    assert abs(out["ch1_ex3_lo"] - 1.0) < 1e-15 and abs(out["ch1_ex3_hi"] - 1.0) < 1e-15


def test_random_feature_slope_of_a_monte_carlo_error_is_minus_one_half():
    m = [16, 64, 256, 1024]
    rf = {"n_features": m, "rel_error": [3.0 / math.sqrt(k) for k in m],
          "rel_error_rff_kernel": [1.0] * 4, "rel_error_iid": [2.0] * 4}
    assert abs(numbers.random_feature_numbers(rf)["ch1_rf_slope"] + 0.5) < 1e-12


def test_hopfield_numbers_read_the_named_loads():
    load = [0.05, 0.1, 0.14, 0.2, 0.3, 2.0]
    hop = {"load": load, "overlap_classical": [1 - x for x in load], "overlap_modern": [1.0, 0.99, 1.0]}
    out = numbers.hopfield_numbers(hop)
    assert (out["ch1_hop_low"], out["ch1_hop_higher"]) == (1 - 0.1, 1 - 0.3)
    assert out["ch1_hop_modern"] == 0.99 and out["ch1_hop_max_load"] == 2.0


def test_sdm_ratio_is_simulated_over_analysed_capacity():
    sdmr = {"slope": 1.0, "locations": [100, 1000], "capacity": [20, 300], "capacity_theory": [10, 200],
            "critical": [90, 100], "critical_theory": [128, 128]}
    out = numbers.sdm_numbers(sdmr)
    assert (out["ch1_sdm_ratio_lo"], out["ch1_sdm_ratio_hi"]) == (1.5, 2.0)
    assert out["ch1_sdm_M1"] == 1000 and out["ch1_sdm_capt0"] == 10


def test_distances_beat_dot_needs_every_step():
    row = {"euclidean": [0.0, 0.9], "manhattan": [0.0, 0.8], "dot": [1.0, 0.5]}
    mil = {"similarity": {"noise": {"step 1": row, "step 2": dict(row, dot=[0.0, 0.85])}}}
    assert not numbers.distances_beat_dot(mil)
    mil["similarity"]["noise"]["step 2"]["dot"] = [0.0, 0.7]
    assert numbers.distances_beat_dot(mil)


def test_threshold_exercise_far_apart_memories_come_back_alone():
    d = 50
    demo = 10.0 * torch.eye(d)                       # pairwise squared distance 200 > 5
    out = numbers.threshold_exercise_numbers(demo, noise=1.0)
    assert out["ch1_ex2_clean_alone"] == 1.0
    assert out["ch1_ex2_wide_r2"] == d * 1.0 + 60.0
    assert 0.0 <= out["ch1_ex2_wide_zero"] <= 1.0


def test_delta_rule_reads_its_last_unit_key_back_exactly():
    # With β = 1 and a unit-norm key, the delta rule's write makes k_t M_t = v_t exactly.
    out = numbers.delta_rule_exercise_numbers(n_pairs=16, d_key=32, d_value=8)
    assert out["ch1_ex4_delta_exact_last"] < 1e-5
    assert out["ch1_ex4_n"] == 16 and 0 <= out["ch1_ex4_sum_last8"] <= 8
