"""Error correction of the key (Box 1 of the review): what the scaffold's attractor clean-up buys.

Explained in Chapter 4, §4.5 (``book/04_substrates.ipynb``). The models are :mod:`kvlib.scaffold`
(Vector-HaSH, Chandra, Sharma, Chaudhuri & Fiete 2025; MESH, Sharma, Chandra & Fiete 2022).

A scaffold memory recalls a sensory pattern from a cue ``s̃`` in three moves (Box 1,
``ŝ = φ(s̃ W_sh W_hg) W_gh W_hs`` in :mod:`kvlib.scaffold`'s row-vector names):

1. the cue drives a *noisy key* in the hidden (hippocampal) layer, ``h₀ = σ(s̃ W_sh)``;
2. the key is *corrected*: the grid layer snaps ``h₀ W_hg`` to an attractor state ``g``
   and returns the clean key ``h = hidden(g)``;
3. the value is read out, ``ŝ = sign(h W_hs)``.

Leaving out step 2 gives the same network without its attractor, ``ŝ = sign(h₀ W_hs)``
(:func:`recall_without_cleanup`). :func:`key_correction_sweep` compares the two against cue
noise and load, on one scaffold and one set of stored patterns.

In key-value terms step 2 is itself a read of a key-value memory whose keys and values are the
scaffold's codebook: the nearest attractor state is ``retrieve(g_in, G, G, "dot", "max")``
(:func:`nearest_scaffold_state`). For a codebook that lists *every* combination of module
phases (Vector-HaSH's grid states, by the Chinese remainder theorem) or every K-hot vector
(MESH's labels), the best-scoring state is exactly the module-wise winner-take-all or the
global top-K of the scaffold's own clean-up, so the two agree by construction (up to ties).

Axis names: P stored patterns, B cues, n_s / n_h / n_g layer sizes.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib import binary_channel as bc
from kvlib import hopfield, kernels
from kvlib import scaffold as sf
from kvlib.device import cpu_threads
from kvlib.device import generator as seed_stream
from kvlib.device import progress as progress_bar

__all__ = ["nearest_scaffold_state", "recall_without_cleanup", "key_correction_sweep"]


def nearest_scaffold_state(scaffold: sf.Scaffold, g_in: torch.Tensor) -> torch.Tensor:
    """The clean-up φ of Box 1 as a key-value read: the codebook state with the largest dot
    product with ``g_in`` (B, n_g) → (B, n_g), through :func:`kvlib.kernels.retrieve`.

    Equals ``scaffold.clean(g_in)`` for :func:`kvlib.scaffold.vector_hash` and
    :func:`kvlib.scaffold.mesh` scaffolds (their codebooks list every state). Explained in
    Chapter 4, §4.5.

    >>> sc = sf.vector_hash(20, periods=(2, 3), generator=torch.Generator().manual_seed(0))
    >>> g_in = torch.rand(4, sc.n_g, generator=torch.Generator().manual_seed(1))
    >>> bool((nearest_scaffold_state(sc, g_in) == sc.clean(g_in)).all())
    True
    """
    if not isinstance(scaffold, sf.Scaffold):
        raise TypeError(f"scaffold: expected a Scaffold (from mesh or vector_hash), got "
                        f"{type(scaffold).__name__}")
    G = scaffold.codebook                                     # (n_states, n_g): keys = values
    g_in = check.tensor("g_in", g_in, shape=(None, scaffold.n_g), like=G, like_name="the scaffold")
    return kernels.retrieve(g_in, G, G, similarity="dot", separation="max")   # (B, n_g)


def recall_without_cleanup(memory: sf.ScaffoldMemory, cue: torch.Tensor) -> torch.Tensor:
    """Recall with the attractor left out: ``ŝ = sign(σ(s̃ W_sh) W_hs)`` for cues (B, n_s).

    The noisy key ``h₀ = σ(s̃ W_sh)`` goes straight to the read-out trained on clean keys.
    Explained in Chapter 4, §4.5.
    """
    if not isinstance(memory, sf.ScaffoldMemory):
        raise TypeError(f"memory: expected a ScaffoldMemory, got {type(memory).__name__}")
    if memory.W_sh is None:
        raise ValueError("memory: store patterns first")
    cue = check.tensor("cue", cue, shape=(None, memory.n_s))
    if cue.device != memory.W_sh.device:
        raise ValueError(f"cue: expected device {memory.W_sh.device} (the memory's), got {cue.device}")
    h0 = memory.scaffold.from_cue(cue.to(memory.W_sh.dtype) @ memory.W_sh)   # (B, n_h), noisy key
    return torch.sign(h0 @ memory.W_hs)                                     # (B, n_s)


def key_correction_sweep(n_patterns: Sequence[int] = (100, 400, 1600),
                         flips: Sequence[float] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4),
                         n_hippocampal: int = 400, n_sensory: int = 3600,
                         periods: Sequence[int] = (3, 4, 5), seed: int = 0,
                         device: str | torch.device = "cpu", progress: bool = True) -> dict:
    """Recall with and without the clean-up, against the fraction of cue bits flipped, per load.

    One Vector-HaSH scaffold (:func:`kvlib.scaffold.vector_hash`) and one set of random ±1
    patterns (seed streams ``"scaffold"``, ``"patterns"``, ``"cue noise"``); for each load P the
    first P patterns are stored at the first P grid states and each is cued with a fraction
    ``flip`` of its bits flipped (:func:`kvlib.binary_channel.flip_bits`).

    Returns ``{"n_patterns", "flips", "error": {"cleanup", "none"}, "key_recovered",
    "readout_gain", "n_hippocampal", "n_sensory", "n_states"}``: ``error[model][i][j]`` is the
    mean fraction of wrong bits (:func:`kvlib.binary_channel.feature_error`) at load
    ``n_patterns[i]`` and flip ``flips[j]``; ``key_recovered[i][j]`` the fraction of cues whose
    cleaned grid state is the one their pattern was stored at; ``readout_gain[i]`` the largest
    singular value of the read-out ``W_hs = H⁺S``, how much it can amplify an error in the key
    (largest where P = n_h, the square case). Explained in Chapter 4, §4.5.
    """
    loads = sorted(check.sequence("n_patterns", n_patterns, lambda k, v: check.count(k, v, minimum=1),
                                  distinct=True))
    fs = check.sequence("flips", flips, check.probability)
    n_h = check.count("n_hippocampal", n_hippocampal, minimum=1)
    n_s = check.count("n_sensory", n_sensory, minimum=1)
    seed = check.seed("seed", seed)
    check.flag("progress", progress)
    if device is None:
        raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
    dev = check.device("device", device)
    sc = sf.vector_hash(n_h, periods, generator=seed_stream(seed, "scaffold"), device=dev)
    if loads[-1] > sc.n_states:
        raise ValueError(f"n_patterns: expected at most {sc.n_states} patterns (grid states), "
                         f"got {loads[-1]}")
    S_all = hopfield.random_patterns(loads[-1], n_s, seed_stream(seed, "patterns"), sc.H.device)
    noise = seed_stream(seed, "cue noise")
    err = {"cleanup": [], "none": []}
    found, gain = [], []
    with cpu_threads(1 if dev.type == "cpu" else None):      # small linear algebra: one thread is faster
        for P in progress_bar(loads, desc="loads", enabled=progress):   # a sweep of settings
            S = S_all[:P]
            mem = sf.ScaffoldMemory(sc).store(S)
            gain.append(float(torch.linalg.matrix_norm(mem.W_hs.double(), ord=2)))   # ‖W_hs‖₂
            rows = {"cleanup": [], "none": []}
            ok = []
            for f in fs:
                cue = bc.flip_bits(S, f, noise)
                out = mem.recall(cue, details=True)
                rows["cleanup"].append(float(bc.feature_error(out["s"], S).mean()))
                rows["none"].append(float(bc.feature_error(recall_without_cleanup(mem, cue), S).mean()))
                ok.append(float((out["g"] == sc.codebook[:P]).all(dim=1).float().mean()))
            for k in err:
                err[k].append(rows[k])
            found.append(ok)
    return {"n_patterns": loads, "flips": [float(f) for f in fs], "error": err, "key_recovered": found,
            "readout_gain": gain, "n_hippocampal": n_h, "n_sensory": n_s, "n_states": sc.n_states}
