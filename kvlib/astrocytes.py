"""Neuron-astrocyte attention: a sketch after Kozachkov, Kastanenka & Krotov (2023).

Explained in Chapter 4, §4.4 (``book/04_substrates.ipynb``).

Hidden neurons carry feature maps ``φ`` of keys and queries; Hebbian hidden→output synapses
store ``H = Σ φ(k_t)ᵀ v_t``. Each astrocyte process wraps the output synapses of one hidden
neuron, keeps a trace ``z_i = Σ_t φ(k_t)_i`` of that neuron's activity while memories are
written, and when a query arrives responds linearly to the neuron's activity,
``a_i = z_i φ(q)_i``. Summed over processes this is the total key-query similarity
``Σ_t φ(q)·φ(k_t)``, and the astrocyte scales every hidden→output synapse by its inverse. The
output is exactly attention with kernel ``φ(q)·φ(k)`` (Eqs 3–4); with positive random features
(Choromanski et al. 2021, :class:`kvlib.kernels.PositiveRandomFeatures`) that kernel is an
unbiased estimate of the softmax kernel ``exp(q·k)`` (Eq 6). *A simplified reading of the
published model: one astrocyte, no dynamics.*

Numerics: ``φ(x) = exp(x ωᵀ − |x|²/2)/√m`` under- or overflows for inputs of moderate norm.
Every computation here works with ``log φ`` and removes a shift before exponentiating (one per
query, one for all the stored keys), which cancels in the normalised output, as
:func:`kvlib.kernels.favor_attention` does; the circuit's synapses and traces are stored in
units of the keys' shift.

Row vectors throughout; axis names: T memories, B queries, d dims, m features (processes).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import float64_device

__all__ = ["random_features", "kernel_attention", "NeuronAstrocyteNetwork", "astrocyte_error_curve",
           "astrocyte_comparison"]


def random_features(d: int, m: int, generator: torch.Generator | None = None,
                    device: str | torch.device = "cpu",
                    dtype: torch.dtype = torch.float64) -> kernels.PositiveRandomFeatures:
    """The hidden neurons' features: ``m`` positive random features of ``d``-dimensional inputs,
    with i.i.d. Gaussian directions (a plain Monte-Carlo estimate of ``exp(q·k)``, error
    ∝ 1/√m), as :class:`kvlib.kernels.PositiveRandomFeatures`. Explained in Chapter 4, §4.4.
    """
    d = check.count("d", d, minimum=1)
    m = check.count("m", m, minimum=1)
    check.generator("generator", generator)
    dev = check.device("device", device)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    return kernels.PositiveRandomFeatures(d, m, orthogonal=False, generator=generator, device=dev,
                                          dtype=dtype)


def _features(features) -> kernels.PositiveRandomFeatures:
    if not isinstance(features, kernels.PositiveRandomFeatures):
        raise TypeError(f"features: expected a kvlib.kernels.PositiveRandomFeatures (see random_features), "
                        f"got {type(features).__name__}")
    return features


def _inputs(features, **named) -> list[torch.Tensor]:
    """Check named (·, d) inputs against the features' dimension, dtype and device."""
    out = []
    for name, x in named.items():
        x = check.tensor(name, x, shape=(None, features.d), like=features.omega, like_name="features")
        out.append(x)
    return out


def kernel_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                     features: kernels.PositiveRandomFeatures,
                     mask: torch.Tensor | None = None) -> torch.Tensor:
    """Attention with kernel ``S(k, q) = φ(q)·φ(k)`` (Eqs 3–4) over the stored memories, read with
    :func:`kvlib.kernels.retrieve`: ``Σ_t S(k_t, q) v_t / Σ_t S(k_t, q)``.

    ``Q`` (B, d), ``K`` (T, d), ``V`` (T, d_v) → (B, d_v). ``mask`` (T,) or (B, T), boolean:
    memories marked False are left out; a query with nothing allowed reads zero. Stabilised:
    log-features shifted per query and for the keys, so any finite input gives finite weights.
    Explained in Chapter 4, §4.4.
    """
    f = _features(features)
    Q, K = _inputs(f, Q=Q, K=K)
    if K.shape[0] == 0:
        raise ValueError(f"K: expected at least one stored memory, got shape {tuple(K.shape)}")
    V = check.tensor("V", V, ndim=2, like=f.omega, like_name="features")
    if V.shape[0] != K.shape[0]:
        raise ValueError(f"V: expected {K.shape[0]} rows (one per row of K), got shape {tuple(V.shape)}")
    lq, lk = f.log_features(Q), f.log_features(K)            # (B, m), (T, m)
    phi_q = (lq - lq.amax(dim=1, keepdim=True)).exp()        # shifts cancel in the normalised read
    phi_k = (lk - lk.amax()).exp()
    return kernels.retrieve(phi_q, phi_k, V, "dot", "identity", normalize=True, mask=mask)


