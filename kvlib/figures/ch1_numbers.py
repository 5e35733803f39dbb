"""Chapter 1's prose numbers: for each figure, the values the text quotes, keyed by glue name.

Each ``*_numbers`` function takes what a figure function of :mod:`kvlib.figures.ch1_kernels`,
:mod:`kvlib.figures.ch1_fastweights` or :mod:`kvlib.figures.ch1_models` returned and picks out
the numbers ``book/01_kernels.ipynb`` glues into its prose, so a chapter cell reads
``for name, value in ch1_numbers.hopfield_numbers(hop).items(): glue(name, value)``. The
exercise solutions' small computations are here too (``*_exercise_numbers``). Nothing is
drawn and nothing new is computed except where a docstring says so.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from kvlib import fastweights, kernels, memory, rbf_kernel
from kvlib.figures import ch1_kernels

__all__ = ["as_markdown", "kernel_capacity_numbers", "millidge_numbers", "distances_beat_dot",
           "noise_tradeoff_numbers", "hopfield_numbers", "fwp_numbers", "fwp_capacity_numbers",
           "learned_capacity_numbers", "random_feature_numbers", "dense_capacity_numbers",
           "rbf_numbers", "sdm_numbers", "qa_numbers", "tolerance_exercise_numbers",
           "threshold_exercise_numbers", "delta_rule_exercise_numbers"]

Numbers = dict[str, Any]


def as_markdown(text: str) -> Any:
    """``text`` as an IPython ``Markdown`` object (glued with ``{glue:md}``); the string itself
    where IPython is not installed."""
    try:
        from IPython.display import Markdown
    except ImportError:
        return text
    return Markdown(text)


def kernel_capacity_numbers(cap_noise: Mapping, cap_mask: Mapping) -> Numbers:
    """The capacity section's numbers: the ranking of similarities and the accuracy of each
    similarity and separation with the most digits stored (``ch1_kernels.compute_kernel_capacity``
    under noise and under masking)."""
    out: Numbers = {"ch1_n_big": cap_noise["n_stored"][-1],
                    "ch1_rank_noise": as_markdown(ch1_kernels.ranking_text(cap_noise["accuracy"])),
                    "ch1_rank_mask": as_markdown(ch1_kernels.ranking_text(cap_mask["accuracy"]))}
    sep = cap_noise["accuracy_by_separation"]
    for key, label in [("max", "max"), ("p50", "polynomial n=50"), ("p10", "polynomial n=10"),
                       ("p2", "polynomial n=2"), ("id", "identity"), ("sm50", "softmax β=50"),
                       ("sm500", "softmax β=500"), ("top3", "top-3")]:
        out[f"ch1_sep_noise_{key}"] = sep[label][-1]
    for key in ("euclidean", "cosine", "manhattan", "dot"):
        out[f"ch1_mask_{key}"] = cap_mask["accuracy"][key][-1]
        out[f"ch1_noise_{key}"] = cap_noise["accuracy"][key][-1]
    return out


def _last(table: Mapping) -> dict:
    """{step label: {name: accuracy with the most digits stored}}."""
    return {lab: {s: a[-1] for s, a in row.items()} for lab, row in table.items()}


def millidge_numbers(mil: Mapping) -> Numbers:
    """Numbers of the walk from the book's capacity setting to Millidge et al.'s, one choice at a
    time (``ch1_kernels.compute_millidge_settings``): accuracy with 1,000 digits stored at the
    steps the text names, and the similarity rankings at the first and last steps."""
    noise, mask, seps = (mil["similarity"]["noise"], mil["similarity"]["mask"], mil["separation"])
    nz, mk, sp = _last(noise), _last(mask), _last(seps)
    ns, ms, ss = list(noise), list(mask), list(sp)
    out: Numbers = {
        "ch1_mil_rank_book": as_markdown(ch1_kernels.ranking_text(noise[ns[0]])),
        "ch1_mil_rank_theirs": as_markdown(ch1_kernels.ranking_text(noise[ns[-1]])),
        "ch1_mil_rank_mask_theirs": as_markdown(ch1_kernels.ranking_text(mask[ms[-1]])),
        "ch1_mil_s05_min": min(nz[ns[1]][s] for s in ("cosine", "euclidean", "manhattan")),
        "ch1_mil_s05_dot": nz[ns[1]]["dot"],
        "ch1_mil_clip_cos": nz[ns[2]]["cosine"], "ch1_mil_clip_dot": nz[ns[2]]["dot"],
        "ch1_mil_clip_eu": nz[ns[2]]["euclidean"], "ch1_mil_l1dot": nz[ns[3]]["dot"],
        "ch1_mil_theirs_dot": nz[ns[-1]]["dot"], "ch1_mil_theirs_cos": nz[ns[-1]]["cosine"],
        "ch1_mil_mask_book_dot": mk[ms[0]]["dot"], "ch1_mil_mask_l1dot": mk[ms[1]]["dot"],
        "ch1_mil_mask_theirs_dot": mk[ms[-1]]["dot"], "ch1_mil_mask_theirs_eu": mk[ms[-1]]["euclidean"],
        "ch1_mil_mask_theirs_man": mk[ms[-1]]["manhattan"],
    }
    for key, label in (("book", ss[0]), ("theirs", ss[1]), ("raw", ss[2]), ("tol5", ss[3])):
        for sk, sl in (("id", "identity"), ("p10", "polynomial n=10"), ("sm", "softmax β=1000"),
                       ("max", "max")):
            out[f"ch1_mil_sep_{key}_{sk}"] = sp[label][sl]
    return out


def distances_beat_dot(mil: Mapping) -> bool:
    """Whether, with noisy cues and the most digits stored, both the Euclidean and the Manhattan
    similarity retrieve more than the dot product at every step of ``mil``."""
    return all(min(row["euclidean"], row["manhattan"]) > row["dot"]
               for row in _last(mil["similarity"]["noise"]).values())


def noise_tradeoff_numbers(trade: Mapping, sigma: float = 2.0) -> Numbers:
    """Max against softmax at noise ``sigma`` (``ch1_kernels.compute_noise_tradeoff``): the β of
    least squared error, the Bayes-optimal β = 1/(2σ²), and the errors and accuracies of both
    reads; and, for the exercise, the range of best β × 2σ² over all noise levels."""
    i = trade["noise_levels"].index(sigma)
    best = min(range(len(trade["betas"])), key=lambda j: trade["mse_softmax"][i][j])
    over_bayes = [b * 2 * s ** 2 for b, s in zip(trade["best_beta"], trade["noise_levels"])]
    return {"ch1_trade_sigma": trade["noise_levels"][i], "ch1_trade_best_beta": trade["betas"][best],
            "ch1_trade_bayes_beta": 1 / (2 * trade["noise_levels"][i] ** 2),
            "ch1_trade_mse_soft": trade["mse_softmax"][i][best], "ch1_trade_mse_max": trade["mse_max"][i],
            "ch1_trade_acc_soft": trade["acc_softmax"][i][best], "ch1_trade_acc_max": trade["acc_max"][i],
            "ch1_ex3_lo": min(over_bayes), "ch1_ex3_hi": max(over_bayes)}


def hopfield_numbers(hop: Mapping) -> Numbers:
    """The memory cliff (``ch1_kernels.hopfield_capacity``): the classical overlap at loads 0.1,
    0.14, 0.2 and 0.3, the modern network's lowest overlap, and the largest load tried."""
    load, classical = hop["load"], hop["overlap_classical"]
    return {"ch1_hop_low": classical[load.index(0.1)], "ch1_hop_at": classical[load.index(0.14)],
            "ch1_hop_high": classical[load.index(0.2)], "ch1_hop_higher": classical[load.index(0.3)],
            "ch1_hop_modern": min(hop["overlap_modern"]), "ch1_hop_max_load": max(load)}


