"""Key-value memory written by three-factor plasticity (Eqs 12–13 of the review), as
Tyulmankov, Fang, Vadaparty & Yang (NeurIPS 2021) built it.

Explained in Chapter 4, §4.1 (``book/04_substrates.ipynb``); their benchmark (accuracy against
stored items, capacity) is :mod:`kvlib.slot_capacity`.

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
``α = softmax(β K x)`` is the hidden activity *after* the key write, as in bio-kvm. Recall is
the one read of Chapter 1, ``v̂ = softmax(β q Kᵀ) V`` (:func:`kvlib.kernels.retrieve`).

:class:`SlotMemory` writes one memory item by item; :func:`write_streams` applies the same
rules to R memories at once, and :func:`final_weights` gives their end state in closed form
(no loop over writes), which is what makes the capacity searches of
:mod:`kvlib.slot_capacity` fast.

Conventions: row vectors; ``K`` is (n_slots, d_key) as in Eq 12; ``V`` is stored as
(n_slots, d_value), the transpose of Eq 13's ``V_mi``. Axis names
(``book/appendix/notation.md``): T stored items, R independent memories, n slots, d dims.
"""
from __future__ import annotations

import copy

import torch

from kvlib import _checks as check
from kvlib import kernels
from kvlib.hopfield import random_patterns

__all__ = [
    "LOCAL_FACTORS", "VALUE_RULES", "P_UNKNOWN", "TIE_NOISE", "random_rate", "SlotMemory",
    "partial_cue", "bit_accuracy", "write_changes", "last_writes", "write_streams", "final_weights",
    "read_slots",
]

#: The local-factor variants of :class:`SlotMemory` (Chapter 4, §4.1).
LOCAL_FACTORS = ("sequential", "lru", "random")
#: The value rules: bio-kvm's replacement ("active decay") and the review's Eq 13.
VALUE_RULES = ("replace", "eq13")
#: Probability that a cue entry is unknown (set to 0): bio-kvm's ``chance = 0.7`` → 2 (1 − 0.7).
P_UNKNOWN = 0.6
#: Half-width of the uniform initial weights of a fresh slot memory (bio-kvm's ``EPSILON``).
TIE_NOISE = 1e-10
#: Rate of the random local factor, times the number of slots (bio-kvm's ``ref_rand``: 4/N).
_RANDOM_RATE = 4.0
_DTYPES = (torch.float32, torch.float64)


def _rate(name: str, value: float) -> float:
    """A rate in (0, 1]."""
    return check.number(name, value, low=0.0, low_open=True, high=1.0)


def _dtype(dtype) -> torch.dtype:
    if dtype not in _DTYPES:
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    return dtype


def random_rate(n_slots: int, p_random: float | None = None) -> float:
    """The probability that a slot is plastic at a write under the random local factor:
    ``p_random`` (in (0, 1]), or bio-kvm's ``4 / n_slots`` (at most 1) when it is ``None``.

    >>> random_rate(40)
    0.1
    """
    n = check.count("n_slots", n_slots, minimum=1)
    return min(1.0, _RANDOM_RATE / n) if p_random is None else _rate("p_random", p_random)