class NeuronAstrocyteNetwork:
    """Hidden neurons φ, Hebbian hidden→output synapses, one astrocyte scaling them.

    Writing phase (:meth:`write`): synapses ``H = Σ_t φ(k_t)ᵀ v_t`` (m, d_v); astrocyte
    process traces ``z = Σ_t φ(k_t)`` (m,). Reading phase (:meth:`read`): hidden activity
    ``φ(q)``, process responses ``a = z ⊙ φ(q)`` (linear in the hidden activity), calcium
    ``c = Σ_i a_i`` (the summed key-query similarity), output ``φ(q) (H / c)``.
    ``features``: a :class:`kvlib.kernels.PositiveRandomFeatures` (:func:`random_features`).
    Explained in Chapter 4, §4.4.
    """

    def __init__(self, features: kernels.PositiveRandomFeatures):
        self.features = _features(features)
        self.H: torch.Tensor | None = None
        self.z: torch.Tensor | None = None
        self.shift = 0.0                                      # H and z are stored in units of exp(shift)

    def write(self, K: torch.Tensor, V: torch.Tensor) -> None:
        """Store keys (T, d) and values (T, d_v)."""
        (K,) = _inputs(self.features, K=K)
        if K.shape[0] == 0:
            raise ValueError(f"K: expected at least one memory, got shape {tuple(K.shape)}")
        V = check.tensor("V", V, ndim=2, like=self.features.omega, like_name="features")
        if K.shape[0] != V.shape[0]:
            raise ValueError(f"V: expected {K.shape[0]} rows to match K, got {V.shape[0]}")
        lk = self.features.log_features(K)                    # (T, m) log hidden activity per memory
        self.shift = float(lk.amax())
        phi = (lk - self.shift).exp()
        self.H = phi.T @ V                                    # Hebbian synapses, (m, d_v)
        self.z = phi.sum(dim=0)                               # astrocyte process traces, (m,)

    def read(self, Q: torch.Tensor) -> dict[str, torch.Tensor]:
        """Queries (B, d) → ``{"hidden", "processes", "calcium", "output"}``.

        ``hidden`` is ``φ(q)``, ``processes`` and ``calcium`` the astrocyte's responses in true
        units (they may overflow for inputs of huge norm); ``output`` is computed from shifted
        quantities and is finite for every finite input (zero where every similarity underflows).
        """
        if self.H is None:
            raise ValueError("read: write memories first")
        (Q,) = _inputs(self.features, Q=Q)
        lq = self.features.log_features(Q)                    # (B, m)
        top = lq.amax(dim=1, keepdim=True)
        hidden_s = (lq - top).exp()                           # φ(q) / exp(top)
        calcium_s = (hidden_s * self.z).sum(dim=1)            # Σ_t φ(q)·φ(k_t), shifted
        safe = torch.where(calcium_s > 0, calcium_s, torch.ones_like(calcium_s))
        output = hidden_s @ self.H / safe[:, None]            # synapses scaled by 1/calcium
        scale = (top[:, 0] + self.shift).exp()                # back to true units
        hidden = lq.exp()
        return {"hidden": hidden, "processes": hidden * self.z * math.exp(self.shift),
                "calcium": calcium_s * scale, "output": output}


