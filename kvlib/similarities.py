"""Similarities S(K, q): how well a query matches each stored key (Eqs 2, 4 and 5).

The first half of a read from a key-value memory in its dual form (Eq 3): a score for every
(query, key) pair, which a separation (:mod:`kvlib.separations`) then turns into weights and
:func:`kvlib.kernels.retrieve` into a read. Every similarity takes queries (..., B, d) and
keys (..., N, d) and returns scores (..., B, N); leading (batch) axes broadcast, 2-D inputs
are the common case. Larger scores mean more similar, so distances enter negated.

Some similarities are kernels written through a feature map φ (Eq 4),
``S(K, q) = φ(q) φ(K)ᵀ``; the maps are here too (:data:`FEATURE_MAPS`,
:func:`feature_kernel`), because the fast weights of Chapter 1 use the same maps.

Explained in Chapter 1 (``book/01_kernels.ipynb``), §"One read, many memories".
Axis names (``book/appendix/notation.md``): B queries, N memories, d dims, m features.
Row vectors throughout, as in the paper.
"""
from __future__ import annotations

import contextvars
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from kvlib import _checks as check

__all__ = [
    "dot", "scaled_dot", "cosine", "euclidean", "manhattan", "rbf", "elu1", "dpfp",
    "l1_dot", "inverse_euclidean", "inverse_manhattan", "SIMILARITIES", "get_similarity",
    "identity_features", "elu_plus_one", "dpfp_features", "FEATURE_MAPS", "feature_kernel",
    "check_rows",
]

#: A similarity ``S(queries, keys, **settings) -> scores``.
Similarity = Callable[..., torch.Tensor]


# ---------------------------------------------------------------------------
# Input checks: errors name the argument, the expectation and what was received.
# ---------------------------------------------------------------------------

#: True while :func:`kvlib.kernels.retrieve` calls similarities on inputs it has already
#: checked, so that a read checks each tensor once, not once per block of queries.
INPUTS_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("kvlib_inputs_checked",
                                                                        default=False)


def _broadcast(a: tuple, b: tuple) -> tuple | None:
    """Broadcast two shapes (None if they do not broadcast); plain Python, no torch overhead."""
    out = []
    for x, y in zip((1,) * (len(b) - len(a)) + tuple(a), (1,) * (len(a) - len(b)) + tuple(b)):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y) if 0 not in (x, y) else 0)
    return tuple(out)


def check_rows(queries: torch.Tensor, keys: torch.Tensor) -> None:
    """Check the inputs of a similarity: queries (..., B, d) and keys (..., N, d), floating point
    and finite, with the same d, dtype and device and leading axes that broadcast.

    For a hand-written similarity: call it first, and bad input is a clear error.

    >>> check_rows(torch.zeros(2, 3), torch.zeros(4, 3))
    >>> check_rows(torch.zeros(2, 3), torch.zeros(4, 5))
    Traceback (most recent call last):
    ValueError: keys: expected dimension d = 3 (the queries' last axis), got keys of shape (4, 5)
    """
    if INPUTS_CHECKED.get():
        return
    check.tensor("queries", queries, dtype="float-strict", finite=False)
    check.tensor("keys", keys, dtype="float-strict", finite=False)
    if queries.ndim < 2:
        raise ValueError(f"queries: expected shape (..., B, d), got {tuple(queries.shape)}")
    if keys.ndim < 2:
        raise ValueError(f"keys: expected shape (..., N, d), got {tuple(keys.shape)}")
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError(f"keys: expected dimension d = {queries.shape[-1]} (the queries' last axis), "
                         f"got keys of shape {tuple(keys.shape)}")
    if (queries.ndim > 2 or keys.ndim > 2) and _broadcast(queries.shape[:-2], keys.shape[:-2]) is None:
        raise ValueError(f"keys: expected leading (batch) axes that broadcast with the queries' "
                         f"{tuple(queries.shape[:-2])}, got keys of shape {tuple(keys.shape)}")
    if keys.dtype != queries.dtype:
        raise ValueError(f"keys: expected dtype {queries.dtype} (the queries' dtype), got {keys.dtype}")
    if keys.device != queries.device:
        raise ValueError(f"keys: expected device {queries.device} (the queries' device), got {keys.device}")
    for name, x in (("queries", queries), ("keys", keys)):
        if not check.all_finite(x):
            raise ValueError(f"{name}: expected finite values, got NaN or inf")


def _check_features(name: str, x: object) -> torch.Tensor:
    """A feature map's input: a finite floating-point tensor with at least one axis."""
    if INPUTS_CHECKED.get():
        return x
    return check.tensor(name, x, ndim=range(1, 64), dtype="float-strict")


