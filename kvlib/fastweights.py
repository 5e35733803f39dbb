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

The module is longer than 450 lines because it also holds the two capacity tests of these
memories, the book's random-key variant and Schlag et al.'s associative retrieval task (their
model, its batched training and their evaluation), which use the update rules above; the
task could move to a module of its own.
Note: β_t here is the delta rule's write strength, called ``lr`` in the code to keep it
apart from the inverse temperature β of softmax.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from kvlib.device import cpu_threads
from kvlib.kernels import _check_float, _check_positive, retrieve

__all__ = ["RULES", "FORMS", "recurrent", "parallel", "chunked", "fast_weights", "sum_normalize",
           "benchmark_forms", "associative_capacity", "capacity_at"]

#: The fast-weight update rules.
RULES = ("sum", "delta")
#: The three equivalent ways to compute them.
FORMS = ("recurrent", "parallel", "chunked")


def sum_normalize(phi: torch.Tensor) -> torch.Tensor:
    """Divide non-negative features by their sum over the last axis (Schlag et al. 2021)."""
    return phi / phi.sum(-1, keepdim=True).clamp_min(torch.finfo(phi.dtype).tiny)


def _check(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rule: str,
           lr: torch.Tensor | None) -> torch.Tensor | None:
    for name, x in (("q", q), ("k", k), ("v", v)):
        _check_float(name, x)
        if x.ndim < 2:
            raise ValueError(f"{name}: expected shape (..., T, d), got {tuple(x.shape)}")
    if q.shape != k.shape:
        raise ValueError(f"k: expected the shape of q {tuple(q.shape)}, got {tuple(k.shape)}")
    if v.shape[:-1] != k.shape[:-1]:
        raise ValueError(f"v: expected leading shape {tuple(k.shape[:-1])} (..., T), got {tuple(v.shape)}")
    for name, x in (("k", k), ("v", v)):
        if x.dtype != q.dtype or x.device != q.device:
            raise ValueError(f"{name}: expected dtype {q.dtype} on {q.device} (as q), got {x.dtype} on {x.device}")
    if rule not in RULES:
        raise ValueError(f"rule: expected one of {', '.join(RULES)}, got {rule!r}")
    if rule == "sum":
        if lr is not None:
            raise ValueError("lr: the sum rule takes no write strength; expected None, got a tensor")
        return None
    if lr is None:
        return torch.ones(k.shape[:-1], dtype=k.dtype, device=k.device)
    _check_float("lr", lr)
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
    if normalize and rule != "sum":
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