def fwp_numbers(fwp: Mapping) -> Numbers:
    """The three fast-weight forms (``ch1_fastweights.fwp_equivalence``): their largest
    disagreement and their wall times (ms) at the longest sequence."""
    return {"ch1_fwp_diff": fwp["max_abs_diff"], "ch1_fwp_T": fwp["seq_len"][-1],
            "ch1_fwp_rec": fwp["recurrent_s"][-1] * 1e3, "ch1_fwp_par": fwp["parallel_s"][-1] * 1e3,
            "ch1_fwp_chunk": fwp["chunked_s"][-1] * 1e3,
            "ch1_fwp_speedup": fwp["recurrent_s"][-1] / fwp["chunked_s"][-1],
            "ch1_fwp_par_growth": fwp["parallel_s"][-1] / fwp["parallel_s"][-2]}


def fwp_capacity_numbers(fcap: Mapping) -> Numbers:
    """Fast weights with random keys (``ch1_fastweights.compute_fwp_capacity``): capacity over
    effective dimension (smallest, largest, over the linear maps that reach capacity), and
    capacity, effective and feature dimension of each map at d_key = 64."""
    dk, cap, eff, m_of = fcap["d_keys"], fcap["capacity"], fcap["effective_dim"], fcap["feature_dim"]
    ratios = [c / e for name in cap if name != "softmax" and not all(fcap["below_smallest"][name])
              for c, e in zip(cap[name], eff[name]) if c is not None]
    i64, i32 = dk.index(64), dk.index(fcap["d_key"])
    out: Numbers = {"ch1_cap_ratio_lo": min(ratios), "ch1_cap_ratio_hi": max(ratios)}
    for name in ("identity", "dpfp1", "dpfp2", "dpfp3"):
        out.update({f"ch1_cap_{name}_64": cap[name][i64], f"ch1_eff_{name}_64": eff[name][i64],
                    f"ch1_m_{name}_64": m_of[name][i64]})
    out.update({"ch1_eff_elu1_64": eff["elu1"][i64],
                "ch1_cap_elu1_32": fcap["accuracy"]["elu1"][fcap["n_pairs"].index(16)],
                "ch1_cap_softmax_acc": min(fcap["accuracy"]["softmax"]),
                "ch1_cap_nmax": max(fcap["n_pairs"])})
    for name in ("identity", "dpfp3"):
        out[f"ch1_capd_sum_{name}"] = cap[name][i32]
        out[f"ch1_capd_delta_{name}"] = fcap["capacity_delta"][name]
    return out


