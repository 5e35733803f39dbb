"""Scaffold memories: MESH and Vector-HaSH (Box 1 of the review), as their authors built them.

Explained in Chapter 4, §4.2 (``book/04_substrates.ipynb``); their capacity experiments and the
Hopfield baselines they are compared with are :mod:`kvlib.scaffold_capacity`.

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
- Scoring, as both codes do (:mod:`kvlib.binary_channel`): the feature error is the fraction of
  wrong bits, averaged over every stored pattern (a read-out of exactly 0 counts as half a bit);
  the mutual information per bit is ``1 − H₂(ε)`` of that *mean* error ε.

*Box 1 writes the sensory weights as Hebbian sums; both codes use the pseudoinverse (which an
online rule can learn, MESH's ``iterativepseudo.py``). Box 1 also draws the label-hidden pair
the other way round; the codes fix label→hidden at random and learn the return path.*

Axis names: P stored patterns, B queries, n_s / n_h / n_g layer sizes.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from kvlib import _checks as check
from kvlib.hopfield import pinv_solve

__all__ = ["grid_codebook", "khot_codebook", "module_wta", "top_k", "Scaffold", "vector_hash", "mesh",
           "stable_state_count", "grid_state", "ScaffoldMemory"]

_ORDERS = ("vector-hash", "raster")


def _periods(periods: Sequence[int]) -> tuple[int, ...]:            # a non-empty list of counts
    return tuple(check.sequence("periods", periods, lambda k, v: check.count(k, v, minimum=1)))


def _dtype(dtype) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    return dtype


# --------------------------------------------------------------------------- codebooks
def grid_codebook(periods: Sequence[int] = (3, 4, 5), order: str = "vector-hash",
                  device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Grid-cell codes of every scaffold state: shape (L², Σλ²), L = Πλ, one active cell per module.

    Module m is a λ_m × λ_m sheet of cells. With co-prime periods the Chinese remainder theorem
    makes every combination of module phases occur exactly once, so there are L² states.

    ``order``: as Vector-HaSH's notebooks list them (``"vector-hash"``, their "rank-ordered" code
    of Figs 2–3: state n has cell ``n mod λ_m²`` active in module m) or by position on the 2-D
    sheet (``"raster"``: row ``x·L + y`` is (x, y), module cell ``(x mod λ)·λ + (y mod λ)``).
    Both list the same states; the order matters only because pattern μ is stored at state μ.
    Explained in Chapter 4, §4.2.

    >>> grid_codebook((2, 3)).shape   # 36 states, 4 + 9 cells
    torch.Size([36, 13])
    """
    ps = _periods(periods)
    order = check.option("order", order, _ORDERS)
    dev = check.device("device", device)
    L = math.prod(ps)
    if L * L * sum(p * p for p in ps) > 50_000_000:
        raise ValueError(f"periods: {L * L} states of {sum(p * p for p in ps)} cells are too many to list")
    blocks = []
    if order == "vector-hash":
        n = torch.arange(L * L, device=dev)
        for lam in ps:                                        # one block per module
            blocks.append(torch.nn.functional.one_hot(n % (lam * lam), lam * lam))
    else:
        xy = torch.arange(L, device=dev)
        x, y = torch.meshgrid(xy, xy, indexing="ij")
        x, y = x.reshape(-1), y.reshape(-1)                   # (L²,)
        for lam in ps:
            blocks.append(torch.nn.functional.one_hot((x % lam) * lam + (y % lam), lam * lam))
    return torch.cat(blocks, dim=1).to(_dtype(dtype))         # (L², Σλ²)


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
    n_cells = check.count("n_cells", n_cells, minimum=1)
    k = check.count("k", k, minimum=1)
    if k > n_cells:
        raise ValueError(f"k: expected at most n_cells={n_cells} active cells, got {k}")
    if math.comb(n_cells, k) > 1_000_000:
        raise ValueError(f"n_cells: C({n_cells}, {k}) = {math.comb(n_cells, k)} states is too many to list")
    check.generator("generator", generator)
    dev = check.device("device", device)
    combos = torch.combinations(torch.arange(n_cells), r=k)   # (C(n, k), k)
    if check.flag("shuffle", shuffle):
        combos = combos[torch.randperm(len(combos), generator=generator)]
    code = torch.zeros(len(combos), n_cells, dtype=_dtype(dtype))
    return code.scatter_(1, combos, 1.0).to(dev)


