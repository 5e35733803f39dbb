"""Argument checks shared by every kvlib module: one contract for the public API.

Every public function validates its arguments with these helpers before any tensor work,
so bad input is one ``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong
value) whose message names the argument as the caller wrote it, says what was expected and
what was received, e.g. ``beta: expected a finite number > 0, got -1.0``. Nothing here is
part of the public API; the names are imported as ``from kvlib import _checks as check``.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

__all__: list[str] = []          # private: not part of the public contract

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _kind(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    return f"{type(x).__name__} {x!r}" if not isinstance(x, (list, tuple, dict)) else \
        f"{type(x).__name__} of length {len(x)}"


def all_finite(x: torch.Tensor) -> bool:
    """Whether a floating-point tensor holds no NaN or inf (``aminmax``: about ten times faster
    than ``isfinite(x).all()`` on large tensors, and NaN and inf always reach the min or max)."""
    if not x.is_floating_point() or x.numel() == 0:
        return True
    lo, hi = torch.aminmax(x.detach())
    return bool(torch.isfinite(lo)) and bool(torch.isfinite(hi))


def tensor(name: str, x: Any, *, ndim: int | Sequence[int] | None = None,
           shape: Sequence[int | None] | None = None, dtype: str = "float",
           finite: bool = True, nonempty: bool = False, like: torch.Tensor | None = None,
           like_name: str = "") -> torch.Tensor:
    """Check a tensor argument and return it (converted where conversion is exact).

    ``dtype``: ``"float"`` (floating point; integer and boolean tensors are converted to
    ``like``'s dtype or the default float dtype, which is exact for the small integers a
    caller passes), ``"float-strict"`` (floating point only), ``"int"`` (integer),
    ``"bool"``, ``"pm1"`` (entries ±1 of any real dtype, returned as float), or ``"any"``.
    ``shape`` may hold ``None`` for any size. ``like``: must share its device (and, for
    ``"float"``, is converted to its dtype).
    """
    if not isinstance(x, torch.Tensor):
        hint = " (convert it with torch.as_tensor)" if type(x).__module__.startswith("numpy") else ""
        raise TypeError(f"{name}: expected a torch.Tensor, got {_kind(x)}{hint}")
    if x.device.type == "meta":
        raise ValueError(f"{name}: expected a tensor with data, got one on the meta device")
    if x.is_complex():
        raise TypeError(f"{name}: expected a real tensor, got dtype {x.dtype}")
    if dtype in ("float", "float-strict"):
        if not x.is_floating_point():
            if dtype == "float-strict":
                raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
            x = x.to(like.dtype if like is not None and like.is_floating_point()
                     else torch.get_default_dtype())
        elif like is not None and like.is_floating_point() and x.dtype != like.dtype:
            raise TypeError(f"{name}: expected dtype {like.dtype} (as {like_name or 'the memory'}), "
                            f"got {x.dtype}")
    elif dtype == "int":
        if x.is_floating_point() or x.dtype == torch.bool:
            raise TypeError(f"{name}: expected an integer tensor, got dtype {x.dtype}")
    elif dtype == "bool":
        if x.dtype != torch.bool:
            raise TypeError(f"{name}: expected a boolean tensor, got dtype {x.dtype}")
    elif dtype == "pm1":
        if x.dtype == torch.bool:
            raise TypeError(f"{name}: expected a ±1 tensor, got dtype {x.dtype}")
        if x.numel() and not bool(((x == 1) | (x == -1)).all()):
            raise ValueError(f"{name}: expected entries ±1, got values {x.unique()[:5].tolist()}")
        x = x.to(like.dtype if like is not None and like.is_floating_point()
                 else torch.get_default_dtype()) if not x.is_floating_point() else x
    elif dtype != "any":
        raise ValueError(f"dtype: unknown check {dtype!r}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name}: expected {want} dimensions, got shape {tuple(x.shape)}")
    if shape is not None:
        if x.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape)):
            want = "(" + ", ".join("·" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name}: expected shape {want}, got {tuple(x.shape)}")
    if nonempty and x.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor, got shape {tuple(x.shape)}")
    if finite and not all_finite(x):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    if like is not None and x.device != like.device:
        raise ValueError(f"{name}: expected device {like.device} (as {like_name or 'the memory'}), "
                         f"got {x.device}")
    return x


def number(name: str, v: Any, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False, integer: bool = False,
           finite: bool = True) -> Any:
    """A real number (``int`` if ``integer``) in the given range; returns it as ``float`` or ``int``.

    Python numbers, numpy scalars and 0-d tensors are accepted; booleans are not.
    """
    if isinstance(v, torch.Tensor) and v.ndim == 0 and not v.is_complex() and v.dtype != torch.bool:
        v = v.item()
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        kind = "an integer" if integer else "a number"
        raise TypeError(f"{name}: expected {kind}, got {_kind(v)}")
    if integer:
        if isinstance(v, numbers.Integral):
            v = int(v)
        elif math.isfinite(v) and float(v).is_integer():
            v = int(v)
        else:
            raise TypeError(f"{name}: expected an integer, got {v!r}")
    else:
        v = float(v)
        if finite and not math.isfinite(v):
            raise ValueError(f"{name}: expected a finite number, got {v!r}")
        if math.isnan(v):
            raise ValueError(f"{name}: expected a number, got nan")
    bad = (low is not None and (v <= low if low_open else v < low)) or \
          (high is not None and (v >= high if high_open else v > high))
    if bad:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        rng = " and ".join(p for p in (lo, hi) if p)
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name}: expected {kind} {rng}, got {v!r}")
    return v


def positive(name: str, v: Any, integer: bool = False) -> Any:
    """A finite number > 0 (a positive ``int`` if ``integer``)."""
    return number(name, v, low=0, low_open=True, integer=integer)


def count(name: str, v: Any, minimum: int = 0) -> int:
    """An ``int`` >= ``minimum`` (sizes, numbers of items or steps)."""
    return number(name, v, low=minimum, integer=True)


def probability(name: str, v: Any) -> float:
    """A number in [0, 1]."""
    return number(name, v, low=0.0, high=1.0)


def seed(name: str, v: Any) -> int:
    """A seed: an ``int`` in [0, 2**63)."""
    return number(name, v, low=0, high=2**63 - 1, integer=True)


def flag(name: str, v: Any) -> bool:
    """A ``bool`` (not a truthy string or number)."""
    if not isinstance(v, bool):
        raise TypeError(f"{name}: expected True or False, got {_kind(v)}")
    return v


def option(name: str, v: Any, choices: Iterable[str]) -> str:
    """One of the named ``choices`` (a clear error lists them)."""
    choices = list(choices)
    if not isinstance(v, str) or v not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {v!r}")
    return v


def named(name: str, registry: dict, value: Any, signature: str) -> Any:
    """``registry[value]`` for a known name, ``value`` itself if callable, else a clear error."""
    if callable(value):
        return value
    if isinstance(value, str) and value in registry:
        return registry[value]
    raise ValueError(f"{name}: expected one of {', '.join(registry)} or a callable {signature}, "
                     f"got {value!r}")


def result(name: str, value: Any, source: str, keys: str | Sequence[str]) -> dict:
    """``value`` if it is the dict ``source`` returns (holding ``keys``), else a clear error."""
    if not isinstance(value, dict):
        raise TypeError(f"{name}: expected the dict {source} returns, got {type(value).__name__}")
    missing = [k for k in ([keys] if isinstance(keys, str) else keys) if k not in value]
    if missing:
        raise ValueError(f"{name}: expected {source}'s result, missing {', '.join(map(repr, missing))}")
    return value


def sequence(name: str, v: Any, item: Callable[[str, Any], Any] | None = None, *,
             nonempty: bool = True, distinct: bool = False) -> list:
    """A list/tuple/range (not a string), each item checked by ``item(f"{name}[i]", x)``."""
    if isinstance(v, (str, bytes, dict)) or not isinstance(v, (list, tuple, range)):
        if isinstance(v, torch.Tensor) and v.ndim == 1:
            v = v.tolist()
        else:
            raise TypeError(f"{name}: expected a list or tuple, got {_kind(v)}")
    out = [item(f"{name}[{i}]", x) if item is not None else x for i, x in enumerate(v)]
    if nonempty and not out:
        raise ValueError(f"{name}: expected at least one item, got an empty {type(v).__name__}")
    if distinct and len(set(out)) != len(out):
        raise ValueError(f"{name}: expected distinct items, got {list(v)!r}")
    return out


def generator(name: str, g: Any) -> torch.Generator | None:
    """``None`` or a ``torch.Generator``."""
    if g is not None and not isinstance(g, torch.Generator):
        raise TypeError(f"{name}: expected a torch.Generator or None, got {_kind(g)}")
    return g


def device(name: str, d: Any) -> torch.device:
    """A device through :func:`kvlib.device.get_device`, the error naming ``name``."""
    from kvlib.device import get_device
    if d is not None and not isinstance(d, (str, torch.device)):
        raise TypeError(f"{name}: expected a device name such as 'cpu' or 'cuda', or a "
                        f"torch.device, got {_kind(d)}")
    try:
        return get_device(d)
    except ValueError as err:
        msg = str(err)
        raise ValueError(name + msg[len("device"):] if msg.startswith("device:") else
                         f"{name}: {msg}") from None


def finite_result(name: str, x: Any) -> Any:
    """Raise if a computed result is NaN or inf (a diverged run), naming what diverged."""
    bad = False
    if isinstance(x, torch.Tensor):
        bad = x.is_floating_point() and x.numel() > 0 and not bool(torch.isfinite(x).all())
    elif isinstance(x, float):
        bad = not math.isfinite(x)
    if bad:
        raise ValueError(f"{name}: the computation diverged (NaN or inf); lower the learning "
                         "rate or the inverse temperature")
    return x
