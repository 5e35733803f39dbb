"""Chapter 2 rows of the Reproductions page (see :mod:`kvlib.reproductions.registry`).

Two sources are compared: Kanerva's sparse distributed memory (the book's SDM scaffold
against his analysis and his example memory) and the temporal-context account of free
recall (Howard & Kahana 2002; the lag-CRP of Kahana 1996) against the chapter's
drifting-context memory. The free-recall sources are compared by their qualitative
findings, each written as a threshold: the book reports no human CRP values, and its
lists (16 items, 8 recalls) are not the experiments' lists.
"""
from __future__ import annotations

import math

import torch

from kvlib.device import generator as seed_stream
from kvlib.reproductions.registry import approx, at_least, equals, experiment, row

KANERVA = "Kanerva 1988, Sparse Distributed Memory (MIT Press)"
KANERVA93 = "Kanerva 1993, Sparse distributed memory and related models"
CRP_SOURCE = "Kahana 1996; Howard & Kahana 2002"
CRP_WHERE = "lag-CRP of human free recall"
SEEDS = (0, 1, 2, 3)


@experiment("ch2-sdm-kanerva-example")
def _kanerva_example(device) -> dict:
    """Kanerva's example memory, n = 1000 bits, radius 451: sampled hard locations."""
    from kvlib.sdm import SparseDistributedMemory
    from kvlib.sdm_theory import activation_probability
    sdm = SparseDistributedMemory(1000, 20_000, radius=451, seed=0, device=device)
    # uniform addresses, as Kanerva assumes; seed 1 (the locations use seed 0)
    addresses = torch.randint(0, 2, (500, 1000), generator=seed_stream(1, "addresses")).float()
    return {"fraction_sampled": sdm.activate(addresses).mean().item(),
            "fraction_exact": activation_probability(1000, 451)}


@experiment("ch2-sdm-scaffold")
def _sdm_scaffold(device) -> dict:
    """The chapter's SDM scaffold (M = 10,000, T = 32) on MNIST test-image addresses."""
    from kvlib.data import load_classes
    from kvlib.sdm import SparseDistributedMemory, binary_address
    from kvlib.sdm_theory import kanerva_fraction
    x, _ = load_classes("mnist", list(range(10)), train=False, device=device)
    a = binary_address(x[:500])                                             # 500 test digits
    fr = [SparseDistributedMemory(784, 10_000, n_stored=32, seed=s, device=device).activate(a).mean().item()
          for s in SEEDS]                                                   # 4 draws of locations
    return {"fraction_measured": sum(fr) / len(fr), "kanerva": kanerva_fraction(10_000, 32)}


