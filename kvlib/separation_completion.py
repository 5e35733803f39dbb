"""Pattern separation and completion as clean-up of the key: a dentate-like expansion, a CA3-like attractor.

Paper §4 (§"Keys are optimised for discrimination"): a hippocampus that receives noisy cues
must clean up the key it retrieves with, mapping nearby inputs onto the same attractor
(*pattern completion*) and distant ones onto different attractors (*pattern separation*), and
the classic proposal puts separation in the dentate gyrus and completion in CA3 (Marr 1971;
McNaughton & Morris 1987; Treves & Rolls 1994; Rolls 2013; Yassa & Stark 2011). Here:

* **separation**, :func:`dentate_code`: a random expansion of the ±1 input to many units
  followed by k-winners-take-all (the sparse code of Marr and Kanerva; the kWTA is
  :func:`kvlib.scaffold.top_k`);
* **completion**, :func:`ca3_complete`: a Hopfield attractor (:mod:`kvlib.hopfield`) that
  stores the keys with the projection rule (Personnaz et al. 1985; it copes with correlated
  keys, which the Hebbian rule merges) and runs sign dynamics on ±1 keys, or, on sparse dentate
  codes, k-winners-take-all dynamics (inhibition keeps ``active`` units on; not in
  :mod:`kvlib.hopfield`, whose dynamics are sign dynamics).

Both act on the *key path*: the cue passes through them before it is matched with the stored
keys, and the value is read with the linear read of Eq 2 (``kernels.retrieve``, dot product,
no separation). The stored keys are correlated on purpose, ``members`` variants of each of
``clusters`` prototypes (:func:`clustered_keys`), so that there is something to separate.

:func:`similarity_transfer` measures output similarity against input similarity for each stage
(separation: below the diagonal; completion: above it for similar inputs);
:func:`key_path_recall` the recall accuracy from noisy cues along the four paths of
:data:`KEY_PATHS`; :func:`separation_completion_tradeoff` the trade-off (O'Reilly & McClelland
1994): a feed-forward expansion maps a noisy cue and a similar *other* memory alike, so
whatever separates memories also separates a cue from its memory; only the attractor, which
knows what was stored, can do both. Similarity is the Pearson correlation across units
(:func:`code_similarity`; for ±1 codes the overlap ``m`` of :func:`kvlib.hopfield.overlap`).

Axis names: P stored memories, B cues, d input units, n dentate units, k active units.
Randomness: ``seed`` through ``kvlib.device.generator``. Explained in Chapter 5, §Pattern
separation and completion.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib import hopfield, kernels
from kvlib.device import cpu_threads
from kvlib.device import generator as seed_stream
from kvlib.scaffold import top_k

__all__ = ["KEY_PATHS", "flip_exactly", "code_similarity", "dentate_code", "ca3_weights", "ca3_complete",
           "clustered_keys", "similarity_transfer", "key_path_recall", "separation_completion_tradeoff",
           "nearest_value", "separation_completion_numbers"]

#: The ways a cue reaches the stored keys: as it is, through the attractor, through the
#: expansion, or through the expansion and then an attractor over the expanded codes.
KEY_PATHS = ("direct", "completion", "separation", "separation+completion")
_F64 = torch.float64


def flip_exactly(x: torch.Tensor, fraction: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip exactly ``round(fraction * d)`` randomly chosen entries of each ±1 row of ``x`` (..., d).

    A flipped copy of a ±1 pattern has overlap exactly ``1 - 2 * round(fraction * d) / d`` with it.

    >>> (flip_exactly(torch.ones(2, 10), 0.3, torch.Generator().manual_seed(0)) < 0).sum(-1)
    tensor([3, 3])
    """
    x = check.tensor("x", x, ndim=range(1, 9), nonempty=True)
    fraction = check.probability("fraction", fraction)
    check.generator("generator", generator)
    d = x.shape[-1]
    n = int(round(fraction * d))
    if n == 0:
        return x.clone()
    order = torch.rand(x.shape, generator=generator).argsort(dim=-1).to(x.device)   # a random order per row
    flip = torch.zeros(x.shape, dtype=torch.bool, device=x.device).scatter_(-1, order[..., :n], True)
    return torch.where(flip, -x, x)


