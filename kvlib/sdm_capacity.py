"""Sparse distributed memory as Kanerva built it: capacity and critical distance against its size.

Chapter 2 uses Kanerva's sparse distributed memory (:class:`kvlib.sdm.SparseDistributedMemory`:
``M`` random hard locations of ``n`` bits, a Hamming radius, counters) as a scaffold. Here it
is the memory Kanerva (1988) analysed: ``T`` random words, each written at its own address
(autoassociative), read back from a cue ``d`` bits away, with the radius set for ``M`` and
``T`` by his rule (activation probability ``(2 M T)^(-1/3)``, Kanerva 1993). Two numbers as
the memory grows, each measured on simulated memories and computed from Kanerva's analysis
(:mod:`kvlib.sdm_theory`, one Gaussian step):

* the **capacity**: the most words one read from ``d`` bits away returns with at most a
  fraction ``error`` of its bits wrong (:func:`sdm_capacity`, theory
  :func:`theory_capacity` from :func:`kvlib.sdm_theory.read_error`);
* the **critical distance**: the cue distance beyond which iterated reads drift away instead of
  converging on the stored word (:func:`measured_critical_distance`, by
  :func:`converged_fraction`); the analysis puts it where one read from ``d`` bits away stops
  landing closer than ``d`` (:func:`kvlib.sdm_theory.critical_distance`), and
  :func:`one_step_critical_distance` applies that definition to simulated reads
  (:func:`one_step_map`). The analysis is conservative about capacity; it misjudges the
  critical distance of repeated reads (Chapter 1 shows by how much).

Explained in Chapter 1, §Sparse distributed memory as Kanerva built it.
Axis names: M hard locations, n bits, T stored words, B cues.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib.device import generator as seed_stream
from kvlib.device import progress as progress_bar
from kvlib.sdm import SparseDistributedMemory
from kvlib.sdm_theory import critical_distance, read_error

__all__ = ["written_memory", "one_read_error", "theory_capacity", "sdm_capacity",
           "converged_fraction", "one_step_map", "measured_critical_distance",
           "one_step_critical_distance", "sdm_size_sweep"]


def written_memory(n_bits: int, n_locations: int, n_stored: int, *, seed: int = 0,
                   device: str | torch.device = "cpu") -> tuple[SparseDistributedMemory, torch.Tensor]:
    """An SDM with Kanerva's radius for ``(M, T)``, holding ``T`` random words at their own addresses.

    Returns the memory and the words ``(T, n)`` (seed streams: ``"hard locations"`` inside
    the memory, ``"sdm words"`` for the words).
    """
    n, M = check.count("n_bits", n_bits, 2), check.count("n_locations", n_locations, 1)
    T = check.count("n_stored", n_stored, 1)
    seed = check.seed("seed", seed)
    sdm = SparseDistributedMemory(n, M, n_stored=T, seed=seed, device=device)
    words = torch.randint(0, 2, (T, n), generator=seed_stream(seed, "sdm words")).to(sdm.locations)
    sdm.write(words, words)
    return sdm, words


def _cues(words: torch.Tensor, distance: int, n_cues: int,
          g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_cues`` stored words (at random) and cues exactly ``distance`` bits from them."""
    T, n = words.shape
    pick = torch.randint(T, (n_cues,), generator=g)
    target = words[pick.to(words.device)]
    flip = torch.rand(n_cues, n, generator=g).argsort(-1)[:, :distance].to(words.device)
    cue = target.clone()
    cue.scatter_(1, flip, 1 - cue.gather(1, flip))                       # distance bits wrong
    return target, cue


