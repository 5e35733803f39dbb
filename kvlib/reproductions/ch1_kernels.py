"""Chapter 1 rows of the Reproductions page (see :mod:`kvlib.reproductions.registry`).

Sources: Schlag, Irie & Schmidhuber (2021), whose committed logs give the final test loss of
every setting-1 run (:data:`kvlib.learned_capacity.SCHLAG2021_LOGS`); Millidge et al. (2022), whose
capacity code (``functions.py``, ``plotting.py``) the book runs as ``setting="millidge"``;
Choromanski et al. (2021) for the error rate of random features; Amit, Gutfreund & Sompolinsky
(1985) and Ramsauer et al. (2021) for Hopfield capacity; and the identities linear attention =
fast weights (Katharopoulos et al. 2020; Schlag et al. 2021). Every experiment here is a small
version of one the chapter runs (together a few seconds on one core).
"""
from __future__ import annotations

import math

import torch

from kvlib.reproductions.registry import approx, at_least, at_most, equals, experiment, row

SCHLAG = "Schlag, Irie & Schmidhuber 2021 (committed logs)"
SCHLAG_LOGS = ("https://github.com/ischlag/fast-weight-transformers/blob/"
               "ebe13ea2e6409da91d12d22175f4f6efe8bf2f0a/synthetic/logs/")
MILLIDGE = "Millidge et al. 2022"
MILLIDGE_CODE = ("https://github.com/BerenMillidge/Theory_Associative_Memory/blob/"
                 "f5e0f5e7fd192949036d81227112bdeb7c5c2c6e/")
SMALL = "the source's task at a smaller scale (keys of 16 dimensions, value not in the key)"
SWITCH_S1 = 'learned_capacity.retrieval_capacity("paper")'

#: The small setting-1 runs of the page: each map at S = m/2 and S = 2m (FAVOR+ at m/2 only).
_S1_RUNS = [("elu1", 8), ("elu1", 32), ("dpfp2", 32), ("dpfp2", 128), ("favor8", 8), ("softmax", 128)]


@experiment("ch1-setting1")
def _setting1(device) -> dict:
    from kvlib.associative_retrieval import associative_retrieval
    res = associative_retrieval(_S1_RUNS, d_key=16, value_in_key=False, max_steps=1500, device=device)
    loss = dict(zip(_S1_RUNS, res["final_loss"]))
    return {"elu1_half": loss[("elu1", 8)], "elu1_twice": loss[("elu1", 32)],
            "dpfp2_half": loss[("dpfp2", 32)], "dpfp2_twice": loss[("dpfp2", 128)],
            "favor_half": loss[("favor8", 8)], "softmax_128": loss[("softmax", 128)]}


for field, name, m, ratio, files, value, expect, note in (
        ("elu1_half", "elu+1", 64, "m/2", "d64_linear_sum_AssocSeq40N40R0.csv",
         "0.0009 (S = 20), 0.0008 (S = 40)", at_most(0.02),
         "Below its feature dimension the map learns keys whose features do not overlap; 0.02 allows "
         "one pair of keys of 32 left sharing features (0.25 per query)."),
        ("elu1_twice", "elu+1", 64, "2m", "d64_linear_sum_AssocSeq120N120R0.csv",
         "0.2324 (S = 120), 0.2724 (S = 140); rank bound at S = 2m: 0.25", approx(0.25, 0.03),
         "At S = 2m no m-dimensional map can do better than ½(1 − m/S) = 0.25."),
        ("dpfp2_half", "DPFP-2", 256, "m/2", "d64_dpfp2_sum_AssocSeq120N120R0.csv",
         "0.0003 (S = 120), 0.0005 (S = 140)", at_most(0.02), "As for elu+1."),
        ("dpfp2_twice", "DPFP-2", 256, "2m", "d64_dpfp2_sum_AssocSeq500N500R0.csv",
         "0.2806 (S = 500), 0.2529 (S = 520); rank bound at S = 2m: 0.25", approx(0.25, 0.03),
         "Their runs evaluate at most 200 queries, so their logged values scatter around the bound."),
        ("favor_half", "FAVOR+", 128, "m/2 or less", "d64_favor64_sum_AssocSeq20N20R0.csv",
         "0.1300 (64 directions, S = 20), 0.0797 (128), 0.0453 (512)", at_least(0.04),
         "Random features redrawn at every step: the keys cannot be learned to fit them.")):
    row(key=f"ch1-setting1-{field.replace('_', '-')}", chapter=1,
        quantity=f"Setting 1, {name}: final test loss at S = {ratio} keys (m = {m} in the logs)",
        source=SCHLAG, where=files, url=SCHLAG_LOGS + files, source_value=value, expect=expect,
        experiment="ch1-setting1", field=field, setting=SMALL, note=note, switch=SWITCH_S1)

