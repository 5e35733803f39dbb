"""The registry of the book's figures, and :func:`reproduce`, which regenerates one as PNG + JSON.

A figure is a function ``func(device, progress=True, **settings) -> (Figure, dict)``
registered with :func:`register`: it calls the chapter's library module (compute) and
the chapter's ``draw_*`` function (draw), and returns the figure with the plotted numbers.
``small`` names settings that make it run in a second or two; the test suite runs every
figure with them. Chapter modules (``kvlib/figures/ch*_*.py``) are listed in
:func:`figures`, so the registry's contents are visible in one place::

    python -m kvlib list
    python -m kvlib reproduce fig3 --out figures --device cpu
"""
from __future__ import annotations

import inspect
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = ["Figure", "register", "figures", "reproduce"]


@dataclass(frozen=True)
class Figure:
    """A registered figure: its ``name``, function, chapter, one-line description and the
    settings that make it small enough for the test suite."""

    name: str
    func: Callable[..., tuple[Any, dict]]
    chapter: str
    description: str
    small: dict = field(default_factory=dict)


_REGISTRY: dict[str, Figure] = {}


def register(name: str, chapter: str, description: str, small: dict | None = None) -> Callable:
    """Decorator: make ``func(device, progress=True, **settings) -> (fig, data)`` reproducible."""
    def deco(func: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name].func.__module__ != func.__module__:
            raise ValueError(f"figure name {name!r} registered twice "
                             f"({_REGISTRY[name].func.__module__} and {func.__module__})")
        _REGISTRY[name] = Figure(name, func, chapter, description, dict(small or {}))
        return func
    return deco


def figures() -> dict[str, Figure]:
    """All registered figures, by name (sorted)."""
    from kvlib.figures import (  # noqa: F401
        ch1_fastweights,
        ch1_kernels,
        ch1_models,
        ch2_representations,
        ch3_dualform,
        ch3_models,
        ch4_models,
        ch4_substrates,
        ch5_evidence,
        ch5_phenomena,
        ch6_simulations,
    )
    return dict(sorted(_REGISTRY.items()))


def _jsonable(obj: Any, where: str = "data") -> Any:
    """Plain JSON values; a NaN or inf anywhere is an error naming where it is."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().tolist()
    elif hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):     # numpy
        obj = obj.tolist()
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError(f"{where}: the computation gave {obj} (it diverged); "
                         "check the settings (a learning rate or inverse temperature too large?)")
    return obj


def _settings_of(func: Callable) -> set[str] | None:
    """The keyword settings a figure function accepts (``None``: it takes ``**settings``)."""
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return {n for n in params if n not in ("device", "progress")}


def reproduce(name: str, out: str | Path = ".", device: str | None = None,
              progress: bool = True, **settings: Any) -> dict:
    """Run figure ``name`` and write ``out/name.png`` and ``out/name.json``; return the JSON dict.

    A result that is not finite is a ``ValueError`` and nothing is written.
    """
    import matplotlib

    from kvlib.device import get_device
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    regs = figures()
    if not isinstance(name, str) or name not in regs:
        raise ValueError(f"figure: unknown figure {name!r}; valid figures are: {', '.join(regs)}")
    accepted = _settings_of(regs[name].func)
    unknown = sorted(set(settings) - accepted) if accepted is not None else []
    if unknown:
        raise ValueError(f"settings: figure {name!r} accepts {', '.join(sorted(accepted)) or 'none'}; "
                         f"got {', '.join(unknown)}")
    dev = get_device(device)
    t0 = time.perf_counter()
    fig, data = regs[name].func(dev, progress=progress, **settings)
    wall = time.perf_counter() - t0
    import kvlib
    record = _jsonable(data)
    record["provenance"] = {
        "figure": name,
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]) if sys.argv else "",
        "settings": _jsonable(settings, "settings"),
        "kvlib": kvlib.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(dev),
        "wall_s": round(wall, 3),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fig.savefig(out / f"{name}.png", dpi=120, bbox_inches="tight")
        (out / f"{name}.json").write_text(json.dumps(record, indent=1, allow_nan=False))
    except OSError as err:
        raise ValueError(f"out: cannot write into {str(out)!r} ({err.strerror or err})") from None
    finally:
        plt.close(fig)
    return record