def learned_capacity_numbers(lcap: Mapping) -> Numbers:
    """Capacity with learned keys (``ch1_fastweights.compute_learned_capacity``): Schlag et al.'s
    logged capacities and feature dimensions, the largest gap between their losses and the
    bound (S <= 200), and the book's final losses at S = m/2, m, 2m (keys ``..._half``, ``_1``, ``_2``)."""
    logs, ours = lcap["logs"], lcap["ours"]["maps"]
    out: Numbers = {}
    for name in ("elu1", "dpfp1", "dpfp2", "dpfp3"):
        out[f"ch1_log_cap_{name}"] = logs[name]["capacity"]
        out[f"ch1_log_m_{name}"] = logs[name]["feature_dim"]
    out["ch1_log_favor_min"] = min(min(logs[f]["final_loss"]) for f in ("favor64", "favor128", "favor512"))
    out["ch1_log_softmax_cap"] = logs["softmax"]["capacity"]
    out["ch1_log_gap"] = max(abs(loss - b) for name in ("elu1", "dpfp1", "dpfp2", "dpfp3")
                             for n, loss, b in zip(logs[name]["n_keys"], logs[name]["final_loss"],
                                                   logs[name]["bound"]) if n <= 200)
    for name in ("elu1", "dpfp2", "favor8"):
        m = ours[name]["feature_dim"]
        for n, loss in zip(ours[name]["n_keys"], ours[name]["final_loss"]):
            out[f"ch1_s1_{name}_{n // m if n >= m else 'half'}"] = loss
    out["ch1_s1_softmax_max"] = max(ours["softmax"]["final_loss"])
    out["ch1_s1_softmax_n"] = max(ours["softmax"]["n_keys"])
    return out


def random_feature_numbers(rf: Mapping) -> Numbers:
    """FAVOR+ error (``ch1_kernels.random_feature_errors``) at the fewest and most features, the
    variants' errors at the most, and the log-log slope of error against the number of features
    (-1/2 for a Monte Carlo estimate)."""
    m, err = rf["n_features"], rf["rel_error"]
    return {"ch1_rf_m0": m[0], "ch1_rf_m1": m[-1], "ch1_rf_e0": err[0], "ch1_rf_e1": err[-1],
            "ch1_rf_rff1": rf["rel_error_rff_kernel"][-1], "ch1_rf_iid1": rf["rel_error_iid"][-1],
            "ch1_rf_slope": math.log(err[-1] / err[0]) / math.log(m[-1] / m[0])}


