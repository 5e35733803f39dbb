"""Where keys, queries and values come from: learned maps, fixed scaffolds, drifting time.

Paper §2.2, Eqs 7-9. Keys, values and queries are maps of an input ``x`` (row vectors
here): ``k = x W_k``, ``v = x W_v``, ``q = x W_q``. The maps are either *learned*
(trained end to end for the task, as in transformers) or a fixed *scaffold*:

* ``"autoassociative"``: keys are the contents themselves (``W_k = W_q = W_v = I``), as
  in Hopfield networks; memories are found by matching content.
* ``"random"``: a fixed random linear projection ``W_k = W_q = R`` (Gaussian entries) to
  ``d_key`` dimensions: a random key map. It is *not* Kanerva's sparse distributed memory
  (next item); with ``d_key`` below the input size it mostly shows what compressing the
  addresses at random costs.
* ``"index"``: a fixed, regular, hand-made code, like a book's alphabetical index. For
  images we use a 7x7 thumbnail (4x4 block averages): items are filed under their coarse
  appearance, the way words are filed under their first letters. (The choice of a
  thumbnail is ours, not the paper's.)
* ``"sdm"``: Kanerva's (1988) sparse distributed memory, built as he built it
  (:class:`SparseDistributedMemory`): each image becomes a binary address (its pixels
  thresholded at 0.5, our choice), a large fixed set of random binary *hard locations*
  is drawn, an address activates the locations within a Hamming *radius* of it (the radius
  set so that the fraction Kanerva recommends, ``(2 M T)^(-1/3)``, activates), writing adds
  the data to counters at the active locations and reading sums those counters and
  thresholds them. As a key-value memory its query-key score is the number of hard
  locations a cue and a stored item share.
* ``"learned"``: ``W_k`` and ``W_q`` trained by gradient descent to retrieve the right
  item; they start from the random projection, so "before learning" *is* that scaffold.

Values are always the stored images (``W_v = I``): the retrieval task asks for the item
back, so values are kept for fidelity and only the addressing changes.

The second half of the module is a scaffold with a *temporal* imprint: a context vector
that drifts slowly while a list is studied (after the temporal context model of Howard &
Kahana 2002) serves as the key of each item; free recall from that memory produces the
temporal contiguity effect, measured as the conditional response probability (CRP) by lag.

Explained in Chapter 2 ("Representational structure").

Axis vocabulary (``book/appendix/notation.md``): N memories (items in an episode), d dims,
B queries/episodes, T list positions, M hard locations (SDM), n address bits.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar

__all__ = [
    "SCAFFOLDS", "KEYMAP_KINDS", "KeyMaps", "make_keymaps", "thumbnail_matrix", "attend",
    "binary_address", "activation_probability", "intersection_probability", "kanerva_fraction",
    "radius_for_fraction", "read_error", "critical_distance", "SparseDistributedMemory",
    "scaffold_test_episodes", "fixed_scaffold_accuracy",
    "class_table", "sample_episodes", "corrupt", "EpisodeBatch", "make_episodes",
    "fit_inverse_temperature", "train_learned_keys", "retrieval_accuracy", "sdm_read_accuracy",
    "sdm_limit_accuracy", "key_similarity",
    "mean_offdiagonal",
    "compare_scaffolds",
    "drifting_context", "free_recall", "crp_by_lag", "temporal_contiguity",
]

#: The scaffolds of Chapter 2, in the order the chapter shows them.
SCAFFOLDS = ("autoassociative", "random", "index", "sdm", "learned")
#: The scaffolds that are linear key/query maps (:class:`KeyMaps`); ``"sdm"`` is not one.
KEYMAP_KINDS = ("autoassociative", "random", "index", "learned")


def _check_int(name: str, value, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    return value


def _check_prob(name: str, value, closed_high: bool = True) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
        0.0 <= value and (value <= 1.0 if closed_high else value < 1.0)
    if not ok:
        rng = "[0, 1]" if closed_high else "[0, 1)"
        raise ValueError(f"{name}: expected a number in {rng}, got {value!r}")
    return float(value)


# =====================================================================================
# Part 1: learned key/query maps versus fixed scaffolds (Eqs 7-9)
# =====================================================================================

def thumbnail_matrix(side: int = 28, block: int = 4, dtype: torch.dtype = torch.float32
                     ) -> torch.Tensor:
    """The structured index: a ``(side*side, (side//block)**2)`` matrix of block averages.

    ``x @ P`` turns a flattened ``side x side`` image into its thumbnail (one entry per
    ``block x block`` tile). Not in the paper: our stand-in for an alphabetical index.
    Explained in Chapter 2, §Five ways to give a memory its addresses.

    >>> thumbnail_matrix().shape
    torch.Size([784, 49])
    """
    _check_int("side", side)
    _check_int("block", block)
    if side % block:
        raise ValueError(f"block: expected a divisor of side={side}, got {block!r}")
    t = side // block
    rows = torch.arange(side).repeat_interleave(side)                 # pixel row, (side*side,)
    cols = torch.arange(side).repeat(side)                            # pixel column
    tile = (rows // block) * t + cols // block                        # which tile each pixel is in
    P = torch.zeros(side * side, t * t, dtype=dtype)
    P[torch.arange(side * side), tile] = 1.0 / block ** 2
    return P


class KeyMaps(torch.nn.Module):
    """Key and query maps ``k = x W_k``, ``q = x W_q`` (Eqs 7 and 9); values ``v = x`` (Eq 8, W_v = I).

    ``kind`` is one of :data:`KEYMAP_KINDS` (for ``"sdm"`` see :class:`SparseDistributedMemory`).
    ``"random"`` is a random linear projection with N(0, 1/d_in) entries. Only ``"learned"``
    has trainable parameters. Explained in Chapter 2, §Five ways to give a memory its addresses.
    """

    def __init__(self, kind: str, d_in: int = 784, d_key: int = 49, seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        super().__init__()
        if kind == "sdm":
            raise ValueError("kind: 'sdm' is not a linear key map; build it with "
                             "SparseDistributedMemory(...)")
        if kind not in KEYMAP_KINDS:
            raise ValueError(f"kind: expected one of {KEYMAP_KINDS}, got {kind!r}")
        _check_int("d_in", d_in)
        _check_int("d_key", d_key)
        self.kind = kind
        g = torch.Generator().manual_seed(seed)
        if kind == "autoassociative":
            W_k = None
        elif kind == "index":
            side = math.isqrt(d_in)
            if side * side != d_in:
                raise ValueError(f"d_in: the index scaffold needs square images, got d_in={d_in}")
            block = side // math.isqrt(d_key)
            if (side // block) ** 2 != d_key or side % block:
                raise ValueError(f"d_key: the index scaffold needs a square number of tiles that "
                                 f"divides the image, e.g. 49 or 16 for 28x28; got {d_key}")
            W_k = thumbnail_matrix(side, block)
        else:   # random, and the initial state of learned
            W_k = torch.randn(d_in, d_key, generator=g) / math.sqrt(d_in)
        if W_k is None:
            self.W_k = None
        elif kind == "learned":
            self.W_k = torch.nn.Parameter(W_k.clone().to(device))
            self.W_q = torch.nn.Parameter(W_k.clone().to(device))
        else:                                   # a fixed scaffold: one map for keys and queries
            self.register_buffer("W_k", W_k.to(device))

    def keys(self, x: torch.Tensor) -> torch.Tensor:
        """``k = x W_k`` (Eq 7); ``(..., d_key)``."""
        return x if self.W_k is None else x @ self.W_k

    def queries(self, x: torch.Tensor) -> torch.Tensor:
        """``q = x W_q`` (Eq 9; ``W_q = W_k`` for a fixed scaffold); ``(..., d_key)``."""
        if self.W_k is None:
            return x
        return x @ (self.W_q if self.kind == "learned" else self.W_k)

    def scores(self, cues: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Attention scores of every cue on every stored item, ``(B, N, d) x2 -> (B, N, N)``."""
        return attend(self.queries(cues), self.keys(x))[0]


def make_keymaps(kind: str, d_key: int = 49, seed: int = 0,
                 device: str | torch.device = "cpu") -> KeyMaps:
    """A :class:`KeyMaps` for 28x28 images.

    Explained in Chapter 2, §Five ways to give a memory its addresses.
    """
    return KeyMaps(kind, 784, d_key, seed, device)


def attend(q: torch.Tensor, K: torch.Tensor, V: torch.Tensor | None = None
           ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product softmax attention (Eqs 3, 5, 6), batched over episodes.

    ``q``: ``(B, M, d)`` queries, ``K``: ``(B, N, d)`` keys, ``V``: ``(B, N, d_v)`` values.
    Returns the scores ``S = q K^T / sqrt(d)`` ``(B, M, N)`` and the read-out
    ``softmax(S) V`` ``(B, M, d_v)`` (``None`` without ``V``). Explained in Chapter 2.
    """
    if q.dim() != 3 or K.dim() != 3 or q.shape[-1] != K.shape[-1]:
        raise ValueError(f"q, K: expected (B, M, d) and (B, N, d) with the same d, "
                         f"got {tuple(q.shape)} and {tuple(K.shape)}")
    S = q @ K.transpose(1, 2) / math.sqrt(K.shape[-1])               # (B, M, N)
    return S, (None if V is None else torch.softmax(S, dim=-1) @ V)  # (B, M, d_v)


# -------------------------------------------------------------------------------------
# Kanerva's sparse distributed memory (Kanerva 1988; radius rule from Kanerva 1993)
# -------------------------------------------------------------------------------------

def binary_address(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """An image's binary address for the SDM scaffold: each pixel above ``threshold`` is a 1.

    Returns a float tensor of 0s and 1s with ``x``'s shape. Thresholding the pixels is our
    choice of address (the review names no encoding); Kanerva's analysis assumes addresses
    spread uniformly over ``{0, 1}^n``, which image addresses are not.
    Explained in Chapter 2, §Five ways to give a memory its addresses.
    """
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
        raise ValueError(f"threshold: expected a number, got {threshold!r}")
    return (x > threshold).to(torch.float32)


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
    _check_int("n_bits", n_bits)
    _check_int("radius", radius, 0)
    counts = _binomial_counts(n_bits)
    return sum(counts[: min(radius, n_bits) + 1]) / 2 ** n_bits


def intersection_probability(n_bits: int, radius: int, distance: int) -> float:
    """Probability that a random hard location is within ``radius`` of two addresses at once.

    For two addresses ``distance`` bits apart, a location that differs from the first in
    ``a`` of the ``n - distance`` bits where they agree and ``b`` of the ``distance`` bits
    where they differ is ``a + b`` from one and ``a + distance - b`` from the other; summing
    the binomial weights of every ``(a, b)`` with both at most ``radius`` gives the size of
    the intersection of the two activation circles (Kanerva 1988). Exact integers.
    ``distance = 0`` gives :func:`activation_probability`. The expected number of hard
    locations a cue shares with a stored item is ``M`` times this.
    """
    _check_int("n_bits", n_bits)
    _check_int("radius", radius, 0)
    _check_int("distance", distance, 0)
    if distance > n_bits:
        raise ValueError(f"distance: expected at most n_bits={n_bits}, got {distance}")
    same, diff = _binomial_counts(n_bits - distance), _binomial_counts(distance)
    prefix = [0]
    for c in diff:
        prefix.append(prefix[-1] + c)                       # prefix[k] = sum_{b<k} C(distance, b)
    total = 0
    for a in range(min(n_bits - distance, radius) + 1):
        lo, hi = max(0, a + distance - radius), min(distance, radius - a)
        if hi >= lo:
            total += same[a] * (prefix[hi + 1] - prefix[lo])
    return total / 2 ** n_bits


def kanerva_fraction(n_locations: int, n_stored: int) -> float:
    """Kanerva's recommended fraction of hard locations an address activates: ``(2 M T)^(-1/3)``.

    ``M`` hard locations, ``T`` stored words: the activation probability that maximises the
    memory's capacity for random words (Kanerva 1993, "Sparse distributed memory and related
    models"). The radius follows from :func:`radius_for_fraction`.

    >>> round(kanerva_fraction(1_000_000, 10_000), 6)
    0.000368
    """
    _check_int("n_locations", n_locations)
    _check_int("n_stored", n_stored)
    return (2 * n_locations * n_stored) ** (-1.0 / 3.0)


def radius_for_fraction(n_bits: int, fraction: float) -> int:
    """The Hamming radius whose activation probability is closest to ``fraction`` (in log terms).

    >>> radius_for_fraction(1000, 0.001)   # Kanerva's example radius
    451
    """
    _check_int("n_bits", n_bits)
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0 < fraction < 1:
        raise ValueError(f"fraction: expected a number in (0, 1), got {fraction!r}")
    counts = _binomial_counts(n_bits)
    cdf, acc = [], 0
    for c in counts:
        acc += c
        cdf.append(acc / 2 ** n_bits)
    return min(range(n_bits + 1),
               key=lambda r: abs(math.log(max(cdf[r], 1e-300)) - math.log(fraction)))


@functools.lru_cache(maxsize=16)
def _intersection_curve_cached(n_bits: int, radius: int) -> tuple[float, ...]:
    # Exact integers as in intersection_probability, with the two binomial rows C(n - d, .)
    # and C(d, .) updated from one distance to the next instead of recomputed (Pascal's rule).
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


def _intersection_curve(n_bits: int, radius: int) -> torch.Tensor:
    """:func:`intersection_probability` at every distance 0..n, float64 ``(n + 1,)``.

    Exact integer sums, so the equal values at distances ``2k - 1`` and ``2k`` are equal floats.
    """
    return torch.tensor(_intersection_curve_cached(n_bits, radius), dtype=torch.float64)


def _read_error_curve(n_bits: int, n_locations: int, radius: int, n_stored: int) -> torch.Tensor:
    """:func:`read_error` at every distance 0..n, float64 ``(n + 1,)``."""
    M, T = n_locations, n_stored
    p2 = _intersection_curve(n_bits, radius)                              # (n + 1,)
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
    _check_int("distance", distance, 0)
    _check_int("n_bits", n_bits)
    if distance > n_bits:
        raise ValueError(f"distance: expected at most n_bits={n_bits}, got {distance}")
    curve = _read_error_curve(n_bits, _check_int("n_locations", n_locations),
                              _check_int("radius", radius, 0), _check_int("n_stored", n_stored))
    return float(curve[distance])


def critical_distance(n_bits: int, n_locations: int, radius: int, n_stored: int) -> int | None:
    """Kanerva's critical distance under :func:`read_error`: where reading stops converging.

    One read from ``d`` bits away lands about ``n * read_error(d)`` bits away; iterated
    reads converge on the stored word while that is less than ``d`` and drift away beyond
    the first ``d`` where it is not (Kanerva 1988). Returns that ``d``, or ``None``
    when reads converge from every distance below ``n / 2``.
    """
    curve = n_bits * _read_error_curve(_check_int("n_bits", n_bits),
                                       _check_int("n_locations", n_locations),
                                       _check_int("radius", radius, 0),
                                       _check_int("n_stored", n_stored))
    for d in range(1, n_bits // 2):
        if curve[d] >= d:
            return d
    return None


class SparseDistributedMemory:
    """Kanerva's sparse distributed memory (1988): hard locations, a radius, counters.

    ``n_locations`` (M) hard locations with uniform random ``n_bits``-bit addresses, drawn
    once from ``seed`` on the CPU. An address activates every hard location within Hamming
    distance ``radius`` of it; if ``radius`` is not given it is set so that Kanerva's
    recommended fraction :func:`kanerva_fraction` of ``M`` activates for ``n_stored``
    words (Kanerva 1993). :meth:`write` adds each data word, as +-1, to the counters of the
    locations its address activates; :meth:`read` sums the counters of the locations the
    read address activates and thresholds the sums at 0 (a 1 where the sum is positive).

    Read as a key-value memory the same read is a dual form (Eq 3): the sums equal
    ``sum_n O(q, k_n) (2 v_n - 1)``, where ``O`` counts the hard locations a read address
    ``q`` and a write address ``k_n`` share (:meth:`overlap`, :meth:`read_dual`). Used as
    Chapter 2's fifth scaffold, images are turned into addresses by :func:`binary_address`
    with ``threshold``. Explained in Chapter 2, §Five ways to give a memory its addresses.
    """

    def __init__(self, n_bits: int, n_locations: int, radius: int | None = None, *,
                 n_stored: int | None = None, threshold: float = 0.5, seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        _check_int("n_bits", n_bits)
        _check_int("n_locations", n_locations)
        if radius is None:
            if n_stored is None:
                raise ValueError("radius, n_stored: give a radius, or the number of words to "
                                 "store so Kanerva's fraction (2 M T)^(-1/3) can set it; got neither")
            radius = radius_for_fraction(n_bits, kanerva_fraction(n_locations, n_stored))
        _check_int("radius", radius, 0)
        self.n_bits, self.n_locations, self.radius, self.threshold = n_bits, n_locations, radius, threshold
        g = torch.Generator().manual_seed(seed)
        self.locations = torch.randint(0, 2, (n_locations, n_bits), generator=g).to(
            device, torch.float32)                                         # (M, n)
        self._ones = self.locations.sum(-1)                               # (M,)
        self.counters: torch.Tensor | None = None                         # (M, u) once written

    @property
    def fraction(self) -> float:
        """The fraction of hard locations an address activates, on average (Kanerva's binomial)."""
        return activation_probability(self.n_bits, self.radius)

    def _check_address(self, name: str, a: torch.Tensor) -> None:
        if a.shape[-1] != self.n_bits:
            raise ValueError(f"{name}: expected addresses of {self.n_bits} bits in the last "
                             f"dimension, got shape {tuple(a.shape)}")

    def distances(self, address: torch.Tensor) -> torch.Tensor:
        """Hamming distance from each address to each hard location, ``(..., n) -> (..., M)``."""
        self._check_address("address", address)
        a = address.to(self.locations)
        return a.sum(-1, keepdim=True) + self._ones - 2 * a @ self.locations.T

    def activate(self, address: torch.Tensor) -> torch.Tensor:
        """The hard locations each address activates (within ``radius``), ``(..., M)`` of 0/1."""
        return (self.distances(address) <= self.radius).to(torch.float32)

    def write(self, address: torch.Tensor, data: torch.Tensor) -> None:
        """Add each word of ``data`` (``(T, u)`` of 0/1) as +-1 to the counters its address activates."""
        self._check_address("address", address)
        if address.dim() != 2 or data.dim() != 2 or data.shape[0] != address.shape[0]:
            raise ValueError(f"address, data: expected (T, n) and (T, u) with the same T, got "
                             f"{tuple(address.shape)} and {tuple(data.shape)}")
        inc = self.activate(address).T @ (2 * data.to(self.locations) - 1)   # (M, u)
        self.counters = inc if self.counters is None else self.counters + inc

    def read(self, address: torch.Tensor) -> torch.Tensor:
        """Sum the counters of the activated locations and threshold at 0: ``(..., n) -> (..., u)``."""
        if self.counters is None:
            raise ValueError("read: nothing has been written to this memory yet")
        return (self.activate(address) @ self.counters > 0).to(torch.float32)

    def overlap(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Hard locations common to read and write addresses, ``(B, Nq, n), (B, Nk, n) -> (B, Nq, Nk)``.

        Computed a block of episodes at a time, so the ``(B, N, M)`` activations are never
        all held at once.
        """
        if q.dim() != 3 or k.dim() != 3 or q.shape[0] != k.shape[0]:
            raise ValueError(f"q, k: expected (B, Nq, n) and (B, Nk, n) addresses, got "
                             f"{tuple(q.shape)} and {tuple(k.shape)}")
        B, N = q.shape[0], max(q.shape[1], k.shape[1])
        step = max(1, 2 ** 24 // (N * self.n_locations))                    # ~64 MB per block
        out = [self.activate(q[i:i + step]) @ self.activate(k[i:i + step]).transpose(1, 2)
               for i in range(0, B, step)]
        return torch.cat(out)

    def read_dual(self, q: torch.Tensor, k: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
        """The counter sums a read at ``q`` gets after writing ``data`` at ``k``, without counters.

        ``sum_n O(q, k_n) (2 v_n - 1)``: ``(B, Nq, n), (B, Nk, n), (B, Nk, u) -> (B, Nq, u)``.
        Thresholding at 0 gives :meth:`read`.
        """
        return self.overlap(q, k) @ (2 * data.to(self.locations) - 1)

    def scores(self, cues: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Scaffold scores: hard locations each cue shares with each stored image, ``(B, N, N)``."""
        return self.overlap(binary_address(cues, self.threshold), binary_address(x, self.threshold))


def class_table(y: torch.Tensor, per_class: int | None = None) -> torch.Tensor:
    """Indices of each class's examples as a ``(C, per_class)`` table (first ``per_class`` of each).

    Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    classes = torch.unique(y)
    counts = torch.stack([(y == c).sum() for c in classes])
    m = int(counts.min()) if per_class is None else _check_int("per_class", per_class)
    if m > int(counts.min()):
        raise ValueError(f"per_class: expected at most {int(counts.min())} (the rarest class), got {m}")
    # stable sort by label keeps each class's examples in data-set order
    order = torch.sort(y, stable=True).indices
    starts = torch.cumsum(counts, 0) - counts
    return torch.stack([order[s:s + m] for s in starts.tolist()])     # (C, m)


def sample_episodes(table: torch.Tensor, n_episodes: int, n_items: int, correlated: bool,
                    generator: torch.Generator) -> torch.Tensor:
    """Draw ``(n_episodes, n_items)`` distinct example indices per episode.

    ``correlated=True``: every item of an episode comes from one class (look-alikes);
    ``False``: items come from all classes.
    Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    _check_int("n_episodes", n_episodes)
    _check_int("n_items", n_items, 2)
    C, m = table.shape
    if correlated:
        if n_items > m:
            raise ValueError(f"n_items: expected at most {m} (examples per class), got {n_items}")
        cls = torch.randint(C, (n_episodes,), generator=generator)               # (E,)
        pick = torch.rand(n_episodes, m, generator=generator).topk(n_items, -1).indices  # distinct
        return table[cls[:, None].to(table.device), pick.to(table.device)]     # (E, N)
    flat = table.reshape(-1)
    if n_items > flat.numel():
        raise ValueError(f"n_items: expected at most {flat.numel()}, got {n_items}")
    pick = torch.rand(n_episodes, flat.numel(), generator=generator).topk(n_items, -1).indices
    return flat[pick.to(table.device)]


def corrupt(x: torch.Tensor, keep: float, noise: float, generator: torch.Generator) -> torch.Tensor:
    """A partial, noisy cue: keep each pixel with probability ``keep``, add Gaussian ``noise``.

    Random numbers are drawn on the CPU (``generator``) so every device sees the same cue.
    Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    keep = _check_prob("keep", keep)
    if not isinstance(noise, (int, float)) or noise < 0:
        raise ValueError(f"noise: expected a number >= 0, got {noise!r}")
    mask = (torch.rand(x.shape, generator=generator) < keep).to(x.device, x.dtype)
    eps = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
    return x * mask + noise * eps


@dataclass
class EpisodeBatch:
    """Stored items ``x`` ``(B, N, d)`` and their cues ``q`` ``(B, N, d)``; cue i asks for item i."""

    x: torch.Tensor
    cues: torch.Tensor


def make_episodes(images: torch.Tensor, table: torch.Tensor, n_episodes: int, n_items: int,
                  correlated: bool, keep: float, noise: float, generator: torch.Generator
                  ) -> EpisodeBatch:
    """Episodes of the retrieval task: store ``n_items`` images, cue each with a corrupted copy.

    Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    idx = sample_episodes(table, n_episodes, n_items, correlated, generator)   # (B, N)
    x = images[idx]                                                            # (B, N, d)
    return EpisodeBatch(x, corrupt(x, keep, noise, generator))


def _pick(S: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Index of the largest score along the last axis, ties broken uniformly at random.

    Continuous scores (every linear scaffold) have no ties, so this is their argmax; the
    SDM's scores are counts and tie often. Random numbers come from the CPU ``generator``.
    """
    top = S == S.amax(-1, keepdim=True)
    u = torch.rand(S.shape, generator=generator).to(S.device) + 1.0    # in [1, 2): > 0
    return (top * u).argmax(-1)


def _accuracy(S: torch.Tensor, seed: int) -> float:
    """Fraction of rows of ``S`` (B, N, N) whose largest score is on the diagonal (ties at random)."""
    pick = _pick(S, torch.Generator().manual_seed(seed))
    return float((pick == torch.arange(S.shape[-1], device=S.device)).float().mean())


def retrieval_accuracy(maps, episodes: EpisodeBatch, seed: int = 0) -> float:
    """Fraction of cues whose largest score falls on the right item.

    ``maps`` is a :class:`KeyMaps` (scores: attention over keys ``x W_k`` with queries
    ``cue W_q``, Eqs 5-6; the argmax does not depend on the softmax temperature) or a
    :class:`SparseDistributedMemory` (scores: hard locations the cue's and each item's binary
    address have in common). Ties (only the SDM's integer scores have them) are broken at
    random with ``seed``. Explained in Chapter 2, §Accuracy of each scaffold.
    """
    with torch.no_grad():
        return _accuracy(maps.scores(episodes.cues, episodes.x), seed)           # (B, N, N)


def _hamming(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamming distances between binary rows, ``(B, N, n), (B, K, n) -> (B, N, K)``."""
    return a.sum(-1)[..., None] + b.sum(-1)[..., None, :] - 2 * a @ b.transpose(1, 2)


def sdm_read_accuracy(sdm: SparseDistributedMemory, episodes: EpisodeBatch, seed: int = 0,
                      overlap: torch.Tensor | None = None) -> float:
    """Kanerva's own read, scored on the retrieval task.

    Each episode's binary images are written at their own addresses (autoassociative, as
    Kanerva uses the memory), the cue's address is read (counters summed over the
    activated locations, thresholded at 0; computed in the dual form, as in
    :meth:`SparseDistributedMemory.read_dual`), and the read counts as right if the stored
    image nearest to it in Hamming distance is the cued one (ties at random). ``overlap``:
    the episodes' :meth:`SparseDistributedMemory.scores`, if already computed.
    Explained in Chapter 2, §Accuracy of each scaffold.
    """
    with torch.no_grad():
        a_x = binary_address(episodes.x, sdm.threshold)
        common = sdm.scores(episodes.cues, episodes.x) if overlap is None else overlap  # (B, N, N)
        out = (common @ (2 * a_x - 1) > 0).float()                           # (B, N, n) read words
        return _accuracy(-_hamming(out, a_x), seed)


def sdm_limit_accuracy(sdm: SparseDistributedMemory, episodes: EpisodeBatch, seed: int = 0) -> float:
    """The SDM scaffold's accuracy with infinitely many hard locations (same radius).

    With ``M -> infinity`` the share of hard locations a cue and an item have in common
    tends to :func:`intersection_probability` of their Hamming distance, so the item chosen
    is the one with the largest intersection probability. That probability falls with the
    distance but is equal at distances ``2k - 1`` and ``2k`` (a property of Hamming balls),
    so the limit is not quite the nearest neighbour: such pairs tie, and ties are broken at
    random. Explained in Chapter 2, §Accuracy of each scaffold.
    """
    with torch.no_grad():
        a_q = binary_address(episodes.cues, sdm.threshold)
        a_x = binary_address(episodes.x, sdm.threshold)
        d = _hamming(a_q, a_x).round().long()                                   # (B, N, N)
        p2 = _intersection_curve(sdm.n_bits, sdm.radius).to(torch.float32).to(d.device)
        return _accuracy(p2[d], seed)


def fit_inverse_temperature(S: torch.Tensor, grid: torch.Tensor | None = None) -> float:
    """The inverse temperature ``beta`` that best retrieves the right items from scores ``S``.

    ``S`` is ``(B, N, N)`` with cue ``i`` asking for item ``i``; returns the ``beta`` on
    ``grid`` (default ``10**linspace(-2, 3, 51)``) maximising the mean log attention weight
    ``log softmax(beta * S)`` on the right item. Used to compare scaffolds' soft attention
    fairly (each at its own best temperature; the argmax, hence accuracy, does not depend
    on it). Not in the paper.
    Explained in Chapter 2, §Learned keys separate what the inputs confuse.
    """
    if S.dim() != 3 or S.shape[1] != S.shape[2]:
        raise ValueError(f"S: expected (B, N, N) scores, got shape {tuple(S.shape)}")
    grid = torch.logspace(-2, 3, 51, dtype=S.dtype) if grid is None else grid.to(S.dtype)
    diag = torch.eye(S.shape[-1], dtype=torch.bool, device=S.device)
    ll = torch.stack([torch.log_softmax(b * S, -1)[:, diag].mean() for b in grid.tolist()])
    return float(grid[int(ll.argmax())])


def train_learned_keys(maps: KeyMaps, images: torch.Tensor, table: torch.Tensor, *,
                       steps: int = 400, n_episodes: int = 16, n_items: int = 32,
                       keep: float = 0.5, noise: float = 0.3, lr: float = 3e-3,
                       seed: int = 0, progress: bool = False) -> list[float]:
    """Train ``W_k`` and ``W_q`` end to end (Eqs 7, 9) so each cue attends to its own item.

    Loss: cross-entropy of the attention scores against the right item, on episodes of
    look-alike items (one class per episode) drawn from ``images``; Adam. Returns the
    loss per step. Explained in Chapter 2, §Accuracy of each scaffold.
    """
    if maps.kind != "learned":
        raise ValueError(f"maps: expected a KeyMaps of kind 'learned', got kind {maps.kind!r}")
    _check_int("steps", steps)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(maps.parameters(), lr=lr)
    target = torch.arange(n_items, device=images.device).repeat(n_episodes)   # (B*N,)
    losses = []
    with cpu_threads(1):     # many small steps: one thread is several times faster on 2 busy cores
        for _ in progress_bar(range(steps), enabled=progress, desc="learning keys"):
            ep = make_episodes(images, table, n_episodes, n_items, True, keep, noise, g)
            S, _ = attend(maps.queries(ep.cues), maps.keys(ep.x))             # (B, N, N)
            loss = F.cross_entropy(S.reshape(-1, n_items), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    return losses


def key_similarity(K: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between every pair of keys: ``(N, d) -> (N, N)``.

    Explained in Chapter 2, §Learned keys separate what the inputs confuse.
    """
    if K.dim() != 2:
        raise ValueError(f"K: expected (N, d) keys, got shape {tuple(K.shape)}")
    Kn = F.normalize(K, dim=-1)
    return Kn @ Kn.T


def mean_offdiagonal(S: torch.Tensor) -> float:
    """Mean of the off-diagonal entries of a square matrix.

    Explained in Chapter 2, §Learned keys separate what the inputs confuse.
    """
    if S.dim() != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"S: expected a square matrix, got shape {tuple(S.shape)}")
    n = S.shape[0]
    return float((S.sum() - S.diagonal().sum()) / (n * (n - 1)))


def scaffold_test_episodes(device: str | torch.device = "cpu", *, correlated: bool = True,
                           n_items: int = 32, keep: float = 0.5, noise: float = 0.3,
                           n_test_episodes: int = 200, seed: int = 0) -> EpisodeBatch:
    """The test episodes :func:`compare_scaffolds` scores (new MNIST test digits).

    ``correlated``: look-alike episodes (one class each) or mixed ones. The same ``seed``
    gives the same episodes as :func:`compare_scaffolds`, so a scaffold built later can be
    scored on exactly the chapter's cues. Explained in Chapter 2, §Accuracy of each scaffold.
    """
    from kvlib.data import load_classes
    device = torch.device(device)
    x_te, y_te = load_classes("mnist", list(range(10)), train=False, device=device)
    t_te = class_table(y_te.cpu()).to(device)
    g = torch.Generator().manual_seed(seed + 2)
    return make_episodes(x_te, t_te, n_test_episodes, n_items, correlated, keep, noise, g)


def fixed_scaffold_accuracy(maps, device: str | torch.device = "cpu", *,
                            correlated: bool = True, **episodes) -> float:
    """Accuracy of a fixed scaffold (:class:`KeyMaps` or SDM) on the chapter's test episodes.

    ``episodes`` keywords go to :func:`scaffold_test_episodes`. Explained in Chapter 2,
    §Accuracy of each scaffold (and its exercises).
    """
    return retrieval_accuracy(maps, scaffold_test_episodes(device, correlated=correlated, **episodes))


def compare_scaffolds(device: str | torch.device = "cpu", *, n_items: int = 32,
                      keep: float = 0.5, noise: float = 0.3, d_key: int = 49,
                      train_steps: int = 400, lr: float = 3e-3, n_test_episodes: int = 200,
                      n_locations: int = 10_000, seed: int = 0,
                      progress: bool = False) -> dict:
    """Chapter 2's first experiment, end to end, on MNIST.

    Trains the learned maps on training-set digits, then tests every scaffold of
    :data:`SCAFFOLDS` on new test-set digits, with look-alike episodes (one class each) and
    mixed episodes. The SDM has ``n_locations`` hard locations and Kanerva's radius for
    ``n_items`` stored words. Returns ``{"accuracy": {kind: acc}, "accuracy_mixed": {kind:
    acc}, "maps": {kind: KeyMaps or SparseDistributedMemory}, "loss": [...], "similarity":
    {name: (N, N)}, "offdiag": {name: float}, "example": (N, 784), "example_cues": (N, 784),
    "untrained": KeyMaps, "sdm": {...}}``; ``"sdm"`` holds the memory's size, radius and
    activation fractions, the accuracy of Kanerva's own read (:func:`sdm_read_accuracy`) and
    the infinite-memory limit (:func:`sdm_limit_accuracy`), each for both kinds of episode.
    The example is one look-alike test episode. Explained in Chapter 2, §Accuracy of each scaffold.
    """
    from kvlib.data import load_classes
    device = torch.device(device)
    digits = list(range(10))
    x_tr, y_tr = load_classes("mnist", digits, train=True, device=device)
    t_tr = class_table(y_tr.cpu()).to(device)
    maps = {k: make_keymaps(k, d_key, seed, device) for k in KEYMAP_KINDS}
    maps["sdm"] = SparseDistributedMemory(784, n_locations, n_stored=n_items, seed=seed,
                                          device=device)
    maps = {k: maps[k] for k in SCAFFOLDS}
    untrained = make_keymaps("learned", d_key, seed, device)
    loss = train_learned_keys(maps["learned"], x_tr, t_tr, steps=train_steps, n_items=n_items,
                              keep=keep, noise=noise, lr=lr, seed=seed + 1, progress=progress)
    sdm = maps["sdm"]
    out = {"accuracy": {}, "accuracy_mixed": {}}
    sdm_out = {"n_locations": n_locations, "n_bits": 784, "radius": sdm.radius,
               "kanerva_fraction": kanerva_fraction(n_locations, n_items),
               "activation_probability": sdm.fraction}
    for name, correlated in (("accuracy", True), ("accuracy_mixed", False)):
        ep = scaffold_test_episodes(device, correlated=correlated, n_items=n_items, keep=keep,
                                    noise=noise, n_test_episodes=n_test_episodes, seed=seed)
        for k, m in maps.items():
            if k != "sdm":
                out[name][k] = retrieval_accuracy(m, ep)
        with torch.no_grad():
            common = sdm.scores(ep.cues, ep.x)                                 # (B, N, N) common locations
        out[name]["sdm"] = _accuracy(common, 0)
        out[name] = {k: out[name][k] for k in SCAFFOLDS}                       # chapter order
        sdm_out[f"read_{name}"] = sdm_read_accuracy(sdm, ep, overlap=common)
        sdm_out[f"limit_{name}"] = sdm_limit_accuracy(sdm, ep)
    # key geometry of one look-alike test episode (sorted by nothing: items as drawn)
    x_te, y_te = load_classes("mnist", digits, train=False, device=device)
    t_te = class_table(y_te.cpu()).to(device)
    g = torch.Generator().manual_seed(seed + 3)
    ex = make_episodes(x_te, t_te, 1, n_items, True, keep, noise, g)
    example, example_cues = ex.x[0], ex.cues[0]                                # (N, 784) each
    with torch.no_grad():
        active = sdm.activate(binary_address(example, sdm.threshold))          # (N, M)
        sdm_out["active_fraction_measured"] = float(active.mean())
        sims = {"inputs (autoassociative keys)": key_similarity(example),
                "random-projection keys": key_similarity(maps["random"].keys(example)),
                "index keys": key_similarity(maps["index"].keys(example)),
                "SDM keys (active hard locations)": key_similarity(active),
                "learned keys, before": key_similarity(untrained.keys(example)),
                "learned keys, after": key_similarity(maps["learned"].keys(example))}
    out.update(maps=maps, untrained=untrained, loss=loss, similarity=sims, example=example,
               example_cues=example_cues, sdm=sdm_out,
               offdiag={k: mean_offdiagonal(v) for k, v in sims.items()})
    return out


# =====================================================================================
# Part 2: a drifting temporal context as the key, and free recall (temporal contiguity)
# =====================================================================================

def drifting_context(n_lists: int, length: int, dim: int, drift: float,
                     generator: torch.Generator, device: str | torch.device = "cpu"
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Study ``n_lists`` lists: item inputs ``f`` and the context ``c_t`` each item is stored under.

    The context drifts as ``c_t = rho c_{t-1} + drift f_t`` with ``rho = sqrt(1 - drift^2)``
    (after the temporal context model, Howard & Kahana 2002; constant ``rho`` is our
    simplification, and each ``c_t`` is normalised to unit length afterwards). The
    recurrence is unrolled into one matrix product, ``C = D F + rho^t c_0`` with the
    lower-triangular drift kernel ``D_ts = drift rho^(t-s)``.
    ``drift = 0``: the context never moves (every item shares one address); ``drift = 1``:
    a fresh random context per item (no temporal imprint).

    Returns ``(keys, items)``, both ``(B, T, dim)`` with unit rows. Explained in Chapter 2,
    §Addresses that drift in time.
    """
    _check_int("n_lists", n_lists)
    _check_int("length", length, 2)
    _check_int("dim", dim)
    drift = _check_prob("drift", drift)
    rho = math.sqrt(1.0 - drift ** 2)
    f = F.normalize(torch.randn(n_lists, length, dim, generator=generator), dim=-1)   # (B, T, d)
    c0 = F.normalize(torch.randn(n_lists, 1, dim, generator=generator), dim=-1)       # (B, 1, d)
    t = torch.arange(length, dtype=torch.float64)
    lag = t[:, None] - t[None, :]                                                     # (T, T)
    D = torch.where(lag >= 0, drift * rho ** lag.clamp(min=0), torch.zeros(()))      # (T, T)
    start = (rho ** (t + 1))[None, :, None]                                           # (1, T, 1)
    C = torch.einsum("ts,bsd->btd", D.float(), f) + start.float() * c0                # (B, T, d)
    return F.normalize(C, dim=-1).to(device), f.to(device)


def free_recall(keys: torch.Tensor, items: torch.Tensor, drift: float, n_recalls: int,
                generator: torch.Generator, sensitivity: float = 20.0,
                reinstate: float = 0.5) -> torch.Tensor:
    """Free recall from a context-addressed memory; returns recalled list positions ``(B, R)``.

    The cue starts as the end-of-list context. At each output the memory is read with the
    cue as the query: scores ``cue . k_t``, a softmax with ``sensitivity`` over the items
    not yet recalled (a Luce choice), and one item is drawn (Gumbel-max, noise from the
    CPU ``generator``). The recalled item then brings back context: a mixture
    ``reinstate * k_j + (1 - reinstate) * f_j`` of its study context and its own input is
    folded into the cue with the same drift rule as at study. (The loop over outputs is
    the point: each recall depends on the last; it is vectorised over lists.)
    Explained in Chapter 2, §Free recall and temporal contiguity.
    """
    if keys.shape != items.shape or keys.dim() != 3:
        raise ValueError(f"keys, items: expected two (B, T, d) tensors of one shape, got "
                         f"{tuple(keys.shape)} and {tuple(items.shape)}")
    B, T, _ = keys.shape
    _check_int("n_recalls", n_recalls)
    if n_recalls > T:
        raise ValueError(f"n_recalls: expected at most the list length {T}, got {n_recalls}")
    drift = _check_prob("drift", drift)
    reinstate = _check_prob("reinstate", reinstate)
    if not isinstance(sensitivity, (int, float)) or sensitivity < 0:
        raise ValueError(f"sensitivity: expected a number >= 0, got {sensitivity!r}")
    rho = math.sqrt(1.0 - drift ** 2)
    cue = keys[:, -1]                                                  # (B, d) end-of-list context
    recalled = torch.zeros(B, T, dtype=torch.bool, device=keys.device)
    order = []
    rows = torch.arange(B, device=keys.device)
    for _ in range(n_recalls):
        scores = sensitivity * torch.einsum("bd,btd->bt", cue, keys)  # (B, T)
        scores = scores.masked_fill(recalled, float("-inf"))
        u = torch.rand(B, T, generator=generator).clamp_(1e-12, 1 - 1e-12).to(keys.device)
        j = (scores - torch.log(-torch.log(u))).argmax(-1)            # Gumbel-max draw, (B,)
        order.append(j)
        recalled[rows, j] = True
        back = F.normalize(reinstate * keys[rows, j] + (1 - reinstate) * items[rows, j], dim=-1)
        cue = F.normalize(rho * cue + drift * back, dim=-1)
    return torch.stack(order, dim=1)                                   # (B, R)


def crp_by_lag(order: torch.Tensor, length: int, max_lag: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Conditional response probability by lag (Kahana 1996) from recall orders ``(B, R)``.

    For each transition from position ``i`` to ``j``, the lag ``j - i`` is counted as made,
    and every lag to a position not yet recalled is counted as possible; CRP = made /
    possible. Returns ``(lags, crp)`` for lags ``-max_lag..max_lag`` (``crp`` is NaN at
    lag 0 and where a lag was never possible).
    Explained in Chapter 2, §Free recall and temporal contiguity.
    """
    if order.dim() != 2 or order.shape[1] < 2:
        raise ValueError(f"order: expected (B, R) recall orders with R >= 2, got {tuple(order.shape)}")
    _check_int("length", length, 2)
    max_lag = length - 1 if max_lag is None else _check_int("max_lag", max_lag)
    B, R = order.shape
    onehot = F.one_hot(order, length).float()                          # (B, R, T)
    done = onehot.cumsum(1).clamp(max=1)                               # recalled by output r
    avail = 1.0 - done[:, :-1]                                         # (B, R-1, T) before output r+1
    src = order[:, :-1]                                                # (B, R-1) from position i
    pos = torch.arange(length, device=order.device)
    lag_all = pos[None, None, :] - src[..., None] + (length - 1)       # (B, R-1, T) shifted lags
    possible = torch.zeros(2 * length - 1, device=order.device).index_add_(
        0, lag_all.reshape(-1), avail.reshape(-1))
    made_lag = (order[:, 1:] - src + (length - 1)).reshape(-1)
    made = torch.zeros(2 * length - 1, device=order.device).index_add_(
        0, made_lag, torch.ones_like(made_lag, dtype=torch.float))
    crp = made / possible                                              # NaN where possible == 0
    crp[length - 1] = float("nan")
    lags = torch.arange(-(length - 1), length, device=order.device)
    keep = lags.abs() <= max_lag
    return lags[keep], crp[keep]


def temporal_contiguity(drift: float = 0.5, *, n_lists: int = 2000, length: int = 16,
                        dim: int = 64, n_recalls: int = 8, sensitivity: float = 10.0,
                        reinstate: float = 0.3, max_lag: int = 5, seed: int = 0,
                        device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Study lists under a drifting context, free-recall them, return ``(lags, crp)``.

    Explained in Chapter 2, §Free recall and temporal contiguity.

    >>> lags, crp = temporal_contiguity(0.5, n_lists=500)
    >>> int(lags[crp.nan_to_num(-1).argmax()])
    1
    """
    g = torch.Generator().manual_seed(seed)
    with cpu_threads(1):     # a loop of small operations: one thread is faster (measured ~10x)
        keys, items = drifting_context(n_lists, length, dim, drift, g, device)
        order = free_recall(keys, items, drift, n_recalls, g, sensitivity, reinstate)
        return crp_by_lag(order, length, max_lag)
