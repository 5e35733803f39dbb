"""Key-value memory learned by three-factor plasticity (Eqs 12–13 of the review).

Explained in Chapter 4, §Three-factor learning (``book/04_substrates.ipynb``).

Tyulmankov, Fang, Vadaparty & Yang (2021) read a key-value memory as a three-layer
network: input ``x`` → hidden slots (attention ``α``) → output ``v̂``. The
input→hidden weights are the keys ``K``, the hidden→output weights the values
``V``. Storage uses two third factors on top of pre- and postsynaptic activity:

- a **global** factor ``μ ∈ {0, 1}`` ("store now", e.g. a neuromodulator), and
- a **local** factor ``γ_i ∈ {0, 1}`` that picks which slot ``i`` is plastic (e.g. a
  dendritic plateau): here *sequential* (slots in turn), *least recently used*, or
  *random* (each slot plastic with a small probability).

Eq 12 (non-Hebbian key write):  ``ΔK_ij ∝ μ γ_i (x_j − K_ij)``
Eq 13 (Hebbian value write):    ``ΔV_mi ∝ μ γ_i α_i (v_m − V_mi)``

Recall is softmax attention: ``α = softmax(β q Kᵀ)``, ``v̂ = α V``.

Conventions: row vectors; ``K`` is (n_slots, d_key) as in Eq 12; ``V`` is stored as
(n_slots, d_value), i.e. *transposed* relative to Eq 13's ``V_mi`` (row i here is
column i there). The classical Hopfield network, the chapter's baseline, lives
here too. Axis names (``book/appendix/notation.md``): N stored items, d item dimension
(``dim``), B queries.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from kvlib.device import progress as progress_bar

__all__ = [
    "LOCAL_FACTORS", "SlotMemory", "random_items", "partial_cue", "bit_accuracy",
    "hopfield_weights", "hopfield_recall", "accuracy_curve", "capacity_at", "capacity_vs_size",
    "rehearsal_experiment",
]

#: The local-factor variants of :class:`SlotMemory` (Chapter 4, §Three-factor learning).
LOCAL_FACTORS = ("sequential", "lru", "random")


# --------------------------------------------------------------------------- checks
def _check_pm1(name: str, x: torch.Tensor) -> None:
    if not torch.is_tensor(x):
        raise ValueError(f"{name}: expected a torch tensor of ±1 values, got {type(x).__name__}")
    if x.numel() and not bool(((x == 1) | (x == -1)).all()):
        bad = x[(x != 1) & (x != -1)].flatten()[:3].tolist()
        raise ValueError(f"{name}: expected values in {{-1, +1}}, got values such as {bad}")


def _check_binary(name: str, value: float) -> float:
    if isinstance(value, bool) or value not in (0, 1):
        raise ValueError(f"{name}: expected 0 or 1 (a binary third factor), got {value!r}")
    return float(value)


def _check_unit(name: str, value: float, low_open: bool = True, high_open: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > 0 if low_open else value >= 0) and (value < 1 if high_open else value <= 1)
    if not ok:
        rng = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise ValueError(f"{name}: expected a number in {rng}, got {value!r}")
    return float(value)


def _check_pos_int(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


# --------------------------------------------------------------------------- the slot memory
class SlotMemory:
    """A slot key-value memory written by the three-factor rules of Eqs 12–13.

    Explained in Chapter 4, §Three-factor learning.

    Parameters: ``n_slots`` hidden units; ``d_key`` input size; ``d_value`` output size (default
    ``d_key``, autoassociation); ``local`` one of :data:`LOCAL_FACTORS`; ``p_random`` the
    probability that a slot is plastic at a write (``local="random"`` only); ``beta`` the
    softmax inverse temperature; ``lr_key``, ``lr_value`` the rates of Eqs 12–13 (1 = one-shot).

    >>> mem = SlotMemory(4, 3)
    >>> gamma, _ = mem.write(torch.tensor([1., -1., 1.]))
    >>> gamma.tolist(), mem.keys[0].tolist()
    ([1.0, 0.0, 0.0, 0.0], [1.0, -1.0, 1.0])
    """

    def __init__(self, n_slots: int, d_key: int, d_value: int | None = None, local: str = "sequential",
                 p_random: float = 0.1, beta: float = 1.0, lr_key: float = 1.0, lr_value: float = 1.0,
                 generator: torch.Generator | None = None, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32):
        self.n_slots = _check_pos_int("n_slots", n_slots)
        self.d_key = _check_pos_int("d_key", d_key)
        self.d_value = _check_pos_int("d_value", d_value if d_value is not None else d_key)
        if local not in LOCAL_FACTORS:
            raise ValueError(f"local: expected one of {LOCAL_FACTORS}, got {local!r}")
        self.local = local
        self.p_random = _check_unit("p_random", p_random)
        if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not math.isfinite(beta) or beta <= 0:
            raise ValueError(f"beta: expected a finite number > 0, got {beta!r}")
        self.beta = float(beta)
        self.lr_key = _check_unit("lr_key", lr_key)
        self.lr_value = _check_unit("lr_value", lr_value)
        self.generator = generator
        self.device = torch.device(device)
        self.keys = torch.zeros(n_slots, self.d_key, device=device, dtype=dtype)      # K, (n_slots, d_key)
        self.values = torch.zeros(n_slots, self.d_value, device=device, dtype=dtype)  # Vᵀ, (n_slots, d_value)
        self.last_used = torch.full((n_slots,), -1, dtype=torch.long)                 # for "lru"
        self.pointer = 0                                                             # for "sequential"
        self.clock = 0

    # -- the local third factor γ
    def local_factor(self) -> torch.Tensor:
        """γ for the next write: (n_slots,) of 0/1, one slot (sequential, LRU) or each with prob. p."""
        gamma = torch.zeros(self.n_slots, device=self.device, dtype=self.keys.dtype)
        if self.local == "sequential":
            gamma[self.pointer] = 1.0
        elif self.local == "lru":
            gamma[int(self.last_used.argmin())] = 1.0       # ties (never used) → lowest index
        else:
            draw = torch.rand(self.n_slots, generator=self.generator) < self.p_random
            gamma = draw.to(device=self.device, dtype=self.keys.dtype)
        return gamma

    def _check_vec(self, name: str, x: torch.Tensor, d: int) -> torch.Tensor:
        if not torch.is_tensor(x) or x.shape != (d,):
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ValueError(f"{name}: expected a tensor of shape ({d},), got {shape}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name}: expected finite values")
        return x.to(device=self.device, dtype=self.keys.dtype)

    def write(self, x: torch.Tensor, v: torch.Tensor | None = None, mu: float = 1,
              gamma: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Store one item: Eq 12 on the keys, then Eq 13 on the values; returns ``(γ, α)``.

        ``x`` (d_key,) key input; ``v`` (d_value,) target value (default ``x``); ``mu`` the global
        factor (0 → nothing changes); ``gamma`` overrides the local factor. ``α`` is the hidden
        activity ``softmax(β K x)`` after the key write, the postsynaptic term of Eq 13.
        """
        x = self._check_vec("x", x, self.d_key)
        if v is None:
            if self.d_value != self.d_key:
                raise ValueError(f"v: required when d_value ({self.d_value}) != d_key ({self.d_key})")
            v = x
        v = self._check_vec("v", v, self.d_value)
        mu = _check_binary("mu", mu)
        if gamma is None:
            gamma = self.local_factor()
        else:
            if not torch.is_tensor(gamma) or gamma.shape != (self.n_slots,) or \
                    not bool(((gamma == 0) | (gamma == 1)).all()):
                raise ValueError(f"gamma: expected a 0/1 tensor of shape ({self.n_slots},), got {gamma!r}")
            gamma = gamma.to(device=self.device, dtype=self.keys.dtype)
        if mu == 0:                                            # global factor off: no plasticity at all
            return gamma, self.attention(x[None])[0]
        self.keys += self.lr_key * gamma[:, None] * (x - self.keys)                 # Eq 12
        alpha = torch.softmax(self.beta * (self.keys @ x), dim=0)                   # (n_slots,)
        self.values += self.lr_value * (gamma * alpha)[:, None] * (v - self.values)  # Eq 13
        written = gamma > 0
        self.last_used[written.cpu()] = self.clock
        if self.local == "sequential":
            self.pointer = (self.pointer + 1) % self.n_slots
        self.clock += 1
        return gamma, alpha

    def attention(self, q: torch.Tensor) -> torch.Tensor:
        """``α = softmax(β q Kᵀ)``: queries (B, d_key) → attention over slots (B, n_slots)."""
        if q.ndim != 2 or q.shape[1] != self.d_key:
            raise ValueError(f"q: expected shape (B, {self.d_key}), got {tuple(q.shape)}")
        return torch.softmax(self.beta * q.to(self.keys.dtype) @ self.keys.T, dim=1)

    def recall(self, q: torch.Tensor, touch: bool = False) -> torch.Tensor:
        """``v̂ = α V``: queries (B, d_key) → read-outs (B, d_value).

        With ``touch=True`` a read counts as a use: slots given most of a query's attention
        (α > 1/2) become recently used, which is what sets LRU apart from sequential.
        """
        alpha = self.attention(q)
        if touch:
            used = (alpha > 0.5).any(dim=0).cpu()
            self.last_used[used] = self.clock
            self.clock += 1
        return alpha @ self.values