row(key="ch1-setting1-softmax", chapter=1,
    quantity="Setting 1, softmax attention: final test loss with 8 keys per key dimension",
    source=SCHLAG, where="d64_softmax_cat_AssocSeq340N340R0.csv",
    url=SCHLAG_LOGS + "d64_softmax_cat_AssocSeq340N340R0.csv",
    source_value="at most 0.0004 for every S up to 340 (d_key = 64, about 5 keys per dimension)",
    expect=at_most(0.02), experiment="ch1-setting1", field="softmax_128", setting=SMALL,
    note="Softmax keeps the pairs apart: no feature dimension bounds it.", switch=SWITCH_S1)


@experiment("ch1-millidge")
def _millidge(device) -> dict:
    from kvlib import memory
    out = {}
    for label, setting, level, train in (("theirs", "millidge", 0.5, True), ("book", "book", 1.5, False)):
        images = memory.mnist_memories(1000, train=train, device=device)
        acc = {s: memory.capacity_curve(images, [1000], similarity=s, separation="max", corruption="noise",
                                        level=level, setting=setting)[0]
               for s in ("dot", "euclidean", "manhattan")}
        out[f"{label}_distances_beat_dot"] = min(acc["euclidean"], acc["manhattan"]) > acc["dot"]
        out.update({f"{label}_{s}": a for s, a in acc.items()})
    return out


for field, setting, switch, note in (
        ("theirs_distances_beat_dot", "the source's (their code's setting, 1,000 training digits)",
         'memory.capacity_curve(..., setting="millidge")',
         "Noise σ = 0.5, clipped to [0, 1]; max separation; their L1-normalised dot product; error ≤ 60."),
        ("book_distances_beat_dot", "the book's (noise σ = 1.5 unclipped, raw dot product, error ≤ 5)",
         'memory.capacity_curve(..., setting="millidge", level=0.5)',
         "The finding does not depend on these choices; the cosine's place does (see Chapter 1).")):
    row(key=f"ch1-millidge-{field.split('_')[0]}", chapter=1,
        quantity="MNIST, noisy cues, max separation, 1,000 stored: Euclidean and Manhattan retrieve more "
                 "than the dot product",
        source=MILLIDGE, where="abstract and similarity-function capacity figure; plotting.py",
        url=MILLIDGE_CODE + "plotting.py",
        source_value="yes (distances 'perform substantially better' than the dot product)",
        expect=equals(True), experiment="ch1-millidge", field=field, setting=setting, note=note,
        switch=switch)


@experiment("ch1-identities")
def _identities(device) -> dict:
    from kvlib import fastweights, kernels
    g = torch.Generator().manual_seed(0)
    q, k = (fastweights.sum_normalize(torch.nn.functional.elu(
        torch.randn(200, 16, generator=g, dtype=torch.float64)) + 1).to(device) for _ in range(2))
    v = torch.randn(200, 8, generator=g, dtype=torch.float64).to(device)
    lr = torch.sigmoid(torch.randn(200, generator=g, dtype=torch.float64)).to(device)
    y = fastweights.recurrent(q, k, v, rule="sum")
    dual = torch.stack([kernels.retrieve(q[t], k[: t + 1], v[: t + 1], "dot", "identity")
                        for t in (0, 99, 199)])
    gap_dual = float((y[[0, 99, 199]] - dual).abs().max())
    gap_forms = max(float((fastweights.fast_weights(q, k, v, rule=r, form=f, lr=lr if r == "delta" else None,
                                                    chunk_size=32) - fastweights.recurrent(
        q, k, v, rule=r, lr=lr if r == "delta" else None)).abs().max())
        for r in ("sum", "delta") for f in ("parallel", "chunked"))
    from kvlib.memory import CorrelationMemory
    keys = torch.randn(300, 24, generator=g, dtype=torch.float64)
    vals = torch.randn(300, 5, generator=g, dtype=torch.float64)
    mem = CorrelationMemory(24, 5, dtype=torch.float64)
    mem.write(keys, vals, torch.rand(300, generator=g, dtype=torch.float64))
    probe = torch.randn(20, 24, generator=g, dtype=torch.float64)
    gap_kohonen = float((mem.read(probe) - mem.read_dual(probe)).abs().max())
    return {"fast_weights_vs_attention": gap_dual, "forms": gap_forms, "matrix_vs_dual": gap_kohonen}


row(key="ch1-matrix-form-is-dual-form", chapter=1,
    quantity="Correlation memory: matrix read qM (Eqs 1-2) = dual read Σ (q·kₙ) ηₙ vₙ (Eq 3), largest "
             "difference, float64",
    source="Gershman, Fiete & Irie 2025", where="Eqs 1-3", url="https://arxiv.org/abs/2501.02950",
    source_value="identical (an identity)", expect=at_most(1e-10), experiment="ch1-identities",
    field="matrix_vs_dual", note="Kohonen's memory read both ways.")
