"""How many random key-value pairs a fast-weight memory gives back, per feature map (the book's test).

N random pairs (Gaussian keys, ±1 values) are written into one fast weight through a feature
map φ (identity: Kohonen's memory; elu + 1; DPFP-ν; see :func:`kvlib.fastweights.feature_map`)
by the sum or the delta rule (:mod:`kvlib.fastweights`), and each key is then read back. The
fraction read correctly falls as N passes a capacity that tracks the *effective* dimension of
the features (:func:`effective_dimension`), not their nominal m. Softmax attention over the
stored pairs is the comparison. Not Schlag et al.'s task, whose keys are learned
(:mod:`kvlib.associative_retrieval`).

Explained in Chapter 1 (``book/01_kernels.ipynb``), §"Linear attention is a fast weight
programmer". Axis names: N pairs, d_key, d_value, m features; row vectors.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from kvlib import _checks as check
from kvlib.fastweights import RULES, delta_values, feature_map
from kvlib.kernels import retrieve

__all__ = ["effective_dimension", "associative_capacity", "accuracy_crossing"]


def effective_dimension(features: str, d_key: int, *, n: int = 4096, seed: int = 0) -> float:
    """Participation ratio ``1 / tr(C²)`` of unit-length features φ(k) of Gaussian keys.

    ``C = E[φ̂ φ̂ᵀ]`` (uncentred, since cross-talk between stored pairs is the raw dot
    product φ̂(k)·φ̂(k')). It equals m for features spread evenly over m orthogonal
    directions and 1 when all features point the same way; a shared positive mean, as in
    elu+1 and DPFP, lowers it. Estimated from ``n`` keys. Not in Schlag et al.: the book's
    measure of how many directions random keys really use. Explained in Chapter 1,
    §"Linear attention is a fast weight programmer".
    """
    phi = feature_map(features)
    d_key = check.positive("d_key", d_key, integer=True)
    n = check.positive("n", n, integer=True)
    g = torch.Generator().manual_seed(check.seed("seed", seed))
    x = F.normalize(phi(torch.randn(n, d_key, generator=g, dtype=torch.float64)), dim=-1)
    c = x.T @ x / x.shape[0]                                           # (m, m) second moment
    return float(1.0 / c.square().sum())


def _map_name(name: str, value: object) -> str:
    """A feature-map name for :func:`associative_capacity` (a map, or ``"softmax"``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a feature-map name such as 'elu1' or 'softmax', got {value!r}")
    if value != "softmax":
        feature_map(value)                                     # raises for an unknown name
    return value


def associative_capacity(n_pairs: Sequence[int], *, d_key: int = 32, d_value: int = 64,
                         features: Sequence[str] = ("identity", "elu1", "dpfp1", "dpfp2", "dpfp3",
                                                    "softmax"),
                         seeds: int = 2, beta: float = 4.0, rule: str = "sum",
                         device: torch.device | str = "cpu") -> dict:
    """How many *random* key-value pairs a fast-weight memory gives back, per feature map.

    The book's variant (not Schlag et al.'s task: see
    :func:`kvlib.learned_capacity.retrieval_capacity`). N random pairs (standard Gaussian keys
    in R^{d_key}, random ±1 values in R^{d_value}) are
    written through a feature map, each φ(k) scaled to unit length: with the sum rule,
    ``M = Σₙ φ(kₙ)ᵀ vₙ`` (Eq 1 after N steps, one product); with the delta rule (β_t = 1,
    pairs written in order) the values actually written come from one triangular solve
    (:func:`kvlib.fastweights.delta_values`) and ``M = Σₙ φ(kₙ)ᵀ uₙ``. φ = identity (Kohonen;
    m = d_key), elu+1 (m = d_key) or DPFP-ν (m = 2ν d_key). ``"softmax"`` instead reads the
    stored pairs by softmax attention on the scaled dot product with inverse temperature β
    (Eqs 5-6; no update rule). Each key is then the query after the last write; the read is
    correct when the stored value with the largest dot product with it is its own (nearest
    stored value, not an exact read). Also returns each map's feature dimension and
    :func:`effective_dimension`. Explained in Chapter 1, §"Linear attention is a fast
    weight programmer".
    """
    n_pairs = check.sequence("n_pairs", n_pairs, lambda n, v: check.count(n, v, 1))
    d_key = check.positive("d_key", d_key, integer=True)
    d_value = check.positive("d_value", d_value, integer=True)
    features = check.sequence("features", features, _map_name, distinct=True)
    seeds = check.positive("seeds", seeds, integer=True)
    beta = check.number("beta", beta, low=0)
    if not isinstance(rule, str) or rule not in RULES:
        raise ValueError(f"rule: expected one of {', '.join(RULES)}, got {rule!r}")
    device = check.device("device", device)
    maps = {name: feature_map(name) for name in features if name != "softmax"}
    dims = {name: int(phi(torch.zeros(1, d_key)).shape[-1]) for name, phi in maps.items()}
    acc: dict[str, list[float]] = {f: [] for f in features}
    for n in n_pairs:                                                  # a sweep over memory sizes
        n = int(n)
        tot = dict.fromkeys(features, 0.0)
        for s in range(int(seeds)):
            g = torch.Generator().manual_seed(1000 * s + n)
            keys = torch.randn(n, d_key, generator=g).to(device)                        # (N, d_key)
            vals = (2.0 * torch.randint(0, 2, (n, d_value), generator=g) - 1.0).to(device)
            for name in features:
                if name == "softmax":
                    out = retrieve(keys, keys, vals, "scaled_dot", "softmax", beta=beta)
                else:
                    phi = F.normalize(maps[name](keys), dim=-1)        # (N, m), unit rows
                    u = vals if rule == "sum" else delta_values(phi, vals)
                    out = phi @ (phi.T @ u)                            # read φ(k) M, M = φ(K)ᵀ U
                best = (out @ vals.T).argmax(dim=1)                    # nearest stored value
                tot[name] += float((best == torch.arange(n, device=best.device)).double().mean())
        for name in features:
            acc[name].append(tot[name] / int(seeds))
    return {"n_pairs": [int(n) for n in n_pairs], "accuracy": acc, "feature_dim": dims,
            "effective_dim": {name: effective_dimension(name, d_key) for name in maps},
            "d_key": d_key, "d_value": d_value, "rule": rule}


def accuracy_crossing(n_pairs: Sequence[int], accuracy: Sequence[float], level: float = 0.5) -> float:
    """The memory size at which accuracy first falls below ``level``, interpolated in log N.

    Returns ``n_pairs[0]`` if even the smallest memory is below ``level`` and
    ``inf`` if the accuracy never falls below it on the grid.

    >>> accuracy_crossing([10, 100, 1000], [1.0, 0.75, 0.25])
    316.22776601683796
    """
    n_pairs = check.sequence("n_pairs", n_pairs, lambda n, v: check.count(n, v, 1))
    accuracy = check.sequence("accuracy", accuracy, lambda n, v: check.number(n, v))
    level = check.number("level", level)
    if len(n_pairs) != len(accuracy) or not n_pairs:
        raise ValueError(f"accuracy: expected one value per memory size ({len(n_pairs)}), "
                         f"got {len(accuracy)}")
    if accuracy[0] < level:
        return float(n_pairs[0])
    for i in range(1, len(n_pairs)):
        if accuracy[i] < level:
            a0, a1 = accuracy[i - 1], accuracy[i]
            l0, l1 = math.log(n_pairs[i - 1]), math.log(n_pairs[i])
            return float(math.exp(l0 + (a0 - level) / (a0 - a1) * (l1 - l0)))
    return math.inf