def code_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation across units of each pair of rows: (..., d), (..., d) → (...).

    1 for identical codes, about 0 for unrelated ones; for ±1 codes with balanced entries it is
    the overlap ``a·b/d``; for k-hot codes out of n it is ``(shared/k - k/n) / (1 - k/n)``. A
    constant row (no variance) has similarity 0 with everything.

    >>> code_similarity(torch.tensor([[1., 0., 0., 1.]]), torch.tensor([[1., 0., 1., 0.]]))
    tensor([0.])
    """
    a = check.tensor("a", a, ndim=range(1, 9), nonempty=True)
    b = check.tensor("b", b, ndim=range(1, 9), nonempty=True)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"b: expected {a.shape[-1]} units (as a), got shape {tuple(b.shape)}")
    a = a - a.mean(-1, keepdim=True)
    b = b.to(a) - b.to(a).mean(-1, keepdim=True)
    norm = a.norm(dim=-1) * b.norm(dim=-1)
    ok = norm > 1e-12 * a.shape[-1]
    safe = torch.where(ok, norm, torch.ones_like(norm))
    return torch.where(ok, (a * b).sum(-1) / safe, torch.zeros_like(norm))


def dentate_code(x: torch.Tensor, weights: torch.Tensor, active: int) -> torch.Tensor:
    """The dentate-like code ``kWTA(x R, k)``: a random expansion, then the ``active`` most driven
    units on (1) and the rest off (0). ``x`` (B, d), ``weights`` R (d, n); returns (B, n).

    >>> dentate_code(torch.tensor([[1., -1.]]), torch.tensor([[1., 0., -1.], [0., 1., 1.]]), 1)
    tensor([[1., 0., 0.]])
    """
    x = check.tensor("x", x, ndim=2, nonempty=True)
    weights = check.tensor("weights", weights, ndim=2, nonempty=True)
    if weights.shape[0] != x.shape[1]:
        raise ValueError(f"weights: expected shape ({x.shape[1]}, n) (x's units first), "
                         f"got {tuple(weights.shape)}")
    return top_k(x @ weights.to(x), check.count("active", active, minimum=1))


def ca3_weights(keys: torch.Tensor, sparse: bool = False) -> torch.Tensor:
    """The attractor's weights over the stored ``keys`` (P, N): the projection rule
    (:func:`kvlib.hopfield.hopfield_weights`, ``"pinv"``), on ±1 keys as they are or, with
    ``sparse=True``, on k-hot codes centred by their mean activity (the covariance form)."""
    keys = check.tensor("keys", keys, ndim=2, dtype="float", nonempty=True)
    if check.flag("sparse", sparse):
        keys = keys - keys.mean()
    return hopfield.hopfield_weights(keys.to(_F64), "pinv")


def ca3_complete(weights: torch.Tensor, cues: torch.Tensor, active: int | None = None,
                 max_steps: int = 30) -> torch.Tensor:
    """Run the attractor from each cue (B, N) to where it settles.

    ``active=None``: ±1 sign dynamics, :func:`kvlib.hopfield.recall` (synchronous, at most
    ``max_steps``). ``active=k``: k-winners-take-all dynamics for k-hot codes,
    ``s ← kWTA(s W, k)`` until a fixed point (or ``max_steps``); the loop over steps is the
    dynamics. Stored keys are fixed points of both while the projection rule holds (P < N).
    """
    W = check.tensor("weights", weights, ndim=2, dtype="float", nonempty=True)
    cues = check.tensor("cues", cues, ndim=2, dtype="float")
    if W.shape[0] != W.shape[1] or cues.shape[1] != W.shape[0]:
        raise ValueError(f"cues: expected shape (B, {W.shape[0]}) for weights {tuple(W.shape)}, "
                         f"got {tuple(cues.shape)}")
    max_steps = check.count("max_steps", max_steps, minimum=1)
    if active is None:
        return hopfield.recall(W, cues.to(W), max_steps=max_steps)
    active = check.count("active", active, minimum=1)
    if active > W.shape[0]:
        raise ValueError(f"active: expected at most {W.shape[0]} units, got {active}")
    s = cues.to(W)
    for _ in range(max_steps):                       # the attractor's dynamics, step by step
        nxt = top_k(s @ W, active)
        if torch.equal(nxt, s):
            break
        s = nxt
    return s


def clustered_keys(clusters: int, members: int, d: int, spread: float = 0.1,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``clusters * members`` ±1 keys (P, d): each cluster's members are copies of a random
    prototype with ``spread * d`` bits flipped, so two members overlap by about ``(1 - 2 spread)^2``.
    Rows are ordered cluster by cluster."""
    clusters = check.count("clusters", clusters, minimum=1)
    members = check.count("members", members, minimum=1)
    d = check.count("d", d, minimum=2)
    spread = check.number("spread", spread, low=0, high=0.5)
    proto = hopfield.random_patterns(clusters, d, check.generator("generator", generator), dtype=_F64)
    return flip_exactly(proto.repeat_interleave(members, 0), spread, generator)


