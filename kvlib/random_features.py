"""Random features: kernels of infinite dimension approximated by m explicit features (Eq 4).

A kernel written as ``S(K, q) = φ(q) φ(K)ᵀ`` can be read in time linear in the number of
memories, but the exponential kernel of softmax attention (Eq 6) and the RBF kernel have no
finite φ. Random features give one whose inner products are right on average:

* :class:`RandomFourierFeatures` for the RBF kernel (Rahimi & Recht 2007);
* :class:`PositiveRandomFeatures`, FAVOR+, for the softmax kernel (Choromanski et al. 2021),
  and :func:`favor_attention`, softmax attention through them in linear time;
* :func:`random_feature_error`, how fast the error falls with the number of features m.

Explained in Chapter 1 (``book/01_kernels.ipynb``), §"Random features". Axis names: B
queries, N memories, d dims, m features; row vectors.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib.similarities import check_rows, rbf

__all__ = ["RandomFourierFeatures", "PositiveRandomFeatures", "favor_attention", "random_feature_error"]


def _gaussian_directions(d: int, m: int, orthogonal: bool, generator: torch.Generator | None,
                         device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    """m random directions in R^d, each marginally N(0, I); orthogonal within blocks of d.

    Orthogonal blocks come from the QR decomposition of Gaussian d×d matrices, with
    rows rescaled to chi-distributed norms (Choromanski et al. 2021, FAVOR+).
    Drawn on the CPU in float64 so results do not depend on the device.
    """
    check.positive("n_features", m, integer=True)
    check.flag("orthogonal", orthogonal)
    check.generator("generator", generator)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating-point torch.dtype, got {dtype!r}")
    device = check.device("device", device)
    m = int(m)
    if not orthogonal:
        w = torch.randn(m, d, generator=generator, dtype=torch.float64)
    else:
        n_blocks = -(-m // d)
        g = torch.randn(n_blocks, d, d, generator=generator, dtype=torch.float64)
        qmat, r = torch.linalg.qr(g)                                     # (n_blocks, d, d)
        # Fix the column signs by diag(R): without this, QR's Q is not uniformly random
        # (Haar) and the random-feature estimate is biased.
        qmat = qmat * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
        rows = qmat.transpose(1, 2).reshape(n_blocks * d, d)[:m]         # orthonormal rows
        norms = torch.randn(m, d, generator=generator, dtype=torch.float64).norm(dim=1, keepdim=True)
        w = rows * norms                                                 # (m, d)
    return w.to(device=device, dtype=dtype)


class RandomFourierFeatures:
    """Random Fourier features for the RBF kernel (Rahimi & Recht 2007): (..., d) -> (..., m).

    ``φ(x) = √(2/m) cos(x ωᵀ / h + b)`` with ``ω ~ N(0, I)`` and ``b ~ U[0, 2π)``, so that
    ``E[φ(x)·φ(y)] = exp(-‖x - y‖² / (2h²))`` (Eq 4 with an infinite-dimensional kernel
    approximated by m features). Explained in Chapter 1, §"Random features".
    """

    def __init__(self, d: int, n_features: int, bandwidth: float = 1.0, *, orthogonal: bool = False,
                 generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        check.positive("d", d, integer=True)
        check.positive("bandwidth", bandwidth)
        self.omega = _gaussian_directions(int(d), n_features, orthogonal, generator, device, dtype)
        self.d, self.n_features, self.bandwidth = int(d), int(n_features), float(bandwidth)
        b = torch.rand(self.n_features, generator=generator, dtype=torch.float64) * (2 * math.pi)
        self.phase = b.to(device=self.omega.device, dtype=dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = check.tensor("x", x, ndim=range(1, 64), dtype="float-strict", like=self.omega,
                         like_name="the features")
        if x.shape[-1] != self.d:
            raise ValueError(f"x: expected last dimension {self.d}, got shape {tuple(x.shape)}")
        proj = x @ self.omega.T / self.bandwidth + self.phase           # (..., m)
        return torch.cos(proj) * math.sqrt(2.0 / self.n_features)


class PositiveRandomFeatures:
    """FAVOR+ positive (optionally orthogonal) random features for the softmax kernel.

    ``φ(x) = exp(x ωᵀ - ‖x‖²/2) / √m`` with ``ω ~ N(0, I)`` gives the unbiased,
    always-positive estimate ``E[φ(q)·φ(k)] = exp(q·k)`` (Choromanski et al. 2021).
    Explained in Chapter 1, §"Random features".
    """

    def __init__(self, d: int, n_features: int, *, orthogonal: bool = True,
                 generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        check.positive("d", d, integer=True)
        self.omega = _gaussian_directions(int(d), n_features, orthogonal, generator, device, dtype)
        self.d, self.n_features = int(d), int(n_features)

    def log_features(self, x: torch.Tensor) -> torch.Tensor:
        """``log φ(x)``: (..., d) -> (..., m), before any stabilising shift."""
        x = check.tensor("x", x, ndim=range(1, 64), dtype="float-strict", like=self.omega,
                         like_name="the features")
        if x.shape[-1] != self.d:
            raise ValueError(f"x: expected last dimension {self.d}, got shape {tuple(x.shape)}")
        return x @ self.omega.T - 0.5 * x.square().sum(-1, keepdim=True) - 0.5 * math.log(self.n_features)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``φ(x)``; for large ``‖x‖`` prefer :func:`favor_attention`, which shifts the
        log-features before ``exp`` (here an entry above ~88 in float32 overflows)."""
        return self.log_features(x).exp()


