"""Key-value memory learned by three-factor plasticity (Eqs 12–13 of the review), as
Tyulmankov, Fang, Vadaparty & Yang (NeurIPS 2021) built it.

Explained in Chapter 4, §4.1 (``book/04_substrates.ipynb``).

Tyulmankov and colleagues read a key-value memory as a three-layer network: input ``x`` →
hidden slots (attention ``α``) → output ``v̂``. The input→hidden weights are the keys ``K``,
the hidden→output weights the values ``V``. Storage uses two third factors on top of pre-
and postsynaptic activity:

- a **global** factor ``μ ∈ {0, 1}`` ("store now", e.g. a neuromodulator), and
- a **local** factor ``γ_i ∈ {0, 1}`` that picks which slot ``i`` is plastic (e.g. a
  dendritic plateau): *sequential* (slots in turn), *random* (each slot plastic with
  probability ``p``; theirs is ``p = 4/N``), or *least recently used* (the book's addition,
  where a read also counts as a use).

Key rule (Eq 12, non-Hebbian): ``ΔK_ij = η_K μ γ_i (x_j − K_ij)``. Value rule, two versions:

- ``value_rule="replace"`` (default; the reference network of ``gyyang/bio-kvm``,
  ``models/plasticnet.py`` with ``decay='active'``): the selected slot's value is replaced,
  ``V_mi ← (1 − η_V μ γ_i) V_mi + η_V μ γ_i α_i v_m``;
- ``value_rule="eq13"`` (the review's simplified Eq 13): ``ΔV_mi = η_V μ γ_i α_i (v_m − V_mi)``,
  which keeps a fraction ``1 − α_i`` of the old value.

Both agree when one slot takes all the attention (``α_i = 1``); they differ when an item is
written into several slots at once (the random factor), which split ``α`` between them.
``α = softmax(β K x)`` is the hidden activity *after* the key write, as in bio-kvm.
Recall is ``v̂ = softmax(β q Kᵀ) V``.

The task and the baseline follow bio-kvm's Fig 2 (``datasets/recall.py``, ``configs.py``,
``plot_all_figs_helper.py``): random ±1 items of dimension N, stored one per step with
``μ = 1``; then every stored item is recalled from a cue in which each entry is set to 0 with
probability 0.6 (their ``chance = 0.7``); accuracy is the fraction of bits with
``sign(v̂) = x``, averaged over the stored items. The slot memory has N hidden units and
``β = 1``; its values start uniform in ±1e-10 (their tie-breaker: an empty read-out has random
signs), its keys at 0 (their key noise of the same size changes no attention weight). The
baseline is their classical Hopfield network (``models/hopfield.py``, ``HopfieldConfig``):
``W = Σ x xᵀ`` *with* its diagonal (no decay, no clamp, rate 1), recall by synchronous
``s ← sign(W s)`` from the cue until a fixed point.
Capacity is their ``get_capacity``: a doubling/halving search over the number of items, one
fresh sequence per test, for the largest number recalled at ≥ 98 % accuracy, repeated (they
use 50 runs) and averaged.

Named settings that depart from the source, one argument each: ``value_rule="eq13"``;
``n_slots="half"`` (d/2 slots, so that the slot memory's ``2·d·d/2 = d²`` synapses match a
Hopfield network of d neurons; the source compares at equal N instead); and
``hopfield_diagonal=False`` (the textbook Hopfield network with zero self-connections).

Conventions: row vectors; ``K`` is (n_slots, d_key) as in Eq 12; ``V`` is stored as
(n_slots, d_value), the transpose of Eq 13's ``V_mi``. Axis names
(``book/appendix/notation.md``): N or d item dimension (``dim``), T or P stored items,
R independent runs.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from kvlib import _checks as check
from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar

__all__ = [
    "LOCAL_FACTORS", "VALUE_RULES", "MODELS", "P_UNKNOWN", "TIE_NOISE", "SlotMemory",
    "random_items", "partial_cue", "bit_accuracy", "hopfield_weights", "hopfield_recall",
    "fig2_lengths", "fig2_curve", "accuracy_curve", "capacity_at", "capacity_runs", "capacity_vs_size",
    "rehearsal_experiment",
]

#: The local-factor variants of :class:`SlotMemory` (Chapter 4, §4.1).
LOCAL_FACTORS = ("sequential", "lru", "random")
#: The value rules: bio-kvm's replacement ("active decay") and the review's Eq 13.
VALUE_RULES = ("replace", "eq13")
#: The three networks of Tyulmankov et al.'s Fig 2 (TVT, their fourth, is not built here).
MODELS = ("sequential", "random", "hopfield")
#: Probability that a cue entry is unknown (set to 0): bio-kvm's ``chance = 0.7`` → 2 (1 − 0.7).
P_UNKNOWN = 0.6
#: Half-width of the uniform initial weights of a fresh slot memory (bio-kvm's ``EPSILON``).
TIE_NOISE = 1e-10
#: Rate of the random local factor, times the number of slots (bio-kvm's ``ref_rand``: 4/N).
_RANDOM_RATE = 4.0


# --------------------------------------------------------------------------- checks
def _check_pm1(name: str, x: torch.Tensor) -> None:
    if not torch.is_tensor(x):
        raise ValueError(f"{name}: expected a torch tensor of ±1 values, got {type(x).__name__}")
    if x.numel() and not bool(((x == 1) | (x == -1)).all()):
        bad = x[(x != 1) & (x != -1)].flatten()[:3].tolist()
        raise ValueError(f"{name}: expected values in {{-1, +1}}, got values such as {bad}")


def _check_binary(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected 0 or 1 (a binary third factor), got {value!r}")
    if value not in (0, 1):
        raise ValueError(f"{name}: expected 0 or 1 (a binary third factor), got {value!r}")
    return float(value)


def _rate(name: str, value: float) -> float:
    """A rate in (0, 1]."""
    return check.number(name, value, low=0.0, low_open=True, high=1.0)


def _device(device) -> torch.device:
    """A device ('cpu', 'cuda', 'mps', 'auto' or a torch.device); None is not one here."""
    if device is None:
        raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
    return check.device("device", device)


def _seeds(seeds: Sequence[int]) -> list[int]:
    return check.sequence("seeds", seeds, check.seed)


def _resolve_slots(n_slots: int | str, dim: int) -> int:
    """``"N"`` → ``dim`` (bio-kvm), ``"half"`` → ``dim // 2`` (equal synapses), or an int."""
    if n_slots == "N":
        return dim
    if n_slots == "half":
        return max(1, dim // 2)
    if isinstance(n_slots, str):
        raise ValueError(f"n_slots: expected 'N', 'half' or a positive integer, got {n_slots!r}")
    return check.count("n_slots", n_slots, minimum=1)


def _resolve_p(p_random: float | None, n_slots: int) -> float:
    if p_random is None:
        return min(1.0, _RANDOM_RATE / n_slots)
    return _rate("p_random", p_random)


# --------------------------------------------------------------------------- the slot memory
class SlotMemory:
    """A slot key-value memory written by three-factor rules (Eq 12 and a value rule).

    Explained in Chapter 4, §4.1.

    Parameters: ``n_slots`` hidden units; ``d_key`` input size; ``d_value`` output size (default
    ``d_key``, autoassociation); ``local`` one of :data:`LOCAL_FACTORS`; ``p_random`` the
    probability that a slot is plastic at a write (``local="random"`` only; default
    ``4 / n_slots`` as in bio-kvm); ``beta`` the softmax inverse temperature; ``lr_key``,
    ``lr_value`` the rates ``η_K, η_V`` (1 = one-shot, bio-kvm's reference network);
    ``value_rule`` ``"replace"`` (bio-kvm) or ``"eq13"`` (the review); ``tie_noise`` the
    half-width of uniform initial weights (bio-kvm uses 1e-10 so that an empty read-out has
    random signs; default 0 here, exact zeros).

    >>> mem = SlotMemory(4, 3)
    >>> gamma, _ = mem.write(torch.tensor([1., -1., 1.]))
    >>> gamma.tolist(), mem.keys[0].tolist()
    ([1.0, 0.0, 0.0, 0.0], [1.0, -1.0, 1.0])
    """

    def __init__(self, n_slots: int, d_key: int, d_value: int | None = None, local: str = "sequential",
                 p_random: float | None = None, beta: float = 1.0, lr_key: float = 1.0,
                 lr_value: float = 1.0, value_rule: str = "replace", tie_noise: float = 0.0,
                 generator: torch.Generator | None = None, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32):
        self.n_slots = check.count("n_slots", n_slots, minimum=1)
        self.d_key = check.count("d_key", d_key, minimum=1)
        self.d_value = check.count("d_value", d_value if d_value is not None else d_key, minimum=1)
        self.local = check.option("local", local, LOCAL_FACTORS)
        self.p_random = _resolve_p(p_random, self.n_slots)
        self.beta = float(check.positive("beta", beta))
        self.lr_key = _rate("lr_key", lr_key)
        self.lr_value = _rate("lr_value", lr_value)
        self.value_rule = check.option("value_rule", value_rule, VALUE_RULES)
        self.tie_noise = check.number("tie_noise", tie_noise, low=0.0, high=1.0)
        self.generator = check.generator("generator", generator)
        self.device = _device(device)
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
        device = self.device
        shape_k, shape_v = (n_slots, self.d_key), (n_slots, self.d_value)
        if self.tie_noise > 0:                                  # drawn on the CPU, then moved
            self.keys = ((torch.rand(shape_k, generator=generator, dtype=torch.float64) * 2 - 1)
                         * self.tie_noise).to(device=device, dtype=dtype)
            self.values = ((torch.rand(shape_v, generator=generator, dtype=torch.float64) * 2 - 1)
                           * self.tie_noise).to(device=device, dtype=dtype)
        else:
            self.keys = torch.zeros(shape_k, device=device, dtype=dtype)     # K, (n_slots, d_key)
            self.values = torch.zeros(shape_v, device=device, dtype=dtype)   # Vᵀ, (n_slots, d_value)
        self.last_used = torch.full((n_slots,), -1, dtype=torch.long)        # for "lru"
        self.pointer = 0                                                     # for "sequential"
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
        """Store one item: Eq 12 on the keys, then the value rule; returns ``(γ, α)``.

        ``x`` (d_key,) key input; ``v`` (d_value,) target value (default ``x``); ``mu`` the global
        factor (0 → nothing changes); ``gamma`` overrides the local factor. ``α`` is the hidden
        activity ``softmax(β K x)`` after the key write, the postsynaptic term of the value rule.
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
        rate_k = (self.lr_key * gamma)[:, None]
        self.keys = (1 - rate_k) * self.keys + rate_k * x                     # Eq 12
        alpha = torch.softmax(self.beta * (self.keys @ x), dim=0)             # (n_slots,)
        if self.value_rule == "eq13":
            self.values = self.values + (self.lr_value * gamma * alpha)[:, None] * (v - self.values)
        else:                                                  # bio-kvm: decay 1 − ηγ, Hebbian term ηγαv
            rate_v = (self.lr_value * gamma)[:, None]
            self.values = (1 - rate_v) * self.values + rate_v * alpha[:, None] * v
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
        if check.flag("touch", touch):
            used = (alpha > 0.5).any(dim=0).cpu()
            self.last_used[used] = self.clock
            self.clock += 1
        return alpha @ self.values


# --------------------------------------------------------------------------- task helpers
def random_items(n: int, dim: int, generator: torch.Generator | None = None,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` random ±1 items of dimension ``dim``: (n, dim). Explained in Chapter 4, §4.1."""
    check.count("n", n, minimum=1)
    check.count("dim", dim, minimum=1)
    check.generator("generator", generator)
    return (torch.randint(0, 2, (n, dim), generator=generator) * 2 - 1).to(device=device, dtype=dtype)


def partial_cue(items: torch.Tensor, fraction_zeroed: float = P_UNKNOWN,
                generator: torch.Generator | None = None, exact: bool = False) -> torch.Tensor:
    """Cues with entries of each item set to 0 (unknown).

    Default: every entry independently with probability ``fraction_zeroed``, as bio-kvm's
    ``RecallDataset`` does; ``exact=True``: exactly ``round(fraction_zeroed · d)`` entries per
    item. Explained in Chapter 4, §4.1.
    """
    items = check.tensor("items", items, ndim=2, dtype="pm1")
    f = check.number("fraction_zeroed", fraction_zeroed, low=0.0, high=1.0, high_open=True)
    check.generator("generator", generator)
    n, dim = items.shape
    if check.flag("exact", exact):
        n_zero = int(round(f * dim))
        order = torch.rand(n, dim, generator=generator).argsort(dim=1)[:, :n_zero]   # (n, n_zero)
        mask = torch.ones(n, dim).scatter_(1, order, 0.0)
    else:
        mask = (torch.rand(n, dim, generator=generator) >= f).float()
    return items * mask.to(items)


def bit_accuracy(recalled: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Fraction of bits with ``sign(recalled) == target`` per item: (B, d) → (B,). A 0 is wrong.

    Explained in Chapter 4, §4.1.
    """
    recalled = check.tensor("recalled", recalled, ndim=2)
    target = check.tensor("target", target, ndim=2, dtype="pm1")
    if recalled.shape != target.shape:
        raise ValueError(f"recalled and target: expected the same shape, got {tuple(recalled.shape)} "
                         f"and {tuple(target.shape)}")
    return (torch.sign(recalled) == target).to(target.dtype).mean(dim=1)


# --------------------------------------------------------------------------- classical Hopfield
def hopfield_weights(X: torch.Tensor, zero_diagonal: bool = False) -> torch.Tensor:
    """Hebbian weights ``W = Σ ξᵀξ`` of a classical Hopfield network; ``X`` (P, N) of ±1.

    Default as bio-kvm's ``ClassicHopfield`` (rate 1, no decay, no clamp): the diagonal is kept
    (``W_ii = P``). ``zero_diagonal=True`` gives the textbook network without self-connections.
    The usual ``1/N`` factor is left out: it does not change ``sign(s W)``.
    Explained in Chapter 4, §4.1 (the baseline).
    """
    X = check.tensor("X", X, ndim=2, dtype="pm1")
    W = X.T @ X
    if check.flag("zero_diagonal", zero_diagonal):
        W.fill_diagonal_(0.0)
    return W


def hopfield_recall(W: torch.Tensor, cue: torch.Tensor, n_steps: int = 100) -> torch.Tensor:
    """Synchronous updates ``s ← sign(s W)`` from cues (B, N), all cues at once, until every state
    sits on a fixed point or a two-cycle (the only end points of synchronous dynamics with
    symmetric W; with the diagonal kept, ``W = XᵀX`` is positive semi-definite and only fixed
    points occur), or ``n_steps`` is reached. A unit whose field is exactly 0 reads 0.

    Explained in Chapter 4, §4.1 (the baseline).
    """
    W = check.tensor("W", W, ndim=2)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"W: expected a square matrix, got shape {tuple(W.shape)}")
    cue = check.tensor("cue", cue, ndim=2, like=W, like_name="W")
    if cue.shape[1] != W.shape[0]:
        raise ValueError(f"cue: expected shape (B, {W.shape[0]}), got {tuple(cue.shape)}")
    check.count("n_steps", n_steps, minimum=1)
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


def _hopfield_batch(W: torch.Tensor, S: torch.Tensor, n_steps: int = 100) -> torch.Tensor:
    """:func:`hopfield_recall` for a batch of networks: ``W`` (B, N, N), cues ``S`` (B, M, N).

    Same end points: a state is frozen at the step it reaches a fixed point or a two-cycle.
    All states move together while many are open; once few are, only those are updated.
    """
    B, M, N = S.shape
    S = S.clone()
    prev = torch.full_like(S, 2.0)
    settled = torch.zeros(B, M, dtype=torch.bool, device=S.device)
    for _ in range(n_steps):                                   # time steps of the dynamics
        n_open = int((~settled).sum())
        if n_open == 0:
            break
        if n_open * N > B * M:                                 # many open states: one dense step
            new = torch.sign(torch.bmm(S, W))
            done = (new == S).all(dim=2) | (new == prev).all(dim=2)
            new = torch.where(settled[:, :, None], S, new)     # settled states stay frozen
            prev, S = S, new
            settled |= done
        else:                                                  # few: update just those rows
            b, m = (~settled).nonzero(as_tuple=True)
            cur = S[b, m]                                                  # (A, N)
            new = torch.sign(torch.einsum("an,anm->am", cur, W[b]))
            done = (new == cur).all(dim=1) | (new == prev[b, m]).all(dim=1)
            prev[b, m], S[b, m] = cur, new
            settled[b[done], m[done]] = True
    return S


# --------------------------------------------------------------------------- one task draw
def _draw(n_items: int, dim: int, n_slots: int, local: str, p: float, fraction: float,
          generator: torch.Generator, with_gamma: bool = True) -> tuple[torch.Tensor, ...]:
    """Items X (T, d), cues C (T, d), local factors Γ (T, n), initial K0, V0 (n, d); CPU, float64.

    Items are random ±1; each cue entry is 0 with probability ``fraction`` (bio-kvm's
    Bernoulli mask); sequential (and LRU, which in a write-only stream picks the same slots)
    write item t into slot t mod n; random draws each γ_ti ~ Bernoulli(p). The initial values
    are uniform in ±:data:`TIE_NOISE`, as bio-kvm's reset, so that an empty read-out has random
    signs; the initial keys are exactly 0 (bio-kvm's key noise shifts attention scores by
    ~1e-9, which changes nothing). One uniform draw per task, split in parts. ``with_gamma=False``
    skips building the (deterministic) Γ of the sequential factor; it is then ``None``.
    """
    T, d, n = n_items, dim, n_slots
    n_gamma = T * n if local == "random" else 0
    u = torch.rand(2 * T * d + n_gamma + n * d, generator=generator)
    parts = torch.split(u, [T * d, T * d, n_gamma, n * d])
    X = ((parts[0] >= 0.5).to(torch.float64) * 2 - 1).reshape(T, d)
    C = X * (parts[1].reshape(T, d) >= fraction)
    if local == "random":
        G = (parts[2].reshape(T, n) < p).to(torch.float64)
    elif with_gamma:
        G = torch.zeros(T, n, dtype=torch.float64)
        G[torch.arange(T), torch.arange(T) % n] = 1.0
    else:
        G = None
    K0 = torch.zeros(n, d, dtype=torch.float64)
    V0 = (parts[3].reshape(n, d).to(torch.float64) * 2 - 1) * TIE_NOISE
    return X, C, G, K0, V0


def _last_write(G: torch.Tensor) -> torch.Tensor:
    """``last[r, t, k]``: the latest step ≤ t at which slot k was written (−1: never); (R, T, n)."""
    T = G.shape[1]
    steps = torch.arange(T, device=G.device)[None, :, None]
    return torch.where(G > 0, steps, torch.full_like(steps, -1)).cummax(dim=1).values


def _last_write_sequential(lengths: torch.Tensor, T: int, n: int) -> torch.Tensor:
    """:func:`_last_write` for slots taken in turn (item t in slot t mod n), writes stopping
    after ``lengths[r]`` items: closed form, no scan."""
    t = torch.arange(T, device=lengths.device)[None, :, None]
    t = torch.minimum(t, (lengths - 1)[:, None, None])                    # (R, T, 1)
    k = torch.arange(n, device=lengths.device)[None, None, :]
    last = t - torch.remainder(t - k, n)                                   # (R, T, n)
    return torch.where(last >= 0, last, torch.full_like(last, -1))


def _write_stream(X, G, K0, V0, value_rule: str, beta: float, lr_value: float = 1.0):
    """Write a batch of streams one item at a time (the loop is the point: writes are sequential).

    ``X`` (R, T, d), ``G`` (R, T, n), ``K0``, ``V0`` (R, n, d); one-shot keys (η_K = 1), μ = 1.
    Returns the weights after every write: K, V of shape (T, R, n, d).
    """
    R, T, _ = X.shape
    K, V = K0.clone(), V0.clone()
    K_hist = X.new_empty((T,) + K.shape)
    V_hist = X.new_empty((T,) + V.shape)
    for t in range(T):
        x, g = X[:, t], G[:, t, :, None]                                   # (R, d), (R, n, 1)
        K = (1 - g) * K + g * x[:, None]                                   # Eq 12, η_K = 1
        a = torch.softmax(beta * torch.einsum("rnd,rd->rn", K, x), dim=1)[:, :, None]
        if value_rule == "eq13":
            V = V + lr_value * g * a * (x[:, None] - V)
        else:
            V = (1 - lr_value * g) * V + lr_value * g * a * x[:, None]
        K_hist[t], V_hist[t] = K, V
    return K_hist, V_hist


def _final_state(X, G, K0, V0, value_rule: str, beta: float, lr_value: float = 1.0, last=None):
    """The weights after the whole stream, in closed form (no loop over writes).

    Same inputs and result as the last entry of :func:`_write_stream`. With one-shot keys, slot
    k holds the item of its latest write ``last_k(t)``; the attention at write t is a softmax of
    Gram entries ``x_t · x_{last_k(t)}``; the value is ``Σ_t w_tk x_t + V0 Π_t (1 − a_tk)`` with
    ``w_tk = η γ_tk α_tk Π_{u>t} (1 − a_uk)`` and ``a = ηγ`` (replace) or ``ηγα`` (Eq 13).
    ``last`` (optional): :func:`_last_write` of ``G``, if already known.
    """
    R, T, d = X.shape
    if last is None:
        last = _last_write(G)                                              # (R, T, n)
    n = last.shape[2]
    idx = last[:, -1]                                                      # latest write per slot (R, n)
    written = (idx >= 0)[:, :, None]
    K = torch.where(written, torch.gather(X, 1, idx.clamp(min=0)[:, :, None].expand(-1, -1, d)), K0)
    if value_rule == "replace" and lr_value == 1:
        # Only each slot's latest write survives: V_k = α_k(s_k) x_{s_k}, α at that write.
        lk = torch.gather(last, 1, idx.clamp(min=0)[:, :, None].expand(-1, -1, n))   # [k, j] = last_j(s_k)
        cross = torch.bmm(K, X.transpose(1, 2))                            # [k, t] = x_{s_k} · x_t
        score = torch.gather(cross, 2, lk.clamp(min=0))
        score = torch.where(lk >= 0, score, torch.bmm(K, K0.transpose(1, 2)))
        a_own = torch.softmax(beta * score, dim=2).diagonal(dim1=1, dim2=2)  # (R, n)
        return K, torch.where(written, a_own[:, :, None] * K, V0)
    gram = torch.bmm(X, X.transpose(1, 2))                                 # (R, T, T)
    score = torch.gather(gram, 2, last.clamp(min=0))                       # x_t · x_{last_k(t)}
    score = torch.where(last >= 0, score, torch.einsum("rtd,rnd->rtn", X, K0))
    alpha = torch.softmax(beta * score, dim=2)                             # (R, T, n), after write t
    a = lr_value * G * (alpha if value_rule == "eq13" else 1.0)
    keep = torch.flip(torch.cumprod(torch.flip(1 - a, [1]), dim=1), [1])   # Π_{u ≥ t} (1 − a_uk)
    after = torch.cat([keep[:, 1:], torch.ones_like(keep[:, :1])], dim=1)  # Π_{u > t}
    w = lr_value * G * alpha * after
    V = torch.einsum("rtn,rtd->rnd", w, X) + V0 * keep[:, :1].transpose(1, 2)
    return K, V


def _slot_readout(K, V, C, beta: float):
    """``softmax(β C Kᵀ) V`` for batches: K, V (..., n, d), C (..., M, d) → (..., M, d)."""
    return torch.softmax(beta * C @ K.transpose(-1, -2), dim=-1) @ V


# --------------------------------------------------------------------------- experiments
def _setting(model: str, dim: int, n_slots, value_rule: str, hopfield_diagonal: bool, p_random,
             fraction_zeroed, beta, models: Sequence[str] = LOCAL_FACTORS + ("hopfield",)):
    check.option("model", model, models)
    dim = check.count("dim", dim, minimum=1)
    check.option("value_rule", value_rule, VALUE_RULES)
    check.flag("hopfield_diagonal", hopfield_diagonal)
    n = _resolve_slots(n_slots, dim)
    p = _resolve_p(p_random, n)
    f = check.number("fraction_zeroed", fraction_zeroed, low=0.0, high=1.0, high_open=True)
    return dim, n, p, f, float(check.positive("beta", beta))


def fig2_lengths(max_items: int = 180, n: int = 50) -> list[int]:
    """The item counts of Tyulmankov et al.'s Fig 2b: ``n`` log-spaced values from 1 to
    ``max_items``, truncated to integers, duplicates dropped (bio-kvm's
    ``np.unique(np.logspace(0, np.log10(180), 50, dtype=int))``; its last value is 179, as
    ``10 ** log10(180)`` falls just short of 180 in floating point).

    >>> fig2_lengths(10, 5)
    [1, 3, 5, 10]
    """
    check.count("max_items", max_items, minimum=1)
    check.count("n", n, minimum=1)
    grid = np.logspace(0.0, np.log10(max_items), n).astype(np.int64)   # numpy's rounding, as theirs
    return sorted(set(grid.tolist()))


def accuracy_curve(model: str, dim: int, n_items: int, n_slots: int | str = "N",
                   value_rule: str = "replace", hopfield_diagonal: bool = True,
                   fraction_zeroed: float = P_UNKNOWN, p_random: float | None = None,
                   beta: float = 1.0, seeds: Sequence[int] = tuple(range(10)),
                   lengths: Sequence[int] | None = None, device: str | torch.device = "cpu",
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Mean bit accuracy after storing T random ±1 items, every stored item recalled from its
    cue (each entry zeroed with probability ``fraction_zeroed``), averaged over the stored
    items and the seeds, for T = 1, …, ``n_items`` (or for each T in ``lengths``, each at most
    ``n_items``): a float64 tensor. Tyulmankov et al.'s Fig 2b task.

    ``model``: a local-factor variant of :class:`SlotMemory` (:data:`LOCAL_FACTORS`) or
    ``"hopfield"``. Settings (source first): ``n_slots`` ``"N"`` | ``"half"`` | int;
    ``value_rule`` ``"replace"`` | ``"eq13"``; ``hopfield_diagonal`` True | False;
    ``p_random`` default 4/n_slots. Each seed is one stream; the accuracy at T uses its
    first T items (bio-kvm draws a fresh stream per T: the same distribution, less noise
    between neighbouring T). Draws are made on the CPU, so every device sees the same task;
    ``dtype`` float64 serves the exactness checks (not on MPS). Explained in Chapter 4, §4.1.
    """
    dim, n, p, f, beta = _setting(model, dim, n_slots, value_rule, hopfield_diagonal, p_random,
                                  fraction_zeroed, beta)
    T = check.count("n_items", n_items, minimum=1)
    if lengths is None:
        snaps = list(range(1, T + 1))
    else:
        snaps = check.sequence("lengths", lengths, lambda k, v: check.count(k, v, minimum=1))
        if max(snaps) > T or snaps != sorted(set(snaps)):
            raise ValueError(f"lengths: expected increasing counts in [1, {T}] (n_items), "
                             f"got {snaps!r}")
    seeds = _seeds(seeds)
    dev = _device(device)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    with cpu_threads(1 if dev.type == "cpu" else None):    # many small ops: one thread is fastest
        return _accuracy_curve(model, dim, T, n, p, f, beta, value_rule, hopfield_diagonal, seeds,
                               snaps, dev, dtype)


def _accuracy_curve(model, dim, T, n, p, f, beta, value_rule, hopfield_diagonal, seeds, snaps,
                    dev, dtype) -> torch.Tensor:
    draws = [_draw(T, dim, n, model, p, f, torch.Generator().manual_seed(s)) for s in seeds]
    X, C, G, K0, V0 = (torch.stack(z).to(device=dev, dtype=dtype) for z in zip(*draws))   # (R, T, ·)
    R = len(seeds)
    at = torch.tensor(snaps, device=dev) - 1                               # snapshot indices
    if model == "hopfield":
        hist = torch.einsum("rti,rtj->trij", X, X).cumsum(dim=0)[at]       # W per snapshot (S, R, d, d)
        if not hopfield_diagonal:
            hist.diagonal(dim1=2, dim2=3).zero_()
    else:
        K_hist, V_hist = _write_stream(X, G, K0, V0, value_rule, beta)     # (T, R, n, d)
        K_hist, V_hist = K_hist[at], V_hist[at]
    acc = torch.zeros(len(snaps), dtype=dtype, device=dev)
    start = 0
    while start < len(snaps):                  # snapshots in chunks; each needs the items before its last T
        stop = start + 1
        while stop < len(snaps) and (stop + 1 - start) * R * snaps[stop] * dim <= 4e6:
            stop += 1
        b = snaps[stop - 1]
        mask = (torch.arange(b, device=dev)[None, :] < at[start:stop, None] + 1).to(dtype)   # (m, b)
        cues = C[None, :, :b] * mask[:, None, :, None]                     # unstored items: empty cue
        m = stop - start
        if model == "hopfield":
            out = _hopfield_batch(hist[start:stop].reshape(m * R, dim, dim),
                                  cues.reshape(m * R, b, dim)).reshape(m, R, b, dim)
        else:
            out = _slot_readout(K_hist[start:stop], V_hist[start:stop], cues, beta)
        hits = (torch.sign(out) == X[None, :, :b]).to(dtype).mean(dim=3)      # (m, R, b)
        acc[start:stop] = ((hits * mask[:, None]).sum(dim=2) / mask.sum(dim=1)[:, None]).mean(dim=1)
        start = stop
    return acc.cpu().double()


def fig2_curve(model: str, dim: int = 40, max_items: int = 180, repeats: int | str = "auto",
               device: str | torch.device = "cpu", **setting) -> tuple[list[int], torch.Tensor]:
    """Tyulmankov et al.'s Fig 2b protocol: accuracy at each item count T of
    :func:`fig2_lengths` with ``max(10, max_items // T)`` repeats (bio-kvm's ``repeat='auto'``,
    so that every point averages at least ``max_items`` recalled items), or ``repeats`` at every
    T. Returns ``(lengths, accuracy)``; ``setting``: keyword settings of :func:`accuracy_curve`.
    Explained in Chapter 4, §4.1.
    """
    lengths = fig2_lengths(max_items)
    if repeats == "auto":
        need = {T: max(10, max_items // T) for T in lengths}
    else:
        need = {T: check.count("repeats", repeats, minimum=1) for T in lengths}
    acc = {}
    for reps in sorted(set(need.values())):                   # one batch per number of repeats
        group = [T for T in lengths if need[T] == reps]
        vals = accuracy_curve(model, dim, group[-1], lengths=group, seeds=range(reps), device=device,
                              **setting)
        acc.update(zip(group, vals.tolist()))
    return lengths, torch.tensor([acc[T] for T in lengths], dtype=torch.float64)


def _accuracy_at(model: str, X, C, G, K0, V0, lengths, value_rule: str, hopfield_diagonal: bool,
                 beta: float) -> torch.Tensor:
    """Accuracy of R fresh memories, run r storing its first ``lengths[r]`` items: (R,).

    Inputs padded to the longest run; writes beyond a run's length are switched off.
    """
    R, T, d = X.shape
    live = (torch.arange(T, device=X.device)[None, :] < lengths[:, None]).to(X.dtype)   # (R, T)
    if model == "hopfield":
        Xl = X * live[:, :, None]
        W = torch.bmm(Xl.transpose(1, 2), Xl)
        if not hopfield_diagonal:
            W.diagonal(dim1=1, dim2=2).zero_()
        out = _hopfield_batch(W, C)
    else:
        n = K0.shape[1]
        last = _last_write_sequential(lengths, T, n) if model != "random" else None
        if G is not None:                                      # None: sequential slots, replace rule
            G = G * live[:, :, None]                           # (the closed form needs only ``last``)
        K, V = _final_state(X, G, K0, V0, value_rule, beta, last=last)
        out = _slot_readout(K, V, C, beta)
    hits = (torch.sign(out) == X).to(X.dtype).mean(dim=2)                  # (R, T)
    return (hits * live).sum(dim=1) / live.sum(dim=1)


def capacity_runs(model: str, dim: int, seeds: Sequence[int] = tuple(range(50)),
                  threshold: float = 0.98, n_slots: int | str = "N", value_rule: str = "replace",
                  hopfield_diagonal: bool = True, fraction_zeroed: float = P_UNKNOWN,
                  p_random: float | None = None, beta: float = 1.0, max_items: int | None = None,
                  device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> list[int]:
    """One capacity estimate per seed, by bio-kvm's search (``get_capacity``, ``repeat=1``).

    Start with ``lo, hi = 1, 2``; test a fresh memory storing ``hi`` items; if its accuracy is
    ≥ ``threshold``, ``lo = hi`` and ``hi`` doubles, otherwise ``hi`` moves half-way down to
    ``lo``; stop when they meet and return ``hi``. Every test draws new items, cues and local
    factors, so the estimate is noisy and is averaged over runs (bio-kvm: 50). All runs step
    together, batched. ``max_items`` (default ``max(64, 8·dim)``) bounds the search: a run
    still at or above ``threshold`` beyond it raises ``ValueError``. Settings as in
    :func:`accuracy_curve`. Explained in Chapter 4, §4.1.
    """
    dim, n, p, f, beta = _setting(model, dim, n_slots, value_rule, hopfield_diagonal, p_random,
                                  fraction_zeroed, beta, models=MODELS)
    thr = _rate("threshold", threshold)
    seeds = _seeds(seeds)
    cap_max = max(64, 8 * dim) if max_items is None else check.count("max_items", max_items, minimum=2)
    dev = _device(device)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    with cpu_threads(1 if dev.type == "cpu" else None):    # many small ops: one thread is fastest
        return _capacity_search(model, dim, n, p, f, beta, value_rule, hopfield_diagonal, thr,
                                seeds, cap_max, dev, dtype)


def _capacity_search(model, dim, n, p, f, beta, value_rule, hopfield_diagonal, thr, seeds,
                     cap_max, dev, dtype) -> list[int]:
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    lo, hi = [1] * len(seeds), [2] * len(seeds)
    todo = [r for r in range(len(seeds)) if lo[r] < hi[r]]
    while todo:                                                # each pass is one test per open run
        over = [r for r in todo if hi[r] > cap_max]
        if over:
            r = over[0]
            raise ValueError(
                f"threshold: the accuracy of {model!r} at dim={dim} (n_slots={n}, "
                f"fraction_zeroed={f}) is still >= {thr} with {lo[r]} items (seed {seeds[r]}), and "
                f"the search would exceed max_items={cap_max}; use a higher threshold or a larger "
                f"max_items")
        T = max(hi[r] for r in todo)
        lazy = model != "random" and value_rule == "replace"   # Γ not needed: sequential slots
        draws = [_draw(hi[r], dim, n, model, p, f, gens[r], with_gamma=not lazy) for r in todo]
        pad = [tuple(None if z is None else
                     torch.nn.functional.pad(z, (0, 0, 0, T - z.shape[0])) if k < 3 else z
                     for k, z in enumerate(dr)) for dr in draws]
        X, C, G, K0, V0 = (None if z[0] is None else torch.stack(z).to(device=dev, dtype=dtype)
                           for z in zip(*pad))
        lengths = torch.tensor([hi[r] for r in todo], device=dev)
        acc = _accuracy_at(model, X, C, G, K0, V0, lengths, value_rule, hopfield_diagonal, beta).cpu()
        for r, a in zip(todo, acc.tolist()):
            if a >= thr:
                lo[r], hi[r] = hi[r], 2 * hi[r]
            else:
                hi[r] = (lo[r] + hi[r]) // 2
        todo = [r for r in todo if lo[r] < hi[r]]
    return hi


def capacity_at(curve: torch.Tensor, threshold: float = 0.98) -> int:
    """Largest T before the accuracy curve (indexed T = 1, 2, …) first drops below ``threshold``.

    Explained in Chapter 4, §4.1.
    """
    _rate("threshold", threshold)
    curve = check.tensor("curve", curve, ndim=1)
    below = (curve < threshold).nonzero()
    return int(below[0]) if len(below) else len(curve)


def capacity_vs_size(dims: Sequence[int] = (20, 40, 80, 160), models: Sequence[str] = MODELS,
                     threshold: float = 0.98, seeds: Sequence[int] = tuple(range(50)),
                     n_slots: int | str = "N", value_rule: str = "replace",
                     hopfield_diagonal: bool = True, fraction_zeroed: float = P_UNKNOWN,
                     p_random: float | None = None, max_items: int | None = None,
                     device: str | torch.device = "cpu", progress: bool = False) -> dict[str, list[float]]:
    """Mean capacity at ``threshold`` for every model and size N: ``{model: [mean over runs]}``.

    One run of :func:`capacity_runs` per seed (bio-kvm's Fig 2c: 50 runs, N = 20, 40, 80, 160).
    Explained in Chapter 4, §4.1.
    """
    seeds = _seeds(seeds)
    dims = check.sequence("dims", dims, lambda k, v: check.count(k, v, minimum=1))
    models = check.sequence("models", models, lambda k, v: check.option(k, v, MODELS))
    check.flag("progress", progress)
    out: dict[str, list[float]] = {m: [] for m in models}
    jobs = [(m, d) for m in models for d in dims]
    for m, d in progress_bar(jobs, desc="capacity", enabled=progress):
        runs = capacity_runs(m, d, seeds, threshold, n_slots=n_slots, value_rule=value_rule,
                             hopfield_diagonal=hopfield_diagonal, fraction_zeroed=fraction_zeroed,
                             p_random=p_random, max_items=max_items, device=device)
        out[m].append(sum(runs) / len(runs))
    return out


def rehearsal_experiment(n_slots: int = 20, n_items: int = 60, n_rehearsed: int = 5, every: int = 5,
                         fraction_zeroed: float = P_UNKNOWN, value_rule: str = "replace",
                         seeds: Sequence[int] = (0, 1, 2, 3, 4),
                         device: str | torch.device = "cpu") -> dict[str, float]:
    """Why "least recently used" is not "sequential" (the book's experiment, not the source's):
    the first ``n_rehearsed`` items are read back (a use) after every ``every`` writes;
    afterwards, mean bit accuracy on those items. Items have dimension ``2 · n_slots``.

    Returns ``{variant: accuracy}`` for sequential and LRU. Explained in Chapter 4, §4.1.
    """
    for name, v in (("n_slots", n_slots), ("n_items", n_items), ("n_rehearsed", n_rehearsed),
                    ("every", every)):
        check.count(name, v, minimum=1)
    if n_rehearsed >= n_items:
        raise ValueError(f"n_rehearsed: expected fewer than n_items ({n_items}), got {n_rehearsed}")
    seeds = _seeds(seeds)
    with cpu_threads(1 if _device(device).type == "cpu" else None):
        return _rehearsal(n_slots, n_items, n_rehearsed, every, fraction_zeroed, value_rule, seeds, device)


def _rehearsal(n_slots, n_items, n_rehearsed, every, fraction_zeroed, value_rule, seeds, device):
    out = {}
    for local in ("sequential", "lru"):
        acc = 0.0
        for seed in seeds:
            g = torch.Generator().manual_seed(seed)
            X = random_items(n_items, 2 * n_slots, g, device)
            C = partial_cue(X, fraction_zeroed, g)
            mem = SlotMemory(n_slots, X.shape[1], local=local, value_rule=value_rule, generator=g,
                             device=device)
            for t in range(n_items):                           # a stream of writes with occasional reads
                mem.write(X[t])
                if t >= n_rehearsed and t % every == 0:
                    mem.recall(C[:n_rehearsed], touch=True)
            acc += float(bit_accuracy(mem.recall(C[:n_rehearsed]), X[:n_rehearsed]).mean())
        out[local] = acc / len(seeds)
    return out
