"""Keys and values learn different geometries: the toy simulation of paper §5.1 (Figure 2).

Every memory is a trainable pair of 2-D vectors (k_n, v_n); there is no map from
inputs to keys. Each key in turn is used as a query, compared with every key by the
scaled dot product (Eq 5), the scores go through a softmax over the memories (Eq 6),
and the read-out is the attention-weighted mean of sigmoid(values) (Eq 2). The loss is
the mean squared error to the class feature of the query's pair; Adam at 3e-4 moves
keys and values together.

**What the published notebooks compute** (``2classes_…`` and ``3classes_…`` in
``kazuki-irie/kv-memory-brain``), and what every default here follows:

* draws: ``torch.manual_seed(42)``; keys ``randn(N, 2).uniform_(0, 1)`` (the normal
  draw is consumed, then overwritten), values ``rand(N, 2)``, classes ``randint``;
  class features (1, 0), (0, 1) and (1, 1) (the text swaps the first two);
* scores ``X.detach() @ X.T / sqrt(2)``, softmax over the *first* axis, read-out
  ``attn.T @ sigmoid(V)``: column j of ``attn`` holds query j's weights over the
  memories i. The detached factor is the key **in its role as a stored memory**; a key
  learns only through its role as a query (``detach="memory"``);
* ``loss.backward(); optimizer.step()`` with no ``zero_grad``: the gradients of all
  steps so far **accumulate**, and Adam sees their running sum (``zero_grad=False``).
  Run so, the notebooks end at a loss of 0.0227 (two classes) and 0.0009 (three).

The text's reading, "gradient descent" with Adam, zeroes the gradients every step:
``zero_grad=True``. The other variants are one argument away as well: ``detach="query"``
(the stored role trained, the query role not) or ``"none"`` (both roles trained),
``scale`` (the score's factor), ``balanced=True`` (the methods' exactly 100 pairs per
class). Chapter 6 runs them side by side.

Two ways to run the same optimisation: ``method="fast"`` (the default) computes the
gradient in closed form and applies Adam's update itself, with several settings stacked
on a leading axis and run in one loop (:func:`train_toys`); ``method="autograd"`` is the
plain loop, one setting at a time, with autograd and ``torch.optim.Adam``, as the
notebook does. Both give the same trajectory up to float32 noise
(``tests/test_toy.py``; :func:`benchmark_toy` times them side by side).

Explained in Chapter 6, §"Keys for finding, values for storing".
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import torch

from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar

__all__ = ["CLASS_FEATURES", "PAPER_SIZES", "DETACH", "METHODS", "ToySetting", "ToyRun",
           "init_pairs", "toy_readout", "train_toy", "train_toys", "benchmark_toy"]

#: Class feature vectors: the published notebooks' order (the text swaps classes 0 and 1).
CLASS_FEATURES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])

#: Paper settings per number of classes: (pairs, Adam steps).
PAPER_SIZES = {2: (200, 5000), 3: (300, 10000)}

#: Which role of a key is cut from the gradient: "memory" (the notebooks), "query", "none".
DETACH = ("memory", "query", "none")

#: How the optimisation is computed: closed-form gradient and batched Adam, or plain autograd.
METHODS = ("fast", "autograd")

# Adam's defaults, as torch.optim.Adam uses them in the notebooks.
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8

# CPU threads for the loops here: one. A step is a few dozen operations on a few thousand
# numbers, and a second thread costs more to wake than it saves. Measured on 2 shared cores,
# 1,000 two-class steps took 0.22 s (closed form) and 0.72 s (autograd) with one thread,
# 0.30 s and 0.99 s with two at a load of ~3, and 1.8 s against 16 s at a load of ~10. Six
# settings batched gain from a second thread on a quiet machine (1.1 s against 0.6 s) but
# lose badly under load (4 s against 15 s), so one it is. GPU work is unaffected.
_THREADS = 1


@dataclass(frozen=True)
class ToySetting:
    """One variant of the optimisation; every default is the published notebooks'.

    ``detach``: which role of a key gets no gradient (:data:`DETACH`); ``zero_grad``:
    zero the gradients before each step (the text's reading) instead of letting them
    accumulate (the notebooks); ``scale``: factor of the dot product, ``None`` for
    ``1/sqrt(d)`` (Eq 5); ``lr``: Adam's learning rate; ``seed`` and ``balanced``: the
    initial draws (:func:`init_pairs`).
    """

    detach: str = "memory"
    zero_grad: bool = False
    scale: float | None = None
    lr: float = 3e-4
    seed: int = 42
    balanced: bool = False

    def __post_init__(self) -> None:
        if self.detach not in DETACH:
            raise ValueError(f"detach: expected one of {', '.join(map(repr, DETACH))}, "
                             f"got {self.detach!r}")
        if not isinstance(self.zero_grad, bool):
            raise TypeError(f"zero_grad: expected True or False, got {self.zero_grad!r}")
        if self.scale is not None and (isinstance(self.scale, bool)
                                       or not isinstance(self.scale, (int, float))
                                       or not math.isfinite(self.scale) or self.scale <= 0):
            raise ValueError(f"scale: expected a positive number or None, got {self.scale!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ValueError(f"lr: expected a positive number, got {self.lr!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed: expected a non-negative int, got {self.seed!r}")
        if not isinstance(self.balanced, bool):
            raise TypeError(f"balanced: expected True or False, got {self.balanced!r}")

    def resolved_scale(self, d: int = 2) -> float:
        return 1.0 / math.sqrt(d) if self.scale is None else float(self.scale)


@dataclass
class ToyRun:
    """Trajectories of one optimisation: ``keys[t]``/``values[t]`` are ``(N, 2)`` snapshots.

    ``values`` are after the sigmoid (what the memory actually reads out);
    ``steps[t]`` is the Adam step of snapshot t (0: the initial draw); ``loss[s]`` is the
    loss computed at step s + 1, before that step's update (the notebooks' ``loss_val``).
    """

    keys: torch.Tensor      # (S, N, 2)
    values: torch.Tensor    # (S, N, 2), sigmoid applied
    steps: torch.Tensor     # (S,)
    loss: torch.Tensor      # (T,)
    classes: torch.Tensor   # (N,)
    n_classes: int
    setting: ToySetting = ToySetting()

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])


def init_pairs(n_pairs: int, n_classes: int, seed: int = 42, balanced: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Initial keys ``(N, 2)``, raw values ``(N, 2)`` and classes ``(N,)``.

    With ``balanced=False`` the draws are the published notebooks', in their order, from
    a generator seeded as ``torch.manual_seed(seed)`` seeds the global one: a normal draw
    of the keys' shape that ``uniform_(0, 1)`` then overwrites, the keys, the values
    (``rand``), then the classes (``randint``). ``balanced=True`` instead gives exactly
    ``n_pairs / n_classes`` pairs per class in random order, as the methods describe.
    """
    if isinstance(n_classes, bool) or n_classes not in (2, 3):
        raise ValueError(f"n_classes: expected 2 or 3, got {n_classes!r}")
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < n_classes:
        raise ValueError(f"n_pairs: expected an int >= n_classes ({n_classes}), got {n_pairs!r}")
    g = torch.Generator().manual_seed(seed)
    torch.randn(n_pairs, 2, generator=g)                  # consumed, as in the notebook
    keys = torch.empty(n_pairs, 2).uniform_(0, 1, generator=g)
    values = torch.rand(n_pairs, 2, generator=g)
    if balanced:
        classes = torch.arange(n_pairs) % n_classes
        classes = classes[torch.randperm(n_pairs, generator=g)]
    else:
        classes = torch.randint(0, n_classes, (n_pairs,), generator=g)
    return keys, values, classes