def _delta_values(k: torch.Tensor, v: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
    """The values the delta rule actually writes, ``u_t = β_t(v_t - Σ_{τ<t} (k_t·k_τ) u_τ)``.

    In matrix form ``(I + diag(β) tril(K Kᵀ, -1)) U = diag(β) V``: one triangular solve
    (unit diagonal) instead of a loop. k: (..., C, d_k), v: (..., C, d_v) -> (..., C, d_v).
    """
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
    if normalize and rule != "sum":
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
    if normalize and rule != "sum":
        raise ValueError(f"normalize: only the sum rule has a normaliser; got rule={rule!r}")
    _check_positive("chunk_size", chunk_size, integer=True)
    C = int(chunk_size)
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
    if form not in _FORMS:
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
    device = torch.device(device)
    if rule not in RULES:
        raise ValueError(f"rule: expected one of {', '.join(RULES)}, got {rule!r}")
    if threads is not None:
        _check_positive("threads", threads, integer=True)
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
            def run(form=form):
                outs[form] = fast_weights(q, k, v, rule=rule, form=form, lr=lr, chunk_size=chunk_size)
                sync()
            res[f"{form}_s"].append(_time(run, repeats))
        res["max_abs_diff"] = max(float((outs[a] - outs["recurrent"]).abs().max())
                                  for a in ("parallel", "chunked"))
    res["speedup_chunked_vs_recurrent"] = res["recurrent_s"][-1] / res["chunked_s"][-1]
    return res


# ---------------------------------------------------------------------------
# Capacity, two ways. (1) Random keys, read back by the nearest stored value: the book's
# variant. (2) Learned keys: Schlag, Irie & Schmidhuber's associative retrieval task.
# ---------------------------------------------------------------------------

def _feature_map(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    from kvlib.kernels import FEATURE_MAPS

    if name in ("identity", "elu1"):
        return FEATURE_MAPS[name]
    if name.startswith("dpfp") and name[4:].isdigit() and int(name[4:]) > 0:
        nu = int(name[4:])
        return lambda x: FEATURE_MAPS["dpfp"](x, nu)
    raise ValueError(f"features: expected names among identity, elu1, dpfp<ν> (e.g. dpfp2), "
                     f"softmax; got {name!r}")


def feature_dim(name: str, d_key: int) -> int:
    """Dimension m of the feature map ``name`` on keys of size ``d_key``.

    identity and elu1: d_key; DPFP-ν: 2ν d_key; ``favor<n>`` (n random directions,
    positive and negative halves, as in Schlag et al.'s code): 2n.

    >>> feature_dim("dpfp3", 64), feature_dim("favor64", 64)
    (384, 128)
    """
    if name in ("identity", "elu1"):
        return int(d_key)
    for prefix, per in (("dpfp", 2 * int(d_key)), ("favor", 2)):
        if name.startswith(prefix) and name[len(prefix):].isdigit() and int(name[len(prefix):]) > 0:
            return per * int(name[len(prefix):])
    raise ValueError(f"features: expected identity, elu1, dpfp<ν> or favor<n> (e.g. dpfp2, favor64), "
                     f"got {name!r}")


def effective_dimension(features: str, d_key: int, *, n: int = 4096, seed: int = 0) -> float:
    """Participation ratio ``1 / tr(C²)`` of unit-length features φ(k) of Gaussian keys.

    ``C = E[φ̂ φ̂ᵀ]`` (uncentred, since cross-talk between stored pairs is the raw dot
    product φ̂(k)·φ̂(k')). It equals m for features spread evenly over m orthogonal
    directions and 1 when all features point the same way; a shared positive mean, as in
    elu+1 and DPFP, lowers it. Estimated from ``n`` keys. Not in Schlag et al.: the book's
    measure of how many directions random keys really use. Explained in Chapter 1,
    §"Linear attention is a fast weight programmer".
    """
    phi = _feature_map(features)
    g = torch.Generator().manual_seed(seed)
    x = F.normalize(phi(torch.randn(int(n), int(d_key), generator=g, dtype=torch.float64)), dim=-1)
    c = x.T @ x / x.shape[0]                                           # (m, m) second moment
    return float(1.0 / c.square().sum())


def associative_capacity(n_pairs: Sequence[int], *, d_key: int = 32, d_value: int = 64,
                         features: Sequence[str] = ("identity", "elu1", "dpfp1", "dpfp2", "dpfp3",
                                                    "softmax"),
                         seeds: int = 2, beta: float = 4.0, rule: str = "sum",
                         device: torch.device | str = "cpu") -> dict:
    """How many *random* key-value pairs a fast-weight memory gives back, per feature map.

    The book's variant (not Schlag et al.'s task, see :func:`retrieval_capacity`). N random
    pairs (standard Gaussian keys in R^{d_key}, random ±1 values in R^{d_value}) are
    written through a feature map, each φ(k) scaled to unit length: with the sum rule,
    ``M = Σₙ φ(kₙ)ᵀ vₙ`` (Eq 1 after N steps, one product); with the delta rule (β_t = 1,
    pairs written in order) the values actually written come from one triangular solve
    (:func:`parallel`'s construction) and ``M = Σₙ φ(kₙ)ᵀ uₙ``. φ = identity (Kohonen;
    m = d_key), elu+1 (m = d_key) or DPFP-ν (m = 2ν d_key). ``"softmax"`` instead reads the
    stored pairs by softmax attention on the scaled dot product with inverse temperature β
    (Eqs 5-6; no update rule). Each key is then the query after the last write; the read is
    correct when the stored value with the largest dot product with it is its own (nearest
    stored value, not an exact read). Also returns each map's feature dimension and
    :func:`effective_dimension`. Explained in Chapter 1, §"Linear attention is a fast
    weight programmer".
    """
    _check_positive("seeds", seeds, integer=True)
    if rule not in RULES:
        raise ValueError(f"rule: expected one of {', '.join(RULES)}, got {rule!r}")
    maps = {name: _feature_map(name) for name in features if name != "softmax"}
    dims = {name: int(phi(torch.zeros(1, d_key)).shape[-1]) for name, phi in maps.items()}
    acc: dict[str, list[float]] = {f: [] for f in features}
    for n in n_pairs:                                                  # a sweep over memory sizes
        n = int(n)
        tot = dict.fromkeys(features, 0.0)
        for s in range(int(seeds)):
            g = torch.Generator().manual_seed(1000 * s + n)
            keys = torch.randn(n, d_key, generator=g).to(device)                        # (N, d_key)
            vals = (2.0 * torch.randint(0, 2, (n, d_value), generator=g) - 1.0).to(device)
            for name in features:
                if name == "softmax":
                    out = retrieve(keys, keys, vals, "scaled_dot", "softmax", beta=beta)
                else:
                    phi = F.normalize(maps[name](keys), dim=-1)        # (N, m), unit rows
                    u = vals if rule == "sum" else _delta_values(phi, vals, torch.ones_like(phi[:, 0]))
                    out = phi @ (phi.T @ u)                            # read φ(k) M, M = φ(K)ᵀ U
                best = (out @ vals.T).argmax(dim=1)                    # nearest stored value
                tot[name] += float((best == torch.arange(n, device=best.device)).double().mean())
        for name in features:
            acc[name].append(tot[name] / int(seeds))
    return {"n_pairs": [int(n) for n in n_pairs], "accuracy": acc, "feature_dim": dims,
            "effective_dim": {name: effective_dimension(name, d_key) for name in maps},
            "d_key": d_key, "d_value": d_value, "rule": rule}


def capacity_at(n_pairs: Sequence[int], accuracy: Sequence[float], level: float = 0.5) -> float:
    """The memory size at which accuracy first falls below ``level``, interpolated in log N.

    Returns ``n_pairs[0]`` if even the smallest memory is below ``level`` and
    ``inf`` if the accuracy never falls below it on the grid.
    """
    if len(n_pairs) != len(accuracy) or not n_pairs:
        raise ValueError(f"accuracy: expected one value per memory size ({len(n_pairs)}), got {len(accuracy)}")
    if accuracy[0] < level:
        return float(n_pairs[0])
    for i in range(1, len(n_pairs)):
        if accuracy[i] < level:
            a0, a1 = accuracy[i - 1], accuracy[i]
            l0, l1 = math.log(n_pairs[i - 1]), math.log(n_pairs[i])
            return float(math.exp(l0 + (a0 - level) / (a0 - a1) * (l1 - l0)))
    return math.inf


# ---------------------------------------------------------------------------
# Learned keys: the associative retrieval task of Schlag, Irie & Schmidhuber (2021).
# ---------------------------------------------------------------------------

#: Where :data:`SCHLAG2021_LOGS` come from (commit ebe13ea of their repository).
SCHLAG2021_LOGS_URL = ("https://github.com/ischlag/fast-weight-transformers/tree/"
                       "ebe13ea2e6409da91d12d22175f4f6efe8bf2f0a/synthetic/logs")

#: Schlag et al.'s committed results for setting 1 (d_key = 64, sum rule; softmax: plain
#: softmax attention): the last evaluation loss of each log ``d64_<map>_sum_AssocSeq<S>N<S>R0.csv``
#: (``d64_softmax_cat_...`` for softmax), by feature map and number of unique keys S, rounded to
#: four decimals. Their "linear" map is elu+1 (Katharopoulos et al. 2020), named ``elu1`` here.
SCHLAG2021_LOGS: dict[str, dict[int, float]] = {
    'elu1': {20: 0.0009, 40: 0.0008, 60: 0.0246, 80: 0.1101, 100: 0.1715, 120: 0.2324,
        140: 0.2724, 160: 0.3012, 180: 0.3225, 200: 0.3426, 220: 0.3546, 240: 0.3658,
        260: 0.3797, 280: 0.3911, 300: 0.4001, 320: 0.3981, 340: 0.4110, 360: 0.4214,
        380: 0.4012, 400: 0.4222, 420: 0.4223, 440: 0.4274, 460: 0.4359, 480: 0.4328,
        500: 0.4343, 520: 0.4479, 540: 0.4432, 560: 0.4484, 580: 0.4411, 600: 0.4517},
    'dpfp1': {20: 0.0008, 40: 0.0003, 60: 0.0004, 80: 0.0002, 100: 0.0002, 120: 0.0086,
        140: 0.0532, 160: 0.1023, 180: 0.1431, 200: 0.1751, 220: 0.2123, 240: 0.2297,
        260: 0.2715, 280: 0.2840, 300: 0.2881, 320: 0.2771, 340: 0.3466, 360: 0.3389,
        380: 0.3378, 400: 0.3464, 420: 0.3292, 440: 0.3432, 460: 0.3667, 480: 0.3712,
        500: 0.3886, 520: 0.3965, 540: 0.4027, 560: 0.3991, 580: 0.3924, 600: 0.4177},
    'dpfp2': {20: 0.0003, 40: 0.0006, 60: 0.0010, 80: 0.0006, 100: 0.0005, 120: 0.0003,
        140: 0.0005, 160: 0.0004, 180: 0.0003, 200: 0.0004, 220: 0.0007, 240: 0.0005,
        260: 0.0097, 280: 0.0456, 300: 0.0681, 320: 0.1063, 340: 0.1303, 360: 0.1599,
        380: 0.1485, 400: 0.1662, 420: 0.1656, 440: 0.2089, 460: 0.2173, 480: 0.2404,
        500: 0.2806, 520: 0.2529, 540: 0.2791, 560: 0.2947, 580: 0.2591, 600: 0.3263},
    'dpfp3': {20: 0.0005, 40: 0.0009, 60: 0.0005, 80: 0.0007, 100: 0.0005, 120: 0.0005,
        140: 0.0009, 160: 0.0002, 180: 0.0004, 200: 0.0009, 220: 0.0003, 240: 0.0005,
        260: 0.0004, 280: 0.0009, 300: 0.0003, 320: 0.0006, 340: 0.0001, 360: 0.0045,
        380: 0.0088, 400: 0.0361, 420: 0.0526, 440: 0.0504, 460: 0.0962, 480: 0.1095,
        500: 0.1718, 520: 0.1346, 540: 0.1698, 560: 0.1790, 580: 0.1694, 600: 0.2012},
    'favor64': {20: 0.1300, 40: 0.2982, 60: 0.4926, 80: 0.5002, 100: 0.5000, 120: 0.5000,
        140: 0.5000, 160: 0.5000, 180: 0.5000, 200: 0.5000, 220: 0.5000, 240: 0.5000,
        260: 0.5000, 280: 0.5000, 300: 0.5000, 320: 0.5000, 340: 0.5000, 360: 0.5000,
        380: 0.5000, 400: 0.5000, 420: 0.5000, 440: 0.5000, 460: 0.5000, 480: 0.5000,
        500: 0.5000, 520: 0.5000, 540: 0.5000, 560: 0.5000, 580: 0.5000, 600: 0.5000},
    'favor128': {20: 0.0797, 40: 0.2102, 60: 0.4849, 80: 0.4999, 100: 0.5000, 120: 0.5000,
        140: 0.5000, 160: 0.5000, 180: 0.5000, 200: 0.5000, 220: 0.5000, 240: 0.5000,
        260: 0.5000, 280: 0.5000, 300: 0.5000, 320: 0.5000, 340: 0.5000, 360: 0.5000,
        380: 0.5000, 400: 0.5000, 420: 0.5000, 440: 0.5000, 460: 0.5000, 480: 0.5000,
        500: 0.5000, 520: 0.5000, 540: 0.5000, 560: 0.5000, 580: 0.5000, 600: 0.5000},
    'favor512': {20: 0.0453, 40: 0.0762, 60: 0.4090, 80: 0.5000, 100: 0.5000, 120: 0.5002,
        140: 0.5000, 160: 0.5000, 180: 0.5000, 200: 0.5000, 220: 0.5000, 240: 0.5000,
        260: 0.5000, 280: 0.5000, 300: 0.5000, 320: 0.5000, 340: 0.5000, 360: 0.5000,
        380: 0.5000, 400: 0.5000, 420: 0.5000, 440: 0.5000, 460: 0.5000, 480: 0.5000,
        500: 0.5000, 520: 0.5000, 540: 0.5000, 560: 0.5000, 580: 0.5000, 600: 0.5000},
    'softmax': {20: 0.0006, 40: 0.0003, 60: 0.0001, 80: 0.0000, 100: 0.0000, 120: 0.0000,
        140: 0.0000, 160: 0.0000, 180: 0.0000, 200: 0.0000, 220: 0.0001, 240: 0.0004,
        260: 0.0000, 280: 0.0000, 300: 0.0000, 320: 0.0000, 340: 0.0000, 360: 0.0268,
        380: 0.0000, 400: 0.0000, 420: 0.0000, 440: 0.0000, 460: 0.0089, 480: 0.0000,
        500: 0.1741, 520: 0.0089, 540: 0.0446, 560: 0.0357, 580: 0.0313, 600: 0.0536},
}

#: Settings of :func:`retrieval_capacity`. ``"paper"`` is Schlag et al.'s setting 1 as their
#: code runs it (hours on a GPU). ``"small"``, the book's default, takes seconds on one CPU core:
#: keys of 16 dimensions instead of 64; elu+1 (m = 16), DPFP-2 (m = 64) and FAVOR+ with 8
#: directions (m = 16) at S = m/2, m and 2m keys, softmax at 32 and 128; at most 1,500 steps
#: instead of 100,000; and the value's one-hot left out of the key projection (their model
#: computes the key from [value, key embedding]; ``value_in_key=True`` restores it, at about
#: four times the cost, with the same losses at this scale to within 0.001). DPFP-1 is left
#: out of the small scale: with 16-dimensional keys (32 features) a query often ends with no
#: active feature in common with its own key, and a product of rectified units then passes no
#: gradient that could bring them together (with their 128 features this is rare).
RETRIEVAL_SCALES: dict[str, dict] = {
    "small": {"d_key": 16, "features": ("elu1", "dpfp2", "favor8", "softmax"),
              "ratios": (0.5, 1.0, 2.0), "softmax_keys": (32, 128), "max_steps": 1500,
              "value_in_key": False},
    "paper": {"d_key": 64, "features": ("elu1", "dpfp1", "dpfp2", "dpfp3", "favor64", "favor128",
                                        "favor512", "softmax"),
              "n_keys": tuple(range(20, 601, 20)), "max_steps": 100_000, "value_in_key": True},
}


def retrieval_capacity(scale: str = "small", *, features: Sequence[str] | None = None,
                       d_key: int | None = None, ratios: Sequence[float] | None = None,
                       n_keys: Sequence[int] | None = None, max_steps: int | None = None,
                       value_in_key: bool | None = None, rule: str = "sum", level: float = 0.01,
                       seed: int = 0, device: torch.device | str = "cpu", progress: bool = False,
                       **train: object) -> dict:
    """Setting-1 capacity of each feature map: final losses against S, and the largest S learned.

    ``scale`` picks the defaults of :data:`RETRIEVAL_SCALES`; any argument overrides them.
    The keys of each map are either ``n_keys`` (the same S for every map, as in Schlag et al.)
    or ``ratios`` × its feature dimension m (softmax, which has no m, uses
    ``softmax_keys``). A map's *capacity* is the largest S on its grid up to which every final
    loss is at most ``level`` (0 if none is; ``level`` is the book's choice: Schlag et al.
    compare loss curves, and their runs stop at 10⁻³). ``**train`` goes to
    :func:`associative_retrieval`. The paper scale trains one map at a time (memory).
    Returns ``{map: {"n_keys", "final_loss", "steps", "bound", "feature_dim", "capacity"}}``
    under ``"maps"``, with the settings used. Explained in Chapter 1, §"Capacity with learned keys".
    """
    if scale not in RETRIEVAL_SCALES:
        raise ValueError(f"scale: expected one of {', '.join(RETRIEVAL_SCALES)}, got {scale!r}")
    cfg = dict(RETRIEVAL_SCALES[scale])
    d = int(d_key if d_key is not None else cfg["d_key"])
    feats = tuple(features if features is not None else cfg["features"])
    steps = int(max_steps if max_steps is not None else cfg["max_steps"])
    vik = bool(value_in_key if value_in_key is not None else cfg["value_in_key"])
    if n_keys is None and ratios is None:
        n_keys, ratios = cfg.get("n_keys"), cfg.get("ratios")
    grid: dict[str, list[int]] = {}
    for name in feats:
        if n_keys is not None:
            grid[name] = sorted({int(n) for n in n_keys})
        elif name == "softmax":
            grid[name] = sorted({int(n) for n in cfg.get("softmax_keys", (32, 128))})
        else:
            m = feature_dim(name, d)
            grid[name] = sorted({max(2, int(round(r * m))) for r in ratios})
    runs = [(name, n) for name in feats for n in grid[name]]
    kw = dict(d_key=d, rule=rule, value_in_key=vik, max_steps=steps, seed=seed, device=device,
              progress=progress, **train)
    if scale == "paper":                                               # one map at a time
        parts = [associative_retrieval([r for r in runs if r[0] == name], **kw) for name in feats]
        res = {k: sum((p[k] for p in parts), []) for k in ("features", "n_keys", "feature_dim",
                                                             "final_loss", "steps", "bound")}
    else:
        res = associative_retrieval(runs, **kw)
    maps = {}
    for name in feats:
        idx = [i for i, f in enumerate(res["features"]) if f == name]
        loss = [res["final_loss"][i] for i in idx]
        cap = capacity_from_losses(grid[name], loss, level)
        maps[name] = {"n_keys": grid[name], "final_loss": loss, "steps": [res["steps"][i] for i in idx],
                      "bound": [res["bound"][i] for i in idx],
                      "feature_dim": None if name == "softmax" else feature_dim(name, d),
                      "capacity": cap}
    return {"maps": maps, "scale": scale, "d_key": d, "rule": rule, "value_in_key": vik,
            "max_steps": steps, "level": level, "seed": seed}


def capacity_from_losses(n_keys: Sequence[int], losses: Sequence[float], level: float = 0.01) -> int:
    """Largest S up to which every loss (in increasing S) is at most ``level``; 0 if the first is not.

    Applied to Schlag et al.'s logs (:data:`SCHLAG2021_LOGS`) and to :func:`retrieval_capacity`.

    >>> capacity_from_losses([20, 40, 60], [0.0009, 0.0008, 0.0246])
    40
    """
    if len(n_keys) != len(losses):
        raise ValueError(f"losses: expected one per S ({len(n_keys)}), got {len(losses)}")
    cap = 0
    for n, val in sorted(zip(n_keys, losses)):
        if not val <= level:
            break
        cap = int(n)
    return cap


def rank_bound(n_keys: int, m: int) -> float:
    """Lower bound ``½ max(0, 1 - m/S)`` on the mean setting-1 loss of any m-dimensional feature map.

    With S unique keys and one-hot values, the S reads (one per key) are the rows of
    ``Ŝ = D⁻¹ φ(Q) φ(K)ᵀ`` (D: the normaliser) and the mean loss is ``‖Ŝ - I‖²_F / 2S``.
    ``Ŝ`` has rank at most m, and the closest rank-m matrix to the S×S identity is
    ``S - m`` away in squared Frobenius norm (Eckart & Young 1936). Not in Schlag et al.,
    who argue the same limit from orthogonality. The bound is for the plain mean over all
    S queries; their evaluation averages chunk means over at most 200 queries, so their
    logged losses can sit slightly below it. Explained in Chapter 1.

    >>> rank_bound(128, 64)
    0.25
    """
    _check_positive("n_keys", n_keys, integer=True)
    _check_positive("m", m, integer=True)
    return 0.5 * max(0.0, 1.0 - m / n_keys)


def _favor_directions(n_runs: int, d: int, n: int, g: torch.Generator) -> torch.Tensor:
    """Random (d, n) projections in blocks of d orthonormal columns, each column scaled by the norm
    of a row of the Gaussian block (as Schlag et al.'s ``orthogonal_random_matrix_``): (R, d, n).

    As in their code, the QR factor's column signs are not corrected, so the directions are not
    uniformly distributed (the first column of each block leans towards -e₁) and the kernel
    estimate is slightly biased; :class:`kvlib.kernels.PositiveRandomFeatures` corrects it.
    """
    blocks = -(-n // d)
    gauss = torch.randn(n_runs, blocks, d, d, generator=g)
    q, _ = torch.linalg.qr(gauss)                                      # (R, blocks, d, d)
    norms = gauss.norm(dim=-1)                                         # (R, blocks, d): row norms
    w = q * norms.unsqueeze(-2)                                        # scale column j by norm j
    return w.permute(0, 2, 1, 3).reshape(n_runs, d, blocks * d)[..., :n]


def _favor_features(x: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """``[exp(xΩ - c), exp(-xΩ - c)]``, ``c = ‖x‖²/2 + log(n)/2 + log(2)/2`` (FAVOR+ with both signs,
    Schlag et al.'s ``prime``): x (R, ..., d), Ω (R, d, n) -> (R, ..., 2n)."""
    lead = x.shape[1:-1]
    flat = x.reshape(x.shape[0], -1, x.shape[-1])                      # (R, P, d)
    u = flat @ omega                                                   # (R, P, n)
    c = 0.5 * flat.square().sum(-1, keepdim=True) + 0.5 * math.log(omega.shape[-1]) + 0.5 * math.log(2)
    out = torch.cat([(u - c).exp(), (-u - c).exp()], dim=-1)
    return out.reshape(x.shape[0], *lead, out.shape[-1])


def _check_runs(runs: Sequence[tuple[str, int]], d_key: int) -> list[tuple[str, int, int]]:
    if not runs:
        raise ValueError("runs: expected at least one (features, n_keys) pair, got none")
    out = []
    for item in runs:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise ValueError(f"runs: expected (features, n_keys) pairs, got {item!r}")
        name, n = item
        if not (isinstance(n, int) and not isinstance(n, bool) and n >= 2):
            raise ValueError(f"runs: expected n_keys to be an integer >= 2, got {n!r} for {name!r}")
        out.append((name, n, 0 if name == "softmax" else feature_dim(name, d_key)))
    return out


def associative_retrieval(runs: Sequence[tuple[str, int]], *, d_key: int = 64, rule: str = "sum",
                          value_in_key: bool = True, batch_size: int = 32, lr: float = 1e-3,
                          max_steps: int = 100_000, test_every: int = 100, test_sequences: int = 20,
                          stop_loss: float = 1e-3, patience: int = 10, max_queries: int = 200,
                          seed: int = 0, device: torch.device | str = "cpu",
                          progress: bool = False) -> dict:
    """Train Schlag et al.'s setting-1 model for each ``(features, S)`` in ``runs``, all in one batch.

    The task (their ``synthetic/``, setting 1): S unique keys and S values (one-hot, never
    trained); every sequence holds all S keys once, in random order, each paired with a
    different value; the query is one of them, the target its value. The model (their
    ``PrefixSumLinearAttentionModel``): each key token has a learned embedding of
    ``int(2.2 S)`` dimensions (N(0, 1) at first); the key is ``W_k [v, e_k] + b`` (d_key
    dimensions; ``value_in_key=False`` drops the one-hot v, the book's small scale), the query
    ``W_q e_q + b``; both pass through the feature map φ (``elu1``, ``dpfp<ν>``, or
    ``favor<n>``, whose random projection is redrawn at every forward pass, as in their code).
    Sum rule: the read is ``Σ_t (φ(q)·φ(k_t)) v_t / (Σ_t φ(q)·φ(k_t) + 10⁻⁶)`` (Eq 3 with a
    feature kernel; the fast weight ``Σ v_t ⊗ φ(k_t)`` read by φ(q), computed in dual form).
    Delta rule (their "ours"): keys and query are divided by the sum of their features and the
    fast weight is written in sequence order with ``β_t = sigmoid(W_β [v, e_k] + b)``; the
    read comes from one triangular solve (:func:`parallel`'s construction). ``"softmax"``: their
    softmax-attention baseline (Xavier-initialised projections, no update rule). Loss
    ``½‖y - v‖²`` averaged over a batch of ``batch_size`` sequences; Adam, learning rate
    10⁻³. Every ``test_every`` steps: ``test_sequences`` fresh sequences, each queried with
    every key (the first ``max_queries``), the loss averaged over chunks of ``batch_size``
    queries as their code does; a run stops when that loss is at most ``stop_loss`` or has not
    improved for more than ``patience`` evaluations. Their code's defaults are these
    arguments' defaults. Where the result cannot depend on the test sequence (sum rule, no
    value in the key, no random features), one test sequence is used: the same number.

    Runs of one feature map are padded to the largest and trained as one batch (padded
    entries have zero gradient, so every run follows its own Adam trajectory); a run that
    has stopped keeps being updated while others of its map train, but its recorded result
    is the one at its stop.
    Departure, not in their code: feature sums are floored at the smallest positive float
    before dividing (an all-zero DPFP vector would give NaN). Returns ``features``,
    ``n_keys``, ``feature_dim``, ``final_loss``, ``steps`` and ``bound`` (:func:`rank_bound`),
    one entry per run in the given order. Explained in Chapter 1, §"Capacity with learned keys".
    """
    if rule not in RULES:
        raise ValueError(f"rule: expected one of {', '.join(RULES)}, got {rule!r}")
    for name, val in (("d_key", d_key), ("batch_size", batch_size), ("max_steps", max_steps),
                      ("test_every", test_every), ("test_sequences", test_sequences),
                      ("max_queries", max_queries)):
        _check_positive(name, val, integer=True)
    _check_positive("lr", lr)
    spec = _check_runs(runs, d_key)
    device = torch.device(device)
    with cpu_threads(1 if device.type == "cpu" else None):
        return _retrieval(spec, int(d_key), rule, bool(value_in_key), int(batch_size), float(lr),
                          int(max_steps), int(test_every), int(test_sequences), float(stop_loss),
                          int(patience), int(max_queries), int(seed), device, progress)


class _RetrievalBatch:
    """The runs of one feature map, padded to the largest and stacked along a leading run axis R."""

    def __init__(self, name: str, runs: list[tuple[str, int, int]], d: int, rule: str, vik: bool,
                 g: torch.Generator, device: torch.device) -> None:
        self.name, self.d, self.rule, self.vik, self.g, self.device = name, d, rule, vik, g, device
        R = self.R = len(runs)
        S = self.S = torch.tensor([n for _, n, _ in runs])                # (R,) keys per run
        emb = torch.tensor([int((n + n) * 1.1) for _, n, _ in runs])      # their embedding size
        self.S_max, self.e_max = int(S.max()), int(emb.max())
        self.key_ok = torch.arange(self.S_max)[None] < S[:, None]          # (R, S_max) real keys
        emb_ok = (torch.arange(self.e_max)[None] < emb[:, None]).float()   # (R, e_max) real dims
        soft = name == "softmax"

        def unif(shape, bound):                                            # bound: (R,) or number
            b = torch.as_tensor(bound, dtype=torch.float32).reshape(-1, *([1] * (len(shape) - 1)))
            return (2 * torch.rand(shape, generator=g) - 1) * b
        # As their reset_parameters: W_k, W_q uniform ±1/√d (Xavier for softmax), biases
        # PyTorch's default ±1/√fan_in; embeddings N(0, 1). Drawn on the CPU.
        fan_k, fan_q = (emb + S).float(), emb.float()
        wk_b = (6 / (fan_k + d)).sqrt() if soft else d ** -0.5
        wq_b = (6 / (fan_q + d)).sqrt() if soft else d ** -0.5
        P = {"E": torch.randn(R, self.S_max, self.e_max, generator=g) * self.key_ok[..., None]
                  * emb_ok[:, None],
             "Wk": unif((R, self.e_max, d), wk_b) * emb_ok[..., None],
             "bk": unif((R, d), fan_k.rsqrt()),
             "Wq": unif((R, self.e_max, d), wq_b) * emb_ok[..., None],
             "bq": unif((R, d), fan_q.rsqrt())}
        if vik:
            P["Wkv"] = unif((R, self.S_max, d), wk_b) * self.key_ok[..., None]
        if rule == "delta" and not soft:
            P["Wb"] = unif((R, self.e_max), fan_k.rsqrt()) * emb_ok
            P["bb"] = unif((R,), fan_k.rsqrt())
            if vik:
                P["Wbv"] = unif((R, self.S_max), fan_k.rsqrt()) * self.key_ok
        self.params = {k: v.to(device).requires_grad_(True) for k, v in P.items()}
        self.ok = self.key_ok.to(device)
        self.okf = self.ok.float()

    def arrangement(self, n_seq: int) -> torch.Tensor:
        """A random permutation of each run's keys per sequence, real keys first: (R, n_seq, S_max)."""
        u = torch.rand(self.R, n_seq, self.S_max, generator=self.g) + 2.0 * (~self.key_ok)[:, None]
        return u.argsort(-1).to(self.device)

    def features(self, x: torch.Tensor, omega: torch.Tensor | None) -> torch.Tensor:
        from kvlib.kernels import FEATURE_MAPS
        if self.name == "elu1":
            return FEATURE_MAPS["elu1"](x)
        if self.name.startswith("dpfp"):
            return FEATURE_MAPS["dpfp"](x, int(self.name[4:]))
        return _favor_features(x, omega)

    def keys(self) -> torch.Tensor:
        """The value-independent part of every key's pre-activation, ``E W_k + b``: (R, S_max, d)."""
        return self.params["E"] @ self.params["Wk"] + self.params["bk"][:, None]

    def losses(self, queries: torch.Tensor, value_of: torch.Tensor | None,
               position: torch.Tensor | None, base: torch.Tensor | None = None) -> torch.Tensor:
        """Per-query loss ½‖y - v‖² (R, b) for queries (R, b), value_of: key -> value (R, b, S_max),
        position: order -> key (R, b, S_max). The values are a permutation of one-hot vectors, so
        the loss over value slots equals the loss of the read indexed by key."""
        s_hat = self.reads(queries, value_of, position, base)         # zero on padded keys
        own = s_hat.gather(-1, queries[..., None]).squeeze(-1)         # (R, b): weight on the target
        return 0.5 * (s_hat.square().sum(-1) - 2 * own + 1)            # ½‖y - v‖², v one-hot

    def reads(self, queries: torch.Tensor, value_of: torch.Tensor | None,
              position: torch.Tensor | None, base: torch.Tensor | None = None) -> torch.Tensor:
        """The read y, indexed by key: ``y[r, b, i]`` is the weight on key i's value (R, b, S_max)."""
        p, R, d, S_max, b = self.params, self.R, self.d, self.S_max, queries.shape[1]
        base = self.keys() if base is None else base                   # (R, S_max, d)
        if self.vik:                                                   # + W_k's one-hot value part
            vcols = p["Wkv"].gather(1, value_of.reshape(R, -1, 1).expand(-1, -1, d))
            k_pre = base[:, None] + vcols.reshape(R, b, S_max, d)      # (R, b, S_max, d)
        else:                                                          # the same in every sequence
            k_pre = base                                               # (R, S_max, d)
        shared = k_pre.ndim == 3
        # E[q] W_q as (E W_q)[q]: the same numbers, and a small gradient scatter
        q_all = p["E"] @ p["Wq"] + p["bq"][:, None]                    # (R, S_max, d)
        q_pre = q_all.gather(1, queries[..., None].expand(-1, -1, d))  # (R, b, d)
        if self.name == "softmax":                                     # their softmax baseline
            from kvlib.kernels import separate
            scores = (q_pre @ k_pre.transpose(-1, -2) if shared else
                      (k_pre @ q_pre[..., None]).squeeze(-1))          # (R, b, S_max)
            s_hat = separate(scores, "softmax", beta=d ** -0.5, mask=self.ok[:, None].expand_as(scores))
        else:
            omega = (_favor_directions(R, d, int(self.name[5:]), self.g).to(self.device)
                     if self.name.startswith("favor") else None)       # redrawn at every pass
            fk = self.features(k_pre, omega)                           # (R, [b,] S_max, m)
            fq = self.features(q_pre, omega)                           # (R, b, m)
            if self.rule == "sum":
                s = fq @ fk.transpose(-1, -2) if shared else (fk @ fq[..., None]).squeeze(-1)
                s = s * self.okf[:, None]                              # padded keys score 0
                s_hat = s / (s.sum(-1, keepdim=True) + 1e-6)           # (R, b, S_max), by key
            else:
                fk = fk * (self.okf[..., None] if shared else self.okf[:, None, :, None])
                s_hat = self._delta(fk, fq, queries, value_of, position, shared)
        return s_hat

    def _delta(self, fk, fq, queries, value_of, position, shared) -> torch.Tensor:
        """Their "ours" rule in sequence order; returns the read by key (R, b, S_max)."""
        p, R, S_max, b = self.params, self.R, self.S_max, queries.shape[1]
        if shared:
            fk = fk[:, None].expand(-1, b, -1, -1)
        kt = fk.gather(2, position[..., None].expand(-1, -1, -1, fk.shape[-1]))   # in order
        kt = kt / kt.sum(-1, keepdim=True).clamp_min(torch.finfo(kt.dtype).tiny)
        qt = fq / (fq.sum(-1, keepdim=True) + 1e-6)
        beta_pre = (p["E"] @ p["Wb"][..., None]).squeeze(-1)[:, None].expand(-1, b, -1)   # by key
        if self.vik:
            beta_pre = beta_pre + p["Wbv"].gather(1, value_of.reshape(R, -1)).reshape(R, b, S_max)
        beta = torch.sigmoid(beta_pre + p["bb"][:, None, None]).gather(2, position)
        beta = beta * self.okf[:, None].expand(-1, b, -1).gather(2, position)   # padding writes 0
        # y = Σ_t (q̃·k̃_t) u_t with (I + diag(β) tril(K̃K̃ᵀ, -1)) U = diag(β) V (see parallel), so
        # the read at position t is β_t w_t with (I + diag(β) tril(K̃K̃ᵀ, -1))ᵀ w = K̃ q̃.
        below = torch.ones(S_max, S_max, device=kt.device).tril_(-1)
        A = (kt @ kt.transpose(-1, -2)) * below * beta[..., None] + torch.eye(S_max, device=kt.device)
        w = torch.linalg.solve_triangular(A.transpose(-1, -2), kt @ qt[..., None], upper=True)
        y = beta * w.squeeze(-1)                                       # (R, b, S_max), by position
        return torch.zeros_like(y).scatter(2, position, y)             # by key

    def sequences(self, n_seq: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Fresh sequences: (value_of, position), each (R, n_seq, S_max), None where not needed."""
        value_of = self.arrangement(n_seq) if self.vik else None
        position = self.arrangement(n_seq) if self.rule == "delta" and self.name != "softmax" else None
        return value_of, position

    def evaluate(self, B: int, n_seq: int, max_queries: int) -> torch.Tensor:
        """Their test: n_seq sequences, every key queried (at most max_queries), chunk means averaged."""
        n_q = torch.clamp(self.S, max=max_queries).to(self.device)     # (R,)
        n_chunks = (n_q + B - 1) // B
        total = torch.zeros(self.R, device=self.device)
        base = self.keys()
        for _ in range(n_seq):                                         # test sequences
            value_of, position = self.sequences(1)
            for c in range(int(n_chunks.max())):                       # chunks of B queries
                q = torch.arange(c * B, (c + 1) * B, device=self.device)[None].expand(self.R, -1)
                ok = q < n_q[:, None]
                ex = (lambda t: None if t is None else t.expand(-1, B, -1))
                lq = self.losses(torch.where(ok, q, 0), ex(value_of), ex(position), base)
                cnt = ok.sum(1)
                total += torch.where(cnt > 0, (lq * ok).sum(1) / cnt.clamp_min(1), 0.0)
        return (total / (n_chunks * n_seq)).cpu()


def _retrieval(spec, d, rule, vik, B, lr, max_steps, test_every, test_sequences, stop_loss, patience,
               max_queries, seed, device, progress) -> dict:
    from kvlib.device import progress as progress_bar

    g = torch.Generator().manual_seed(seed)
    names = sorted({name for name, _, _ in spec})
    index = {name: [i for i, r in enumerate(spec) if r[0] == name] for name in names}
    batches = {name: _RetrievalBatch(name, [spec[i] for i in index[name]], d, rule, vik, g, device)
               for name in names}                                      # one batch per feature map
    n_seq = {name: test_sequences if (vik or name.startswith("favor") or
                                      (rule == "delta" and name != "softmax")) else 1
             for name in names}                                        # 1: the result is the same
    opt = torch.optim.Adam([p for b in batches.values() for p in b.params.values()], lr=lr,
                           fused=device.type in ("cpu", "cuda"))           # fused: same algorithm, faster
    R = len(spec)
    active = torch.ones(R, dtype=torch.bool)
    final = torch.full((R,), math.nan)
    best = torch.full((R,), math.inf)
    strikes = torch.zeros(R, dtype=torch.long)
    steps = torch.zeros(R, dtype=torch.long)

    def evaluate() -> torch.Tensor:
        ev = final.clone()                                             # stopped runs keep theirs
        with torch.no_grad():
            for name, b in batches.items():
                if bool(active[index[name]].any()):
                    ev[index[name]] = b.evaluate(B, n_seq[name], max_queries)
        return ev

    for step in progress_bar(range(1, max_steps + 1), enabled=progress, desc="setting-1 training"):
        opt.zero_grad()                                                # grads None: Adam skips them
        total = 0.0
        for name, b in batches.items():                                # a few feature maps
            if not bool(active[index[name]].any()):                    # all stopped: results fixed
                continue
            value_of, position = b.sequences(B)
            queries = (torch.rand(b.R, B, generator=g) * b.S[:, None]).long().to(device)
            total = total + b.losses(queries, value_of, position).mean(1).sum()  # runs independent
        total.backward()
        opt.step()
        steps += active.long()
        if step % test_every == 0:
            ev = evaluate()
            better = ev < best
            best = torch.where(active & better, ev, best)
            strikes = torch.where(active, torch.where(better, 0, strikes + 1), strikes)
            final = torch.where(active, ev, final)
            active &= ~((ev <= stop_loss) | (strikes > patience))
            if not bool(active.any()):
                break
    if max_steps < test_every:                                         # never evaluated: once now
        final = evaluate()
    m = [r[2] for r in spec]
    return {"features": [r[0] for r in spec], "n_keys": [r[1] for r in spec],
            "feature_dim": [mi or None for mi in m], "final_loss": final.tolist(),
            "steps": steps.tolist(), "bound": [rank_bound(r[1], r[2]) if r[2] else 0.0 for r in spec],
            "d_key": d, "rule": rule, "value_in_key": vik}
