"""Classical Hopfield networks: their weights (Hebbian, projection, bounded) and sign dynamics.

One module for every chapter that compares with a Hopfield network. A network of N binary
neurons stores P patterns ``X`` (P, N) of ±1 in a symmetric weight matrix ``W`` (N, N) and
recalls from a cue by the sign dynamics ``s ← sgn(s W)`` (row vectors, as in the review). The
sources differ in the details, and each detail is one argument here:

=====================================  ===========  ========  =====  ==============================
source (where the book uses it)        rule         diagonal  scale  dynamics (:func:`recall`)
=====================================  ===========  ========  =====  ==============================
Hopfield 1982; Amit, Gutfreund &       hebbian      zero      1/N    ``update="async"`` (or sync)
Sompolinsky 1985 (Chapter 1)                                         sweeps, ``ties="keep"``,
                                                                     until a sweep changes nothing
Tyulmankov et al. 2021, bio-kvm's      hebbian      kept      1      synchronous, ``ties="zero"``,
``ClassicHopfield`` (Chapter 4, §4.1)               (W_ii=P)         until a fixed point
                                                                     (``stop="cycle"``: see below)
MESH ``Hopfield_continuum.py`` and     hebbian,     zero      1      synchronous, ``ties="zero"``,
Vector-HaSH's Fig 3 notebook           pinv,                         at most 100 steps, a state
(Chapter 4, §4.2)                      bounded                       stops once it no longer changes
=====================================  ===========  ========  =====  ==============================

- ``"hebbian"``: ``W = Σ_μ x_μᵀ x_μ = XᵀX`` (Eq 1 with keys = values), times ``1/N`` with
  ``normalize=True`` (the scale never changes ``sgn(s W)``).
- ``"pinv"``: the projection (pseudoinverse) rule ``W = X⁺X`` (Personnaz, Guyon & Dreyfus 1985;
  Kanter & Sompolinsky 1987), the orthogonal projection onto the span of the patterns: each
  stored pattern is a fixed point until P reaches N, where ``W = I`` (and, with the diagonal
  removed, nothing is left).
- ``"bounded"``: MESH's palimpsest, ``W ← clip(W + xᵀx/√N, −b, b)`` one pattern at a time, so
  that new patterns overwrite old ones instead of destroying all of them.

bio-kvm runs its dynamics until the state repeats (``steps = inf``); with the diagonal kept,
``W = XᵀX`` is positive semi-definite and synchronous updates end on fixed points, but without
it a state can settle on a two-cycle (the only other end point of synchronous dynamics with
symmetric weights), so the book's runs of that variant stop at a fixed point *or* a two-cycle
(``stop="cycle"``), within ``max_steps``.

Axis names: P patterns, N neurons, M cues (B in Chapter 1), leading axes for independent networks.
"""
from __future__ import annotations

import math

import torch

from kvlib import _checks as check
from kvlib.device import cpu_threads, float64_device

__all__ = ["WEIGHT_RULES", "UPDATES", "random_patterns", "hopfield_weights", "recall", "overlap",
           "pinv_solve"]

#: Learning rules of :func:`hopfield_weights`.
WEIGHT_RULES = ("hebbian", "pinv", "bounded")
#: Update orders of :func:`recall`: all neurons at once, or one at a time in a random order.
UPDATES = ("sync", "async")
_TIES = ("zero", "keep")
_STOPS = ("fixed-point", "cycle")


