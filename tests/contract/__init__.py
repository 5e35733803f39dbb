"""The public-API contract: every name in a kvlib module's ``__all__`` is driven with bad inputs.

Each kvlib module ``kvlib/<m>.py`` (or ``kvlib/<pkg>/<m>.py``) has a file here,
``tests/contract/<m>.py``, holding ``EXAMPLES``: for each public callable a valid call
(:class:`Example`), and ``EXEMPT``: names deliberately left out, each with its reason.
``tests/test_contract.py`` perturbs one argument of each valid call at a time (see
:mod:`tests.contract.engine`) and requires a clear ``ValueError``/``TypeError`` naming that
argument, or, where the input is merely unusual, a finite and correct result. A function
joins the contract by being exported: an exported name with neither an example nor an
exemption fails the suite.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Example:
    """A valid call: ``target()`` returns the callable (default: the exported name itself) and
    ``kwargs()`` fresh keyword arguments for it (small sizes: every case runs in milliseconds).

    ``skip``: arguments not perturbed (say why in a comment); ``nonfinite_ok``: arguments
    where NaN/inf are meaningful (e.g. a mask of -inf scores); ``result_nonfinite_ok``: the
    result may hold inf by design (e.g. "capacity not reached"); ``extra``: additional
    ``(label, argument, bad value, "strict" | "lenient")`` cases (strict: must raise);
    ``options``: string arguments that name one of a fixed set of choices (an unknown or empty
    name must then be a clear error; other strings only must not crash).
    """

    kwargs: Callable[[], dict]
    target: Callable[[], Callable] | None = None
    skip: frozenset = frozenset()
    nonfinite_ok: frozenset = frozenset()
    result_nonfinite_ok: bool = False
    extra: tuple = ()
    options: frozenset = frozenset()
    timeout: float = 20.0
    meta: dict = field(default_factory=dict)


def ex(kwargs: Callable[[], dict], **options: Any) -> Example:
    """Shorthand: ``ex(lambda: dict(x=...), skip={"x"})``."""
    for key in ("skip", "nonfinite_ok", "options"):
        if key in options:
            options[key] = frozenset(options[key])
    return Example(kwargs, **options)
