"""Capacity with learned keys: the largest S each feature map learns in Schlag et al.'s setting 1.

:func:`retrieval_capacity` runs their associative retrieval task
(:func:`kvlib.associative_retrieval.associative_retrieval`) on a grid of key counts S per
feature map, at the book's small scale or theirs (:data:`RETRIEVAL_SCALES`), and reads off the
largest S learned (:func:`capacity_from_losses`); :data:`SCHLAG2021_LOGS` holds the final
losses of their own committed runs, to set beside the book's.

Explained in Chapter 1 (``book/01_kernels.ipynb``), §"Capacity with learned keys".
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib.associative_retrieval import associative_retrieval
from kvlib.fastweights import RULES, feature_dim

__all__ = ["SCHLAG2021_LOGS_URL", "SCHLAG2021_LOGS", "RETRIEVAL_SCALES", "retrieval_capacity",
           "capacity_from_losses"]

#: Where :data:`SCHLAG2021_LOGS` come from (commit ebe13ea of their repository).
SCHLAG2021_LOGS_URL = ("https://github.com/ischlag/fast-weight-transformers/tree/"
                       "ebe13ea2e6409da91d12d22175f4f6efe8bf2f0a/synthetic/logs")

#: Schlag et al.'s committed results for setting 1 (d_key = 64, sum rule; softmax: plain
#: softmax attention): the last evaluation loss of each log ``d64_<map>_sum_AssocSeq<S>N<S>R0.csv``
#: (``d64_softmax_cat_...`` for softmax), by feature map and number of unique keys S, rounded to
#: four decimals. Their "linear" map is elu+1 (Katharopoulos et al. 2020), named ``elu1`` here.
SCHLAG2021_LOGS: dict[str, dict[int, float]] = {
    'elu1': {20: 0.0009, 40: 0.0008, 60: 0.0246, 80: 0.1101, 100: 0.1715, 120: 0.2324,
        140: 0.2724, 160: 0.3012, 180: 0.3225, 200: 0.3426, 220: 0.3546, 240: 0.3658,
        260: 0.3797, 280: 0.3911, 300: 0.4001, 320: 0.3981, 340: 0.4110, 360: 0.4214,
        380: 0.4012, 400: 0.4222, 420: 0.4223, 440: 0.4274, 460: 0.4359, 480: 0.4328,
        500: 0.4343, 520: 0.4479, 540: 0.4432, 560: 0.4484, 580: 0.4411, 600: 0.4517},
    'dpfp1': {20: 0.0008, 40: 0.0003, 60: 0.0004, 80: 0.0002, 100: 0.0002, 120: 0.0086,
        140: 0.0532, 160: 0.1023, 180: 0.1431, 200: 0.1751, 220: 0.2123, 240: 0.2297,
        260: 0.2715, 280: 0.2840, 300: 0.2881, 320: 0.2771, 340: 0.3466, 360: 0.3389,
        380: 0.3378, 400: 0.3464, 420: 0.3292, 440: 0.3432, 460: 0.3667, 480: 0.3712,
        500: 0.3886, 520: 0.3965, 540: 0.4027, 560: 0.3991, 580: 0.3924, 600: 0.4177},
    'dpfp2': {20: 0.0003, 40: 0.0006, 60: 0.0010, 80: 0.0006, 100: 0.0005, 120: 0.0003,
        140: 0.0005, 160: 0.0004, 180: 0.0003, 200: 0.0004, 220: 0.0007, 240: 0.0005,
        260: 0.0097, 280: 0.0456, 300: 0.0681, 320: 0.1063, 340: 0.1303, 360: 0.1599,
        380: 0.1485, 400: 0.1662, 420: 0.1656, 440: 0.2089, 460: 0.2173, 480: 0.2404,
        500: 0.2806, 520: 0.2529, 540: 0.2791, 560: 0.2947, 580: 0.2591, 600: 0.3263},
    'dpfp3': {20: 0.0005, 40: 0.0009, 60: 0.0005, 80: 0.0007, 100: 0.0005, 120: 0.0005,
        140: 0.0009, 160: 0.0002, 180: 0.0004, 200: 0.0009, 220: 0.0003, 240: 0.0005,
        260: 0.0004, 280: 0.0009, 300: 0.0003, 320: 0.0006, 340: 0.0001, 360: 0.0045,
        380: 0.0088, 400: 0.0361, 420: 0.0526, 440: 0.0504, 460: 0.0962, 480: 0.1095,
        500: 0.1718, 520: 0.1346, 540: 0.1698, 560: 0.1790, 580: 0.1694, 600: 0.2012},
    'favor64': {20: 0.1300, 40: 0.2982, 60: 0.4926, 80: 0.5002, 100: 0.5000, 120: 0.5000,
        140: 0.5000, 160: 0.5000, 180: 0.5000, 200: 0.5000, 220: 0.5000, 240: 0.5000,
        260: 0.5000, 280: 0.5000, 300: 0.5000, 320: 0.5000, 340: 0.5000, 360: 0.5000,
        380: 0.5000, 400: 0.5000, 420: 0.5000, 440: 0.5000, 460: 0.5000, 480: 0.5000,
        500: 0.5000, 520: 0.5000, 540: 0.5000, 560: 0.5000, 580: 0.5000, 600: 0.5000},
    'favor128': {20: 0.0797, 40: 0.2102, 60: 0.4849, 80: 0.4999, 100: 0.5000, 120: 0.5000,
        140: 0.5000, 160: 0.5000, 180: 0.5000, 200: 0.5000, 220: 0.5000, 240: 0.5000,
        260: 0.5000, 280: 0.5000, 300: 0.5000, 320: 0.5000, 340: 0.5000, 360: 0.5000,
        380: 0.5000, 400: 0.5000, 420: 0.5000, 440: 0.5000, 460: 0.5000, 480: 0.5000,
        500: 0.5000, 520: 0.5000, 540: 0.5000, 560: 0.5000, 580: 0.5000, 600: 0.5000},
    'favor512': {20: 0.0453, 40: 0.0762, 60: 0.4090, 80: 0.5000, 100: 0.5000, 120: 0.5002,
        140: 0.5000, 160: 0.5000, 180: 0.5000, 200: 0.5000, 220: 0.5000, 240: 0.5000,
        260: 0.5000, 280: 0.5000, 300: 0.5000, 320: 0.5000, 340: 0.5000, 360: 0.5000,
        380: 0.5000, 400: 0.5000, 420: 0.5000, 440: 0.5000, 460: 0.5000, 480: 0.5000,
        500: 0.5000, 520: 0.5000, 540: 0.5000, 560: 0.5000, 580: 0.5000, 600: 0.5000},
    'softmax': {20: 0.0006, 40: 0.0003, 60: 0.0001, 80: 0.0000, 100: 0.0000, 120: 0.0000,
        140: 0.0000, 160: 0.0000, 180: 0.0000, 200: 0.0000, 220: 0.0001, 240: 0.0004,
        260: 0.0000, 280: 0.0000, 300: 0.0000, 320: 0.0000, 340: 0.0000, 360: 0.0268,
        380: 0.0000, 400: 0.0000, 420: 0.0000, 440: 0.0000, 460: 0.0089, 480: 0.0000,
        500: 0.1741, 520: 0.0089, 540: 0.0446, 560: 0.0357, 580: 0.0313, 600: 0.0536},
}

#: Settings of :func:`retrieval_capacity`. ``"paper"`` is Schlag et al.'s setting 1 as their
#: code runs it (hours on a GPU). ``"small"``, the book's default, takes seconds on one CPU core:
#: keys of 16 dimensions instead of 64; elu+1 (m = 16), DPFP-2 (m = 64) and FAVOR+ with 8
#: directions (m = 16) at S = m/2, m and 2m keys, softmax at 32 and 128; at most 1,500 steps
#: instead of 100,000; and the value's one-hot left out of the key projection (their model
#: computes the key from [value, key embedding]; ``value_in_key=True`` restores it, at about
#: four times the cost, with the same losses at this scale to within 0.001). DPFP-1 is left
#: out of the small scale: with 16-dimensional keys (32 features) a query often ends with no
#: active feature in common with its own key, and a product of rectified units then passes no
#: gradient that could bring them together (with their 128 features this is rare).
RETRIEVAL_SCALES: dict[str, dict] = {
    "small": {"d_key": 16, "features": ("elu1", "dpfp2", "favor8", "softmax"),
              "ratios": (0.5, 1.0, 2.0), "softmax_keys": (32, 128), "max_steps": 1500,
              "value_in_key": False},
    "paper": {"d_key": 64, "features": ("elu1", "dpfp1", "dpfp2", "dpfp3", "favor64", "favor128",
                                        "favor512", "softmax"),
              "n_keys": tuple(range(20, 601, 20)), "max_steps": 100_000, "value_in_key": True},
}


def _name(name: str, value: object) -> str:
    """A feature-map name of setting 1 (``elu1``, ``dpfp<ν>``, ``favor<n>`` or ``softmax``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a feature-map name such as 'elu1', got {value!r}")
    if value != "softmax":
        try:
            feature_dim(value, 1)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
    return value


def retrieval_capacity(scale: str = "small", *, features: Sequence[str] | None = None,
                       d_key: int | None = None, ratios: Sequence[float] | None = None,
                       n_keys: Sequence[int] | None = None, max_steps: int | None = None,
                       value_in_key: bool | None = None, rule: str = "sum", level: float = 0.01,
                       seed: int = 0, device: torch.device | str = "cpu", progress: bool = False,
                       **train: object) -> dict:
    """Setting-1 capacity of each feature map: final losses against S, and the largest S learned.

    ``scale`` picks the defaults of :data:`RETRIEVAL_SCALES`; any argument overrides them.
    The keys of each map are either ``n_keys`` (the same S for every map, as in Schlag et al.)
    or ``ratios`` × its feature dimension m (softmax, which has no m, uses
    ``softmax_keys``). A map's *capacity* is the largest S on its grid up to which every final
    loss is at most ``level`` (0 if none is; ``level`` is the book's choice: Schlag et al.
    compare loss curves, and their runs stop at 10⁻³). ``**train`` goes to
    :mod:`kvlib.associative_retrieval`. The paper scale trains one map at a time (memory).
    Returns ``{map: {"n_keys", "final_loss", "steps", "bound", "feature_dim", "capacity"}}``
    under ``"maps"``, with the settings used. Explained in Chapter 1, §"Capacity with learned keys".
    """
    if not isinstance(scale, str) or scale not in RETRIEVAL_SCALES:
        raise ValueError(f"scale: expected one of {', '.join(RETRIEVAL_SCALES)}, got {scale!r}")
    if features is not None:
        features = check.sequence("features", features, _name, distinct=True)
    if d_key is not None:
        check.positive("d_key", d_key, integer=True)
    if ratios is not None:
        ratios = check.sequence("ratios", ratios, check.positive)
    if n_keys is not None:
        n_keys = check.sequence("n_keys", n_keys, lambda n, v: check.count(n, v, 2))
    if max_steps is not None:
        check.positive("max_steps", max_steps, integer=True)
    if value_in_key is not None:
        check.flag("value_in_key", value_in_key)
    if not isinstance(rule, str) or rule not in RULES:
        raise ValueError(f"rule: expected one of {', '.join(RULES)}, got {rule!r}")
    level = check.number("level", level, low=0)
    cfg = dict(RETRIEVAL_SCALES[scale])
    d = int(d_key if d_key is not None else cfg["d_key"])
    feats = tuple(features if features is not None else cfg["features"])
    steps = int(max_steps if max_steps is not None else cfg["max_steps"])
    vik = bool(value_in_key if value_in_key is not None else cfg["value_in_key"])
    if n_keys is None and ratios is None:
        n_keys, ratios = cfg.get("n_keys"), cfg.get("ratios")
    grid: dict[str, list[int]] = {}
    for name in feats:
        if n_keys is not None:
            grid[name] = sorted({int(n) for n in n_keys})
        elif name == "softmax":
            grid[name] = sorted({int(n) for n in cfg.get("softmax_keys", (32, 128))})
        else:
            m = feature_dim(name, d)
            grid[name] = sorted({max(2, int(round(r * m))) for r in ratios})
    runs = [(name, n) for name in feats for n in grid[name]]
    kw = dict(d_key=d, rule=rule, value_in_key=vik, max_steps=steps, seed=seed, device=device,
              progress=progress, **train)
    if scale == "paper":                                               # one map at a time
        parts = [associative_retrieval([r for r in runs if r[0] == name], **kw) for name in feats]
        res = {k: sum((p[k] for p in parts), []) for k in ("features", "n_keys", "feature_dim",
                                                             "final_loss", "steps", "bound")}
    else:
        res = associative_retrieval(runs, **kw)
    maps = {}
    for name in feats:
        idx = [i for i, f in enumerate(res["features"]) if f == name]
        loss = [res["final_loss"][i] for i in idx]
        cap = capacity_from_losses(grid[name], loss, level)
        maps[name] = {"n_keys": grid[name], "final_loss": loss, "steps": [res["steps"][i] for i in idx],
                      "bound": [res["bound"][i] for i in idx],
                      "feature_dim": None if name == "softmax" else feature_dim(name, d),
                      "capacity": cap}
    return {"maps": maps, "scale": scale, "d_key": d, "rule": rule, "value_in_key": vik,
            "max_steps": steps, "level": level, "seed": seed}


def capacity_from_losses(n_keys: Sequence[int], losses: Sequence[float], level: float = 0.01) -> int:
    """Largest S up to which every loss (in increasing S) is at most ``level``; 0 if the first is not.

    Applied to Schlag et al.'s logs (:data:`SCHLAG2021_LOGS`) and to :func:`retrieval_capacity`.

    >>> capacity_from_losses([20, 40, 60], [0.0009, 0.0008, 0.0246])
    40
    """
    n_keys = check.sequence("n_keys", n_keys, lambda n, v: check.count(n, v, 1))
    losses = check.sequence("losses", losses, lambda n, v: check.number(n, v, finite=False))
    level = check.number("level", level)
    if len(n_keys) != len(losses):
        raise ValueError(f"losses: expected one per S ({len(n_keys)}), got {len(losses)}")
    cap = 0
    for n, val in sorted(zip(n_keys, losses)):
        if not val <= level:
            break
        cap = int(n)
    return cap
