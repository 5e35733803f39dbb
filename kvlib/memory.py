"""Associative memories built from one read: correlation matrix memory and Hopfield networks.

* :class:`CorrelationMemory`: Kohonen's correlation matrix memory, written by Hebbian
  outer products (Eq 1), read by ``v̂ = qM`` (Eq 2) or, equally, in its dual form as
  attention over the stored pairs (Eq 3).
* :func:`corrupt` and :func:`capacity_curve`: how many stored images a memory gives back
  from a noisy or half-masked query, for any similarity × separation (Millidge et al. 2022),
  in the book's setting or in theirs (:data:`CAPACITY_SETTINGS`).
* :func:`noise_tradeoff`: separability against robustness, max against softmax at finite β.
* :func:`classical_hopfield` (binary, Hebbian weights, sign dynamics; Hopfield 1982) and
  :func:`modern_hopfield` (iterated softmax attention; Ramsauer et al. 2021), compared by
  :func:`hopfield_capacity`.

Explained in Chapter 1 (``book/01_kernels.ipynb``). Axis names: B queries, N memories,
d dims. Row vectors, as in the paper. The module is longer than 450 lines because the capacity
functions carry two named settings (the book's and Millidge et al.'s) beside the memories.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from kvlib.device import progress as progress_bar
from kvlib.kernels import (Separation, Similarity, _accepted, _check_float, _check_positive,
                           euclidean, get_similarity, retrieve, separate, softmax)

__all__ = ["CorrelationMemory", "CORRUPTIONS", "CAPACITY_SETTINGS", "mnist_memories", "nearest_other",
           "corrupt", "retrieval_accuracy", "capacity_curve", "capacity_by_separation", "noise_tradeoff",
           "random_patterns", "hopfield_weights", "classical_hopfield", "modern_hopfield",
           "overlap", "hopfield_capacity"]


def _progress(iterable, progress: bool, desc: str, total: int | None = None):
    return progress_bar(iterable, enabled=progress, desc=desc, total=total)


# ---------------------------------------------------------------------------
# Correlation matrix memory (Eqs 1-3).
# ---------------------------------------------------------------------------

class CorrelationMemory:
    """Kohonen's correlation matrix memory, in matrix and dual form.

    ``write`` adds ``η kₙᵀ vₙ`` to the associator ``M`` (Eq 1; all pairs of a call in one
    matrix product ``Kᵀ diag(η) V``) and also keeps the pairs; ``read`` is ``qM`` (Eq 2);
    ``read_dual`` is ``Σₙ αₙ ηₙ vₙ`` with ``α = σ(S(K, q))`` (Eq 3): with the default
    ``S = dot`` and ``σ = identity`` the two reads are the same numbers.
    Explained in Chapter 1, §"Kohonen's correlation memory and its dual".

    >>> mem = CorrelationMemory(2, 1, dtype=torch.float64)
    >>> mem.write(torch.tensor([[1., 0.], [0., 1.]], dtype=torch.float64),
    ...           torch.tensor([[3.], [5.]], dtype=torch.float64))
    >>> mem.read(torch.tensor([1., 1.], dtype=torch.float64))
    tensor([8.], dtype=torch.float64)
    """

    def __init__(self, d_k: int, d_v: int, *, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        _check_positive("d_k", d_k, integer=True)
        _check_positive("d_v", d_v, integer=True)
        if not dtype.is_floating_point:
            raise ValueError(f"dtype: expected a floating-point dtype, got {dtype}")
        self.d_k, self.d_v = int(d_k), int(d_v)
        self.M = torch.zeros(self.d_k, self.d_v, device=device, dtype=dtype)   # the associator
        self.keys = torch.zeros(0, self.d_k, device=device, dtype=dtype)       # (N, d_k)
        self.values = torch.zeros(0, self.d_v, device=device, dtype=dtype)     # (N, d_v), × η

    def __len__(self) -> int:
        return self.keys.shape[0]

    def _check(self, name: str, x: torch.Tensor, d: int) -> torch.Tensor:
        _check_float(name, x)
        x = x.unsqueeze(0) if x.ndim == 1 else x
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError(f"{name}: expected shape (N, {d}) or ({d},), got {tuple(x.shape)}")
        if x.dtype != self.M.dtype or x.device != self.M.device:
            raise ValueError(f"{name}: expected dtype {self.M.dtype} on {self.M.device}, "
                             f"got {x.dtype} on {x.device}")
        return x

    def write(self, keys: torch.Tensor, values: torch.Tensor, rate: float | torch.Tensor = 1.0) -> None:
        """Hebbian write, ``M += Σₙ ηₙ kₙᵀ vₙ`` (Eq 1), for (N, d_k) keys and (N, d_v) values."""
        keys = self._check("keys", keys, self.d_k)
        values = self._check("values", values, self.d_v)
        if keys.shape[0] != values.shape[0]:
            raise ValueError(f"values: expected {keys.shape[0]} rows (one per key), got {values.shape[0]}")
        eta = torch.as_tensor(rate, dtype=self.M.dtype, device=self.M.device)
        if eta.ndim == 0:
            eta = eta.expand(keys.shape[0])
        if eta.shape != (keys.shape[0],):
            raise ValueError(f"rate: expected a number or a tensor of shape ({keys.shape[0]},), "
                             f"got shape {tuple(eta.shape)}")
        scaled = values * eta.unsqueeze(1)                     # (N, d_v): ηₙ vₙ
        self.M += keys.T @ scaled                              # (d_k, N) @ (N, d_v): Σ kₙᵀ ηₙ vₙ
        self.keys = torch.cat([self.keys, keys])
        self.values = torch.cat([self.values, scaled])

    def read(self, queries: torch.Tensor) -> torch.Tensor:
        """Matrix read ``v̂ = qM`` (Eq 2): (B, d_k) -> (B, d_v), or (d_k,) -> (d_v,)."""
        _check_float("queries", queries)
        if queries.shape[-1] != self.d_k:
            raise ValueError(f"queries: expected last dimension {self.d_k}, got shape {tuple(queries.shape)}")
        return queries @ self.M

    def read_dual(self, queries: torch.Tensor, similarity: str | Similarity = "dot",
                  separation: str | Separation = "identity", **kwargs) -> torch.Tensor:
        """Dual read ``v̂ = σ(S(K, q)) V`` over the stored pairs (Eq 3); see :func:`kvlib.kernels.retrieve`."""
        return retrieve(queries, self.keys, self.values, similarity, separation, **kwargs)


# ---------------------------------------------------------------------------
# Corrupted queries and retrieval accuracy (Millidge et al. 2022's capacity test).
# ---------------------------------------------------------------------------

#: The query corruptions of :func:`corrupt`.
CORRUPTIONS = ("noise", "mask")

#: Named settings of the capacity functions. ``"book"``: the book's similarities as named,
#: Gaussian noise as drawn, raw scores, a summed squared error of at most 5. ``"millidge"``:
#: what Millidge et al.'s code (``functions.py``, ``PC_retrieve_store_continuous``) does: its
#: own definitions of the named similarities (``dot`` is the dot product of L1-normalised
#: images, the distances are reciprocals), noisy queries ``|x + ε|`` clipped to [0, 1], scores
#: divided by their sum before the separation, and a threshold of 60 (the default their
#: capacity runs use; their threshold-sweep figure marks 50). The cosine, which they do not
#: compare, is the book's in both.
CAPACITY_SETTINGS: dict[str, dict] = {
    "book": {"clip": False, "normalize_scores": False, "tolerance": 5.0, "similarities": {}},
    "millidge": {"clip": True, "normalize_scores": True, "tolerance": 60.0,
                 "similarities": {"dot": "l1_dot", "euclidean": "inverse_euclidean",
                                  "manhattan": "inverse_manhattan"}},
}


def _setting(setting: str, **overrides) -> dict:
    """The named setting with any non-None override applied."""
    if setting not in CAPACITY_SETTINGS:
        raise ValueError(f"setting: expected one of {', '.join(CAPACITY_SETTINGS)}, got {setting!r}")
    cfg = dict(CAPACITY_SETTINGS[setting])
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg


def _similarity_in(cfg: dict, similarity: str | Similarity) -> str | Similarity:
    return cfg["similarities"].get(similarity, similarity) if isinstance(similarity, str) else similarity


def mnist_memories(n: int = 1000, *, seed: int = 0, labels: bool = False, train: bool = False,
                   device: torch.device | str = "cpu") -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """n MNIST test images (all digits) in a fixed random order, as (n, 784) rows in [0, 1].

    The images the chapter stores; the first N of them form the memory of size N.
    With ``labels=True`` also returns their digit labels (n,); ``train=True`` draws from the
    training set instead (as Millidge et al. do). Needs the data set (see ``kvlib.data``).
    Explained in Chapter 1, §Capacity.
    """
    from kvlib.data import load_classes

    _check_positive("n", n, integer=True)
    x, y = load_classes("mnist", list(range(10)), train=bool(train))
    if n > x.shape[0]:
        raise ValueError(f"n: expected at most {x.shape[0]} (the MNIST {'training' if train else 'test'} "
                         f"set), got {n}")
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[: int(n)]
    return (x[order].to(device), y[order].to(device)) if labels else x[order].to(device)


def nearest_other(images: torch.Tensor) -> torch.Tensor:
    """Squared distance from each row to its nearest *other* row: (N, d) -> (N,).

    How close a wrong memory can be: a retrieval criterion with a tolerance above this
    distance would accept the neighbour as a correct recall. Explained in Chapter 1, §Capacity.
    """
    _check_float("images", images)
    d2 = -euclidean(images, images)                            # (N, N) squared distances
    d2.fill_diagonal_(math.inf)
    return d2.amin(dim=1)


def corrupt(x: torch.Tensor, kind: str = "noise", level: float = 0.5, *,
            generator: torch.Generator | None = None, clip: bool = False) -> torch.Tensor:
    """A corrupted copy of the rows of ``x`` (B, d), used as queries.

    * ``"noise"``: add Gaussian noise of standard deviation ``level`` to every entry.
      By default not clipped: the noise model stays exactly Gaussian, which makes softmax
      the Bayes-optimal read (see :func:`noise_tradeoff`). ``clip=True`` returns
      ``|x + ε|`` clamped to [0, 1], as Millidge et al.'s ``gaussian_perturb_image``.
    * ``"mask"``: set the last ``level`` fraction of entries to 0; for a flattened
      28×28 image, the bottom rows (``level=0.5``: the bottom half).

    Noise is drawn on the CPU from ``generator``, so it is the same on every device.
    """
    _check_float("x", x)
    if kind not in CORRUPTIONS:
        raise ValueError(f"kind: expected one of {', '.join(CORRUPTIONS)}, got {kind!r}")
    if kind == "noise":
        if not (isinstance(level, (int, float)) and math.isfinite(level) and level >= 0):
            raise ValueError(f"level: expected a noise standard deviation >= 0, got {level!r}")
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)
        out = x + level * noise.to(device=x.device, dtype=x.dtype)
        return out.abs_().clamp_(0.0, 1.0) if clip else out
    if not (isinstance(level, (int, float)) and 0 <= level <= 1):
        raise ValueError(f"level: expected a masked fraction in [0, 1], got {level!r}")
    out = x.clone()
    n_masked = int(round(level * x.shape[-1]))
    if n_masked > 0:
        out[..., -n_masked:] = 0.0
    return out


def retrieval_accuracy(stored: torch.Tensor, queries: torch.Tensor,
                       similarity: str | Similarity = "euclidean",
                       separation: str | Separation = "max", *, beta: float = 1.0,
                       tolerance: float | None = None, setting: str = "book",
                       normalize_scores: bool | None = None, **params: float) -> float:
    """Fraction of queries whose autoassociative read lands within ``tolerance`` of its target.

    Query b targets stored row b. The read is the normalised dual form
    ``σ(β S(K, q)) K / Σ σ`` (Eq 3 with values = keys); it counts as correct when the
    summed squared error to the target is at most ``tolerance``. Millidge et al. (2022)
    use such an absolute threshold (60 in their capacity code, for 28×28 images in [0, 1]);
    the book's 5 is stricter, so that a similar but wrong digit does not count (see
    :func:`nearest_other`). ``setting`` (see :data:`CAPACITY_SETTINGS`) sets the defaults
    of ``tolerance`` and ``normalize_scores`` and what the similarity names mean.
    Explained in Chapter 1, §Capacity.
    """
    if queries.shape != stored.shape:
        raise ValueError(f"queries: expected shape {tuple(stored.shape)} (one per stored row), "
                         f"got {tuple(queries.shape)}")
    cfg = _setting(setting, tolerance=tolerance, normalize_scores=normalize_scores)
    out = retrieve(queries, stored, stored, _similarity_in(cfg, similarity), separation, beta=beta,
                   normalize=True, normalize_scores=cfg["normalize_scores"], **params)
    return _accuracy(out, stored, cfg["tolerance"])


def _accuracy(out: torch.Tensor, target: torch.Tensor, tolerance: float) -> float:
    err = (out - target).square().sum(dim=1)                  # (B,) summed squared error
    return float((err <= tolerance).double().mean())


def _curve(scores: torch.Tensor, images: torch.Tensor, n_stored: Sequence[int],
           separation: str | Separation, beta: float, tolerance: float, params: dict,
           normalize_scores: bool = False) -> list[float]:
    """Accuracy for each memory size N from one (n_max, n_max) score matrix, sliced to (N, N)."""
    acc = []
    for n in n_stored:                                        # a sweep over memory sizes
        s = scores[:n, :n]
        if separation == "max":                               # one-hot: the read is a row lookup
            if normalize_scores:                              # (a negative row sum flips the order)
                total = s.sum(dim=1, keepdim=True)
                s = s / torch.where(total != 0, total, torch.ones_like(total))
            out = images[:n][s.argmax(dim=1)]
        else:
            out = separate(s, separation, beta=beta, normalize=True, normalize_scores=normalize_scores,
                           **params) @ images[:n]
        acc.append(_accuracy(out, images[:n], tolerance))
    return acc


def _capacity_setup(images, n_stored, similarity, corruption, level, seed, params, clip=False):
    _check_float("images", images)
    n_stored = [int(n) for n in n_stored]
    if not n_stored or min(n_stored) < 1 or max(n_stored) > images.shape[0]:
        raise ValueError(f"n_stored: expected sizes in 1..{images.shape[0]} (the number of images), "
                         f"got {n_stored}")
    n_max = max(n_stored)
    queries = corrupt(images[:n_max], corruption, level, generator=torch.Generator().manual_seed(seed),
                      clip=clip)
    sim = get_similarity(similarity)
    sim_ok = _accepted(sim) if isinstance(similarity, str) else set()
    scores = sim(queries, images[:n_max], **{k: v for k, v in params.items() if k in sim_ok})
    return n_stored, scores, {k: v for k, v in params.items() if k not in sim_ok}


def capacity_curve(images: torch.Tensor, n_stored: Sequence[int], *,
                   similarity: str | Similarity = "euclidean", separation: str | Separation = "max",
                   corruption: str = "noise", level: float = 0.5, beta: float = 1.0,
                   tolerance: float | None = None, seed: int = 0, setting: str = "book",
                   clip: bool | None = None, normalize_scores: bool | None = None,
                   **params: float) -> list[float]:
    """Retrieval accuracy against the number of stored images (nested sets: the first N rows).

    For each N, the first N rows of ``images`` are stored and each is queried once,
    corrupted by :func:`corrupt` (the corruption is drawn once for all rows, so the
    sets are nested), and scored by :func:`retrieval_accuracy`'s criterion.
    Equivalent to calling :func:`retrieval_accuracy` for each N; the (B, N) similarity
    matrix is computed once for the largest N and sliced. ``setting`` (``"book"`` or
    ``"millidge"``, see :data:`CAPACITY_SETTINGS`) gives the defaults of ``clip`` (noise
    clipped to [0, 1]), ``normalize_scores`` and ``tolerance`` and what the similarity
    names mean; each can be overridden on its own, to see which one matters.
    Explained in Chapter 1, §Capacity.
    """
    cfg = _setting(setting, clip=clip, normalize_scores=normalize_scores, tolerance=tolerance)
    n_stored, scores, sep_kw = _capacity_setup(images, n_stored, _similarity_in(cfg, similarity),
                                               corruption, level, seed, params, cfg["clip"])
    return _curve(scores, images, n_stored, separation, beta, cfg["tolerance"], sep_kw,
                  cfg["normalize_scores"])


def capacity_by_separation(images: torch.Tensor, n_stored: Sequence[int],
                           separations: dict[str, tuple[str, dict, float]], *,
                           similarity: str | Similarity = "cosine", corruption: str = "noise",
                           level: float = 0.5, tolerance: float | None = None, seed: int = 0,
                           setting: str = "book", clip: bool | None = None,
                           normalize_scores: bool | None = None) -> dict[str, list[float]]:
    """:func:`capacity_curve` for several separations, ``{label: (name, settings, β)}``, sharing one
    similarity matrix and one set of corrupted queries. Explained in Chapter 1, §Capacity."""
    cfg = _setting(setting, clip=clip, normalize_scores=normalize_scores, tolerance=tolerance)
    n_stored, scores, _ = _capacity_setup(images, n_stored, _similarity_in(cfg, similarity), corruption,
                                          level, seed, {}, cfg["clip"])
    return {label: _curve(scores, images, n_stored, name, beta, cfg["tolerance"], dict(params),
                          cfg["normalize_scores"])
            for label, (name, params, beta) in separations.items()}


def noise_tradeoff(images: torch.Tensor, noise_levels: Sequence[float], betas: Sequence[float], *,
                   tolerance: float = 5.0, seed: int = 0, progress: bool = False) -> dict:
    """Separability against robustness: Euclidean similarity, softmax at each β, against max.

    Every stored image is queried with Gaussian noise of each level σ. Returns, per σ,
    the mean squared error of the read (summed over pixels) and the accuracy, for softmax
    at every β and for max. When a query is a stored image plus isotropic Gaussian noise,
    ``softmax(-β‖q - kₙ‖²)`` with ``β = 1/(2σ²)`` is the posterior over which image was
    stored, so that read is the mean-squared-error optimal estimate, while max is the most
    probable single image (not in paper: the Bayesian reading is the book's).
    All β are computed in one batch. Explained in Chapter 1, §"Separability against robustness".
    """
    _check_float("images", images)
    g = torch.Generator().manual_seed(seed)
    b = torch.tensor([float(x) for x in betas], dtype=images.dtype, device=images.device)
    if b.numel() == 0 or bool((b <= 0).any()):
        raise ValueError(f"betas: expected positive numbers, got {list(betas)}")
    res = {"noise_levels": list(noise_levels), "betas": list(betas), "mse_softmax": [],
           "acc_softmax": [], "mse_max": [], "acc_max": []}
    for sigma in _progress(noise_levels, progress, "noise levels"):
        q = corrupt(images, "noise", sigma, generator=g)
        scores = euclidean(q, images)                                    # (B, N), shared by every β
        alpha = softmax(b[:, None, None] * scores, beta=1.0, inplace=True)   # (n_β, B, N)
        err = (alpha @ images - images).square().sum(-1)                 # (n_β, B)
        res["mse_softmax"].append(err.mean(1).tolist())
        res["acc_softmax"].append((err <= tolerance).double().mean(1).tolist())
        err = (images[scores.argmax(dim=1)] - images).square().sum(-1)   # max: the best row
        res["mse_max"].append(float(err.mean()))
        res["acc_max"].append(float((err <= tolerance).double().mean()))
    return res


# ---------------------------------------------------------------------------
# Hopfield networks: classical (binary) and modern (continuous).
# ---------------------------------------------------------------------------

def random_patterns(n: int, d: int, *, generator: torch.Generator | None = None,
                    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """n random ±1 patterns of d neurons, drawn on the CPU: (n, d)."""
    _check_positive("n", n, integer=True)
    _check_positive("d", d, integer=True)
    bits = torch.randint(0, 2, (int(n), int(d)), generator=generator)
    return (2.0 * bits - 1.0).to(device=device, dtype=dtype)


def hopfield_weights(patterns: torch.Tensor) -> torch.Tensor:
    """Hebbian weights ``W = Xᵀ X / d`` with zero diagonal (Eq 1 with keys = values; Hopfield 1982).

    patterns: (..., N, d) -> (..., d, d); leading axes batch independent networks, and
    all-zero rows (padding) add nothing.
    """
    _check_float("patterns", patterns)
    if patterns.ndim < 2:
        raise ValueError(f"patterns: expected shape (N, d) or (..., N, d), got {tuple(patterns.shape)}")
    d = patterns.shape[-1]
    w = patterns.transpose(-1, -2) @ patterns / d              # (..., d, N) @ (..., N, d) -> (..., d, d)
    return w * (1.0 - torch.eye(d, dtype=w.dtype, device=w.device))


def classical_hopfield(patterns: torch.Tensor, probes: torch.Tensor, *, sweeps: int = 20,
                       update: str = "async", generator: torch.Generator | None = None) -> torch.Tensor:
    """Run binary Hopfield dynamics ``sᵢ ← sign(Σⱼ Wᵢⱼ sⱼ)`` from each probe to a fixed point.

    patterns: (..., N, d) ±1; probes: (..., B, d), with the same leading (batch) axes.
    ``update="async"`` (Hopfield's): neurons update one at a time in a random order,
    each sweep; the loop over neurons *is* the dynamics, vectorised over the probes.
    ``"sync"``: all neurons at once (Little's variant; can end in a 2-cycle). Stops
    early once a sweep changes nothing. Ties (zero field) keep the current state.
    Explained in Chapter 1, §"The memory cliff".
    """
    _check_float("probes", probes)
    if update not in ("async", "sync"):
        raise ValueError(f"update: expected 'async' or 'sync', got {update!r}")
    _check_positive("sweeps", sweeps, integer=True)
    w = hopfield_weights(patterns)                             # (..., d, d)
    if probes.ndim != w.ndim or probes.shape[-1] != w.shape[-1] or probes.shape[:-2] != w.shape[:-2]:
        raise ValueError(f"probes: expected shape {(*w.shape[:-2], 'B', w.shape[-1])}, "
                         f"got {tuple(probes.shape)}")
    s = probes.clone()
    d = w.shape[-1]
    for _ in range(int(sweeps)):
        before = s.clone()
        if update == "sync":
            h = s @ w                                          # (..., B, d) local fields
            s = torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, s)).to(s.dtype)
        else:
            for i in torch.randperm(d, generator=generator).tolist():   # sequential: the point
                h = s @ w[..., i, :].unsqueeze(-1)             # (..., B, 1); row i = column i (W symmetric)
                s[..., i:i + 1] = torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, s[..., i:i + 1]))
        if torch.equal(s, before):
            break
    return s


def modern_hopfield(patterns: torch.Tensor, probes: torch.Tensor, *, beta: float = 1.0,
                    steps: int = 1) -> torch.Tensor:
    """Modern continuous Hopfield update ``ξ ← softmax(β ξ Xᵀ) X``, iterated (Ramsauer et al. 2021).

    One step is exactly softmax attention with keys = values = the stored patterns
    (Eqs 3 and 6 with ``S = dot``). Explained in Chapter 1, §"The memory cliff".
    """
    _check_positive("steps", steps, integer=True)
    state = probes
    for _ in range(int(steps)):                                # a few steps, not a loop over memories
        state = retrieve(state, patterns, patterns, "dot", "softmax", beta=beta)
    return state


def overlap(states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Overlap ``m = s·ξ / d`` of each state with its target (1 = perfect recall): (..., B, d) -> (..., B)."""
    return (states * targets).sum(-1) / targets.shape[-1]


def hopfield_capacity(n_neurons: int = 500, loads: Sequence[float] = (0.05, 0.1, 0.15, 0.2, 0.25), *,
                      flip: float = 0.1, n_probes: int = 50, beta: float | None = None,
                      update: str = "sync", sweeps: int = 20, seeds: int = 1,
                      device: torch.device | str = "cpu", progress: bool = False) -> dict[str, list[float]]:
    """Mean overlap after retrieval against the load α = N_patterns / n_neurons.

    Random ±1 patterns; each probe is a stored pattern with a fraction ``flip`` of its
    bits flipped. Classical: sign dynamics on Hebbian weights, synchronous by default
    (``update="async"`` gives the same curve up to finite-size noise), all loads and
    seeds run as one batch of networks (patterns padded with zero rows, which add
    nothing to W). Modern: one softmax-attention step, ``β = 1/√d`` by default. The
    classical network collapses near α ≈ 0.14 (Amit, Gutfreund & Sompolinsky 1985);
    the modern one does not. Explained in Chapter 1, §"The memory cliff".
    """
    _check_positive("n_neurons", n_neurons, integer=True)
    _check_positive("seeds", seeds, integer=True)
    d, seeds = int(n_neurons), int(seeds)
    beta = 1.0 / math.sqrt(d) if beta is None else beta
    sizes = [max(1, int(round(a * d))) for a in loads]
    n_max, b = max(sizes), int(n_probes)
    pats, targets, probes = [], [], []
    om = torch.zeros(len(sizes), seeds)
    for i, n in enumerate(_progress(sizes, progress, "loads")):   # draw the networks
        for s in range(seeds):
            g = torch.Generator().manual_seed(10_000 * s + n)
            x = random_patterns(n, d, generator=g, device=device)                # (n, d)
            tgt = x[torch.randint(n, (b,), generator=g).to(device)]             # (b, d), with replacement
            flips = (torch.rand(tgt.shape, generator=g) < flip).to(device)
            prb = torch.where(flips, -tgt, tgt)
            om[i, s] = float(overlap(modern_hopfield(x, prb, beta=beta), tgt).mean())
            pats.append(torch.cat([x, x.new_zeros(n_max - n, d)]))             # (n_max, d)
            targets.append(tgt)
            probes.append(prb)
    # One batch of len(sizes)·seeds classical networks: (L·S, n_max, d), (L·S, b, d).
    final = classical_hopfield(torch.stack(pats), torch.stack(probes), sweeps=sweeps, update=update,
                               generator=torch.Generator().manual_seed(0))
    oc = overlap(final, torch.stack(targets)).mean(-1).reshape(len(sizes), seeds)   # (L, S)
    return {"n_neurons": d, "load": list(loads), "overlap_classical": oc.mean(1).tolist(),
            "overlap_modern": om.mean(1).tolist()}
