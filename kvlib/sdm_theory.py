"""Kanerva's analysis of the sparse distributed memory: activation, overlap, critical distance.

The numbers behind :class:`kvlib.sdm.SparseDistributedMemory` (Kanerva 1988, 1993), for hard
locations drawn uniformly from ``{0, 1}^n``:

* :func:`activation_probability`: the fraction of hard locations within Hamming radius ``r``
  of an address (a binomial tail), and :func:`radius_for_fraction`, its inverse;
* :func:`kanerva_fraction`: the fraction ``(2 M T)^(-1/3)`` Kanerva recommends for ``M``
  locations holding ``T`` words (1993), which sets the memory's radius;
* :func:`intersection_probability` / :func:`intersection_curve`: the fraction within ``r``
  of two addresses at once, hence the expected number of locations they share;
* :func:`read_error` and :func:`critical_distance`: how one read from near a stored word goes,
  and the distance beyond which iterated reads stop converging (one Gaussian step, flagged).

Everything is computed in exact integers where it can be. Explained in Chapter 2, §Five ways
to give a memory its addresses; compared with Kanerva's numbers on the Reproductions page.

Axis vocabulary (``book/appendix/notation.md``): M hard locations, n address bits, T stored words.
"""
from __future__ import annotations

import functools
import math

import torch

from kvlib import _checks as check

__all__ = ["activation_probability", "intersection_probability", "intersection_curve", "kanerva_fraction",
           "radius_for_fraction", "read_error", "critical_distance"]

#: Largest (n + 1) x (M + 1) table :func:`read_error` sums exactly (float64, 400 MB).
_MAX_READ_ERROR_TABLE = 50_000_000


def _binomial_counts(n: int) -> list[int]:
    return [math.comb(n, k) for k in range(n + 1)]


def activation_probability(n_bits: int, radius: int) -> float:
    """Probability that a random hard location lies within ``radius`` of an address.

    Kanerva (1988): hard locations are uniform random points of ``{0, 1}^n``, so their
    Hamming distance to *any* fixed address is Binomial(n, 1/2) and the activated fraction is
    ``P(Binomial(n, 1/2) <= radius)``. Computed exactly with integers.

    >>> round(activation_probability(1000, 451), 5)   # Kanerva's example: about 1 in 1,000
    0.00107
    """
    n_bits = check.count("n_bits", n_bits, 1)
    radius = check.count("radius", radius, 0)
    return sum(_binomial_counts(n_bits)[: min(radius, n_bits) + 1]) / 2 ** n_bits


def intersection_probability(n_bits: int, radius: int, distance: int) -> float:
    """Probability that a random hard location is within ``radius`` of two addresses at once.

    For two addresses ``distance`` bits apart, a location that differs from the first in
    ``a`` of the ``n - distance`` bits where they agree and ``b`` of the ``distance`` bits
    where they differ is ``a + b`` from one and ``a + distance - b`` from the other; summing
    the binomial weights of every ``(a, b)`` with both at most ``radius`` gives the size of
    the intersection of the two activation circles (Kanerva 1988). Exact integers (the whole
    curve over distances is computed once and cached). ``distance = 0`` gives
    :func:`activation_probability`. A cue shares ``M`` times this many locations with an item,
    in expectation.
    """
    n_bits = check.count("n_bits", n_bits, 1)
    radius = check.count("radius", radius, 0)
    distance = check.count("distance", distance, 0)
    if distance > n_bits:
        raise ValueError(f"distance: expected at most n_bits={n_bits}, got {distance}")
    return _intersection_curve_cached(n_bits, radius)[distance]


def kanerva_fraction(n_locations: int, n_stored: int) -> float:
    """Kanerva's recommended fraction of hard locations an address activates: ``(2 M T)^(-1/3)``.

    ``M`` hard locations, ``T`` stored words: the activation probability that maximises the
    memory's capacity for random words (Kanerva 1993, "Sparse distributed memory and related
    models"). The radius follows from :func:`radius_for_fraction`.

    >>> round(kanerva_fraction(1_000_000, 10_000), 6)
    0.000368
    """
    n_locations = check.count("n_locations", n_locations, 1)
    n_stored = check.count("n_stored", n_stored, 1)
    return (2 * n_locations * n_stored) ** (-1.0 / 3.0)


