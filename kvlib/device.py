"""Where computations run, and how they are made reproducible.

Every chapter calls :func:`get_device` once and :func:`seed_everything` before
anything random. The only thing a GPU is allowed to change is speed: results on
CUDA, Apple MPS and CPU agree up to floating-point noise.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch

__all__ = ["get_device", "seed_everything", "describe_device", "cpu_threads", "progress",
           "float64_device", "synchronize", "best_time", "generator"]

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
    if not isinstance(verbose, bool):
        raise TypeError(f"verbose: expected True or False, got {verbose!r}")
    if device is not None and not isinstance(device, (str, torch.device)):
        raise TypeError(f"device: expected a device name such as 'cpu', 'cuda' or 'auto', or a "
                        f"torch.device, got {type(device).__name__} {device!r}")
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        env = os.environ.get("KVLIB_DEVICE", "").strip()
        if env and env.lower() != "auto":
            try:
                return get_device(env, verbose=verbose)
            except ValueError as err:
                raise ValueError(f"KVLIB_DEVICE (environment variable){str(err)[len('device'):]}"
                                 ) from None
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


def describe_device(device: str | torch.device) -> str:
    """A one-line, human-readable description of ``device``."""
    device = get_device(device)
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
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed: expected a non-negative int, got {seed!r}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed: expected an int in [0, 2**63), got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def cpu_threads(n: int | None = 1) -> contextlib.AbstractContextManager[None]:
    """Run the block with ``n`` CPU threads, restoring the caller's setting on exit.

    Simulations made of many small tensor operations run fastest on one thread: on a busy
    CPU, waking extra threads costs more than they save (measured 10-25x slower on 2 shared
    cores). ``n=None`` leaves the setting alone. GPU work is unaffected. ``n`` is checked
    when called, not when the block is entered.
    """
    if n is not None:
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"n: expected a positive int or None, got {n!r}")
        if n < 1:
            raise ValueError(f"n: expected a positive int or None, got {n!r}")
    return _threads(n)


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def progress(iterable: Iterable | None = None, *, enabled: bool = True, **kwargs: Any):
    """A progress bar (``tqdm.auto``) over ``iterable``, shown only where someone is watching.

    Hidden when ``enabled`` is false, ``KVLIB_PROGRESS=0`` or ``KVLIB_STATIC=1`` (outputs
    for a static page: ``make book`` sets it, so the HTML book shows no finished bars); otherwise a
    notebook widget in Jupyter, Colab and Binder, and a text bar on the command line.
    Bars vanish when done unless ``leave=True``.
    """
    from tqdm.auto import tqdm
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled: expected True or False, got {enabled!r}")
    if iterable is not None and not isinstance(iterable, Iterable):
        raise TypeError(f"iterable: expected an iterable or None, got {type(iterable).__name__}")
    off = os.environ.get("KVLIB_PROGRESS", "").strip().lower() in ("0", "false", "no", "off") or \
        os.environ.get("KVLIB_STATIC", "").strip().lower() in ("1", "true", "yes", "on")
    kwargs.setdefault("leave", False)
    return tqdm(iterable, disable=(not enabled) or off, **kwargs)


def float64_device(device: str | torch.device | None = None) -> torch.device:
    """``device``, or the CPU where it cannot hold float64 (Apple MPS has no float64).

    Identities the book checks to 1e-10 run in float64 here.
    """
    dev = get_device(device)
    return torch.device("cpu") if dev.type == "mps" else dev


def synchronize(device: str | torch.device) -> None:
    """Wait for queued GPU work on ``device`` (a no-op on the CPU), before reading a clock."""
    dev = get_device(device)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def best_time(fn: Callable[[], Any], device: str | torch.device = "cpu", repeats: int = 3,
              warmup: int = 1) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``fn()``, after ``warmup`` calls.

    The one timer of kvlib: the GPU is synchronised before and after each call, and the
    minimum is reported because noise on a shared machine only ever adds time.
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a callable taking no arguments, got {fn!r}")
    device = get_device(device)
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ValueError(f"repeats: expected a positive int, got {repeats!r}")
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
        raise ValueError(f"warmup: expected an int >= 0, got {warmup!r}")
    for _ in range(warmup):
        fn()
    best = math.inf
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def generator(seed: int, stream: str = "") -> torch.Generator:
    """A CPU generator for the named ``stream`` of ``seed``: independent draws without ad-hoc offsets.

    ``generator(0, "keys")`` and ``generator(0, "noise")`` are different, reproducible
    streams; ``generator(s)`` is ``torch.Generator().manual_seed(s)``. torch's CPU generator
    uses only the low 32 bits of a seed, so a named stream's seed is a 32-bit BLAKE2b digest
    of ``(seed, stream)`` (not the seed plus an offset, which could collide). Draw on the CPU
    and move the result, so numbers do not depend on the device.

    >>> float(torch.rand(1, generator=generator(0)))  # doctest: +ELLIPSIS
    0.49...
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed: expected a non-negative int, got {seed!r}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed: expected an int in [0, 2**63), got {seed!r}")
    if not isinstance(stream, str):
        raise TypeError(f"stream: expected a string naming the stream, got {stream!r}")
    if not stream:
        return torch.Generator().manual_seed(seed)
    digest = hashlib.blake2b(f"{seed}/{stream}".encode(), digest_size=4).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little"))
