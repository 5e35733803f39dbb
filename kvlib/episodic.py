"""The episodic memory that every Chapter 5 experiment reads: one softmax read, averaged or sampled.

Chapter 5 sets each claim of the review's §4 beside a small simulation, and every simulation
is the same memory: stored keys ``K`` (..., N, d), stored values ``V`` (..., N, d_v), and a
cue turned into a query ``q`` (..., B, d) that is matched against every key by a dot product
and separated by a softmax with inverse temperature ``β`` (Eqs 3, 5 and 6). The read itself
is :func:`kvlib.kernels.retrieve`; this module adds the two ways Chapter 5 uses it:

- :func:`weighted_recall`: the weighted read ``v̂ = softmax(β q Kᵀ) V``, optionally with a
  "nothing comes to mind" competitor: a memory of nothing (an empty value) whose key
  matches every query by exactly ``nothing``. It is a *soft* retrieval threshold: the
  further the best key falls below it, the more of the weight goes to the empty value. Not
  in the review's equations; it models retrieval failure.
- :func:`sample_recall`: retrieval *attempts*, each drawing one memory with the softmax
  weights as probabilities, as the search-of-associative-memory model of free recall reads
  them (Raaijmakers & Shiffrin 1981), on the softmax weights of :func:`kvlib.kernels.separate`.

and the random codes the experiments are built from (:func:`random_unit`,
:func:`noisy_cue`), drawn on the CPU from a ``torch.Generator`` and then moved to the
device, so a GPU gives the same draws as a CPU.

Axis names: N memories, d dims, B queries (trials, rats, participants or questions), R
retrieval attempts. Explained in Chapter 5, §One retrieval rule for the whole chapter.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from kvlib import _checks as check
from kvlib import kernels

__all__ = ["weighted_recall", "sample_recall", "random_unit", "noisy_cue", "mean_se"]


def _read_args(queries, keys, values, beta):
    """Checked ``(queries, keys, values, beta)``: (..., B, d), (..., N, d), (..., N, d_v), β > 0.

    NaN and inf are left to :func:`kvlib.kernels.retrieve`, which rejects them under the same names.
    """
    q = check.tensor("queries", queries, nonempty=True, finite=False)
    k = check.tensor("keys", keys, like=q, like_name="the queries", nonempty=True, finite=False)
    v = check.tensor("values", values, like=k, like_name="the keys", finite=False)
    for name, x in (("queries", q), ("keys", k), ("values", v)):
        if x.ndim < 2:
            raise ValueError(f"{name}: expected shape (..., rows, d), got {tuple(x.shape)}")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"keys: expected dimension d = {q.shape[-1]} (the queries' last axis), "
                         f"got keys of shape {tuple(k.shape)}")
    if v.shape[-2] != k.shape[-2] or v.shape[:-2] != k.shape[:-2]:
        raise ValueError(f"values: expected one row per key (N = {k.shape[-2]}) and the keys' leading "
                         f"axes {tuple(k.shape[:-2])}, got shape {tuple(v.shape)}")
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    except RuntimeError:
        raise ValueError(f"keys: expected leading axes that broadcast with the queries' "
                         f"{tuple(q.shape[:-2])}, got keys of shape {tuple(k.shape)}") from None
    return q, k, v, check.positive("beta", beta)


def _check_mask(mask, q: Tensor, k: Tensor) -> Tensor:
    """A boolean mask that broadcasts to the scores (..., B, N) of queries ``q`` and keys ``k``."""
    mask = check.tensor("mask", mask, dtype="bool", like=k, like_name="the keys")
    if mask.ndim == 0:
        raise ValueError("mask: expected one flag per memory, shape (N,) or broadcasting to "
                         "(..., B, N), got a 0-d tensor")
    lead = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2])
    scores = torch.Size((*lead, q.shape[-2], k.shape[-2]))
    try:
        if torch.broadcast_shapes(mask.shape, scores) != scores:
            raise RuntimeError
    except RuntimeError:
        raise ValueError(f"mask: expected a shape that broadcasts to the scores' (..., B, N) = "
                         f"{tuple(scores)}, e.g. (N,), got {tuple(mask.shape)}") from None
    return mask


def weighted_recall(queries: Tensor, keys: Tensor, values: Tensor, beta: float, *,
                    mask: Tensor | None = None, nothing: float | None = None,
                    return_weights: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The weighted read ``v̂ = softmax(β q Kᵀ) V`` (Eq 3), with an optional "nothing" option.

    ``queries`` (..., B, d), ``keys`` (..., N, d), ``values`` (..., N, d_v); leading axes
    broadcast as in :func:`kvlib.kernels.retrieve`. ``mask`` (boolean, broadcastable to
    (..., B, N)): memories marked False are not (yet, or no longer) stored. ``nothing``: the
    match of a memory of nothing that joins every competition with an empty value, so that
    ``v̂`` shrinks towards zero when no key matches better than ``nothing`` (not in the
    review; the chapter's retrieval threshold). Returns ``v̂`` (..., B, d_v), and the weights
    (..., B, N) on the stored memories if ``return_weights`` (they sum to less than 1 by the
    weight the empty memory took). Explained in Chapter 5, §One retrieval rule for the whole
    chapter.

    >>> K = torch.eye(2); V = torch.tensor([[1.0], [-1.0]])
    >>> weighted_recall(K[1:], K, V, beta=20.0)
    tensor([[-1.]])
    >>> weighted_recall(0.3 * K[1:], K, V, beta=20.0, nothing=0.6)      # a weak match: nearly nothing
    tensor([[-0.0025]])
    """
    q, k, v, beta = _read_args(queries, keys, values, beta)
    check.flag("return_weights", return_weights)
    if mask is not None:
        mask = _check_mask(mask, q, k)
    if nothing is None:
        out, w = kernels.retrieve(q, k, v, beta=beta, mask=mask, return_weights=True)
        return (out, w) if return_weights else out
    nothing = check.number("nothing", nothing)
    N, d = k.shape[-2], k.shape[-1]
    # The memory of nothing: one more dimension, zero in every stored key, one in every query,
    # and a key that is zero except for ``nothing`` there, so it matches every query by ``nothing``.
    blank = torch.zeros(*k.shape[:-2], 1, d + 1, dtype=k.dtype, device=k.device)
    blank[..., -1] = nothing
    k1 = torch.cat([F.pad(k, (0, 1)), blank], -2)                       # (..., N + 1, d + 1)
    q1 = F.pad(q, (0, 1), value=1.0)                                    # (..., B, d + 1)
    v1 = torch.cat([v, torch.zeros_like(v[..., :1, :])], -2)            # (..., N + 1, d_v)
    m1 = None
    if mask is not None:
        m = mask if mask.ndim else mask.reshape(1)
        m1 = torch.cat([m.expand(*m.shape[:-1], N), torch.ones_like(m[..., :1])], -1)
    out, w = kernels.retrieve(q1, k1, v1, beta=beta, mask=m1, return_weights=True)
    return (out, w[..., :N]) if return_weights else out


