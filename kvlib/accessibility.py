"""Interference lowers accessibility, not precision (the review's §4.1, after Berens et al. 2020).

People who learned words paired with locations on a circle were, days later, less likely to
retrieve a location at all, while the locations they did retrieve were as precise as before
(Berens et al. 2020). The two are told apart by fitting the errors with a mixture of guesses
(uniform over the circle) and remembered answers (a von Mises peak around the truth) (Zhang &
Luck 2008). Here:

- :func:`word_location_errors`: a key-value memory stores each word's location as a value
  ``(cos θ, sin θ)``; interference adds unrelated memories, none is erased; a noisy word cue
  reads ``v̂ = softmax(β q Kᵀ) V`` (:func:`kvlib.episodic.weighted_recall`) and answers with
  its angle;
- :func:`fit_guess_vonmises` fits the mixture by expectation-maximisation,
  :func:`circular_sd_deg` turns its concentration into a spread in degrees, and
  :func:`mixture_density` is the fitted density;
- :func:`accessibility_precision` puts these together, with bootstrap intervals.

Randomness: ``seed``, through ``kvlib.device.generator`` (the simulation's stream, and a
``"bootstrap"`` stream for the resampling). Axis names: B participants, P studied pairs, N
memories, I intervals. Explained in Chapter 5, §Accessibility and precision.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from kvlib import _checks as check
from kvlib.device import cpu_threads
from kvlib.device import generator as stream
from kvlib.episodic import noisy_cue, random_unit, weighted_recall

__all__ = ["word_location_errors", "fit_guess_vonmises", "circular_sd_deg", "mixture_density",
           "accessibility_precision", "accessibility_numbers"]

_MAX_MEMORIES = 10**6


def _time(name: str, t) -> int | float:
    """A retention interval >= 0; integers stay integers (they label the book's days)."""
    return t if isinstance(t, int) and not isinstance(t, bool) and t >= 0 else check.number(name, t, low=0)


def word_location_errors(intervals: Sequence[float] = (1, 2, 4, 8, 16, 32), n_pairs: int = 40,
                         participants: int = 20, d: int = 32, beta: float = 100.0,
                         cue_noise: float = 1.5, encoding_sd_deg: float = 20.0,
                         interference_rate: float = 60.0, seed: int = 0,
                         device="cpu") -> dict:
    """Angular recall errors for word-location pairs after each retention interval.

    Each participant studies ``n_pairs`` words (random unit keys) paired with locations on
    a circle (values ``(cos θ, sin θ)``, stored with Gaussian angular noise of
    ``encoding_sd_deg``). During an interval of ``t`` "days", ``interference_rate · t``
    further random key-value memories are stored; none is erased. At test a noisy word cue
    retrieves ``v̂ = softmax(β q Kᵀ) V`` (Eq 3) and the answer is its angle. Returns errors
    in radians, shape (intervals, participants · n_pairs), and the number of interfering
    memories per interval. Explained in Chapter 5, §Accessibility and precision.
    """
    intervals = check.sequence("intervals", intervals, _time)
    P = check.count("n_pairs", n_pairs, minimum=1)
    B = check.count("participants", participants, minimum=1)
    d = check.count("d", d, minimum=2)
    beta = check.positive("beta", beta)
    check.number("cue_noise", cue_noise, low=0, high=1e6)
    encoding_sd = math.radians(check.number("encoding_sd_deg", encoding_sd_deg, low=0, high=1e6))
    rate = check.number("interference_rate", interference_rate, low=0)
    if rate * max(intervals) > _MAX_MEMORIES:
        raise ValueError(f"interference_rate: expected at most {_MAX_MEMORIES} interfering memories "
                         f"(interference_rate x the longest interval), got {rate:g} x {max(intervals):g}")
    gen = stream(check.seed("seed", seed))
    dev = check.device("device", device)
    n_int = [int(round(rate * t)) for t in intervals]
    N = P + max(n_int)
    if B * N * d > 10**8:
        raise ValueError(f"participants: expected at most 10**8 key entries (participants x memories x d), "
                         f"got {B} x {N} x {d}")
    keys = random_unit((B, N, d), gen, dev)                      # (B, N, d): studied, then later ones
    theta = 2 * math.pi * torch.rand((B, N), generator=gen).to(dev)          # true locations
    stored = theta + encoding_sd * torch.randn((B, N), generator=gen).to(dev)
    V = torch.stack([stored.cos(), stored.sin()], -1)            # (B, N, 2)
    errors = []
    for n in n_int:                                              # one memory state per interval
        q = noisy_cue(keys[:, :P], cue_noise, gen)               # (B, P, d)
        v_hat = weighted_recall(q, keys[:, :P + n], V[:, :P + n], beta)   # (B, P, 2): what is stored by then
        answer = torch.atan2(v_hat[..., 1], v_hat[..., 0])
        errors.append(torch.remainder(answer - theta[:, :P] + math.pi, 2 * math.pi) - math.pi)
    return {"interval": intervals, "n_interfering": n_int,
            "errors": torch.stack(errors).reshape(len(intervals), B * P)}


def _a1(kappa: Tensor) -> Tensor:
    """A1(κ) = I1(κ) / I0(κ), the mean resultant length of a von Mises (scaled Bessel functions)."""
    return torch.special.i1e(kappa) / torch.special.i0e(kappa)


def _a1_inverse(r: Tensor) -> Tensor:
    """Best & Fisher's (1981) piecewise approximation to the inverse of A1."""
    r = r.clamp(1e-6, 1 - 1e-6)
    low = 2 * r + r ** 3 + 5 * r ** 5 / 6
    mid = -0.4 + 1.39 * r + 0.43 / (1 - r)
    high = 1 / (r ** 3 - 4 * r ** 2 + 3 * r)
    return torch.where(r < 0.53, low, torch.where(r < 0.85, mid, high))


def _init_value(name: str, value, shape, like: Tensor, low_open: float, high: float | None) -> Tensor:
    if isinstance(value, torch.Tensor):
        value = check.tensor(name, value, like=like, like_name="the errors")
    else:
        value = torch.tensor(check.number(name, value), dtype=like.dtype, device=like.device)
    if bool((value <= low_open).any()) or (high is not None and bool((value >= high).any())):
        rng = f"in ({low_open:g}, {high:g})" if high is not None else f"> {low_open:g}"
        raise ValueError(f"{name}: expected values {rng}, got {value.flatten()[:4].tolist()}")
    try:
        return value.to(like.dtype).expand(shape).clone()
    except RuntimeError:
        raise ValueError(f"{name}: expected a shape that broadcasts to {tuple(shape)}, "
                         f"got {tuple(value.shape)}") from None


def fit_guess_vonmises(errors: Tensor, iterations: int = 500, tol: float = 1e-6,
                       init: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """Fit ``p · VonMises(0, κ) + (1 - p) · Uniform(-π, π)`` to angular errors, by EM.

    The mixture separates accessibility (``p``, the probability that the item was retrieved
    at all) from precision (``κ``, the concentration of retrieved answers) (Zhang & Luck 2008;
    Berens et al. 2020). ``errors`` (..., B) in radians; every leading index is fitted
    separately, so bootstrap resamples fit in one call. EM stops after ``iterations`` or when
    no estimate moves by more than ``tol`` (relative, for κ); ``init`` (p, κ) starts it
    elsewhere than (0.5, 5). Computed in at least float32. Returns ``p`` and ``κ``, each of
    shape (...). Explained in Chapter 5, §Accessibility and precision.

    >>> e = torch.cat([0.1 * torch.randn(900, generator=torch.Generator().manual_seed(0)),
    ...                torch.linspace(-3.14, 3.14, 100)])
    >>> p, kappa = fit_guess_vonmises(e); round(p.item(), 1)
    0.9
    """
    errors = check.tensor("errors", errors)
    if errors.ndim < 1 or errors.shape[-1] < 2:
        raise ValueError(f"errors: expected a tensor (..., B) with B >= 2, got shape {tuple(errors.shape)}")
    errors = errors.to(torch.promote_types(errors.dtype, torch.float32))
    iterations = check.count("iterations", iterations, minimum=1)
    tol = check.number("tol", tol, low=0)
    shape = errors.shape[:-1]
    if init is None:
        p = torch.full(shape, 0.5, dtype=errors.dtype, device=errors.device)
        kappa = torch.full_like(p, 5.0)
    else:
        if isinstance(init, (str, bytes)) or not isinstance(init, (tuple, list)) or len(init) != 2:
            raise TypeError(f"init: expected a pair (p, kappa) or None, got {init!r}")
        p = _init_value("init", init[0], shape, errors, 0.0, 1.0)
        kappa = _init_value("init", init[1], shape, errors, 0.0, None)
    cos = errors.cos()
    for _ in range(iterations):                                  # EM; the loop is the algorithm
        vm = torch.exp(kappa[..., None] * (cos - 1)) / (2 * math.pi * torch.special.i0e(kappa)[..., None])
        remembered = p[..., None] * vm
        resp = remembered / (remembered + (1 - p[..., None]) / (2 * math.pi))   # (..., B)
        p_new = resp.mean(-1)
        kappa_new = _a1_inverse((resp * cos).sum(-1) / resp.sum(-1).clamp_min(1e-12))
        moved = torch.maximum((p_new - p).abs().max(), ((kappa_new - kappa).abs() / kappa).max())
        p, kappa = p_new, kappa_new
        if moved.item() < tol:
            break
    return p, kappa


def circular_sd_deg(kappa: Tensor) -> Tensor:
    """Circular standard deviation (degrees) of a von Mises with concentration ``κ ≥ 0``:
    ``√(-2 ln A1(κ))`` in degrees (infinite at κ = 0, the uniform distribution).

    >>> circular_sd_deg(torch.tensor([400.0])).round()
    tensor([3.])
    """
    kappa = check.tensor("kappa", kappa)
    if kappa.numel() and bool((kappa < 0).any()):
        raise ValueError(f"kappa: expected concentrations >= 0, got a minimum of {kappa.min().item():g}")
    kappa = kappa.to(torch.promote_types(kappa.dtype, torch.float32))
    return torch.rad2deg(torch.sqrt(-2 * torch.log(_a1(kappa))))


def mixture_density(errors_deg: Tensor, p: float, kappa: float) -> Tensor:
    """Density per degree of ``p · VonMises(0, κ) + (1 - p) · Uniform`` at ``errors_deg`` (degrees).

    >>> mixture_density(torch.tensor([0.0, 180.0]), p=0.0, kappa=5.0) * 360
    tensor([1., 1.])
    """
    e = torch.deg2rad(check.tensor("errors_deg", errors_deg).double())
    p = check.probability("p", p)
    kappa = check.number("kappa", kappa, low=0)
    i0e = torch.special.i0e(torch.tensor(kappa, dtype=torch.float64))
    vm = torch.exp(kappa * (e.cos() - 1)) / (2 * math.pi * i0e)
    return ((p * vm + (1 - p) / (2 * math.pi)) * math.pi / 180).to(torch.get_default_dtype())


@cpu_threads(1)
def accessibility_precision(intervals: Sequence[float] = (1, 2, 4, 8, 16, 32),
                            n_boot: int = 300, seed: int = 0, device="cpu", **model) -> dict:
    """Accessibility and precision of the model's answers after each retention interval.

    Simulates :func:`word_location_errors` (``model`` keywords go there), fits the guess +
    von Mises mixture at each interval, and bootstraps 95 % intervals over trials (resamples
    from the ``"bootstrap"`` stream of ``seed``). Precision is reported as the circular SD
    (degrees) of the von Mises component. Free parameters: ``interference_rate`` and
    ``cue_noise``. Explained in Chapter 5, §Accessibility and precision.
    """
    n_boot = check.count("n_boot", n_boot, minimum=10)
    sim = word_location_errors(intervals, seed=seed, device=device, **model)
    err = sim["errors"]                                          # (I, B)
    if n_boot * err.numel() > 10**8:
        raise ValueError(f"n_boot: expected at most 10**8 resampled errors in all, "
                         f"got {n_boot} x {err.numel()}")
    p, kappa = fit_guess_vonmises(err)
    gen = stream(seed, "bootstrap")
    idx = torch.randint(err.shape[1], (n_boot, err.shape[1]), generator=gen).to(err.device)
    boot = err[:, idx]                                           # (I, n_boot, B)
    pb, kb = fit_guess_vonmises(boot, tol=1e-4, init=(p[:, None], kappa[:, None]))
    sd, sdb = circular_sd_deg(kappa), circular_sd_deg(kb)
    q = torch.tensor([0.025, 0.975], dtype=err.dtype, device=err.device)
    p_ci, sd_ci = torch.quantile(pb, q, dim=1), torch.quantile(sdb, q, dim=1)   # (2, I)
    return {"interval": sim["interval"], "n_interfering": sim["n_interfering"],
            "p_memory": p.float().cpu(), "p_memory_ci_low": p_ci[0].float().cpu(),
            "p_memory_ci_high": p_ci[1].float().cpu(), "kappa": kappa.float().cpu(),
            "precision_sd_deg": sd.float().cpu(), "precision_sd_ci_low": sd_ci[0].float().cpu(),
            "precision_sd_ci_high": sd_ci[1].float().cpu(),
            "errors_deg": torch.rad2deg(sim["errors"]).float().cpu()}


def accessibility_numbers(result: dict) -> dict[str, float]:
    """The numbers Chapter 5 quotes from :func:`accessibility_precision`'s ``result``, at the first
    and last retention interval: the interval (days), the interfering lists at the last, the share
    of answers from memory (``ap_p_*``) and the precision SD (degrees), with their bootstrap bounds."""
    if not isinstance(result, dict):
        raise TypeError(f"result: expected the dict accessibility_precision returns, "
                        f"got {type(result).__name__}")
    if "precision_sd_ci_high" not in result:
        raise ValueError("result: expected accessibility_precision's result, missing 'precision_sd_ci_high'")
    p, sd = result["p_memory"], result["precision_sd_deg"]
    lo, hi = result["precision_sd_ci_low"], result["precision_sd_ci_high"]
    return {"ap_days_first": result["interval"][0], "ap_days_last": result["interval"][-1],
            "ap_n_last": result["n_interfering"][-1], "ap_p_first": float(p[0]), "ap_p_last": float(p[-1]),
            "ap_p_last_hi": float(result["p_memory_ci_high"][-1]),
            "ap_p_first_lo": float(result["p_memory_ci_low"][0]),
            "ap_sd_first": float(sd[0]), "ap_sd_last": float(sd[-1]), "ap_sd_first_lo": float(lo[0]),
            "ap_sd_first_hi": float(hi[0]), "ap_sd_last_lo": float(lo[-1]), "ap_sd_last_hi": float(hi[-1])}
