"""The memory cliff: a classical Hopfield network collapses at a load of about 0.14, a modern one does not.

With ±1 patterns and keys equal to values, Kohonen's correlation memory (:mod:`kvlib.memory`)
is the classical Hopfield network (Hopfield 1982; weights and sign dynamics in
:mod:`kvlib.hopfield`), whose recall collapses once the patterns per neuron pass
α ≈ 0.138 (Amit, Gutfreund & Sompolinsky 1985). Replace the identity separation by softmax
and the same memory is the modern Hopfield network (Ramsauer et al. 2021), one read of
softmax attention per update (:func:`modern_hopfield`). :func:`hopfield_capacity` measures both.

Explained in Chapter 1 (``book/01_kernels.ipynb``), §"The memory cliff". Axis names:
N patterns, d neurons, B probes; row vectors.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib import hopfield
from kvlib.device import progress as progress_bar
from kvlib.kernels import retrieve

__all__ = ["modern_hopfield", "hopfield_capacity"]



def modern_hopfield(patterns: torch.Tensor, probes: torch.Tensor, *, beta: float = 1.0,
                    steps: int = 1) -> torch.Tensor:
    """Modern continuous Hopfield update ``ξ ← softmax(β ξ Xᵀ) X``, iterated (Ramsauer et al. 2021).

    patterns: (..., N, d); probes: (..., B, d). One step is exactly softmax attention with
    keys = values = the stored patterns (Eqs 3 and 6 with ``S = dot``). Explained in
    Chapter 1, §"The memory cliff".
    """
    patterns = check.tensor("patterns", patterns, ndim=range(2, 9), dtype="float-strict", nonempty=True)
    probes = check.tensor("probes", probes, ndim=range(2, 9), dtype="float-strict", like=patterns,
                          like_name="the patterns")
    if probes.shape[-1] != patterns.shape[-1]:
        raise ValueError(f"probes: expected last dimension {patterns.shape[-1]} (the patterns'), "
                         f"got shape {tuple(probes.shape)}")
    check.number("beta", beta, low=0)
    steps = check.positive("steps", steps, integer=True)
    state = probes
    for _ in range(steps):                                     # a few steps, not a loop over memories
        state = retrieve(state, patterns, patterns, "dot", "softmax", beta=beta)
    return state


def hopfield_capacity(n_neurons: int = 500, loads: Sequence[float] = (0.05, 0.1, 0.15, 0.2, 0.25), *,
                      flip: float = 0.1, n_probes: int = 50, beta: float | None = None,
                      update: str = "sync", sweeps: int = 20, seeds: int = 1,
                      device: torch.device | str = "cpu", progress: bool = False) -> dict[str, list[float]]:
    """Mean overlap after retrieval against the load α = N_patterns / n_neurons.

    Random ±1 patterns (:func:`kvlib.hopfield.random_patterns`); each probe is a stored
    pattern with a fraction ``flip`` of its bits flipped. Classical: Hebbian weights ``XᵀX``
    (Hopfield's ``1/d`` changes no sign) with zero diagonal and sign dynamics
    (:func:`kvlib.hopfield.recall`; a neuron with zero field keeps its state, as in Hopfield
    1982), synchronous by default (``update="async"`` gives the same curve up to finite-size
    noise), at most ``sweeps`` updates; all loads and seeds run as one batch of networks
    (patterns padded with zero rows, which add nothing to W). Modern: one softmax-attention
    step, ``β = 1/√d`` by default. The classical network collapses near α ≈ 0.14 (Amit,
    Gutfreund & Sompolinsky 1985); the modern one does not. Explained in Chapter 1,
    §"The memory cliff".
    """
    d = check.positive("n_neurons", n_neurons, integer=True)
    loads = check.sequence("loads", loads, check.positive)
    flip = check.probability("flip", flip)
    b = check.positive("n_probes", n_probes, integer=True)
    beta = 1.0 / math.sqrt(d) if beta is None else check.positive("beta", beta)
    update = check.option("update", update, hopfield.UPDATES)
    sweeps = check.positive("sweeps", sweeps, integer=True)
    seeds = check.positive("seeds", seeds, integer=True)
    device = check.device("device", device)
    sizes = [max(1, int(round(a * d))) for a in loads]
    n_max = max(sizes)
    pats, targets, probes = [], [], []
    om = torch.zeros(len(sizes), seeds)
    check.flag("progress", progress)
    for i, n in enumerate(progress_bar(sizes, enabled=progress, desc="loads")):   # draw the networks
        for s in range(seeds):
            g = torch.Generator().manual_seed(10_000 * s + n)
            x = hopfield.random_patterns(n, d, generator=g, device=device)     # (n, d)
            tgt = x[torch.randint(n, (b,), generator=g).to(device)]             # (b, d), with replacement
            flips = (torch.rand(tgt.shape, generator=g) < flip).to(device)
            prb = torch.where(flips, -tgt, tgt)
            om[i, s] = float(hopfield.overlap(modern_hopfield(x, prb, beta=beta), tgt).mean())
            pats.append(torch.cat([x, x.new_zeros(n_max - n, d)]))             # (n_max, d)
            targets.append(tgt)
            probes.append(prb)
    # One batch of len(sizes)·seeds classical networks: (L·S, n_max, d), (L·S, b, d).
    # Integer weights XᵀX: Hopfield's 1/d leaves every sign as it is, and without it a zero
    # field (a tie) is exactly zero in floating point, not a rounding error either side of it.
    weights = hopfield.hopfield_weights(torch.stack(pats))                     # (L·S, d, d)
    final = hopfield.recall(weights, torch.stack(probes), max_steps=sweeps, update=update, ties="keep",
                            generator=torch.Generator().manual_seed(0))
    oc = hopfield.overlap(final, torch.stack(targets)).mean(-1).reshape(len(sizes), seeds)   # (L, S)
    return {"n_neurons": d, "load": list(loads), "overlap_classical": oc.mean(1).tolist(),
            "overlap_modern": om.mean(1).tolist()}
