"""Sparse, conjunctive keys: one address per cache, even for caches at the same site (§4.2).

Food-caching chickadees store food at many sites and, in the hippocampus, each caching event
gets a sparse "barcode" of active cells, nearly uncorrelated with the barcodes of other caches
even at the same site, beside ordinary place tuning; the barcode comes back when the bird
returns to retrieve (Chettih et al. 2024). The review reads this as keys built for telling
episodes apart (§4.2). Here the key of each cache is made from the input ``x = [a p_s, b e]``
(the place code ``p_s`` of its site, and ``e``, what was unique to that caching episode) in one
of three ways:

* ``"place"``: ``p_s`` alone, a non-conjunctive place code (caches at one site share a key);
* ``"dense"``: a random projection ``x W`` (conjunctive, but overlaps are kept: a projection
  with Gaussian weights preserves cosines on average);
* ``"sparse"``: a random expansion followed by k-winners-take-all, ``kwta(x W, k)``
  (:func:`sparse_expansion`; the pattern-separating code of Marr 1971 and Kanerva 1988).

:func:`cache_retrieval` stores one memory per cache (value: a code for what was cached),
cues it with its site and a noisy copy of the episode, and reads the memory with the linear
read of Eq 2 and the softmax read of Eq 6 (both :func:`kvlib.kernels.retrieve`).

Randomness: ``seed``, through ``kvlib.device.generator``. Axis names: B birds, S sites, C
caches per site, N = S·C caches, P place cells, M expansion units, d dims.
Explained in Chapter 5, §One address per cache.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import cpu_threads
from kvlib.device import generator as stream
from kvlib.episodic import mean_se, noisy_cue, random_unit

__all__ = ["place_code", "sparse_expansion", "cache_retrieval", "KEY_CODES", "cache_numbers"]

#: The three ways of turning a cache's input into its key.
KEY_CODES = ("place", "dense", "sparse")


def place_code(sites: int, cells: int, width: float = 0.05, device="cpu") -> Tensor:
    """Place cells on a ring: ``cells`` Gaussian tuning curves (width ``width`` of the ring)
    sampled at ``sites`` evenly spaced sites; returns unit rows (sites, cells).

    >>> p = place_code(4, 8)
    >>> p.shape, bool(torch.allclose(p.norm(dim=-1), torch.ones(4)))
    (torch.Size([4, 8]), True)
    """
    sites = check.count("sites", sites, minimum=1)
    cells = check.count("cells", cells, minimum=2)
    width = check.positive("width", width)
    dev = check.device("device", device)
    x = torch.arange(sites, dtype=torch.float64) / sites                  # site positions on [0, 1)
    c = torch.arange(cells, dtype=torch.float64) / cells                  # preferred positions
    gap = (x[:, None] - c[None, :]).abs()
    gap = torch.minimum(gap, 1 - gap)                                     # distance on the ring
    return F.normalize(torch.exp(-0.5 * (gap / width) ** 2), dim=-1).float().to(dev)


def sparse_expansion(x: Tensor, weights: Tensor, active: int) -> Tensor:
    """``kwta(x W, k)``: project, keep the ``active`` largest units (set to their value), zero the
    rest, and scale rows to unit length. ``x`` (..., d), ``weights`` (d, M); returns (..., M).

    >>> W = torch.eye(3)
    >>> sparse_expansion(torch.tensor([[0.1, 0.7, 0.3]]), W, 1)
    tensor([[0., 1., 0.]])
    """
    x = check.tensor("x", x, nonempty=True)
    weights = check.tensor("weights", weights, ndim=2, like=x, like_name="x", nonempty=True)
    if x.ndim < 1 or x.shape[-1] != weights.shape[0]:
        raise ValueError(f"weights: expected shape (d, M) with d = {x.shape[-1] if x.ndim else '?'} "
                         f"(x's last axis), got {tuple(weights.shape)}")
    active = check.count("active", active, minimum=1)
    if active > weights.shape[1]:
        raise ValueError(f"active: expected at most M = {weights.shape[1]} units, got {active}")
    h = x @ weights                                                       # (..., M)
    top = h.topk(active, dim=-1)
    out = torch.zeros_like(h).scatter_(-1, top.indices, top.values.clamp(min=0))
    return F.normalize(out, dim=-1)


def _keys(code: str, x: Tensor, place: Tensor, W: Tensor, active: int) -> Tensor:
    if code == "place":
        return place
    if code == "dense":
        return F.normalize(x @ W, dim=-1)
    return sparse_expansion(x, W, active)


def _pair_cosines(K: Tensor, site: Tensor) -> tuple[Tensor, Tensor]:
    """Mean key cosine over pairs of caches at the same site and at different sites, per bird."""
    G = K @ K.transpose(-1, -2)                                           # (B, N, N)
    same = site[:, None] == site[None, :]
    off = ~torch.eye(len(site), dtype=torch.bool, device=K.device)
    s, o = same & off, ~same
    return (G * s).sum((-1, -2)) / s.sum(), (G * o).sum((-1, -2)) / o.sum()


@cpu_threads(1)
def cache_retrieval(caches_per_site: Sequence[int] = (2, 4, 8, 16), sites: int = 16, birds: int = 8,
                    place_cells: int = 64, episode_dims: int = 64, units: int = 2000,
                    active: int = 40, place_weight: float = 0.5, cue_noise: float = 1.0,
                    beta: float = 30.0, value_dims: int = 64, seed: int = 0, device="cpu") -> dict:
    """Which cache is this? Key overlaps and retrieval accuracy for the three key codes.

    Each bird makes ``caches_per_site`` (at least 2) caches at each of ``sites`` sites; each cache's input is
    ``x = [a p_s, b e]`` with ``a^2 = place_weight`` and a random unit episode code ``e``
    (``episode_dims``). Its key is made by each code of :data:`KEY_CODES` (the dense and sparse
    codes share one Gaussian projection to ``units`` units; the sparse one keeps ``active``)
    and its value is a random unit code for what was cached. At retrieval the bird is at the
    site and recalls the episode imperfectly: the cue is ``[a p_s, b ẽ]`` with ``ẽ`` a noisy
    copy of ``e`` (``cue_noise``), through the same code. A cache is retrieved correctly when
    the read is closest (cosine) to its own value among all the bird's caches; reads: linear
    (Eq 2, separation ``identity``) and softmax with inverse temperature ``beta`` (Eq 6).

    Returns, for each code and number of caches per site, the mean and standard error over
    birds of the key cosine between caches at the same site and at different sites, and of
    the two accuracies; and the fraction of active units of each code. Explained in Chapter 5,
    §One address per cache.
    """
    counts = check.sequence("caches_per_site", caches_per_site, lambda n, v: check.count(n, v, minimum=2))
    if not counts:
        raise ValueError("caches_per_site: expected at least one count, got an empty sequence")
    S, B = check.count("sites", sites, minimum=2), check.count("birds", birds, minimum=2)
    P = check.count("place_cells", place_cells, minimum=2)
    E = check.count("episode_dims", episode_dims, minimum=2)
    M = check.count("units", units, minimum=2)
    active = check.count("active", active, minimum=1)
    if active > M:
        raise ValueError(f"active: expected at most units = {M}, got {active}")
    a2 = check.number("place_weight", place_weight, low=0, high=1)
    noise = check.number("cue_noise", cue_noise, low=0, high=1e6)
    beta = check.positive("beta", beta)
    dv = check.count("value_dims", value_dims, minimum=2)
    gen = stream(check.seed("seed", seed))
    dev = check.device("device", device)
    N_max = S * max(counts)
    if B * N_max * max(M, N_max) > 10**8:
        raise ValueError(f"birds: expected at most 10**8 entries (birds x caches x units), got "
                         f"{B} x {N_max} x {max(M, N_max)}")
    a, b = math.sqrt(a2), math.sqrt(1 - a2)
    place = place_code(S, P, device=dev)                                  # (S, P)
    W = (torch.randn((P + E, M), generator=gen) / math.sqrt(P + E)).to(dev)
    out: dict = {"caches_per_site": counts, "codes": list(KEY_CODES)}
    acc = {f"{c}_{m}": [] for c in KEY_CODES for m in ("same_site_cosine", "other_site_cosine",
                                                    "linear_accuracy", "softmax_accuracy")}
    for C in counts:                                                      # loop over a few set sizes
        site = torch.arange(S, device=dev).repeat_interleave(C)           # (N,) the site of each cache
        N = S * C
        ep = random_unit((B, N, E), gen, dev)                             # (B, N, E) episode codes
        vals = random_unit((B, N, dv), gen, dev)                          # (B, N, d_v) what was cached
        p = place[site].expand(B, N, P)
        x = torch.cat([a * p, b * ep], -1)                                # (B, N, P + E) inputs
        xq = torch.cat([a * p, b * noisy_cue(ep, noise, gen)], -1)        # the cues at retrieval
        for code in KEY_CODES:
            K, Q = _keys(code, x, p, W, active), _keys(code, xq, p, W, active)
            same, other = _pair_cosines(K, site)
            hits = {}
            for read, sep, bt in (("linear", "identity", 1.0), ("softmax", "softmax", beta)):
                v_hat = kernels.retrieve(Q, K, vals, "dot", sep, beta=bt)  # (B, N, d_v)
                choice = (F.normalize(v_hat, dim=-1) @ vals.transpose(-1, -2)).argmax(-1)
                hits[read] = (choice == torch.arange(N, device=dev)).float().mean(-1)
            for m, v in (("same_site_cosine", same), ("other_site_cosine", other),
                         ("linear_accuracy", hits["linear"]), ("softmax_accuracy", hits["softmax"])):
                acc[f"{code}_{m}"].append(v)
    for k, vals_ in acc.items():
        m, se = mean_se(torch.stack(vals_, 1).cpu())                      # over birds: (len(counts),)
        out[f"{k}_mean"], out[f"{k}_se"] = m, se
    out["active_fraction"] = {"place": float((place > 1e-3 * place.amax()).float().mean()),
                              "dense": 1.0, "sparse": active / M}
    return out


def cache_numbers(result: dict) -> dict[str, float]:
    """The numbers Chapter 5 quotes from :func:`cache_retrieval`'s ``result``, all at the most
    caches per site (``cb_n``): mean same-site cosine of dense and sparse keys, other-site cosine
    of sparse keys, and the accuracy (%) of each key code read by softmax and by a linear read,
    with chance (``cb_chance``, one in ``cb_n``)."""
    if not isinstance(result, dict):
        raise TypeError(f"result: expected the dict cache_retrieval returns, got {type(result).__name__}")
    need = ["caches_per_site"] + [f"{c}_{r}_accuracy_mean" for c in KEY_CODES for r in ("softmax", "linear")]
    missing = [k for k in need + ["dense_same_site_cosine_mean"] if k not in result]
    if missing:
        raise ValueError(f"result: expected cache_retrieval's result, missing {missing}")
    last = {k: float(v[-1]) for k, v in result.items() if k.endswith("_mean")}
    n = result["caches_per_site"][-1]
    return {"cb_n": n, "cb_same_dense": last["dense_same_site_cosine_mean"],
            "cb_same_sparse": last["sparse_same_site_cosine_mean"],
            "cb_other_sparse": last["sparse_other_site_cosine_mean"], "cb_chance": 100 / n,
            "cb_place_soft": 100 * last["place_softmax_accuracy_mean"],
            **{f"cb_{short}_{code}": 100 * last[f"{code}_{read}_accuracy_mean"]
               for short, read in (("soft", "softmax"), ("lin", "linear")) for code in KEY_CODES
               if (short, code) != ("soft", "place")}}