# --------------------------------------------------------------------------- task helpers
def random_items(n: int, dim: int, generator: torch.Generator | None = None,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` random ±1 items of dimension ``dim``: (n, dim). Explained in Chapter 4, §Three-factor learning."""
    _check_pos_int("n", n)
    _check_pos_int("dim", dim)
    return (torch.randint(0, 2, (n, dim), generator=generator) * 2 - 1).to(device=device, dtype=dtype)


def partial_cue(items: torch.Tensor, fraction_zeroed: float = 0.6,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Cues with ``round(fraction_zeroed · d)`` randomly chosen entries of each item set to 0.

    Explained in Chapter 4, §Three-factor learning.
    """
    _check_pm1("items", items)
    f = _check_unit("fraction_zeroed", fraction_zeroed, low_open=False, high_open=True)
    n, dim = items.shape
    n_zero = int(round(f * dim))
    order = torch.rand(n, dim, generator=generator).argsort(dim=1)[:, :n_zero]   # (n, n_zero)
    mask = torch.ones(n, dim).scatter_(1, order, 0.0).to(items)
    return items * mask


def bit_accuracy(recalled: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Fraction of bits with ``sign(recalled) == target`` per item: (B, d) → (B,). A 0 is wrong.

    Explained in Chapter 4, §Three-factor learning.
    """
    _check_pm1("target", target)
    if recalled.shape != target.shape:
        raise ValueError(f"recalled: expected shape {tuple(target.shape)}, got {tuple(recalled.shape)}")
    return (torch.sign(recalled) == target).to(target.dtype).mean(dim=1)


# --------------------------------------------------------------------------- classical Hopfield
def hopfield_weights(X: torch.Tensor) -> torch.Tensor:
    """Classical Hopfield weights ``(1/N) Σ ξᵀξ`` with zero diagonal; ``X`` (P, N) of ±1.

    Explained in Chapter 4, §Three-factor learning (the baseline).
    """
    _check_pm1("X", X)
    W = X.T @ X / X.shape[1]
    W.fill_diagonal_(0.0)
    return W


def hopfield_recall(W: torch.Tensor, cue: torch.Tensor, n_steps: int = 100) -> torch.Tensor:
    """Synchronous updates ``s ← sign(s W)`` from cues (B, N), all cues at once, until every state
    sits on a fixed point or a two-cycle (the only end points of synchronous dynamics with
    symmetric W), or ``n_steps`` is reached. A unit whose field is exactly 0 reads 0 (no information).

    Explained in Chapter 4, §Three-factor learning (the baseline).
    """
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W: expected a square matrix, got shape {tuple(W.shape)}")
    if cue.ndim != 2 or cue.shape[1] != W.shape[0]:
        raise ValueError(f"cue: expected shape (B, {W.shape[0]}), got {tuple(cue.shape)}")
    _check_pos_int("n_steps", n_steps)
    s = cue.to(W.dtype).clone()
    prev = torch.full_like(s, 2.0)                             # "no previous state" (2 is never a sign)
    active = torch.arange(s.shape[0], device=s.device)        # rows still moving
    for _ in range(n_steps):                                   # time steps of the dynamics
        cur = s[active]
        new = torch.sign(cur @ W)
        settled = (new == cur).all(dim=1) | (new == prev[active]).all(dim=1)   # fixed point or two-cycle
        prev[active], s[active] = cur, new
        active = active[~settled]
        if active.numel() == 0:
            break
    return s


# --------------------------------------------------------------------------- experiments
def accuracy_curve(model: str, dim: int, n_items: int, n_slots: int | None = None,
                   fraction_zeroed: float = 0.6, p_random: float = 0.1, beta: float = 1.0,
                   seeds: Sequence[int] = tuple(range(10)), device: str | torch.device = "cpu") -> torch.Tensor:
    """Mean bit accuracy after storing P = 1, …, ``n_items`` random ±1 items (all recalled from
    cues with ``fraction_zeroed`` of their entries zeroed), averaged over items and seeds: (n_items,).

    ``model`` is a local-factor variant (:data:`LOCAL_FACTORS`) of :class:`SlotMemory` with
    ``n_slots`` slots (default ``dim // 2``: ``2·dim·n_slots ≈ dim²`` synapses, as many as a
    Hopfield net of ``dim`` neurons), or ``"hopfield"`` (Hebbian weights; synchronous dynamics from the
    cue until a fixed point or two-cycle, at most 100 steps). Explained in Chapter 4, §Three-factor learning.
    """
    _check_pos_int("dim", dim)
    _check_pos_int("n_items", n_items)
    if model not in LOCAL_FACTORS + ("hopfield",):
        raise ValueError(f"model: expected one of {LOCAL_FACTORS + ('hopfield',)}, got {model!r}")
    n_slots = max(1, dim // 2) if n_slots is None else n_slots
    acc = torch.zeros(n_items, dtype=torch.float64)
    seen = torch.tril(torch.ones(n_items, n_items, dtype=torch.float64))   # [P-1, i] = 1 if item i stored by P
    for seed in seeds:
        g = torch.Generator().manual_seed(seed)
        X, C = [], []
        for _ in range(n_items):                               # item by item: the first P items (and cues)
            x = random_items(1, dim, g, device)                # do not depend on n_items
            X.append(x)
            C.append(partial_cue(x, fraction_zeroed, g))
        X, C = torch.cat(X), torch.cat(C)                      # (n_items, d) each
        g_mem = torch.Generator().manual_seed(seed + 1_000_003)   # the random local factor's own stream
        if model == "hopfield":
            outer = X[:, :, None] * X[:, None, :] / dim                       # (P, N, N)
            W = outer.cumsum(dim=0)                                           # W after 1, 2, … items
            W = W * (1 - torch.eye(dim, device=device))                       # zero diagonals
            S = C.expand(n_items, n_items, dim).clone()                       # (snapshot, item, d)
            prev = torch.full_like(S, 2.0)                                    # 2 is never a sign
            settled = seen.to(device) == 0                                    # items not yet stored: ignore
            for _ in range(100):                                              # synchronous dynamics, all P at once
                todo = (~settled).any(dim=1).nonzero().flatten()              # snapshots with a moving state
                if todo.numel() == 0:
                    break
                cur = S[todo]
                new = torch.sign(torch.bmm(cur, W[todo]))
                done = (new == cur).all(dim=2) | (new == prev[todo]).all(dim=2)   # fixed point or two-cycle
                keep = settled[todo]                                          # settled states stay frozen
                new = torch.where(keep[:, :, None], cur, new)
                prev[todo], S[todo] = cur, new
                settled[todo] = keep | done
            readout = S
        else:
            mem = SlotMemory(n_slots, dim, local=model, p_random=p_random, beta=beta, generator=g_mem,
                             device=device)
            K_hist = torch.empty(n_items, n_slots, dim, device=device)
            V_hist = torch.empty(n_items, n_slots, dim, device=device)
            for P in range(n_items):                                          # writes are sequential: the loop is the point
                mem.write(X[P])
                K_hist[P], V_hist[P] = mem.keys, mem.values
            alpha = torch.softmax(beta * torch.einsum("in,pkn->pik", C, K_hist), dim=2)   # (snapshot, item, slot)
            readout = torch.bmm(alpha, V_hist)                                # (snapshot, item, N)
        hits = (torch.sign(readout) == X).double().mean(dim=2).cpu()          # (snapshot, item)
        acc += (hits * seen).sum(dim=1) / seen.sum(dim=1)
    return acc / len(seeds)


def capacity_at(curve: torch.Tensor, threshold: float = 0.98) -> int:
    """Largest P before the accuracy curve (indexed P = 1, 2, …) first drops below ``threshold``.

    Explained in Chapter 4, §Three-factor learning.
    """
    _check_unit("threshold", threshold)
    below = (curve < threshold).nonzero()
    return int(below[0]) if len(below) else len(curve)


def capacity_vs_size(dims: Sequence[int] = (20, 40, 80, 160),
                     models: Sequence[str] = LOCAL_FACTORS + ("hopfield",), threshold: float = 0.98,
                     fraction_zeroed: float = 0.6, p_random: float = 0.1,
                     seeds: Sequence[int] = tuple(range(10)), device: str | torch.device = "cpu",
                     progress: bool = False) -> dict[str, list[int]]:
    """Capacity at ``threshold`` accuracy for every model and item dimension N: {model: [capacity]}.

    Each curve is computed up to 1.5 × the slot count + 10 items (slot memories) or 0.2·d + 10
    (Hopfield), and extended if the accuracy has not yet dropped below ``threshold``. Explained in Chapter 4, §Three-factor learning.
    """
    out: dict[str, list[int]] = {m: [] for m in models}
    jobs = [(m, d) for m in models for d in dims]
    for m, d in progress_bar(jobs, desc="capacity", enabled=progress):
        n_max = int(0.2 * d) + 10 if m == "hopfield" else int(1.5 * max(1, d // 2)) + 10
        while True:                                            # extend the curve until it fails
            curve = accuracy_curve(m, d, n_max, fraction_zeroed=fraction_zeroed, p_random=p_random,
                                   seeds=seeds, device=device)
            cap = capacity_at(curve, threshold)
            if cap < n_max:
                break
            n_max *= 2
        out[m].append(cap)
    return out


def rehearsal_experiment(n_slots: int = 20, n_items: int = 60, n_rehearsed: int = 5, every: int = 5,
                         fraction_zeroed: float = 0.6, seeds: Sequence[int] = (0, 1, 2, 3, 4),
                         device: str | torch.device = "cpu") -> dict[str, float]:
    """Why "least recently used" is not "sequential": the first ``n_rehearsed`` items are read
    back (a use) after every ``every`` writes; afterwards, mean bit accuracy on those items.

    Returns ``{variant: accuracy}`` for sequential and LRU. Explained in Chapter 4, §Three-factor learning.
    """
    out = {}
    for local in ("sequential", "lru"):
        acc = 0.0
        for seed in seeds:
            g = torch.Generator().manual_seed(seed)
            X = random_items(n_items, 2 * n_slots, g, device)
            C = partial_cue(X, fraction_zeroed, g)
            mem = SlotMemory(n_slots, X.shape[1], local=local, generator=g, device=device)
            for t in range(n_items):                           # a stream of writes with occasional reads
                mem.write(X[t])
                if t >= n_rehearsed and t % every == 0:
                    mem.recall(C[:n_rehearsed], touch=True)
            acc += float(bit_accuracy(mem.recall(C[:n_rehearsed]), X[:n_rehearsed]).mean())
        out[local] = acc / len(seeds)
    return out
