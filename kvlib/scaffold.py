"""Scaffold memories: MESH and Vector-HaSH (Box 1 of the review), and the Hopfield baselines
they are compared with, as their authors built them.

Explained in Chapter 4, §4.2 (``book/04_substrates.ipynb``).

A scaffold memory keeps *where* a memory is stored apart from *what* is stored. Box 1 of
Gershman, Fiete & Irie (2025) writes the recall of a sensory pattern ``s`` as
``ŝ = φ(s W_sd W_da, {a}) W_ad W_ds``: the cue is projected into a hidden (hippocampal) layer,
cleaned up to the nearest state ``a`` of a fixed attractor (the scaffold), and read back out.
In key-value terms the cleaned-up attractor state is the query, the fixed label-to-hidden
weights hold the keys, the hidden-to-sensory weights hold the values.

Names here (row vectors throughout; ``W_xy`` maps layer x to layer y, so ``h = g @ W_gh``):

=================  ========  ========================  ==================================
layer              Box 1     MESH paper (code)          here
=================  ========  ========================  ==================================
label / grid       a         label L (``gbook``)        ``g`` (``n_g`` cells)
hidden             d         hidden H (``pbook``)       ``h`` (``n_h`` cells)
feature / sensory  s         feature F (``sbook``)      ``s`` (``n_s`` cells, ±1)
=================  ========  ========================  ==================================

The two models, as in their code (``FieteLab/MESH``, Sharma, Chandra & Fiete 2022;
``FieteLab/VectorHaSH``, Chandra, Sharma, Chaudhuri & Fiete 2025):

- **MESH**: the label states are *all* C(18, 3) = 816 three-hot vectors (shuffled);
  ``W_gh`` is dense Gaussian; hidden units are signs, ``h = sign(g W_gh)``; clean-up is a
  global top-3. ``W_hg = (1/816) Σ hᵀg`` over every label state (Hebbian, once).
- **Vector-HaSH**: the states are the 3600 codes of 2-D grid modules with periods 3, 4, 5
  (9 + 16 + 25 = 50 cells, one active per module); ``W_gh`` is Gaussian with about a third of
  its entries pruned (40 % drawn with replacement); hidden units are ``relu(g W_gh − 0.5)``;
  clean-up is a winner-take-all in each module. ``W_hg`` is Hebbian over all states, as in MESH.
- Both bind P feature patterns to the first P scaffold states by pseudoinverse:
  ``W_sh = S⁺H`` and ``W_hs = H⁺S``. Recall from a cue ``s̃``: ``h = σ(s̃ W_sh)`` (``sign``
  in MESH, ``relu`` in Vector-HaSH), ``g = φ(h W_hg)``, ``h = hidden(g)``, ``ŝ = sign(h W_hs)``:
  one pass through the scaffold, as their capacity scripts run it (``Niter = 1``).
- Scoring, as both codes do: the feature error is the fraction of wrong bits, averaged over
  every stored pattern (a read-out of exactly 0 counts as half a bit); the mutual information
  per bit is ``1 − H₂(ε)`` of that *mean* error ε, the recall read as a binary symmetric channel.

*Box 1 writes the sensory weights as Hebbian sums; both codes use the pseudoinverse (which an
online rule can learn, MESH's ``iterativepseudo.py``). Box 1 also draws the label-hidden pair
the other way round; the codes fix label→hidden at random and learn the return path.*

The baselines are those of MESH's ``Hopfield_continuum.py`` and Vector-HaSH's Fig 3 notebook:
a Hopfield network of N neurons with ``W = XᵀX`` (standard), ``W = X⁺X`` (pseudoinverse) or a
bounded Hebbian rule ``W ← clip(W + xᵀx/√N, ±b)`` applied pattern by pattern, the diagonal
removed, synchronous sign updates for at most 100 steps; scored by the mean overlap ``m`` and
``MI = 1 − H₂((1 − m)/2)``. N is chosen so that the network has as many synapses as the scaffold
memory (MESH: N = 708 for 2·816·300 + 2·300·18 synapses).

Axis names: P stored patterns, B queries, R independent networks (runs), n_s / n_h / n_g layer
sizes, N neurons of a Hopfield network.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar

__all__ = [
    "grid_codebook", "khot_codebook", "module_wta", "top_k", "Scaffold", "vector_hash", "mesh",
    "stable_state_count", "stable_state_sweep", "scaffold_cleanup_error", "pinv_solve",
    "ScaffoldMemory", "VectorHaSHMemory", "flip_bits", "feature_error", "mutual_information",
    "overlap", "hopfield_weights", "hopfield_recall", "hopfield_curve", "matched_hopfield_size",
    "mesh_capacity", "basin_curve", "SWEEP_MODELS", "capacity_sweep",
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


def _check_pm1(name: str, x: torch.Tensor) -> None:
    if not torch.is_tensor(x):
        raise ValueError(f"{name}: expected a torch tensor of ±1 values, got {type(x).__name__}")
    if x.numel() and not bool(((x == 1) | (x == -1)).all()):
        bad = x[(x != 1) & (x != -1)].flatten()[:3].tolist()
        raise ValueError(f"{name}: expected values in {{-1, +1}}, got values such as {bad}")


def _check_loads(name: str, values: Sequence[int], upper: int | None = None) -> list[int]:
    try:
        Ps = sorted(values)
    except TypeError:
        raise ValueError(f"{name}: expected a sequence of positive integers, got {values!r}") from None
    for p in Ps:
        _check_pos_int(name, p)
    if not Ps:
        raise ValueError(f"{name}: expected at least one load, got {values!r}")
    if upper is not None and Ps[-1] > upper:
        raise ValueError(f"{name}: expected at most {upper} patterns, got {Ps[-1]}")
    return Ps


def _one_cpu_thread(func):
    """Run ``func`` with one CPU thread when its ``device`` is the CPU (measured 3-10x faster on
    two busy cores for these loops of small linear-algebra steps); GPUs are unaffected."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        dev = kwargs.get("device", "cpu")
        with cpu_threads(1 if torch.device(dev).type == "cpu" else None):
            return func(*args, **kwargs)
    return wrapper


