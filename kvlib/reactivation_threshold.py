"""How strong a reactivation must be: the smallest beta that brings a task back (paper §5.2).

Figure 3B plots Task-1 accuracy against the reactivation strength beta
(:func:`kvlib.continual.beta_sweep`); Chapter 6 summarises each such curve by where it first
reaches a level (95% by default), and compares curves of several variants (a share of the
memories reactivated, the text's setting, shuffled data) by that one number.

Explained in Chapter 6, §"Forgetting, and recovery by reactivation".
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from kvlib import _checks as check

__all__ = ["recovery_beta"]


def recovery_beta(betas: Sequence[float], accuracies: Sequence[float], level: float = 95.0) -> float:
    """The first beta (in the order given) whose accuracy (%) is at least ``level``; NaN if none is.

    >>> recovery_beta([1.0, 1.5, 2.0], [40.0, 96.0, 99.0])
    1.5
    >>> recovery_beta([1.0, 2.0], [40.0, 60.0])
    nan
    """
    betas = check.sequence("betas", betas, lambda n, b: check.number(n, b, low=0))
    accuracies = check.sequence("accuracies", accuracies,
                                lambda n, a: check.number(n, a, low=0, high=100))
    if len(accuracies) != len(betas):
        raise ValueError(f"accuracies: expected one per beta ({len(betas)}), got {len(accuracies)}")
    level = check.number("level", level, low=0, high=100)
    return next((b for b, a in zip(betas, accuracies) if a >= level), math.nan)
