"""Figure 2's optimisation by hand: the toy model's gradient in closed form, and Adam written out.

The toy model of :mod:`kvlib.toy` reads each key as a query over all keys, with the softmax
of the scaled dot product as weights and ``sigmoid(values)`` as what is read (Eqs 2, 5, 6).
Its loss is the mean squared error to the class features. Autograd differentiates that one
read; here the gradient is written out from the read's own weights P, which
:func:`kvlib.kernels.retrieve` returns with it (``return_weights=True``), so that many
settings stacked on a leading axis run as one loop of a few batched products. The results
are autograd's and ``torch.optim.Adam``'s up to rounding (``tests/test_toy.py`` checks
1e-10 in float64 against them, every setting at once).

Notation (one setting; rows of P are queries j, columns memories i): scores
Z_ji = s q_j . k_i with q = k = x, P = softmax over i, sigma = sigmoid(V), O = P sigma,
R = O - target, r_j = R_j . O_j, c = 2 / (N d) (the MSE's factor). The softmax's backward
pass gives dL/dZ_ji = c P_ji (R_j . sigma_i - r_j), hence

* values: ``dL/dV = c (P^T R) * sigma (1 - sigma)``;
* a key in its role as a query: ``c (sum_e R_je (P (sigma_e s X))_j - r_j (P s X)_j)``;
* a key in its role as a stored memory: ``c (sum_e sigma_ie (P^T (R_e s X))_i - (P^T (r s X))_i)``.

So a step is one read of sigma (it returns O and P itself), one product of P with the query
role's few columns and one of P^T with the rest. Adam's
update follows ``torch.optim.Adam``'s single-tensor code operation by operation (amsgrad
off, no weight decay); with accumulated gradients (the published notebooks never call
``zero_grad``) it is fed the running sum of every gradient so far, as their ``.grad`` is.

Explained in Chapter 6, §"What the published code computes".
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import progress as progress_bar

__all__ = ["closed_form_adam"]

# Adam's defaults, as torch.optim.Adam uses them in the notebooks.
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


def _per_setting(name: str, value: object, B: int, kind, like: torch.Tensor, shape: tuple):
    """One value for every setting (returned as a Python number), or one per setting (a tensor)."""
    vals = [value] * B if not isinstance(value, (list, tuple)) else check.sequence(name, value)
    if len(vals) != B:
        raise ValueError(f"{name}: expected one value or one per setting ({B}), got {len(vals)}")
    vals = [kind(f"{name}[{b}]" if isinstance(value, (list, tuple)) else name, v)
            for b, v in enumerate(vals)]
    if all(v == vals[0] for v in vals):
        return float(vals[0])
    return torch.tensor([float(v) for v in vals], dtype=like.dtype, device=like.device).view(shape)


def closed_form_adam(keys: torch.Tensor, values: torch.Tensor, targets: torch.Tensor, *,
                     scale: float | Sequence[float] = 2 ** -0.5, lr: float | Sequence[float] = 3e-4,
                     query_role: bool | Sequence[bool] = True, memory_role: bool | Sequence[bool] = False,
                     accumulate: bool | Sequence[bool] = True, steps: int = 100,
                     snapshot_steps: Sequence[int] = (), progress: bool = False
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam on B independent toy problems at once; returns losses ``(T, B)`` and snapshots.

    ``keys``, ``values`` (raw, before the sigmoid) and ``targets``: ``(B, N, 2)`` of one
    floating dtype and device. Per setting (one value for all, or a list of B): ``scale``
    (the score's factor, Eq 5), ``lr``, which roles of a key get a gradient (``query_role``,
    ``memory_role``; the notebooks: the query role only) and whether gradients
    ``accumulate`` (the notebooks) or are zeroed every step. ``loss[t, b]`` is the loss at
    step t + 1 before its update; snapshots ``(S, B, 2, N, 2)`` hold keys and raw values at
    step 0 and after each of ``snapshot_steps``. A step at which keys or values become NaN
    or inf (the optimisation diverged) is a ``ValueError``.

    >>> k = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]]); t = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])
    >>> loss, snaps = closed_form_adam(k, torch.zeros(1, 2, 2), t, steps=3)
    >>> loss[:, 0]                                       # sigmoid(0) = 0.5 reads 0.5 at first
    tensor([0.2500, 0.2500, 0.2499])
    """
    keys = check.tensor("keys", keys, ndim=3, dtype="float-strict")
    if keys.shape[0] < 1 or keys.shape[1] < 1 or keys.shape[2] != 2:
        raise ValueError(f"keys: expected shape (B, N, 2) with B, N >= 1, got {tuple(keys.shape)}")
    if keys.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"keys: expected float32 or float64, got {keys.dtype}")
    values = check.tensor("values", values, shape=tuple(keys.shape), like=keys, like_name="keys")
    targets = check.tensor("targets", targets, shape=tuple(keys.shape), like=keys, like_name="keys")
    B, N = keys.shape[:2]
    s = _per_setting("scale", scale, B, check.positive, keys, (B, 1, 1))
    lrs = _per_setting("lr", lr, B, check.positive, keys, (B, 1, 1, 1))
    q_role = _per_setting("query_role", query_role, B, check.flag, keys, (B, 1, 1))
    m_role = _per_setting("memory_role", memory_role, B, check.flag, keys, (B, 1, 1))
    keep = _per_setting("accumulate", accumulate, B, check.flag, keys, (B, 1, 1, 1))
    steps = check.count("steps", steps, minimum=1)
    snap_at = set(check.sequence("snapshot_steps", snapshot_steps,
                                 lambda n, t: check.number(n, t, low=1, high=steps, integer=True),
                                 nonempty=False))
    check.flag("progress", progress)
    need_q = not (isinstance(q_role, float) and q_role == 0.0)   # some setting trains queries
    need_m = not (isinstance(m_role, float) and m_role == 0.0)   # some setting trains memories
    mixed = isinstance(q_role, torch.Tensor) or isinstance(m_role, torch.Tensor)
    c = 2.0 / (N * 2)

    W = torch.stack([keys, values], 1).detach().clone()  # (B, 2, N, 2)
    X, V = W[:, 0], W[:, 1]                              # (B, N, 2) views, updated in place with W
    grad = torch.zeros_like(W)                           # what Adam sees (the notebook's .grad)
    g_new = torch.empty_like(W)                          # this step's gradient, divided by c
    gX, gV = g_new[:, 0], g_new[:, 1]
    exp_avg, exp_avg_sq = torch.zeros_like(W), torch.zeros_like(W)
    sq_sums = torch.empty(steps, B, dtype=W.dtype, device=W.device)    # sum R^2 per step
    snaps = [W.cpu().clone()]
    for t in progress_bar(range(1, steps + 1), enabled=progress, desc="Adam steps"):
        Xs = X * s                                                   # (B, N, 2)
        sig = torch.sigmoid(V)                                       # (B, N, 2)
        if isinstance(s, float):                                     # beta = s, as the notebook
            read, P = kernels.retrieve(X, X, sig, "dot", "softmax", beta=s, return_weights=True)
        else:                                                        # a scale per setting
            read, P = kernels.retrieve(Xs, X, sig, "dot", "softmax", return_weights=True)
        # read: the read-out O, (B, N, 2); P: its weights, (B, N, N), rows queries j
        # Products with P are taken as (columns)^T @ P or @ P^T: the (B, k, N) @ (B, N, N)
        # orientation runs several times faster on CPUs than (B, N, N) @ (B, N, k).
        if need_q:               # P times s X | sigma_0 s X | sigma_1 s X (the query role)
            Yt = torch.cat([Xs, sig[..., :1] * Xs, sig[..., 1:] * Xs], -1).transpose(1, 2)
            PY = torch.bmm(Yt.contiguous(), P.transpose(1, 2)).transpose(1, 2)   # (B, N, 6)
        R = read - targets
        torch.linalg.vecdot(R.flatten(1), R.flatten(1), out=sq_sums[t - 1])
        r = torch.linalg.vecdot(R, read).unsqueeze(-1)               # (B, N, 1)
        # columns multiplied by P^T: R | R_0 s X | R_1 s X | r s X (the last three: stored role)
        Z = torch.cat([R, R[..., :1] * Xs, R[..., 1:] * Xs, r * Xs], -1) if need_m else R
        PtZ = torch.bmm(Z.transpose(1, 2).contiguous(), P).transpose(1, 2)      # (B, N, 8 or 2)
        torch.mul(PtZ[..., :2], torch.addcmul(sig, sig, sig, value=-1.0), out=gV)
        gq = gm = 0.0
        if need_q:
            gq = (R[..., :1] * PY[..., 2:4]).addcmul_(R[..., 1:], PY[..., 4:6]) \
                .addcmul_(r, PY[..., :2], value=-1.0)                # (B, N, 2)
        if need_m:
            gm = (sig[..., :1] * PtZ[..., 2:4]).addcmul_(sig[..., 1:], PtZ[..., 4:6]) \
                .sub_(PtZ[..., 6:8])                                 # (B, N, 2)
        gX.copy_(gq * q_role + gm * m_role if mixed else gq + gm)
        if isinstance(keep, float):
            if keep == 1.0:
                grad.add_(g_new, alpha=c)                # accumulated, as .grad is without zero_grad
            else:
                torch.mul(g_new, c, out=grad)            # zeroed, then this step's gradient
        else:
            grad.mul_(keep).add_(g_new, alpha=c)
        # Adam, as torch.optim.Adam's single-tensor path
        exp_avg.lerp_(grad, 1 - _BETA1)
        exp_avg_sq.mul_(_BETA2).addcmul_(grad, grad, value=1 - _BETA2)
        bias1 = 1 - _BETA1 ** t
        bias2_sqrt = (1 - _BETA2 ** t) ** 0.5
        denom = (exp_avg_sq.sqrt() / bias2_sqrt).add_(_EPS)
        if isinstance(lrs, float):
            W.addcdiv_(exp_avg, denom, value=-(lrs / bias1))
        else:
            W.sub_(exp_avg / denom * (lrs / bias1))
        if not check.all_finite(W):
            b = int((~torch.isfinite(W.flatten(1))).any(1).nonzero()[0])
            where = f" in setting {b}" if B > 1 else ""
            lr_b = lrs if isinstance(lrs, float) else float(lrs.flatten()[b])
            s_b = s if isinstance(s, float) else float(s.flatten()[b])
            raise ValueError(f"lr: the optimisation diverged at Adam step {t}{where} (keys or values "
                             f"became NaN or inf) with lr={lr_b:g} and scale={s_b:g}; lower the "
                             "learning rate (the notebooks use 3e-4)")
        if t in snap_at:
            snaps.append(W.cpu().clone())
    return (sq_sums / (N * 2)).cpu(), torch.stack(snaps)            # (T, B), (S, B, 2, N, 2)