def toy_readout(keys: torch.Tensor, values: torch.Tensor, queries: torch.Tensor | None = None,
                scale: float | None = None, detach: str = "memory") -> torch.Tensor:
    """Eq 2 with Eqs 5-6, written as the notebook writes it; returns ``(B, 2)``.

    ``attn = softmax(scale * K Q^T, dim=0)`` (rows: memories i, columns: queries j; the
    softmax runs over the memories) and the read-out is ``attn.T @ sigmoid(V)``.
    ``queries`` default to the keys themselves. ``detach`` cuts the gradient of one role
    of the keys: ``"memory"`` the stored keys ``K`` (the notebook's ``X.detach() @ X.T``),
    ``"query"`` the queries, ``"none"`` neither. ``scale`` defaults to ``1/sqrt(d)`` (Eq 5).
    """
    if keys.ndim != 2 or values.shape != keys.shape:
        raise ValueError(f"keys, values: expected two (N, d) tensors of one shape, got "
                         f"{tuple(keys.shape)} and {tuple(values.shape)}")
    if detach not in DETACH:
        raise ValueError(f"detach: expected one of {', '.join(map(repr, DETACH))}, got {detach!r}")
    q = keys if queries is None else queries
    mem = keys.detach() if detach == "memory" else keys
    q = q.detach() if detach == "query" else q
    s = 1.0 / math.sqrt(keys.shape[1]) if scale is None else scale
    attn = torch.softmax(mem @ q.T * s, dim=0)            # (N, B): column j is query j's weights
    return attn.T @ torch.sigmoid(values)                 # (B, d)


