"""Recall of ±1 patterns read as a binary symmetric channel: flipped bits in, bit errors and
information per bit out. The scores of MESH and Vector-HaSH (and of their Hopfield baselines).

Explained in Chapter 4, §4.2 (``book/04_substrates.ipynb``). Both codes corrupt a cue by flipping
each bit with probability p (``corrupt_p``), score a recall by the fraction of wrong bits
(``err_sens``, ``err_sensl1``; a read-out of exactly 0 counts as half a bit) and report the
mutual information per bit ``1 − H₂(ε)`` of the *mean* error ε over patterns and runs.
"""
from __future__ import annotations

import math

import torch

from kvlib import _checks as check

__all__ = ["flip_bits", "feature_error", "mutual_information"]


def flip_bits(x: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip the sign of each entry of ``x`` independently with probability ``p`` (both codes'
    ``corrupt_p``: multiply by ``sign(u − p)``, u uniform, drawn on the CPU). ``p = 0`` returns
    ``x`` itself. Explained in Chapter 4, §4.2.
    """
    x = check.tensor("x", x, dtype="any")                    # integer patterns stay integer
    if x.dtype == torch.bool:
        raise TypeError(f"x: expected a real tensor of ±1 patterns, got dtype {x.dtype}")
    p = check.probability("p", p)
    check.generator("generator", generator)
    if p == 0:
        return x
    u = torch.rand(x.shape, generator=generator).to(x.device)
    return x * torch.where(u < p, -1.0, 1.0).to(x.dtype)


def feature_error(recalled: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Fraction of wrong bits per pattern, ``|ŝ − s|/2`` averaged over units (0 counts half): (B, n) → (B,).

    MESH's ``err_sens`` and Vector-HaSH's ``err_sensl1``. Integer patterns are converted exactly.
    Explained in Chapter 4, §4.2.
    """
    target = check.tensor("target", target, ndim=2, dtype="pm1", nonempty=True)
    recalled = check.tensor("recalled", recalled, shape=tuple(target.shape))
    if recalled.device != target.device:
        raise ValueError(f"recalled: expected device {target.device} (the target's), got {recalled.device}")
    return (recalled.float() - target.float()).abs().mean(dim=1) / 2


def mutual_information(error: float | torch.Tensor) -> float | torch.Tensor:
    """Mutual information per bit ``1 − H₂(ε)`` of a bit-error rate ε in [0, 1] (a binary symmetric
    channel): a float for a number, a float64 tensor for a tensor.

    Both codes apply it to the *mean* error over patterns and runs (equivalently to the mean
    overlap, ε = (1 − m)/2). Symmetric about ε = 1/2. Explained in Chapter 4, §4.2.

    >>> mutual_information(0.0), mutual_information(0.5), round(mutual_information(0.11), 3)
    (1.0, 0.0, 0.5)
    """
    if isinstance(error, torch.Tensor) and error.ndim > 0:
        e = check.tensor("error", error).double()
        if e.numel() and not bool(((e >= 0) & (e <= 1)).all()):
            raise ValueError(f"error: expected error rates in [0, 1], got values such as "
                             f"{e[(e < 0) | (e > 1)][:3].tolist()}")
    else:
        e = torch.tensor(check.number("error", error, low=0.0, high=1.0), dtype=torch.float64)
    h = -(torch.special.xlogy(e, e) + torch.special.xlogy(1 - e, 1 - e)) / math.log(2)
    out = 1.0 - h
    return float(out) if out.ndim == 0 else out
