"""How many items a three-factor slot memory recalls: Tyulmankov et al.'s (2021) Fig 2 benchmark,
with their classical Hopfield baseline, and the book's rehearsal experiment.

Explained in Chapter 4, §4.1 (``book/04_substrates.ipynb``); the memory itself is
:mod:`kvlib.plasticity`, the baseline :mod:`kvlib.hopfield`.

The task and the baseline follow bio-kvm's Fig 2 (``datasets/recall.py``, ``configs.py``,
``plot_all_figs_helper.py``): random ±1 items of dimension N, stored one per step with
``μ = 1``; then every stored item is recalled from a cue in which each entry is set to 0 with
probability 0.6 (their ``chance = 0.7``); accuracy is the fraction of bits with
``sign(v̂) = x``, averaged over the stored items. The slot memory has N hidden units and
``β = 1``; its values start uniform in ±1e-10 (their tie-breaker: an empty read-out has random
signs), its keys at 0 (their key noise of the same size changes no attention weight). The
baseline is their classical Hopfield network (``models/hopfield.py``, ``HopfieldConfig``):
``W = Σ xᵀx`` *with* its diagonal (no decay, no clamp, rate 1), recall by synchronous
``s ← sign(W s)`` from the cue until a fixed point. Capacity is their ``get_capacity``: a
doubling/halving search over the number of items, one fresh sequence per test, for the largest
number recalled at ≥ 98 % accuracy, repeated (they use 50 runs) and averaged.

Named settings that depart from the source, one argument each: ``value_rule="eq13"``;
``n_slots="half"`` (d/2 slots, so that the slot memory's ``2·d·d/2 = d²`` synapses match a
Hopfield network of d neurons; the source compares at equal N instead); and
``hopfield_diagonal=False`` (the textbook Hopfield network with zero self-connections, whose
synchronous dynamics can end on a two-cycle: its runs stop there).

Axis names: N or d item dimension (``dim``), T stored items, R independent runs, n slots.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from kvlib import _checks as check
from kvlib import hopfield, plasticity
from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar

__all__ = ["MODELS", "fig2_lengths", "accuracy_curve", "fig2_curve", "fig2b_curves", "capacity_runs",
           "capacity_from_curve", "capacity_vs_size", "rehearsal_experiment"]

#: The three networks of Tyulmankov et al.'s Fig 2 (TVT, their fourth, is not built here).
MODELS = ("sequential", "random", "hopfield")


# --------------------------------------------------------------------------- settings and one task draw
def _slots(n_slots: int | str, dim: int) -> int:
    """``"N"`` → ``dim`` (bio-kvm), ``"half"`` → ``dim // 2`` (equal synapses), or an int."""
    if n_slots == "N":
        return dim
    if n_slots == "half":
        return max(1, dim // 2)
    if isinstance(n_slots, str):
        raise ValueError(f"n_slots: expected 'N', 'half' or a positive integer, got {n_slots!r}")
    return check.count("n_slots", n_slots, minimum=1)


def _setting(model, dim, n_slots, value_rule, hopfield_diagonal, p_random, fraction_zeroed, beta,
             device, dtype, models: Sequence[str] = plasticity.LOCAL_FACTORS + ("hopfield",)):
    check.option("model", model, models)
    dim = check.count("dim", dim, minimum=1)
    check.option("value_rule", value_rule, plasticity.VALUE_RULES)
    check.flag("hopfield_diagonal", hopfield_diagonal)
    n = _slots(n_slots, dim)
    p = plasticity.random_rate(n, p_random)
    f = check.number("fraction_zeroed", fraction_zeroed, low=0.0, high=1.0, high_open=True)
    if device is None:
        raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
    dev = check.device("device", device)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    return dim, n, p, f, float(check.positive("beta", beta)), dev


def _draw(n_items: int, dim: int, n_slots: int, local: str, p: float, fraction: float,
          generator: torch.Generator, with_gamma: bool = True) -> tuple[torch.Tensor | None, ...]:
    """Items X (T, d), cues C (T, d), local factors Γ (T, n), initial K0, V0 (n, d); CPU, float64.

    Items are random ±1; each cue entry is 0 with probability ``fraction`` (bio-kvm's
    Bernoulli mask); sequential (and LRU, which in a write-only stream picks the same slots)
    write item t into slot t mod n; random draws each γ_ti ~ Bernoulli(p). The initial values
    are uniform in ±TIE_NOISE, as bio-kvm's reset, so that an empty read-out has random signs;
    the initial keys are exactly 0 (bio-kvm's key noise shifts attention scores by ~1e-9,
    which changes nothing). One uniform draw per task, split in parts. ``with_gamma=False``
    skips building the (deterministic) Γ of the sequential factor; it is then ``None``.
    """
    T, d, n = n_items, dim, n_slots
    n_gamma = T * n if local == "random" else 0
    u = torch.rand(2 * T * d + n_gamma + n * d, generator=generator)
    parts = torch.split(u, [T * d, T * d, n_gamma, n * d])
    X = ((parts[0] >= 0.5).to(torch.float64) * 2 - 1).reshape(T, d)
    C = X * (parts[1].reshape(T, d) >= fraction)
    if local == "random":
        G = (parts[2].reshape(T, n) < p).to(torch.float64)
    elif with_gamma:
        G = torch.zeros(T, n, dtype=torch.float64)
        G[torch.arange(T), torch.arange(T) % n] = 1.0
    else:
        G = None
    K0 = torch.zeros(n, d, dtype=torch.float64)
    V0 = (parts[3].reshape(n, d).to(torch.float64) * 2 - 1) * plasticity.TIE_NOISE
    return X, C, G, K0, V0


def _last_write_sequential(lengths: torch.Tensor, T: int, n: int) -> torch.Tensor:
    """:func:`kvlib.plasticity.last_writes` for slots taken in turn (item t in slot t mod n),
    writes stopping after ``lengths[r]`` items: closed form, no scan."""
    t = torch.arange(T, device=lengths.device)[None, :, None]
    t = torch.minimum(t, (lengths - 1)[:, None, None])                    # (R, T, 1)
    k = torch.arange(n, device=lengths.device)[None, None, :]
    last = t - torch.remainder(t - k, n)                                   # (R, T, n)
    return torch.where(last >= 0, last, torch.full_like(last, -1))


def _hopfield_readout(X: torch.Tensor, cues: torch.Tensor, diagonal: bool) -> torch.Tensor:
    """bio-kvm's baseline: Hebbian weights of the items ``X`` (..., T, d), recall from ``cues``."""
    W = hopfield.hopfield_weights(X, diagonal=diagonal)
    return hopfield.recall(W, cues, stop="cycle")


# --------------------------------------------------------------------------- accuracy against stored items
def fig2_lengths(max_items: int = 180, n: int = 50) -> list[int]:
    """The item counts of Tyulmankov et al.'s Fig 2b: ``n`` log-spaced values from 1 to
    ``max_items``, truncated to integers, duplicates dropped (bio-kvm's
    ``np.unique(np.logspace(0, np.log10(180), 50, dtype=int))``; its last value is 179, as
    ``10 ** log10(180)`` falls just short of 180 in floating point).

    >>> fig2_lengths(10, 5)
    [1, 3, 5, 10]
    """
    check.count("max_items", max_items, minimum=1)
    check.count("n", n, minimum=1)
    grid = np.logspace(0.0, np.log10(max_items), n).astype(np.int64)   # numpy's rounding, as theirs
    return sorted(set(grid.tolist()))


def accuracy_curve(model: str, dim: int, n_items: int, n_slots: int | str = "N",
                   value_rule: str = "replace", hopfield_diagonal: bool = True,
                   fraction_zeroed: float = plasticity.P_UNKNOWN, p_random: float | None = None,
                   beta: float = 1.0, seeds: Sequence[int] = tuple(range(10)),
                   lengths: Sequence[int] | None = None, device: str | torch.device = "cpu",
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Mean bit accuracy after storing T random ±1 items, every stored item recalled from its
    cue (each entry zeroed with probability ``fraction_zeroed``), averaged over the stored
    items and the seeds, for T = 1, …, ``n_items`` (or for each T in ``lengths``, each at most
    ``n_items``): a float64 tensor. Tyulmankov et al.'s Fig 2b task.

    ``model``: a local-factor variant of :class:`kvlib.plasticity.SlotMemory`
    (:data:`kvlib.plasticity.LOCAL_FACTORS`) or ``"hopfield"``. Settings (source first):
    ``n_slots`` ``"N"`` | ``"half"`` | int; ``value_rule`` ``"replace"`` | ``"eq13"``;
    ``hopfield_diagonal`` True | False; ``p_random`` default 4/n_slots. Each seed is one stream;
    the accuracy at T uses its first T items (bio-kvm draws a fresh stream per T: the same
    distribution, less noise between neighbouring T). Draws are made on the CPU, so every device
    sees the same task; ``dtype`` float64 serves the exactness checks (not on MPS). Explained in
    Chapter 4, §4.1.
    """
    dim, n, p, f, beta, dev = _setting(model, dim, n_slots, value_rule, hopfield_diagonal, p_random,
                                       fraction_zeroed, beta, device, dtype)
    T = check.count("n_items", n_items, minimum=1)
    if lengths is None:
        snaps = list(range(1, T + 1))
    else:
        snaps = check.sequence("lengths", lengths, lambda k, v: check.count(k, v, minimum=1))
        if max(snaps) > T or snaps != sorted(set(snaps)):
            raise ValueError(f"lengths: expected increasing counts in [1, {T}] (n_items), got {snaps!r}")
    seeds = check.sequence("seeds", seeds, check.seed)
    with cpu_threads(1 if dev.type == "cpu" else None):    # many small ops: one thread is fastest
        return _accuracy_curve(model, dim, T, n, p, f, beta, value_rule, hopfield_diagonal, seeds,
                               snaps, dev, dtype)


def _accuracy_curve(model, dim, T, n, p, f, beta, value_rule, hopfield_diagonal, seeds, snaps,
                    dev, dtype) -> torch.Tensor:
    draws = [_draw(T, dim, n, model, p, f, torch.Generator().manual_seed(s)) for s in seeds]
    X, C, G, K0, V0 = (torch.stack(z).to(device=dev, dtype=dtype) for z in zip(*draws))   # (R, T, ·)
    R = len(seeds)
    at = torch.tensor(snaps, device=dev) - 1                               # snapshot indices
    if model != "hopfield":
        K_hist, V_hist = plasticity.write_streams(X, G, K0, V0, value_rule, beta)   # (T, R, n, d)
        K_hist, V_hist = K_hist[at], V_hist[at]
    acc = torch.zeros(len(snaps), dtype=dtype, device=dev)
    start = 0
    while start < len(snaps):                  # snapshots in chunks; each needs the items before its last T
        stop = start + 1
        while stop < len(snaps) and (stop + 1 - start) * R * snaps[stop] * dim <= 4e6:
            stop += 1
        b = snaps[stop - 1]
        mask = (torch.arange(b, device=dev)[None, :] < at[start:stop, None] + 1).to(dtype)   # (m, b)
        cues = C[None, :, :b] * mask[:, None, :, None]                     # unstored items: empty cue
        if model == "hopfield":                                # items beyond the snapshot: zero rows
            out = _hopfield_readout(X[None, :, :b] * mask[:, None, :, None], cues, hopfield_diagonal)
        else:
            out = plasticity.read_slots(K_hist[start:stop], V_hist[start:stop], cues, beta)
        hits = (torch.sign(out) == X[None, :, :b]).to(dtype).mean(dim=3)      # (m, R, b)
        acc[start:stop] = ((hits * mask[:, None]).sum(dim=2) / mask.sum(dim=1)[:, None]).mean(dim=1)
        start = stop
    return acc.cpu().double()


def fig2_curve(model: str, dim: int = 40, max_items: int = 180, repeats: int | str = "auto",
               device: str | torch.device = "cpu", **setting) -> tuple[list[int], torch.Tensor]:
    """Tyulmankov et al.'s Fig 2b protocol: accuracy at each item count T of
    :func:`fig2_lengths` with ``max(10, max_items // T)`` repeats (bio-kvm's ``repeat='auto'``,
    so that every point averages at least ``max_items`` recalled items), or ``repeats`` at every
    T. Returns ``(lengths, accuracy)``; ``setting``: keyword settings of :func:`accuracy_curve`.
    Explained in Chapter 4, §4.1.
    """
    lengths = fig2_lengths(max_items)
    if repeats == "auto":
        need = {T: max(10, max_items // T) for T in lengths}
    elif isinstance(repeats, str):
        raise ValueError(f"repeats: expected 'auto' or a positive integer, got {repeats!r}")
    else:
        need = {T: check.count("repeats", repeats, minimum=1) for T in lengths}
    acc = {}
    for reps in sorted(set(need.values())):                   # one batch per number of repeats
        group = [T for T in lengths if need[T] == reps]
        vals = accuracy_curve(model, dim, group[-1], lengths=group, seeds=range(reps), device=device,
                              **setting)
        acc.update(zip(group, vals.tolist()))
    return lengths, torch.tensor([acc[T] for T in lengths], dtype=torch.float64)


def fig2b_curves(dim: int = 40, max_items: int = 180, repeats: int | str = "auto",
                 n_slots: int | str = "N", value_rule: str = "replace", hopfield_diagonal: bool = True,
                 device: str | torch.device = "cpu", progress: bool = False) -> dict:
    """Tyulmankov et al.'s Fig 2b, every network of :data:`MODELS` (:func:`fig2_curve` each):
    ``{"N", "n_slots", "n_items", "accuracy": {model: [...]}, "setting"}``. Defaults: bio-kvm's
    reference networks; ``n_slots``, ``value_rule``, ``hopfield_diagonal`` switch to the book's
    variants. Explained in Chapter 4, §4.1.
    """
    check.flag("progress", progress)
    acc, lengths = {}, []
    for m in progress_bar(MODELS, desc="models", enabled=progress):
        lengths, curve = fig2_curve(m, dim, max_items, repeats=repeats, n_slots=n_slots,
                                    value_rule=value_rule, hopfield_diagonal=hopfield_diagonal,
                                    device=device)
        acc[m] = curve.tolist()
    return {"N": dim, "n_slots": _slots(n_slots, dim), "n_items": lengths, "accuracy": acc,
            "setting": {"value_rule": value_rule, "hopfield_diagonal": hopfield_diagonal,
                        "n_slots": n_slots, "repeats": repeats}}


# --------------------------------------------------------------------------- capacity
def _accuracy_at(model: str, X, C, G, K0, V0, lengths, value_rule: str, hopfield_diagonal: bool,
                 beta: float) -> torch.Tensor:
    """Accuracy of R fresh memories, run r storing its first ``lengths[r]`` items: (R,).

    Inputs padded to the longest run; writes beyond a run's length are switched off.
    """
    R, T, d = X.shape
    live = (torch.arange(T, device=X.device)[None, :] < lengths[:, None]).to(X.dtype)   # (R, T)
    if model == "hopfield":
        out = _hopfield_readout(X * live[:, :, None], C, hopfield_diagonal)
    else:
        n = K0.shape[1]
        last = _last_write_sequential(lengths, T, n) if model != "random" else None
        if G is not None:                                      # None: sequential slots, replace rule
            G = G * live[:, :, None]                           # (the closed form needs only ``last``)
        K, V = plasticity.final_weights(X, G, K0, V0, value_rule, beta, last=last)
        out = plasticity.read_slots(K, V, C, beta)
    hits = (torch.sign(out) == X).to(X.dtype).mean(dim=2)                  # (R, T)
    return (hits * live).sum(dim=1) / live.sum(dim=1)


def capacity_runs(model: str, dim: int, seeds: Sequence[int] = tuple(range(50)),
                  threshold: float = 0.98, n_slots: int | str = "N", value_rule: str = "replace",
                  hopfield_diagonal: bool = True, fraction_zeroed: float = plasticity.P_UNKNOWN,
                  p_random: float | None = None, beta: float = 1.0, max_items: int | None = None,
                  device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> list[int]:
    """One capacity estimate per seed, by bio-kvm's search (``get_capacity``, ``repeat=1``).

    Start with ``lo, hi = 1, 2``; test a fresh memory storing ``hi`` items; if its accuracy is
    ≥ ``threshold``, ``lo = hi`` and ``hi`` doubles, otherwise ``hi`` moves half-way down to
    ``lo``; stop when they meet and return ``hi``. Every test draws new items, cues and local
    factors, so the estimate is noisy and is averaged over runs (bio-kvm: 50). All runs step
    together, batched. ``max_items`` (default ``max(64, 8·dim)``) bounds the search: a run
    still at or above ``threshold`` beyond it raises ``ValueError``. Settings as in
    :func:`accuracy_curve`. Explained in Chapter 4, §4.1.
    """
    dim, n, p, f, beta, dev = _setting(model, dim, n_slots, value_rule, hopfield_diagonal, p_random,
                                       fraction_zeroed, beta, device, dtype, models=MODELS)
    thr = check.number("threshold", threshold, low=0.0, low_open=True, high=1.0)
    seeds = check.sequence("seeds", seeds, check.seed)
    cap_max = max(64, 8 * dim) if max_items is None else check.count("max_items", max_items, minimum=2)
    with cpu_threads(1 if dev.type == "cpu" else None):    # many small ops: one thread is fastest
        return _capacity_search(model, dim, n, p, f, beta, value_rule, hopfield_diagonal, thr,
                                seeds, cap_max, dev, dtype)


def _capacity_search(model, dim, n, p, f, beta, value_rule, hopfield_diagonal, thr, seeds,
                     cap_max, dev, dtype) -> list[int]:
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    lo, hi = [1] * len(seeds), [2] * len(seeds)
    todo = list(range(len(seeds)))
    while todo:                                                # each pass is one test per open run
        over = [r for r in todo if hi[r] > cap_max]
        if over:
            r = over[0]
            raise ValueError(
                f"threshold: the accuracy of {model!r} at dim={dim} (n_slots={n}, "
                f"fraction_zeroed={f}) is still >= {thr} with {lo[r]} items (seed {seeds[r]}), and "
                f"the search would exceed max_items={cap_max}; use a higher threshold or a larger "
                f"max_items")
        T = max(hi[r] for r in todo)
        lazy = model != "random" and value_rule == "replace"   # Γ not needed: sequential slots
        draws = [_draw(hi[r], dim, n, model, p, f, gens[r], with_gamma=not lazy) for r in todo]
        pad = [tuple(None if z is None else
                     torch.nn.functional.pad(z, (0, 0, 0, T - z.shape[0])) if k < 3 else z
                     for k, z in enumerate(dr)) for dr in draws]
        X, C, G, K0, V0 = (None if z[0] is None else torch.stack(z).to(device=dev, dtype=dtype)
                           for z in zip(*pad))
        lengths = torch.tensor([hi[r] for r in todo], device=dev)
        acc = _accuracy_at(model, X, C, G, K0, V0, lengths, value_rule, hopfield_diagonal, beta).cpu()
        for r, a in zip(todo, acc.tolist()):
            if a >= thr:
                lo[r], hi[r] = hi[r], 2 * hi[r]
            else:
                hi[r] = (lo[r] + hi[r]) // 2
        todo = [r for r in todo if lo[r] < hi[r]]
    return hi


def capacity_from_curve(curve: torch.Tensor, threshold: float = 0.98) -> int:
    """The capacity read off an accuracy curve indexed T = 1, 2, …: the largest T before it first
    drops below ``threshold`` (0 if it starts below).

    >>> capacity_from_curve(torch.tensor([1.0, 0.99, 0.97, 0.99]))
    2
    """
    check.number("threshold", threshold, low=0.0, low_open=True, high=1.0)
    curve = check.tensor("curve", curve, ndim=1, nonempty=True)
    below = (curve < threshold).nonzero()
    return int(below[0]) if len(below) else len(curve)


def capacity_vs_size(dims: Sequence[int] = (20, 40, 80, 160), models: Sequence[str] = MODELS,
                     threshold: float = 0.98, seeds: Sequence[int] = tuple(range(50)),
                     n_slots: int | str = "N", value_rule: str = "replace",
                     hopfield_diagonal: bool = True, fraction_zeroed: float = plasticity.P_UNKNOWN,
                     p_random: float | None = None, max_items: int | None = None,
                     device: str | torch.device = "cpu", progress: bool = False) -> dict:
    """Capacity at ``threshold`` for every model and size N, bio-kvm's Fig 2c (50 runs,
    N = 20, 40, 80, 160): one run of :func:`capacity_runs` per seed.

    Returns ``{"N", "n_runs", "threshold", "runs": {model: [[per seed] per N]}, "capacity":
    {model: [mean per N]}, "slope": {model: least-squares capacity per unit of N (None for one
    size)}, "setting"}``.
    Explained in Chapter 4, §4.1.
    """
    seeds = check.sequence("seeds", seeds, check.seed)
    dims = check.sequence("dims", dims, lambda k, v: check.count(k, v, minimum=1))
    models = check.sequence("models", models, lambda k, v: check.option(k, v, MODELS))
    check.flag("progress", progress)
    runs: dict[str, list[list[int]]] = {m: [] for m in models}
    for m, d in progress_bar([(m, d) for m in models for d in dims], desc="capacity", enabled=progress):
        runs[m].append(capacity_runs(m, d, seeds, threshold, n_slots=n_slots, value_rule=value_rule,
                                     hopfield_diagonal=hopfield_diagonal, fraction_zeroed=fraction_zeroed,
                                     p_random=p_random, max_items=max_items, device=device))
    cap = {m: [sum(r) / len(r) for r in v] for m, v in runs.items()}
    mean = sum(dims) / len(dims)
    var = sum((d - mean) ** 2 for d in dims)
    slope = {m: sum((d - mean) * y for d, y in zip(dims, c)) / var if var else None
             for m, c in cap.items()}                      # None: one size only
    return {"N": dims, "n_runs": len(seeds), "threshold": threshold, "runs": runs, "capacity": cap,
            "slope": slope, "setting": {"n_slots": n_slots, "value_rule": value_rule,
                                        "hopfield_diagonal": hopfield_diagonal}}


# --------------------------------------------------------------------------- least recently used
def rehearsal_experiment(n_slots: int = 20, n_items: int = 60, n_rehearsed: int = 5, every: int = 5,
                         fraction_zeroed: float = plasticity.P_UNKNOWN, value_rule: str = "replace",
                         seeds: Sequence[int] = (0, 1, 2, 3, 4),
                         device: str | torch.device = "cpu") -> dict[str, float]:
    """Why "least recently used" is not "sequential" (the book's experiment, not the source's):
    the first ``n_rehearsed`` items are read back (a use) after every ``every`` writes;
    afterwards, mean bit accuracy on those items. Items have dimension ``2 · n_slots``.

    Returns ``{variant: accuracy}`` for sequential and LRU. Explained in Chapter 4, §4.1.
    """
    for name, v in (("n_slots", n_slots), ("n_items", n_items), ("n_rehearsed", n_rehearsed),
                    ("every", every)):
        check.count(name, v, minimum=1)
    if n_rehearsed >= n_items:
        raise ValueError(f"n_rehearsed: expected fewer than n_items ({n_items}), got {n_rehearsed}")
    check.number("fraction_zeroed", fraction_zeroed, low=0.0, high=1.0, high_open=True)
    check.option("value_rule", value_rule, plasticity.VALUE_RULES)
    seeds = check.sequence("seeds", seeds, check.seed)
    if device is None:
        raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
    dev = check.device("device", device)
    out = {}
    with cpu_threads(1 if dev.type == "cpu" else None):
        for local in ("sequential", "lru"):
            acc = 0.0
            for seed in seeds:
                g = torch.Generator().manual_seed(seed)
                X = hopfield.random_patterns(n_items, 2 * n_slots, g, dev)
                C = plasticity.partial_cue(X, fraction_zeroed, g)
                mem = plasticity.SlotMemory(n_slots, X.shape[1], local=local, value_rule=value_rule,
                                            generator=g, device=dev)
                for t in range(n_items):                       # a stream of writes with occasional reads
                    mem.write(X[t])
                    if t >= n_rehearsed and t % every == 0:
                        mem.recall(C[:n_rehearsed], touch=True)
                acc += float(plasticity.bit_accuracy(mem.recall(C[:n_rehearsed]), X[:n_rehearsed]).mean())
            out[local] = acc / len(seeds)
    return out