def _as_setting(s: ToySetting | Mapping, where: str) -> ToySetting:
    if isinstance(s, ToySetting):
        return s
    if isinstance(s, Mapping):
        names = {f.name for f in fields(ToySetting)}
        bad = [k for k in s if k not in names]
        if bad:
            raise ValueError(f"{where}: unknown setting {', '.join(map(repr, bad))}; valid "
                             f"settings are {', '.join(sorted(names))}")
        return ToySetting(**s)
    raise TypeError(f"{where}: expected a ToySetting or a dict of its fields, got {s!r}")


def _sizes(n_classes, n_pairs, steps) -> tuple[int, int]:
    if isinstance(n_classes, bool) or n_classes not in PAPER_SIZES:
        raise ValueError(f"n_classes: expected 2 or 3, got {n_classes!r}")
    n_pairs = PAPER_SIZES[n_classes][0] if n_pairs is None else n_pairs
    steps = PAPER_SIZES[n_classes][1] if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps: expected a positive int, got {steps!r}")
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < n_classes:
        raise ValueError(f"n_pairs: expected an int >= n_classes ({n_classes}), got {n_pairs!r}")
    return n_pairs, steps


def train_toy(n_classes: int = 2, n_pairs: int | None = None, steps: int | None = None, *,
              detach: str = "memory", zero_grad: bool = False, scale: float | None = None,
              lr: float = 3e-4, seed: int = 42, balanced: bool = False, method: str = "fast",
              snapshots: int = 100, dtype: torch.dtype = torch.float32,
              device: str | torch.device = "cpu", progress: bool = False) -> ToyRun:
    """Optimise keys and values jointly with Adam (paper §5.1); return the trajectories.

    Defaults are the published notebooks' (module docstring): 200 pairs and 5,000 steps
    for two classes, 300 and 10,000 for three, Adam at 3e-4, the stored role of the keys
    detached, gradients accumulated. ``zero_grad=True`` is the text's reading; see
    :class:`ToySetting` for the other arguments. ``method`` picks the computation
    (:data:`METHODS`); both give the same run up to float noise. To run several settings
    at the cost of about one, use :func:`train_toys`.
    """
    setting = ToySetting(detach=detach, zero_grad=zero_grad, scale=scale, lr=lr, seed=seed,
                         balanced=balanced)
    return train_toys(n_classes, [setting], n_pairs, steps, method=method, snapshots=snapshots,
                      dtype=dtype, device=device, progress=progress)[0]


