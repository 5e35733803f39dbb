"""Irie et al.'s MNIST training run, recorded: the setting their spotlight analysis reads.

Irie, Csordás & Schmidhuber (ICML 2022; code ``RobertCsordas/linear_layer_as_attention``,
``tasks/simple/ff_as_attention/``) train an MLP on MNIST with SGD, momentum and gradient
clipping while forward hooks keep the input of every linear layer for every example of every
step. :class:`SpotlightConfig` holds their setting (:meth:`SpotlightConfig.source`) and the
book's smaller default; :func:`train_recorded` trains it under a
:class:`~kvlib.recorder.MemoryRecorder` and returns a :class:`SpotlightRun`, which
:mod:`kvlib.attribution` analyses. Explained in Chapter 3, §Spotlights of attention.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import nn

from kvlib import _checks as check
from kvlib.device import cpu_threads, float64_device, get_device
from kvlib.device import generator as seed_stream
from kvlib.device import progress as progress_bar
from kvlib.recorder import MemoryRecorder
from kvlib.training import make_mlp

__all__ = ["SpotlightConfig", "SpotlightRun", "train_recorded"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class SpotlightConfig:
    """One training run recorded for the spotlight analysis.

    The defaults are the book's CPU setting; :meth:`source` returns Irie et al.'s MNIST setting
    (``sweeps/ff_as_attention/ff_as_attention_mnist_10samples.yaml`` with the code's defaults:
    784-800-800-10 ReLU MLP with biases and PyTorch's default init, SGD lr 3e-3 with momentum
    0.9, gradient-norm clipping 1.0, batch 128, 5,000 steps, about 40,000 training digits
    normalised by their mean and standard deviation, float32).

    Departures, in both settings: the training digits are a seeded random subset of all 60,000
    (the source first holds out its own validation split) and the queries are the first
    ``n_queries`` test digits (the source draws correct and misclassified ones at random).
    The book's default also departs in size (128-unit layers, 300 steps, 10,000 digits) and in
    precision (float64, so that the dual form can be checked to 1e-10).
    """

    hidden: tuple[int, ...] = (128, 128)
    steps: int = 300
    batch_size: int = 128
    lr: float = 3e-3
    momentum: float = 0.9
    grad_clip: float | None = 1.0
    n_train: int = 10_000
    n_queries: int = 100
    normalize: bool = True
    dtype: torch.dtype = torch.float64
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "n_train", "n_queries"):
            check.count(name, getattr(self, name), minimum=1)
        hidden = check.sequence("hidden", self.hidden, lambda n, h: check.count(n, h, minimum=1))
        object.__setattr__(self, "hidden", tuple(hidden))
        check.number("momentum", self.momentum, low=0, high=1, high_open=True)
        if self.grad_clip is not None:
            check.positive("grad_clip", self.grad_clip)
        check.positive("lr", self.lr)
        check.flag("normalize", self.normalize)
        if self.dtype not in _DTYPES.values():
            raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {self.dtype!r}")
        check.seed("seed", self.seed)

    @classmethod
    def source(cls, **changes) -> SpotlightConfig:
        """Irie et al.'s MNIST setting (about 10 GiB of recorded pairs in float32: use a GPU)."""
        base = cls(hidden=(800, 800), steps=5000, n_train=40_000, dtype=torch.float32)
        return replace(base, **changes)

    @classmethod
    def named(cls, setting: str = "book", **changes) -> SpotlightConfig:
        """``"book"`` (the defaults) or ``"source"`` (:meth:`source`), with fields changed.

        For the command line: ``hidden`` may be a list, ``dtype`` a name (``"float32"``).
        """
        check.option("setting", setting, ("book", "source"))
        if "hidden" in changes and isinstance(changes["hidden"], list):
            changes["hidden"] = tuple(changes["hidden"])
        if isinstance(changes.get("dtype"), str):
            changes["dtype"] = _DTYPES.get(changes["dtype"], changes["dtype"])
        unknown = [k for k in changes if k not in cls.__dataclass_fields__]
        if unknown:
            raise ValueError(f"{unknown[0]}: not a SpotlightConfig field; expected one of "
                             f"{', '.join(cls.__dataclass_fields__)}")
        return cls.source(**changes) if setting == "source" else replace(cls(), **changes)