def _f64(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float64, on the CPU if its device has no float64 (Apple MPS)."""
    return (x.cpu() if x.device.type == "mps" else x).double()


def _pm1(shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
    """Random ±1 patterns (the ``sign(randn)`` of both codes), float32 on the CPU."""
    return torch.randint(0, 2, shape, generator=generator).float() * 2 - 1


# --------------------------------------------------------------------------- codebooks
def grid_codebook(periods: Sequence[int] = (3, 4, 5), order: str = "vector-hash",
                  device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Grid-cell codes of every scaffold state: shape (L², Σλ²), L = Πλ, one active cell per module.

    Module m is a λ_m × λ_m sheet of cells. With co-prime periods the Chinese remainder theorem
    makes every combination of module phases occur exactly once, so there are L² states.

    ``order`` lists them as Vector-HaSH's notebooks do (``"vector-hash"``, their "rank-ordered"
    code for Figs 2–3: state n has cell ``n mod λ_m²`` active in module m) or as positions of
    the 2-D sheet (``"raster"``: row ``x·L + y`` is position (x, y), module cell
    ``(x mod λ)·λ + (y mod λ)``; their "hairpin" order). The two are the same set of states
    with the cells inside each module labelled differently; the order matters only because
    pattern μ is stored at state μ. Explained in Chapter 4, §4.2.

    >>> grid_codebook((2, 3)).shape   # 36 states, 4 + 9 cells
    torch.Size([36, 13])
    """
    ps = _check_periods(periods)
    if order not in ("vector-hash", "raster"):
        raise ValueError(f"order: expected 'vector-hash' or 'raster', got {order!r}")
    L = math.prod(ps)
    blocks = []
    if order == "vector-hash":
        n = torch.arange(L * L, device=device)
        for lam in ps:                                        # one block per module
            blocks.append(torch.nn.functional.one_hot(n % (lam * lam), lam * lam))
    else:
        xy = torch.arange(L, device=device)
        x, y = torch.meshgrid(xy, xy, indexing="ij")
        x, y = x.reshape(-1), y.reshape(-1)                   # (L²,)
        for lam in ps:
            blocks.append(torch.nn.functional.one_hot((x % lam) * lam + (y % lam), lam * lam))
    return torch.cat(blocks, dim=1).to(dtype)                 # (L², Σλ²)


def khot_codebook(n_cells: int = 18, k: int = 3, generator: torch.Generator | None = None,
                  shuffle: bool = True, device: str | torch.device = "cpu",
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """All C(n_cells, k) K-hot label states (MESH), in a random order: (C(n, k), n_cells).

    MESH uses every 3-hot state over 18 cells (816 states) and shuffles their order
    (``kbits`` then ``shuffle_gbook``); ``shuffle=False`` keeps lexicographic order.
    Explained in Chapter 4, §4.2.

    >>> khot_codebook(18, 3).shape
    torch.Size([816, 18])
    """
    _check_pos_int("n_cells", n_cells)
    _check_pos_int("k", k)
    if k > n_cells:
        raise ValueError(f"k: expected at most n_cells={n_cells} active cells, got {k}")
    if math.comb(n_cells, k) > 1_000_000:
        raise ValueError(f"n_cells: C({n_cells}, {k}) = {math.comb(n_cells, k)} states is too many to list")
    combos = torch.combinations(torch.arange(n_cells), r=k)   # (C(n, k), k)
    if shuffle:
        combos = combos[torch.randperm(len(combos), generator=generator)]
    code = torch.zeros(len(combos), n_cells, dtype=dtype)
    return code.scatter_(1, combos, 1.0).to(device)


# --------------------------------------------------------------------------- clean-up (φ in Box 1)
def module_wta(x: torch.Tensor, module_sizes: Sequence[int]) -> torch.Tensor:
    """Winner-take-all inside each module (Vector-HaSH's grid attractors, ``gridCAN_2d``).

    ``x``: (B, Σ sizes) → one-hot per module, same shape. Explained in Chapter 4, §4.2.
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
    """Global k-winners-take-all (MESH's label clean-up, ``topk_binary``): (B, n) → K-hot (B, n).

    Explained in Chapter 4, §4.2.
    """
    idx = x.topk(k, dim=1).indices
    return torch.zeros_like(x).scatter_(1, idx, 1.0)


# --------------------------------------------------------------------------- the scaffold
@dataclass
class Scaffold:
    """The fixed part of a scaffold memory: label/grid codebook, W_gh, W_hg and the clean-up.

    Build one with :func:`mesh` or :func:`vector_hash`. Explained in Chapter 4, §4.2.

    Attributes: ``codebook`` (n_states, n_g); ``W_gh`` (n_g, n_h), fixed random; ``W_hg``
    (n_h, n_g), Hebbian over every state; ``H`` (n_states, n_h), the hidden state of every
    scaffold state; ``units`` ``"sign"`` (MESH) or ``"relu"`` (Vector-HaSH, threshold θ);
    ``modules`` (sizes, module-wise WTA) or ``k`` (global top-K).
    """
    codebook: torch.Tensor
    W_gh: torch.Tensor
    W_hg: torch.Tensor
    H: torch.Tensor
    units: str
    threshold: float = 0.0
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
        """Label/grid state → hidden state: ``sign(g W_gh)`` or ``relu(g W_gh − θ)``, (B, n_g) → (B, n_h)."""
        x = g @ self.W_gh
        return torch.sign(x) if self.units == "sign" else torch.relu(x - self.threshold)

    def from_cue(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden units' response to the sensory drive ``s W_sh``: ``sign`` (MESH) or ``relu``
        with threshold 0 (Vector-HaSH's ``nonlin(·, thresh=0)``)."""
        return torch.sign(x) if self.units == "sign" else torch.relu(x)

    def clean(self, g_in: torch.Tensor) -> torch.Tensor:
        """φ of Box 1: snap a label/grid input to an attractor state (WTA per module or top-K)."""
        if self.modules is not None:
            return module_wta(g_in, self.modules)
        return top_k(g_in, self.k)

    def grid(self, h: torch.Tensor) -> torch.Tensor:
        """Hidden state → cleaned label/grid state, ``φ(h W_hg)``: (B, n_h) → (B, n_g)."""
        return self.clean(h @ self.W_hg)

    def cycle(self, h: torch.Tensor, n_iter: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """``n_iter`` rounds of h → g → h through the scaffold; returns the last (g, h)."""
        g = None
        for _ in range(n_iter):                               # a few recurrent rounds
            g = self.grid(h)
            h = self.hippocampus(g)
        return g, h


def _finish(codebook: torch.Tensor, W_gh: torch.Tensor, units: str, threshold: float,
            modules=None, k=None) -> Scaffold:
    sc = Scaffold(codebook, W_gh, W_gh.new_zeros(W_gh.shape[1], W_gh.shape[0]), W_gh.new_zeros(0),
                  units, threshold, modules, k)
    sc.H = sc.hippocampus(codebook)                           # (n_states, n_h)
    sc.W_hg = sc.H.T @ codebook / codebook.shape[0]           # Hebbian over every state, (n_h, n_g)
    return sc


def vector_hash(n_hippocampal: int = 400, periods: Sequence[int] = (3, 4, 5), threshold: float = 0.5,
                connectivity: float = 0.6, order: str = "vector-hash",
                generator: torch.Generator | None = None, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> Scaffold:
    """The Vector-HaSH scaffold as in its code (``senstrans_gs_vectorized_patts``).

    2-D grid modules (default periods 3, 4, 5: 3600 states, 50 cells); ``W_gh`` Gaussian, pruned
    as the code prunes it: ``int((1 − connectivity)·n_g·n_h)`` entries, drawn with replacement,
    are set to zero, so about ``exp(−(1 − c)) ≈ 67 %`` of the connections survive for c = 0.6;
    hidden units ``relu(g W_gh − θ)`` with θ = 0.5; ``W_hg`` Hebbian over all states;
    module-wise winner-take-all. ``order`` lists the states (see :func:`grid_codebook`).
    Explained in Chapter 4, §4.2.

    >>> sc = vector_hash(400, generator=torch.Generator().manual_seed(0))
    >>> sc.n_states, sc.n_g, sc.n_h
    (3600, 50, 400)
    """
    ps = _check_periods(periods)
    _check_pos_int("n_hippocampal", n_hippocampal)
    threshold = _check_threshold(threshold)
    connectivity = _check_prob("connectivity", connectivity)
    book = grid_codebook(ps, order=order, device=device, dtype=dtype)
    n_g = book.shape[1]
    W = torch.randn(n_g, n_hippocampal, generator=generator)
    n_prune = int((1 - connectivity) * n_g * n_hippocampal)
    rows = torch.randint(0, n_hippocampal, (n_prune,), generator=generator)
    cols = torch.randint(0, n_g, (n_prune,), generator=generator)
    W[cols, rows] = 0.0                                       # pruning with replacement, as in their code
    return _finish(book, W.to(device=device, dtype=dtype), "relu", threshold,
                   modules=tuple(p * p for p in ps))


def mesh(n_hippocampal: int = 300, n_label: int = 18, k: int = 3,
         generator: torch.Generator | None = None, device: str | torch.device = "cpu",
         dtype: torch.dtype = torch.float32) -> Scaffold:
    """The MESH scaffold as in its code (``capacity_assoc_sensory.py``, ``senstrans_gs``).

    All C(n_label, k) K-hot label states in a shuffled order (816 for 18 and 3); ``W_gh`` dense
    Gaussian; hidden units ``sign(g W_gh)``; ``W_hg = (1/n_states) Σ hᵀg``; global top-K clean-up.
    Explained in Chapter 4, §4.2.

    >>> sc = mesh(generator=torch.Generator().manual_seed(0))
    >>> sc.n_states, sc.n_g, sc.n_h
    (816, 18, 300)
    """
    _check_pos_int("n_hippocampal", n_hippocampal)
    book = khot_codebook(n_label, k, generator=generator, device=device, dtype=dtype)
    W = torch.randn(n_label, n_hippocampal, generator=generator).to(device=device, dtype=dtype)
    return _finish(book, W, "sign", 0.0, k=k)


def stable_state_count(scaffold: Scaffold) -> int:
    """How many scaffold states are fixed points of g → h → φ(h W_hg).

    Explained in Chapter 4, §4.2.
    """
    g_back = scaffold.grid(scaffold.H)                        # (n_states, n_g), all states at once
    return int((g_back == scaffold.codebook).all(dim=1).sum())


@_one_cpu_thread
def stable_state_sweep(n_hippocampal: Sequence[int] = (25, 50, 75, 100, 150, 200, 250, 300, 350, 400),
                       periods: Sequence[int] = (3, 4, 5), seeds: Sequence[int] = (0, 1, 2),
                       with_mesh: bool = True, device: str | torch.device = "cpu",
                       progress: bool = False) -> dict:
    """Fraction of scaffold states that are fixed points against the number of hidden cells.

    Vector-HaSH (its settings, 3600 grid states) and, with ``with_mesh``, MESH (its settings,
    816 three-hot states), mean over ``seeds``. Returns ``{"n_hippocampal", "stable_states",
    "total_states", "mesh_stable_states", "mesh_total_states"}`` (counts; means over seeds).
    Explained in Chapter 4, §4.2.
    """
    ps = _check_periods(periods)
    vh, me = [], []
    for n_h in progress_bar(list(n_hippocampal), desc="N_h", enabled=progress):
        _check_pos_int("n_hippocampal", n_h)
        vh.append(sum(stable_state_count(vector_hash(n_h, ps, generator=torch.Generator().manual_seed(s),
                                                     device=device)) for s in seeds) / len(seeds))
        if with_mesh:
            me.append(sum(stable_state_count(mesh(n_h, generator=torch.Generator().manual_seed(s),
                                                  device=device)) for s in seeds) / len(seeds))
    out = {"n_hippocampal": list(n_hippocampal), "stable_states": vh, "total_states": math.prod(ps) ** 2}
    if with_mesh:
        out["mesh_stable_states"] = me
        out["mesh_total_states"] = math.comb(18, 3)
    return out


def scaffold_cleanup_error(scaffold: Scaffold, flip: float = 0.2, n_stored: int | None = None,
                           generator: torch.Generator | None = None) -> float:
    """MESH's test of the scaffold alone (``capacity_gcpc``, its Fig 3): corrupt each stored
    hidden state by flipping a fraction ``flip`` of its signs, run h → g → h once, and return
    the remaining error relative to the injected one, ``Σ|h − h*| / Σ|h̃ − h*|``, averaged over
    the states. ``W_hg`` is learned from the first ``n_stored`` states (all by default).

    Needs sign hidden units (MESH). Explained in Chapter 4, §4.2.
    """
    if scaffold.units != "sign":
        raise ValueError("scaffold: expected a MESH scaffold (sign hidden units)")
    flip = _check_prob("flip", flip)
    P = scaffold.n_states if n_stored is None else _check_pos_int("n_stored", n_stored)
    H, G = scaffold.H[:P], scaffold.codebook[:P]
    W_hg = H.T @ G / P                                        # Hebbian on the stored states only
    noisy = flip_bits(H, flip, generator)
    g = scaffold.clean(noisy @ W_hg)
    h = scaffold.hippocampus(g)
    injected = (noisy - H).abs().sum(dim=1)
    return float(((h - H).abs().sum(dim=1) / injected.clamp_min(1)).mean())


# --------------------------------------------------------------------------- pseudoinverse
def pinv_solve(X: torch.Tensor, Y: torch.Tensor, gram: torch.Tensor | None = None) -> torch.Tensor:
    """The minimum-norm least-squares ``W`` with ``X W ≈ Y``, i.e. ``X⁺ Y``, in float64.

    Solves with the Gram matrix of the smaller side of ``X`` (P, n): ``Xᵀ(XXᵀ)⁻¹Y`` when P ≤ n,
    ``(XᵀX)⁻¹XᵀY`` otherwise (Cholesky; ``gram`` may pass a precomputed ``XXᵀ`` for P ≤ n). If
    that Gram matrix is singular (``X`` not of full rank) it falls back to an SVD pseudoinverse.
    The result is float64, on ``X``'s device (on the CPU when that is Apple MPS).
    Explained in Chapter 4, §4.2.
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


class ScaffoldMemory:
    """A scaffold plus feature patterns bound to its first P states by pseudoinverse.

    ``store(S)`` binds pattern μ to scaffold state μ: ``W_sh = S⁺H``, ``W_hs = H⁺S`` (both
    codes' ``pseudotrain_Wps`` / ``pseudotrain_Wsp``). ``recall(cue)`` runs s → h → g → h → s:
    ``h₀ = σ(cue W_sh)``, ``g = φ(h₀ W_hg)``, ``h = hidden(g)``, ``ŝ = sign(h W_hs)``.
    Works for MESH and Vector-HaSH scaffolds alike. Explained in Chapter 4, §4.2.
    """

    def __init__(self, scaffold: Scaffold):
        self.scaffold = scaffold
        self.W_sh: torch.Tensor | None = None
        self.W_hs: torch.Tensor | None = None
        self.n_s: int | None = None

    def store(self, S: torch.Tensor, gram: torch.Tensor | None = None) -> ScaffoldMemory:
        """Store P feature patterns ``S`` (P, n_s); P may not exceed the number of scaffold states.

        P may exceed n_s: ``W_sh`` is then the least-squares map (MESH's N_s = 400 runs)."""
        if S.ndim != 2:
            raise ValueError(f"S: expected a 2-D tensor (patterns, sensory units), "
                             f"got shape {tuple(S.shape)}")
        P = S.shape[0]
        if P > self.scaffold.n_states:
            raise ValueError(f"S: expected at most {self.scaffold.n_states} patterns (scaffold states), "
                             f"got {P}")
        H = self.scaffold.H[:P]                               # (P, n_h): keys of the first P states
        dt = self.scaffold.H.dtype
        self.W_sh = pinv_solve(S, H, gram=gram).to(dt).to(H.device)   # (n_s, n_h)
        self.W_hs = pinv_solve(H, S).to(dt).to(H.device)              # (n_h, n_s)
        self.n_s = S.shape[1]
        return self

    def recall(self, cue: torch.Tensor, n_iter: int = 1, details: bool = False):
        """Recall from cues (B, n_s): ±1 patterns (0 where the read-out is exactly 0).

        With ``details`` returns ``{"s", "g", "h"}`` (the cleaned label state and hidden state too)."""
        if self.W_sh is None:
            raise ValueError("recall: store patterns first")
        if cue.ndim != 2 or cue.shape[1] != self.n_s:
            raise ValueError(f"cue: expected shape (B, {self.n_s}), got {tuple(cue.shape)}")
        h = self.scaffold.from_cue(cue.to(self.W_sh.dtype) @ self.W_sh)   # (B, n_h), noisy key
        g, h = self.scaffold.cycle(h, n_iter)                 # clean key from the scaffold
        s = torch.sign(h @ self.W_hs)                         # (B, n_s)
        return {"s": s, "g": g, "h": h} if details else s


#: The earlier name of :class:`ScaffoldMemory`.
VectorHaSHMemory = ScaffoldMemory


# --------------------------------------------------------------------------- cues and metrics
def flip_bits(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip the sign of each entry of ``x`` independently with probability ``p`` (both codes'
    ``corrupt_p``: multiply by ``sign(u − p)``, u uniform). ``p = 0`` returns ``x`` itself.

    Explained in Chapter 4, §4.2.
    """
    p = _check_prob("p", p, open_low=False)
    if p == 0:
        return x
    u = torch.rand(x.shape, generator=generator).to(x.device)
    return x * torch.where(u < p, -1.0, 1.0).to(x.dtype)


def feature_error(recalled: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Fraction of wrong bits per pattern, ``|ŝ − s|/2`` averaged over units (0 counts half): (B, n) → (B,).

    MESH's ``err_sens`` and Vector-HaSH's ``err_sensl1``. Explained in Chapter 4, §4.2.
    """
    _check_pm1("target", target)
    if recalled.shape != target.shape:
        raise ValueError(f"recalled: expected shape {tuple(target.shape)}, got {tuple(recalled.shape)}")
    return (recalled.float() - target.float()).abs().mean(dim=1) / 2


def mutual_information(error: float | torch.Tensor) -> float | torch.Tensor:
    """Mutual information per bit ``1 − H₂(ε)`` of a bit-error rate ε (a binary symmetric channel).

    Both codes apply it to the *mean* error over patterns and runs (equivalently to the mean
    overlap, ε = (1 − m)/2). Symmetric about ε = 1/2. Explained in Chapter 4, §4.2.

    >>> mutual_information(0.0), mutual_information(0.5), round(mutual_information(0.11), 3)
    (1.0, 0.0, 0.5)
    """
    e = torch.as_tensor(error, dtype=torch.float64).clamp(0.0, 1.0)
    h = -(torch.special.xlogy(e, e) + torch.special.xlogy(1 - e, 1 - e)) / math.log(2)
    out = 1.0 - h
    return float(out) if out.ndim == 0 else out


def overlap(recalled: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Overlap ``m = (1/n) ŝ·s`` between recalled and target patterns: (B, n) → (B,).

    Explained in Chapter 4, §4.2.
    """
    if recalled.shape != target.shape:
        raise ValueError(f"recalled: expected shape {tuple(target.shape)}, got {tuple(recalled.shape)}")
    return (recalled * target).mean(dim=1)


# --------------------------------------------------------------------------- Hopfield baselines
def _palimpsest(W: torch.Tensor, X: torch.Tensor, bound: float) -> torch.Tensor:
    """``W ← clip(W + xᵀx/√N, ±bound)`` for each row x of X in turn, in place (N = W's size)."""
    step = 1 / math.sqrt(W.shape[0])
    with cpu_threads(1 if W.device.type == "cpu" else None):   # many small steps: one thread is faster
        for x in X.to(W.dtype):                               # sequential by definition: clip each time
            W.addr_(x, x, alpha=step).clamp_(-bound, bound)
    return W


def hopfield_weights(X: torch.Tensor, rule: str = "hebbian", bound: float = 0.3) -> torch.Tensor:
    """Weights of the Hopfield baselines of MESH and Vector-HaSH, diagonal removed: (P, N) → (N, N).

    - ``"hebbian"``: ``W = XᵀX`` (unnormalised, as in their code; the scale does not matter);
    - ``"pinv"``: ``W = X⁺X``, the projection onto the stored patterns (Personnaz et al. 1985);
      once P ≥ N (full rank) it is the identity, and with the diagonal removed nothing is left;
    - ``"bounded"``: ``W ← clip(W + xᵀx/√N, −bound, bound)`` pattern by pattern (a palimpsest).

    Float64 for ``"pinv"``, the dtype of ``X`` otherwise. Explained in Chapter 4, §4.2.
    """
    _check_pm1("X", X)
    P, N = X.shape
    if rule == "hebbian":
        W = X.T @ X
    elif rule == "pinv":
        X32 = X.float()                                       # ±1 Gram entries are exact in float32
        if P >= N and int(torch.linalg.cholesky_ex(_f64(X32.T @ X32))[1]) == 0:
            W = torch.eye(N, dtype=torch.float64, device=_f64(X).device)   # full rank: exactly I
        else:
            W = pinv_solve(X, X, gram=(X32 @ X32.T) if P <= N else None)    # X⁺X, (N, N)
    elif rule == "bounded":
        if not isinstance(bound, (int, float)) or isinstance(bound, bool) or not bound > 0:
            raise ValueError(f"bound: expected a positive number, got {bound!r}")
        W = _palimpsest(torch.zeros(N, N, dtype=X.dtype, device=X.device), X, bound)
    else:
        raise ValueError(f"rule: expected 'hebbian', 'pinv' or 'bounded', got {rule!r}")
    W = W.clone()
    W.fill_diagonal_(0.0)
    return W


def hopfield_recall(W: torch.Tensor, cue: torch.Tensor, max_steps: int = 100) -> torch.Tensor:
    """Synchronous updates ``s ← sign(s W)`` from cues (B, N), as in MESH's ``Hopfield_continuum``:
    at most ``max_steps`` updates, stopping once a state no longer changes (a state in a
    two-cycle keeps cycling to the last step). A field of exactly 0 reads 0.

    All cues at once; rows that have stopped are dropped from the batch. Explained in Chapter 4, §4.2.
    """
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W: expected a square matrix, got shape {tuple(W.shape)}")
    if cue.ndim != 2 or cue.shape[1] != W.shape[0]:
        raise ValueError(f"cue: expected shape (B, {W.shape[0]}), got {tuple(cue.shape)}")
    _check_pos_int("max_steps", max_steps)
    s = torch.sign(cue.to(W.dtype) @ W)                       # the first update
    active = torch.arange(s.shape[0], device=s.device)
    with cpu_threads(1 if W.device.type == "cpu" else None):   # many small steps: one thread is faster
        for _ in range(max_steps - 1):                        # iterations of the dynamics
            if active.numel() == 0:
                break
            new = torch.sign(s[active] @ W)
            moved = (new != s[active]).any(dim=1)
            s[active] = new
            active = active[moved]
    return s


def matched_hopfield_size(n_s: int, n_h: int, n_g: int) -> int:
    """Neurons of a Hopfield net with as many synapses as the scaffold memory,
    ``N = ⌈√(2·n_s·n_h + 2·n_h·n_g)⌉`` (sensory↔hidden and label↔hidden, both ways).

    MESH's N = 708 for (816, 300, 18). Explained in Chapter 4, §4.2.

    >>> matched_hopfield_size(816, 300, 18)
    708
    """
    return math.ceil(math.sqrt(2 * n_s * n_h + 2 * n_h * n_g))


@_one_cpu_thread
def hopfield_curve(n_patterns: Sequence[int], N: int = 708, rule: str = "hebbian", cue_flip: float = 0.0,
                   bound: float = 0.3, n_runs: int = 1, n_test: int | None = None, max_steps: int = 100,
                   seed: int = 0, device: str | torch.device = "cpu", progress: bool = False) -> dict:
    """Overlap and mutual information of a Hopfield baseline against the number of stored patterns.

    For each run, fresh ±1 patterns; at each load P the network stores the first P, recalls them
    from cues with a fraction ``cue_flip`` of bits flipped (drawn once per run, as in their code),
    and is scored by the mean overlap m over the tested patterns (all P, or a random
    ``n_test``) and ``MI = 1 − H₂((1 − m)/2)``. Returns ``{"n_patterns", "overlap",
    "mutual_information"}`` (means over runs), ``"mi_runs"`` (per run), and the settings.
    Explained in Chapter 4, §4.2.
    """
    Ps = _check_loads("n_patterns", n_patterns)
    _check_pos_int("N", N)
    _check_pos_int("n_runs", n_runs)
    cue_flip = _check_prob("cue_flip", cue_flip, open_low=False)
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    mis, ovs = [], []
    for _ in progress_bar(range(n_runs), desc="runs", enabled=progress):   # independent networks
        X = _pm1((Ps[-1], N), g).to(device)
        cues = flip_bits(X, cue_flip, g)
        mi_r, ov_r, W, done = [], [], None, 0
        for P in Ps:
            if rule == "bounded":
                if W is None:
                    W = torch.zeros(N, N, device=device)
                W = _palimpsest(W, X[done:P], bound)          # continue from the last load
                done = P
                Wd = W.clone()
                Wd.fill_diagonal_(0.0)
            elif rule == "pinv" and P >= N:
                Wd = torch.zeros(N, N, device=device)         # X⁺X = I, minus its diagonal
            else:
                Wd = hopfield_weights(X[:P], rule).float().to(device)
            test = torch.arange(P) if n_test is None or n_test >= P else \
                torch.randperm(P, generator=g)[:n_test]
            test = test.to(device)
            rec = hopfield_recall(Wd, cues[test], max_steps=max_steps)
            m = float(overlap(rec, X[test]).mean())
            ov_r.append(m)
            mi_r.append(mutual_information((1 - m) / 2))
        mis.append(mi_r)
        ovs.append(ov_r)
    mean = lambda rows: [sum(c) / len(c) for c in zip(*rows)]
    return {"n_patterns": Ps, "overlap": mean(ovs), "mutual_information": mean(mis), "mi_runs": mis,
            "N": N, "rule": rule, "cue_flip": cue_flip, "n_runs": n_runs,
            "n_tested": [P if n_test is None else min(n_test, P) for P in Ps],
            **({"bound": bound} if rule == "bounded" else {})}


# --------------------------------------------------------------------------- MESH's capacity curves
@_one_cpu_thread
def mesh_capacity(n_patterns: Sequence[int] = (100, 200, 300, 350, 400, 500, 600, 700, 816),
                  n_sensory: Sequence[int] = (400, 816), n_hippocampal: int = 300, n_label: int = 18,
                  k: int = 3, n_runs: int = 2, cue_flip: float = 0.0, seed: int = 0,
                  device: str | torch.device = "cpu", progress: bool = False) -> dict:
    """MESH's feature error and mutual information against the number of stored patterns.

    As ``capacity_assoc_sensory.py`` runs it: one shuffled 18-choose-3 codebook and one set of
    ``sign(randn)`` feature patterns (one per label state) per ``n_sensory``; ``n_runs``
    independent scaffolds (their code averages 20); at each load every stored pattern is recalled
    (cues with a fraction ``cue_flip`` flipped, fresh per run), one pass through the scaffold.
    Returns ``{"n_patterns", "feature_error": {N_s: [...]}, "mutual_information": {N_s: [...]},
    "label_error": {N_s: [...]}, "n_tested", "cue_flip", "n_runs", ...}`` with N_s as a string
    key; MI is ``1 − H₂`` of the run-averaged feature error, label error the fraction of wrong
    active label cells. Explained in Chapter 4, §4.2.
    """
    n_states = math.comb(n_label, k)
    Ps = _check_loads("n_patterns", n_patterns, n_states)
    _check_pos_int("n_runs", n_runs)
    cue_flip = _check_prob("cue_flip", cue_flip, open_low=False)
    device = torch.device(device)
    fe, mi, le = {}, {}, {}
    for n_s in n_sensory:
        _check_pos_int("n_sensory", n_s)
        g = torch.Generator().manual_seed(seed + n_s)
        S = _pm1((n_states, n_s), g).to(device)               # one feature pattern per label state
        gram = _f64(S @ S.T)                                  # exact for ±1; nested blocks reused
        scs = [mesh(n_hippocampal, n_label, k, generator=g, device=device) for _ in range(n_runs)]
        err_f = torch.zeros(len(Ps), n_runs, dtype=torch.float64)
        err_l = torch.zeros(len(Ps), n_runs, dtype=torch.float64)
        for i, P in enumerate(progress_bar(Ps, desc=f"N_s = {n_s}", enabled=progress)):
            for r, sc in enumerate(scs):                      # independent scaffolds (their runs)
                mem = ScaffoldMemory(sc).store(S[:P], gram=gram[:P, :P] if P <= n_s else None)
                cue = flip_bits(S[:P], cue_flip, g)
                out = mem.recall(cue, details=True)
                err_f[i, r] = feature_error(out["s"], S[:P]).mean()
                err_l[i, r] = ((out["g"] - sc.codebook[:P]).abs().sum(dim=1) / (2 * k)).mean()
        key = str(n_s)
        fe[key] = err_f.mean(dim=1).tolist()
        mi[key] = [mutual_information(e) for e in fe[key]]
        le[key] = err_l.mean(dim=1).tolist()
    return {"n_patterns": Ps, "feature_error": fe, "mutual_information": mi, "label_error": le,
            "n_tested": Ps, "cue_flip": cue_flip, "n_runs": n_runs, "n_hippocampal": n_hippocampal,
            "n_label": n_label, "k": k, "n_states": n_states}


@_one_cpu_thread
def basin_curve(n_patterns: int = 600, flips: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4),
                n_hippocampal: int = 400, periods: Sequence[int] = (3, 4, 5), n_draws: int = 3,
                seed: int = 0, device: str | torch.device = "cpu") -> dict:
    """Vector-HaSH's basin test (its Fig 3 notebook, "examine basin sizes"): with P patterns
    stored (N_s = number of grid states), the fraction of patterns whose recall from a cue with
    a fraction ``flip`` of bits flipped equals their recall from the clean cue, averaged over
    ``n_draws`` noise draws (their notebook: 100). Returns ``{"flip", "p_correct", ...}``.
    Explained in Chapter 4, §4.2.
    """
    ps = _check_periods(periods)
    g = torch.Generator().manual_seed(seed)
    sc = vector_hash(n_hippocampal, ps, generator=g, device=device)
    n_s = sc.n_states                                         # N_s = number of grid states, as there
    P = _check_pos_int("n_patterns", n_patterns)
    S = _pm1((P, n_s), g).to(device)
    mem = ScaffoldMemory(sc).store(S[:P])
    clean = mem.recall(S[:P])
    out = []
    for f in flips:
        ok = sum(float((mem.recall(flip_bits(S[:P], f, g)) == clean).all(dim=1).float().mean())
                 for _ in range(n_draws))
        out.append(ok / n_draws)
    return {"flip": list(flips), "p_correct": out, "n_patterns": P, "n_draws": n_draws,
            "n_hippocampal": n_hippocampal}


# --------------------------------------------------------------------------- the chapter's sweep
def _mi_interval(err: torch.Tensor) -> tuple[float, float, float]:
    """MI of the mean per-pattern error, with a 95 % interval from the spread over patterns."""
    mean = float(err.mean())
    half = 1.96 * float(err.std()) / math.sqrt(err.numel()) if err.numel() > 1 else 0.0
    lo_e, hi_e = max(mean - half, 0.0), min(mean + half, 0.5)
    return mutual_information(min(mean, 0.5)), mutual_information(hi_e), mutual_information(lo_e)


#: The models :func:`capacity_sweep` knows, each in its source's setting.
SWEEP_MODELS = ("mesh", "vector-hash", "hopfield", "pinv-hopfield", "bounded-hopfield")


@_one_cpu_thread
def capacity_sweep(n_patterns: Sequence[int], n_hippocampal: int = 400, n_sensory: int = 3600,
                   periods: Sequence[int] = (3, 4, 5),
                   models: Sequence[str] = ("vector-hash", "hopfield", "pinv-hopfield"),
                   cue_flip: float = 0.05, n_test: int | None = 128, n_hopfield: int | None = None,
                   bound: float = 0.3, max_steps: int = 100, seed: int = 0,
                   device: str | torch.device = "cpu", progress: bool = False,
                   keep_examples: int = 0) -> dict:
    """Recall against the number of stored random ±1 patterns, from corrupted cues (Box 1's test).

    Models (``models``), each as its source builds it:

    - ``"vector-hash"``: :func:`vector_hash` with ``periods`` and ``n_hippocampal`` cells,
      patterns of ``n_sensory`` bits (Fig 3 of Vector-HaSH: (3, 4, 5), 400, 3600; its own
      comparison with the baselines: (2, 3, 5), 275, 900);
    - ``"mesh"``: :func:`mesh` in its paper's setting (18 choose 3, N_H = 300, N_F = 816);
    - ``"hopfield"``, ``"pinv-hopfield"``, ``"bounded-hopfield"``: :func:`hopfield_weights` with
      ``n_hopfield`` neurons (default: as many synapses as the Vector-HaSH memory,
      :func:`matched_hopfield_size`; MESH's comparisons use 708) and ``bound``.

    Cues have a fraction ``cue_flip`` of their bits flipped (0.05: MESH's noisy runs and both
    codes' pseudoinverse baseline; 0: clean cues). The scaffolds recall every stored pattern;
    the Hopfield networks ``n_test`` randomly chosen ones (all if ``None``). Returns
    ``{"n_patterns", "feature_error", "mutual_information", "mi_low", "mi_high" (95 % interval
    over the tested patterns), "overlap", "bits_per_synapse" (P × pattern bits × MI over the
    model's synapses), "n_tested"}``, each a dict over models, and ``"cue_flip"``,
    ``"n_hopfield"``, ``"n_synapses"`` (per model). With ``keep_examples = k`` also which of the
    first k bits of one recalled pattern came back right (``"examples"``).
    Explained in Chapter 4, §4.2.
    """
    for m in models:
        if m not in SWEEP_MODELS:
            raise ValueError(f"models: expected names from {list(SWEEP_MODELS)}, got {m!r}")
    ps = _check_periods(periods)
    limit = min([math.prod(ps) ** 2] * ("vector-hash" in models) + [math.comb(18, 3)] * ("mesh" in models)
                or [10 ** 9])
    Ps = _check_loads("n_patterns", n_patterns, limit)
    cue_flip = _check_prob("cue_flip", cue_flip, open_low=False)
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    n_g = sum(p * p for p in ps)
    N = n_hopfield if n_hopfield is not None else matched_hopfield_size(n_sensory, n_hippocampal, n_g)
    _check_pos_int("n_hopfield", N)
    P_max = Ps[-1]
    nets, data = {}, {}                                       # scaffold per model, (patterns, cues, gram)
    if "vector-hash" in models:
        nets["vector-hash"] = vector_hash(n_hippocampal, ps, generator=g, device=device)
        data["vector-hash"] = n_sensory
    if "mesh" in models:
        nets["mesh"] = mesh(generator=g, device=device)
        data["mesh"] = 816
    for name, n_s in list(data.items()):
        S = _pm1((P_max, n_s), g).to(device)
        data[name] = (S, flip_bits(S, cue_flip, g), _f64(S @ S.T), n_s)
    X = _pm1((P_max, N), g).to(device)
    X_cue = flip_bits(X, cue_flip, g)
    keys = ("feature_error", "mutual_information", "mi_low", "mi_high", "overlap", "n_tested")
    res = {k: {m: [] for m in models} for k in keys}
    examples = {m: [] for m in models}
    W_hebb = torch.zeros(N, N, device=device)
    W_bnd = torch.zeros(N, N, device=device)
    done = 0

    def record(name, rec, target):
        err = feature_error(rec, target)
        mi, lo, hi = _mi_interval(err)
        for k, v in zip(keys, (float(err.mean()), mi, lo, hi, float(overlap(rec, target).mean()),
                               int(target.shape[0]))):
            res[k][name].append(v)
        if keep_examples:
            examples[name].append((rec[0, :keep_examples] == target[0, :keep_examples]).cpu())

    for P in progress_bar(Ps, desc="patterns", enabled=progress):
        for name, sc in nets.items():                         # every stored pattern, one batch
            S, S_cue, gram, n_s = data[name]
            mem = ScaffoldMemory(sc).store(S[:P], gram=gram[:P, :P] if P <= n_s else None)
            record(name, mem.recall(S_cue[:P]), S[:P])
        test = torch.arange(P) if n_test is None or n_test >= P else torch.randperm(P, generator=g)[:n_test]
        test = test.to(device)
        if "bounded-hopfield" in models:
            W_bnd = _palimpsest(W_bnd, X[done:P], bound)      # the palimpsest, pattern by pattern
        if "hopfield" in models:
            W_hebb += X[done:P].T @ X[done:P]                 # cumulative Hebbian sum, XᵀX
        done = P
        for name in ("hopfield", "pinv-hopfield", "bounded-hopfield"):
            if name not in models:
                continue
            if name == "hopfield":
                W = W_hebb.clone()
            elif name == "bounded-hopfield":
                W = W_bnd.clone()
            else:
                W = torch.zeros(N, N, device=device) if P >= N else \
                    hopfield_weights(X[:P], "pinv").float().to(device)
            W.fill_diagonal_(0.0)
            record(name, hopfield_recall(W, X_cue[test], max_steps), X[test])
    n_syn = {"vector-hash": 2 * n_hippocampal * (n_sensory + n_g), "mesh": 2 * 300 * (816 + 18)}
    bits = {"vector-hash": n_sensory, "mesh": 816}
    for name in ("hopfield", "pinv-hopfield", "bounded-hopfield"):
        n_syn[name], bits[name] = N * N, N
    out = {"n_patterns": Ps, **res,
           "bits_per_synapse": {m: [P * bits[m] * mi / n_syn[m]
                                    for P, mi in zip(Ps, res["mutual_information"][m])] for m in models},
           "cue_flip": cue_flip, "n_hopfield": N, "n_synapses": {m: n_syn[m] for m in models},
           "n_hippocampal": n_hippocampal, "n_sensory": n_sensory, "periods": list(ps)}
    if keep_examples:
        out["examples"] = examples
    return out