def dense_capacity_numbers(dam: Mapping) -> Numbers:
    """Dense associative memory (``ch1_models.dense_capacity``): log-log slopes for n = 2, 3, 4,
    capacity at the largest d for n = 3, 4, and the exponential memory's growth rate."""
    out: Numbers = {f"ch1_dam_slope{n}": dam["slope"][n] for n in (2, 3, 4)}
    exp_cap = dam["exponential"]
    out.update({"ch1_dam_d3": dam["dims"][3][-1], "ch1_dam_p3": dam["capacity"][3][-1],
                "ch1_dam_est3": dam["estimate"][3][-1], "ch1_dam_d4": dam["dims"][4][-1],
                "ch1_dam_p4": dam["capacity"][4][-1], "ch1_dam_rate": exp_cap["rate"],
                "ch1_dam_rate_est": exp_cap["rate_estimate"], "ch1_dam_dexp": exp_cap["dims"][-1],
                "ch1_dam_pexp": exp_cap["capacity"][-1]})
    return out


def rbf_numbers(rbf: Mapping) -> Numbers:
    """The RBF section: a far query read naively (0/0) and safely (computed here, two keys 3
    apart, the query 57 and 60 from them), and the kernels' accuracies with the most digits
    stored (``ch1_models.rbf_comparison``), in per cent."""
    keys, values = torch.tensor([[0.0, 0.0], [3.0, 0.0]]), torch.tensor([[0.0], [1.0]])
    far = torch.tensor([[60.0, 0.0]])
    out: Numbers = {"ch1_rbf_naive": rbf_kernel.naive_smoother_read(far, keys, values, 1.0).item(),
                    "ch1_rbf_safe": rbf_kernel.smoother_read(far, keys, values, "rbf", 1.0).item(),
                    "ch1_rbf_cv": 100 * rbf["raw"]["norm_cv"]}
    for k in ("rbf", "laplacian", "exponential"):
        out[f"ch1_rbf_raw_{k}"] = 100 * rbf["raw"]["accuracy"][k][-1]
        out[f"ch1_rbf_unit_{k}"] = 100 * rbf["unit"]["accuracy"][k][-1]
    return out


def sdm_numbers(sdmr: Mapping) -> Numbers:
    """Kanerva's memory against its size (``ch1_models.sdm_size``): the slope, and per size i the
    locations, capacity and critical distance, simulated and from the analysis; the range of
    simulated over analysed capacity (``ch1_sdm_ratio_lo``/``_hi``)."""
    out: Numbers = {"ch1_sdm_slope": sdmr["slope"]}
    for i, m in enumerate(sdmr["locations"]):
        out.update({f"ch1_sdm_M{i}": m, f"ch1_sdm_cap{i}": sdmr["capacity"][i],
                    f"ch1_sdm_capt{i}": sdmr["capacity_theory"][i], f"ch1_sdm_crit{i}": sdmr["critical"][i],
                    f"ch1_sdm_critt{i}": sdmr["critical_theory"][i]})
    ratio = [c / t for c, t in zip(sdmr["capacity"], sdmr["capacity_theory"])]
    out.update({"ch1_sdm_ratio_lo": min(ratio), "ch1_sdm_ratio_hi": max(ratio)})
    return out


def qa_numbers(qa: Mapping) -> Numbers:
    """Question answering (``ch1_models.kv_question_answering``): the sizes of the fact store,
    chance given the subject, and each reader's accuracy (per cent) on canonical questions and
    paraphrases."""
    out: Numbers = {"ch1_qa_S": qa["n_subjects"], "ch1_qa_R": qa["n_relations"],
                    "ch1_qa_O": qa["n_objects"], "ch1_qa_chance": 100 * qa["chance_given_subject"]}
    short = {"autoassociative": "aa", "kv-untrained": "ku", "kv-trained": "kt"}
    for reader, acc in qa["accuracy"].items():
        for what in ("canonical", "paraphrase"):
            out[f"ch1_qa_{short[reader]}_{what}"] = 100 * acc[what]
    return out


