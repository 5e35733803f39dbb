"""Schlag, Irie & Schmidhuber (2021)'s associative retrieval task ("setting 1"): keys learned by SGD.

S unique keys, each paired with a one-hot value in a random sequence; after the sequence, a
query names one key and the model must return its value. Their model writes the sequence
into a fast weight through a feature map φ (linear attention, Eq 3 with a feature kernel,
Eq 4) and learns the key and query projections; the final test loss against S shows how many
pairs each φ can separate. :func:`associative_retrieval` trains their model for many (map, S)
runs at once; :func:`rank_bound` is the loss no m-dimensional map can beat. The capacities
read off these runs, and their committed logs, are in :mod:`kvlib.learned_capacity`.

Explained in Chapter 1 (``book/01_kernels.ipynb``), §"Capacity with learned keys".
Axis names: R runs, S keys, d = d_key, m features, b queries; row vectors.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar
from kvlib.fastweights import RULES, feature_dim
from kvlib.kernels import separate
from kvlib.similarities import FEATURE_MAPS

__all__ = ["associative_retrieval", "rank_bound"]

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
    n_keys = check.positive("n_keys", n_keys, integer=True)
    m = check.positive("m", m, integer=True)
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
    if isinstance(runs, (str, bytes)) or not isinstance(runs, Sequence) or not runs:
        raise ValueError(f"runs: expected at least one (features, n_keys) pair, got {runs!r}")
    out = []
    for item in runs:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise ValueError(f"runs: expected (features, n_keys) pairs, got {item!r}")
        name, n = item
        if not (isinstance(n, int) and not isinstance(n, bool) and n >= 2):
            raise ValueError(f"runs: expected n_keys to be an integer >= 2, got {n!r} for {name!r}")
        try:
            m = 0 if name == "softmax" else feature_dim(name, d_key)
        except ValueError as err:
            raise ValueError(f"runs: {err}") from None
        out.append((name, n, m))
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
    read comes from one triangular solve (as :func:`kvlib.fastweights.delta_values`). ``"softmax"``: their
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
    if not isinstance(rule, str) or rule not in RULES:
        raise ValueError(f"rule: expected one of {', '.join(RULES)}, got {rule!r}")
    for name, val in (("d_key", d_key), ("batch_size", batch_size), ("max_steps", max_steps),
                      ("test_every", test_every), ("test_sequences", test_sequences),
                      ("max_queries", max_queries)):
        check.positive(name, val, integer=True)
    check.number("lr", lr, low=0, low_open=True, high=1.0)          # Adam's step size
    check.flag("value_in_key", value_in_key)
    check.number("stop_loss", stop_loss)
    check.count("patience", patience)
    check.seed("seed", seed)
    check.flag("progress", progress)
    spec = _check_runs(runs, d_key)
    device = check.device("device", device)
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