def _world(d: int, units: int, active: int, clusters: int, members: int, spread: float,
           value_dims: int, seed: int, world: int = 0) -> dict:
    """The stored memories and the fixed parts of both stages, from named seed streams
    (``world`` numbers independent worlds of one seed)."""
    X = clustered_keys(clusters, members, d, spread, seed_stream(seed, f"keys/{world}"))      # (P, d)
    R = torch.randn(d, units, generator=seed_stream(seed, f"dentate/{world}"), dtype=_F64)     # (d, n)
    V = torch.randn(X.shape[0], value_dims, generator=seed_stream(seed, f"values/{world}"), dtype=_F64)
    H = dentate_code(X, R, active)                                                       # (P, n)
    return {"X": X, "R": R, "V": V, "H": H, "active": active,
            "W_raw": ca3_weights(X), "W_dg": ca3_weights(H, sparse=True)}


def _through(w: dict, path: str, cue: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The cue along ``path`` and the stored keys it is matched with (both centred for k-hot codes)."""
    if path == "direct":
        return cue, w["X"]
    if path == "completion":
        return ca3_complete(w["W_raw"], cue), w["X"]
    a = w["active"] / w["R"].shape[1]
    h = dentate_code(cue, w["R"], w["active"])
    if path == "separation+completion":
        h = ca3_complete(w["W_dg"], h, active=w["active"])
    return h - a, w["H"] - a


def _settings(d, units, active, clusters, members, spread, value_dims, seed) -> dict:
    d, units = check.count("d", d, minimum=2), check.count("units", units, minimum=2)
    active = check.count("active", active, minimum=1)
    if active >= units:
        raise ValueError(f"active: expected fewer than units = {units}, got {active}")
    clusters = check.count("clusters", clusters, minimum=1)
    members = check.count("members", members, minimum=1)
    if clusters * members >= min(d, units):
        raise ValueError(f"clusters: expected clusters * members < min(d, units) = {min(d, units)} (the "
                         f"projection rule stores fewer keys than units), got {clusters * members}")
    return dict(d=d, units=units, active=active, clusters=clusters, members=members,
                spread=check.number("spread", spread, low=0, high=0.5),
                value_dims=check.count("value_dims", value_dims, minimum=1), seed=check.seed("seed", seed))


@cpu_threads(1)
def similarity_transfer(similarities: Sequence[float] = tuple(i / 10 for i in range(11)), *,
                        d: int = 200, units: int = 1000, active: int = 50, clusters: int = 15,
                        members: int = 4, spread: float = 0.1, cues: int = 200, seed: int = 0) -> dict:
    """Output similarity against input similarity, for each stage of the key path.

    For each input similarity ρ, ``cues`` stored keys are paired with copies at overlap ρ
    (:func:`flip_exactly`); each pair goes through the separation (:func:`dentate_code`), the
    completion (:func:`ca3_complete` over the stored keys) and both, and the mean
    :func:`code_similarity` of the two outputs is returned: ``{"input": [...], path: [...]}``
    for the paths of :data:`KEY_PATHS` other than ``"direct"`` (which is the diagonal).
    """
    rhos = check.sequence("similarities", similarities, lambda n, v: check.number(n, v, low=-1, high=1))
    cfg = _settings(d, units, active, clusters, members, spread, 1, seed)
    cues = check.count("cues", cues, minimum=1)
    w = _world(**{**cfg, "value_dims": 1})
    g = seed_stream(cfg["seed"], "transfer")
    out: dict = {"input": rhos, **{p: [] for p in KEY_PATHS[1:]}}
    for rho in rhos:                                  # a few similarity levels, one batch each
        idx = torch.randint(w["X"].shape[0], (cues,), generator=g)
        stored = w["X"][idx]
        cue = flip_exactly(stored, (1 - rho) / 2, g)
        for path in KEY_PATHS[1:]:
            a, _ = _through(w, path, stored)
            b, _ = _through(w, path, cue)
            out[path].append(float(code_similarity(a, b).mean()))
    return out


def _accuracy(w: dict, path: str, cue: torch.Tensor, idx: torch.Tensor) -> float:
    """Linear read (Eq 2) of the values with the cue's key; correct if the read is closest
    (cosine) to the cued memory's value."""
    q, K = _through(w, path, cue)
    read = kernels.retrieve(q, K, w["V"], "dot", "identity")                  # (B, d_v): Eq 2
    best = kernels.retrieve(read, w["V"], w["V"], "cosine", "max", full=True).index
    return float((best == idx).double().mean())


@cpu_threads(1)
def key_path_recall(noise: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3), *,
                    paths: Sequence[str] = KEY_PATHS, d: int = 200, units: int = 1000, active: int = 50,
                    clusters: int = 15, members: int = 4, spread: float = 0.1, value_dims: int = 100,
                    cues: int = 300, seeds: int = 3, seed: int = 0) -> dict:
    """Recall accuracy from noisy cues along each key path: ``{"noise": [...], path: [...]}``.

    A cue is a stored key with a fraction ``noise`` of its bits flipped; the accuracy is the
    fraction of ``cues`` cues (per seed, ``seeds`` independent worlds from ``seed``) whose linear
    read is closest to the cued memory's value. Chance is ``1 / (clusters * members)``.
    """
    levels = check.sequence("noise", noise, lambda n, v: check.number(n, v, low=0, high=0.5))
    paths = check.sequence("paths", paths, lambda n, p: check.option(n, p, KEY_PATHS), distinct=True)
    cfg = _settings(d, units, active, clusters, members, spread, value_dims, seed)
    cues = check.count("cues", cues, minimum=1)
    seeds = check.count("seeds", seeds, minimum=1)
    acc = {p: [0.0] * len(levels) for p in paths}
    for s in range(seeds):                            # independent worlds, averaged
        w = _world(**cfg, world=s)
        g = seed_stream(cfg["seed"], f"cues/{s}")
        for i, p_noise in enumerate(levels):
            idx = torch.randint(w["X"].shape[0], (cues,), generator=g)
            cue = flip_exactly(w["X"][idx], p_noise, g)
            for p in paths:
                acc[p][i] += _accuracy(w, p, cue, idx) / seeds
    return {"noise": levels, "chance": 1 / (cfg["clusters"] * cfg["members"]), **acc}