def random_patterns(n: int, d: int, generator: torch.Generator | None = None,
                    device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` random ±1 patterns of ``d`` neurons, each entry ±1 with probability 1/2: (n, d).

    Drawn on the CPU (the same patterns on every device), then moved. The same distribution as
    every source the book follows (bio-kvm's items, MESH's and Vector-HaSH's ``sign(randn)``).

    >>> random_patterns(2, 3, torch.Generator().manual_seed(0)).abs().unique().tolist()
    [1.0]
    """
    n = check.count("n", n, minimum=1)
    d = check.count("d", d, minimum=1)
    check.generator("generator", generator)
    dev = check.device("device", device)
    if dtype not in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        raise TypeError(f"dtype: expected a floating-point torch dtype, got {dtype!r}")
    bits = torch.randint(0, 2, (n, d), generator=generator)
    return (2.0 * bits - 1.0).to(device=dev, dtype=dtype)


# --------------------------------------------------------------------------- weights
def pinv_solve(X: torch.Tensor, Y: torch.Tensor, gram: torch.Tensor | None = None) -> torch.Tensor:
    """The minimum-norm least-squares ``W`` with ``X W ≈ Y``, i.e. ``X⁺ Y``, in float64.

    ``X`` (P, n), ``Y`` (P, d) → (n, d). Solved through the Gram matrix of the smaller side of
    ``X`` (Cholesky): ``Xᵀ(XXᵀ)⁻¹Y`` when P ≤ n, ``(XᵀX)⁻¹XᵀY`` otherwise; ``gram`` may pass a
    precomputed ``XXᵀ`` (P ≤ n). A singular Gram matrix (``X`` not of full rank) falls back to an
    SVD pseudoinverse. The result is float64 on ``X``'s device (the CPU where that is Apple MPS).
    Used by the projection rule here and by the scaffolds' sensory maps (Chapter 4, §4.2).

    >>> X = torch.tensor([[1., 0.], [0., 2.]]); pinv_solve(X, torch.eye(2))
    tensor([[1.0000, 0.0000],
            [0.0000, 0.5000]], dtype=torch.float64)
    """
    X = check.tensor("X", X, ndim=2, nonempty=True)
    Y = check.tensor("Y", Y, ndim=2, nonempty=True)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y: expected {X.shape[0]} rows (one per row of X), got shape {tuple(Y.shape)}")
    if Y.device != X.device:
        raise ValueError(f"Y: expected device {X.device} (as X), got {Y.device}")
    dev = float64_device(X.device)
    X64, Y64 = X.to(dev, torch.float64), Y.to(dev, torch.float64)
    P, n = X.shape
    wide = P <= n
    if gram is not None:
        gram = check.tensor("gram", gram, shape=(P, P), like=None)
        if not wide:
            raise ValueError(f"gram: a precomputed X Xᵀ serves only when X has no more rows than "
                             f"columns, got X of shape {tuple(X.shape)}")
    G = (X64 @ X64.T if gram is None else gram.to(dev, torch.float64)) if wide else X64.T @ X64
    L, info = torch.linalg.cholesky_ex(G)
    if int(info) != 0:                                       # rank-deficient: the slow, safe route
        U, sv, Vh = torch.linalg.svd(X64, full_matrices=False)
        keep = sv > sv.max() * max(P, n) * torch.finfo(torch.float64).eps
        return (Vh[keep].T / sv[keep]) @ (U[:, keep].T @ Y64)
    if wide:
        return X64.T @ torch.cholesky_solve(Y64, L)           # (n, P) @ (P, d)
    return torch.cholesky_solve(X64.T @ Y64, L)               # (n, n) solve, (n, d)


def _projection(X: torch.Tensor) -> torch.Tensor:
    """``X⁺X`` (N, N) in float64: exactly ``I`` once the patterns span all N dimensions."""
    P, N = X.shape
    X32 = X.float()                                           # ±1 Gram entries are exact in float32
    dev = float64_device(X.device)
    if P >= N and int(torch.linalg.cholesky_ex((X32.T @ X32).to(dev, torch.float64))[1]) == 0:
        return torch.eye(N, dtype=torch.float64, device=dev)  # full rank: exactly I
    return pinv_solve(X, X, gram=(X32 @ X32.T) if P <= N else None)


def hopfield_weights(patterns: torch.Tensor, rule: str = "hebbian", *, diagonal: bool = False,
                     normalize: bool = False, bound: float = 0.3,
                     start: torch.Tensor | None = None) -> torch.Tensor:
    """Weights of a classical Hopfield network storing ``patterns`` (..., P, N) → (..., N, N).

    ``rule`` (see the module's table for which source uses which):

    - ``"hebbian"``: ``W = XᵀX``, divided by N if ``normalize`` (Hopfield 1982, Chapter 1);
    - ``"pinv"``: ``W = X⁺X``, the projection rule (MESH's pseudoinverse baseline); computed in
      float64, returned in the patterns' dtype; one network at a time (``patterns`` 2-D);
    - ``"bounded"``: ``W ← clip(W + xᵀx/√N, −bound, bound)`` for each pattern in turn (MESH's
      bounded baseline, a palimpsest).

    ``diagonal``: keep the self-connections (bio-kvm's baseline, ``W_ii = P``) or set them to
    zero (the textbook network, MESH, Chapter 1). ``start``: weights (..., N, N) to continue
    from (``"hebbian"`` adds to them, ``"bounded"`` keeps clipping them), so a growing set of
    patterns is stored pattern block by pattern block. Patterns are normally ±1; any real
    values are stored as given, and all-zero rows (padding) add nothing. Integer tensors are
    converted exactly. The result has the patterns' dtype and device.

    >>> X = torch.tensor([[1., -1., 1.]])
    >>> hopfield_weights(X).tolist(), hopfield_weights(X, diagonal=True).diagonal().tolist()
    ([[0.0, -1.0, 1.0], [-1.0, 0.0, -1.0], [1.0, -1.0, 0.0]], [1.0, 1.0, 1.0])
    """
    X = check.tensor("patterns", patterns, nonempty=True)
    if X.ndim < 2:
        raise ValueError(f"patterns: expected shape (P, N) or (..., P, N), got {tuple(X.shape)}")
    rule = check.option("rule", rule, WEIGHT_RULES)
    check.flag("diagonal", diagonal)
    check.flag("normalize", normalize)
    if normalize and rule != "hebbian":
        raise ValueError(f"normalize: only the 'hebbian' rule has a scale to choose, got rule={rule!r}")
    N = X.shape[-1]
    if start is not None:
        if rule == "pinv":
            raise ValueError("start: the 'pinv' rule is not incremental; pass start=None")
        start = check.tensor("start", start, like=X, like_name="patterns")
        if start.shape != (*X.shape[:-2], N, N):
            raise ValueError(f"start: expected shape {(*X.shape[:-2], N, N)} (the patterns' networks, "
                             f"N × N), got {tuple(start.shape)}")
    if rule == "hebbian":
        W = X.transpose(-1, -2) @ X                           # (..., N, P) @ (..., P, N) → (..., N, N)
        if normalize:
            W = W / N
        if start is not None:
            W = start + W
    elif rule == "pinv":
        if X.ndim != 2:
            raise ValueError(f"patterns: the 'pinv' rule stores one network, shape (P, N); got "
                             f"{tuple(X.shape)}")
        W = _projection(X).to(device=X.device, dtype=X.dtype)
    else:
        bound = check.positive("bound", bound)
        W = X.new_zeros(*X.shape[:-2], N, N) if start is None else start.clone()
        step = 1 / math.sqrt(N)
        with cpu_threads(1 if X.device.type == "cpu" else None):   # many small steps: one thread is faster
            if X.ndim == 2:
                for x in X:                                   # sequential by definition: clip after each
                    W.addr_(x, x, alpha=step).clamp_(-bound, bound)
            else:
                for x in X.unbind(-2):                        # (..., N) per pattern, all networks at once
                    W.add_(x[..., :, None] * x[..., None, :], alpha=step).clamp_(-bound, bound)
    if not diagonal:
        W = W * (1.0 - torch.eye(N, dtype=W.dtype, device=W.device))
    return W


# --------------------------------------------------------------------------- dynamics
def _step(field: torch.Tensor, state: torch.Tensor, ties: str) -> torch.Tensor:
    """``sgn(field)``; a zero field reads 0 (``"zero"``) or keeps the neuron's state (``"keep"``)."""
    if ties == "zero":
        return torch.sign(field)
    return torch.where(field > 0, 1.0, torch.where(field < 0, -1.0, state)).to(state.dtype)


def _sync_shared(W: torch.Tensor, S: torch.Tensor, max_steps: int, ties: str, cycle: bool) -> torch.Tensor:
    """Synchronous updates of rows ``S`` (R, N) under one ``W``; settled rows leave the batch."""
    s = S.clone()
    prev = torch.full_like(s, 2.0) if cycle else None        # "no previous state" (2 is never a sign)
    active = torch.arange(s.shape[0], device=s.device)
    for _ in range(max_steps):                                # time steps of the dynamics
        if active.numel() == 0:
            break
        cur = s[active]
        new = _step(cur @ W, cur, ties)
        settled = (new == cur).all(dim=1)
        if cycle:
            settled |= (new == prev[active]).all(dim=1)       # back where it was two steps ago
            prev[active] = cur
        s[active] = new
        active = active[~settled]
    return s


def _sync_batched(W: torch.Tensor, S: torch.Tensor, max_steps: int, ties: str, cycle: bool) -> torch.Tensor:
    """Synchronous updates for L networks: ``W`` (L, N, N), cues ``S`` (L, M, N).

    All states move together while many are open (one batched product); once few are, only
    those rows are updated. A state is frozen at the step it settles.
    """
    L, M, N = S.shape
    S = S.clone()
    prev = torch.full_like(S, 2.0) if cycle else None
    settled = torch.zeros(L, M, dtype=torch.bool, device=S.device)
    for _ in range(max_steps):                                # time steps of the dynamics
        n_open = int((~settled).sum())
        if n_open == 0:
            break
        if n_open * N > L * M:                                # many open states: one dense step
            new = _step(torch.matmul(S, W), S, ties)
            done = (new == S).all(dim=2)
            if cycle:
                done |= (new == prev).all(dim=2)
            new = torch.where(settled[:, :, None], S, new)    # settled states stay frozen
            prev, S = S, new
            settled |= done
        else:                                                 # few: update just those rows
            b, m = (~settled).nonzero(as_tuple=True)
            cur = S[b, m]                                     # (A, N)
            new = _step(torch.einsum("an,anm->am", cur, W[b]), cur, ties)
            done = (new == cur).all(dim=1)
            if cycle:
                done |= (new == prev[b, m]).all(dim=1)
                prev[b, m] = cur
            S[b, m] = new
            settled[b[done], m[done]] = True
    return S


def _async(W: torch.Tensor, S: torch.Tensor, max_steps: int, ties: str,
           generator: torch.Generator | None) -> torch.Tensor:
    """Asynchronous sweeps: each sweep updates the neurons one at a time in a fresh random order
    (the loop over neurons *is* the dynamics, vectorised over cues and networks); stops after a
    sweep that changes nothing."""
    s = S.clone()
    N = W.shape[-1]
    for _ in range(max_steps):                                # sweeps
        before = s.clone()
        for i in torch.randperm(N, generator=generator).tolist():   # sequential: the point
            field = s @ W[..., i, :].unsqueeze(-1)            # (..., M, 1): row i = column i (W symmetric)
            s[..., i:i + 1] = _step(field, s[..., i:i + 1], ties)
        if torch.equal(s, before):
            break
    return s


def recall(weights: torch.Tensor, cues: torch.Tensor, *, max_steps: int = 100, update: str = "sync",
           ties: str = "zero", stop: str = "fixed-point",
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Sign dynamics ``s ← sgn(s W)`` from each cue: the states the network settles in.

    ``weights`` (N, N), or (..., N, N) for independent networks; ``cues`` (M, N), or
    (..., M, N) with the networks' leading axes (one set of cues per network). Settings, with
    the source each one follows (see the module's table):

    - ``update``: ``"sync"`` (every neuron at once: bio-kvm, MESH, Little's variant in Chapter 1)
      or ``"async"`` (one neuron at a time, a new random order from ``generator`` each sweep:
      Hopfield 1982);
    - ``ties``: a neuron whose field is exactly 0 reads 0 (``"zero"``, ``torch.sign``: bio-kvm,
      MESH) or keeps its state (``"keep"``: Hopfield 1982, Chapter 1);
    - ``stop``: a state stops when an update no longer changes it (``"fixed-point"``: MESH,
      bio-kvm, Chapter 1; a state in a two-cycle keeps cycling to the last step) or also when it
      is back where it was two steps before (``"cycle"``: the book's bound on bio-kvm's
      loop, synchronous updates only);
    - ``max_steps``: at most this many synchronous updates (or sweeps), the bound on the search
      (MESH: 100; Chapter 1: 20 sweeps).

    Cues are converted to the weights' dtype. Returns the final states, shaped like ``cues``.

    >>> W = hopfield_weights(torch.tensor([[1., -1., 1., -1.]]))
    >>> recall(W, torch.tensor([[1., 1., 1., -1.]]))
    tensor([[ 1., -1.,  1., -1.]])
    """
    W = check.tensor("weights", weights)
    if W.ndim < 2 or W.shape[-1] != W.shape[-2]:
        raise ValueError(f"weights: expected a square matrix (N, N) or (..., N, N), got {tuple(W.shape)}")
    N = W.shape[-1]
    S = check.tensor("cues", cues)
    if S.device != W.device:
        raise ValueError(f"cues: expected device {W.device} (as weights), got {S.device}")
    if S.ndim < 2 or S.shape[-1] != N:
        raise ValueError(f"cues: expected shape (M, {N}) or (..., M, {N}), got {tuple(S.shape)}")
    if W.ndim > 2 and S.shape[:-2] != W.shape[:-2]:
        raise ValueError(f"cues: expected the weights' leading axes {tuple(W.shape[:-2])}, got shape "
                         f"{tuple(S.shape)}")
    max_steps = check.count("max_steps", max_steps, minimum=1)
    update = check.option("update", update, UPDATES)
    ties = check.option("ties", ties, _TIES)
    stop = check.option("stop", stop, _STOPS)
    check.generator("generator", generator)
    if stop == "cycle" and update == "async":
        raise ValueError("stop: 'cycle' applies to synchronous updates (asynchronous dynamics with "
                         "symmetric weights only end on fixed points); use stop='fixed-point'")
    S = S.to(W.dtype)
    if S.numel() == 0:
        return S.clone()
    with cpu_threads(1 if W.device.type == "cpu" else None):   # many small steps: one thread is faster
        if update == "async":
            return _async(W, S, max_steps, ties, generator)
        if W.ndim == 2:                                       # one network: fold any leading axes into rows
            return _sync_shared(W, S.reshape(-1, N), max_steps, ties, stop == "cycle").reshape(S.shape)
        out = _sync_batched(W.reshape(-1, N, N), S.reshape(-1, *S.shape[-2:]), max_steps, ties,
                            stop == "cycle")
        return out.reshape(S.shape)


def overlap(states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Overlap ``m = s·ξ / N`` of each state with its target (1: perfect recall, 0: chance):
    (..., M, N) → (..., M). The order parameter of Amit, Gutfreund & Sompolinsky (1985); MESH and
    Vector-HaSH score their Hopfield baselines by it (``MI = 1 − H₂((1 − m)/2)``).

    >>> overlap(torch.tensor([[1., 1., -1., -1.]]), torch.tensor([[1., 1., 1., -1.]]))
    tensor([0.5000])
    """
    s = check.tensor("states", states, ndim=range(1, 9))
    t = check.tensor("targets", targets, ndim=range(1, 9))
    if s.shape != t.shape:
        raise ValueError(f"states: expected the targets' shape {tuple(t.shape)}, got {tuple(s.shape)}")
    if t.shape[-1] == 0:
        raise ValueError(f"targets: expected at least one neuron, got shape {tuple(t.shape)}")
    return (s * t.to(s.dtype)).sum(-1) / t.shape[-1]