def radius_for_fraction(n_bits: int, fraction: float) -> int:
    """The Hamming radius whose activation probability is closest to ``fraction`` (in log terms).

    >>> radius_for_fraction(1000, 0.001)   # Kanerva's example radius
    451
    """
    n_bits = check.count("n_bits", n_bits, 1)
    fraction = check.number("fraction", fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    cdf, acc = [], 0
    for c in _binomial_counts(n_bits):
        acc += c
        cdf.append(acc / 2 ** n_bits)
    return min(range(n_bits + 1),
               key=lambda r: abs(math.log(max(cdf[r], 1e-300)) - math.log(fraction)))


@functools.lru_cache(maxsize=16)
def _intersection_curve_cached(n_bits: int, radius: int) -> tuple[float, ...]:
    # The sum of intersection_probability at every distance d = 0..n, in exact integers, with
    # the binomial rows C(n - d, .) and C(d, .) updated from one d to the next (Pascal's rule).
    same = _binomial_counts(n_bits)                           # C(n - d, a), d = 0
    diff = [1]                                                # C(d, b), d = 0
    out = []
    for d in range(n_bits + 1):
        prefix = [0]
        for c in diff:
            prefix.append(prefix[-1] + c)
        total = 0
        for a in range(min(n_bits - d, radius) + 1):
            lo, hi = max(0, a + d - radius), min(d, radius - a)
            if hi >= lo:
                total += same[a] * (prefix[hi + 1] - prefix[lo])
        out.append(total / 2 ** n_bits)
        if d < n_bits:                                        # rows for distance d + 1
            m = n_bits - d                                    # C(m - 1, k) = C(m, k) - C(m - 1, k - 1)
            nxt = [1]
            for k in range(1, m):
                nxt.append(same[k] - nxt[k - 1])
            same = nxt
            diff = [1] + [diff[k - 1] + diff[k] for k in range(1, d + 1)] + [1]
    return tuple(out)


def intersection_curve(n_bits: int, radius: int) -> torch.Tensor:
    """:func:`intersection_probability` at every distance 0..n, float64 ``(n + 1,)``.

    Exact integer sums, so the equal values at distances ``2k - 1`` and ``2k`` are equal floats.

    >>> intersection_curve(4, 1).tolist()
    [0.3125, 0.125, 0.125, 0.0, 0.0]
    """
    n_bits = check.count("n_bits", n_bits, 1)
    radius = check.count("radius", radius, 0)
    return torch.tensor(_intersection_curve_cached(n_bits, radius), dtype=torch.float64)


def _read_error_curve(n_bits: int, n_locations: int, radius: int, n_stored: int) -> torch.Tensor:
    """:func:`read_error` at every distance 0..n, float64 ``(n + 1,)``."""
    n_bits = check.count("n_bits", n_bits, 1)
    M = check.count("n_locations", n_locations, 1)
    radius = check.count("radius", radius, 0)
    T = check.count("n_stored", n_stored, 1)
    if (n_bits + 1) * (M + 1) > _MAX_READ_ERROR_TABLE:
        raise ValueError(f"n_locations: the exact sum over shared locations needs (n_bits + 1) x "
                         f"(n_locations + 1) <= {_MAX_READ_ERROR_TABLE:,} entries; got n_bits={n_bits}, "
                         f"n_locations={M}")
    p2 = intersection_curve(n_bits, radius)                              # (n + 1,)
    w = torch.tensor(_binomial_counts(n_bits), dtype=torch.float64) / 2.0 ** n_bits
    p = float(p2[0])
    second_moment = M * p * p + M * (M - 1) * float((w * p2 ** 2).sum())
    sigma = math.sqrt(max((T - 1) * second_moment, 1e-300))
    k = torch.arange(M + 1, dtype=torch.float64)                          # O_1 = 0..M
    q = p2.clamp(1e-300, 1 - 1e-16)[:, None]                              # (n + 1, 1)
    log_pmf = (math.lgamma(M + 1) - torch.lgamma(k + 1) - torch.lgamma(M - k + 1)
               + k * q.log() + (M - k) * torch.log1p(-q))                 # (n + 1, M + 1)
    wrong = 0.5 * torch.erfc(k / (sigma * math.sqrt(2.0)))                # P(bit wrong | O_1 = k)
    return (log_pmf.exp() * wrong).sum(-1)


def read_error(distance: int, n_bits: int, n_locations: int, radius: int, n_stored: int) -> float:
    """Expected fraction of bits wrong after one read ``distance`` bits from a stored word.

    Setting of Kanerva's analysis (1988): ``n_stored`` uniform random words, each
    written at its own address (autoassociative), ``n_locations`` uniform hard locations.
    At bit ``i`` the read sums ``O_1 y_1 + sum_t O_t y_t``: ``O_t`` is the number of hard
    locations the read address shares with word ``t`` and ``y = +-1`` its bit. The target's
    share ``O_1`` is Binomial(M, :func:`intersection_probability`); the other words add
    noise of variance ``(T - 1) E[O_t^2]``, with ``E[O_t^2] = M p^2 + M (M - 1) E_d[P_2(d)^2]``
    exactly for independent hard locations. Treating that noise as Gaussian (our
    approximation, in the spirit of Kanerva's signal-to-noise analysis) the bit is wrong
    with probability ``E[Phi(-O_1 / sigma)]``.
    """
    distance = check.count("distance", distance, 0)
    n_bits = check.count("n_bits", n_bits, 1)
    if distance > n_bits:
        raise ValueError(f"distance: expected at most n_bits={n_bits}, got {distance}")
    return float(_read_error_curve(n_bits, n_locations, radius, n_stored)[distance])


def critical_distance(n_bits: int, n_locations: int, radius: int, n_stored: int) -> int | None:
    """Kanerva's critical distance under :func:`read_error`: where reading stops converging.

    One read from ``d`` bits away lands about ``n * read_error(d)`` bits away; iterated
    reads converge on the stored word while that is less than ``d`` and drift away beyond
    the first ``d`` where it is not (Kanerva 1988). Returns that ``d``, or ``None``
    when reads converge from every distance below ``n / 2``.
    """
    curve = n_bits * _read_error_curve(n_bits, n_locations, radius, n_stored)
    for d in range(1, n_bits // 2):                           # bounded: at most n / 2 distances
        if curve[d] >= d:
            return d
    return None
