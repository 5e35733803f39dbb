"""Dense associative memory: Krotov & Hopfield's energy, its update, and how its capacity scales.

Krotov & Hopfield (2016) store ``P`` patterns ``ξ_μ ∈ {±1}^d`` in the energy
``E(σ) = -Σ_μ F(ξ_μ · σ)`` and recall by flipping each neuron to the sign that lowers it:

    σ_i ← sgn Σ_μ [F(ξ_μi + h_μi) - F(-ξ_μi + h_μi)],   h_μi = Σ_{j≠i} ξ_μj σ_j.

``F(x) = x²`` is the classical Hopfield network; the rectified polynomial ``F(x) = max(x, 0)ⁿ``
stores about ``d^(n-1)`` patterns (their estimate ``d^(n-1) / (2 (2n-3)!! ln d)`` for recall
without error), and ``F(x) = exp(x)`` (Demircigil et al. 2017; the modern Hopfield network of
Ramsauer et al. 2021 with β = 1) exponentially many.

The update is a read in dual form (Eq 3). With ``s_μ = ξ_μ · σ`` and ``h_μi = s_μ - ξ_μi σ_i``
the bracket equals ``ξ_μi A(s_μ) + σ_i B(s_μ)`` exactly, where
``A(s) = [F(s+2) - F(s-2)] / 2`` and ``B(s) = -[F(s+2) - 2F(s) + F(s-2)] / 2`` (check the two
cases ``ξ_μi σ_i = ±1``). So the field is one :func:`kvlib.kernels.retrieve` with dot
similarity, separation ``A`` and the patterns as values, plus ``σ_i`` times a second read of
``B`` (values 1): the second term removes each neuron's influence on itself. For ``F = exp``,
``A`` and ``B`` are ``e^s sinh 2`` and ``-e^s (cosh 2 - 1)``, and dividing by ``Σ e^s`` turns
the first read into a softmax read: ``sgn(sinh 2 · softmax-read_i - (cosh 2 - 1) σ_i)``.

:func:`dense_capacity` measures the capacity as the largest ``P`` whose one-step bit error
from cues with a fixed fraction of flipped bits stays below a threshold, and
:func:`capacity_estimate` is the signal-to-noise estimate of the same quantity (Gaussian
cross-talk; by construction it scales as ``d^(n-1)``, the measurement need not).
Explained in Chapter 1, §Dense associative memory. Axis names: P patterns, d neurons, B cues.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import float64_device
from kvlib.device import generator as seed_stream
from kvlib.device import progress as progress_bar

__all__ = ["ENERGIES", "energy", "energy_field", "dense_step", "flip_cues", "dense_bit_error",
           "dense_capacity", "capacity_estimate", "overlap_rate", "capacity_scaling"]

#: The interaction functions F: the rectified polynomial ``max(x, 0)ⁿ`` and the exponential.
ENERGIES = ("polynomial", "exponential")
_LARGEST_TABLE = 2 ** 25           # patterns x neurons held at once (256 MiB in float64)


def _check(energy_kind: str, degree: int) -> tuple[str, int]:
    energy_kind = check.option("kind", energy_kind, ENERGIES)
    degree = check.count("degree", degree, minimum=2)
    return energy_kind, degree


def _patterns(name: str, x: object) -> torch.Tensor:
    x = check.tensor(name, x, ndim=2, dtype="pm1", nonempty=True)
    return x.to(float64_device(x.device), torch.float64)


def energy(states: torch.Tensor, patterns: torch.Tensor, kind: str = "polynomial",
           degree: int = 3) -> torch.Tensor:
    """Krotov & Hopfield's energy ``E(σ) = -Σ_μ F(ξ_μ · σ)`` of each state: (B, d), (P, d) → (B,).

    >>> X = torch.tensor([[1., 1., -1.]]); energy(X, X, degree=2)
    tensor([-9.], dtype=torch.float64)
    """
    kind, degree = _check(kind, degree)
    X = _patterns("patterns", patterns)
    S = _patterns("states", states).to(X.device)
    if S.shape[1] != X.shape[1]:
        raise ValueError(f"states: expected {X.shape[1]} neurons (the patterns'), got shape {tuple(S.shape)}")
    s = kernels.dot(S, X)                                              # (B, P) overlaps
    if kind == "exponential":
        return -s.exp().sum(-1)
    return -s.clamp(min=0).pow(degree).sum(-1)


def _differences(kind: str, degree: int):
    """The separations ``A(s)`` and ``B(s)`` of the module's docstring, for one F."""
    if kind == "exponential":
        return None, None                          # handled as a softmax read (see energy_field)

    def F(x: torch.Tensor) -> torch.Tensor:
        return x.clamp(min=0).pow(degree)

    def A(s: torch.Tensor) -> torch.Tensor:
        return (F(s + 2) - F(s - 2)) / 2

    def B(s: torch.Tensor) -> torch.Tensor:
        return -(F(s + 2) - 2 * F(s) + F(s - 2)) / 2
    return A, B