@cpu_threads(1)
def separation_completion_tradeoff(actives: Sequence[int] = (10, 20, 50, 100, 200, 500), *,
                                   noise: float = 0.18, d: int = 200, units: int = 1000, clusters: int = 15,
                                   members: int = 4, spread: float = 0.1, cues: int = 200,
                                   seed: int = 0) -> dict:
    """How similar two *different* similar memories stay, against how similar a noisy cue stays
    to its memory, for each sparsity of the expansion, with and without the attractor.

    Returns ``{"actives": [...], "input": (sibling, cue) similarities before any stage,
    "separation": [(sibling, cue)] per ``active``, "separation+completion": [(sibling, cue)],
    "completion": (sibling, cue)}``: ``sibling`` is the mean :func:`code_similarity` of the
    codes of two members of one cluster, over every such pair (low: separated), ``cue`` that of
    a cue with a fraction ``noise`` flipped and its memory's code (high: completed). The default
    ``noise`` makes a cue as similar to its memory as two members of a cluster are to each other
    (``(1 - 2 spread)^2``).
    The attractor's stored codes are its fixed points, so it leaves ``sibling`` as the expansion
    made it.
    """
    ks = check.sequence("actives", actives, lambda n, v: check.count(n, v, minimum=1))
    check.count("members", members, minimum=2)                 # pairs of members are compared
    noise = check.number("noise", noise, low=0, high=0.5)
    cues = check.count("cues", cues, minimum=1)
    out: dict = {"actives": ks, "separation": [], "separation+completion": []}
    for k in ks:                                      # one world per sparsity level
        cfg = _settings(d, units, k, clusters, members, spread, 1, seed)
        w = _world(**cfg)
        g = seed_stream(cfg["seed"], "tradeoff")
        P, m = w["X"].shape[0], cfg["members"]
        i, j = torch.triu_indices(m, m, 1)                                     # every pair within a cluster
        base = torch.arange(0, P, m)[:, None]
        first, second = (base + i).reshape(-1), (base + j).reshape(-1)
        idx = torch.randint(P, (cues,), generator=g)
        cue = flip_exactly(w["X"][idx], noise, g)
        if "input" not in out:
            out["input"] = (float(code_similarity(w["X"][first], w["X"][second]).mean()),
                            float(code_similarity(cue, w["X"][idx]).mean()))
            done = ca3_complete(w["W_raw"], cue)
            out["completion"] = (out["input"][0], float(code_similarity(done, w["X"][idx]).mean()))
        sib = float(code_similarity(w["H"][first], w["H"][second]).mean())
        for path in ("separation", "separation+completion"):
            h, K = _through(w, path, cue)
            out[path].append((sib, float(code_similarity(h, K[idx]).mean())))
    return out