@dataclass(eq=False)
class SpotlightRun:
    """A trained, recorded MLP with its data: what :func:`kvlib.attribution.spotlight_stats` analyses."""

    config: SpotlightConfig
    model: nn.Sequential
    recorder: MemoryRecorder
    x_train: torch.Tensor          # (E, 784), normalised as the model saw it
    y_train: torch.Tensor          # (E,)
    x_query: torch.Tensor          # (Q, 784) test digits, normalised the same way
    y_query: torch.Tensor          # (Q,)
    clip_scales: list[float] = field(default_factory=list)    # one per step (1.0: not clipped)
    losses: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.config, SpotlightConfig):
            raise TypeError(f"config: expected a SpotlightConfig, got {type(self.config).__name__}")
        if not isinstance(self.model, nn.Sequential):
            raise TypeError(f"model: expected a torch.nn.Sequential, got {type(self.model).__name__}")
        if not isinstance(self.recorder, MemoryRecorder):
            raise TypeError(f"recorder: expected a MemoryRecorder, got {type(self.recorder).__name__}")
        self.y_train = check.tensor("y_train", self.y_train, ndim=1, dtype="int", nonempty=True)
        self.x_train = check.tensor("x_train", self.x_train, shape=(self.y_train.shape[0], None))
        self.y_query = check.tensor("y_query", self.y_query, ndim=1, dtype="int", nonempty=True)
        self.x_query = check.tensor("x_query", self.x_query, shape=(self.y_query.shape[0], None),
                                    like=self.x_train, like_name="x_train")
        self.clip_scales = check.sequence("clip_scales", self.clip_scales,
                                          lambda n, c: check.number(n, c, low=0, high=1), nonempty=False)
        self.losses = check.sequence("losses", self.losses, check.number, nonempty=False)

    @property
    def layers(self) -> list[str]:
        return list(self.recorder.memories)

    def pattern_labels(self, layer: str | None = None) -> torch.Tensor:
        """The label of every recorded pattern, in storage order; ``(N,)``."""
        layer = self.layers[0] if layer is None else check.option("layer", layer, self.layers)
        return self.y_train.cpu()[self.recorder.memories[layer].example_ids()]

    def accuracy(self) -> float:
        """Test accuracy of the trained model on the query digits."""
        with torch.no_grad():
            return float((self.model(self.x_query).argmax(-1) == self.y_query).double().mean())


def _batches(n: int, batch_size: int, g: torch.Generator):
    """Batches drawn from an endless stream of shuffled passes (the source's InfiniteSampler)."""
    stream, pos = torch.randperm(n, generator=g), 0
    while True:
        parts, size = [], 0
        while size < batch_size:                                  # batches straddle passes
            if pos == n:
                stream, pos = torch.randperm(n, generator=g), 0
            take = min(batch_size - size, n - pos)
            parts.append(stream[pos:pos + take])
            pos, size = pos + take, size + take
        yield torch.cat(parts)


def train_recorded(config: SpotlightConfig | None = None, device: str | torch.device = "cpu",
                   progress: bool = False) -> SpotlightRun:
    """Train ``config``'s MLP on MNIST (all ten digits) while a recorder keeps every pair.

    ``config`` defaults to the book's :class:`SpotlightConfig`. As in the source: a seeded
    random subset of ``n_train`` training digits, normalised by its own mean and standard
    deviation (one number each, as their ``measure_mean_std``); batches from an endless stream
    of shuffled passes (their ``InfiniteSampler``); cross-entropy; gradient-norm clipping
    before the step. The recorder runs with ``approximate=True`` because momentum and
    clipping re-weight the values (:func:`kvlib.attribution.pattern_weights` repairs them);
    each step's clipping factor is kept in ``clip_scales``. The loop is written out because
    the clipping factor of every step is part of the memory. On the CPU it runs on one thread
    (faster for these small steps on shared cores); float64 runs on the CPU where the device
    has no float64 (Apple MPS). A loss that becomes NaN or inf is a ``ValueError``.
    """
    from kvlib.data import load_classes
    cfg = SpotlightConfig() if config is None else config
    if not isinstance(cfg, SpotlightConfig):
        raise TypeError(f"config: expected a SpotlightConfig or None, got {type(cfg).__name__}")
    device = get_device(check.device("device", device))
    if cfg.dtype == torch.float64:
        device = float64_device(device)
    x, y = load_classes("mnist", list(range(10)), train=True)
    if cfg.n_train > x.shape[0]:
        raise ValueError(f"n_train: expected at most {x.shape[0]} (the MNIST training set), "
                         f"got {cfg.n_train}")
    g = seed_stream(cfg.seed)
    pick = torch.randperm(x.shape[0], generator=g)[:cfg.n_train]
    x, y = x[pick].double(), y[pick]
    xq, yq = load_classes("mnist", list(range(10)), train=False)
    xq, yq = xq[:cfg.n_queries].double(), yq[:cfg.n_queries]
    if cfg.normalize:
        mean, std = x.mean(), x.std()
        x, xq = (x - mean) / std, (xq - mean) / std
    x, xq = x.to(device, cfg.dtype), xq.to(device, cfg.dtype)
    y, yq = y.to(device), yq.to(device)

    model = make_mlp((784, *cfg.hidden, 10), seed=cfg.seed, dtype=cfg.dtype, device=device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    rec = MemoryRecorder(model, opt, approximate=cfg.momentum != 0 or cfg.grad_clip is not None)
    run = SpotlightRun(cfg, model, rec, x, y, xq, yq)
    batches = _batches(cfg.n_train, cfg.batch_size, g)
    with cpu_threads(1 if device.type == "cpu" else None):
        for _ in progress_bar(range(cfg.steps), enabled=check.flag("progress", progress), desc="training"):
            idx = next(batches)
            rec.set_example_ids(idx)
            dev_idx = idx.to(device)
            loss = nn.functional.cross_entropy(model(x[dev_idx]), y[dev_idx])
            if not bool(torch.isfinite(loss)):
                raise ValueError(f"config: training diverged at step {len(run.losses)} "
                                 f"(loss {loss.item()}); lower its lr")
            opt.zero_grad()
            loss.backward()
            scale = 1.0
            if cfg.grad_clip is not None:
                norm = float(nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
                scale = min(1.0, cfg.grad_clip / (norm + 1e-6))    # torch's own clipping factor
            opt.step()
            run.clip_scales.append(scale)
            run.losses.append(float(loss.detach()))
    rec.remove()
    return run