# --------------------------------------------------------------------------- clean-up (φ in Box 1)
def module_wta(x: torch.Tensor, module_sizes: Sequence[int]) -> torch.Tensor:
    """Winner-take-all inside each module (Vector-HaSH's grid attractors, ``gridCAN_2d``).

    ``x``: (B, Σ sizes) → one-hot per module, same shape. Explained in Chapter 4, §4.2.

    >>> module_wta(torch.tensor([[0.1, 0.9, 0.3, 0.2, 0.8]]), (2, 3)).tolist()
    [[0.0, 1.0, 0.0, 0.0, 1.0]]
    """
    sizes = check.sequence("module_sizes", module_sizes, lambda k, v: check.count(k, v, minimum=1))
    x = check.tensor("x", x, shape=(None, sum(sizes)))
    out = torch.zeros_like(x)
    start = 0
    for size in sizes:                                        # loop over the few modules only
        block = x[:, start:start + size]
        out[:, start:start + size] = torch.nn.functional.one_hot(block.argmax(dim=1), size).to(x.dtype)
        start += size
    return out


def top_k(x: torch.Tensor, k: int) -> torch.Tensor:
    """Global k-winners-take-all (MESH's label clean-up, ``topk_binary``): (B, n) → K-hot (B, n).

    Explained in Chapter 4, §4.2.

    >>> top_k(torch.tensor([[0.1, 0.9, 0.3, 0.8]]), 2).tolist()
    [[0.0, 1.0, 0.0, 1.0]]
    """
    x = check.tensor("x", x, ndim=2)
    k = check.count("k", k, minimum=1)
    if k > x.shape[1]:
        raise ValueError(f"k: expected at most {x.shape[1]} winners (the cells of x), got {k}")
    idx = x.topk(k, dim=1).indices
    return torch.zeros_like(x).scatter_(1, idx, 1.0)


# --------------------------------------------------------------------------- the scaffold
@dataclass
class Scaffold:
    """The fixed part of a scaffold memory: label/grid codebook, W_gh, W_hg and the clean-up.

    Build one with :func:`mesh` or :func:`vector_hash`. Explained in Chapter 4, §4.2.

    Attributes: ``codebook`` (n_states, n_g); ``W_gh`` (n_g, n_h), fixed random; ``W_hg`` (n_h,
    n_g), Hebbian over every state; ``H`` (n_states, n_h), the hidden state of every scaffold
    state; ``units`` ``"sign"`` (MESH) or ``"relu"`` (Vector-HaSH, threshold θ); ``modules``
    (sizes, module-wise WTA) or ``k`` (global top-K).
    """
    codebook: torch.Tensor
    W_gh: torch.Tensor
    W_hg: torch.Tensor
    H: torch.Tensor
    units: str
    threshold: float = 0.0
    modules: tuple[int, ...] | None = None
    k: int | None = None

    def __post_init__(self):
        book = check.tensor("codebook", self.codebook, ndim=2, nonempty=True)
        n_states, n_g = book.shape
        W = check.tensor("W_gh", self.W_gh, shape=(n_g, None), like=book, like_name="codebook")
        n_h = W.shape[1]
        check.tensor("W_hg", self.W_hg, shape=(n_h, n_g), like=book, like_name="codebook")
        check.tensor("H", self.H, shape=(n_states, n_h), like=book, like_name="codebook")
        check.option("units", self.units, ("sign", "relu"))
        check.number("threshold", self.threshold, low=0.0)
        if (self.modules is None) == (self.k is None):
            raise ValueError(f"modules: expected module sizes (WTA per module) or k (global top-K), "
                             f"not both or neither; got modules={self.modules!r}, k={self.k!r}")
        if self.modules is not None:
            sizes = check.sequence("modules", self.modules, lambda k, v: check.count(k, v, minimum=1))
            if sum(sizes) != n_g:
                raise ValueError(f"modules: expected sizes summing to the codebook's {n_g} cells, "
                                 f"got {sizes}")
        else:
            check.count("k", self.k, minimum=1)

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
        """Label/grid state → hidden state, ``sign(g W_gh)`` or ``relu(g W_gh − θ)``: (B, n_h)."""
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
        h = check.tensor("h", h, shape=(None, self.n_h), like=self.W_gh, like_name="the scaffold")
        g = None
        for _ in range(check.count("n_iter", n_iter, minimum=1)):   # a few recurrent rounds
            g = self.grid(h)
            h = self.hippocampus(g)
        return g, h