def sample_recall(queries: Tensor, keys: Tensor, beta: float, attempts: int,
                  generator: torch.Generator, *, mask: Tensor | None = None) -> Tensor:
    """``attempts`` retrieval attempts per query, each drawing one memory with ``softmax(β q Kᵀ)``.

    Not in the review: its softmax (Eq 6) gives mixing weights; sampling models of free
    recall read the same numbers as the probability that one attempt lands on each memory
    (Raaijmakers & Shiffrin 1981). ``queries`` (..., B, d), ``keys`` (..., N, d); ``mask`` as
    in :func:`weighted_recall`. The weights are :func:`kvlib.kernels.separate`'s softmax; the
    draws (with replacement) use the Gumbel-max trick, ``argmax(log α + g)`` with standard Gumbel
    noise ``g`` from uniforms drawn on the CPU from ``generator``: exactly a draw from α, and
    the draws the book's numbers were computed with. Returns the indices of the memories
    drawn, (..., B, R) with R = ``attempts``. Explained in Chapter 5, §The list-length effect.

    >>> K = torch.eye(3)
    >>> sample_recall(K[:1], K, beta=50.0, attempts=4, generator=torch.Generator().manual_seed(0))
    tensor([[0, 0, 0, 0]])
    """
    q, k, _, beta = _read_args(queries, keys, keys, beta)
    attempts = check.count("attempts", attempts, minimum=1)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    if mask is not None:
        mask = _check_mask(mask, q, k)
    shape = (*q.shape[:-1], attempts, k.shape[-2])                              # (..., B, R, N)
    if math.prod(shape) > 10**8:
        raise ValueError(f"attempts: expected at most 10**8 draws in all (queries x attempts x "
                         f"memories), got {attempts} attempts for {tuple(q.shape[:-1])} queries and "
                         f"{k.shape[-2]} memories")
    # Each attempt is one sampled read (kernels.retrieve, sample=True): the attempts are a batch
    # axis of queries, read against the same keys.
    reps = q.unsqueeze(-2).expand(*q.shape[:-1], attempts, q.shape[-1])          # (..., B, R, d)
    kk = k.unsqueeze(-3)                                                          # (..., 1, N, d)
    read = kernels.retrieve(reps, kk, kk, "dot", "softmax", beta=beta, sample=True, full=True,
                            generator=generator, chunk_size=attempts,
                            mask=None if mask is None else mask.unsqueeze(-2))
    return read.index                                                             # (..., B, R)


