"""Where computations run, and how they are made reproducible.

Every chapter calls :func:`get_device` once and :func:`seed_everything` before
anything random. The only thing a GPU is allowed to change is speed: results on
CUDA, Apple MPS and CPU agree up to floating-point noise.
"""
from __future__ import annotations

import contextlib
import os
import random
from typing import Any, Iterable, Iterator

import numpy as np
import torch

__all__ = ["get_device", "seed_everything", "describe_device", "cpu_threads", "progress"]

_KNOWN = ("cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def get_device(device: str | torch.device | None = None, verbose: bool = False) -> torch.device:
    """Pick the device a computation runs on.

    With ``device=None`` (or ``"auto"``), the environment variable ``KVLIB_DEVICE`` is
    honoured if set; otherwise CUDA if available, else Apple MPS, else CPU.
    An explicit choice is honoured, and an unknown or unavailable one is a ``ValueError``.

    >>> get_device("cpu")
    device(type='cpu')
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        env = os.environ.get("KVLIB_DEVICE", "").strip()
        if env and env.lower() != "auto":
            return get_device(env, verbose=verbose)
        if torch.cuda.is_available():
            dev = torch.device("cuda")
        elif _mps_available():
            dev = torch.device("mps")
        else:
            dev = torch.device("cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(
                f"device: expected one of {', '.join(_KNOWN)} (optionally with an index, "
                f"like 'cuda:0') or 'auto', got {device!r}"
            ) from err
        if dev.type not in _KNOWN:
            raise ValueError(f"device: expected one of {', '.join(_KNOWN)} or 'auto', got {device!r}")
        if dev.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(f"device: {device!r} was requested but CUDA is not available here; "
                                 "use 'cpu' or 'auto'")
            if dev.index is not None and dev.index >= torch.cuda.device_count():
                raise ValueError(f"device: {device!r} does not exist; this machine has "
                                 f"{torch.cuda.device_count()} CUDA device(s)")
        if dev.type == "mps" and not _mps_available():
            raise ValueError(f"device: {device!r} was requested but Apple MPS is not available here; "
                             "use 'cpu' or 'auto'")
    if verbose:
        print(describe_device(dev))
    return dev


def describe_device(device: torch.device) -> str:
    """A one-line, human-readable description of ``device``."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"Running on CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Running on Apple MPS"
    return f"Running on CPU ({torch.get_num_threads()} threads); a GPU would only make this faster"


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator seeded the same.

    >>> g = seed_everything(0); float(torch.rand(1, generator=g))  # doctest: +ELLIPSIS
    0.49...
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@contextlib.contextmanager
def cpu_threads(n: int | None = 1) -> Iterator[None]:
    """Run the block with ``n`` CPU threads, restoring the caller's setting on exit.

    Simulations made of many small tensor operations run fastest on one thread: on a busy
    CPU, waking extra threads costs more than they save (measured 10-25x slower on 2 shared
    cores). ``n=None`` leaves the setting alone. GPU work is unaffected.
    """
    if n is None:
        yield
        return
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive int or None, got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def progress(iterable: Iterable | None = None, *, enabled: bool = True, **kwargs: Any):
    """A progress bar (``tqdm.auto``) over ``iterable``, shown only where someone is watching.

    Hidden when ``enabled`` is false or the environment variable ``KVLIB_PROGRESS`` is
    ``0`` (``make book`` sets it, so the HTML book shows no finished bars); otherwise a
    notebook widget in Jupyter, Colab and Binder, and a text bar on the command line.
    Bars vanish when done unless ``leave=True``.
    """
    from tqdm.auto import tqdm
    off = os.environ.get("KVLIB_PROGRESS", "").strip().lower() in ("0", "false", "no", "off")
    kwargs.setdefault("leave", False)
    return tqdm(iterable, disable=(not enabled) or off, **kwargs)