def nearest_value(curve: Sequence[float], grid: Sequence[float], x: float) -> float:
    """The value of a sampled ``curve`` at the point of ``grid`` nearest ``x`` (the first of two
    equally near ones): reading a curve of :func:`similarity_transfer` or :func:`key_path_recall`
    at one similarity or noise level.

    >>> nearest_value([10.0, 20.0, 30.0], [0.0, 0.1, 0.2], 0.12)
    20.0
    """
    grid = check.sequence("grid", grid, check.number)
    curve = check.sequence("curve", curve, check.number)
    if len(curve) != len(grid):
        raise ValueError(f"curve: expected one value per grid point ({len(grid)}), got {len(curve)}")
    x = check.number("x", x)
    return curve[min(range(len(grid)), key=lambda i: abs(grid[i] - x))]


def separation_completion_numbers(transfer: dict, recall: dict, tradeoff: dict, active: int
                                  ) -> dict[str, float]:
    """The numbers Chapter 5 quotes from :func:`similarity_transfer` (``transfer``: output
    similarity through the expansion at input similarity 0.8 and 0.5, through the attractor at
    0.5 and 0.6), :func:`key_path_recall` (``recall``: each path's accuracy in % at 0 to 30%
    noise, as ``d``, ``c``, ``s``, ``sc`` + the noise in %) and
    :func:`separation_completion_tradeoff` (``tradeoff``: the two inputs' similarities, and at
    ``active`` winners and at the sparsest setting the output similarities)."""
    for name, value, source, key in (("transfer", transfer, "similarity_transfer", "separation"),
                                     ("recall", recall, "key_path_recall", "noise"),
                                     ("tradeoff", tradeoff, "separation_completion_tradeoff", "actives")):
        check.result(name, value, source, key)
    active = check.count("active", active, minimum=1)
    if active not in tradeoff["actives"]:
        raise ValueError(f"active: expected one of the trade-off's settings {tradeoff['actives']}, "
                         f"got {active}")
    k = tradeoff["actives"].index(active)
    rho, nz = transfer["input"], recall["noise"]
    return {"in_sib": tradeoff["input"][0], "in_cue": tradeoff["input"][1],
            "sep08": nearest_value(transfer["separation"], rho, 0.8),
            "sep05": nearest_value(transfer["separation"], rho, 0.5),
            "comp05": nearest_value(transfer["completion"], rho, 0.5),
            "comp06": nearest_value(transfer["completion"], rho, 0.6),
            **{f"{p}{round(100 * x)}": 100 * nearest_value(recall[path], nz, x)
               for p, path in (("d", "direct"), ("c", "completion"), ("s", "separation"),
                               ("sc", "separation+completion"))
               for x in (0.0, 0.1, 0.15, 0.2, 0.3)},
            "k_sib": tradeoff["separation"][k][0], "k_cue": tradeoff["separation"][k][1],
            "k_done": tradeoff["separation+completion"][k][1],
            "k10_done": tradeoff["separation+completion"][0][1]}
