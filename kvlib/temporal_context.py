"""A drifting temporal context as the key, free recall from it, and temporal contiguity.

A scaffold can be random and still carry structure (paper §2.2): if each item is stored under
the current state of a context vector that changes a little with every item, items met close
together in time get similar addresses, with no learning at all. This is the idea of the
temporal context model (Howard & Kahana 2002). Here, simplified:

* :func:`drifting_context`: each item of a list has a random unit vector ``f_t``; the context
  drifts as ``c_t = rho c_{t-1} + drift f_t`` and item ``t`` is stored with key ``c_t``;
* :func:`context_recall_order`: free recall. The memory is read with the end-of-list context;
  each retrieval draws one not-yet-recalled item with softmax probabilities (one sampled
  :func:`kvlib.kernels.retrieve`), and the recalled item brings back context, folded into
  the query by the same drift rule;
* :func:`crp_by_lag`: the standard summary of free recall, the conditional response
  probability by lag (Kahana 1996), which shows the temporal contiguity effect.

The free parameters (drift, sensitivity, reinstatement mixture) are set by hand, not fitted
to recall data. Explained in Chapter 2, §Addresses that drift in time and §Free recall and
temporal contiguity.

Axis vocabulary (``book/appendix/notation.md``): B lists, T list positions, d context dims,
R recalls.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import cpu_threads
from kvlib.device import generator as seed_stream

__all__ = ["drifting_context", "context_recall_order", "crp_by_lag", "temporal_contiguity",
           "contiguity_by_drift", "context_similarity"]


def _generator(name: str, g: object) -> torch.Generator:
    """A generator is required here (the lists and recalls must be reproducible)."""
    if check.generator(name, g) is None:
        raise TypeError(f"{name}: expected a torch.Generator, got None")
    return g


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
    a fresh random context per item (no temporal imprint). Random numbers are drawn on the
    CPU from ``generator``.

    Returns ``(keys, items)``, both ``(B, T, dim)`` with unit rows. Explained in Chapter 2,
    §Addresses that drift in time.
    """
    n_lists = check.count("n_lists", n_lists, 1)
    length = check.count("length", length, 2)
    dim = check.count("dim", dim, 1)
    drift = check.probability("drift", drift)
    _generator("generator", generator)
    dev = check.device("device", device)
    rho = math.sqrt(1.0 - drift ** 2)
    f = F.normalize(torch.randn(n_lists, length, dim, generator=generator), dim=-1)   # (B, T, d)
    c0 = F.normalize(torch.randn(n_lists, 1, dim, generator=generator), dim=-1)       # (B, 1, d)
    t = torch.arange(length, dtype=torch.float64)
    lag = t[:, None] - t[None, :]                                                     # (T, T)
    D = torch.where(lag >= 0, drift * rho ** lag.clamp(min=0), torch.zeros(()))      # (T, T)
    start = (rho ** (t + 1))[None, :, None]                                           # (1, T, 1)
    C = torch.einsum("ts,bsd->btd", D.float(), f) + start.float() * c0                # (B, T, d)
    return F.normalize(C, dim=-1).contiguous().to(dev), f.to(dev)


def context_recall_order(keys: torch.Tensor, items: torch.Tensor, drift: float, n_recalls: int,
                         generator: torch.Generator, sensitivity: float = 20.0,
                         reinstate: float = 0.5) -> torch.Tensor:
    """Free recall from a context-addressed memory; returns the recalled list positions ``(B, R)``.

    The cue starts as the end-of-list context. At each output the memory is read once with
    :func:`kvlib.kernels.retrieve`: scores ``cue . k_t``, softmax with inverse temperature
    ``sensitivity`` over the items not yet recalled (a mask; a Luce choice), and one item is
    *drawn* with those probabilities (``sample=True``, on the CPU from ``generator``). Its
    value holds its study context and its input, and it brings context back: the mixture
    ``reinstate * k_j + (1 - reinstate) * f_j`` is folded into the cue with the same drift
    rule as at study. (The loop over outputs is the point: each recall depends on the last;
    it is vectorised over lists.) Explained in Chapter 2, §Free recall and temporal contiguity.
    """
    keys = check.tensor("keys", keys, ndim=3, nonempty=True)
    items = check.tensor("items", items, ndim=3, nonempty=True)
    if keys.shape != items.shape or keys.dtype != items.dtype or keys.device != items.device:
        raise ValueError(f"keys, items: expected two (B, T, d) tensors alike in shape, dtype and "
                         f"device, got {tuple(keys.shape)} {keys.dtype} and "
                         f"{tuple(items.shape)} {items.dtype}")
    B, T, d = keys.shape
    n_recalls = check.count("n_recalls", n_recalls, 1)
    if n_recalls > T:
        raise ValueError(f"n_recalls: expected at most the list length {T}, got {n_recalls}")
    drift = check.probability("drift", drift)
    reinstate = check.probability("reinstate", reinstate)
    sensitivity = check.number("sensitivity", sensitivity, low=0.0)
    _generator("generator", generator)
    rho = math.sqrt(1.0 - drift ** 2)
    memory = torch.cat([keys, items], dim=-1)                          # (B, T, 2d) values: c_t and f_t
    allowed = torch.ones(B, 1, T, dtype=torch.bool, device=keys.device)
    rows = torch.arange(B, device=keys.device)
    cue = keys[:, -1]                                                  # (B, d) end-of-list context
    order = []
    for _ in range(n_recalls):
        read = kernels.retrieve(cue[:, None, :], keys, memory, "dot", "softmax", beta=sensitivity,
                                mask=allowed, sample=True, generator=generator, full=True)
        j = read.index[:, 0]                                           # (B,) the item drawn
        order.append(j)
        allowed[rows, 0, j] = False
        back_k, back_f = read.values[:, 0].split(d, dim=-1)            # (B, d) each
        back = F.normalize(reinstate * back_k + (1 - reinstate) * back_f, dim=-1)
        cue = F.normalize(rho * cue + drift * back, dim=-1)
    return torch.stack(order, dim=1)                                   # (B, R)


