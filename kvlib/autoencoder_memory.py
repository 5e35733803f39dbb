"""A learned encoder as a memory: an autoencoder with MESH's synapses, against MESH's fixed scaffold.

Explained in Chapter 4, §4.7 (``book/04_substrates.ipynb``). MESH (Sharma, Chandra & Fiete 2022;
:mod:`kvlib.scaffold`) compares its fixed scaffold with an autoencoder of the same architecture,
feature → hidden → label → hidden → feature, hence the same number of synapses,
``2·N_s·N_h + 2·N_h·N_g``, trained by gradient descent to reconstruct the stored patterns and used
as a content-addressable memory by iterating its map (an over-parameterised autoencoder stores
its training examples as attractors, Radhakrishnan, Belkin & Uhler 2020). ``FieteLab/MESH`` commits
the autoencoder's results (:data:`MESH_AUTOENCODER_COMMITTED`) but not its code, so the training
here is the book's: no biases, ``tanh`` units in every layer, mean squared reconstruction error,
full-batch Adam (400 steps at learning rate 0.01); recall is ``sign`` of one pass (``"first"``)
or the pass iterated to a fixed point (``"final"``, at most ``n_iter`` passes), our reading of
the names of MESH's two committed read-outs.

*By construction* the two memories have the same synapses and are scored alike
(:func:`kvlib.binary_channel.feature_error`, :func:`kvlib.binary_channel.mutual_information`);
how each recalls against load and cue noise is the finding.

Row vectors; axis names: P patterns, B cues, n_s / n_h / n_g layer sizes.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib import binary_channel as bc
from kvlib import hopfield
from kvlib import scaffold as sf
from kvlib.device import cpu_threads
from kvlib.device import generator as seed_stream
from kvlib.device import progress as progress_bar

__all__ = ["MESH_AUTOENCODER_COMMITTED", "synapse_count", "train_autoencoder", "autoencoder_recall",
           "scaffold_vs_autoencoder"]

#: ``FieteLab/MESH``'s committed autoencoder results (``continuum_results/autoencoder``,
#: N_F = 816, N_H = 300, N_L = 18, clean cues): mean overlap m of one pass ("first") and of the
#: iterated map ("final"), at P = 50, 100, …, 750 stored patterns.
MESH_AUTOENCODER_COMMITTED = {
    "n_patterns": list(range(50, 800, 50)), "n_hidden": 300, "n_sensory": 816, "n_label": 18,
    "first": [0.9534, 0.9875, 0.9969, 0.9971, 0.9963, 0.9922, 0.9899, 0.9841, 0.9585, 0.9614, 0.8912,
              0.9463, 0.9406, 0.9187, 0.8983],
    "final": [0.9534, 0.9875, 0.9969, 0.9971, 0.9963, 0.9830, 0.9712, 0.8601, 0.1299, 0.1635, 0.0317,
              0.0338, 0.0176, 0.0145, 0.0094],
}


def synapse_count(n_sensory: int, n_hidden: int, n_label: int) -> int:
    """Synapses of MESH and of the matched autoencoder: ``2·n_s·n_h + 2·n_h·n_g``.

    >>> synapse_count(816, 300, 18)
    500400
    """
    n_s, n_h = check.count("n_sensory", n_sensory, 1), check.count("n_hidden", n_hidden, 1)
    n_g = check.count("n_label", n_label, 1)
    return 2 * n_s * n_h + 2 * n_h * n_g


def _forward(weights: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    for W in weights:                                         # the four layers, in order
        x = torch.tanh(x @ W)
    return x


def train_autoencoder(S: torch.Tensor, n_hidden: int, n_label: int, *, steps: int = 400, lr: float = 1e-2,
                      seed: int = 0, progress: bool = False) -> list[torch.Tensor]:
    """Train the autoencoder ``n_s → n_hidden → n_label → n_hidden → n_s`` to reconstruct ``S``
    (±1 patterns, (P, n_s)); returns its four weight matrices.

    Initial weights Gaussian with variance 1/n_in (seed stream ``"autoencoder"``); loss: mean
    squared error of the ``tanh`` output; full-batch Adam. Explained in Chapter 4, §4.7.
    """
    S = check.tensor("S", S, ndim=2, dtype="pm1", nonempty=True)
    if S.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"S: expected float32 or float64 patterns (training in half precision diverges), "
                        f"got {S.dtype}")
    n_h, n_g = check.count("n_hidden", n_hidden, 1), check.count("n_label", n_label, 1)
    steps, lr = check.count("steps", steps, 1), check.positive("lr", lr)
    check.flag("progress", progress)
    g = seed_stream(check.seed("seed", seed), "autoencoder")
    n_s = S.shape[1]
    shapes = ((n_s, n_h), (n_h, n_g), (n_g, n_h), (n_h, n_s))
    weights = [(torch.randn(a, b, generator=g, dtype=S.dtype) / math.sqrt(a)).to(S.device).requires_grad_()
               for a, b in shapes]
    opt = torch.optim.Adam(weights, lr=lr)
    with cpu_threads(1 if S.device.type == "cpu" else None):
        for _ in progress_bar(range(steps), enabled=progress, desc="autoencoder"):   # gradient steps
            loss = (_forward(weights, S) - S).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    check.finite_result("lr", loss.detach())
    return [W.detach() for W in weights]


def autoencoder_recall(weights: Sequence[torch.Tensor], cue: torch.Tensor, n_iter: int = 100) -> dict:
    """Recall from cues ``(B, n_s)`` through a trained autoencoder (:func:`train_autoencoder`).

    Returns ``{"first": sign of one pass, "final": x ← sign(AE(x)) iterated until nothing
    changes or ``n_iter`` passes, "n_passes"}``. Explained in Chapter 4, §4.7.
    """
    weights = check.sequence("weights", weights)
    if len(weights) != 4:
        raise ValueError(f"weights: expected the four weight matrices of train_autoencoder, "
                         f"got {len(weights)}")
    for i, W in enumerate(weights):
        check.tensor(f"weights[{i}]", W, ndim=2, like=weights[0], like_name="weights[0]")
        if i and W.shape[0] != weights[i - 1].shape[1]:
            raise ValueError(f"weights[{i}]: expected {weights[i - 1].shape[1]} rows (the previous layer's "
                             f"outputs), got shape {tuple(W.shape)}")
    n_s = weights[0].shape[0]
    cue = check.tensor("cue", cue, shape=(None, n_s), like=weights[0], like_name="the weights")
    n_iter = check.count("n_iter", n_iter, 1)
    first = torch.sign(_forward(weights, cue))
    state, passes = first, 1
    for _ in range(n_iter - 1):                               # iterate the map to a fixed point
        nxt = torch.sign(_forward(weights, state))
        passes += 1
        if torch.equal(nxt, state):
            break
        state = nxt
    return {"first": first, "final": state, "n_passes": passes}


def scaffold_vs_autoencoder(n_patterns: Sequence[int] = (20, 40, 80, 120, 160, 220), n_label: int = 12,
                            k: int = 3, n_hidden: int = 80, cue_flips: Sequence[float] = (0.0, 0.05),
                            steps: int = 400, lr: float = 1e-2, seed: int = 0,
                            device: str | torch.device = "cpu", progress: bool = False) -> dict:
    """MESH (:func:`kvlib.scaffold.mesh`) and the autoencoder with its synapses, on the same patterns
    and cues.

    ``n_s`` = C(n_label, k) feature bits, as MESH sets N_F to its number of label states (816 for
    18 and 3; the default 12 and 3 gives 220, with 80 hidden cells: MESH's proportions at a quarter
    of its size). One autoencoder is trained per load (:func:`train_autoencoder`). Patterns from
    seed stream ``"patterns"``, MESH from
    ``"scaffold"``, cue noise from ``"cue noise"``. Returns ``{"n_patterns", "cue_flips",
    "mutual_information": {model: {flip: [...]}}, "error": {…}}`` for the models ``"mesh"``,
    ``"autoencoder, one pass"``, ``"autoencoder, iterated"``, plus ``"synapses"`` (the same for
    both), ``"n_sensory"``, ``"n_hidden"``, ``"n_label"``. Explained in Chapter 4, §4.7.
    """
    n_g, k = check.count("n_label", n_label, 1), check.count("k", k, 1)
    n_h = check.count("n_hidden", n_hidden, 1)
    loads = sorted(check.sequence("n_patterns", n_patterns, lambda a, v: check.count(a, v, minimum=1),
                                  distinct=True))
    flips = check.sequence("cue_flips", cue_flips, check.probability)
    seed = check.seed("seed", seed)
    check.flag("progress", progress)
    if device is None:
        raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
    dev = check.device("device", device)
    sc = sf.mesh(n_h, n_g, k, generator=seed_stream(seed, "scaffold"), device=dev)
    n_s = sc.n_states
    if loads[-1] > n_s:
        raise ValueError(f"n_patterns: expected at most {n_s} patterns (label states), got {loads[-1]}")
    S = hopfield.random_patterns(loads[-1], n_s, seed_stream(seed, "patterns"), dev)
    models = ("mesh", "autoencoder, one pass", "autoencoder, iterated")
    err = {m: {f: [] for f in flips} for m in models}
    noise = seed_stream(seed, "cue noise")
    cues = {f: bc.flip_bits(S, f, noise) for f in flips}     # one cue per pattern, shared by all models
    with cpu_threads(1 if dev.type == "cpu" else None):
        for P in progress_bar(loads, enabled=progress, desc="loads"):   # a sweep of loads
            mem = sf.ScaffoldMemory(sc).store(S[:P])
            weights = train_autoencoder(S[:P], n_h, n_g, steps=steps, lr=lr, seed=seed)
            for f in flips:
                err["mesh"][f].append(float(bc.feature_error(mem.recall(cues[f][:P]), S[:P]).mean()))
                out = autoencoder_recall(weights, cues[f][:P])
                err["autoencoder, one pass"][f].append(float(bc.feature_error(out["first"], S[:P]).mean()))
                err["autoencoder, iterated"][f].append(float(bc.feature_error(out["final"], S[:P]).mean()))
    mi = {m: {f: [float(bc.mutual_information(min(e, 0.5))) for e in v] for f, v in d.items()}
          for m, d in err.items()}
    return {"n_patterns": loads, "cue_flips": [float(f) for f in flips], "error": err,
            "mutual_information": mi,
            "synapses": synapse_count(n_s, n_h, n_g), "n_sensory": n_s, "n_hidden": n_h, "n_label": n_g}