def energy_field(states: torch.Tensor, patterns: torch.Tensor, kind: str = "polynomial",
                 degree: int = 3) -> torch.Tensor:
    """The field ``Σ_μ [F(ξ_μi + h_μi) - F(-ξ_μi + h_μi)]`` of every neuron: (B, d), (P, d) → (B, d).

    Its sign is Krotov & Hopfield's update. Two reads through :func:`kvlib.kernels.retrieve`
    (see the module's docstring); for ``kind="exponential"`` the field is divided by
    ``Σ_μ e^(ξ_μ·σ)`` (a positive factor, so its sign is unchanged), which keeps it finite.
    ``degree``: the ``n`` of ``F(x) = max(x, 0)ⁿ`` (ignored for the exponential).
    Computed in float64 (on the CPU where the device has none).

    >>> X = torch.tensor([[1., 1., -1., 1.]]); energy_field(X, X, degree=2)   # F(3+1)-F(3-1) = 12
    tensor([[ 12.,  12., -12.,  12.]], dtype=torch.float64)
    """
    kind, degree = _check(kind, degree)
    X = _patterns("patterns", patterns)
    S = _patterns("states", states).to(X.device)
    if S.shape[1] != X.shape[1]:
        raise ValueError(f"states: expected {X.shape[1]} neurons (the patterns'), got shape {tuple(S.shape)}")
    ones = X.new_ones(X.shape[0], 1)
    if kind == "exponential":                                           # softmax read, minus self-term
        read = kernels.retrieve(S, X, X, "dot", "softmax", beta=1.0)     # (B, d)
        return math.sinh(2.0) * read - (math.cosh(2.0) - 1.0) * S
    A, B = _differences(kind, degree)
    signal = kernels.retrieve(S, X, X, "dot", A)                       # Σ_μ ξ_μ A(s_μ): (B, d)
    self_term = kernels.retrieve(S, X, ones, "dot", B)                 # Σ_μ B(s_μ): (B, 1)
    return signal + S * self_term


def dense_step(states: torch.Tensor, patterns: torch.Tensor, kind: str = "polynomial",
               degree: int = 3) -> torch.Tensor:
    """One synchronous update ``σ ← sgn(field)`` (a zero field keeps the neuron's state): (B, d).

    Krotov & Hopfield update one neuron at a time; the book updates all at once from the cue
    and scores that single step (flagged: the capacity measured is that of one step).

    >>> X = torch.tensor([[1., 1., -1., 1., 1.]]); dense_step(X * torch.tensor([1., 1., 1., 1., -1.]), X)
    tensor([[ 1.,  1., -1.,  1.,  1.]], dtype=torch.float64)
    """
    S = _patterns("states", states)
    field = energy_field(S, patterns, kind, degree)
    S = S.to(field.device)
    return torch.where(field > 0, 1.0, torch.where(field < 0, -1.0, S)).to(field.dtype)