def favor_attention(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                    features: PositiveRandomFeatures) -> torch.Tensor:
    """Softmax attention ``softmax(q Kᵀ / √d) V`` estimated with FAVOR+ features in linear time.

    ``Â = φ(q)(φ(K)ᵀ V) / φ(q)(φ(K)ᵀ 1)`` with inputs scaled by d^(-1/4) so that
    ``φ(q)·φ(k) ≈ exp(q·k/√d)`` (Eqs 4-6). Shifts of the log-features (per query row,
    one global shift for the keys) cancel in the ratio and keep exp() finite.
    Explained in Chapter 1, §"Random features".
    """
    if not isinstance(features, PositiveRandomFeatures):
        raise TypeError(f"features: expected a PositiveRandomFeatures, got {type(features).__name__}")
    check_rows(queries, keys)
    if queries.ndim != 2 or keys.ndim != 2:
        raise ValueError(f"queries, keys: expected shapes (B, d) and (N, d), got "
                         f"{tuple(queries.shape)} and {tuple(keys.shape)}")
    if keys.shape[0] == 0:
        raise ValueError(f"keys: expected at least one stored memory, got shape {tuple(keys.shape)}")
    values = check.tensor("values", values, ndim=2, dtype="float-strict")
    if values.shape[0] != keys.shape[0]:
        raise ValueError(f"values: expected shape (N, d_v) with N = {keys.shape[0]} (one per key), "
                         f"got {tuple(values.shape)}")
    if values.dtype != keys.dtype or values.device != keys.device:
        raise ValueError(f"values: expected dtype {keys.dtype} on {keys.device} (as the keys), "
                         f"got {values.dtype} on {values.device}")
    if queries.shape[1] != features.d:
        raise ValueError(f"queries: expected dimension d = {features.d} (the features'), got "
                         f"{tuple(queries.shape)}")
    scale = queries.shape[1] ** -0.25
    lq = features.log_features(queries * scale)                       # (B, m)
    lk = features.log_features(keys * scale)                          # (N, m)
    phi_q = (lq - lq.amax(dim=1, keepdim=True)).exp()
    phi_k = (lk - lk.amax()).exp()
    kv = phi_k.T @ values                                             # (m, N) @ (N, d_v) -> (m, d_v)
    z = phi_k.sum(0)                                                  # (m,)
    return (phi_q @ kv) / (phi_q @ z).unsqueeze(1)                    # (B, d_v)


def random_feature_error(n_features: Sequence[int], *, n_queries: int = 256, n_keys: int = 512,
                         dim: int = 16, dim_v: int = 16, seeds: int = 3, orthogonal: bool = True,
                         rff: bool = True, device: torch.device | str = "cpu") -> dict[str, list[float]]:
    """Relative error of FAVOR+ attention against exact softmax attention, per feature count m.

    Queries and keys are Gaussian with standard deviation 1/2 (so ``q·k/√d`` is of order
    1), values standard Gaussian, all in float64. Error = ``‖Â - A‖_F / ‖A‖_F``, averaged
    over ``seeds`` draws of the features (the data are fixed). With ``rff``, also the
    relative error of the random Fourier estimate of the RBF kernel matrix (bandwidth √d).
    Explained in Chapter 1, §"Random features".
    """
    n_features = check.sequence("n_features", n_features, lambda n, v: check.count(n, v, 1))
    n_queries, n_keys = check.count("n_queries", n_queries, 1), check.count("n_keys", n_keys, 1)
    dim, dim_v = check.count("dim", dim, 1), check.count("dim_v", dim_v, 1)
    seeds = check.count("seeds", seeds, 1)
    check.flag("orthogonal", orthogonal)
    check.flag("rff", rff)
    device = check.device("device", device)
    from kvlib.kernels import retrieve  # imported here: kvlib.kernels re-exports this module

    g = torch.Generator().manual_seed(0)
    q = (0.5 * torch.randn(n_queries, dim, generator=g, dtype=torch.float64)).to(device)
    k = (0.5 * torch.randn(n_keys, dim, generator=g, dtype=torch.float64)).to(device)
    v = torch.randn(n_keys, dim_v, generator=g, dtype=torch.float64).to(device)
    exact = retrieve(q, k, v, "scaled_dot", "softmax")                       # (B, d_v)
    h = math.sqrt(dim)
    exact_kernel = rbf(q, k, bandwidth=h)                                     # (B, N)
    res: dict[str, list] = {"n_features": [int(m) for m in n_features], "rel_error": []}
    if rff:
        res["rel_error_rff_kernel"] = []
    for m in n_features:                                                      # a sweep of settings
        e, e_rff = 0.0, 0.0
        for s in range(seeds):
            gs = torch.Generator().manual_seed(1000 + s)
            feats = PositiveRandomFeatures(dim, m, orthogonal=orthogonal, generator=gs,
                                           device=device, dtype=torch.float64)
            e += float((favor_attention(q, k, v, feats) - exact).norm() / exact.norm())
            if rff:
                phi = RandomFourierFeatures(dim, m, bandwidth=h, orthogonal=orthogonal, generator=gs,
                                            device=device, dtype=torch.float64)
                e_rff += float((phi(q) @ phi(k).T - exact_kernel).norm() / exact_kernel.norm())
        res["rel_error"].append(e / seeds)
        if rff:
            res["rel_error_rff_kernel"].append(e_rff / seeds)
    return res