def _finish(codebook: torch.Tensor, W_gh: torch.Tensor, units: str, threshold: float,
            modules=None, k=None) -> Scaffold:
    x = codebook @ W_gh
    H = torch.sign(x) if units == "sign" else torch.relu(x - threshold)   # (n_states, n_h)
    W_hg = H.T @ codebook / codebook.shape[0]                 # Hebbian over every state, (n_h, n_g)
    return Scaffold(codebook, W_gh, W_hg, H, units, threshold, modules, k)


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
    ps = _periods(periods)
    n_h = check.count("n_hippocampal", n_hippocampal, minimum=1)
    threshold = check.number("threshold", threshold, low=0.0)
    connectivity = check.number("connectivity", connectivity, low=0.0, low_open=True, high=1.0)
    check.generator("generator", generator)
    book = grid_codebook(ps, order=order, device=device, dtype=dtype)
    n_g = book.shape[1]
    W = torch.randn(n_g, n_h, generator=generator)
    n_prune = int((1 - connectivity) * n_g * n_h)
    rows = torch.randint(0, n_h, (n_prune,), generator=generator)
    cols = torch.randint(0, n_g, (n_prune,), generator=generator)
    W[cols, rows] = 0.0                                       # pruning with replacement, as in their code
    return _finish(book, W.to(device=book.device, dtype=dtype), "relu", threshold,
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
    n_h = check.count("n_hippocampal", n_hippocampal, minimum=1)
    n_label, k = check.count("n_label", n_label, minimum=1), check.count("k", k, minimum=1)
    if k > n_label:
        raise ValueError(f"k: expected at most n_label={n_label} active cells, got {k}")
    book = khot_codebook(n_label, k, generator=generator, device=device, dtype=dtype)
    W = torch.randn(n_label, n_h, generator=generator).to(device=book.device, dtype=dtype)
    return _finish(book, W, "sign", 0.0, k=k)


def stable_state_count(scaffold: Scaffold) -> int:
    """How many scaffold states are fixed points of g → h → φ(h W_hg).

    Explained in Chapter 4, §4.2.
    """
    if not isinstance(scaffold, Scaffold):
        raise TypeError(f"scaffold: expected a Scaffold (from mesh or vector_hash), got "
                        f"{type(scaffold).__name__}")
    g_back = scaffold.grid(scaffold.H)                        # (n_states, n_g), all states at once
    return int((g_back == scaffold.codebook).all(dim=1).sum())


def grid_state(position: Sequence[int] = (7, 11), n_hippocampal: int = 400,
               periods: Sequence[int] = (3, 4, 5), seed: int = 0,
               device: str | torch.device = "cpu") -> dict:
    """One Vector-HaSH state, the 2-D position ``position`` of its grid sheet: its code in each
    module and the hippocampal key it drives (Chapter 4, §4.2's first figure).

    Returns ``{"position", "periods", "modules" (λ×λ code per module), "phases", "hidden" (n_h,),
    "n_states", "n_h", "active_fraction" (over all states), "connectivity" (of W_gh)}``.
    """
    ps = _periods(periods)
    L = math.prod(ps)
    pos = check.sequence("position", position, lambda k, v: check.count(k, v, minimum=0))
    if len(pos) != 2 or max(pos) >= L:
        raise ValueError(f"position: expected two coordinates in [0, {L}) (the sheet is {L} × {L}), "
                         f"got {position!r}")
    sc = vector_hash(n_hippocampal, ps, order="raster", generator=torch.Generator().manual_seed(
        check.seed("seed", seed)), device=device)
    index = pos[0] * L + pos[1]
    code, modules, start = sc.codebook[index].cpu(), [], 0
    for lam in ps:                                            # one block per module
        modules.append(code[start:start + lam * lam].reshape(lam, lam))
        start += lam * lam
    return {"position": tuple(pos), "periods": ps, "modules": modules,
            "phases": [(pos[0] % lam, pos[1] % lam) for lam in ps], "hidden": sc.H[index].cpu(),
            "n_states": sc.n_states, "n_h": sc.n_h, "active_fraction": float((sc.H > 0).float().mean()),
            "connectivity": float((sc.W_gh != 0).float().mean())}


# --------------------------------------------------------------------------- the memory
class ScaffoldMemory:
    """A scaffold plus feature patterns bound to its first P states by pseudoinverse.

    ``store(S)`` binds pattern μ to scaffold state μ: ``W_sh = S⁺H``, ``W_hs = H⁺S`` (both
    codes' ``pseudotrain_Wps`` / ``pseudotrain_Wsp``). ``recall(cue)`` runs s → h → g → h → s:
    ``h₀ = σ(cue W_sh)``, ``g = φ(h₀ W_hg)``, ``h = hidden(g)``, ``ŝ = sign(h W_hs)``.
    Works for MESH and Vector-HaSH scaffolds alike. Explained in Chapter 4, §4.2.
    """

    def __init__(self, scaffold: Scaffold):
        if not isinstance(scaffold, Scaffold):
            raise TypeError(f"scaffold: expected a Scaffold (from mesh or vector_hash), got "
                            f"{type(scaffold).__name__}")
        self.scaffold = scaffold
        self.W_sh: torch.Tensor | None = None
        self.W_hs: torch.Tensor | None = None
        self.n_s: int | None = None

    def store(self, S: torch.Tensor, gram: torch.Tensor | None = None) -> ScaffoldMemory:
        """Store P feature patterns ``S`` (P, n_s); P may not exceed the number of scaffold states.

        P may exceed n_s: ``W_sh`` is then the least-squares map (MESH's N_s = 400 runs).
        ``gram``: ``S Sᵀ`` if already known (P ≤ n_s)."""
        H = self.scaffold.H
        S = check.tensor("S", S, ndim=2, nonempty=True)
        if S.device != H.device:
            raise ValueError(f"S: expected device {H.device} (the scaffold's), got {S.device}")
        P = S.shape[0]
        if P > self.scaffold.n_states:
            raise ValueError(f"S: expected at most {self.scaffold.n_states} patterns (scaffold states), "
                             f"got {P}")
        H = H[:P]                                             # (P, n_h): keys of the first P states
        self.W_sh = pinv_solve(S, H, gram=gram).to(device=H.device, dtype=H.dtype)   # (n_s, n_h)
        self.W_hs = pinv_solve(H, S).to(device=H.device, dtype=H.dtype)              # (n_h, n_s)
        self.n_s = S.shape[1]
        return self

    def recall(self, cue: torch.Tensor, n_iter: int = 1, details: bool = False):
        """Recall from cues (B, n_s): ±1 patterns (0 where the read-out is exactly 0).

        With ``details`` returns ``{"s", "g", "h"}`` (the cleaned label state and hidden state too)."""
        if self.W_sh is None:
            raise ValueError("recall: store patterns first")
        cue = check.tensor("cue", cue, shape=(None, self.n_s))
        if cue.device != self.W_sh.device:
            raise ValueError(f"cue: expected device {self.W_sh.device} (the memory's), got {cue.device}")
        check.flag("details", details)
        h = self.scaffold.from_cue(cue.to(self.W_sh.dtype) @ self.W_sh)   # (B, n_h), noisy key
        g, h = self.scaffold.cycle(h, n_iter)                 # clean key from the scaffold
        s = torch.sign(h @ self.W_hs)                         # (B, n_s)
        return {"s": s, "g": g, "h": h} if details else s
