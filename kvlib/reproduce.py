"""Regenerate every figure the book draws, from the command line.

A figure is a function registered with :func:`register`; it takes a device and
keyword settings and returns ``(matplotlib_figure, data_dict)``.
:func:`reproduce` runs one and writes ``NAME.png`` and ``NAME.json`` side by side,
the JSON carrying the data plus provenance (command, settings, versions, device,
wall time)::

    python -m kvlib list
    python -m kvlib reproduce fig3 --out figures --device cpu

Figure functions live in the modules of ``kvlib.figures`` (one per chapter) and
are found automatically, so a new chapter registers figures without touching
this file.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

__all__ = ["register", "figures", "reproduce", "Figure"]


@dataclass(frozen=True)
class Figure:
    name: str
    func: Callable[..., tuple[Any, dict]]
    chapter: str
    description: str


_REGISTRY: dict[str, Figure] = {}


def register(name: str, chapter: str, description: str) -> Callable:
    """Decorator: make ``func(device, **settings) -> (fig, data)`` reproducible as ``name``."""
    def deco(func: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name].func.__module__ != func.__module__:
            raise ValueError(f"figure name {name!r} registered twice "
                             f"({_REGISTRY[name].func.__module__} and {func.__module__})")
        _REGISTRY[name] = Figure(name, func, chapter, description)
        return func
    return deco


def _discover() -> None:
    from kvlib import figures as pkg
    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


def figures() -> dict[str, Figure]:
    """All registered figures, by name (sorted)."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    if hasattr(obj, "tolist"):          # numpy arrays and scalars
        return obj.tolist()
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def reproduce(name: str, out: str | Path = ".", device: str | None = None,
              progress: bool = True, **settings: Any) -> dict:
    """Run figure ``name`` and write ``out/name.png`` and ``out/name.json``; return the JSON dict."""
    from kvlib.device import get_device
    import matplotlib
    matplotlib.use("Agg")

    regs = figures()
    if name not in regs:
        raise ValueError(f"figure: unknown figure {name!r}; valid figures are: {', '.join(regs)}")
    dev = get_device(device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fig, data = regs[name].func(dev, progress=progress, **settings)
    wall = time.perf_counter() - t0
    png = out / f"{name}.png"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    import kvlib
    record = _jsonable(data)
    record["provenance"] = {
        "figure": name,
        "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]) if sys.argv else "",
        "settings": _jsonable(settings),
        "kvlib": kvlib.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(dev),
        "wall_s": round(wall, 3),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (out / f"{name}.json").write_text(json.dumps(record, indent=1))
    return record
