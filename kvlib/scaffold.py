"""Scaffold memories: Vector-HaSH and MESH (Box 1 of the review).

Explained in Chapter 4, §Scaffold memories (``book/04_substrates.ipynb``).

A scaffold memory keeps *where* a memory is stored apart from *what* is stored.
Box 1 of Gershman, Fiete & Irie (2025) writes the recall of a sensory pattern
``s`` as ``ŝ = φ(s W_sd W_da, {a}) W_ad W_ds``: the cue is projected into a
dense (hippocampal) layer, cleaned up to the nearest state ``a`` of a fixed
modular attractor (the scaffold), and read back out. In the key-value language of
the review the cleaned-up attractor state is the query, the fixed
attractor-to-hippocampus weights hold the keys, and the hippocampus-to-sensory
weights hold the values.

Names here (row vectors throughout; ``W_xy`` maps layer x to layer y, so
``h = g @ W_gh``):

=====================  ==============  ====================================
layer                  symbol (Box 1)   here
=====================  ==============  ====================================
grid / label layer     a               ``g``  (``n_g`` cells, one-hot per module)
hippocampus            d               ``h``  (``n_h`` cells)
sensory (cortex)       s               ``s``  (``n_s`` cells, ±1)
=====================  ==============  ====================================

- ``W_gh`` (``W_ad`` in Box 1): fixed, random and sparse; ``h = relu(g W_gh - θ)``.
- ``W_hg`` (``W_da``): Hebbian over every scaffold state, ``W_hg ∝ Σ hᵀg``.
- ``W_sh``, ``W_hs`` (``W_sd``, ``W_ds``): pseudoinverse, so that ``S W_sh = H``
  and ``H W_hs = S`` as nearly as least squares allows. *Box 1 writes these two as
  Hebbian sums; the capacity results of Vector-HaSH (Chandra et al. 2025) use the
  pseudoinverse, which a Hebbian rule can learn online. We follow the
  latter.* *Box 1 also describes the grid↔hippocampus pair the other way round
  (random hippocampus→attractor weights, their pseudoinverse as the return path);
  Vector-HaSH, followed here, fixes grid→hippocampus at random and learns the return
  path by a Hebbian rule.*

Vector-HaSH uses two-dimensional grid modules (periods 3, 4, 5 give
``(3·4·5)² = 3600`` states) with winner-take-all inside each module; MESH
(Sharma, Chandra & Fiete 2022) uses K-hot label states with a global top-K.
Both are :class:`Scaffold` objects here, differing only in their codebook and
clean-up. The baselines are classical and pseudoinverse Hopfield networks with
the same number of synapses.

Axis names: P stored patterns (the book's N; here N is kept for the neuron count of the
Hopfield baselines, as in that literature), B queries, n_s / n_h / n_g layer sizes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from kvlib.plasticity import _check_pm1, hopfield_recall
from kvlib.device import progress as progress_bar

__all__ = [
    "grid_codebook", "khot_codebook", "module_wta", "top_k", "Scaffold", "vector_hash", "mesh",
    "stable_state_count", "stable_state_sweep", "pinv_solve", "VectorHaSHMemory", "pinv_hopfield_weights",
    "matched_hopfield_size", "mutual_information_per_bit", "overlap", "capacity_sweep",
]


# --------------------------------------------------------------------------- checks
def _check_periods(periods: Sequence[int]) -> tuple[int, ...]:
    try:
        ps = tuple(periods)
    except TypeError:
        raise ValueError(f"periods: expected a sequence of positive integers, got {periods!r}") from None
    if not ps or not all(isinstance(p, int) and not isinstance(p, bool) and p > 0 for p in ps):
        raise ValueError(f"periods: expected a non-empty sequence of positive integers, got {periods!r}")
    return ps


def _check_pos_int(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


def _check_prob(name: str, value: float, *, open_low: bool = True) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (0.0 < value <= 1.0) if open_low else (0.0 <= value <= 1.0)
    if not ok:
        rng = "(0, 1]" if open_low else "[0, 1]"
        raise ValueError(f"{name}: expected a probability in {rng}, got {value!r}")
    return float(value)


def _check_threshold(value: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"threshold: expected a finite number >= 0, got {value!r}")
    return float(value)


def _f64(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float64, on the CPU if its device has no float64 (Apple MPS)."""
    return (x.cpu() if x.device.type == "mps" else x).double()