row(key="ch1-linear-attention-is-fast-weights", chapter=1,
    quantity="Sum-rule fast weights = causal linear attention (Eq 3, σ = identity): largest "
             "difference, float64",
    source="Katharopoulos et al. 2020; Schlag, Irie & Schmidhuber 2021", where="§3 (the identity)",
    url="https://proceedings.mlr.press/v139/schlag21a.html", source_value="identical (an identity)",
    expect=at_most(1e-10), experiment="ch1-identities", field="fast_weights_vs_attention",
    note="An identity, so the only difference is rounding.")
row(key="ch1-fast-weight-forms", chapter=1,
    quantity="Recurrent, parallel and chunked forms (sum and delta rule): largest difference, float64",
    source="Schlag, Irie & Schmidhuber 2021 (delta rule); Yang et al. 2024 (parallel form)",
    where="§4.2 (delta rule)", url="https://proceedings.mlr.press/v139/schlag21a.html",
    source_value="identical (the same recurrence)", expect=at_most(1e-10), experiment="ch1-identities",
    field="forms", note="")


@experiment("ch1-random-features")
def _random_features(device) -> dict:
    from kvlib.random_features import random_feature_error
    ms = [16, 64, 256, 1024]
    out = {}
    for label, orth in (("orthogonal", True), ("iid", False)):
        err = random_feature_error(ms, seeds=4, orthogonal=orth, rff=False, device=device)["rel_error"]
        x = [math.log(m) for m in ms]
        y = [math.log(e) for e in err]
        xm, ym = sum(x) / len(x), sum(y) / len(y)                     # least-squares slope
        out[f"slope_{label}"] = sum((a - xm) * (b - ym) for a, b in zip(x, y)) / sum((a - xm) ** 2 for a in x)
        out[f"error_{label}_1024"] = err[-1]
    return out


row(key="ch1-favor-rate", chapter=1,
    quantity="FAVOR+ attention: slope of log relative error against log m (orthogonal features)",
    source="Choromanski et al. 2021", where="Lemma 2 (variance of positive random features ∝ 1/m)",
    url="https://openreview.net/forum?id=Ua6zuk0WRH", source_value="−0.5 (error ∝ 1/√m)",
    expect=approx(-0.5, 0.12), experiment="ch1-random-features", field="slope_orthogonal",
    note="Least-squares slope over m = 16 to 1,024, 4 draws; normalised attention is a ratio of two "
         "estimates, so the rate holds only asymptotically.")
row(key="ch1-favor-rate-iid", chapter=1,
    quantity="FAVOR+ attention: slope of log relative error against log m (independent features)",
    source="Choromanski et al. 2021", where="Lemma 2", url="https://openreview.net/forum?id=Ua6zuk0WRH",
    source_value="−0.5 (error ∝ 1/√m)", expect=approx(-0.5, 0.12), experiment="ch1-random-features",
    field="slope_iid", note="As above.")


@experiment("ch1-hopfield")
def _hopfield(device) -> dict:
    from kvlib.memory_cliff import hopfield_capacity
    res = hopfield_capacity(500, [0.1, 0.2, 2.0], n_probes=64, sweeps=15, device=device)
    c, m = res["overlap_classical"], res["overlap_modern"]
    return {"cliff_between_0.1_and_0.2": c[0] > 0.95 and c[1] < 0.8, "modern_at_load_2": m[2]}


row(key="ch1-hopfield-cliff", chapter=1,
    quantity="Classical Hopfield network (500 neurons): recall at load 0.1 (overlap > 0.95), "
             "not at 0.2 (< 0.8)",
    source="Amit, Gutfreund & Sompolinsky 1985", where="critical load α_c ≈ 0.138",
    url="https://doi.org/10.1103/PhysRevLett.55.1530", source_value="collapse at α ≈ 0.138",
    expect=equals(True), experiment="ch1-hopfield", field="cliff_between_0.1_and_0.2",
    note="A finite network: the collapse is a steep slope around 0.14, not a step.")
row(key="ch1-modern-hopfield", chapter=1,
    quantity="Modern Hopfield network (one softmax step, β = 1/√d): overlap at load 2 "
             "(1,000 patterns, 500 neurons)",
    source="Ramsauer et al. 2021", where="exponential storage capacity",
    url="https://openreview.net/forum?id=tL89RnzIiCd", source_value="retrieval far beyond d patterns",
    expect=at_least(0.99), experiment="ch1-hopfield", field="modern_at_load_2",
    note="Each probe has a tenth of its bits flipped.")