def one_read_error(n_bits: int, n_locations: int, n_stored: int, distance: int, *, n_cues: int = 200,
                   seed: int = 0, device: str | torch.device = "cpu") -> float:
    """Measured fraction of wrong bits after one read from ``distance`` bits away (cf. ``read_error``)."""
    sdm, words = written_memory(n_bits, n_locations, n_stored, seed=seed, device=device)
    distance = check.count("distance", distance)
    if distance > sdm.n_bits:
        raise ValueError(f"distance: expected at most n_bits={sdm.n_bits}, got {distance}")
    n_cues = check.count("n_cues", n_cues, 1)
    target, cue = _cues(words, distance, n_cues, seed_stream(seed, "sdm cues"))
    return float((sdm.read(cue) != target).double().mean())


def theory_capacity(n_bits: int, n_locations: int, distance: int, error: float = 0.01) -> int:
    """The most words ``T`` for which Kanerva's analysis keeps one read's bit error at most ``error``.

    :func:`kvlib.sdm_theory.read_error` with the radius of Kanerva's rule for each ``T``
    (searched by bisection, assuming the error grows with ``T``). 0 if even one word fails.
    """
    n, M = check.count("n_bits", n_bits, 2), check.count("n_locations", n_locations, 1)
    distance = check.count("distance", distance)
    if distance > n:
        raise ValueError(f"distance: expected at most n_bits={n}, got {distance}")
    error = check.number("error", error, low=0.0, high=0.5, low_open=True, high_open=True)
    return _theory_capacity(n, M, distance, error)


@functools.lru_cache(maxsize=64)
def _theory_capacity(n: int, M: int, distance: int, error: float) -> int:
    def ok(T: int) -> bool:
        return read_error(distance, n, M, _radius(n, M, T), T) <= error

    lo, hi = 0, 1
    while ok(hi):                                          # double until the analysis fails
        lo, hi = hi, 2 * hi
        if hi > 1 << 24:
            return lo
    while hi - lo > 1:                                     # bisection: the loop is the search
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def _radius(n: int, M: int, T: int) -> int:
    from kvlib.sdm_theory import kanerva_fraction, radius_for_fraction
    return radius_for_fraction(n, kanerva_fraction(M, T))


def sdm_capacity(n_bits: int, n_locations: int, distance: int, error: float = 0.01, *,
                 n_cues: int = 100, seeds: Sequence[int] = (0, 1), span: float = 2.0, points: int = 4,
                 device: str | torch.device = "cpu") -> float:
    """Measured capacity: where one read's bit error crosses ``error``, on a grid of ``T``.

    ``points`` values of ``T`` spread geometrically over ``[T*/span, T*·span]`` (``span`` at
    most 100) around the analysis' :func:`theory_capacity` ``T*``; the error (mean over
    ``seeds``) is interpolated in ``log T`` at its first crossing of ``error`` (the grid's end
    if it never crosses).
    """
    n, M = check.count("n_bits", n_bits, 2), check.count("n_locations", n_locations, 1)
    error = check.number("error", error, low=0.0, high=0.5, low_open=True, high_open=True)
    span = check.number("span", span, low=1.0, high=100.0, low_open=True)
    points = check.count("points", points, 2)
    seeds = check.sequence("seeds", seeds, check.seed)
    centre = max(theory_capacity(n, M, distance, error), 2)
    grid = sorted({max(1, round(centre * span ** (2 * i / (points - 1) - 1))) for i in range(points)})
    errs = [sum(one_read_error(n, M, T, distance, n_cues=n_cues, seed=s, device=device) for s in seeds)
            / len(seeds) for T in grid]
    for (t0, e0), (t1, e1) in zip(zip(grid, errs), zip(grid[1:], errs[1:])):
        if e0 <= error < e1:
            f = (error - e0) / (e1 - e0)
            return math.exp(math.log(t0) + f * (math.log(t1) - math.log(t0)))
    return float(grid[0] if errs[0] > error else grid[-1])


