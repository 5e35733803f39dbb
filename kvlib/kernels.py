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

import inspect
import math
import time
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    # similarities S(q, K) -> (B, N)
    "dot", "scaled_dot", "cosine", "euclidean", "manhattan", "rbf", "elu1", "dpfp",
    "SIMILARITIES", "get_similarity",
    # feature maps φ (Eq 4)
    "identity_features", "elu_plus_one", "dpfp_features", "FEATURE_MAPS",
    "RandomFourierFeatures", "PositiveRandomFeatures", "feature_kernel",
    # separations σ
    "identity", "softmax", "hardmax", "threshold", "polynomial", "topk",
    "SEPARATIONS", "get_separation",
    # the read
    "separate", "retrieve", "favor_attention", "random_feature_error", "benchmark_retrieve",
]

Similarity = Callable[..., torch.Tensor]
Separation = Callable[..., torch.Tensor]


# ---------------------------------------------------------------------------
# Input checks: errors name the argument, the expectation and what was received.
# ---------------------------------------------------------------------------

def _check_float(name: str, x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


def _check_rows(queries: torch.Tensor, keys: torch.Tensor) -> None:
    """Queries (B, d) and keys (N, d): same d, dtype and device."""
    _check_float("queries", queries)
    _check_float("keys", keys)
    if queries.ndim != 2:
        raise ValueError(f"queries: expected shape (B, d), got {tuple(queries.shape)}")
    if keys.ndim != 2:
        raise ValueError(f"keys: expected shape (N, d), got {tuple(keys.shape)}")
    if queries.shape[1] != keys.shape[1]:
        raise ValueError(f"keys: expected dimension d = {queries.shape[1]} (the queries' last axis), "
                         f"got keys of shape {tuple(keys.shape)}")
    _check_same("keys", keys, "queries", queries)


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
        raise ValueError(f"{name}: expected {kind}, got {value!r}")


# ---------------------------------------------------------------------------
# Similarities S(q, K): queries (B, d), keys (N, d) -> scores (B, N).
# ---------------------------------------------------------------------------

def dot(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Linear kernel ``q Kᵀ`` (the similarity inside Eqs 2-3).

    >>> dot(torch.tensor([[1., 2.]]), torch.tensor([[1., 0.], [0., 1.]]))
    tensor([[1., 2.]])
    """
    _check_rows(queries, keys)
    return queries @ keys.T                                   # (B, d) @ (d, N) -> (B, N)


def scaled_dot(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Scaled dot product ``q Kᵀ / √d`` (Eq 5), the similarity of transformer attention."""
    _check_rows(queries, keys)
    return (queries / math.sqrt(queries.shape[1])) @ keys.T   # scale the B rows, not B×N scores


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm, safe for huge and tiny rows (zero rows stay zero)."""
    # Divide by the largest |entry| first so the norm neither overflows nor underflows.
    scale = x.abs().amax(dim=1, keepdim=True)
    x = x / torch.where(scale > 0, scale, torch.ones_like(scale))
    return F.normalize(x, dim=1)


def cosine(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Cosine similarity, ``q̂ K̂ᵀ`` with unit-norm rows; in [-1, 1] whatever the input scale."""
    _check_rows(queries, keys)
    return _unit_rows(queries) @ _unit_rows(keys).T


def euclidean(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Negative squared Euclidean distance ``-‖q - k_n‖²`` (larger = more similar).

    Computed as ``2 q·k - ‖q‖² - ‖k‖²`` with one matrix product (no (B, N, d) tensor);
    clamped at 0 from above, where rounding could make it slightly positive.
    """
    _check_rows(queries, keys)
    q2 = queries.square().sum(1, keepdim=True)               # (B, 1)
    k2 = keys.square().sum(1)                                 # (N,)
    scores = torch.addmm(k2.unsqueeze(0), queries, keys.T, beta=-1.0, alpha=2.0)   # (B, N)
    scores.sub_(q2)
    return scores.clamp_(max=0.0)


def manhattan(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Negative Manhattan (L1) distance ``-Σ_i |q_i - k_ni|``."""
    _check_rows(queries, keys)
    return torch.cdist(queries.contiguous(), keys.contiguous(), p=1.0).neg_()   # (B, N)


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
    return x


def elu_plus_one(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = elu(x) + 1 > 0, the map of linear attention (Katharopoulos et al. 2020)."""
    return F.elu(x) + 1.0


def dpfp_features(x: torch.Tensor, nu: int = 1) -> torch.Tensor:
    """Deterministic parameter-free projection DPFP-ν (Schlag et al. 2021): (..., d) -> (..., 2νd).

    With ``r = [relu(x), relu(-x)]`` (2d entries), feature ``(j, i)`` is ``r_i · r_{i+j}``
    (indices modulo 2d) for shifts j = 1..ν, so the feature dimension grows with ν.
    """
    _check_positive("nu", nu, integer=True)
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
        self.d, self.n_features, self.bandwidth = int(d), int(n_features), float(bandwidth)
        self.omega = _gaussian_directions(self.d, n_features, orthogonal, generator, device, dtype)
        b = torch.rand(self.n_features, generator=generator, dtype=torch.float64) * (2 * math.pi)
        self.phase = b.to(device=device, dtype=dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _check_float("x", x)
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
        self.d, self.n_features = int(d), int(n_features)
        self.omega = _gaussian_directions(self.d, n_features, orthogonal, generator, device, dtype)

    def log_features(self, x: torch.Tensor) -> torch.Tensor:
        """``log φ(x)``: (..., d) -> (..., m), before any stabilising shift."""
        _check_float("x", x)
        if x.shape[-1] != self.d:
            raise ValueError(f"x: expected last dimension {self.d}, got shape {tuple(x.shape)}")
        return x @ self.omega.T - 0.5 * x.square().sum(-1, keepdim=True) - 0.5 * math.log(self.n_features)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_features(x).exp()


def feature_kernel(phi: Callable[[torch.Tensor], torch.Tensor]) -> Similarity:
    """The similarity ``S(K, q) = φ(q) φ(K)ᵀ`` of a feature map (Eq 4).

    >>> S = feature_kernel(identity_features)
    >>> bool(torch.equal(S(torch.eye(2), torch.eye(2)), torch.eye(2)))
    True
    """
    if not callable(phi):
        raise ValueError(f"phi: expected a callable feature map, got {type(phi).__name__}")

    def similarity(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        _check_rows(queries, keys)
        return phi(queries) @ phi(keys).T                     # (B, m) @ (m, N) -> (B, N)

    similarity.__name__ = f"feature_kernel({getattr(phi, '__name__', type(phi).__name__)})"
    return similarity


def elu1(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Linear-attention kernel ``φ(q)φ(K)ᵀ`` with ``φ = elu + 1`` (Eq 4)."""
    _check_rows(queries, keys)
    return elu_plus_one(queries) @ elu_plus_one(keys).T


def dpfp(queries: torch.Tensor, keys: torch.Tensor, nu: int = 1) -> torch.Tensor:
    """DPFP-ν kernel ``φ(q)φ(K)ᵀ`` (Eq 4) with the map of :func:`dpfp_features`."""
    _check_rows(queries, keys)
    return dpfp_features(queries, nu) @ dpfp_features(keys, nu).T


#: Similarities S(queries, keys) -> (B, N) by name; settings: ``bandwidth`` (rbf), ``nu`` (dpfp).
SIMILARITIES: dict[str, Similarity] = {
    "dot": dot, "scaled_dot": scaled_dot, "cosine": cosine, "euclidean": euclidean,
    "manhattan": manhattan, "rbf": rbf, "elu1": elu1, "dpfp": dpfp,
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
    return scores if inplace else scores.clone()


def softmax(scores: torch.Tensor, beta: float = 1.0, *, inplace: bool = False) -> torch.Tensor:
    """Softmax with inverse temperature β (Eq 6): ``exp(β x_n) / Σ exp(β x)``.

    Numerically safe for any β ≥ 0 and any scores: the row maximum is subtracted
    before scaling, ±inf and NaN scores are sanitised, half precision is computed in
    float32. As β → ∞ it tends to :func:`hardmax`; at β = 0 it is uniform.

    >>> softmax(torch.tensor([[0., 1.]]), beta=1e4)
    tensor([[0., 1.]])
    """
    _check_float("scores", scores)
    if not (isinstance(beta, (int, float)) and not isinstance(beta, bool)
            and math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta: expected a finite number >= 0, got {beta!r}")
    in_dtype = scores.dtype
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
    _check_float("scores", scores)
    out = scores if inplace else torch.empty_like(scores)
    best = torch.nan_to_num(scores, nan=-math.inf).argmax(dim=-1, keepdim=True)   # (B, 1)
    return out.zero_().scatter_(-1, best, 1.0)


def threshold(scores: torch.Tensor, threshold: float = 0.0, *, inplace: bool = False) -> torch.Tensor:
    """σ(x) = 1[x ≥ θ]: every memory within a radius, as in sparse distributed memory (Kanerva 1988)."""
    _check_float("scores", scores)
    if not (isinstance(threshold, (int, float)) and not isinstance(threshold, bool)):
        raise ValueError(f"threshold: expected a number, got {threshold!r}")
    hit = scores >= threshold
    out = scores if inplace else torch.empty_like(scores)
    return out.copy_(hit)


def polynomial(scores: torch.Tensor, degree: float = 2, *, inplace: bool = False) -> torch.Tensor:
    """Rectified polynomial σ(x) = max(x, 0)ⁿ of dense associative memory (Krotov & Hopfield 2016)."""
    _check_float("scores", scores)
    _check_positive("degree", degree)
    x = scores if inplace else scores.clone()
    return x.clamp_(min=0.0).pow_(degree)


def topk(scores: torch.Tensor, k: int = 1, *, inplace: bool = False) -> torch.Tensor:
    """Weight 1/k on each of the k best matches (k = 1 is :func:`hardmax`): a k-nearest-neighbour read."""
    _check_float("scores", scores)
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


def _accepted(func: Callable) -> set[str]:
    """Keyword settings a registry function accepts beyond its data arguments."""
    skip = {"queries", "keys", "scores", "inplace"}
    params = inspect.signature(func).parameters
    return {p for p in params if p not in skip and params[p].kind != inspect.Parameter.VAR_KEYWORD}


def _check_beta(beta: object) -> None:
    if not (isinstance(beta, (int, float)) and not isinstance(beta, bool) and math.isfinite(beta)
            and beta >= 0):
        raise ValueError(f"beta: expected a finite number >= 0, got {beta!r}")


# ---------------------------------------------------------------------------
# The read: similarity, then separation, then a weighted sum of values.
# ---------------------------------------------------------------------------

def separate(scores: torch.Tensor, separation: str | Separation = "softmax", *, beta: float = 1.0,
             normalize: bool = False, inplace: bool = False, **params: float) -> torch.Tensor:
    """Attention weights ``α = σ(β x)`` from scores x (B, N), optionally normalised to sum to 1.

    β multiplies the scores before σ (for softmax, after subtracting the row maximum,
    so any β is safe). ``normalize`` divides each row by its sum (rows summing to 0 are
    left alone): the "∝" of Eq 3. ``params`` are the named separation's settings
    (``threshold``, ``degree``, ``k``). Explained in Chapter 1, §"One read, many memories".

    >>> separate(torch.tensor([[1., 2., 3.]]), "polynomial", degree=2, normalize=True)
    tensor([[0.0714, 0.2857, 0.6429]])
    """
    _check_float("scores", scores)
    _check_beta(beta)
    sep = get_separation(separation)
    named = isinstance(separation, str)
    accepted = _accepted(sep) - {"beta"} if named else set()
    unknown = set(params) - accepted
    if unknown:
        raise ValueError(f"params: the {separation!r} separation accepts the settings: "
                         f"{', '.join(sorted(accepted)) or 'none'}; got {', '.join(sorted(unknown))}")
    x = scores if inplace else scores.clone()
    if named and separation != "softmax":                     # softmax sanitises on its own
        top = x.amax(dim=-1, keepdim=True)
        if not bool(torch.isfinite(top).all()):               # +inf or NaN somewhere: rare path
            fin = torch.finfo(x.dtype)
            torch.nan_to_num_(x, nan=fin.min, posinf=fin.max, neginf=fin.min)
    if named and separation == "polynomial" and normalize:
        # Positive homogeneity: σ(c x) = cⁿ σ(x), so once the weights are normalised the row
        # scale (and β) cancels; dividing by the row maximum keeps xⁿ finite (not in paper).
        top = x.amax(dim=-1, keepdim=True)
        alpha = sep(x.div_(torch.where(top > 0, top, torch.ones_like(top))), inplace=True, **params)
    elif named and separation == "softmax":
        alpha = softmax(x, beta=beta, inplace=True)
    else:
        if beta != 1.0:
            x.mul_(beta)
        alpha = sep(x, inplace=True, **params) if named else sep(x)
        if not (isinstance(alpha, torch.Tensor) and alpha.shape == scores.shape):
            raise ValueError(f"separation: expected a callable returning a tensor of shape "
                             f"{tuple(scores.shape)}, got {type(alpha).__name__} "
                             f"{tuple(getattr(alpha, 'shape', ()))}")
    if normalize:
        total = alpha.sum(dim=-1, keepdim=True)
        alpha = alpha.div_(torch.where(total != 0, total, torch.ones_like(total)))
    return alpha


def retrieve(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
             similarity: str | Similarity = "dot", separation: str | Separation = "softmax", *,
             beta: float = 1.0, normalize: bool = False, chunk_size: int | None = None,
             return_weights: bool = False, **params: float) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Read a key-value memory in its dual form: ``v̂ = σ(β S(K, q)) V`` (Eqs 3-6).

    Arguments:

    - ``queries``: (B, d_k), or (d_k,) for a single query.
    - ``keys``: (N, d_k) stored keys; ``values``: (N, d_v) stored values (``keys``
      again for autoassociation).
    - ``similarity``, ``separation``: a name from :data:`SIMILARITIES` /
      :data:`SEPARATIONS` or a callable ``S(queries, keys) -> (B, N)`` /
      ``σ(scores) -> (B, N)``.
    - ``beta``: inverse temperature / gain; σ is applied to ``β · S`` (inside softmax,
      after subtracting the row maximum, so β up to 1e4 and beyond is safe).
    - ``normalize``: divide the weights by their sum (see :func:`separate`).
    - ``chunk_size``: queries per block; the default keeps one (block, N) score matrix
      near 2^26 entries (256 MiB in float32), so memory stays bounded however many
      queries there are (blocks of a few hundred rows or more keep matmul efficient).
    - ``return_weights``: also return the (B, N) weights α.
    - ``**params``: settings of the named similarity or separation, e.g. ``bandwidth``
      (rbf), ``nu`` (dpfp), ``threshold``, ``degree`` (polynomial), ``k`` (topk).

    Returns ``v̂`` of shape (B, d_v) (or (d_v,)), and α if asked. No loop over memories:
    one score matrix per block of queries, separated in place, then one matrix product.
    Explained in Chapter 1, §"One read, many memories".

    >>> K = torch.eye(3); V = torch.tensor([[1.], [2.], [3.]])
    >>> retrieve(torch.tensor([0., 0.9, 0.1]), K, V, separation="max")
    tensor([2.])
    """
    single = isinstance(queries, torch.Tensor) and queries.ndim == 1
    q = queries.unsqueeze(0) if single else queries
    _check_rows(q, keys)
    _check_float("values", values)
    if values.ndim != 2 or values.shape[0] != keys.shape[0]:
        raise ValueError(f"values: expected shape (N, d_v) with N = {keys.shape[0]} (one per key), "
                         f"got {tuple(values.shape)}")
    _check_same("values", values, "keys", keys)
    _check_beta(beta)
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
    one_hot = separation == "max" and not return_weights       # the read is a row lookup

    B, N = q.shape[0], keys.shape[0]
    if chunk_size is None:
        chunk_size = max(1, min(B, (1 << 26) // max(N, 1)))   # 2^26 floats = 256 MiB in float32
    _check_positive("chunk_size", chunk_size, integer=True)
    chunk_size = int(chunk_size)

    out = torch.empty(B, values.shape[1], dtype=values.dtype, device=values.device)
    weights = torch.empty(B, N, dtype=values.dtype, device=values.device) if return_weights else None
    for start in range(0, B, chunk_size):                     # blocks of queries, not memories
        stop = min(start + chunk_size, B)
        scores = sim(q[start:stop], keys, **sim_kw)           # (b, N), freshly allocated
        if one_hot:                                           # max: v̂ = V[argmax], no (b, N) product
            best = torch.nan_to_num(scores, nan=-math.inf).argmax(dim=1)
            out[start:stop] = values[best]
            continue
        alpha = separate(scores, separation, beta=beta, normalize=normalize, inplace=True, **sep_kw)
        torch.matmul(alpha, values, out=out[start:stop])      # (b, N) @ (N, d_v) -> (b, d_v)
        if weights is not None:
            weights[start:stop] = alpha
    if single:
        out = out[0]
        weights = weights[0] if weights is not None else None
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
    _check_rows(queries, keys)
    _check_float("values", values)
    if values.ndim != 2 or values.shape[0] != keys.shape[0]:
        raise ValueError(f"values: expected shape (N, d_v) with N = {keys.shape[0]}, got {tuple(values.shape)}")
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
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
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