def random_unit(shape: Sequence[int], generator: torch.Generator, device="cpu") -> Tensor:
    """Random unit vectors along the last axis of ``shape`` (Gaussian directions), drawn on the CPU.

    >>> random_unit((2, 3), torch.Generator().manual_seed(0)).norm(dim=-1)
    tensor([1., 1.])
    """
    shape = tuple(check.sequence("shape", shape, lambda n, s: check.count(n, s, minimum=0)))
    if math.prod(shape) > 10**8:
        raise ValueError(f"shape: expected at most 10**8 entries, got {shape}")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    dev = check.device("device", device)
    return F.normalize(torch.randn(shape, generator=generator), dim=-1).to(dev)


def noisy_cue(x: Tensor, noise: float, generator: torch.Generator) -> Tensor:
    """A unit-length cue ``(x + noise · ε / √d) / ‖·‖`` with Gaussian ``ε`` drawn on the CPU.

    ``x`` (..., d); the noise per dimension is scaled by 1/√d, so ``noise`` is the length of
    the perturbation relative to a unit code. Explained in Chapter 5, §The list-length effect.
    """
    x = check.tensor("x", x, nonempty=True)
    if x.ndim < 1:
        raise ValueError(f"x: expected shape (..., d), got {tuple(x.shape)}")
    noise = check.number("noise", noise, low=0, high=1e6)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    eps = torch.randn(tuple(x.shape), generator=generator).to(device=x.device, dtype=x.dtype)
    return F.normalize(x + noise / math.sqrt(x.shape[-1]) * eps, dim=-1)


def mean_se(x: Tensor, dim: int = 0) -> tuple[Tensor, Tensor]:
    """Mean and standard error of the mean along ``dim`` (over simulated participants).

    >>> mean_se(torch.tensor([1.0, 3.0]))
    (tensor(2.), tensor(1.))
    """
    x = check.tensor("x", x, nonempty=True)
    if x.ndim == 0:
        raise ValueError("x: expected at least one axis, got a 0-d tensor")
    dim = check.number("dim", dim, low=-x.ndim, high=x.ndim - 1, integer=True)
    n = x.shape[dim]
    if n < 2:
        raise ValueError(f"x: expected at least 2 entries along dim {dim}, got shape {tuple(x.shape)}")
    return x.mean(dim), x.std(dim) / math.sqrt(n)