def astrocyte_error_curve(n_features: Sequence[int] = (16, 64, 256, 1024, 4096), d: int = 8,
                          n_memories: int = 32, n_queries: int = 16, seeds: Sequence[int] = (0, 1, 2),
                          device: str | torch.device = "cpu") -> dict:
    """How close the neuron-astrocyte output is to kernel and to softmax attention, vs features m.

    Keys and queries are Gaussian with variance 1/d (so ``q·k`` is of order 1). Returns
    ``{"n_features", "to_kernel": [max abs diff], "to_softmax": [mean relative error]}``,
    averaged over seeds, in float64 (on the CPU if ``device`` is Apple MPS). The reference is
    the one read, ``kernels.retrieve(Q, K, V)`` (softmax of dot products).
    Explained in Chapter 4, §4.4.
    """
    ms = check.sequence("n_features", n_features, lambda k, v: check.count(k, v, minimum=1))
    d, T, B = (check.count(k, v, minimum=1) for k, v in (("d", d), ("n_memories", n_memories),
                                                           ("n_queries", n_queries)))
    seeds = check.sequence("seeds", seeds, check.seed)
    dev = float64_device(check.device("device", device))
    to_kernel, to_softmax = [], []
    for m in ms:
        dk, ds = 0.0, 0.0
        for seed in seeds:
            g = torch.Generator().manual_seed(seed)
            K, V, Q = _memories(T, B, d, g, dev)
            feats = random_features(d, m, g, dev)
            net = NeuronAstrocyteNetwork(feats)
            net.write(K, V)
            y = net.read(Q)["output"]
            dk = max(dk, float((y - kernel_attention(Q, K, V, feats)).abs().max()))
            ref = kernels.retrieve(Q, K, V)
            ds += float(((y - ref).norm(dim=1) / ref.norm(dim=1)).mean()) / len(seeds)
        to_kernel.append(dk)
        to_softmax.append(ds)
    return {"n_features": ms, "to_kernel": to_kernel, "to_softmax": to_softmax}


def _memories(T: int, B: int, d: int, g: torch.Generator, dev: torch.device):
    """Keys (T, d) and queries (B, d) with variance 1/d, values (T, d): float64, drawn on the CPU."""
    K = torch.randn(T, d, generator=g, dtype=torch.float64).to(dev) / math.sqrt(d)
    V = torch.randn(T, d, generator=g, dtype=torch.float64).to(dev)
    Q = torch.randn(B, d, generator=g, dtype=torch.float64).to(dev) / math.sqrt(d)
    return K, V, Q


def astrocyte_comparison(m: int = 1024, n_features: Sequence[int] = (16, 64, 256, 1024, 4096),
                         n_memories: int = 32, n_queries: int = 16, d: int = 8, seed: int = 0,
                         device: str | torch.device = "cpu") -> dict:
    """The chapter's astrocyte figure: one circuit of ``m`` processes against softmax attention on
    the same memories, and :func:`astrocyte_error_curve` against the number of processes.

    Returns ``{"m", "softmax" (B, d) reference, "circuit" (B, d) output, "to_kernel" (max abs
    difference from kernel attention), "to_calcium" (relative difference between the calcium
    and the summed similarity), "curve"}``, float64. Explained in Chapter 4, §4.4.
    """
    m = check.count("m", m, minimum=1)
    dev = float64_device(check.device("device", device))
    g = torch.Generator().manual_seed(check.seed("seed", seed))
    d, T, B = (check.count(k, v, minimum=1) for k, v in (("d", d), ("n_memories", n_memories),
                                                           ("n_queries", n_queries)))
    K, V, Q = _memories(T, B, d, g, dev)
    feats = random_features(d, m, g, dev)
    net = NeuronAstrocyteNetwork(feats)
    net.write(K, V)
    out = net.read(Q)
    similarity = feats(Q) @ feats(K).T                        # (B, T): S(k_t, q) = φ(q)·φ(k_t)
    total = similarity.sum(dim=1)
    return {"m": m, "softmax": kernels.retrieve(Q, K, V).cpu(), "circuit": out["output"].cpu(),
            "to_kernel": float((out["output"] - kernel_attention(Q, K, V, feats)).abs().max()),
            "to_calcium": float((out["calcium"] - total).abs().max() / total.abs().max()),
            "curve": astrocyte_error_curve(n_features, d, T, B, device=dev)}
