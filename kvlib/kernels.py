"""Similarity, separation and retrieval: the dual form of a key-value memory (Eqs 3-6).

A read from a key-value memory, in its dual form (Eq 3), is

    v̂ = σ(β · S(K, q)) V,

a similarity ``S`` between the query and every stored key, a separation ``σ`` that
pushes the scores apart, and a weighted sum of the stored values. Every choice here
is a small function in a name-based registry, and :func:`retrieve` composes them::

    retrieve(q, K, V, similarity="cosine", separation="softmax", beta=20.0)

Explained in Chapter 1 (``book/01_kernels.ipynb``), §"One read, many memories".

Axis names (``book/appendix/notation.md``): B queries, N memories, d dims
(d_k for keys and queries, d_v for values), m random or explicit features.
Row vectors throughout, as in the paper: a query is a row ``q`` of shape ``(d_k,)``,
keys are the rows of ``K`` of shape ``(N, d_k)``.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import math
import time
from typing import Callable, NamedTuple, Sequence

import torch
import torch.nn.functional as F

from kvlib import _checks as check

__all__ = [
    # similarities S(q, K) -> (B, N)
    "dot", "scaled_dot", "cosine", "euclidean", "manhattan", "rbf", "elu1", "dpfp",
    "l1_dot", "inverse_euclidean", "inverse_manhattan",
    "SIMILARITIES", "get_similarity",
    # feature maps φ (Eq 4)
    "identity_features", "elu_plus_one", "dpfp_features", "FEATURE_MAPS",
    "RandomFourierFeatures", "PositiveRandomFeatures", "feature_kernel",
    # separations σ
    "identity", "softmax", "hardmax", "threshold", "polynomial", "topk",
    "SEPARATIONS", "get_separation",
    # the read
    "separate", "retrieve", "Read", "favor_attention", "random_feature_error", "benchmark_retrieve",
]

Similarity = Callable[..., torch.Tensor]
Separation = Callable[..., torch.Tensor]


# ---------------------------------------------------------------------------
# Input checks: errors name the argument, the expectation and what was received.
# ---------------------------------------------------------------------------

def _check_float(name: str, x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.device.type == "meta":
        raise ValueError(f"{name}: expected a tensor with data, got one on the meta device")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


#: Set by :func:`retrieve` while it calls similarities on inputs it has already checked, so a
#: read checks each tensor once, not once per block of queries.
_CHECKED = contextvars.ContextVar("kvlib_kernels_checked", default=False)


def _check_rows(queries: torch.Tensor, keys: torch.Tensor) -> None:
    """Queries (..., B, d) and keys (..., N, d): same d, dtype and device, broadcastable leading axes."""
    if _CHECKED.get():
        return
    _check_float("queries", queries)
    _check_float("keys", keys)
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
    _check_same("keys", keys, "queries", queries)
    for name, x in (("queries", queries), ("keys", keys)):
        if x.numel() and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name}: expected finite values, got NaN or inf")


def _needs_grad(x: torch.Tensor) -> bool:
    """Whether autograd will differentiate through ``x`` (then nothing is done in place)."""
    return x.requires_grad and torch.is_grad_enabled()


def _broadcast(a: tuple, b: tuple) -> tuple | None:
    """Broadcast two shapes (None if they do not broadcast); plain Python, no torch overhead."""
    out = []
    for x, y in zip((1,) * (len(b) - len(a)) + tuple(a), (1,) * (len(a) - len(b)) + tuple(b)):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y) if 0 not in (x, y) else 0)
    return tuple(out)


def _check_same(name: str, x: torch.Tensor, ref_name: str, ref: torch.Tensor) -> None:
    """``x`` must share ``ref``'s dtype and device."""
    if x.dtype != ref.dtype:
        raise ValueError(f"{name}: expected dtype {ref.dtype} (the {ref_name}' dtype), got {x.dtype}")
    if x.device != ref.device:
        raise ValueError(f"{name}: expected device {ref.device} (the {ref_name}' device), got {x.device}")


