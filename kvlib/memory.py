"""Associative memories built from one read: correlation matrix memory, capacity, Hopfield.

* :class:`CorrelationMemory`: Kohonen's correlation matrix memory, written by Hebbian
  outer products (Eq 1), read by ``v̂ = qM`` (Eq 2) or, equally, in its dual form as
  attention over the stored pairs (Eq 3).
* :func:`corrupt` and :func:`capacity_curve`: how many stored images a memory gives back
  from a noisy or half-masked query, for any similarity × separation (Millidge et al. 2022),
  in the book's setting or in theirs (:data:`CAPACITY_SETTINGS`).
* :func:`noise_tradeoff`: separability against robustness, max against softmax at finite β.

The memory cliff of Hopfield networks, the same memory with ±1 patterns, is in
:mod:`kvlib.memory_cliff`.

Explained in Chapter 1 (``book/01_kernels.ipynb``). Axis names: B queries, N memories,
d dims. Row vectors, as in the paper.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib.device import progress as progress_bar
from kvlib.kernels import euclidean, get_separation, get_similarity, retrieve, separate, softmax
from kvlib.separations import Separation, accepted_settings
from kvlib.similarities import Similarity

__all__ = ["CorrelationMemory", "CORRUPTIONS", "CAPACITY_SETTINGS", "mnist_memories", "nearest_other",
           "corrupt", "retrieval_accuracy", "capacity_curve", "capacity_by_separation", "noise_tradeoff",
]


def _progress(iterable, progress: bool, desc: str, total: int | None = None):
    return progress_bar(iterable, enabled=check.flag("progress", progress), desc=desc, total=total)


def _rows(name: str, x: object, min_rows: int = 1) -> torch.Tensor:
    """A (N, d) float32/float64 tensor of finite rows, at least ``min_rows`` of them."""
    x = check.tensor(name, x, ndim=2, dtype="float-strict")
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name}: expected a float32 or float64 tensor, got dtype {x.dtype}")
    if x.shape[0] < min_rows or x.shape[1] == 0:
        raise ValueError(f"{name}: expected at least {min_rows} row(s) of at least one entry, "
                         f"got shape {tuple(x.shape)}")
    return x


def _optional(name: str, value: object, kind: str) -> object:
    """None, or a checked ``"flag"`` or ``"tolerance"`` (a number >= 0)."""
    if value is None:
        return None
    return check.flag(name, value) if kind == "flag" else check.number(name, value, low=0)


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
        self.d_k = check.positive("d_k", d_k, integer=True)
        self.d_v = check.positive("d_v", d_v, integer=True)
        if not isinstance(dtype, torch.dtype) or dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
        device = check.device("device", device)
        self.M = torch.zeros(self.d_k, self.d_v, device=device, dtype=dtype)   # the associator
        self.keys = torch.zeros(0, self.d_k, device=device, dtype=dtype)       # (N, d_k)
        self.values = torch.zeros(0, self.d_v, device=device, dtype=dtype)     # (N, d_v), × η

    def __len__(self) -> int:
        return self.keys.shape[0]

    def _check(self, name: str, x: torch.Tensor, d: int) -> torch.Tensor:
        check.tensor(name, x, dtype="float-strict")
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
            raise ValueError(f"values: expected {keys.shape[0]} rows (one per row of keys), "
                             f"got {values.shape[0]}")
        if isinstance(rate, torch.Tensor):
            check.tensor("rate", rate)
        else:
            check.number("rate", rate)
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
        check.tensor("queries", queries, ndim=(1, 2), dtype="float-strict", like=self.M,
                     like_name="the memory")
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
    """The named setting with any non-None override applied (each override checked)."""
    if not isinstance(setting, str) or setting not in CAPACITY_SETTINGS:
        raise ValueError(f"setting: expected one of {', '.join(CAPACITY_SETTINGS)}, got {setting!r}")
    for name, value in overrides.items():
        _optional(name, value, "tolerance" if name == "tolerance" else "flag")
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

    n = check.positive("n", n, integer=True)
    seed = check.seed("seed", seed)
    check.flag("labels", labels)
    check.flag("train", train)
    device = check.device("device", device)
    x, y = load_classes("mnist", list(range(10)), train=train)
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
    images = _rows("images", images, min_rows=2)
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
    x = _rows("x", x)
    if not isinstance(kind, str) or kind not in CORRUPTIONS:
        raise ValueError(f"kind: expected one of {', '.join(CORRUPTIONS)}, got {kind!r}")
    check.generator("generator", generator)
    check.flag("clip", clip)
    level = check.number("level", level)
    if kind == "noise":
        if level < 0:
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
    stored = _rows("stored", stored)
    queries = _rows("queries", queries)
    if queries.shape != stored.shape or queries.dtype != stored.dtype or queries.device != stored.device:
        raise ValueError(f"queries: expected shape {tuple(stored.shape)} (one per stored row), "
                         f"{stored.dtype} on {stored.device}, got {tuple(queries.shape)}, "
                         f"{queries.dtype} on {queries.device}")
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
    images = _rows("images", images)
    n_stored = check.sequence("n_stored", n_stored, lambda n, v: check.count(n, v, 1))
    seed = check.seed("seed", seed)
    if not isinstance(corruption, str) or corruption not in CORRUPTIONS:
        raise ValueError(f"corruption: expected one of {', '.join(CORRUPTIONS)}, got {corruption!r}")
    if max(n_stored) > images.shape[0]:
        raise ValueError(f"n_stored: expected sizes in 1..{images.shape[0]} (the number of images), "
                         f"got {n_stored}")
    n_max = max(n_stored)
    queries = corrupt(images[:n_max], corruption, level, generator=torch.Generator().manual_seed(seed),
                      clip=clip)
    sim = get_similarity(similarity)
    sim_ok = accepted_settings(sim) if isinstance(similarity, str) else set()
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
    get_separation(separation)
    check.number("beta", beta, low=0)
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
    if not isinstance(separations, dict) or not separations:
        raise TypeError(f"separations: expected a non-empty dict label -> (name, settings, β), "
                        f"got {type(separations).__name__}")
    for label, entry in separations.items():
        if not (isinstance(entry, (tuple, list)) and len(entry) == 3 and isinstance(entry[1], dict)):
            raise ValueError(f"separations: expected (name, settings, β) for {label!r}, got {entry!r}")
        get_separation(entry[0])
        check.number(f"separations[{label!r}] β", entry[2], low=0)
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
    images = _rows("images", images)
    noise_levels = check.sequence("noise_levels", noise_levels, lambda n, v: check.number(n, v, low=0))
    betas = check.sequence("betas", betas, check.positive)
    tolerance = check.number("tolerance", tolerance, low=0)
    g = torch.Generator().manual_seed(check.seed("seed", seed))
    b = torch.tensor(betas, dtype=images.dtype, device=images.device)
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
