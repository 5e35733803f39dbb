"""Linear attention is a fast weight programmer (Schlag, Irie & Schmidhuber 2021).

With the separation σ set to the identity, attention over a sequence (Eq 3) can be run
as a recurrent network whose weight matrix ``M`` is *written* at every step by an outer
product (Eq 1) and *read* by the current query (Eq 2)::

    sum rule:    M_t = M_{t-1} + k_tᵀ v_t
    delta rule:  M_t = M_{t-1} + β_t k_tᵀ (v_t - k_t M_{t-1})      (β_t: write strength)
    read:        y_t = q_t M_t

Here ``q`` and ``k`` are already feature-mapped (``φ(q)``, ``φ(k)`` of Eq 4; see
``kvlib.kernels.FEATURE_MAPS``). Three forms compute the same outputs:

* :func:`recurrent` — the loop over time steps, O(T d_k d_v), the fast-weight view;
* :func:`parallel` — causal attention over the whole sequence, O(T² (d_k + d_v));
  for the delta rule, a triangular solve gives the written values (not in paper; the
  construction of Yang et al. 2024);
* :func:`chunked` — parallel within chunks of C steps, recurrent across chunks.

Explained in Chapter 1 (``book/01_kernels.ipynb``), §"Linear attention is a fast weight
programmer". Axis names: T steps, d_k, d_v, leading batch axes ``...``; row vectors.

How many pairs these memories hold is measured in :mod:`kvlib.random_key_capacity` (random
keys, the book's variant) and :mod:`kvlib.associative_retrieval` / :mod:`kvlib.learned_capacity`
(learned keys: Schlag et al.'s associative retrieval task); the feature maps by name
(:func:`feature_map`, :func:`feature_dim`) serve both.
Note: β_t here is the delta rule's write strength, called ``lr`` in the code to keep it
apart from the inverse temperature β of softmax.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from kvlib import _checks as check
from kvlib.device import cpu_threads
from kvlib.similarities import FEATURE_MAPS

__all__ = ["RULES", "FORMS", "recurrent", "parallel", "chunked", "fast_weights", "sum_normalize",
           "delta_values", "benchmark_forms", "feature_map", "feature_dim"]

#: The fast-weight update rules.
RULES = ("sum", "delta")
#: The three equivalent ways to compute them.
FORMS = ("recurrent", "parallel", "chunked")


def sum_normalize(phi: torch.Tensor) -> torch.Tensor:
    """Divide non-negative features by their sum over the last axis (Schlag et al. 2021).

    >>> sum_normalize(torch.tensor([[1., 3.]]))
    tensor([[0.2500, 0.7500]])
    """
    phi = check.tensor("phi", phi, ndim=range(1, 64), dtype="float-strict")
    return phi / phi.sum(-1, keepdim=True).clamp_min(torch.finfo(phi.dtype).tiny)


def _check(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rule: str,
           lr: torch.Tensor | None, keys_only: bool = False) -> torch.Tensor | None:
    """Check the inputs of a form (``keys_only``: no queries, as in :func:`delta_values`)."""
    given = (("k", k), ("v", v)) if keys_only else (("q", q), ("k", k), ("v", v))
    for name, x in given:
        check.tensor(name, x, dtype="float-strict")
        if x.ndim < 2:
            raise ValueError(f"{name}: expected shape (..., T, d), got {tuple(x.shape)}")
        if x.shape[-2] == 0 or x.shape[-1] == 0:
            raise ValueError(f"{name}: expected at least one time step of at least one entry, "
                             f"got shape {tuple(x.shape)}")
    ref_name, ref = given[0]
    if not keys_only and q.shape != k.shape:
        raise ValueError(f"k: expected the shape of q {tuple(q.shape)}, got {tuple(k.shape)}")
    if v.shape[:-1] != k.shape[:-1]:
        raise ValueError(f"v: expected leading shape {tuple(k.shape[:-1])} (..., T) as k, "
                         f"got {tuple(v.shape)}")
    for name, x in given[1:]:
        if x.dtype != ref.dtype or x.device != ref.device:
            raise ValueError(f"{name}: expected dtype {ref.dtype} on {ref.device} (as {ref_name}), "
                             f"got {x.dtype} on {x.device}")
    if not isinstance(rule, str) or rule not in RULES:
        raise ValueError(f"rule: expected one of {', '.join(RULES)}, got {rule!r}")
    if rule == "sum":
        if lr is not None:
            raise ValueError("lr: the sum rule takes no write strength; expected None, got a tensor")
        return None
    if lr is None:
        return torch.ones(k.shape[:-1], dtype=k.dtype, device=k.device)
    check.tensor("lr", lr, dtype="float-strict")
    if lr.shape != k.shape[:-1] or lr.dtype != k.dtype or lr.device != k.device:
        raise ValueError(f"lr: expected shape {tuple(k.shape[:-1])} (..., T), dtype {k.dtype} on "
                         f"{k.device}, got {tuple(lr.shape)}, {lr.dtype} on {lr.device}")
    return lr


def recurrent(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, rule: str = "sum",
              lr: torch.Tensor | None = None, normalize: bool = False) -> torch.Tensor:
    """Fast weight programmer, step by step: write ``M`` (Eq 1 / delta rule), read ``q_t M_t`` (Eq 2).

    q, k: (..., T, d_k); v: (..., T, d_v); lr: (..., T) write strengths (delta rule only,
    default 1). ``normalize`` (sum rule only) divides each read by ``q_t · Σ_{τ≤t} k_τ``,
    the denominator of linear attention (Katharopoulos et al. 2020). Returns (..., T, d_v).
    The loop over time steps is the point: this is the recurrent view.
    """
    lr = _check(q, k, v, rule, lr)
    if check.flag("normalize", normalize) and rule != "sum":
        raise ValueError(f"normalize: only the sum rule has a normaliser; got rule={rule!r}")
    M = q.new_zeros(*q.shape[:-2], q.shape[-1], v.shape[-1])          # (..., d_k, d_v)
    z = q.new_zeros(*q.shape[:-2], q.shape[-1])                        # (..., d_k): Σ k_τ
    ys = []
    for t in range(q.shape[-2]):
        kt, vt, qt = k[..., t, :], v[..., t, :], q[..., t, :]
        if rule == "delta":
            vbar = (kt.unsqueeze(-2) @ M).squeeze(-2)                  # (..., d_v): what M holds for k_t
            vt = lr[..., t, None] * (vt - vbar)
        M = M + kt.unsqueeze(-1) * vt.unsqueeze(-2)                    # outer product k_tᵀ v_t
        y = (qt.unsqueeze(-2) @ M).squeeze(-2)                         # (..., d_v)
        if normalize:
            z = z + kt
            y = y / (qt * z).sum(-1, keepdim=True)
        ys.append(y)
    return torch.stack(ys, dim=-2)


def delta_values(k: torch.Tensor, v: torch.Tensor, lr: torch.Tensor | None = None) -> torch.Tensor:
    """The values the delta rule actually writes, ``u_t = β_t(v_t - Σ_{τ<t} (k_t·k_τ) u_τ)``.

    In matrix form ``(I + diag(β) tril(K Kᵀ, -1)) U = diag(β) V``: one triangular solve
    (unit diagonal) instead of a loop over steps (Yang et al. 2024's construction; not in the
    review). k: (..., T, d_k), v: (..., T, d_v), lr: (..., T) write strengths (default 1)
    -> (..., T, d_v); the fast weight after step T is ``M = Kᵀ U``.

    >>> k = torch.tensor([[1., 0.], [1., 0.]]); v = torch.tensor([[2.], [5.]])
    >>> delta_values(k, v)                    # the second write replaces the first value
    tensor([[2.],
            [3.]])
    """
    lr = _check(k, k, v, "delta", lr, keys_only=True)
    return _delta_values(k, v, lr)


def _delta_values(k: torch.Tensor, v: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
    """:func:`delta_values` on checked inputs (also for chunks: k (..., C, d_k))."""
    C = k.shape[-2]
    # strictly lower triangle by a mask product (torch.tril is slow on batched CPU tensors)
    below = torch.ones(C, C, dtype=k.dtype, device=k.device).tril_(diagonal=-1)
    A = (k @ k.transpose(-1, -2)) * below * lr.unsqueeze(-1)          # (..., C, C)
    A.diagonal(dim1=-2, dim2=-1).fill_(1.0)
    return torch.linalg.solve_triangular(A, lr.unsqueeze(-1) * v, upper=False, unitriangular=True)


def parallel(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, rule: str = "sum",
             lr: torch.Tensor | None = None, normalize: bool = False) -> torch.Tensor:
    """Causal attention form: ``Y = tril(Q Kᵀ) U`` with ``U = V`` (sum rule) or the delta-rule values.

    The dual form (Eq 3) with σ = identity and a causal mask: quadratic in T, no loop.
    Same arguments and result as :func:`recurrent`.
    """
    lr = _check(q, k, v, rule, lr)
    if check.flag("normalize", normalize) and rule != "sum":
        raise ValueError(f"normalize: only the sum rule has a normaliser; got rule={rule!r}")
    A = torch.tril(q @ k.transpose(-1, -2))                            # (..., T, T) causal scores
    u = v if rule == "sum" else _delta_values(k, v, lr)
    y = A @ u                                                          # (..., T, d_v)
    if normalize:
        y = y / A.sum(-1, keepdim=True)
    return y


def chunked(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, rule: str = "sum",
            lr: torch.Tensor | None = None, normalize: bool = False, chunk_size: int = 64) -> torch.Tensor:
    """Chunk-wise form: attention inside chunks of C steps, the fast weight ``M`` carried across.

    Within chunk c, with ``M`` the state before it: ``Y_c = Q_c M + tril(Q_c K_cᵀ) U_c`` and
    ``M ← M + K_cᵀ U_c``. Sum rule: ``U_c = V_c``, and the states before every chunk are
    prefix sums of ``K_cᵀ V_c`` (one ``cumsum``, no loop). Delta rule:
    ``U_c = T_c⁻¹ diag(β)(V_c - K_c M)`` (T_c as in the parallel form), with the chunk-local
    solves batched up front; only four matrix products per chunk remain in a loop over
    the T/C chunks. Same arguments and result as :func:`recurrent`.
    """
    lr = _check(q, k, v, rule, lr)
    if check.flag("normalize", normalize) and rule != "sum":
        raise ValueError(f"normalize: only the sum rule has a normaliser; got rule={rule!r}")
    C = check.positive("chunk_size", chunk_size, integer=True)
    lead, T, d_k, d_v = q.shape[:-2], q.shape[-2], q.shape[-1], v.shape[-1]
    # (..., T, d) -> (b, T, d): one batch axis for bmm
    q, k, v = (x.reshape(-1, T, x.shape[-1]) for x in (q, k, v))
    lr = lr.reshape(-1, T) if lr is not None else None
    pad = (-T) % C                       # zero steps at the end write nothing and are dropped
    if pad:
        q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
        lr = F.pad(lr, (0, pad)) if lr is not None else None
    b, n = q.shape[0], q.shape[1] // C
    # (b, T, d) -> (b, n, C, d)
    qc, kc, vc = (x.reshape(b, n, C, x.shape[-1]) for x in (q, k, v))
    causal = torch.ones(C, C, dtype=q.dtype, device=q.device).tril_()
    A = (qc @ kc.transpose(-1, -2)).mul_(causal)                       # (b, n, C, C) causal scores
    if rule == "sum":
        kv = kc.transpose(-1, -2) @ vc                                 # (b, n, d_k, d_v): K_cᵀ V_c
        # States before each chunk = exclusive prefix sums over chunks, as one product with a
        # strictly lower-triangular matrix of ones (faster than cumsum over a middle axis on CPU).
        L = torch.tril(torch.ones(n, n, dtype=q.dtype, device=q.device), diagonal=-1)   # (n, n)
        before = (L @ kv.reshape(b, n, d_k * d_v)).reshape(b, n, d_k, d_v)
        y = qc @ before + A @ vc                                       # (b, n, C, d_v)
        if normalize:
            z = L @ kc.sum(dim=2)                                      # (b, n, d_k): Σ k before chunk
            y = y / ((qc * z.unsqueeze(2)).sum(-1, keepdim=True) + A.sum(-1, keepdim=True))
    else:
        lrc = lr.reshape(b, n, C)                                      # (b, n, C)
        # U_c = W1_c - W2_c M, with W1 = T⁻¹ diag(β) V_c and W2 = T⁻¹ diag(β) K_c: one solve.
        w = _delta_values(kc, torch.cat([vc, kc], dim=-1), lrc)       # (b, n, C, d_v + d_k)
        w1, w2 = w[..., :d_v], w[..., d_v:]
        qw = torch.cat([qc, w2], dim=2)                                # (b, n, 2C, d_k): Q_c and W2_c
        kt = kc.transpose(-1, -2)                                      # (b, n, d_k, C)
        M = q.new_zeros(b, d_k, d_v)
        y = q.new_empty(b, n, C, d_v)
        for c in range(n):                                             # over chunks, not steps
            x = torch.bmm(qw[:, c], M)                                 # (b, 2C, d_v): Q_c M and W2_c M
            u = w1[:, c] - x[:, C:]                                    # (b, C, d_v) written values
            torch.baddbmm(x[:, :C], A[:, c], u, out=y[:, c])           # Y_c = Q_c M + A_c U_c
            M.baddbmm_(kt[:, c], u)                                    # M += K_cᵀ U_c
    return y.reshape(b, n * C, d_v)[:, :T].reshape(*lead, T, d_v)


_FORMS: dict[str, Callable[..., torch.Tensor]] = {"recurrent": recurrent, "parallel": parallel,
                                                  "chunked": chunked}


def fast_weights(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, rule: str = "sum",
                 form: str = "chunked", lr: torch.Tensor | None = None, normalize: bool = False,
                 chunk_size: int = 64) -> torch.Tensor:
    """Linear attention / fast weights in any of the three :data:`FORMS` (see the module docstring)."""
    if not isinstance(form, str) or form not in _FORMS:
        raise ValueError(f"form: expected one of {', '.join(FORMS)}, got {form!r}")
    kw = {"chunk_size": chunk_size} if form == "chunked" else {}
    return _FORMS[form](q, k, v, rule=rule, lr=lr, normalize=normalize, **kw)


def _time(fn: Callable[[], object], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def benchmark_forms(seq_lens: Sequence[int] = (256, 512, 1024, 2048, 4096), *, d_k: int = 64,
                    d_v: int = 64, rule: str = "delta", chunk_size: int = 64, repeats: int = 3,
                    device: torch.device | str = "cpu", seed: int = 0, threads: int | None = None) -> dict:
    """Wall time of the recurrent, parallel and chunked forms against sequence length.

    Inputs: sum-normalised elu+1 features of Gaussian q, k; Gaussian v; write strengths
    in (0, 1). Also returns the largest absolute difference between the forms (float32)
    at the longest length. Best of ``repeats`` runs, after one warm-up of every form at the
    shortest length. ``threads`` (CPU only) sets torch's intra-op thread count for the
    duration of the call and restores it afterwards: small matrix products on a busy
    machine can spend most of their time waking worker threads, which blurs the comparison
    of the forms. Explained in Chapter 1, §"Linear attention is a fast weight programmer",
    and the appendix, §Benchmarks.
    """
    seq_lens = check.sequence("seq_lens", seq_lens, lambda n, v: check.count(n, v, 1))
    d_k, d_v = check.positive("d_k", d_k, integer=True), check.positive("d_v", d_v, integer=True)
    if not isinstance(rule, str) or rule not in RULES:
        raise ValueError(f"rule: expected one of {', '.join(RULES)}, got {rule!r}")
    chunk_size = check.positive("chunk_size", chunk_size, integer=True)
    repeats = check.positive("repeats", repeats, integer=True)
    device = check.device("device", device)
    seed = check.seed("seed", seed)
    if threads is not None:
        threads = check.positive("threads", threads, integer=True)
    with cpu_threads(int(threads) if threads is not None and device.type == "cpu" else None):
        res = _benchmark_forms(seq_lens, d_k, d_v, rule, chunk_size, repeats, device, seed)
        res["threads"] = torch.get_num_threads()
    return res


def _benchmark_forms(seq_lens, d_k, d_v, rule, chunk_size, repeats, device, seed) -> dict:
    res = {"seq_len": list(seq_lens), "rule": rule, "chunk_size": chunk_size, "device": str(device),
           "recurrent_s": [], "parallel_s": [], "chunked_s": []}
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    warm = [torch.rand(min(seq_lens), d, device=device) for d in (d_k, d_k, d_v)]
    for form in FORMS:                                                 # warm-up, untimed
        fast_weights(*warm, rule=rule, form=form, chunk_size=chunk_size,
                     lr=torch.rand(min(seq_lens), device=device) if rule == "delta" else None)
    for T in seq_lens:
        g = torch.Generator().manual_seed(seed)
        q, k = (sum_normalize(F.elu(torch.randn(T, d_k, generator=g)) + 1).to(device) for _ in range(2))
        v = torch.randn(T, d_v, generator=g).to(device)
        lr = torch.sigmoid(torch.randn(T, generator=g)).to(device) if rule == "delta" else None
        outs = {}
        for form in FORMS:
            def run(form=form, q=q, k=k, v=v, lr=lr, outs=outs):
                outs[form] = fast_weights(q, k, v, rule=rule, form=form, lr=lr, chunk_size=chunk_size)
                sync()
            res[f"{form}_s"].append(_time(run, repeats))
        res["max_abs_diff"] = max(float((outs[a] - outs["recurrent"]).abs().max())
                                  for a in ("parallel", "chunked"))
    res["speedup_chunked_vs_recurrent"] = res["recurrent_s"][-1] / res["chunked_s"][-1]
    return res


# ---------------------------------------------------------------------------
# Feature maps by name, as the capacity experiments name them.
# ---------------------------------------------------------------------------

def _suffix(name: str, prefix: str) -> int | None:
    """``int(name[len(prefix):])`` for names like ``dpfp2``, else None."""
    rest = name[len(prefix):] if name.startswith(prefix) else ""
    return int(rest) if rest.isdigit() and int(rest) > 0 else None


def feature_map(features: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The feature map φ called ``features``: ``identity``, ``elu1`` (elu + 1) or ``dpfp<ν>``
    (DPFP-ν, e.g. ``dpfp2``), from :data:`kvlib.similarities.FEATURE_MAPS` (Eq 4).

    >>> feature_map("dpfp2")(torch.ones(1, 3)).shape
    torch.Size([1, 12])
    """
    if isinstance(features, str) and features in ("identity", "elu1"):
        return FEATURE_MAPS[features]
    nu = _suffix(features, "dpfp") if isinstance(features, str) else None
    if nu is not None:
        return lambda x: FEATURE_MAPS["dpfp"](x, nu)
    raise ValueError(f"features: expected names among identity, elu1, dpfp<ν> (e.g. dpfp2), "
                     f"softmax; got {features!r}")


def feature_dim(features: str, d_key: int) -> int:
    """Dimension m of the feature map ``features`` on keys of size ``d_key``.

    identity and elu1: d_key; DPFP-ν: 2ν d_key; ``favor<n>`` (n random directions,
    positive and negative halves, as in Schlag et al.'s code): 2n.

    >>> feature_dim("dpfp3", 64), feature_dim("favor64", 64)
    (384, 128)
    """
    d_key = check.positive("d_key", d_key, integer=True)
    if isinstance(features, str) and features in ("identity", "elu1"):
        return d_key
    for prefix, per in (("dpfp", 2 * d_key), ("favor", 2)):
        n = _suffix(features, prefix) if isinstance(features, str) else None
        if n is not None:
            return per * n
    raise ValueError(f"features: expected identity, elu1, dpfp<ν> or favor<n> (e.g. dpfp2, favor64), "
                     f"got {features!r}")