def train_toys(n_classes: int, settings: Sequence[ToySetting | Mapping],
               n_pairs: int | None = None, steps: int | None = None, *, method: str = "fast",
               snapshots: int = 100, dtype: torch.dtype = torch.float32,
               device: str | torch.device = "cpu", progress: bool = False) -> list[ToyRun]:
    """Run one optimisation per setting (all of one size); return one :class:`ToyRun` each.

    With ``method="fast"`` the settings are independent problems stacked on a leading
    axis and optimised in one loop (closed-form gradient, Adam's update written out), so
    a handful of them costs about as much as one. ``settings`` are :class:`ToySetting`\\ s
    or dicts of their fields, e.g. ``[{}, {"zero_grad": True}]`` (published, text).
    ``dtype``: float32 as in the notebooks; float64 to check the closed form (not on MPS).
    """
    n_pairs, steps = _sizes(n_classes, n_pairs, steps)
    if isinstance(settings, (ToySetting, Mapping)) or not isinstance(settings, Sequence) \
            or len(settings) == 0:
        raise ValueError(f"settings: expected a non-empty list of ToySetting or dicts, got {settings!r}")
    settings = [_as_setting(s, f"settings[{i}]") for i, s in enumerate(settings)]
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(map(repr, METHODS))}, got {method!r}")
    if isinstance(snapshots, bool) or not isinstance(snapshots, int) or snapshots < 1:
        raise ValueError(f"snapshots: expected a positive int, got {snapshots!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    from kvlib.device import get_device
    device = get_device(device)
    if device.type == "mps" and dtype == torch.float64:
        raise ValueError("dtype: Apple MPS has no float64; use torch.float32 or device='cpu'")
    inits = [init_pairs(n_pairs, n_classes, s.seed, s.balanced) for s in settings]
    every = max(1, steps // snapshots)
    snap_steps = [0] + [t for t in range(1, steps + 1) if t % every == 0 or t == steps]
    with cpu_threads(_THREADS if device.type == "cpu" else None):
        fast = _fast_loop(settings, inits, n_classes, steps, snap_steps, dtype, device, progress) \
            if method == "fast" else None
        if fast is not None:
            loss, snaps = fast
        else:
            outs = [_autograd_loop(s, init, n_classes, steps, snap_steps, dtype, device, progress)
                    for s, init in zip(settings, inits)]
            loss = torch.stack([o[0] for o in outs], 1)                    # (T, B)
            snaps = torch.stack([o[1] for o in outs], 1)                   # (S, B, 2, N, 2)
    runs = []
    for b, (s, (_, _, classes)) in enumerate(zip(settings, inits)):
        runs.append(ToyRun(keys=snaps[:, b, 0].contiguous(), values=torch.sigmoid(snaps[:, b, 1]),
                           steps=torch.tensor(snap_steps), loss=loss[:, b].clone(),
                           classes=classes, n_classes=n_classes, setting=s))
    return runs


def _fast_loop(settings, inits, n_classes, steps, snap_steps, dtype, device, progress):
    """All settings at once, in closed form; returns losses ``(T, B)`` and snapshots, or
    ``None`` if a score overflowed float32's exp (then the caller runs the autograd loop).

    Notation (one setting; rows of P are queries j, columns memories i): scores
    Z_ji = s q_j . k_i with q = k = x, P = softmax over i, sigma = sigmoid(V),
    O = P sigma, R = O - target, r_j = R_j . O_j, c = 2 / (N d) (the MSE's factor).
    The softmax's backward pass gives dL/dZ_ji = c P_ji (R_j . sigma_i - r_j), hence
      dL/dV       = c (P^T R) * sigma (1 - sigma),
      query role  (kept unless detach="query"):  c (sum_e R_je (P (sigma_e s X))_j - r_j (P s X)_j),
      stored role (kept unless detach="memory"): c (sum_e sigma_ie (P^T (R_e s X))_i - (P^T (r s X))_i).
    So a step needs the N x N weights once and two products of them with a few columns.
    Small tensors are stored as ``(B, 2, N)`` (columns of the notebook's ``(N, 2)``), so
    both products have the fast orientation. ``F[b, i, j] = exp(Z_ji)`` holds the weights
    before normalisation; no shift is needed, since query j's normaliser is at least
    exp(Z_jj) = exp(s |x_j|^2) >= 1, and the one failure, a score above ~88 overflowing
    exp (keys of norm > 11 at s = 1/sqrt 2; the notebooks' reach 6), shows as a NaN loss.
    Adam's update follows torch.optim.Adam's single-tensor code operation for operation;
    with accumulated gradients it is fed the running sum of every gradient so far, as
    the notebook's ``.grad`` is.
    """
    B = len(settings)
    N = inits[0][0].shape[0]
    W = torch.stack([torch.stack([k.T, v.T]) for k, v, _ in inits]).to(device, dtype)  # (B, 2, 2, N)
    X, V = W[:, 0], W[:, 1]                              # (B, 2, N) views, updated in place with W
    T = torch.stack([CLASS_FEATURES[:n_classes][c].T for _, _, c in inits]).to(device, dtype)
    c = 2.0 / (N * 2)

    def per_variant(vals):                               # a number if all equal, else (B, 1, 1)
        if all(v == vals[0] for v in vals):
            return float(vals[0])
        return torch.tensor(vals, dtype=dtype, device=device).view(B, 1, 1)

    s = per_variant([st.resolved_scale(2) for st in settings])
    q_role = per_variant([float(st.detach != "query") for st in settings])
    m_role = per_variant([float(st.detach != "memory") for st in settings])
    keep = per_variant([float(not st.zero_grad) for st in settings])
    if not isinstance(keep, float):
        keep = keep.view(B, 1, 1, 1)
    lrs = [float(st.lr) for st in settings]
    lr_t = None if all(v == lrs[0] for v in lrs) else \
        torch.tensor(lrs, dtype=dtype, device=device).view(B, 1, 1, 1)
    need_q = not (isinstance(q_role, float) and q_role == 0.0)   # some setting trains queries
    need_m = not (isinstance(m_role, float) and m_role == 0.0)   # some setting trains memories
    mixed = not (isinstance(q_role, float) and isinstance(m_role, float))

    ones = torch.ones(B, 1, N, dtype=dtype, device=device)
    grad = torch.zeros_like(W)                           # what Adam sees (the notebook's .grad)
    g_new = torch.empty_like(W)                          # this step's gradient, divided by c
    gX, gV = g_new[:, 0], g_new[:, 1]
    exp_avg, exp_avg_sq = torch.zeros_like(W), torch.zeros_like(W)
    sq_sums = torch.empty(steps, B, dtype=dtype, device=device)  # sum R^2 per step
    snaps = [W.detach().cpu().clone()]
    snap_at = set(snap_steps[1:])
    for t in progress_bar(range(1, steps + 1), enabled=progress, desc=f"{n_classes} classes"):
        Xs = X * s                                                   # (B, 2, N)
        F = torch.bmm(Xs.transpose(1, 2), X).exp_()                  # (B, N, N): [b, i, j]
        sig = torch.sigmoid(V)                                       # (B, 2, N)
        if need_q:                # rows: 1 | sigma | s X | sigma_e s X (e = 0, 1)
            Y = torch.cat([ones, sig, Xs, (sig.unsqueeze(2) * Xs.unsqueeze(1)).flatten(1, 2)], 1)
        else:
            Y = torch.cat([ones, sig], 1)
        FY = torch.bmm(Y, F)                                         # (B, 9 or 3, N)
        d = FY[:, :1]                                                # (B, 1, N): normalisers
        PY = FY[:, 1:] / d
        read = PY[:, :2]                                             # the read-out O
        R = read - T                                                 # (B, 2, N)
        Rf = R.flatten(1)
        torch.linalg.vecdot(Rf, Rf, out=sq_sums[t - 1])
        r = torch.linalg.vecdot(R, read, dim=1).unsqueeze(1)         # (B, 1, N)
        if need_m:                # rows: R | R_e s X (e = 0, 1) | r s X
            Z = torch.cat([R, (R.unsqueeze(2) * Xs.unsqueeze(1)).flatten(1, 2), r * Xs], 1)
        else:
            Z = R
        PtZ = torch.bmm(Z / d, F.transpose(1, 2))                    # (B, 2 or 8, N): (P^T Z)^T
        torch.mul(PtZ[:, :2], torch.addcmul(sig, sig, sig, value=-1.0), out=gV)
        if need_q:
            gq = R[:, :1] * PY[:, 4:6]
            gq.addcmul_(R[:, 1:2], PY[:, 6:8])
            if not need_m:        # the notebooks: the query role only
                torch.addcmul(gq, r, PY[:, 2:4], value=-1.0, out=gX)
            else:
                gq = torch.addcmul(gq, r, PY[:, 2:4], value=-1.0)    # (B, 2, N)
        if need_m:
            gm = sig[:, :1] * PtZ[:, 2:4]
            gm.addcmul_(sig[:, 1:2], PtZ[:, 4:6])
            if not need_q:
                torch.sub(gm, PtZ[:, 6:8], out=gX)
            else:
                gm = gm - PtZ[:, 6:8]                                # (B, 2, N)
        if need_q and need_m:     # both roles: in every setting, or weighted per setting
            torch.add(gq * q_role, gm * m_role, out=gX) if mixed else torch.add(gq, gm, out=gX)
        if isinstance(keep, float):
            if keep == 1.0:
                grad.add_(g_new, alpha=c)                # accumulated, as .grad is without zero_grad
            else:
                torch.mul(g_new, c, out=grad)            # zeroed, then this step's gradient
        else:
            grad.mul_(keep).add_(g_new, alpha=c)
        # Adam, as torch.optim.Adam's single-tensor path (amsgrad off, no weight decay)
        exp_avg.lerp_(grad, 1 - _BETA1)
        exp_avg_sq.mul_(_BETA2).addcmul_(grad, grad, value=1 - _BETA2)
        bias1 = 1 - _BETA1 ** t
        bias2_sqrt = (1 - _BETA2 ** t) ** 0.5
        denom = (exp_avg_sq.sqrt() / bias2_sqrt).add_(_EPS)
        if lr_t is None:
            W.addcdiv_(exp_avg, denom, value=-(lrs[0] / bias1))
        else:
            W.sub_(exp_avg / denom * (lr_t / bias1))
        if t in snap_at:
            snaps.append(W.detach().cpu().clone())
    if not bool(torch.isfinite(sq_sums).all()):     # a score above ~88 overflowed exp
        return None
    loss = (sq_sums / (N * 2)).cpu()                                 # (T, B)
    return loss, torch.stack(snaps).transpose(-1, -2)                 # (S, B, 2, N, 2)


def _autograd_loop(setting, init, n_classes, steps, snap_steps, dtype, device, progress):
    """The plain loop, one setting: autograd and torch.optim.Adam, as the notebook runs it."""
    k0, v0, classes = init
    keys = k0.to(device, dtype, copy=True).requires_grad_(True)
    values = v0.to(device, dtype, copy=True).requires_grad_(True)
    target = CLASS_FEATURES[:n_classes].to(device, dtype)[classes.to(device)]   # (N, 2)
    opt = torch.optim.Adam([keys, values], lr=setting.lr)
    losses = torch.empty(steps, dtype=dtype, device=device)
    snaps = [torch.stack([k0, v0]).to(dtype)]
    snap_at = set(snap_steps[1:])
    for t in progress_bar(range(1, steps + 1), enabled=progress, desc=f"{n_classes} classes"):
        if setting.zero_grad:
            opt.zero_grad()
        out = toy_readout(keys, values, scale=setting.resolved_scale(2), detach=setting.detach)
        loss = torch.nn.functional.mse_loss(out, target)
        loss.backward()
        opt.step()
        losses[t - 1] = loss.detach()
        if t in snap_at:
            snaps.append(torch.stack([keys.detach(), values.detach()]).cpu())
    return losses.cpu(), torch.stack(snaps)                                # (T,), (S, 2, N, 2)


def benchmark_toy(n_classes: int = 2, repeats: int = 3, device: str | torch.device = "cpu",
                  steps: int | None = None) -> dict:
    """Time Figure 2's optimisation both ways, side by side, on ``device``.

    ``fast_s``: :func:`train_toy` as ``reproduce fig2a`` runs it (published setting);
    ``autograd_s``: the plain one-step-at-a-time loop with autograd and torch.optim.Adam
    (``method="autograd"``); ``ratio = fast_s / autograd_s`` (the issue asks for at most
    0.5). Medians of ``repeats`` alternating runs. Also ``batched6_s``: the six settings
    of Chapter 6 (detach memory/query/none, gradients accumulated/zeroed) in one loop,
    and the final losses of both methods with their difference (float noise).
    Explained in Chapter 6 and the appendix, §Benchmarks.
    """
    from kvlib.device import get_device
    device = get_device(device)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: expected a positive int, got {repeats!r}")
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    six = [{"detach": d, "zero_grad": z} for d in DETACH for z in (False, True)]

    def timed(fn):
        t0 = time.perf_counter()
        out = fn()
        sync()
        return time.perf_counter() - t0, out

    train_toy(n_classes, steps=20, device=device)                        # warm-up, untimed
    train_toy(n_classes, steps=20, device=device, method="autograd")
    fast, plain, batched = [], [], []
    for _ in range(repeats):
        tf, run_f = timed(lambda: train_toy(n_classes, steps=steps, device=device))
        tp, run_p = timed(lambda: train_toy(n_classes, steps=steps, device=device,
                                            method="autograd"))
        tb, _ = timed(lambda: train_toys(n_classes, six, steps=steps, device=device))
        fast.append(tf)
        plain.append(tp)
        batched.append(tb)
    fast_s, plain_s = statistics.median(fast), statistics.median(plain)
    return {"n_classes": n_classes, "steps": int(run_f.steps[-1]), "device": str(device),
            "threads": _THREADS if device.type == "cpu" else None,
            "fast_s": fast_s, "autograd_s": plain_s, "ratio": fast_s / plain_s,
            "batched6_s": statistics.median(batched),
            "final_loss_fast": run_f.final_loss, "final_loss_autograd": run_p.final_loss,
            "max_abs_loss_diff": float((run_f.loss - run_p.loss).abs().max())}