def _stored_words(sdm: object, words: object) -> torch.Tensor:
    """Check ``sdm`` is a memory and ``words`` a ``(P, n_bits)`` tensor like its locations."""
    if not isinstance(sdm, SparseDistributedMemory):
        raise TypeError(f"sdm: expected a SparseDistributedMemory, got {type(sdm).__name__}")
    words = check.tensor("words", words, ndim=2, like=sdm.locations, like_name="the hard locations",
                         nonempty=True)
    if words.shape[1] != sdm.n_bits:
        raise ValueError(f"words: expected {sdm.n_bits} bits per word, got shape {tuple(words.shape)}")
    return words


def converged_fraction(sdm: SparseDistributedMemory, words: torch.Tensor, distance: int, *,
                       n_reads: int = 8, n_cues: int = 100, tolerance: float = 0.01, seed: int = 0) -> float:
    """Fraction of cues ``distance`` bits from a stored word that ``n_reads`` iterated reads bring
    within ``tolerance`` of its bits (a fraction; 1 % by default, so that an overloaded memory,
    whose reads settle a few bits from every word, does not count as converging; Chapter 2's
    row uses 5 %). A cue stops being read once a read leaves it unchanged."""
    words = _stored_words(sdm, words)
    distance = check.count("distance", distance)
    if distance > sdm.n_bits:
        raise ValueError(f"distance: expected at most n_bits={sdm.n_bits}, got {distance}")
    n_reads, n_cues = check.count("n_reads", n_reads, 1), check.count("n_cues", n_cues, 1)
    tolerance = check.number("tolerance", tolerance, low=0.0, high=0.5)
    target, a = _cues(words, distance, n_cues, seed_stream(check.seed("seed", seed), "sdm cues"))
    moving = torch.arange(a.shape[0], device=a.device)
    for _ in range(n_reads):                               # iterated reading: the loop is the point
        new = sdm.read(a[moving])
        changed = (new != a[moving]).any(-1)
        a[moving] = new
        moving = moving[changed]                           # a cue at a fixed point stays there
        if moving.numel() == 0:
            break
    return float(((a != target).sum(-1) <= tolerance * sdm.n_bits).double().mean())


def one_step_map(sdm: SparseDistributedMemory, words: torch.Tensor, distances: Sequence[int], *,
                 n_cues: int = 32, seed: int = 0) -> list[float]:
    """Mean distance to the stored word after one read, from cues at each of ``distances``.

    Kanerva's critical distance is where this map crosses the diagonal (a read from ``d``
    bits away lands about ``d`` away): :func:`kvlib.sdm_theory.critical_distance` computes
    the map from his analysis, this measures it. All cues are read in one batch.
    """
    words = _stored_words(sdm, words)
    ds = check.sequence("distances", distances, lambda k, v: check.number(k, v, low=0, high=sdm.n_bits,
                                                                          integer=True))
    n_cues = check.count("n_cues", n_cues, 1)
    g = seed_stream(check.seed("seed", seed), "sdm cues")
    pairs = [_cues(words, d, n_cues, g) for d in ds]                  # one batch per distance
    target = torch.cat([t for t, _ in pairs])
    after = (sdm.read(torch.cat([c for _, c in pairs])) != target).sum(-1).double()   # (len(ds) n_cues,)
    return after.reshape(len(ds), n_cues).mean(1).tolist()


def measured_critical_distance(n_bits: int, n_locations: int, n_stored: int, *, n_reads: int = 8,
                               n_cues: int = 32, seed: int = 0, device: str | torch.device = "cpu") -> int:
    """The smallest cue distance from which fewer than half the cues converge (bisection over d).

    Converging means :func:`converged_fraction`'s criterion (the meaning of Kanerva's critical
    distance: inside it iterated reads reach the stored word); the search assumes convergence
    gets rarer with distance. ``n_bits // 2`` if reads converge from every smaller distance.
    """
    sdm, words = written_memory(n_bits, n_locations, n_stored, seed=seed, device=device)
    n_reads, n_cues = check.count("n_reads", n_reads, 1), check.count("n_cues", n_cues, 1)
    lo, hi = 0, sdm.n_bits // 2                            # lo converges, hi is the bound
    while hi - lo > 1:                                     # bisection: the loop is the search
        mid = (lo + hi) // 2
        ok = converged_fraction(sdm, words, mid, n_reads=n_reads, n_cues=n_cues, seed=seed) >= 0.5
        lo, hi = (mid, hi) if ok else (lo, mid)
    return hi


