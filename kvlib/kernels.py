"""Retrieval: the dual form of a key-value memory, one read for the whole library (Eqs 3-6).

A read from a key-value memory, in its dual form (Eq 3), is

    v̂ = σ(β · S(K, q)) V,

a similarity ``S`` between the query and every stored key (:mod:`kvlib.similarities`), a
separation ``σ`` that pushes the scores apart (:mod:`kvlib.separations`), and a weighted sum
of the stored values. Each choice is a small function in a name-based registry, and
:func:`retrieve` composes them::

    retrieve(q, K, V, similarity="cosine", separation="softmax", beta=20.0)

Every other module of kvlib reads its memories through :func:`retrieve` (or takes weights
from :func:`separate`), so the numerically safe read reaches every model. For convenience
this module also re-exports the similarities, the separations and the random features
(:mod:`kvlib.random_features`) under their own names: ``kernels.cosine`` is
``similarities.cosine``.

Explained in Chapter 1 (``book/01_kernels.ipynb``), §"One read, many memories".
Axis names (``book/appendix/notation.md``): B queries, N memories, d dims
(d_k for keys and queries, d_v for values), m random or explicit features.
Row vectors throughout, as in the paper: a query is a row ``q`` of shape ``(d_k,)``,
keys are the rows of ``K`` of shape ``(N, d_k)``.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple

import torch

from kvlib import _checks as check
from kvlib.random_features import (
    PositiveRandomFeatures,
    RandomFourierFeatures,
    favor_attention,
    random_feature_error,
)
from kvlib.separations import (
    SEPARATION_TRAITS,
    SEPARATIONS,
    Separation,
    accepted_settings,
    check_mask,
    get_separation,
    hardmax,
    identity,
    polynomial,
    separate,
    softmax,
    threshold,
    topk,
)
from kvlib.similarities import (
    FEATURE_MAPS,
    INPUTS_CHECKED,
    SIMILARITIES,
    Similarity,
    check_rows,
    cosine,
    dot,
    dpfp,
    dpfp_features,
    elu1,
    elu_plus_one,
    euclidean,
    feature_kernel,
    get_similarity,
    identity_features,
    inverse_euclidean,
    inverse_manhattan,
    l1_dot,
    manhattan,
    rbf,
    scaled_dot,
)

__all__ = [
    # similarities S(q, K) -> (B, N), from kvlib.similarities
    "dot", "scaled_dot", "cosine", "euclidean", "manhattan", "rbf", "elu1", "dpfp",
    "l1_dot", "inverse_euclidean", "inverse_manhattan", "SIMILARITIES", "get_similarity",
    # feature maps φ (Eq 4), from kvlib.similarities and kvlib.random_features
    "identity_features", "elu_plus_one", "dpfp_features", "FEATURE_MAPS", "feature_kernel",
    "RandomFourierFeatures", "PositiveRandomFeatures",
    # separations σ, from kvlib.separations
    "identity", "softmax", "hardmax", "threshold", "polynomial", "topk",
    "SEPARATIONS", "get_separation", "separate",
    # the read (defined here), and softmax attention through random features
    "retrieve", "Read", "favor_attention", "random_feature_error", "benchmark_retrieve",
]


def _lead_shape(a: tuple, b: tuple) -> tuple:
    """The broadcast of two leading (batch) shapes, already checked by :func:`check_rows`."""
    return tuple(torch.broadcast_shapes(torch.Size(a), torch.Size(b)))


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
    - ``similarity``, ``separation``: a name from :data:`~kvlib.similarities.SIMILARITIES` /
      :data:`~kvlib.separations.SEPARATIONS` or a callable ``S(queries, keys) -> (..., B, N)`` /
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
    check_rows(q, keys)
    check.tensor("values", values, dtype="float-strict", finite=False)
    if values.ndim != keys.ndim or values.shape[-2] != keys.shape[-2] or \
            values.shape[:-2] != keys.shape[:-2]:
        raise ValueError(f"values: expected shape (..., N, d_v) with the keys' leading axes and "
                         f"N = {keys.shape[-2]} (one per key), got {tuple(values.shape)}")
    if values.dtype != keys.dtype:
        raise ValueError(f"values: expected dtype {keys.dtype} (the keys' dtype), got {values.dtype}")
    if values.device != keys.device:
        raise ValueError(f"values: expected device {keys.device} (the keys' device), got {values.device}")
    if not check.all_finite(values):
        raise ValueError("values: expected finite values, got NaN or inf")
    if keys.shape[-2] == 0:
        raise ValueError(f"keys: expected at least one stored memory, got shape {tuple(keys.shape)}")
    check.number("beta", beta, low=0)
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
    sim_ok = accepted_settings(sim) if isinstance(similarity, str) else set()
    sep_ok = accepted_settings(SEPARATIONS[separation]) - {"beta"} if isinstance(separation, str) else set()
    unknown = set(params) - sim_ok - sep_ok
    if unknown:
        raise ValueError(f"params: the {similarity!r} similarity and the {separation!r} separation "
                         f"accept the settings: {', '.join(sorted(sim_ok | sep_ok)) or 'none'}; "
                         f"got {', '.join(sorted(unknown))}")
    sim_kw = {k: v for k, v in params.items() if k in sim_ok}
    sep_kw = {k: v for k, v in params.items() if k in sep_ok}

    lead = _lead_shape(q.shape[:-2], keys.shape[:-2])
    B, N, d_v = q.shape[-2], keys.shape[-2], values.shape[-1]
    score_shape = torch.Size((*lead, B, N))
    mask = check_mask(mask, shape=score_shape, device=keys.device)
    plain = (q.ndim == 2 and keys.ndim == 2 and mask is None and min_score is None and not sample
             and not full)
    # max without weights or extras: v̂ = V[argmax], no (b, N) product
    one_hot = plain and isinstance(separation, str) and "one_hot" in SEPARATION_TRAITS.get(separation, ()) \
        and not return_weights and not normalize_scores
    if chunk_size is None:
        per_row = max(N, 1) * max(1, math.prod(lead))
        chunk_size = max(1, min(B, (1 << 26) // per_row))     # 2^26 floats = 256 MiB in float32
    check.positive("chunk_size", chunk_size, integer=True)
    chunk_size = int(chunk_size)

    keep = return_weights or full
    out = torch.empty(*lead, B, d_v, dtype=values.dtype, device=values.device)
    weights = torch.empty(score_shape, dtype=values.dtype, device=values.device) if keep else None
    found = torch.ones(*lead, B, dtype=torch.bool, device=values.device)
    index = torch.full((*lead, B), -1, dtype=torch.long, device=values.device)
    token = INPUTS_CHECKED.set(True)                                # inputs checked above, once
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
                # (..., b, N) @ (..., N, d_v); for a few value columns, the transposed product
                # is the same sum and 2-4x faster on CPU (measured, d_v <= 16)
                out[..., start:stop, :] = (values.mT @ alpha.mT).mT if d_v <= 16 else alpha @ values
            if weights is not None:
                weights[..., start:stop, :] = alpha
    finally:
        INPUTS_CHECKED.reset(token)
    if single:
        out, found, index = out[..., 0, :], found[..., 0], index[..., 0]
        weights = weights[..., 0, :] if weights is not None else None
    if full:
        return Read(out, weights, found, index)
    return (out, weights) if return_weights else out


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
    ref_out = None                                            # free the B×N product first
    t_ret = best(lambda: retrieve(queries, keys, keys, "dot", "softmax", beta=0.01,
                                  chunk_size=chunk_size))
    flops_mm = 2.0 * n_queries * n_keys * dim
    flops_ret = 2.0 * n_queries * n_keys * (dim + dim)
    return {"n_queries": n_queries, "n_keys": n_keys, "dim": dim, "device": str(device),
            "threads": torch.get_num_threads(), "matmul_s": t_mm, "retrieve_s": t_ret,
            "matmul_gflops": flops_mm / t_mm / 1e9, "retrieve_gflops": flops_ret / t_ret / 1e9,
            "throughput_ratio": (flops_ret / t_ret) / (flops_mm / t_mm), "time_ratio": t_mm / t_ret}