def crp_by_lag(order: torch.Tensor, length: int, max_lag: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Conditional response probability by lag (Kahana 1996) from recall orders ``(B, R)``.

    For each transition from position ``i`` to ``j``, the lag ``j - i`` is counted as made,
    and every lag to a position not yet recalled is counted as possible; CRP = made /
    possible. Returns ``(lags, crp)`` for lags ``-max_lag..max_lag`` (``crp`` is NaN at
    lag 0 and where a lag was never possible: undefined, not zero).

    >>> lags, crp = crp_by_lag(torch.tensor([[1, 2, 0]]), 4, max_lag=1)
    >>> lags.tolist(), crp.tolist()
    ([-1, 0, 1], [0.0, nan, 0.5])

    Explained in Chapter 2, §Free recall and temporal contiguity.
    """
    order = check.tensor("order", order, ndim=2, dtype="int", nonempty=True)
    length = check.count("length", length, 2)
    max_lag = length - 1 if max_lag is None else check.count("max_lag", max_lag, 1)
    B, R = order.shape
    if R < 2:
        raise ValueError(f"order: expected (B, R) recall orders with R >= 2, got {tuple(order.shape)}")
    if int(order.min()) < 0 or int(order.max()) >= length:
        raise ValueError(f"order: expected list positions 0..{length - 1}, got values from "
                         f"{int(order.min())} to {int(order.max())}")
    if bool((order.sort(-1).values.diff(dim=-1) == 0).any()):
        raise ValueError("order: expected each position recalled at most once per list, got a repeat")
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
    """Study lists under a drifting context, free-recall them, return the CRP ``(lags, crp)``.

    :func:`drifting_context`, then :func:`context_recall_order`, then :func:`crp_by_lag`, all
    from one generator seeded with ``seed``. Explained in Chapter 2, §Free recall and
    temporal contiguity.

    >>> lags, crp = temporal_contiguity(0.5, n_lists=500)
    >>> int(lags[crp.nan_to_num(-1).argmax()])
    1
    """
    g = seed_stream(check.seed("seed", seed))
    max_lag = check.count("max_lag", max_lag, 1)
    with cpu_threads(1):     # a loop of small operations: one thread is faster (measured ~10x)
        keys, items = drifting_context(n_lists, length, dim, drift, g, device)
        order = context_recall_order(keys, items, drift, n_recalls, g, sensitivity, reinstate)
        return crp_by_lag(order, length, max_lag)


def contiguity_by_drift(drifts, **settings) -> dict:
    """:func:`temporal_contiguity` for each drift rate: ``{drift: (lags, crp)}``.

    ``settings`` go to :func:`temporal_contiguity`. Explained in Chapter 2, §Try it.
    """
    drifts = check.sequence("drifts", drifts, lambda n, v: check.probability(n, v), distinct=True)
    return {d: temporal_contiguity(d, **settings) for d in drifts}


def context_similarity(drift: float, *, n_lists: int = 500, length: int = 16, dim: int = 64,
                       seed: int = 0) -> torch.Tensor:
    """Mean similarity between the context keys of every two list positions, ``(T, T)``.

    Averaged over ``n_lists`` lists from :func:`drifting_context` (keys are unit vectors, so
    this is their mean cosine). Explained in Chapter 2, §Addresses that drift in time.
    """
    keys, _ = drifting_context(n_lists, length, dim, drift, seed_stream(check.seed("seed", seed)))
    return torch.einsum("btd,bsd->ts", keys, keys) / n_lists           # (T, T) averaged over lists