def tolerance_exercise_numbers(images: torch.Tensor, cap_noise: Mapping) -> Numbers:
    """Exercise 1: the noisy-cue capacity test rescored at tolerance 60, for the largest memory
    only (computed here, through :func:`kvlib.memory.capacity_by_separation` and
    :func:`kvlib.memory.capacity_curve`), beside the figure's tolerance-5 scores."""
    n_big = cap_noise["n_stored"][-1]
    same = dict(corruption="noise", level=cap_noise["level"], tolerance=60.0)
    labels = {"id": "identity", "top3": "top-3", "p2": "polynomial n=2", "max": "max"}
    sep60 = memory.capacity_by_separation(images, [n_big], {lab: ch1_kernels.CAPACITY_SEPARATIONS[lab]
                                                            for lab in labels.values()},
                                          similarity="cosine", **same)
    out: Numbers = {}
    for key, label in labels.items():
        out[f"ch1_ex1_{key}_5"] = cap_noise["accuracy_by_separation"][label][-1]
        out[f"ch1_ex1_{key}_60"] = sep60[label][-1]
    for key in ("dot", "cosine"):
        out[f"ch1_ex1_{key}_5"] = cap_noise["accuracy"][key][-1]
        out[f"ch1_ex1_{key}_60"] = memory.capacity_curve(images, [n_big], similarity=key,
                                                         separation="max", **same)[-1]
    return out


def threshold_exercise_numbers(demo: torch.Tensor, noise: float = 1.0, seed: int = 0) -> Numbers:
    """Exercise 2: a Euclidean threshold read of the memory ``demo`` (computed here). Clean cues
    come back alone at squared radius 5; cues with Gaussian noise ``noise`` have no stored digit
    within 5, and within the noise's share d·σ² plus a margin of 60 they have many."""
    def within(cue: torch.Tensor, r2: float) -> torch.Tensor:        # (B,) stored digits within r2
        return (kernels.euclidean(cue, demo) >= -r2).sum(1).double()

    clean = kernels.retrieve(demo, demo, demo, "euclidean", "threshold", threshold=-5.0, normalize=True)
    noisy = memory.corrupt(demo, "noise", noise, generator=torch.Generator().manual_seed(seed))
    wide = demo.shape[1] * noise ** 2 + 60.0
    return {"ch1_ex2_clean_alone": float(((clean - demo).abs().amax(1) < 1e-6).double().mean()),
            "ch1_ex2_noisy_none": float((within(noisy, 5.0) == 0).double().mean()),
            "ch1_ex2_wide_r2": wide, "ch1_ex2_wide_mean": float(within(noisy, wide).mean()),
            "ch1_ex2_wide_zero": float((within(noisy, wide) == 0).double().mean())}


def delta_rule_exercise_numbers(n_pairs: int = 64, d_key: int = 32, d_value: int = 64,
                                seed: int = 0) -> Numbers:
    """Exercise 4 (computed here): write ``n_pairs`` random pairs (elu+1 keys, unit norm; ±1
    values) with the sum and the delta rule, then read every key back in ``n_pairs`` read-only
    steps (zero keys and values, write strength 0). The fraction read back right (nearest stored
    value), how many of the last eight, and the delta rule's error on the last pair."""
    g = torch.Generator().manual_seed(seed)
    keys = kernels.elu_plus_one(torch.randn(n_pairs, d_key, generator=g))
    keys = torch.nn.functional.normalize(keys, dim=-1)
    vals = 2.0 * torch.randint(0, 2, (n_pairs, d_value), generator=g) - 1.0
    zeros_k, zeros_v = torch.zeros_like(keys), torch.zeros_like(vals)
    q, k, v = torch.cat([zeros_k, keys]), torch.cat([keys, zeros_k]), torch.cat([vals, zeros_v])
    lr = torch.cat([torch.ones(n_pairs), torch.zeros(n_pairs)])      # write N steps, then read N
    reads = {"delta": fastweights.chunked(q, k, v, rule="delta", lr=lr)[n_pairs:],
             "sum": fastweights.chunked(q, k, v, rule="sum")[n_pairs:]}
    out: Numbers = {}
    for rule, read in reads.items():
        right = (read @ vals.T).argmax(1) == torch.arange(n_pairs)
        out[f"ch1_ex4_{rule}_all"] = float(right.double().mean())
        out[f"ch1_ex4_{rule}_last8"] = int(right[-8:].sum())
    out["ch1_ex4_delta_exact_last"] = float((reads["delta"][-1] - vals[-1]).abs().max())
    out["ch1_ex4_n"] = n_pairs
    return out