@experiment("ch2-sdm-critical-distance")
def _critical(device) -> dict:
    """Iterated autoassociative reads from inside and outside the critical distance.

    n = 256 bits, M = 4,000 hard locations, T = 100 random words (a scaled-down version of
    Kanerva's n = 1000, M = 10^6), radius from his (2 M T)^(-1/3) rule; 8 reads, 200 trials.
    """
    from kvlib.sdm import SparseDistributedMemory
    from kvlib.sdm_theory import critical_distance
    n, M, T = 256, 4000, 100
    sdm = SparseDistributedMemory(n, M, n_stored=T, seed=0, device=device)
    dc = critical_distance(n, M, sdm.radius, T)
    g = seed_stream(1, "words and cues")                                  # locations: seed 0
    words = torch.randint(0, 2, (T, n), generator=g).float().to(device)
    sdm.write(words, words)
    out = {"critical_distance": dc}
    for name, d0 in (("inside", dc // 2), ("outside", (3 * dc) // 2)):
        target = words[torch.randint(T, (200,), generator=g).to(device)]
        flip = torch.rand(200, n, generator=g).argsort(-1)[:, :d0].to(device)
        a = target.clone()
        a.scatter_(1, flip, 1 - a.gather(1, flip))                          # d0 bits wrong
        for _ in range(8):
            a = sdm.read(a)
        final = (a != target).sum(-1).float()
        out[f"converged_{name}"] = (final <= 0.05 * n).float().mean().item()
        out[f"diverged_{name}"] = (final >= dc).float().mean().item()
    return out


@experiment("ch2-crp")
def _crp(device) -> dict:
    """The chapter's CRP (drift 0.5, 2,000 lists of 16, 8 recalls) over four seeds."""
    from kvlib.temporal_context import temporal_contiguity
    tables = []
    for s in SEEDS:
        lags, crp = temporal_contiguity(0.5, seed=s, device=device)
        tables.append(dict(zip(lags.tolist(), crp.tolist())))
    mean = {lag: sum(t[lag] for t in tables) / len(tables) for lag in tables[0] if lag != 0}
    diff = torch.tensor([t[1] - t[-1] for t in tables])
    se = diff.std().item() / math.sqrt(len(tables))
    fwd = [mean[lag] for lag in sorted(mean) if lag > 0]
    bwd = [mean[lag] for lag in sorted(mean, reverse=True) if lag < 0]
    falls = all(a > b for a, b in zip(fwd, fwd[1:])) and all(a > b for a, b in zip(bwd, bwd[1:]))
    return {"peak_lag": max(mean, key=mean.get), "forward_minus_backward_z": diff.mean().item() / se,
            "ratio": mean[1] / mean[-1], "falls_with_distance": falls}


row(key="ch2-sdm-kanerva-example", chapter=2,
    quantity="SDM: fraction of hard locations within radius 451 of a 1,000-bit address",
    source=KANERVA, where="the example memory (n = 1000, M = 10^6, r = 451)",
    source_value="about 0.001 (about 1,000 of 1,000,000 locations)",
    expect=approx(0.001, 0.10, relative=True), experiment="ch2-sdm-kanerva-example",
    field="fraction_sampled", setting="the source's (20,000 sampled locations)",
    note="Sampled from the book's SparseDistributedMemory; the exact binomial value is 0.00107.",
    switch="SparseDistributedMemory(1000, M, radius=451)")

row(key="ch2-sdm-kanerva-fraction", chapter=2,
    quantity="Chapter 2's SDM: fraction of 10,000 hard locations an MNIST address activates",
    source=KANERVA93, where="optimal activation probability (2 M T)^(-1/3), M = 10,000, T = 32",
    source_value="0.0116", expect=approx(0.0116, 0.15, relative=True),
    experiment="ch2-sdm-scaffold", field="fraction_measured",
    setting="the book's (thresholded MNIST images, not random addresses)",
    note="The integer radius 360 activates 0.0122 in expectation; the rest is the draw of "
         "hard locations (mean of 4 draws over 500 test digits).",
    switch="SparseDistributedMemory(784, M, n_stored=T)")

for name, field, text in (("inside", "converged_inside",
                           "reads from half the critical distance that reach the stored word"),
                          ("outside", "diverged_outside",
                           "reads from 1.5 times the critical distance that end beyond it")):
    row(key=f"ch2-sdm-critical-{name}", chapter=2, quantity=f"SDM: fraction of {text}",
        source=KANERVA, where="critical distance of iterated reading",
        source_value="iterated reads converge inside the critical distance and diverge outside it",
        expect=at_least(0.8), experiment="ch2-sdm-critical-distance", field=field,
        setting="scaled down: n = 256, M = 4,000, T = 100 random words",
        note="Critical distance from the book's signal-to-noise approximation (read_error); "
             "≥ 0.8 allows for the transition's width at n = 256.",
        switch="critical_distance(n, M, radius, T)")

row(key="ch2-crp-peak", chapter=2, quantity="Lag with the largest conditional response probability",
    source=CRP_SOURCE, where=CRP_WHERE, source_value="+1 (the next item studied)",
    expect=equals(1), experiment="ch2-crp", field="peak_lag",
    setting="the book's (drift 0.5, reinstatement 0.3, 16 items, 8 recalls)",
    note="Free parameters set by hand, not fitted to recall data.",
    switch="temporal_contiguity(drift, reinstate=...)")

row(key="ch2-crp-forward", chapter=2,
    quantity="Forward asymmetry: CRP(+1) − CRP(−1), in standard errors over 4 seeds",
    source=CRP_SOURCE, where=CRP_WHERE, source_value="forward transitions outnumber backward ones",
    expect=at_least(3.0), experiment="ch2-crp", field="forward_minus_backward_z",
    setting="the book's (drift 0.5, reinstatement 0.3, 16 items, 8 recalls)",
    note="Direction only: ≥ 3 standard errors. The size of the asymmetry depends on the "
         "reinstatement mixture (Exercise 2).",
    switch="temporal_contiguity(drift, reinstate=...)")

row(key="ch2-crp-gradient", chapter=2,
    quantity="CRP falls with distance on both sides (lags ±1 … ±5)",
    source=CRP_SOURCE, where=CRP_WHERE, source_value="contiguity: nearer lags are more likely, both ways",
    expect=equals(True), experiment="ch2-crp", field="falls_with_distance",
    setting="the book's (drift 0.5, reinstatement 0.3, 16 items, 8 recalls)",
    note="Mean CRP of 4 seeds, strictly decreasing in |lag| on each side.",
    switch="temporal_contiguity(drift, reinstate=...)")