def _check_positive(name: str, value: object, integer: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and value > 0
    if integer:
        ok = ok and float(value).is_integer()
    if not ok:
        kind = "a positive integer" if integer else "a positive finite number"
        wrong_type = isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (integer and isinstance(value, float) and math.isfinite(value) and not value.is_integer())
        raise (TypeError if wrong_type else ValueError)(f"{name}: expected {kind}, got {value!r}")


def _check_scores(scores: object, finite: bool = False) -> torch.Tensor:
    """Scores (..., N): floating point, at least one axis; ±inf and NaN are sanitised by the
    separations that pick or exponentiate, and rejected (``finite``) by those that pass
    scores through (identity, polynomial)."""
    _check_float("scores", scores)
    if scores.ndim < 1:
        raise ValueError("scores: expected shape (..., N), got a 0-d tensor")
    if finite and scores.numel() and not bool(torch.isfinite(scores).all()):
        raise ValueError("scores: expected finite values, got NaN or inf")
    return scores


def _check_features(name: str, x: object) -> torch.Tensor:
    """A feature map's input: a finite floating-point tensor with at least one axis."""
    if _CHECKED.get():
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
    _check_rows(queries, keys)
    return queries @ keys.transpose(-1, -2)                   # (B, d) @ (d, N) -> (B, N)


def scaled_dot(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Scaled dot product ``q Kᵀ / √d`` (Eq 5), the similarity of transformer attention."""
    _check_rows(queries, keys)
    return (queries / math.sqrt(queries.shape[-1])) @ keys.transpose(-1, -2)   # scale rows, not B×N


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm, safe for huge and tiny rows (zero rows stay zero)."""
    # Divide by the largest |entry| first so the norm neither overflows nor underflows.
    scale = x.abs().amax(dim=-1, keepdim=True)
    x = x / torch.where(scale > 0, scale, torch.ones_like(scale))
    return F.normalize(x, dim=-1)


def cosine(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Cosine similarity, ``q̂ K̂ᵀ`` with unit-norm rows; in [-1, 1] whatever the input scale."""
    _check_rows(queries, keys)
    return _unit_rows(queries) @ _unit_rows(keys).transpose(-1, -2)


def euclidean(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Negative squared Euclidean distance ``-‖q - k_n‖²`` (larger = more similar).

    Computed as ``2 q·k - ‖q‖² - ‖k‖²`` with one matrix product (no (B, N, d) tensor);
    clamped at 0 from above, where rounding could make it slightly positive.
    """
    _check_rows(queries, keys)
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
    _check_rows(queries, keys)
    if queries.ndim > 2 or keys.ndim > 2:                     # cdist wants equal batch axes
        lead = _broadcast(queries.shape[:-2], keys.shape[:-2])
        queries = queries.expand(*lead, *queries.shape[-2:])
        keys = keys.expand(*lead, *keys.shape[-2:])
    return torch.cdist(queries.contiguous(), keys.contiguous(), p=1.0).neg_()   # (..., B, N)


def rbf(queries: torch.Tensor, keys: torch.Tensor, bandwidth: float = 1.0) -> torch.Tensor:
    """Radial basis function kernel ``exp(-‖q - k‖² / (2 h²))`` with bandwidth ``h``.

    The kernel Tsai et al. (2019) found best for attention (paper §2.1, after Eq 4).
    """
    _check_positive("bandwidth", bandwidth)
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
    _check_positive("nu", nu, integer=True)
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


def _gaussian_directions(d: int, m: int, orthogonal: bool, generator: torch.Generator | None,
                         device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    """m random directions in R^d, each marginally N(0, I); orthogonal within blocks of d.

    Orthogonal blocks come from the QR decomposition of Gaussian d×d matrices, with
    rows rescaled to chi-distributed norms (Choromanski et al. 2021, FAVOR+).
    Drawn on the CPU in float64 so results do not depend on the device.
    """
    _check_positive("n_features", m, integer=True)
    check.flag("orthogonal", orthogonal)
    check.generator("generator", generator)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating-point torch.dtype, got {dtype!r}")
    device = check.device("device", device)
    m = int(m)
    if not orthogonal:
        w = torch.randn(m, d, generator=generator, dtype=torch.float64)
    else:
        n_blocks = -(-m // d)
        g = torch.randn(n_blocks, d, d, generator=generator, dtype=torch.float64)
        qmat, r = torch.linalg.qr(g)                                     # (n_blocks, d, d)
        # Fix the column signs by diag(R): without this, QR's Q is not uniformly random
        # (Haar) and the random-feature estimate is biased.
        qmat = qmat * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
        rows = qmat.transpose(1, 2).reshape(n_blocks * d, d)[:m]         # orthonormal rows
        norms = torch.randn(m, d, generator=generator, dtype=torch.float64).norm(dim=1, keepdim=True)
        w = rows * norms                                                 # (m, d)
    return w.to(device=device, dtype=dtype)


class RandomFourierFeatures:
    """Random Fourier features for the RBF kernel (Rahimi & Recht 2007): (..., d) -> (..., m).

    ``φ(x) = √(2/m) cos(x ωᵀ / h + b)`` with ``ω ~ N(0, I)`` and ``b ~ U[0, 2π)``, so that
    ``E[φ(x)·φ(y)] = exp(-‖x - y‖² / (2h²))`` (Eq 4 with an infinite-dimensional kernel
    approximated by m features). Explained in Chapter 1, §"Random features".
    """

    def __init__(self, d: int, n_features: int, bandwidth: float = 1.0, *, orthogonal: bool = False,
                 generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        _check_positive("d", d, integer=True)
        _check_positive("bandwidth", bandwidth)
        self.omega = _gaussian_directions(int(d), n_features, orthogonal, generator, device, dtype)
        self.d, self.n_features, self.bandwidth = int(d), int(n_features), float(bandwidth)
        b = torch.rand(self.n_features, generator=generator, dtype=torch.float64) * (2 * math.pi)
        self.phase = b.to(device=self.omega.device, dtype=dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = check.tensor("x", x, ndim=range(1, 64), dtype="float-strict", like=self.omega,
                         like_name="the features")
        if x.shape[-1] != self.d:
            raise ValueError(f"x: expected last dimension {self.d}, got shape {tuple(x.shape)}")
        proj = x @ self.omega.T / self.bandwidth + self.phase           # (..., m)
        return torch.cos(proj) * math.sqrt(2.0 / self.n_features)


class PositiveRandomFeatures:
    """FAVOR+ positive (optionally orthogonal) random features for the softmax kernel.

    ``φ(x) = exp(x ωᵀ - ‖x‖²/2) / √m`` with ``ω ~ N(0, I)`` gives the unbiased,
    always-positive estimate ``E[φ(q)·φ(k)] = exp(q·k)`` (Choromanski et al. 2021).
    Explained in Chapter 1, §"Random features".
    """

    def __init__(self, d: int, n_features: int, *, orthogonal: bool = True,
                 generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        _check_positive("d", d, integer=True)
        self.omega = _gaussian_directions(int(d), n_features, orthogonal, generator, device, dtype)
        self.d, self.n_features = int(d), int(n_features)

    def log_features(self, x: torch.Tensor) -> torch.Tensor:
        """``log φ(x)``: (..., d) -> (..., m), before any stabilising shift."""
        x = check.tensor("x", x, ndim=range(1, 64), dtype="float-strict", like=self.omega,
                         like_name="the features")
        if x.shape[-1] != self.d:
            raise ValueError(f"x: expected last dimension {self.d}, got shape {tuple(x.shape)}")
        return x @ self.omega.T - 0.5 * x.square().sum(-1, keepdim=True) - 0.5 * math.log(self.n_features)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``φ(x)``; for large ``‖x‖`` prefer :func:`favor_attention`, which shifts the
        log-features before ``exp`` (here an entry above ~88 in float32 overflows)."""
        return self.log_features(x).exp()


def feature_kernel(phi: Callable[[torch.Tensor], torch.Tensor]) -> Similarity:
    """The similarity ``S(K, q) = φ(q) φ(K)ᵀ`` of a feature map (Eq 4).

    >>> S = feature_kernel(identity_features)
    >>> bool(torch.equal(S(torch.eye(2), torch.eye(2)), torch.eye(2)))
    True
    """
    if not callable(phi):
        raise TypeError(f"phi: expected a callable feature map, got {type(phi).__name__}")

    def similarity(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        _check_rows(queries, keys)
        return phi(queries) @ phi(keys).transpose(-1, -2)     # (B, m) @ (m, N) -> (B, N)

    similarity.__name__ = f"feature_kernel({getattr(phi, '__name__', type(phi).__name__)})"
    return similarity


def elu1(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Linear-attention kernel ``φ(q)φ(K)ᵀ`` with ``φ = elu + 1`` (Eq 4)."""
    _check_rows(queries, keys)
    return elu_plus_one(queries) @ elu_plus_one(keys).transpose(-1, -2)


def dpfp(queries: torch.Tensor, keys: torch.Tensor, nu: int = 1) -> torch.Tensor:
    """DPFP-ν kernel ``φ(q)φ(K)ᵀ`` (Eq 4) with the map of :func:`dpfp_features`."""
    _check_rows(queries, keys)
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
    divides the scores by their sum, which is ``normalize_scores`` in :func:`separate`.
    """
    _check_rows(queries, keys)
    return _l1_rows(queries) @ _l1_rows(keys).transpose(-1, -2)


def _inverse(dist: torch.Tensor) -> torch.Tensor:
    # Floored at machine epsilon (not in their code): an exact match scores 1/ε, not inf.
    return dist.clamp_(min=torch.finfo(dist.dtype).eps).reciprocal_()


def inverse_euclidean(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """``1 / ‖q - k‖²``: Millidge et al.'s Euclidean similarity (positive; same ranking as :func:`euclidean`)."""
    return _inverse(euclidean(queries, keys).neg_())


def inverse_manhattan(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """``1 / Σ|q - k|``: Millidge et al.'s Manhattan similarity (positive; same ranking as :func:`manhattan`)."""
    return _inverse(manhattan(queries, keys).neg_())


#: Similarities S(queries, keys) -> (B, N) by name; settings: ``bandwidth`` (rbf), ``nu`` (dpfp).
#: ``l1_dot``, ``inverse_euclidean`` and ``inverse_manhattan`` are Millidge et al.'s definitions.
SIMILARITIES: dict[str, Similarity] = {
    "dot": dot, "scaled_dot": scaled_dot, "cosine": cosine, "euclidean": euclidean,
    "manhattan": manhattan, "rbf": rbf, "elu1": elu1, "dpfp": dpfp,
    "l1_dot": l1_dot, "inverse_euclidean": inverse_euclidean, "inverse_manhattan": inverse_manhattan,
}


def _lookup(arg: str, registry: dict, value, signature: str):
    """``registry[value]`` for a known name, ``value`` itself if callable, else a clear error."""
    if callable(value):
        return value
    if isinstance(value, str) and value in registry:
        return registry[value]
    raise ValueError(f"{arg}: expected one of {', '.join(registry)} or a callable {signature}, "
                     f"got {value!r}")


def get_similarity(similarity: str | Similarity) -> Similarity:
    """A similarity by name (see :data:`SIMILARITIES`) or a callable passed through."""
    return _lookup("similarity", SIMILARITIES, similarity, "S(queries, keys)")


# ---------------------------------------------------------------------------
# Separations σ: scores (B, N) -> weights (B, N), along the last axis.
# ``inplace=True`` lets retrieve reuse its score buffer; the default never mutates.
# ---------------------------------------------------------------------------

def identity(scores: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
    """σ(x) = x: the plain correlation memory (Eqs 2-3) and linear attention."""
    _check_scores(scores, finite=True)
    return scores if inplace else scores.clone()


def softmax(scores: torch.Tensor, beta: float = 1.0, *, inplace: bool = False) -> torch.Tensor:
    """Softmax with inverse temperature β (Eq 6): ``exp(β x_n) / Σ exp(β x)``.

    Numerically safe for any β ≥ 0 and any scores: the row maximum is subtracted
    before scaling, ±inf and NaN scores are sanitised, half precision is computed in
    float32. As β → ∞ it tends to :func:`hardmax`; at β = 0 it is uniform.

    >>> softmax(torch.tensor([[0., 1.]]), beta=1e4)
    tensor([[0., 1.]])
    """
    _check_scores(scores)
    _check_beta(beta)
    in_dtype = scores.dtype
    if _needs_grad(scores):                                # autograd: no in-place operations
        x = scores.to(torch.promote_types(in_dtype, torch.float32))
        fin = torch.finfo(x.dtype)
        x = torch.nan_to_num(x, nan=fin.min, posinf=fin.max, neginf=fin.min)
        e = ((x - x.amax(dim=-1, keepdim=True).detach()) * beta).exp()
        return (e / e.sum(dim=-1, keepdim=True)).to(in_dtype)
    x = scores if inplace and in_dtype in (torch.float32, torch.float64) else scores.to(
        torch.promote_types(in_dtype, torch.float32), copy=True)
    if beta == 0:
        return torch.full_like(x, 1.0 / x.shape[-1]).to(in_dtype)
    top = x.amax(dim=-1, keepdim=True)
    if not bool(torch.isfinite(top).all()):               # cheap check on B numbers; rare path
        fin = torch.finfo(x.dtype)
        torch.nan_to_num_(x, nan=fin.min, posinf=fin.max, neginf=fin.min)
        top = x.amax(dim=-1, keepdim=True)
    x.sub_(top).mul_(beta).exp_()                          # exponents <= 0: no overflow
    x.div_(x.sum(dim=-1, keepdim=True))                    # the row max contributes exp(0) = 1
    return x.to(in_dtype)


def hardmax(scores: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
    """One-hot of the best match (ties: the first), the β → ∞ limit of softmax."""
    _check_scores(scores)
    out = scores if inplace else torch.empty_like(scores)
    best = torch.nan_to_num(scores, nan=-math.inf).argmax(dim=-1, keepdim=True)   # (B, 1)
    return out.zero_().scatter_(-1, best, 1.0)


def threshold(scores: torch.Tensor, threshold: float = 0.0, *, inplace: bool = False) -> torch.Tensor:
    """σ(x) = 1[x ≥ θ]: every memory within a radius, as in sparse distributed memory (Kanerva 1988)."""
    _check_scores(scores)
    check.number("threshold", threshold)
    hit = scores >= threshold
    out = scores if inplace else torch.empty_like(scores)
    return out.copy_(hit)


def polynomial(scores: torch.Tensor, degree: float = 2, *, inplace: bool = False) -> torch.Tensor:
    """Rectified polynomial σ(x) = max(x, 0)ⁿ of dense associative memory (Krotov & Hopfield 2016)."""
    _check_scores(scores, finite=True)
    _check_positive("degree", degree)
    x = scores if inplace else scores.clone()
    return x.clamp_(min=0.0).pow_(degree)


def topk(scores: torch.Tensor, k: int = 1, *, inplace: bool = False) -> torch.Tensor:
    """Weight 1/k on each of the k best matches (k = 1 is :func:`hardmax`): a k-nearest-neighbour read."""
    _check_scores(scores)
    _check_positive("k", k, integer=True)
    k = int(k)
    if k > scores.shape[-1]:
        raise ValueError(f"k: expected at most the number of memories N = {scores.shape[-1]}, got {k}")
    best = torch.nan_to_num(scores, nan=-math.inf).topk(k, dim=-1).indices           # (B, k)
    out = scores if inplace else torch.empty_like(scores)
    return out.zero_().scatter_(-1, best, 1.0 / k)


#: Separations σ(scores) -> weights by name; settings: ``beta`` (softmax), ``threshold``,
#: ``degree`` (polynomial), ``k`` (topk).
SEPARATIONS: dict[str, Separation] = {
    "identity": identity, "softmax": softmax, "max": hardmax, "threshold": threshold,
    "polynomial": polynomial, "topk": topk,
}


def get_separation(separation: str | Separation) -> Separation:
    """A separation by name (see :data:`SEPARATIONS`) or a callable passed through."""
    return _lookup("separation", SEPARATIONS, separation, "σ(scores)")


@functools.lru_cache(maxsize=256)
def _accepted(func: Callable) -> frozenset[str]:
    """Keyword settings a registry function accepts beyond its data arguments."""
    skip = {"queries", "keys", "scores", "inplace"}
    params = inspect.signature(func).parameters
    return frozenset(p for p in params if p not in skip
                     and params[p].kind != inspect.Parameter.VAR_KEYWORD)


def _check_beta(beta: object) -> None:
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        raise TypeError(f"beta: expected a finite number >= 0, got {beta!r}")
    if not (math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta: expected a finite number >= 0, got {beta!r}")


# ---------------------------------------------------------------------------
# The read: similarity, then separation, then a weighted sum of values.
# ---------------------------------------------------------------------------

#: What the read needs to know about a named separation (one registry, no name checks elsewhere):
#: ``beta_inside``: β enters σ itself (softmax subtracts the row maximum first, so any β is
#: safe); ``homogeneous``: σ(c x) = cⁿ σ(x), so normalised weights do not depend on the scale;
#: ``one_hot``: the weights pick one memory, so the read is a row lookup.
_TRAITS: dict[str, frozenset[str]] = {
    "softmax": frozenset({"beta_inside"}),
    "polynomial": frozenset({"homogeneous"}),
    "max": frozenset({"one_hot"}),
}


def _check_mask(mask: object, shape: torch.Size, device: torch.device) -> torch.Tensor | None:
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask: expected a boolean torch.Tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask: expected a boolean tensor (True = may be retrieved), got dtype {mask.dtype}")
    if mask.device != device:
        raise ValueError(f"mask: expected device {device} (the scores'), got {mask.device}")
    if _broadcast(tuple(mask.shape), tuple(shape)) != tuple(shape):
        raise ValueError(f"mask: expected a shape that broadcasts to the scores' {tuple(shape)} "
                         f"(e.g. (N,) or (B, N)), got {tuple(mask.shape)}")
    return mask


def _masked_softmax(x: torch.Tensor, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """Softmax over the allowed entries only; a row with none allowed gets all-zero weights."""
    in_dtype = x.dtype
    x = x.to(torch.promote_types(in_dtype, torch.float32))
    fin = torch.finfo(x.dtype)
    x = torch.nan_to_num(x, nan=fin.min, posinf=fin.max, neginf=fin.min).masked_fill(~mask, -math.inf)
    top = x.amax(dim=-1, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    e = ((x - top) * beta).exp() if beta != 0 else mask.to(x.dtype).expand_as(x).clone()
    total = e.sum(dim=-1, keepdim=True)
    return (e / torch.where(total > 0, total, torch.ones_like(total))).to(in_dtype)


def separate(scores: torch.Tensor, separation: str | Separation = "softmax", *, beta: float = 1.0,
             normalize: bool = False, normalize_scores: bool = False, mask: torch.Tensor | None = None,
             inplace: bool = False, **params: float) -> torch.Tensor:
    """Attention weights ``α = σ(β x)`` from scores x (..., B, N), optionally normalised to sum to 1.

    β multiplies the scores before σ (for softmax, after subtracting the row maximum,
    so any β is safe). ``normalize`` divides each row by its sum (rows summing to 0 are
    left alone): the "∝" of Eq 3. ``normalize_scores`` divides the *scores* by their row sum
    before β and σ, as Millidge et al.'s code does (for positive scores it fixes their scale,
    so that softmax's β means the same thing whatever the similarity; not in the review).
    ``mask`` (boolean, broadcastable to the scores): memories marked False get weight 0
    and take no part in σ (a softmax is over the allowed memories; a row with none allowed
    gets all-zero weights, never NaN). ``params`` are the named separation's settings
    (``threshold``, ``degree``, ``k``). Explained in Chapter 1, §"One read, many memories".

    >>> separate(torch.tensor([[1., 2., 3.]]), "polynomial", degree=2, normalize=True)
    tensor([[0.0714, 0.2857, 0.6429]])
    >>> separate(torch.tensor([[1., 2., 3.]]), mask=torch.tensor([True, True, False]))
    tensor([[0.2689, 0.7311, 0.0000]])
    """
    _check_scores(scores)
    _check_beta(beta)
    for name, flag in (("normalize", normalize), ("normalize_scores", normalize_scores),
                       ("inplace", inplace)):
        check.flag(name, flag)
    sep = get_separation(separation)
    named = isinstance(separation, str)
    traits = _TRAITS.get(separation, frozenset()) if named else frozenset()
    accepted = _accepted(sep) - {"beta"} if named else set()
    unknown = set(params) - accepted
    if unknown:
        raise ValueError(f"params: the {separation!r} separation accepts the settings: "
                         f"{', '.join(sorted(accepted)) or 'none'}; got {', '.join(sorted(unknown))}")
    mask = _check_mask(mask, scores.shape, scores.device)
    grad = _needs_grad(scores)
    inplace = inplace and not grad                            # autograd: nothing in place
    x = scores if inplace else scores.clone()
    if normalize_scores:
        total = x.sum(dim=-1, keepdim=True) if mask is None else x.masked_fill(~mask, 0).sum(-1, True)
        x = x / torch.where(total != 0, total, torch.ones_like(total))
    if "beta_inside" in traits and mask is not None:
        alpha = _masked_softmax(x, mask, beta)
    elif "beta_inside" in traits:
        alpha = softmax(x, beta=beta, inplace=not grad)       # sanitises on its own
    else:
        if named:
            top = x.amax(dim=-1, keepdim=True)
            if not bool(torch.isfinite(top).all()):           # +inf or NaN somewhere: rare path
                fin = torch.finfo(x.dtype)
                x = torch.nan_to_num(x, nan=fin.min, posinf=fin.max, neginf=fin.min)
        homogeneous = "homogeneous" in traits and normalize
        if beta != 1.0 and not homogeneous:
            x = x * beta
        if mask is not None:                                  # excluded memories never win
            x = x.masked_fill(~mask, torch.finfo(x.dtype).min)
        if homogeneous:
            # Positive homogeneity: σ(c x) = cⁿ σ(x), so once the weights are normalised the row
            # scale (and β) cancels; dividing by the row maximum keeps xⁿ finite (not in paper).
            top = x.amax(dim=-1, keepdim=True)
            x = x / torch.where(top > 0, top, torch.ones_like(top))
        alpha = (sep(x, inplace=not grad, **params) if named else sep(x))
        if not (isinstance(alpha, torch.Tensor) and alpha.shape == scores.shape):
            raise ValueError(f"separation: expected a callable returning a tensor of shape "
                             f"{tuple(scores.shape)}, got {type(alpha).__name__} "
                             f"{tuple(getattr(alpha, 'shape', ()))}")
        if mask is not None:
            alpha = alpha.masked_fill(~mask, 0.0)
    if normalize:
        total = alpha.sum(dim=-1, keepdim=True)
        alpha = alpha / torch.where(total != 0, total, torch.ones_like(total))
    return alpha


class Read(NamedTuple):
    """Everything one read computes (``retrieve(..., full=True)``).

    ``values`` (..., B, d_v): what was retrieved (zero where nothing came to mind);
    ``weights`` (..., B, N): the attention weights α; ``found`` (..., B): whether anything
    came to mind; ``index`` (..., B): the memory sampled (``sample=True``) or the best
    match, -1 where nothing was found.
    """

    values: torch.Tensor
    weights: torch.Tensor
    found: torch.Tensor
    index: torch.Tensor


def retrieve(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
             similarity: str | Similarity = "dot", separation: str | Separation = "softmax", *,
             beta: float = 1.0, normalize: bool = False, normalize_scores: bool = False,
             mask: torch.Tensor | None = None, min_score: float | None = None,
             sample: bool = False, generator: torch.Generator | None = None,
             chunk_size: int | None = None, return_weights: bool = False, full: bool = False,
             **params: float) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor] | Read:
    """Read a key-value memory in its dual form: ``v̂ = σ(β S(K, q)) V`` (Eqs 3-6).

    Arguments:

    - ``queries``: (..., B, d_k), or (d_k,) for a single query.
    - ``keys``: (..., N, d_k) stored keys; ``values``: (..., N, d_v) stored values (``keys``
      again for autoassociation). Leading (batch) axes broadcast: many memories, or many
      sets of queries, are read in one call.
    - ``similarity``, ``separation``: a name from :data:`SIMILARITIES` /
      :data:`SEPARATIONS` or a callable ``S(queries, keys) -> (..., B, N)`` /
      ``σ(scores) -> (..., B, N)``.
    - ``beta``: inverse temperature / gain; σ is applied to ``β · S`` (inside softmax,
      after subtracting the row maximum, so β up to 1e4 and beyond is safe).
    - ``normalize``: divide the weights by their sum (see :func:`separate`).
    - ``normalize_scores``: divide the scores by their sum before β and σ (Millidge et
      al.'s setting; see :func:`separate`).
    - ``mask``: boolean, broadcastable to (..., B, N); memories marked False cannot be
      retrieved (see :func:`separate`).
    - ``min_score``: "nothing comes to mind": a query whose best score (over the allowed
      memories, before β) is below ``min_score`` retrieves nothing (zero values and weights,
      ``found`` False). Not in the review's equations; Chapter 5's retrieval failures.
    - ``sample``: instead of the weighted mean, draw one memory per query with probability
      proportional to its weight and return its value (Chapter 5's sampled recall), by the
      Gumbel-max trick with uniforms drawn from ``generator`` on the CPU (so draws do not
      depend on the device; blocks of queries draw in order, so ``chunk_size`` does not
      change them for 2-D queries).
    - ``chunk_size``: queries per block; the default keeps one (block, N) score matrix
      near 2^26 entries (256 MiB in float32), so memory stays bounded however many
      queries there are (blocks of a few hundred rows or more keep matmul efficient).
    - ``return_weights``: also return the weights α; ``full``: return a :class:`Read`.
    - ``**params``: settings of the named similarity or separation, e.g. ``bandwidth``
      (rbf), ``nu`` (dpfp), ``threshold``, ``degree`` (polynomial), ``k`` (topk).

    Queries, keys and values must be finite. Returns ``v̂`` of shape (..., B, d_v) (or
    (d_v,)), and α if asked. No loop over memories: one score matrix per block of
    queries, separated in place, then one matrix product. Explained in Chapter 1,
    §"One read, many memories".

    >>> K = torch.eye(3); V = torch.tensor([[1.], [2.], [3.]])
    >>> retrieve(torch.tensor([0., 0.9, 0.1]), K, V, separation="max")
    tensor([2.])
    >>> retrieve(torch.tensor([0., 0.9, 0.1]), K, V, separation="max", mask=torch.tensor([1, 0, 1]).bool())
    tensor([3.])
    >>> retrieve(torch.tensor([0., 0.2, 0.1]), K, V, separation="max", min_score=0.5)
    tensor([0.])
    """
    single = isinstance(queries, torch.Tensor) and queries.ndim == 1
    q = queries.unsqueeze(0) if single else queries
    _check_rows(q, keys)
    _check_float("values", values)
    if values.ndim != keys.ndim or values.shape[-2] != keys.shape[-2] or \
            values.shape[:-2] != keys.shape[:-2]:
        raise ValueError(f"values: expected shape (..., N, d_v) with the keys' leading axes and "
                         f"N = {keys.shape[-2]} (one per key), got {tuple(values.shape)}")
    _check_same("values", values, "keys", keys)
    if values.numel() and not bool(torch.isfinite(values).all()):
        raise ValueError("values: expected finite values, got NaN or inf")
    if keys.shape[-2] == 0:
        raise ValueError(f"keys: expected at least one stored memory, got shape {tuple(keys.shape)}")
    _check_beta(beta)
    for name, flag in (("normalize", normalize), ("normalize_scores", normalize_scores),
                       ("sample", sample), ("return_weights", return_weights), ("full", full)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name}: expected True or False, got {flag!r}")
    if min_score is not None:
        min_score = check.number("min_score", min_score)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator or None, got {type(generator).__name__}")
    sim = get_similarity(similarity)
    get_separation(separation)

    # Route **params to whichever named piece accepts them; anything else is an error.
    sim_ok = _accepted(sim) if isinstance(similarity, str) else set()
    sep_ok = _accepted(SEPARATIONS[separation]) - {"beta"} if isinstance(separation, str) else set()
    unknown = set(params) - sim_ok - sep_ok
    if unknown:
        raise ValueError(f"params: the {similarity!r} similarity and the {separation!r} separation "
                         f"accept the settings: {', '.join(sorted(sim_ok | sep_ok)) or 'none'}; "
                         f"got {', '.join(sorted(unknown))}")
    sim_kw = {k: v for k, v in params.items() if k in sim_ok}
    sep_kw = {k: v for k, v in params.items() if k in sep_ok}

    lead = _broadcast(q.shape[:-2], keys.shape[:-2])
    B, N, d_v = q.shape[-2], keys.shape[-2], values.shape[-1]
    score_shape = torch.Size((*lead, B, N))
    mask = _check_mask(mask, score_shape, keys.device)
    plain = (q.ndim == 2 and keys.ndim == 2 and mask is None and min_score is None and not sample
             and not full)
    # max without weights or extras: v̂ = V[argmax], no (b, N) product
    one_hot = plain and isinstance(separation, str) and "one_hot" in _TRAITS.get(separation, ()) \
        and not return_weights and not normalize_scores
    if chunk_size is None:
        per_row = max(N, 1) * max(1, math.prod(lead))
        chunk_size = max(1, min(B, (1 << 26) // per_row))     # 2^26 floats = 256 MiB in float32
    _check_positive("chunk_size", chunk_size, integer=True)
    chunk_size = int(chunk_size)

    keep = return_weights or full
    out = torch.empty(*lead, B, d_v, dtype=values.dtype, device=values.device)
    weights = torch.empty(score_shape, dtype=values.dtype, device=values.device) if keep else None
    found = torch.ones(*lead, B, dtype=torch.bool, device=values.device)
    index = torch.full((*lead, B), -1, dtype=torch.long, device=values.device)
    token = _CHECKED.set(True)                                # inputs checked above, once
    try:
        for start in range(0, B, chunk_size):                     # blocks of queries, not memories
            stop = min(start + chunk_size, B)
            scores = sim(q[..., start:stop, :], keys, **sim_kw)   # (..., b, N), freshly allocated
            if scores.shape != torch.Size((*lead, stop - start, N)):
                raise ValueError(f"similarity: expected a callable returning scores of shape "
                                 f"{(*lead, stop - start, N)}, got {tuple(scores.shape)}")
            if one_hot:
                best = torch.nan_to_num(scores, nan=-math.inf).argmax(dim=1)
                out[start:stop] = values[best]
                index[start:stop] = best
                continue
            m = None if mask is None else mask.expand(score_shape)[..., start:stop, :]
            if min_score is not None or full:
                allowed = scores if m is None else scores.masked_fill(~m, -math.inf)
                top, best = allowed.max(dim=-1)                   # (..., b)
                ok = top >= min_score if min_score is not None else torch.isfinite(top)
                found[..., start:stop] = ok
                index[..., start:stop] = torch.where(ok, best, torch.full_like(best, -1))
                if min_score is not None:
                    m = ok.unsqueeze(-1) if m is None else m & ok.unsqueeze(-1)
                    m = m.expand(scores.shape)
            alpha = separate(scores, separation, beta=beta, normalize=normalize,
                             normalize_scores=normalize_scores, mask=m, inplace=True, **sep_kw)
            if sample:
                # Gumbel-max: argmax(log α + g), g = -log(-log u), u uniform from ``generator``
                # on the CPU (float32, clamped away from 0 and 1): exactly a draw from α/Σα.
                u = torch.rand(alpha.shape, generator=generator).clamp_(1e-12, 1 - 1e-7)
                gumbel = -torch.log(-torch.log(u.to(alpha.device)))
                w = alpha.detach().clamp_min(0)
                draw = (torch.log(w) + gumbel).argmax(-1)           # (..., b)
                draw = torch.where(w.sum(-1) > 0, draw, torch.full_like(draw, -1))
                index[..., start:stop] = draw
                found[..., start:stop] &= draw >= 0
                picked = torch.gather(values.expand(*lead, N, d_v), -2,
                                      draw.clamp_min(0).unsqueeze(-1).expand(*lead, stop - start, d_v))
                out[..., start:stop, :] = picked * (draw >= 0).unsqueeze(-1).to(values.dtype)
            else:
                out[..., start:stop, :] = alpha @ values          # (..., b, N) @ (..., N, d_v)
            if weights is not None:
                weights[..., start:stop, :] = alpha
    finally:
        _CHECKED.reset(token)
    if single:
        out, found, index = out[..., 0, :], found[..., 0], index[..., 0]
        weights = weights[..., 0, :] if weights is not None else None
    if full:
        return Read(out, weights, found, index)
    return (out, weights) if return_weights else out


# ---------------------------------------------------------------------------
# Softmax attention through random features, and its error.
# ---------------------------------------------------------------------------

def favor_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                    features: PositiveRandomFeatures) -> torch.Tensor:
    """Softmax attention ``softmax(q Kᵀ / √d) V`` estimated with FAVOR+ features in linear time.

    ``Â = φ(q)(φ(K)ᵀ V) / φ(q)(φ(K)ᵀ 1)`` with inputs scaled by d^(-1/4) so that
    ``φ(q)·φ(k) ≈ exp(q·k/√d)`` (Eqs 4-6). Shifts of the log-features (per query row,
    one global shift for the keys) cancel in the ratio and keep exp() finite.
    Explained in Chapter 1, §"Random features".
    """
    if not isinstance(features, PositiveRandomFeatures):
        raise TypeError(f"features: expected a PositiveRandomFeatures, got {type(features).__name__}")
    _check_rows(queries, keys)
    if queries.ndim != 2 or keys.ndim != 2:
        raise ValueError(f"queries, keys: expected shapes (B, d) and (N, d), got "
                         f"{tuple(queries.shape)} and {tuple(keys.shape)}")
    if keys.shape[0] == 0:
        raise ValueError(f"keys: expected at least one stored memory, got shape {tuple(keys.shape)}")
    values = check.tensor("values", values, ndim=2, dtype="float-strict")
    if values.shape[0] != keys.shape[0]:
        raise ValueError(f"values: expected shape (N, d_v) with N = {keys.shape[0]} (one per key), "
                         f"got {tuple(values.shape)}")
    _check_same("values", values, "keys", keys)
    if queries.shape[1] != features.d:
        raise ValueError(f"queries: expected dimension d = {features.d} (the features'), got "
                         f"{tuple(queries.shape)}")
    scale = queries.shape[1] ** -0.25
    lq = features.log_features(queries * scale)                       # (B, m)
    lk = features.log_features(keys * scale)                          # (N, m)
    phi_q = (lq - lq.amax(dim=1, keepdim=True)).exp()
    phi_k = (lk - lk.amax()).exp()
    kv = phi_k.T @ values                                             # (m, N) @ (N, d_v) -> (m, d_v)
    z = phi_k.sum(0)                                                  # (m,)
    return (phi_q @ kv) / (phi_q @ z).unsqueeze(1)                    # (B, d_v)


def random_feature_error(n_features: Sequence[int], *, n_queries: int = 256, n_keys: int = 512,
                         dim: int = 16, dim_v: int = 16, seeds: int = 3, orthogonal: bool = True,
                         rff: bool = True, device: torch.device | str = "cpu") -> dict[str, list[float]]:
    """Relative error of FAVOR+ attention against exact softmax attention, per feature count m.

    Queries and keys are Gaussian with standard deviation 1/2 (so ``q·k/√d`` is of order
    1), values standard Gaussian, all in float64. Error = ``‖Â - A‖_F / ‖A‖_F``, averaged
    over ``seeds`` draws of the features (the data are fixed). With ``rff``, also the
    relative error of the random Fourier estimate of the RBF kernel matrix (bandwidth √d).
    Explained in Chapter 1, §"Random features".
    """
    n_features = check.sequence("n_features", n_features, lambda n, v: check.count(n, v, 1))
    n_queries, n_keys = check.count("n_queries", n_queries, 1), check.count("n_keys", n_keys, 1)
    dim, dim_v, seeds = check.count("dim", dim, 1), check.count("dim_v", dim_v, 1), check.count("seeds", seeds, 1)
    check.flag("orthogonal", orthogonal)
    check.flag("rff", rff)
    device = check.device("device", device)
    g = torch.Generator().manual_seed(0)
    q = (0.5 * torch.randn(n_queries, dim, generator=g, dtype=torch.float64)).to(device)
    k = (0.5 * torch.randn(n_keys, dim, generator=g, dtype=torch.float64)).to(device)
    v = torch.randn(n_keys, dim_v, generator=g, dtype=torch.float64).to(device)
    exact = retrieve(q, k, v, "scaled_dot", "softmax")                       # (B, d_v)
    h = math.sqrt(dim)
    exact_kernel = rbf(q, k, bandwidth=h)                                     # (B, N)
    res: dict[str, list] = {"n_features": [int(m) for m in n_features], "rel_error": []}
    if rff:
        res["rel_error_rff_kernel"] = []
    for m in n_features:                                                      # a sweep of settings
        e, e_rff = 0.0, 0.0
        for s in range(seeds):
            gs = torch.Generator().manual_seed(1000 + s)
            feats = PositiveRandomFeatures(dim, m, orthogonal=orthogonal, generator=gs,
                                           device=device, dtype=torch.float64)
            e += float((favor_attention(q, k, v, feats) - exact).norm() / exact.norm())
            if rff:
                phi = RandomFourierFeatures(dim, m, bandwidth=h, orthogonal=orthogonal, generator=gs,
                                            device=device, dtype=torch.float64)
                e_rff += float((phi(q) @ phi(k).T - exact_kernel).norm() / exact_kernel.norm())
        res["rel_error"].append(e / seeds)
        if rff:
            res["rel_error_rff_kernel"].append(e_rff / seeds)
    return res


# ---------------------------------------------------------------------------
# Speed.
# ---------------------------------------------------------------------------

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def benchmark_retrieve(n_queries: int = 4096, n_keys: int = 60000, dim: int = 784, *,
                       device: torch.device | str = "cpu", repeats: int = 2,
                       chunk_size: int | None = None, seed: int = 0) -> dict[str, float]:
    """Time ``retrieve`` (dot + softmax, values = keys) against one ``torch.matmul`` of the same shapes.

    The reference is ``queries @ keys.T`` (B×d times d×N into a preallocated output).
    ``retrieve`` does that product, a softmax and a second product with the values, so
    it does twice the arithmetic: ``throughput_ratio`` compares FLOP/s (2·B·N·d for the
    reference, 2·B·N·(d_k + d_v) for retrieve); ``time_ratio`` is plain matmul time over
    retrieve time. Best of ``repeats`` after one warm-up. Needs about B·N·4 bytes for the
    reference product (1 GB at the defaults). Explained in the appendix, §Benchmarks.
    """
    n_queries, n_keys = check.count("n_queries", n_queries, 1), check.count("n_keys", n_keys, 1)
    dim, repeats = check.count("dim", dim, 1), check.count("repeats", repeats, 1)
    if chunk_size is not None:
        check.count("chunk_size", chunk_size, 1)
    device = check.device("device", device)
    g = torch.Generator().manual_seed(check.seed("seed", seed))
    keys = torch.rand(n_keys, dim, generator=g).to(device)
    queries = torch.rand(n_queries, dim, generator=g).to(device)
    ref_out = torch.empty(n_queries, n_keys, device=device)

    def best(fn: Callable[[], object]) -> float:
        fn()
        _sync(device)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times.append(time.perf_counter() - t0)
        return min(times)

    t_mm = best(lambda: torch.matmul(queries, keys.T, out=ref_out))
    del ref_out
    t_ret = best(lambda: retrieve(queries, keys, keys, "dot", "softmax", beta=0.01,
                                  chunk_size=chunk_size))
    flops_mm = 2.0 * n_queries * n_keys * dim
    flops_ret = 2.0 * n_queries * n_keys * (dim + dim)
    return {"n_queries": n_queries, "n_keys": n_keys, "dim": dim, "device": str(device),
            "threads": torch.get_num_threads(), "matmul_s": t_mm, "retrieve_s": t_ret,
            "matmul_gflops": flops_mm / t_mm / 1e9, "retrieve_gflops": flops_ret / t_ret / 1e9,
            "throughput_ratio": (flops_ret / t_ret) / (flops_mm / t_mm), "time_ratio": t_mm / t_ret}