# --------------------------------------------------------------------------- one memory
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
        self.p_random = random_rate(self.n_slots, p_random)
        self.beta = float(check.positive("beta", beta))
        self.lr_key = _rate("lr_key", lr_key)
        self.lr_value = _rate("lr_value", lr_value)
        self.value_rule = check.option("value_rule", value_rule, VALUE_RULES)
        self.tie_noise = check.number("tie_noise", tie_noise, low=0.0, high=1.0)
        self.generator = check.generator("generator", generator)
        if device is None:
            raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
        self.device = check.device("device", device)
        dtype = _dtype(dtype)
        shape_k, shape_v = (self.n_slots, self.d_key), (self.n_slots, self.d_value)
        if self.tie_noise > 0:                                  # drawn on the CPU, then moved
            self.keys = ((torch.rand(shape_k, generator=generator, dtype=torch.float64) * 2 - 1)
                         * self.tie_noise).to(device=self.device, dtype=dtype)
            self.values = ((torch.rand(shape_v, generator=generator, dtype=torch.float64) * 2 - 1)
                           * self.tie_noise).to(device=self.device, dtype=dtype)
        else:
            self.keys = torch.zeros(shape_k, device=self.device, dtype=dtype)     # K, (n_slots, d_key)
            self.values = torch.zeros(shape_v, device=self.device, dtype=dtype)   # Vᵀ, (n_slots, d_value)
        self.last_used = torch.full((self.n_slots,), -1, dtype=torch.long)        # for "lru"
        self.pointer = 0                                                          # for "sequential"
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

    def _vector(self, name: str, x: torch.Tensor, d: int) -> torch.Tensor:
        x = check.tensor(name, x, shape=(d,))
        return x.to(device=self.device, dtype=self.keys.dtype)

    def write(self, x: torch.Tensor, v: torch.Tensor | None = None, mu: float = 1,
              gamma: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Store one item: Eq 12 on the keys, then the value rule; returns ``(γ, α)``.

        ``x`` (d_key,) key input; ``v`` (d_value,) target value (default ``x``); ``mu`` the global
        factor (0 → nothing changes); ``gamma`` overrides the local factor. ``α`` is the hidden
        activity ``softmax(β K x)`` after the key write, the postsynaptic term of the value rule.
        """
        x = self._vector("x", x, self.d_key)
        if v is None:
            if self.d_value != self.d_key:
                raise ValueError(f"v: required when d_value ({self.d_value}) != d_key ({self.d_key})")
            v = x
        v = self._vector("v", v, self.d_value)
        mu = check.number("mu", mu)
        if mu not in (0.0, 1.0):
            raise ValueError(f"mu: expected 0 or 1 (a binary third factor), got {mu!r}")
        if gamma is None:
            gamma = self.local_factor()
        else:
            gamma = check.tensor("gamma", gamma, shape=(self.n_slots,))
            if not bool(((gamma == 0) | (gamma == 1)).all()):
                raise ValueError(f"gamma: expected entries 0 or 1 (a binary third factor), got values "
                                 f"{gamma.unique()[:5].tolist()}")
            gamma = gamma.to(device=self.device, dtype=self.keys.dtype)
        if mu == 0:                                            # global factor off: no plasticity at all
            return gamma, self.attention(x[None])[0]
        rate_k = (self.lr_key * gamma)[:, None]
        self.keys = (1 - rate_k) * self.keys + rate_k * x                     # Eq 12
        alpha = kernels.separate(self.keys @ x, "softmax", beta=self.beta)   # (n_slots,), after the write
        if self.value_rule == "eq13":
            self.values = self.values + (self.lr_value * gamma * alpha)[:, None] * (v - self.values)
        else:                                                  # bio-kvm: decay 1 − ηγ, Hebbian term ηγαv
            rate_v = (self.lr_value * gamma)[:, None]
            self.values = (1 - rate_v) * self.values + rate_v * alpha[:, None] * v
        self.last_used[(gamma > 0).cpu()] = self.clock
        if self.local == "sequential":
            self.pointer = (self.pointer + 1) % self.n_slots
        self.clock += 1
        return gamma, alpha

    def _queries(self, q: torch.Tensor) -> torch.Tensor:
        q = check.tensor("q", q, shape=(None, self.d_key))
        return q.to(device=self.device, dtype=self.keys.dtype)

    def attention(self, q: torch.Tensor) -> torch.Tensor:
        """``α = softmax(β q Kᵀ)``: queries (B, d_key) → attention over slots (B, n_slots)."""
        return kernels.separate(kernels.dot(self._queries(q), self.keys), "softmax", beta=self.beta)

    def recall(self, q: torch.Tensor, touch: bool = False) -> torch.Tensor:
        """``v̂ = α V`` (:func:`kvlib.kernels.retrieve`): queries (B, d_key) → read-outs (B, d_value).

        With ``touch=True`` a read counts as a use: slots given most of a query's attention
        (α > 1/2) become recently used, which is what sets LRU apart from sequential.
        """
        q = self._queries(q)
        check.flag("touch", touch)
        out, alpha = kernels.retrieve(q, self.keys, self.values, "dot", "softmax", beta=self.beta,
                                      return_weights=True)
        if touch:
            used = (alpha > 0.5).any(dim=0).cpu()
            self.last_used[used] = self.clock
            self.clock += 1
        return out


def write_changes(n_slots: int = 6, dim: int = 12, n_filled: int = 4, seed: int = 0,
                  device: str | torch.device = "cpu") -> dict:
    """What one write changes, with the global factor on and off (Chapter 4, §4.1's first figure).

    A sequential memory of ``n_slots`` slots holds ``n_filled`` random ±1 items; the same next
    item is written once with μ = 1 and once with μ = 0. Returns ``{mu: {"keys", "values"
    (|change| per synapse), "gamma" (the local factor)}}`` for μ = 1, 0, and ``"slots_changed"``
    (slots whose weights moved with μ = 1), ``"slot"`` (the one written), ``"mu0_change"`` (total
    change with μ = 0).
    """
    n_slots, dim = check.count("n_slots", n_slots, minimum=1), check.count("dim", dim, minimum=1)
    g = torch.Generator().manual_seed(check.seed("seed", seed))
    n_filled = check.count("n_filled", n_filled, minimum=0)
    dev = check.device("device", device)
    mem = SlotMemory(n_slots, dim, local="sequential", device=dev)
    if n_filled > mem.n_slots:
        raise ValueError(f"n_filled: expected at most n_slots = {mem.n_slots} items, got {n_filled}")
    for x in random_patterns(n_filled, dim, g, dev) if n_filled else ():
        mem.write(x)
    item = random_patterns(1, dim, g, dev)[0]
    out = {}
    for mu in (1, 0):                                          # the same write, global factor on and off
        probe = copy.deepcopy(mem)
        gamma, _ = probe.write(item, mu=mu)
        out[mu] = {"keys": (probe.keys - mem.keys).abs().cpu(),
                   "values": (probe.values - mem.values).abs().cpu(), "gamma": gamma.cpu()}
    moved = (out[1]["keys"] > 0).any(dim=1) | (out[1]["values"] > 0).any(dim=1)
    out["slots_changed"] = int(moved.sum())
    out["slot"] = int(out[1]["gamma"].argmax())
    out["mu0_change"] = float(out[0]["keys"].sum() + out[0]["values"].sum())
    return out


# --------------------------------------------------------------------------- cues and scores
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
        raise ValueError(f"recalled: expected the target's shape {tuple(target.shape)}, got "
                         f"{tuple(recalled.shape)}")
    if recalled.device != target.device:
        raise ValueError(f"recalled: expected device {target.device} (the target's), got {recalled.device}")
    return (torch.sign(recalled) == target).to(target.dtype).mean(dim=1)


# --------------------------------------------------------------------------- many memories at once
def _streams(X, G, K0, V0):
    X = check.tensor("X", X, ndim=3, nonempty=True)
    R, T, d = X.shape
    K0 = check.tensor("K0", K0, ndim=3, like=X, like_name="X")
    n = K0.shape[1]
    if K0.shape != (R, n, d):
        raise ValueError(f"K0: expected shape ({R}, n, {d}) (X is {tuple(X.shape)}), got {tuple(K0.shape)}")
    V0 = check.tensor("V0", V0, shape=(R, n, d), like=X, like_name="X")
    if G is not None:
        G = check.tensor("G", G, shape=(R, T, n), like=X, like_name="X")
        if not bool(((G == 0) | (G == 1)).all()):
            raise ValueError("G: expected local factors 0 or 1")
    return X, G, K0, V0


def _rule(value_rule, beta, lr_value):
    return (check.option("value_rule", value_rule, VALUE_RULES), float(check.positive("beta", beta)),
            _rate("lr_value", lr_value))


def last_writes(G: torch.Tensor) -> torch.Tensor:
    """``last[r, t, k]``: the latest step ≤ t at which slot k of memory r was written (−1: never).

    ``G`` (R, T, n) local factors (0/1) → (R, T, n), integer.

    >>> last_writes(torch.tensor([[[1., 0.], [0., 1.], [0., 0.]]]))[0].tolist()
    [[0, -1], [0, 1], [0, 1]]
    """
    G = check.tensor("G", G, ndim=3)
    T = G.shape[1]
    steps = torch.arange(T, device=G.device)[None, :, None]
    return torch.where(G > 0, steps, torch.full_like(steps, -1)).cummax(dim=1).values


def write_streams(X: torch.Tensor, G: torch.Tensor, K0: torch.Tensor, V0: torch.Tensor,
                  value_rule: str = "replace", beta: float = 1.0,
                  lr_value: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """R memories written item by item, all at once: :meth:`SlotMemory.write` batched.

    ``X`` (R, T, d) items (keys = values), ``G`` (R, T, n) local factors, ``K0``, ``V0``
    (R, n, d) initial weights; one-shot keys (η_K = 1), μ = 1. Returns the weights after every
    write, K and V of shape (T, R, n, d). The loop over writes is the point: they are sequential.
    """
    X, G, K0, V0 = _streams(X, G, K0, V0)
    if G is None:
        raise TypeError("G: expected a tensor of local factors, got None")
    value_rule, beta, lr_value = _rule(value_rule, beta, lr_value)
    R, T, _ = X.shape
    K, V = K0.clone(), V0.clone()
    K_hist = X.new_empty((T,) + K.shape)
    V_hist = X.new_empty((T,) + V.shape)
    for t in range(T):
        x, g = X[:, t], G[:, t, :, None]                                   # (R, d), (R, n, 1)
        K = (1 - g) * K + g * x[:, None]                                   # Eq 12, η_K = 1
        a = kernels.separate(torch.einsum("rnd,rd->rn", K, x), "softmax", beta=beta)[:, :, None]
        if value_rule == "eq13":
            V = V + lr_value * g * a * (x[:, None] - V)
        else:
            V = (1 - lr_value * g) * V + lr_value * g * a * x[:, None]
        K_hist[t], V_hist[t] = K, V
    return K_hist, V_hist


def final_weights(X: torch.Tensor, G: torch.Tensor | None, K0: torch.Tensor, V0: torch.Tensor,
                  value_rule: str = "replace", beta: float = 1.0, lr_value: float = 1.0,
                  last: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights after the whole stream, in closed form (no loop over writes).

    Same inputs and result as the last entry of :func:`write_streams`. With one-shot keys, slot
    k holds the item of its latest write ``last_k(t)``; the attention at write t is a softmax of
    Gram entries ``x_t · x_{last_k(t)}``; the value is ``Σ_t w_tk x_t + V0 Π_t (1 − a_tk)`` with
    ``w_tk = η γ_tk α_tk Π_{u>t} (1 − a_uk)`` and ``a = ηγ`` (replace) or ``ηγα`` (Eq 13).
    ``last``: :func:`last_writes` of ``G``, if already known; with the replacement rule and
    η_V = 1 only ``last`` is needed, and ``G`` may be ``None``.
    """
    X, G, K0, V0 = _streams(X, G, K0, V0)
    value_rule, beta, lr_value = _rule(value_rule, beta, lr_value)
    R, T, d = X.shape
    if last is None:
        if G is None:
            raise TypeError("G: expected local factors (or pass last=), got None")
        last = last_writes(G)                                              # (R, T, n)
    else:
        last = check.tensor("last", last, shape=(R, T, K0.shape[1]), dtype="int")
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
        a_own = kernels.separate(score, "softmax", beta=beta).diagonal(dim1=1, dim2=2)  # (R, n)
        return K, torch.where(written, a_own[:, :, None] * K, V0)
    if G is None:
        raise TypeError(f"G: expected local factors for value_rule={value_rule!r} with lr_value="
                        f"{lr_value}, got None")
    gram = torch.bmm(X, X.transpose(1, 2))                                 # (R, T, T)
    score = torch.gather(gram, 2, last.clamp(min=0))                       # x_t · x_{last_k(t)}
    score = torch.where(last >= 0, score, torch.einsum("rtd,rnd->rtn", X, K0))
    alpha = kernels.separate(score, "softmax", beta=beta)                  # (R, T, n), after write t
    a = lr_value * G * (alpha if value_rule == "eq13" else 1.0)
    keep = torch.flip(torch.cumprod(torch.flip(1 - a, [1]), dim=1), [1])   # Π_{u ≥ t} (1 − a_uk)
    after = torch.cat([keep[:, 1:], torch.ones_like(keep[:, :1])], dim=1)  # Π_{u > t}
    w = lr_value * G * alpha * after
    V = torch.einsum("rtn,rtd->rnd", w, X) + V0 * keep[:, :1].transpose(1, 2)
    return K, V


def read_slots(keys: torch.Tensor, values: torch.Tensor, cues: torch.Tensor,
               beta: float = 1.0) -> torch.Tensor:
    """``softmax(β C Kᵀ) V`` for many memories at once (:func:`kvlib.kernels.retrieve`):
    keys, values (..., n, d), cues (..., M, d) → (..., M, d)."""
    beta = float(check.positive("beta", beta))
    keys = check.tensor("keys", keys, ndim=range(2, 9), finite=False)      # retrieve checks keys and
    values = check.tensor("values", values, like=keys, like_name="keys", finite=False)   # values
    if values.shape[:-1] != keys.shape[:-1]:
        raise ValueError(f"values: expected the keys' shape up to the last axis, {tuple(keys.shape[:-1])}, "
                         f"got {tuple(values.shape)}")
    cues = check.tensor("cues", cues, ndim=range(2, 9), like=keys, like_name="keys")
    try:
        torch.broadcast_shapes(cues.shape[:-2], keys.shape[:-2])
        ok = cues.shape[-1] == keys.shape[-1]
    except RuntimeError:
        ok = False
    if not ok or cues.shape[-2] == 0:
        raise ValueError(f"cues: expected shape (..., M, {keys.shape[-1]}) with leading axes that broadcast "
                         f"with the keys' {tuple(keys.shape[:-2])}, got {tuple(cues.shape)}")
    return kernels.retrieve(cues, keys, values, "dot", "softmax", beta=beta)
