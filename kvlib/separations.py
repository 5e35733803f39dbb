"""Separations σ: from similarity scores to the weights of a read (Eqs 3 and 6).

The second half of a read in dual form, ``α = σ(β · S(K, q))``: a separation pushes the
scores of the stored memories apart, from none at all (the identity of the correlation
memory) through polynomials (dense associative memory) and softmax (attention, modern
Hopfield networks) to max (nearest neighbour). Each separation takes scores (..., N) and
returns weights of the same shape along the last axis; :func:`separate` adds the inverse
temperature β, normalisation and masks, and :func:`kvlib.kernels.retrieve` the read.

Explained in Chapter 1 (``book/01_kernels.ipynb``), §"One read, many memories".
Axis names (``book/appendix/notation.md``): B queries, N memories.
"""
from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable

import torch

from kvlib import _checks as check

__all__ = ["identity", "softmax", "hardmax", "threshold", "polynomial", "topk", "SEPARATIONS",
           "get_separation", "separate", "accepted_settings", "check_mask", "SEPARATION_TRAITS"]

#: A separation ``σ(scores, **settings) -> weights``.
Separation = Callable[..., torch.Tensor]


def _needs_grad(x: torch.Tensor) -> bool:
    """Whether autograd will differentiate through ``x`` (then nothing is done in place)."""
    return x.requires_grad and torch.is_grad_enabled()


def _check_scores(scores: object, finite: bool = False) -> torch.Tensor:
    """Scores (..., N): floating point, at least one axis; ±inf and NaN are sanitised by the
    separations that pick or exponentiate, and rejected (``finite``) by those that pass
    scores through (identity, polynomial)."""
    check.tensor("scores", scores, dtype="float-strict", finite=False)
    if scores.ndim < 1:
        raise ValueError("scores: expected shape (..., N), got a 0-d tensor")
    if finite and not check.all_finite(scores):
        raise ValueError("scores: expected finite values, got NaN or inf")
    return scores


def _check_beta(beta: object) -> None:
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        raise TypeError(f"beta: expected a finite number >= 0, got {beta!r}")
    if not (math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta: expected a finite number >= 0, got {beta!r}")


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
    check.positive("degree", degree)
    x = scores if inplace else scores.clone()
    return x.clamp_(min=0.0).pow_(degree)


def topk(scores: torch.Tensor, k: int = 1, *, inplace: bool = False) -> torch.Tensor:
    """Weight 1/k on each of the k best matches (k = 1 is :func:`hardmax`): a k-nearest-neighbour read."""
    _check_scores(scores)
    check.positive("k", k, integer=True)
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
    """A separation by name (see :data:`~kvlib.separations.SEPARATIONS`) or a callable passed through."""
    return check.named("separation", SEPARATIONS, separation, "σ(scores)")


def accepted_settings(func: Callable) -> frozenset[str]:
    """The keyword settings a similarity or separation accepts beyond its data arguments
    (how :func:`kvlib.kernels.retrieve` routes its ``**params``).

    >>> sorted(accepted_settings(topk))
    ['k']
    """
    if not callable(func):
        raise TypeError(f"func: expected a similarity or separation function, got {type(func).__name__}")
    try:
        return _settings(func)
    except TypeError:                                         # unhashable callable: not cached
        return _settings.__wrapped__(func)


@functools.lru_cache(maxsize=256)
def _settings(func: Callable) -> frozenset[str]:
    skip = {"queries", "keys", "scores", "inplace"}
    params = inspect.signature(func).parameters
    return frozenset(p for p in params if p not in skip
                     and params[p].kind != inspect.Parameter.VAR_KEYWORD)


# ---------------------------------------------------------------------------
# Weights from scores: β, masks and normalisation around the named σ.
# ---------------------------------------------------------------------------

#: What the read needs to know about a named separation (one registry, no name checks elsewhere):
#: ``beta_inside``: β enters σ itself (softmax subtracts the row maximum first, so any β is
#: safe); ``homogeneous``: σ(c x) = cⁿ σ(x), so normalised weights do not depend on the scale;
#: ``one_hot``: the weights pick one memory, so the read is a row lookup.
SEPARATION_TRAITS: dict[str, frozenset[str]] = {
    "softmax": frozenset({"beta_inside"}),
    "polynomial": frozenset({"homogeneous"}),
    "max": frozenset({"one_hot"}),
}


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    """Whether ``shape`` broadcasts to ``target`` (plain Python, no torch overhead)."""
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(shape[::-1], target[::-1]))


def check_mask(mask: object = None, *, shape: tuple, device: torch.device | str) -> torch.Tensor | None:
    """Check a mask of memories that may be retrieved: None, or a boolean tensor on ``device``
    that broadcasts to the scores' ``shape`` (e.g. (N,) or (B, N)). Returns the mask.

    >>> check_mask(torch.tensor([True, False]), shape=(3, 2), device="cpu")
    tensor([ True, False])
    """
    if not isinstance(shape, torch.Size):
        shape = tuple(check.sequence("shape", shape, lambda n, v: check.count(n, v), nonempty=False))
    if not isinstance(device, torch.device):
        device = check.device("device", device)
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask: expected a boolean torch.Tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask: expected a boolean tensor (True = may be retrieved), got dtype {mask.dtype}")
    if mask.device != device:
        raise ValueError(f"mask: expected device {device} (the scores'), got {mask.device}")
    if not _broadcasts_to(tuple(mask.shape), tuple(shape)):
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
    traits = SEPARATION_TRAITS.get(separation, frozenset()) if named else frozenset()
    accepted = accepted_settings(sep) - {"beta"} if named else set()
    unknown = set(params) - accepted
    if unknown:
        raise ValueError(f"params: the {separation!r} separation accepts the settings: "
                         f"{', '.join(sorted(accepted)) or 'none'}; got {', '.join(sorted(unknown))}")
    mask = check_mask(mask, shape=scores.shape, device=scores.device)
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

