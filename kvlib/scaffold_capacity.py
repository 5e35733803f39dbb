"""How much MESH and Vector-HaSH recall against load, and the Hopfield baselines they are compared
with, in their sources' settings (Chapter 4, §4.2).

The models are :mod:`kvlib.scaffold`; the baselines are :mod:`kvlib.hopfield` networks as MESH's
``Hopfield_continuum.py`` and Vector-HaSH's Fig 3 notebook build them: N neurons, ``W = XᵀX``
(standard), ``W = X⁺X`` (pseudoinverse) or MESH's bounded rule ``W ← clip(W + xᵀx/√N, ±b)``
applied pattern by pattern, the diagonal removed, synchronous sign updates for at most 100
steps; scored by the mean overlap ``m`` and ``MI = 1 − H₂((1 − m)/2)``. N is chosen so that the
network has as many synapses as the scaffold memory (MESH: N = 708 for 2·816·300 + 2·300·18
synapses, :func:`matched_hopfield_size`).

Every experiment draws all its random numbers from one CPU generator (``seed``; MESH's runs:
``seed + N_s`` per feature size), so every device sees the same patterns and scaffolds.
Axis names: P stored patterns, R independent networks (runs), n_s / n_h / n_g layer sizes,
N neurons of a Hopfield network.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib import binary_channel as bc
from kvlib import hopfield
from kvlib import scaffold as sf
from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar

__all__ = ["stable_state_sweep", "scaffold_cleanup_error", "cleanup_errors", "matched_hopfield_size",
           "hopfield_curve", "mesh_capacity", "vector_hash_curve", "basin_curve", "SWEEP_MODELS",
           "SWEEP_SETTING", "capacity_sweep"]

#: The models :func:`capacity_sweep` knows, each in its source's setting.
SWEEP_MODELS = ("mesh", "vector-hash", "hopfield", "pinv-hopfield", "bounded-hopfield")
#: The chapter's setting of :func:`capacity_sweep`: Vector-HaSH in the configuration of its own
#: comparison with the baselines (periods 2, 3, 5; 275 cells; 900 features), Hopfield networks of
#: MESH's size N = 708, 64 tested patterns per load.
SWEEP_SETTING = dict(n_hippocampal=275, n_sensory=900, periods=(2, 3, 5), n_hopfield=708, n_test=64)


def _threads(device: torch.device):
    """One CPU thread for these loops of small linear-algebra steps (measured 3-10x faster on two
    busy cores); GPUs are unaffected."""
    return cpu_threads(1) if device.type == "cpu" else contextlib.nullcontext()


def _device(device) -> torch.device:
    if device is None:
        raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
    return check.device("device", device)


def _loads(name: str, values: Sequence[int], upper: int | None = None) -> list[int]:
    """Numbers of stored patterns: positive integers, sorted, distinct, at most ``upper``."""
    Ps = sorted(check.sequence(name, values, lambda k, v: check.count(k, v, minimum=1), distinct=True))
    if upper is not None and Ps[-1] > upper:
        raise ValueError(f"{name}: expected at most {upper} patterns, got {Ps[-1]}")
    return Ps


# --------------------------------------------------------------------------- the scaffolds alone
def stable_state_sweep(n_hippocampal: Sequence[int] = (25, 50, 75, 100, 150, 200, 250, 300, 350, 400),
                       periods: Sequence[int] = (3, 4, 5), seeds: Sequence[int] = (0, 1, 2),
                       with_mesh: bool = True, device: str | torch.device = "cpu",
                       progress: bool = False) -> dict:
    """Fraction of scaffold states that are fixed points against the number of hidden cells.

    Vector-HaSH (its settings, 3600 grid states) and, with ``with_mesh``, MESH (its settings,
    816 three-hot states), mean over ``seeds``. Returns ``{"n_hippocampal", "stable_states",
    "total_states", "mesh_stable_states", "mesh_total_states"}`` (counts; means over seeds).
    Explained in Chapter 4, §4.2.
    """
    ns = check.sequence("n_hippocampal", n_hippocampal, lambda k, v: check.count(k, v, minimum=1))
    ps = tuple(check.sequence("periods", periods, lambda k, v: check.count(k, v, minimum=1)))
    seeds = check.sequence("seeds", seeds, check.seed)
    check.flag("with_mesh", with_mesh)
    dev = _device(device)
    vh, me = [], []
    with _threads(dev):
        for n_h in progress_bar(ns, desc="N_h", enabled=check.flag("progress", progress)):
            gens = lambda: (torch.Generator().manual_seed(s) for s in seeds)   # noqa: B023
            vh.append(sum(sf.stable_state_count(sf.vector_hash(n_h, ps, generator=g, device=dev))
                          for g in gens()) / len(seeds))
            if with_mesh:
                me.append(sum(sf.stable_state_count(sf.mesh(n_h, generator=g, device=dev))
                              for g in gens()) / len(seeds))
    out = {"n_hippocampal": ns, "stable_states": vh, "total_states": math.prod(ps) ** 2}
    if with_mesh:
        out["mesh_stable_states"] = me
        out["mesh_total_states"] = math.comb(18, 3)
    return out


def scaffold_cleanup_error(scaffold: sf.Scaffold, flip: float = 0.2, n_stored: int | None = None,
                           generator: torch.Generator | None = None) -> float:
    """MESH's test of the scaffold alone (``capacity_gcpc``, its Fig 3): corrupt each stored
    hidden state by flipping a fraction ``flip`` of its signs, run h → g → h once, and return
    the remaining error relative to the injected one, ``Σ|h − h*| / Σ|h̃ − h*|``, averaged over
    the states. ``W_hg`` is learned from the first ``n_stored`` states (all by default).

    Needs sign hidden units (MESH). Explained in Chapter 4, §4.2.
    """
    if not isinstance(scaffold, sf.Scaffold) or scaffold.units != "sign":
        raise ValueError("scaffold: expected a MESH scaffold (sign hidden units)")
    flip = check.number("flip", flip, low=0.0, low_open=True, high=1.0)
    P = scaffold.n_states if n_stored is None else check.count("n_stored", n_stored, minimum=1)
    if P > scaffold.n_states:
        raise ValueError(f"n_stored: expected at most {scaffold.n_states} states, got {P}")
    H, G = scaffold.H[:P], scaffold.codebook[:P]
    W_hg = H.T @ G / P                                        # Hebbian on the stored states only
    noisy = bc.flip_bits(H, flip, generator)
    g = scaffold.clean(noisy @ W_hg)
    h = scaffold.hippocampus(g)
    injected = (noisy - H).abs().sum(dim=1)
    return float(((h - H).abs().sum(dim=1) / injected.clamp_min(1)).mean())


def cleanup_errors(n_hippocampal: Sequence[int] = (200, 300), seeds: Sequence[int] = (0, 1, 2),
                   flip: float = 0.2, device: str | torch.device = "cpu") -> dict[int, float]:
    """:func:`scaffold_cleanup_error` of MESH scaffolds, mean over ``seeds``: ``{N_H: error}``.

    Scaffold s is drawn from seed s, its flips from seed 100 + s. Explained in Chapter 4, §4.2.
    """
    ns = check.sequence("n_hippocampal", n_hippocampal, lambda k, v: check.count(k, v, minimum=1))
    seeds = check.sequence("seeds", seeds, check.seed)
    dev = _device(device)
    return {n: sum(scaffold_cleanup_error(sf.mesh(n, generator=torch.Generator().manual_seed(s), device=dev),
                                          flip, generator=torch.Generator().manual_seed(100 + s))
                   for s in seeds) / len(seeds) for n in ns}


# --------------------------------------------------------------------------- the Hopfield baselines
def matched_hopfield_size(n_s: int, n_h: int, n_g: int) -> int:
    """Neurons of a Hopfield net with as many synapses as the scaffold memory,
    ``N = ⌈√(2·n_s·n_h + 2·n_h·n_g)⌉`` (sensory↔hidden and label↔hidden, both ways).

    MESH's N = 708 for (816, 300, 18). Explained in Chapter 4, §4.2.

    >>> matched_hopfield_size(816, 300, 18)
    708
    """
    n_s, n_h, n_g = (check.count(k, v, minimum=1) for k, v in (("n_s", n_s), ("n_h", n_h), ("n_g", n_g)))
    return math.ceil(math.sqrt(2 * n_s * n_h + 2 * n_h * n_g))


def hopfield_curve(n_patterns: Sequence[int], N: int = 708, rule: str = "hebbian", cue_flip: float = 0.0,
                   bound: float = 0.3, n_runs: int = 1, n_test: int | None = None, max_steps: int = 100,
                   seed: int = 0, device: str | torch.device = "cpu", progress: bool = False) -> dict:
    """Overlap and mutual information of a Hopfield baseline against the number of stored patterns.

    For each run, fresh ±1 patterns; at each load P the network stores the first P, recalls them
    from cues with a fraction ``cue_flip`` of bits flipped (drawn once per run, as in their code),
    and is scored by the mean overlap m over the tested patterns (all P, or a random
    ``n_test``) and ``MI = 1 − H₂((1 − m)/2)``. Returns ``{"n_patterns", "overlap",
    "mutual_information"}`` (means over runs), ``"mi_runs"`` (per run), and the settings.
    Explained in Chapter 4, §4.2.
    """
    Ps = _loads("n_patterns", n_patterns)
    N = check.count("N", N, minimum=1)
    rule = check.option("rule", rule, hopfield.WEIGHT_RULES)
    cue_flip = check.probability("cue_flip", cue_flip)
    bound = check.positive("bound", bound)
    n_runs = check.count("n_runs", n_runs, minimum=1)
    n_test = None if n_test is None else check.count("n_test", n_test, minimum=1)
    max_steps = check.count("max_steps", max_steps, minimum=1)
    g = torch.Generator().manual_seed(check.seed("seed", seed))
    dev = _device(device)
    mis, ovs = [], []
    with _threads(dev):
        for _ in progress_bar(range(n_runs), desc="runs", enabled=check.flag("progress", progress)):
            X = hopfield.random_patterns(Ps[-1], N, g, dev)   # independent networks, fresh patterns
            cues = bc.flip_bits(X, cue_flip, g)
            mi_r, ov_r, W, done = [], [], None, 0
            for P in Ps:
                if rule == "bounded":                         # the palimpsest continues from the last load
                    W = hopfield.hopfield_weights(X[done:P], "bounded", bound=bound, start=W, diagonal=True)
                    done = P
                    Wd = W.clone()
                    Wd.fill_diagonal_(0.0)                    # MESH: W − diag(W)
                else:
                    Wd = hopfield.hopfield_weights(X[:P], rule)
                test = torch.arange(P) if n_test is None or n_test >= P else \
                    torch.randperm(P, generator=g)[:n_test]
                test = test.to(dev)
                rec = hopfield.recall(Wd, cues[test], max_steps=max_steps)
                m = float(hopfield.overlap(rec, X[test]).mean())
                ov_r.append(m)
                mi_r.append(bc.mutual_information((1 - m) / 2))
            mis.append(mi_r)
            ovs.append(ov_r)
    mean = lambda rows: [sum(c) / len(c) for c in zip(*rows)]
    return {"n_patterns": Ps, "overlap": mean(ovs), "mutual_information": mean(mis), "mi_runs": mis,
            "N": N, "rule": rule, "cue_flip": cue_flip, "n_runs": n_runs,
            "n_tested": [P if n_test is None else min(n_test, P) for P in Ps],
            **({"bound": bound} if rule == "bounded" else {})}


# --------------------------------------------------------------------------- MESH and Vector-HaSH vs load
def mesh_capacity(n_patterns: Sequence[int] = (100, 200, 300, 350, 400, 500, 600, 700, 816),
                  n_sensory: Sequence[int] = (400, 816), n_hippocampal: int = 300, n_label: int = 18,
                  k: int = 3, n_runs: int = 2, cue_flip: float = 0.0, seed: int = 0,
                  device: str | torch.device = "cpu", progress: bool = False) -> dict:
    """MESH's feature error and mutual information against the number of stored patterns.

    As ``capacity_assoc_sensory.py`` runs it: one shuffled 18-choose-3 codebook and one set of
    ``sign(randn)`` feature patterns (one per label state) per ``n_sensory``; ``n_runs``
    independent scaffolds (their code averages 20); at each load every stored pattern is recalled
    (cues with a fraction ``cue_flip`` flipped, fresh per run), one pass through the scaffold.
    Returns ``{"n_patterns", "feature_error": {N_s: [...]}, "mutual_information": {N_s: [...]},
    "label_error": {N_s: [...]}, "n_tested", "cue_flip", "n_runs", ...}`` with N_s as a string
    key; MI is ``1 − H₂`` of the run-averaged feature error, label error the fraction of wrong
    active label cells. Explained in Chapter 4, §4.2.
    """
    n_label, k = check.count("n_label", n_label, minimum=1), check.count("k", k, minimum=1)
    if k > n_label:
        raise ValueError(f"k: expected at most n_label={n_label} active cells, got {k}")
    n_states = math.comb(n_label, k)
    Ps = _loads("n_patterns", n_patterns, n_states)
    sizes = check.sequence("n_sensory", n_sensory, lambda k_, v: check.count(k_, v, minimum=1), distinct=True)
    n_h = check.count("n_hippocampal", n_hippocampal, minimum=1)
    n_runs = check.count("n_runs", n_runs, minimum=1)
    cue_flip = check.probability("cue_flip", cue_flip)
    seed = check.seed("seed", seed)
    dev = _device(device)
    check.flag("progress", progress)
    fe, mi, le = {}, {}, {}
    with _threads(dev):
        for n_s in sizes:
            g = torch.Generator().manual_seed(seed + n_s)
            S = hopfield.random_patterns(n_states, n_s, g, dev)   # one feature pattern per label state
            gram = S @ S.T                                    # exact for ±1; nested blocks reused
            scs = [sf.mesh(n_h, n_label, k, generator=g, device=dev) for _ in range(n_runs)]
            err_f = torch.zeros(len(Ps), n_runs, dtype=torch.float64)
            err_l = torch.zeros(len(Ps), n_runs, dtype=torch.float64)
            for i, P in enumerate(progress_bar(Ps, desc=f"N_s = {n_s}", enabled=progress)):
                for r, sc in enumerate(scs):                  # independent scaffolds (their runs)
                    mem = sf.ScaffoldMemory(sc).store(S[:P], gram=gram[:P, :P] if P <= n_s else None)
                    out = mem.recall(bc.flip_bits(S[:P], cue_flip, g), details=True)
                    err_f[i, r] = bc.feature_error(out["s"], S[:P]).mean()
                    err_l[i, r] = ((out["g"] - sc.codebook[:P]).abs().sum(dim=1) / (2 * k)).mean()
            key = str(n_s)
            fe[key] = err_f.mean(dim=1).tolist()
            mi[key] = [bc.mutual_information(e) for e in fe[key]]
            le[key] = err_l.mean(dim=1).tolist()
    return {"n_patterns": Ps, "feature_error": fe, "mutual_information": mi, "label_error": le,
            "n_tested": Ps, "cue_flip": cue_flip, "n_runs": n_runs, "n_hippocampal": n_h,
            "n_label": n_label, "k": k, "n_states": n_states}


def vector_hash_curve(n_patterns: Sequence[int] = (401, 601, 1001), n_hippocampal: int = 400,
                      periods: Sequence[int] = (3, 4, 5), seed: int = 0,
                      device: str | torch.device = "cpu") -> dict:
    """Vector-HaSH's Fig 3 curve: MI per input bit against stored patterns, clean cues, one
    scaffold, as many feature units as grid states (3600 for periods 3, 4, 5).

    Returns ``{"n_patterns", "mutual_information", "feature_error", "n_sensory"}``.
    Explained in Chapter 4, §4.2.
    """
    g = torch.Generator().manual_seed(check.seed("seed", seed))
    sc = sf.vector_hash(n_hippocampal, periods, generator=g, device=_device(device))
    Ps = _loads("n_patterns", n_patterns, sc.n_states)
    n_s = sc.n_states
    S = hopfield.random_patterns(Ps[-1], n_s, g, sc.H.device)
    gram = S @ S.T
    fe, mi = [], []
    with _threads(sc.H.device):
        for P in Ps:
            mem = sf.ScaffoldMemory(sc).store(S[:P], gram=gram[:P, :P] if P <= n_s else None)
            fe.append(float(bc.feature_error(mem.recall(S[:P]), S[:P]).mean()))
            mi.append(bc.mutual_information(fe[-1]))
    return {"n_patterns": Ps, "mutual_information": mi, "feature_error": fe, "n_sensory": n_s}


def basin_curve(n_patterns: int = 600, flips: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4),
                n_hippocampal: int = 400, periods: Sequence[int] = (3, 4, 5), n_draws: int = 3,
                seed: int = 0, device: str | torch.device = "cpu") -> dict:
    """Vector-HaSH's basin test (its Fig 3 notebook, "examine basin sizes"): with P patterns
    stored (N_s = number of grid states), the fraction of patterns whose recall from a cue with
    a fraction ``flip`` of bits flipped equals their recall from the clean cue, averaged over
    ``n_draws`` noise draws (their notebook: 100). Returns ``{"flip", "p_correct", ...}``.
    Explained in Chapter 4, §4.2.
    """
    fs = check.sequence("flips", flips, check.probability)
    n_draws = check.count("n_draws", n_draws, minimum=1)
    g = torch.Generator().manual_seed(check.seed("seed", seed))
    sc = sf.vector_hash(n_hippocampal, periods, generator=g, device=_device(device))
    P = check.count("n_patterns", n_patterns, minimum=1)
    if P > sc.n_states:
        raise ValueError(f"n_patterns: expected at most {sc.n_states} patterns (grid states), got {P}")
    S = hopfield.random_patterns(P, sc.n_states, g, sc.H.device)   # N_s = number of grid states, as there
    out = []
    with _threads(sc.H.device):
        mem = sf.ScaffoldMemory(sc).store(S)
        clean = mem.recall(S)
        for f in fs:
            ok = sum(float((mem.recall(bc.flip_bits(S, f, g)) == clean).all(dim=1).float().mean())
                     for _ in range(n_draws))
            out.append(ok / n_draws)
    return {"flip": fs, "p_correct": out, "n_patterns": P, "n_draws": n_draws, "n_hippocampal": sc.n_h}


# --------------------------------------------------------------------------- the chapter's sweep
def _mi_interval(err: torch.Tensor) -> tuple[float, float, float]:
    """MI of the mean per-pattern error, with a 95 % interval from the spread over patterns."""
    mean = float(err.mean())
    half = 1.96 * float(err.std()) / math.sqrt(err.numel()) if err.numel() > 1 else 0.0
    lo_e, hi_e = max(mean - half, 0.0), min(mean + half, 0.5)
    mi = bc.mutual_information
    return mi(min(mean, 0.5)), mi(hi_e), mi(lo_e)


def capacity_sweep(n_patterns: Sequence[int], n_hippocampal: int = 400, n_sensory: int = 3600,
                   periods: Sequence[int] = (3, 4, 5),
                   models: Sequence[str] = ("vector-hash", "hopfield", "pinv-hopfield"),
                   cue_flip: float = 0.05, n_test: int | None = 128, n_hopfield: int | None = None,
                   bound: float = 0.3, max_steps: int = 100, seed: int = 0,
                   device: str | torch.device = "cpu", progress: bool = False,
                   keep_examples: int = 0) -> dict:
    """Recall against the number of stored random ±1 patterns, from corrupted cues (Box 1's test).

    Models (``models``), each as its source builds it:

    - ``"vector-hash"``: :func:`kvlib.scaffold.vector_hash` with ``periods`` and
      ``n_hippocampal`` cells, patterns of ``n_sensory`` bits (Fig 3 of Vector-HaSH: (3, 4, 5),
      400, 3600; its own comparison with the baselines: (2, 3, 5), 275, 900);
    - ``"mesh"``: :func:`kvlib.scaffold.mesh` in its paper's setting (18 choose 3, N_H = 300,
      N_F = 816);
    - ``"hopfield"``, ``"pinv-hopfield"``, ``"bounded-hopfield"``: the rules of
      :func:`kvlib.hopfield.hopfield_weights` with ``n_hopfield`` neurons (default: as many
      synapses as the Vector-HaSH memory, :func:`matched_hopfield_size`; MESH's comparisons use
      708) and ``bound``.

    Cues have a fraction ``cue_flip`` of their bits flipped (0.05: MESH's noisy runs and both
    codes' pseudoinverse baseline; 0: clean cues). The scaffolds recall every stored pattern;
    the Hopfield networks ``n_test`` randomly chosen ones (all if ``None``). Returns
    ``{"n_patterns", "feature_error", "mutual_information", "mi_low", "mi_high" (95 % interval
    over the tested patterns), "overlap", "bits_per_synapse" (P × pattern bits × MI over the
    model's synapses), "n_tested"}``, each a dict over models, and ``"cue_flip"``,
    ``"n_hopfield"``, ``"n_synapses"`` (per model). With ``keep_examples = k`` also which of the
    first k bits of one recalled pattern came back right (``"examples"``).
    Explained in Chapter 4, §4.2.
    """
    models = check.sequence("models", models, lambda k, v: check.option(k, v, SWEEP_MODELS), distinct=True)
    ps = tuple(check.sequence("periods", periods, lambda k, v: check.count(k, v, minimum=1)))
    limit = min([math.prod(ps) ** 2] * ("vector-hash" in models) + [math.comb(18, 3)] * ("mesh" in models)
                or [10 ** 9])
    Ps = _loads("n_patterns", n_patterns, limit)
    n_hippocampal = check.count("n_hippocampal", n_hippocampal, minimum=1)
    n_sensory = check.count("n_sensory", n_sensory, minimum=1)
    cue_flip = check.probability("cue_flip", cue_flip)
    n_test = None if n_test is None else check.count("n_test", n_test, minimum=1)
    bound = check.positive("bound", bound)
    max_steps = check.count("max_steps", max_steps, minimum=1)
    keep_examples = check.count("keep_examples", keep_examples, minimum=0)
    check.flag("progress", progress)
    dev = _device(device)
    g = torch.Generator().manual_seed(check.seed("seed", seed))
    n_g = sum(p * p for p in ps)
    N = matched_hopfield_size(n_sensory, n_hippocampal, n_g) if n_hopfield is None else \
        check.count("n_hopfield", n_hopfield, minimum=1)
    P_max = Ps[-1]
    nets, data = {}, {}                                       # scaffold per model, (patterns, cues, gram)
    if "vector-hash" in models:
        nets["vector-hash"] = sf.vector_hash(n_hippocampal, ps, generator=g, device=dev)
        data["vector-hash"] = n_sensory
    if "mesh" in models:
        nets["mesh"] = sf.mesh(generator=g, device=dev)
        data["mesh"] = 816
    for name, n_s in list(data.items()):
        S = hopfield.random_patterns(P_max, n_s, g, dev)
        data[name] = (S, bc.flip_bits(S, cue_flip, g), S @ S.T, n_s)
    X = hopfield.random_patterns(P_max, N, g, dev)
    X_cue = bc.flip_bits(X, cue_flip, g)
    keys = ("feature_error", "mutual_information", "mi_low", "mi_high", "overlap", "n_tested")
    res = {k: {m: [] for m in models} for k in keys}
    examples = {m: [] for m in models}
    W_hebb = W_bnd = None                                     # running weights, diagonal kept
    done = 0

    def record(name, rec, target):
        err = bc.feature_error(rec, target)
        mi, lo, hi = _mi_interval(err)
        m = float(hopfield.overlap(rec, target).mean())
        for k, v in zip(keys, (float(err.mean()), mi, lo, hi, m, int(target.shape[0]))):
            res[k][name].append(v)
        if keep_examples:
            examples[name].append((rec[0, :keep_examples] == target[0, :keep_examples]).cpu())

    with _threads(dev):
        for P in progress_bar(Ps, desc="patterns", enabled=progress):
            for name, sc in nets.items():                     # every stored pattern, one batch
                S, S_cue, gram, n_s = data[name]
                mem = sf.ScaffoldMemory(sc).store(S[:P], gram=gram[:P, :P] if P <= n_s else None)
                record(name, mem.recall(S_cue[:P]), S[:P])
            test = torch.arange(P) if n_test is None or n_test >= P else \
                torch.randperm(P, generator=g)[:n_test]
            test = test.to(dev)
            if "bounded-hopfield" in models:                  # the palimpsest, pattern by pattern
                W_bnd = hopfield.hopfield_weights(X[done:P], "bounded", bound=bound, start=W_bnd,
                                                  diagonal=True)
            if "hopfield" in models:                          # cumulative Hebbian sum, XᵀX
                W_hebb = hopfield.hopfield_weights(X[done:P], start=W_hebb, diagonal=True)
            done = P
            for name in ("hopfield", "pinv-hopfield", "bounded-hopfield"):
                if name not in models:
                    continue
                if name == "pinv-hopfield":
                    W = hopfield.hopfield_weights(X[:P], "pinv")
                else:
                    W = (W_hebb if name == "hopfield" else W_bnd).clone()
                    W.fill_diagonal_(0.0)                     # MESH: W − diag(W)
                record(name, hopfield.recall(W, X_cue[test], max_steps=max_steps), X[test])
    n_syn = {"vector-hash": 2 * n_hippocampal * (n_sensory + n_g), "mesh": 2 * 300 * (816 + 18)}
    bits = {"vector-hash": n_sensory, "mesh": 816}
    for name in ("hopfield", "pinv-hopfield", "bounded-hopfield"):
        n_syn[name], bits[name] = N * N, N
    out = {"n_patterns": Ps, **res,
           "bits_per_synapse": {m: [P * bits[m] * mi / n_syn[m]
                                    for P, mi in zip(Ps, res["mutual_information"][m])] for m in models},
           "cue_flip": cue_flip, "n_hopfield": N, "n_synapses": {m: n_syn[m] for m in models},
           "n_hippocampal": n_hippocampal, "n_sensory": n_sensory, "periods": list(ps)}
    if keep_examples:
        out["examples"] = examples
    return out