# ---------------------------------------------------------------------------
# Similarities S(q, K): queries (..., B, d), keys (..., N, d) -> scores (..., B, N).
# Leading (batch) axes broadcast; 2-D inputs are the common case.
# ---------------------------------------------------------------------------

def dot(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Linear kernel ``q Kᵀ`` (the similarity inside Eqs 2-3).

    >>> dot(torch.tensor([[1., 2.]]), torch.tensor([[1., 0.], [0., 1.]]))
    tensor([[1., 2.]])
    """
    check_rows(queries, keys)
    return queries @ keys.transpose(-1, -2)                   # (B, d) @ (d, N) -> (B, N)


def scaled_dot(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Scaled dot product ``q Kᵀ / √d`` (Eq 5), the similarity of transformer attention."""
    check_rows(queries, keys)
    return (queries / math.sqrt(queries.shape[-1])) @ keys.transpose(-1, -2)   # scale rows, not B×N


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm, safe for huge and tiny rows (zero rows stay zero)."""
    # Divide by the largest |entry| first so the norm neither overflows nor underflows.
    scale = x.abs().amax(dim=-1, keepdim=True)
    x = x / torch.where(scale > 0, scale, torch.ones_like(scale))
    return F.normalize(x, dim=-1)


def cosine(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Cosine similarity, ``q̂ K̂ᵀ`` with unit-norm rows; in [-1, 1] whatever the input scale."""
    check_rows(queries, keys)
    return _unit_rows(queries) @ _unit_rows(keys).transpose(-1, -2)


def euclidean(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Negative squared Euclidean distance ``-‖q - k_n‖²`` (larger = more similar).

    Computed as ``2 q·k - ‖q‖² - ‖k‖²`` with one matrix product (no (B, N, d) tensor);
    clamped at 0 from above, where rounding could make it slightly positive.
    """
    check_rows(queries, keys)
    q2 = queries.square().sum(-1, keepdim=True)              # (..., B, 1)
    k2 = keys.square().sum(-1).unsqueeze(-2)                  # (..., 1, N)
    if queries.ndim == 2 and keys.ndim == 2:                  # one fused product in the common case
        scores = torch.addmm(k2, queries, keys.T, beta=-1.0, alpha=2.0)           # (B, N)
    else:
        scores = (2.0 * queries) @ keys.transpose(-1, -2) - k2
    scores = scores - q2
    return scores.clamp_(max=0.0)


def manhattan(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Negative Manhattan (L1) distance ``-Σ_i |q_i - k_ni|``."""
    check_rows(queries, keys)
    if queries.ndim > 2 or keys.ndim > 2:                     # cdist wants equal batch axes
        lead = _broadcast(queries.shape[:-2], keys.shape[:-2])
        queries = queries.expand(*lead, *queries.shape[-2:])
        keys = keys.expand(*lead, *keys.shape[-2:])
    return torch.cdist(queries.contiguous(), keys.contiguous(), p=1.0).neg_()   # (..., B, N)


def rbf(queries: torch.Tensor, keys: torch.Tensor, bandwidth: float = 1.0) -> torch.Tensor:
    """Radial basis function kernel ``exp(-‖q - k‖² / (2 h²))`` with bandwidth ``h``.

    The kernel Tsai et al. (2019) found best for attention (paper §2.1, after Eq 4).
    """
    check.positive("bandwidth", bandwidth)
    return euclidean(queries, keys).div_(2.0 * bandwidth ** 2).exp_()


# ---------------------------------------------------------------------------
# Feature maps φ (Eq 4): S(K, q) = φ(q) φ(K)ᵀ. Applied to the last axis.
# ---------------------------------------------------------------------------

def identity_features(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = x: recovers the linear kernel of Eq 2."""
    return _check_features("x", x)


def elu_plus_one(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = elu(x) + 1 > 0, the map of linear attention (Katharopoulos et al. 2020)."""
    return F.elu(_check_features("x", x)) + 1.0


def dpfp_features(x: torch.Tensor, nu: int = 1) -> torch.Tensor:
    """Deterministic parameter-free projection DPFP-ν (Schlag et al. 2021): (..., d) -> (..., 2νd).

    With ``r = [relu(x), relu(-x)]`` (2d entries), feature ``(j, i)`` is ``r_i · r_{i+j}``
    (indices modulo 2d) for shifts j = 1..ν, so the feature dimension grows with ν.
    """
    check.positive("nu", nu, integer=True)
    x = _check_features("x", x)
    r = torch.cat([F.relu(x), F.relu(-x)], dim=-1)                       # (..., 2d)
    # A loop over the ν shifts (ν is 1-3), not over memories.
    return torch.cat([r * torch.roll(r, shifts=j, dims=-1) for j in range(1, int(nu) + 1)], dim=-1)


#: Feature maps φ by name (Eq 4): ``identity``, ``elu1`` (elu + 1), ``dpfp`` (takes ``nu``).
FEATURE_MAPS: dict[str, Callable[..., torch.Tensor]] = {
    "identity": identity_features,
    "elu1": elu_plus_one,
    "dpfp": dpfp_features,
}


def feature_kernel(phi: Callable[[torch.Tensor], torch.Tensor]) -> Similarity:
    """The similarity ``S(K, q) = φ(q) φ(K)ᵀ`` of a feature map (Eq 4).

    >>> S = feature_kernel(identity_features)
    >>> bool(torch.equal(S(torch.eye(2), torch.eye(2)), torch.eye(2)))
    True
    """
    if not callable(phi):
        raise TypeError(f"phi: expected a callable feature map, got {type(phi).__name__}")

    def similarity(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        check_rows(queries, keys)
        return phi(queries) @ phi(keys).transpose(-1, -2)     # (B, m) @ (m, N) -> (B, N)

    similarity.__name__ = f"feature_kernel({getattr(phi, '__name__', type(phi).__name__)})"
    return similarity


def elu1(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Linear-attention kernel ``φ(q)φ(K)ᵀ`` with ``φ = elu + 1`` (Eq 4)."""
    check_rows(queries, keys)
    return elu_plus_one(queries) @ elu_plus_one(keys).transpose(-1, -2)


def dpfp(queries: torch.Tensor, keys: torch.Tensor, nu: int = 1) -> torch.Tensor:
    """DPFP-ν kernel ``φ(q)φ(K)ᵀ`` (Eq 4) with the map of :func:`dpfp_features`."""
    check_rows(queries, keys)
    return dpfp_features(queries, nu) @ dpfp_features(keys, nu).transpose(-1, -2)


# Millidge et al. (2022)'s versions, as their code (functions.py) computes them. They differ
# from the book's: positive scores (reciprocal distances) and an L1-normalised dot product.

def _l1_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows divided by their L1 norm (zero rows stay zero)."""
    total = x.abs().sum(dim=-1, keepdim=True)
    return x / torch.where(total > 0, total, torch.ones_like(total))


def l1_dot(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Dot product of L1-normalised rows, ``(q/‖q‖₁)·(k/‖k‖₁)``: Millidge et al.'s "normalized dot product".

    For non-negative data such as images the L1 norm is the sum their code divides by;
    a bright (much-ink) memory no longer wins by its brightness alone. Their function also
    divides the scores by their sum, which is ``normalize_scores`` in :func:`kvlib.separations.separate`.
    """
    check_rows(queries, keys)
    return _l1_rows(queries) @ _l1_rows(keys).transpose(-1, -2)


def _inverse(dist: torch.Tensor) -> torch.Tensor:
    # Floored at machine epsilon (not in their code): an exact match scores 1/ε, not inf.
    return dist.clamp_(min=torch.finfo(dist.dtype).eps).reciprocal_()


def inverse_euclidean(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """``1 / ‖q - k‖²``: Millidge et al.'s Euclidean similarity (positive; ranks as :func:`euclidean`)."""
    return _inverse(euclidean(queries, keys).neg_())


def inverse_manhattan(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """``1 / Σ|q - k|``: Millidge et al.'s Manhattan similarity (positive; ranks as :func:`manhattan`)."""
    return _inverse(manhattan(queries, keys).neg_())


#: Similarities S(queries, keys) -> (B, N) by name; settings: ``bandwidth`` (rbf), ``nu`` (dpfp).
#: ``l1_dot``, ``inverse_euclidean`` and ``inverse_manhattan`` are Millidge et al.'s definitions.
SIMILARITIES: dict[str, Similarity] = {
    "dot": dot, "scaled_dot": scaled_dot, "cosine": cosine, "euclidean": euclidean,
    "manhattan": manhattan, "rbf": rbf, "elu1": elu1, "dpfp": dpfp,
    "l1_dot": l1_dot, "inverse_euclidean": inverse_euclidean, "inverse_manhattan": inverse_manhattan,
}


def get_similarity(similarity: str | Similarity) -> Similarity:
    """A similarity by name (see :data:`~kvlib.similarities.SIMILARITIES`) or a callable passed through."""
    return check.named("similarity", SIMILARITIES, similarity, "S(queries, keys)")

