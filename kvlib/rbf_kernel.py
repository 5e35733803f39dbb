"""The radial basis kernel as a memory's similarity: a kernel-smoother read and why RBF wins.

Tsai et al. (2019, "Transformer dissection") read attention as a kernel smoother,
``v̂ = Σ_n k(q, k_n) v_n / Σ_n k(q, k_n)``, and found the radial basis (Gaussian) kernel
``k(q, k) = exp(-‖q - k‖² / 2h²)`` a little better than the exponential kernel
``exp(q · k / h²)`` of softmax attention; Millidge et al. (2022) found distance similarities
(Euclidean, Manhattan) better than the dot product in associative memories. Three kernels:

=================  ==========================  ================================  =====
kernel             ``k(q, k)``                  the same smoother, as one read    β
=================  ==========================  ================================  =====
``"exponential"``  ``exp(q·k / h²)``            softmax of ``dot``                1/h²
``"rbf"``          ``exp(-‖q-k‖² / 2h²)``       softmax of ``euclidean``          1/2h²
``"laplacian"``    ``exp(-‖q-k‖₁ / h)``         softmax of ``manhattan``          1/h
=================  ==========================  ================================  =====

Normalising a kernel whose log is a similarity *is* a softmax of that similarity, so
:func:`smoother_read` reads through :func:`kvlib.kernels.retrieve` with softmax (computing
the kernel first and normalising after underflows to 0/0 for cues far from every key:
:func:`naive_smoother_read`). What holds by construction: ``-‖q-k‖² = 2 q·k - ‖q‖² - ‖k‖²``,
and ``‖q‖²`` cancels in the normalisation, so on keys of equal norm the RBF smoother *is*
softmax attention at β = 1/h² (:func:`rbf_dot_gap`), and under max separation RBF ranks as
Euclidean. The finding (:func:`smoother_capacity`) is how much the ``-‖k‖²/2h²`` term, a
penalty on large keys, matters when key norms differ, as MNIST images' do.
Explained in Chapter 1, §The radial basis kernel. Axis names: B queries, N memories, d dims.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import generator as seed_stream
from kvlib.device import progress as progress_bar

__all__ = ["SMOOTHER_KERNELS", "smoother_read", "naive_smoother_read", "rbf_dot_gap", "smoother_capacity"]

#: Kernel → (the similarity whose softmax normalises it, β as a function of the bandwidth h).
SMOOTHER_KERNELS = {
    "exponential": ("dot", lambda h: 1.0 / h ** 2),
    "rbf": ("euclidean", lambda h: 1.0 / (2.0 * h ** 2)),
    "laplacian": ("manhattan", lambda h: 1.0 / h),
}


def smoother_read(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                  kernel: str = "rbf", bandwidth: float = 1.0) -> torch.Tensor:
    """The kernel-smoother read ``Σ k(q, k_n) v_n / Σ k(q, k_n)`` (Tsai et al. 2019): (B, d_v).

    One :func:`kvlib.kernels.retrieve`: softmax of the kernel's log-similarity at its β (see
    the module's table), so it stays finite however far a cue is from every key.

    >>> K = torch.tensor([[0., 0.], [3., 0.]]); V = torch.tensor([[0.], [1.]])
    >>> smoother_read(torch.tensor([[2., 0.]]), K, V, "rbf", 1.0)   # e^-0.5 / (e^-2 + e^-0.5)
    tensor([[0.8176]])
    """
    kernel = check.option("kernel", kernel, SMOOTHER_KERNELS)
    h = check.positive("bandwidth", bandwidth)
    similarity, beta = SMOOTHER_KERNELS[kernel]
    return kernels.retrieve(queries, keys, values, similarity, "softmax", beta=beta(h))


def naive_smoother_read(queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                        bandwidth: float = 1.0) -> torch.Tensor:
    """The RBF smoother computed as written: the kernel ``exp(-‖q-k‖²/2h²)``, then normalised.

    Where every kernel value underflows (a cue farther than about ``h √(2·87)`` from every key
    in float32) the weights are all 0 and the read is 0: the reason :func:`smoother_read`
    goes through a softmax.

    >>> K = torch.tensor([[0., 0.], [3., 0.]]); V = torch.tensor([[0.], [1.]])
    >>> naive_smoother_read(torch.tensor([[40., 0.]]), K, V, 1.0)
    tensor([[0.]])
    """
    h = check.positive("bandwidth", bandwidth)
    return kernels.retrieve(queries, keys, values, "rbf", "identity", normalize=True, bandwidth=h)


def rbf_dot_gap(n_keys: int = 200, d: int = 32, query_norm: float = 3.0, bandwidth: float = 0.5,
                seed: int = 0) -> float:
    """Largest difference between the RBF smoother and softmax attention on unit-norm keys.

    ``n_keys`` random unit keys of dimension ``d``, 64 queries of norm ``query_norm``, values
    the keys; softmax attention at β = 1/h². In float64; equal up to rounding (by construction).

    >>> rbf_dot_gap() < 1e-12
    True
    """
    N, d = check.count("n_keys", n_keys, 1), check.count("d", d, 1)
    r = check.positive("query_norm", query_norm)
    h = check.positive("bandwidth", bandwidth)
    g = seed_stream(check.seed("seed", seed), "rbf keys")
    K = torch.nn.functional.normalize(torch.randn(N, d, generator=g, dtype=torch.float64), dim=1)
    Q = r * torch.nn.functional.normalize(torch.randn(64, d, generator=g, dtype=torch.float64), dim=1)
    rbf = smoother_read(Q, K, K, "rbf", h)
    attention = kernels.retrieve(Q, K, K, "dot", "softmax", beta=1.0 / h ** 2)
    return float((rbf - attention).abs().max())


#: Default bandwidth grids for images with pixels in [0, 1] (times 0.1 for unit-norm images).
_GRID = {"exponential": (0.125, 0.25, 0.5, 1.0, 2.0, 4.0), "rbf": (0.125, 0.25, 0.5, 1.0, 2.0, 4.0),
         "laplacian": (0.25, 0.5, 1.0, 2.0, 5.0, 10.0)}


def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=-1)


def smoother_capacity(images: torch.Tensor, n_stored: Sequence[int],
                      kernel_names: Sequence[str] = ("exponential", "rbf", "laplacian"), *,
                      bandwidths: dict | None = None, noise: float = 0.3, n_cues: int = 200,
                      tolerance: float = 0.05, unit_norm: bool = False, seed: int = 0,
                      progress: bool = False) -> dict:
    """Fraction of stored images a noisy cue reads back, per kernel and number stored.

    The first ``N`` of ``images`` (N, d) are stored as keys and values (autoassociation;
    ``unit_norm``: each scaled to norm 1 first, and the noise scaled by ``1/‖x‖`` with it);
    up to ``n_cues`` of them are cued with Gaussian noise of standard deviation ``noise``
    per pixel (seed stream ``"rbf cues"``); a read counts if its squared error is at most
    ``tolerance`` times the stored image's squared norm. Each kernel's bandwidth is the best
    of its grid in ``bandwidths`` (the mean accuracy over ``n_stored``; an oracle choice, the
    same advantage for every kernel). Returns ``{"n_stored", "accuracy": {kernel: [...]},
    "bandwidth": {kernel: h}, "norm_cv"}``, ``norm_cv`` the spread (std / mean) of the stored
    norms. Explained in Chapter 1, §The radial basis kernel.
    """
    X = check.tensor("images", images, ndim=2, nonempty=True)
    sizes = check.sequence("n_stored", n_stored, lambda n, v: check.count(n, v, 1))
    if max(sizes) > X.shape[0]:
        raise ValueError(f"n_stored: expected at most the {X.shape[0]} images given, got {max(sizes)}")
    names = [check.option(f"kernel_names[{i}]", k, SMOOTHER_KERNELS)
             for i, k in enumerate(check.sequence("kernel_names", kernel_names, distinct=True))]
    noise = check.number("noise", noise, low=0.0)
    n_cues = check.count("n_cues", n_cues, 1)
    tolerance = check.positive("tolerance", tolerance)
    check.flag("unit_norm", unit_norm)
    check.flag("progress", progress)
    grid = {k: tuple(h * (0.1 if unit_norm else 1.0) for h in hs) for k, hs in _GRID.items()}
    if bandwidths is not None:
        if not isinstance(bandwidths, dict):
            raise TypeError(f"bandwidths: expected a dict {{kernel: [h, ...]}} or None, got {bandwidths!r}")
        for k, hs in bandwidths.items():
            check.option("bandwidths", k, SMOOTHER_KERNELS)
            grid[k] = tuple(check.sequence(f"bandwidths[{k!r}]", hs, check.positive))
    norms = X.norm(dim=1)
    if bool((norms == 0).any()):
        raise ValueError("images: expected no all-zero image (its norm is 0)")
    g = seed_stream(check.seed("seed", seed), "rbf cues")
    cue_noise = noise * torch.randn(min(n_cues, X.shape[0]), X.shape[1], generator=g).to(X)
    stored = _unit(X) if unit_norm else X
    scale = (1.0 / norms[:cue_noise.shape[0], None]) if unit_norm else 1.0
    accuracy, chosen = {}, {}
    for k in progress_bar(names, enabled=progress, desc="kernels"):
        best = None
        for h in grid[k]:                                   # bandwidth grid (a handful)
            row = []
            for N in sizes:                                 # memories of growing size
                B = min(N, cue_noise.shape[0])
                cues = stored[:B] + cue_noise[:B] * (scale[:B] if unit_norm else 1.0)
                read = smoother_read(cues, stored[:N], stored[:N], k, h)
                err = (read - stored[:B]).square().sum(1) / stored[:B].square().sum(1)
                row.append(float((err <= tolerance).double().mean()))
            if best is None or sum(row) > sum(best[1]):
                best = (h, row)
        chosen[k], accuracy[k] = best
    return {"n_stored": sizes, "accuracy": accuracy, "bandwidth": chosen, "noise": noise,
            "tolerance": tolerance, "unit_norm": unit_norm,
            "norm_cv": float(norms[:max(sizes)].std() / norms[:max(sizes)].mean())}