# --------------------------------------------------------------------------- codebooks
def grid_codebook(periods: Sequence[int] = (3, 4, 5), device: str | torch.device = "cpu",
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Grid-cell codes of every position of a 2-D scaffold: shape (L², Σλ²), L = Πλ.

    Module m is a λ_m × λ_m sheet of cells with exactly one active cell, at phase
    ``(x mod λ_m, y mod λ_m)``; by the Chinese remainder theorem co-prime periods
    give every position ``(x, y)`` of an L × L torus its own code. Row ``x·L + y``
    is position ``(x, y)`` (raster order). Explained in Chapter 4, §Scaffold memories.

    >>> grid_codebook((2, 3)).shape   # 36 positions, 4 + 9 cells
    torch.Size([36, 13])
    """
    ps = _check_periods(periods)
    L = math.prod(ps)
    xy = torch.arange(L, device=device)
    x, y = torch.meshgrid(xy, xy, indexing="ij")
    x, y = x.reshape(-1), y.reshape(-1)                       # (L²,)
    blocks = []
    for lam in ps:                                            # one block per module (3 modules)
        idx = (x % lam) * lam + (y % lam)                     # active cell inside the module
        blocks.append(torch.nn.functional.one_hot(idx, lam * lam))
    return torch.cat(blocks, dim=1).to(dtype)                 # (L², Σλ²)


def khot_codebook(n_cells: int, k: int, n_states: int, generator: torch.Generator | None = None,
                  device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n_states`` distinct random K-hot label states over ``n_cells`` cells (MESH): (n_states, n_cells).

    Explained in Chapter 4, §Scaffold memories.
    """
    _check_pos_int("n_cells", n_cells)
    _check_pos_int("k", k)
    _check_pos_int("n_states", n_states)
    if k > n_cells:
        raise ValueError(f"k: expected at most n_cells={n_cells} active cells, got {k}")
    if n_states > math.comb(n_cells, k):
        raise ValueError(f"n_states: expected at most C({n_cells},{k})={math.comb(n_cells, k)}, "
                         f"got {n_states}")
    if math.comb(n_cells, k) <= 200_000:                      # draw without replacement from all K-subsets
        combos = torch.combinations(torch.arange(n_cells), r=k)   # (C(n, k), k)
        rows = combos[torch.randperm(len(combos), generator=generator)[:n_states]].tolist()
    else:                                                     # too many subsets to list: reject duplicates
        seen: set[tuple[int, ...]] = set()
        rows = []
        while len(rows) < n_states:
            batch = torch.rand(2 * n_states, n_cells, generator=generator).topk(k, dim=1).indices
            for r in batch.sort(dim=1).values.tolist():
                if tuple(r) not in seen and len(rows) < n_states:
                    seen.add(tuple(r))
                    rows.append(r)
    idx = torch.tensor(rows, device=device)                   # (n_states, k)
    code = torch.zeros(n_states, n_cells, device=device, dtype=dtype)
    return code.scatter_(1, idx, 1.0)


# --------------------------------------------------------------------------- clean-up (φ in Box 1)
def module_wta(x: torch.Tensor, module_sizes: Sequence[int]) -> torch.Tensor:
    """Winner-take-all inside each module: one active cell per module (Vector-HaSH's grid attractors).

    ``x``: (B, Σ sizes) → one-hot per module, same shape. Explained in Chapter 4, §Scaffold memories.
    """
    out = torch.zeros_like(x)
    start = 0
    for size in module_sizes:                                 # loop over the few modules only
        block = x[:, start:start + size]
        out[:, start:start + size] = torch.nn.functional.one_hot(block.argmax(dim=1), size).to(x.dtype)
        start += size
    if start != x.shape[1]:
        raise ValueError(f"x: expected {start} columns (sum of module sizes), got {x.shape[1]}")
    return out


def top_k(x: torch.Tensor, k: int) -> torch.Tensor:
    """Global k-winners-take-all (MESH's label clean-up): (B, n) → K-hot (B, n).

    Explained in Chapter 4, §Scaffold memories.
    """
    idx = x.topk(k, dim=1).indices
    return torch.zeros_like(x).scatter_(1, idx, 1.0)


# --------------------------------------------------------------------------- the scaffold
@dataclass
class Scaffold:
    """The fixed part of a scaffold memory: label/grid codebook, W_gh, W_hg and the clean-up.

    Build one with :func:`vector_hash` or :func:`mesh`. Explained in Chapter 4, §Scaffold memories.

    Attributes: ``codebook`` (n_states, n_g); ``W_gh`` (n_g, n_h), fixed random sparse;
    ``W_hg`` (n_h, n_g), Hebbian; ``H`` (n_states, n_h), the hippocampal state of every
    scaffold state; ``threshold`` θ; ``modules`` (sizes for module-wise WTA) or ``k`` (top-K).
    """
    codebook: torch.Tensor
    W_gh: torch.Tensor
    W_hg: torch.Tensor
    H: torch.Tensor
    threshold: float
    modules: tuple[int, ...] | None = None
    k: int | None = None

    @property
    def n_states(self) -> int:
        return self.codebook.shape[0]

    @property
    def n_h(self) -> int:
        return self.W_gh.shape[1]

    @property
    def n_g(self) -> int:
        return self.W_gh.shape[0]

    def hippocampus(self, g: torch.Tensor) -> torch.Tensor:
        """Grid/label state → hippocampal state, ``relu(g W_gh − θ)``: (B, n_g) → (B, n_h)."""
        return torch.relu(g @ self.W_gh - self.threshold)

    def clean(self, g_in: torch.Tensor) -> torch.Tensor:
        """φ of Box 1: snap a grid/label input to the nearest attractor state (WTA per module or top-K)."""
        if self.modules is not None:
            return module_wta(g_in, self.modules)
        return top_k(g_in, self.k)

    def grid(self, h: torch.Tensor) -> torch.Tensor:
        """Hippocampal state → cleaned grid/label state, ``φ(h W_hg)``: (B, n_h) → (B, n_g)."""
        return self.clean(h @ self.W_hg)

    def cycle(self, h: torch.Tensor, n_iter: int = 1) -> torch.Tensor:
        """``n_iter`` rounds of h → g → h through the scaffold: the error-correcting NN search."""
        for _ in range(n_iter):                               # a few recurrent rounds, not a loop over memories
            h = self.hippocampus(self.grid(h))
        return h


def _build(codebook: torch.Tensor, n_h: int, threshold: float, connectivity: float,
           generator: torch.Generator | None, modules=None, k=None) -> Scaffold:
    _check_pos_int("n_hippocampal", n_h)
    threshold = _check_threshold(threshold)
    connectivity = _check_prob("connectivity", connectivity)
    n_g = codebook.shape[1]
    dev, dt = codebook.device, codebook.dtype
    W = torch.randn(n_g, n_h, generator=generator).to(device=dev, dtype=dt)
    mask = (torch.rand(n_g, n_h, generator=generator) < connectivity).to(device=dev, dtype=dt)
    W_gh = W * mask                                           # fixed random sparse grid→hippocampus
    H = torch.relu(codebook @ W_gh - threshold)               # (n_states, n_h)
    W_hg = H.T @ codebook / codebook.shape[0]                 # Hebbian hippocampus→grid, (n_h, n_g)
    return Scaffold(codebook, W_gh, W_hg, H, threshold, modules, k)


def vector_hash(n_hippocampal: int = 400, periods: Sequence[int] = (3, 4, 5), threshold: float = 0.5,
                connectivity: float = 0.6, generator: torch.Generator | None = None,
                device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Scaffold:
    """The Vector-HaSH scaffold: 2-D grid modules, random sparse W_gh (connection probability
    ``connectivity``, Gaussian weights), ``relu(· − threshold)``, Hebbian W_hg over all
    ``(Πλ)²`` states, module-wise winner-take-all.

    Defaults follow Chandra et al. (2025): periods (3, 4, 5), θ = 0.5, 60 % connectivity.
    Explained in Chapter 4, §Scaffold memories.

    >>> sc = vector_hash(400, generator=torch.Generator().manual_seed(0))
    >>> sc.n_states, sc.n_g, sc.n_h
    (3600, 50, 400)
    """
    ps = _check_periods(periods)
    book = grid_codebook(ps, device=device, dtype=dtype)
    return _build(book, n_hippocampal, threshold, connectivity, generator,
                  modules=tuple(p * p for p in ps))


def mesh(n_hippocampal: int = 400, n_label: int = 50, k: int = 3, n_states: int = 3600,
         threshold: float = 0.5, connectivity: float = 0.6, generator: torch.Generator | None = None,
         device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Scaffold:
    """The MESH scaffold: ``n_states`` random K-hot label states, global top-K clean-up.

    Defaults match :func:`vector_hash` (50 label cells, 3 active, 3600 states) so the two differ
    only in the structure of their states. Explained in Chapter 4, §Scaffold memories.
    """
    book = khot_codebook(n_label, k, n_states, generator=generator, device=device, dtype=dtype)
    return _build(book, n_hippocampal, threshold, connectivity, generator, k=k)


def stable_state_count(scaffold: Scaffold) -> int:
    """How many scaffold states are fixed points of g → h → φ(h W_hg).

    Explained in Chapter 4, §Scaffold memories.
    """
    g_back = scaffold.grid(scaffold.H)                        # (n_states, n_g), all states at once
    return int((g_back == scaffold.codebook).all(dim=1).sum())


def stable_state_sweep(n_hippocampal: Sequence[int] = (25, 50, 75, 100, 150, 200, 250, 300, 350, 400),
                       periods: Sequence[int] = (3, 4, 5), seeds: Sequence[int] = (0, 1, 2),
                       with_mesh: bool = True, device: str | torch.device = "cpu",
                       progress: bool = False) -> dict:
    """Stable scaffold states against the number of hippocampal cells, mean over ``seeds``.

    Returns ``{"n_hippocampal", "stable_states" (Vector-HaSH), "mesh_stable_states" (MESH with
    matched label cells, K and number of states), "total_states"}``.
    Explained in Chapter 4, §Scaffold memories.
    """
    ps = _check_periods(periods)
    n_states = math.prod(ps) ** 2
    vh, me = [], []
    for n_h in progress_bar(list(n_hippocampal), desc="N_h", enabled=progress):
        _check_pos_int("n_hippocampal", n_h)
        vh.append(sum(stable_state_count(vector_hash(n_h, ps, generator=torch.Generator().manual_seed(s),
                                                     device=device)) for s in seeds) / len(seeds))
        if with_mesh:
            me.append(sum(stable_state_count(mesh(n_h, sum(p * p for p in ps), len(ps), n_states,
                                                  generator=torch.Generator().manual_seed(s), device=device))
                          for s in seeds) / len(seeds))
    out = {"n_hippocampal": list(n_hippocampal), "stable_states": vh, "total_states": n_states}
    if with_mesh:
        out["mesh_stable_states"] = me
    return out


# --------------------------------------------------------------------------- pseudoinverse
def pinv_solve(X: torch.Tensor, Y: torch.Tensor, gram: torch.Tensor | None = None) -> torch.Tensor:
    """The minimum-norm least-squares ``W`` with ``X W ≈ Y``, i.e. ``X⁺ Y``, in float64.

    Solves with the Gram matrix of the smaller side of ``X`` (P, n): ``Xᵀ(XXᵀ)⁻¹Y`` when P ≤ n,
    ``(XᵀX)⁻¹XᵀY`` otherwise (Cholesky; ``gram`` may pass a precomputed ``XXᵀ`` for P ≤ n). If
    that Gram matrix is singular (``X`` not of full rank) it falls back to an SVD pseudoinverse.
    The result is float64, on ``X``'s device (on the CPU when that is Apple MPS).
    Explained in Chapter 4, §Scaffold memories.
    """
    X64, Y64 = _f64(X), _f64(Y)                               # (on the CPU for MPS, which lacks float64)
    P, n = X.shape
    wide = P <= n
    if wide:
        G = (X64 @ X64.T) if gram is None else _f64(gram)
    else:
        G = X64.T @ X64
    L, info = torch.linalg.cholesky_ex(G)
    if int(info) != 0:                                       # rank-deficient: the slow, safe route
        U, sv, Vh = torch.linalg.svd(X64, full_matrices=False)
        keep = sv > sv.max() * max(P, n) * torch.finfo(torch.float64).eps
        return (Vh[keep].T / sv[keep]) @ (U[:, keep].T @ Y64)
    if wide:
        return X64.T @ torch.cholesky_solve(Y64, L)           # (n, P) @ (P, d)
    return torch.cholesky_solve(X64.T @ Y64, L)               # (n, n) solve, (n, d)


class VectorHaSHMemory:
    """A scaffold plus sensory patterns bound to its first P states by pseudoinverse.

    ``store(S)`` binds pattern μ to scaffold state μ: ``W_sh = S⁺H``, ``W_hs = H⁺S``.
    ``recall(cue)`` runs s → h → g → h → s of Box 1:
    ``h₀ = relu(cue W_sh)``, ``g = φ(h₀ W_hg)``, ``h = relu(g W_gh − θ)``, ``ŝ = sign(h W_hs)``.
    Explained in Chapter 4, §Scaffold memories.
    """

    def __init__(self, scaffold: Scaffold):
        self.scaffold = scaffold
        self.W_sh: torch.Tensor | None = None
        self.W_hs: torch.Tensor | None = None
        self.n_s: int | None = None

    def store(self, S: torch.Tensor, gram: torch.Tensor | None = None) -> "VectorHaSHMemory":
        """Store P sensory patterns ``S`` (P, n_s); P may not exceed the number of scaffold states."""
        if S.ndim != 2:
            raise ValueError(f"S: expected a 2-D tensor (patterns, sensory units), got shape {tuple(S.shape)}")
        P = S.shape[0]
        if P > self.scaffold.n_states:
            raise ValueError(f"S: expected at most {self.scaffold.n_states} patterns (scaffold states), got {P}")
        if P > S.shape[1]:
            raise ValueError(f"S: the pseudoinverse map from {S.shape[1]} sensory units needs at most "
                             f"{S.shape[1]} patterns, got {P}")
        H = self.scaffold.H[:P]                               # (P, n_h): keys of the first P states
        dt = self.scaffold.H.dtype
        self.W_sh = pinv_solve(S, H, gram=gram).to(dt).to(H.device)   # (n_s, n_h)
        self.W_hs = pinv_solve(H, S).to(dt).to(H.device)              # (n_h, n_s)
        self.n_s = S.shape[1]
        return self

    def recall(self, cue: torch.Tensor, n_iter: int = 1) -> torch.Tensor:
        """Recall from cues (B, n_s): returns ±1 patterns (0 where the read-out is exactly 0)."""
        if self.W_sh is None:
            raise ValueError("recall: store patterns first")
        if cue.ndim != 2 or cue.shape[1] != self.n_s:
            raise ValueError(f"cue: expected shape (B, {self.n_s}), got {tuple(cue.shape)}")
        h = torch.relu(cue.to(self.W_sh.dtype) @ self.W_sh)   # (B, n_h), noisy key
        h = self.scaffold.cycle(h, n_iter)                    # clean key from the scaffold
        return torch.sign(h @ self.W_hs)                      # (B, n_s)


# --------------------------------------------------------------------------- Hopfield baselines
def pinv_hopfield_weights(X: torch.Tensor) -> torch.Tensor:
    """Projection-rule (pseudoinverse) Hopfield weights ``X⁺X`` with the diagonal removed.

    ``X`` (P, N) of ±1 patterns. Every stored pattern is a fixed point while P < N; once the
    patterns span all of R^N the projection is the identity, so after removing
    self-connections nothing is left (the cliff). Explained in Chapter 4, §Scaffold memories.
    """
    _check_pm1("X", X)
    P, N = X.shape
    X32 = X.float()                                           # ±1 Gram entries are exact in float32
    if P >= N and int(torch.linalg.cholesky_ex(_f64(X32.T @ X32))[1]) == 0:
        W = torch.eye(N, dtype=torch.float64)                 # full rank: the projection is exactly I
    else:
        gram = (X32 @ X32.T) if P <= N else None
        W = pinv_solve(X, X, gram=gram)                       # X⁺X, (N, N)
    W.fill_diagonal_(0.0)
    return W.to(X.dtype).to(X.device)


def matched_hopfield_size(n_s: int, n_h: int, n_g: int) -> int:
    """Neurons of a Hopfield net with as many synapses as Vector-HaSH: ``N² ≈ 2·n_h·(n_s + n_g)``.

    Counted: sensory↔hippocampus both ways and grid↔hippocampus both ways (full matrices).
    Explained in Chapter 4, §Scaffold memories.
    """
    return int(round(math.sqrt(2 * n_h * (n_s + n_g))))


# --------------------------------------------------------------------------- metrics
def _binary_entropy(p: torch.Tensor) -> torch.Tensor:
    """H₂(p) in bits, 0 at p = 0 and p = 1."""
    p = p.clamp(0.0, 1.0)
    return -(torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p)) / math.log(2)


def mutual_information_per_bit(recalled: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mutual information per bit between target ±1 patterns and their recall: ``1 − H₂(ε)``.

    ``ε`` is each pattern's bit-error rate, a read-out of 0 counting as half an error (a coin
    flip); the recall is treated as a binary symmetric channel. Shapes (B, n) → (B,).
    Explained in Chapter 4, §Scaffold memories.

    >>> t = torch.tensor([[1., -1, 1, -1]])
    >>> mutual_information_per_bit(t, t), mutual_information_per_bit(torch.zeros(1, 4), t)
    (tensor([1.]), tensor([0.]))
    """
    _check_pm1("target", target)
    if recalled.shape != target.shape:
        raise ValueError(f"recalled: expected shape {tuple(target.shape)}, got {tuple(recalled.shape)}")
    err = (recalled.float() - target.float()).abs().mean(dim=1) / 2    # (B,), bit-error rate
    return (1.0 - _binary_entropy(err)).to(target.dtype)


def overlap(recalled: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Overlap ``m = (1/n) ŝ·s`` between recalled and target ±1 patterns: (B, n) → (B,).

    Explained in Chapter 4, §Scaffold memories.
    """
    if recalled.shape != target.shape:
        raise ValueError(f"recalled: expected shape {tuple(target.shape)}, got {tuple(recalled.shape)}")
    return (recalled * target).mean(dim=1)


# --------------------------------------------------------------------------- the capacity sweep
def capacity_sweep(n_patterns: Sequence[int], n_hippocampal: int = 400, n_sensory: int = 3600,
                   periods: Sequence[int] = (3, 4, 5), threshold: float = 0.5, connectivity: float = 0.6,
                   models: Sequence[str] = ("vector-hash", "hopfield", "pinv-hopfield"),
                   n_test: int = 48, hopfield_steps: int = 50, seed: int = 0,
                   device: str | torch.device = "cpu", progress: bool = False,
                   keep_examples: int = 0) -> dict:
    """Recall quality against the number of stored random ±1 patterns, clean cues.

    For each P in ``n_patterns`` (sorted ascending): Vector-HaSH (and/or ``"mesh"``) stores the first P of
    ``n_sensory``-dimensional patterns; classical and pseudoinverse Hopfield networks with the
    same number of synapses (:func:`matched_hopfield_size`) store P patterns of their own size.
    Each model recalls ``n_test`` of its stored patterns (all if fewer), every recall in one
    batched pass. Returns ``{"n_patterns", "mutual_information": {model: list}, "overlap":
    {model: list}, "bits_per_synapse": {model: list}, "n_hopfield", "n_synapses"}``; bits per
    synapse is the information recalled in total, ``P × pattern bits × MI per bit``, over the
    shared synapse budget. With ``keep_examples = k`` it also returns, per model and P, which of
    the first k bits of one recalled pattern came back right (``"examples"``).
    Explained in Chapter 4, §Scaffold memories.
    """
    Ps = sorted(_check_pos_int("n_patterns", p) for p in n_patterns)
    known = {"vector-hash", "mesh", "hopfield", "pinv-hopfield"}
    for m in models:
        if m not in known:
            raise ValueError(f"models: expected names from {sorted(known)}, got {m!r}")
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    scaffolds = {}
    if "vector-hash" in models:
        scaffolds["vector-hash"] = vector_hash(n_hippocampal, periods, threshold, connectivity, g, device)
    if "mesh" in models:
        sc_v = scaffolds.get("vector-hash") or vector_hash(n_hippocampal, periods, threshold, connectivity,
                                                           torch.Generator().manual_seed(seed), device)
        scaffolds["mesh"] = mesh(n_hippocampal, sc_v.n_g, len(_check_periods(periods)), sc_v.n_states,
                                 threshold, connectivity, g, device)
    n_states = math.prod(_check_periods(periods)) ** 2
    if max(Ps) > min(n_states, n_sensory):
        raise ValueError(f"n_patterns: expected at most {min(n_states, n_sensory)} (scaffold states and "
                         f"sensory units), got {max(Ps)}")
    n_g = sum(p * p for p in periods)
    N_hop = matched_hopfield_size(n_sensory, n_hippocampal, n_g)

    P_max = max(Ps)
    S = (torch.randint(0, 2, (P_max, n_sensory), generator=g) * 2 - 1).to(device, torch.float32)
    X = (torch.randint(0, 2, (P_max, N_hop), generator=g) * 2 - 1).to(device, torch.float32)
    gram_S = _f64(S @ S.T) if scaffolds else None            # (P_max, P_max), exact for ±1; nested blocks reused
    out_mi = {m: [] for m in models}
    out_ov = {m: [] for m in models}
    examples = {m: [] for m in models}
    W_hebb = torch.zeros(N_hop, N_hop, device=device)
    done = 0
    for P in progress_bar(Ps, desc="patterns", enabled=progress):
        test = torch.randperm(P, generator=g)[:min(n_test, P)].to(device)   # which stored patterns to test
        for name, sc in scaffolds.items():
            mem = VectorHaSHMemory(sc).store(S[:P], gram=gram_S[:P, :P])
            rec = mem.recall(S[test])
            _record(name, rec, S[test], out_mi, out_ov, examples, keep_examples)
        if "hopfield" in models:
            W_hebb += X[done:P].T @ X[done:P] / N_hop              # cumulative Hebbian sum
            done = P
            W = W_hebb.clone()
            W.fill_diagonal_(0.0)
            rec = hopfield_recall(W, X[test], n_steps=hopfield_steps)
            _record("hopfield", rec, X[test], out_mi, out_ov, examples, keep_examples)
        if "pinv-hopfield" in models:
            W = pinv_hopfield_weights(X[:P])
            rec = hopfield_recall(W, X[test], n_steps=hopfield_steps)
            _record("pinv-hopfield", rec, X[test], out_mi, out_ov, examples, keep_examples)
    n_syn = 2 * n_hippocampal * (n_sensory + n_g)              # the synapse budget every model shares
    bits = {"vector-hash": n_sensory, "mesh": n_sensory, "hopfield": N_hop, "pinv-hopfield": N_hop}
    res = {"n_patterns": list(Ps),
           "mutual_information": out_mi,
           "overlap": out_ov,
           "bits_per_synapse": {m: [P * bits[m] * mi / n_syn for P, mi in zip(Ps, out_mi[m])]
                                for m in models},
           "n_hopfield": N_hop, "n_synapses": n_syn}
    if keep_examples:
        res["examples"] = examples
    return res


def _record(name, rec, target, out_mi, out_ov, examples, keep):
    out_mi[name].append(float(mutual_information_per_bit(rec, target).mean()))
    out_ov[name].append(float(overlap(rec, target).mean()))
    if keep:
        examples[name].append((rec[0, :keep] == target[0, :keep]).cpu())