def flip_cues(patterns: torch.Tensor, n_flips: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each pattern with exactly ``n_flips`` of its bits flipped, chosen at random: (B, d) → (B, d).

    >>> X = torch.ones(2, 10); int((flip_cues(X, 3, torch.Generator().manual_seed(0)) < 0).sum())
    6
    """
    X = check.tensor("patterns", patterns, ndim=2, dtype="pm1")
    n_flips = check.count("n_flips", n_flips)
    if n_flips > X.shape[1]:
        raise ValueError(f"n_flips: expected at most the {X.shape[1]} bits of a pattern, got {n_flips}")
    check.generator("generator", generator)
    order = torch.rand(X.shape, generator=generator).argsort(dim=1)[:, :n_flips]     # (B, n_flips)
    sign = torch.ones(X.shape, dtype=X.dtype).scatter_(1, order, -1.0)
    return X * sign.to(X.device)


def _error(X: torch.Tensor, n_patterns: int, cues: torch.Tensor, kind: str, degree: int) -> float:
    """Bit error of one step from ``cues`` (of the first patterns) with the first ``n_patterns`` stored."""
    B = min(cues.shape[0], n_patterns)
    out = dense_step(cues[:B], X[:n_patterns], kind, degree)
    return float((out != X[:B]).double().mean())


def _draw(d: int, P: int, n_flips: int, n_cues: int, seed: int, device: torch.device):
    X = 2.0 * torch.randint(0, 2, (P, d), generator=seed_stream(seed, "dense patterns")) - 1.0
    cues = flip_cues(X[:n_cues], n_flips, seed_stream(seed, "dense cues"))
    dev = float64_device(device)
    return X.to(dev, torch.float64), cues.to(dev, torch.float64)


def dense_bit_error(n_patterns: int, d: int, kind: str = "polynomial", degree: int = 3, *,
                    flip: float = 0.1, n_cues: int = 64, seed: int = 0,
                    device: str | torch.device = "cpu") -> float:
    """Fraction of wrong bits after one update from cues with ``round(flip·d)`` bits flipped.

    ``n_patterns`` random ±1 patterns of ``d`` neurons are stored; the first ``n_cues`` of them
    (at most all) are cued. Seeded streams ``"dense patterns"``, ``"dense cues"``.
    """
    kind, degree = _check(kind, degree)
    P, d = check.count("n_patterns", n_patterns, 1), check.count("d", d, 2)
    flip = check.number("flip", flip, low=0.0, high=0.5, high_open=True)
    n_cues = check.count("n_cues", n_cues, 1)
    dev = check.device("device", device)
    if P * d > _LARGEST_TABLE:
        raise ValueError(f"n_patterns: expected n_patterns x d <= {_LARGEST_TABLE}, got {P} x {d}")
    X, cues = _draw(d, P, round(flip * d), min(n_cues, P), check.seed("seed", seed), dev)
    return _error(X, P, cues, kind, degree)


def capacity_estimate(d: int, degree: int = 3, *, flip: float = 0.1, error: float = 0.01) -> float:
    """Signal-to-noise estimate of the capacity of ``F = max(x, 0)ⁿ`` at bit error ``error``.

    One step from a cue at overlap ``m = 1 - 2 flip``: the stored pattern's term is
    ``2n (m d)^(n-1)``; each other pattern adds ``±2n h₊^(n-1)``, ``h ~ N(0, d)``, of variance
    ``4n² d^(n-1) (2n-3)!! / 2`` (half of the Gaussian moment: rectified). Gaussian cross-talk
    gives a bit error ``Φ(-signal / noise)``, so ``P ≈ 2 m^(2n-2) d^(n-1) / ((2n-3)!! z²)``,
    ``z = Φ⁻¹(1 - error)``: Krotov & Hopfield's ``d^(n-1) / (2 (2n-3)!! ln d)`` with ``2 ln d``
    (their no-error criterion) replaced by ``z²`` and a factor 2 for the rectification.

    >>> round(capacity_estimate(100, 2, flip=0.0, error=0.0227501), 1)   # z = 2
    50.0
    """
    d = check.count("d", d, 2)
    n = check.count("degree", degree, 2)
    m = 1.0 - 2.0 * check.number("flip", flip, low=0.0, high=0.5, high_open=True)
    error = check.number("error", error, low=0.0, high=0.5, low_open=True, high_open=True)
    z = math.sqrt(2.0) * torch.erfinv(torch.tensor(1.0 - 2.0 * error, dtype=torch.float64)).item()
    double_factorial = math.prod(range(2 * n - 3, 0, -2))
    return 2.0 * m ** (2 * n - 2) * d ** (n - 1) / (double_factorial * z * z)


def overlap_rate(flip: float) -> float:
    """The large-deviation rate ``I(m)`` with which random patterns as close to a cue as its own are rare.

    A random ±1 pattern has overlap at least ``m = 1 - 2 flip`` with a cue with probability
    about ``e^(-d I(m))``, ``I(m) = [(1+m) ln(1+m) + (1-m) ln(1-m)] / 2`` (Cramér), so about
    ``e^(d I(m))`` patterns can be stored before one of them outscores the cued one: the
    exponential growth rate of a memory that reads by the best match (``ln 2`` at ``m = 1``).

    >>> round(overlap_rate(0.1), 4)
    0.3681
    """
    m = 1.0 - 2.0 * check.number("flip", flip, low=0.0, high=0.5, high_open=True)
    return ((1 + m) * math.log1p(m) + (1 - m) * math.log1p(-m)) / 2 if m < 1 else math.log(2.0)


def _upper(d: int, kind: str, degree: int, flip: float, error: float) -> int:
    """A first guess above the capacity (grown by doubling if it is not)."""
    if kind == "polynomial":
        return int(4 * capacity_estimate(d, degree, flip=flip, error=error)) + 16
    return int(4 * math.exp(d * overlap_rate(flip))) + 16


def dense_capacity(d: int, kind: str = "polynomial", degree: int = 3, *, flip: float = 0.1,
                   error: float = 0.01, n_cues: int = 64, seeds: Sequence[int] = (0, 1, 2),
                   device: str | torch.device = "cpu") -> float:
    """The largest number of patterns whose one-step bit error stays at most ``error``, mean over seeds.

    For each seed, random patterns are drawn once and the number stored (a prefix of them) is
    found by bisection, doubling the draw while even all of it stays below ``error`` (bit
    error grows with the load, up to sampling noise). Cues: the first ``n_cues`` patterns with
    ``round(flip·d)`` bits flipped. Explained in Chapter 1, §Dense associative memory.
    """
    kind, degree = _check(kind, degree)
    d = check.count("d", d, 2)
    flip = check.number("flip", flip, low=0.0, high=0.5, high_open=True)
    error = check.number("error", error, low=0.0, high=0.5, low_open=True, high_open=True)
    n_cues = check.count("n_cues", n_cues, 1)
    seeds = check.sequence("seeds", seeds, check.seed)
    dev = check.device("device", device)
    found = []
    for seed in seeds:                                       # independent memories
        hi = _upper(d, kind, degree, flip, error)
        while True:                                          # grow the draw until it fails
            if hi * d > _LARGEST_TABLE:
                raise ValueError(f"d: the capacity at d = {d} needs more than {_LARGEST_TABLE} "
                                 f"pattern entries; choose a smaller d or degree")
            X, cues = _draw(d, hi, round(flip * d), n_cues, seed, dev)
            if _error(X, hi, cues, kind, degree) > error:
                break
            hi *= 2
        lo = 0                                               # lo passes (0 patterns), hi fails
        while hi - lo > 1:                                   # bisection: the loop is the search
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if _error(X, mid, cues, kind, degree) <= error else (lo, mid)
        found.append(lo)
    return sum(found) / len(found)


def capacity_scaling(dims: Sequence[int], degrees: Sequence[int] = (2, 3, 4), *,
                     exponential_dims: Sequence[int] = (), flip: float = 0.1, error: float = 0.01,
                     n_cues: int = 64, seeds: Sequence[int] = (0, 1, 2),
                     device: str | torch.device = "cpu", progress: bool = False) -> dict:
    """Capacity against ``d`` for each degree, the log-log slopes, and the exponential's growth rate.

    ``dims``: a list of ``d`` used for every degree, or a dict ``{degree: dims}``. Returns
    ``{"dims", "capacity", "estimate", "slope", "exponential": {"dims", "capacity", "rate"}}``:
    ``slope[n]`` is the least-squares slope of ``log P`` against ``log d`` (``n - 1`` if the
    capacity scales as Krotov & Hopfield say); ``rate`` is that of ``ln P`` against ``d``
    (constant for exponential growth; None where fewer than two ``d`` are given), beside
    :func:`overlap_rate` (``rate_estimate``).
    The estimates use the flipped fraction ``round(flip·d)/d`` each ``d`` really has.
    """
    degrees = check.sequence("degrees", degrees, lambda n, v: check.count(n, v, 2), distinct=True)
    if isinstance(dims, dict):
        per = {n: check.sequence(f"dims[{n}]", dims.get(n, ()), lambda k, v: check.count(k, v, 2))
               for n in degrees}
    else:
        per = dict.fromkeys(degrees, check.sequence("dims", dims, lambda k, v: check.count(k, v, 2)))
    exp_dims = check.sequence("exponential_dims", exponential_dims, lambda k, v: check.count(k, v, 2),
                              nonempty=False)
    check.flag("progress", progress)
    common = dict(flip=flip, error=error, n_cues=n_cues, seeds=seeds, device=device)
    cap, est, slope = {}, {}, {}
    jobs = [(n, d) for n in degrees for d in per[n]]
    for n, d in progress_bar(jobs, enabled=progress, desc="dense capacity"):
        cap.setdefault(n, []).append(dense_capacity(d, "polynomial", n, **common))
        est.setdefault(n, []).append(capacity_estimate(d, n, flip=round(flip * d) / d, error=error))
    for n in degrees:
        slope[n] = _fit([math.log(d) for d in per[n]], [math.log(max(c, 0.5)) for c in cap[n]])
    exp_cap = [dense_capacity(d, "exponential", **common) for d in exp_dims]
    rate = _fit([float(d) for d in exp_dims], [math.log(max(c, 0.5)) for c in exp_cap])
    return {"dims": per, "capacity": cap, "estimate": est, "slope": slope, "flip": flip, "error": error,
            "exponential": {"dims": list(exp_dims), "capacity": exp_cap, "rate": rate,
                            "rate_estimate": overlap_rate(flip)}}


def _fit(x: list[float], y: list[float]) -> float | None:
    """Least-squares slope of y on x (None for fewer than two distinct x)."""
    if len(set(x)) < 2:
        return None
    mx, my = sum(x) / len(x), sum(y) / len(y)
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)