def one_step_critical_distance(n_bits: int, n_locations: int, n_stored: int, *, n_cues: int = 32,
                               seed: int = 0, device: str | torch.device = "cpu") -> int:
    """The first cue distance ``d >= 1`` (on a grid of ``n/64`` steps, or 1) whose measured one-step
    map is ``>= d``: the definition :func:`kvlib.sdm_theory.critical_distance` applies to
    Kanerva's analysis, applied to simulated reads (:func:`one_step_map`). ``n_bits // 2`` if the
    map stays below the diagonal.
    """
    sdm, words = written_memory(n_bits, n_locations, n_stored, seed=seed, device=device)
    step = max(1, sdm.n_bits // 64)
    grid = list(range(step, sdm.n_bits // 2, step))
    after = one_step_map(sdm, words, grid, n_cues=check.count("n_cues", n_cues, 1), seed=seed)
    return next((d for d, a in zip(grid, after) if a >= d), sdm.n_bits // 2)


def sdm_size_sweep(n_bits: int = 256, locations: Sequence[int] = (1000, 2000, 4000), *,
                   distance: int = 25, error: float = 0.01, n_stored_critical: int = 100,
                   seeds: Sequence[int] = (0, 1), n_cues: int = 64, device: str | torch.device = "cpu",
                   progress: bool = False) -> dict:
    """Capacity and critical distance against the number of hard locations, measured and in theory.

    For each ``M``: :func:`sdm_capacity` and :func:`theory_capacity` (reads from ``distance``
    bits away, bit error at most ``error``), and for a memory of ``n_stored_critical`` words
    :func:`measured_critical_distance` (iterated reads, mean over ``seeds``) and Kanerva's
    :func:`kvlib.sdm_theory.critical_distance` (``n_bits // 2`` where his map never crosses the
    diagonal). ``slope``: the log-log slope of the measured capacity against ``M``. ``n_cues``
    cues per measurement. Explained in Chapter 1, §Sparse distributed memory as Kanerva built it.
    """
    n = check.count("n_bits", n_bits, 2)
    Ms = check.sequence("locations", locations, lambda k, v: check.count(k, v, 1), distinct=True)
    T = check.count("n_stored_critical", n_stored_critical, 1)
    seeds = check.sequence("seeds", seeds, check.seed)
    check.flag("progress", progress)
    out = {"n_bits": n, "locations": Ms, "distance": distance, "error": error, "n_stored_critical": T,
           "capacity": [], "capacity_theory": [], "critical": [], "critical_theory": []}
    for M in progress_bar(Ms, enabled=progress, desc="hard locations"):
        out["capacity"].append(sdm_capacity(n, M, distance, error, n_cues=n_cues, seeds=seeds, device=device))
        out["capacity_theory"].append(theory_capacity(n, M, distance, error))
        crit = [measured_critical_distance(n, M, T, n_cues=n_cues, seed=s, device=device) for s in seeds]
        out["critical"].append(sum(crit) / len(crit))
        theory = critical_distance(n, M, _radius(n, M, T), T)
        out["critical_theory"].append(n // 2 if theory is None else theory)
    x = [math.log(M) for M in Ms]
    y = [math.log(max(c, 0.5)) for c in out["capacity"]]
    mx, my = sum(x) / len(x), sum(y) / len(y)
    den = sum((a - mx) ** 2 for a in x)
    out["slope"] = sum((a - mx) * (b - my) for a, b in zip(x, y)) / den if den > 0 else None
    return out
