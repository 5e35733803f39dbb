"""Perturb one argument at a time and classify what the call does.

Outcomes of a case:

* ``clear``: a ``ValueError``/``TypeError`` (or :class:`kvlib.data.DataError`) whose message
  names the perturbed argument;
* ``accepted``: a normal return with a finite result (and, for an integer version of a
  float tensor, the same result as the float version: no silent truncation);
* ``unclear``: any other exception, or an error that does not name the argument;
* ``silent``: a non-finite result, an accepted input that must be rejected (NaN/inf, a
  complex or meta tensor, a value of the wrong type), or a different result for an
  integer tensor;
* ``hang``: no return within the example's timeout.

Strict cases must be ``clear``; lenient ones may be ``clear`` or ``accepted``.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import math
import re
import signal
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from contract import Example

STRICT, LENIENT = "strict", "lenient"


class Hang(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def on_alarm(signum, frame):
        raise Hang()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _walk(x: Any, depth: int = 0) -> Iterator[Any]:
    if depth > 6:
        return
    if isinstance(x, (torch.Tensor, float, np.ndarray, np.floating)):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _walk(v, depth + 1)
    elif isinstance(x, (list, tuple)):
        for v in x[:10000]:
            yield from _walk(v, depth + 1)
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            yield from _walk(getattr(x, f.name), depth + 1)


def finite(x: Any) -> bool:
    for leaf in _walk(x):
        if isinstance(leaf, torch.Tensor):
            if leaf.is_floating_point() and leaf.numel() and leaf.device.type != "meta" \
                    and not bool(torch.isfinite(leaf).all()):
                return False
        elif isinstance(leaf, np.ndarray):
            if leaf.dtype.kind == "f" and not np.isfinite(leaf).all():
                return False
        elif not math.isfinite(float(leaf)):
            return False
    return True


def _same(a: Any, b: Any) -> bool:
    la, lb = list(_walk(a)), list(_walk(b))
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            if x.shape != y.shape or not torch.allclose(x.double(), y.double(), atol=1e-5, rtol=1e-4,
                                                        equal_nan=True):
                return False
        elif isinstance(x, float) and isinstance(y, float):
            if not (x == y or abs(x - y) <= 1e-5 + 1e-4 * abs(y)):
                return False
    return True


def cases(name: str, value: Any, none_ok: bool, option: bool = False) -> list[tuple[str, Any, str]]:
    """Bad versions of one argument's valid ``value`` (``none_ok``: its default is None;
    ``option``: a string naming one of fixed choices)."""
    out: list[tuple[str, Any, str]] = [] if none_ok else [("None", None, STRICT)]
    if isinstance(value, torch.Tensor):
        if value.is_floating_point():
            if value.numel():
                nan = value.clone()
                nan.view(-1)[0] = math.nan
                inf = value.clone()
                inf.view(-1)[0] = math.inf
                out += [("NaN entry", nan, STRICT), ("inf entry", inf, STRICT)]
            out += [("complex", value.to(torch.complex64), STRICT),
                    ("integer tensor", value.round().long(), "int"),
                    ("half", value.half(), LENIENT)]
        out += [("meta device", value.to("meta"), STRICT),
                ("numpy array", value.detach().cpu().numpy(), LENIENT),
                ("extra leading axis", value.unsqueeze(0), LENIENT),
                ("list", value.tolist() if value.numel() < 64 else [1.0], LENIENT)]
        if value.ndim >= 1:
            out.append(("empty", value[:0], LENIENT))
            out.append(("0-d", value.reshape(-1)[0].clone() if value.numel() else torch.tensor(0.0),
                        LENIENT))
    elif isinstance(value, bool):
        out += [("string", "yes", STRICT), ("int 2", 2, LENIENT)]
    elif isinstance(value, int):
        out += [("negative", -1, LENIENT), ("zero", 0, LENIENT), ("fraction", value + 0.5, STRICT),
                ("string", str(value), STRICT), ("bool", True, STRICT), ("NaN", math.nan, STRICT)]
    elif isinstance(value, float):
        out += [("NaN", math.nan, STRICT), ("inf", math.inf, STRICT), ("-inf", -math.inf, STRICT),
                ("negative", -abs(value) - 1.0, LENIENT), ("zero", 0.0, LENIENT),
                ("huge", 1e30, LENIENT), ("1e4", 1e4, LENIENT), ("string", str(value), STRICT),
                ("bool", True, STRICT)]
    elif isinstance(value, str):
        kind = STRICT if option else LENIENT
        out += [("unknown option", value + "-bogus", kind), ("empty string", "", kind),
                ("number", 3, STRICT)]
    elif isinstance(value, (list, tuple)):
        out += [("empty", type(value)(), LENIENT), ("string", "abc", STRICT),
                ("with None", type(value)([None]) if isinstance(value, list) else (None,), STRICT)]
        if value and isinstance(value[0], (int, float)) and not isinstance(value[0], bool):
            out.append(("negative item", type(value)([-1] + list(value[1:])), LENIENT))
            out.append(("NaN item", type(value)([math.nan] + list(value[1:])), STRICT))
    elif isinstance(value, torch.Generator):
        out += [("int", 3, STRICT), ("string", "g", STRICT)]
    elif isinstance(value, torch.device) or name == "device":
        out += [("unknown device", "tpu", STRICT), ("number", 3, STRICT)]
    return out


def _names_argument(err: BaseException, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", str(err)) is not None


def run_case(func: Callable, kwargs: dict, name: str, bad: Any, kind: str, example: Example,
             clear_types: tuple) -> tuple[str, str]:
    """Call ``func`` with ``kwargs`` where ``name`` is replaced by ``bad``; classify the outcome."""
    call = dict(kwargs)
    call[name] = bad
    try:
        with _deadline(example.timeout):
            res = func(**call)
    except Hang:
        return "hang", f"no return within {example.timeout:g} s"
    except clear_types as err:
        if _names_argument(err, name):
            return "clear", ""
        return "unclear", f"{type(err).__name__} not naming {name!r}: {str(err)[:200]}"
    except Exception as err:  # noqa: BLE001 - classifying is the point
        return "unclear", f"{type(err).__name__}: {str(err)[:200]}"
    if kind == STRICT:
        return "silent", "accepted an input that must be rejected"
    if not example.result_nonfinite_ok and not finite(res):
        return "silent", "non-finite result"
    if kind == "int":
        ref_call = example.kwargs()                 # fresh: generators in the call start over
        ref_call[name] = bad.to(ref_call[name].dtype)
        try:
            with _deadline(example.timeout):
                ref = func(**ref_call)
        except Exception:  # noqa: BLE001
            return "accepted", ""
        if not _same(res, ref):
            return "silent", "an integer tensor gave a different result from the same values as floats"
    return "accepted", ""


def drive(func: Callable, example: Example, clear_types: tuple) -> dict:
    """Every case of one example: ``{"counts": {...}, "failures": [...]}``."""
    try:
        sig = inspect.signature(func)
        defaults = {p.name: p.default for p in sig.parameters.values()
                    if p.default is not inspect.Parameter.empty}
    except (TypeError, ValueError):
        defaults = {}
    base = example.kwargs()
    with _deadline(example.timeout):
        res = func(**copy.copy(base))
    failures, counts = [], {}
    if not example.result_nonfinite_ok and not finite(res):
        failures.append("valid call: non-finite result")
    todo = []
    for name, value in base.items():
        if name in example.skip:
            continue
        # None is "auto" for a device; otherwise allowed only where it is the default
        none_ok = (name in defaults and defaults[name] is None) or name == "device"
        for label, bad, kind in cases(name, value, none_ok, name in example.options):
            if name in example.nonfinite_ok and label in ("NaN entry", "inf entry", "NaN", "inf",
                                                          "-inf"):
                kind = LENIENT
            todo.append((name, label, bad, kind))
    todo += [(n, label, bad, kind) for label, n, bad, kind in example.extra]
    for name, label, bad, kind in todo:
        outcome, why = run_case(func, example.kwargs(), name, bad, kind, example, clear_types)
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome not in ("clear", "accepted"):
            failures.append(f"{name} = {label}: {outcome}: {why}")
    return {"counts": counts, "failures": failures}
