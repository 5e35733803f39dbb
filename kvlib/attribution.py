"""Spotlights of attention: how a test input's dual-form attention spreads over the training patterns.

Irie, Csordás & Schmidhuber (ICML 2022; code ``RobertCsordas/linear_layer_as_attention``,
``tasks/simple/ff_as_attention/``) read every linear layer of a trained MLP in its dual form
(paper Eq 11, :mod:`kvlib.dualform`) and inspect the attention a test input ``x`` pays to the
training patterns. What their code computes, and :func:`raw_attention` reproduces:

* one weight per training pattern and update step: ``x_t`` is the layer's input for *one*
  example of the batch at step ``t`` (their forward hooks store every batch row), so a run of
  ``T`` steps of batch ``B`` has ``T * B`` weights per layer;
* the weight is ``|x . x_t|``: the absolute, unnormalised dot product. The bias's constant
  input is not part of the key (``include_bias=True`` adds it, which gives the exact weights
  of Eq 11 for a layer with a bias);
* for every ``nn.Linear`` of the network (three in their 784-800-800-10 MLP);
* summarised per class of the training patterns: each class's largest weights sorted (their
  figures show the top 500 of each class), each class's total (the "vote"), and how often the
  vote names the label and the model's output (their table).

Their optimiser is SGD with momentum 0.9 and gradient-norm clipping at 1.0. Neither changes
the keys: every step still adds ``x_t^T g_t`` outer products, only re-weighted (momentum
re-adds a step's gradient at every later step, clipping rescales a whole step), so the
attention weights are exactly the dual form's. :func:`pattern_weights` gives the re-weighting
and :func:`dual_readout` rebuilds each layer from it (checked to 1e-10 in float64 by the tests).

Added here, not in the source: concentration summaries of the weights (:func:`concentration`:
the share of the total held by the top fraction of patterns against the uniform share, the
participation ratio, the peak over the median) and a baseline query with its coordinates
shuffled (:func:`shuffle_queries`). :class:`SpotlightConfig` holds the source's setting
(:meth:`SpotlightConfig.source`) and the book's smaller default. Explained in Chapter 3,
§Spotlights of attention.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar
from kvlib.dualform import LayerMemory, MemoryRecorder, make_mlp

__all__ = ["SpotlightConfig", "SpotlightRun", "train_recorded", "raw_attention", "pattern_steps",
           "pattern_weights", "dual_readout", "aggregate", "concentration", "lorenz",
           "shuffle_queries", "class_views", "sorted_per_class", "spotlight_stats",
           "attention_identity_error", "SOURCE_TOP_PER_CLASS"]

#: Their figures show the 500 largest weights of each class, out of about 64,000 per class
#: (5,000 steps x 128 examples / 10 classes): the top 0.78 % of a class.
SOURCE_TOP_PER_CLASS = 500 / 64_000


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
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {v!r}")
        if not self.hidden or any(not isinstance(h, int) or h < 1 for h in self.hidden):
            raise ValueError(f"hidden: expected a non-empty tuple of ints >= 1, got {self.hidden!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum: expected a number in [0, 1), got {self.momentum!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip: expected None or a number > 0, got {self.grad_clip!r}")
        if not self.lr > 0:
            raise ValueError(f"lr: expected a number > 0, got {self.lr!r}")

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
        if setting not in ("book", "source"):
            raise ValueError(f"setting: expected 'book' or 'source', got {setting!r}")
        if "hidden" in changes:
            changes["hidden"] = tuple(changes["hidden"])
        if isinstance(changes.get("dtype"), str):
            name = changes["dtype"]
            if name not in ("float32", "float64"):
                raise ValueError(f"dtype: expected 'float32' or 'float64', got {name!r}")
            changes["dtype"] = getattr(torch, name)
        unknown = [k for k in changes if k not in cls.__dataclass_fields__]
        if unknown:
            raise ValueError(f"{unknown[0]}: not a SpotlightConfig field; expected one of "
                             f"{', '.join(cls.__dataclass_fields__)}")
        return cls.source(**changes) if setting == "source" else replace(cls(), **changes)


@dataclass
class SpotlightRun:
    """A trained, recorded MLP with its data: what :func:`spotlight_stats` analyses."""

    config: SpotlightConfig
    model: nn.Sequential
    recorder: MemoryRecorder
    x_train: torch.Tensor          # (E, 784), normalised as the model saw it
    y_train: torch.Tensor          # (E,)
    x_query: torch.Tensor          # (Q, 784) test digits, normalised the same way
    y_query: torch.Tensor          # (Q,)
    clip_scales: list[float] = field(default_factory=list)    # one per step (1.0: not clipped)
    losses: list[float] = field(default_factory=list)

    @property
    def layers(self) -> list[str]:
        return list(self.recorder.memories)

    def pattern_labels(self, layer: str | None = None) -> torch.Tensor:
        """The label of every recorded pattern, in storage order; ``(N,)``."""
        mem = self.recorder.memories[layer or self.layers[0]]
        return self.y_train.cpu()[mem.example_ids()]

    def accuracy(self) -> float:
        with torch.no_grad():
            return float((self.model(self.x_query).argmax(-1) == self.y_query).double().mean())


def _one_thread(device: torch.device):
    """One CPU thread: faster for these loops of modest tensor operations on shared cores."""
    return cpu_threads(1 if device.type == "cpu" else None)


def _float64_ok(device: torch.device, dtype: torch.dtype) -> torch.device:
    return torch.device("cpu") if device.type == "mps" and dtype == torch.float64 else device


def train_recorded(config: SpotlightConfig | None = None, device: str | torch.device = "cpu",
                   progress: bool = False) -> SpotlightRun:
    """Train ``config``'s MLP on MNIST (all ten digits) while a recorder keeps every pair.

    ``config`` defaults to the book's :class:`SpotlightConfig`; the recorder is a
    :class:`~kvlib.dualform.MemoryRecorder`.

    As in the source: a seeded random subset of ``n_train`` training digits, normalised by its
    own mean and standard deviation (one number each, as their ``measure_mean_std``); batches
    drawn from an endless stream of shuffled passes (their ``InfiniteSampler``); cross-entropy;
    gradient-norm clipping before the step. The recorder runs with ``approximate=True`` because
    momentum and clipping re-weight the values (:func:`pattern_weights` repairs them); each
    step's clipping factor is kept in ``clip_scales``. The loop is written out because the
    clipping factor of every step is part of the memory. On the CPU it runs on one thread
    (faster for these small steps on shared cores). Explained in Chapter 3.
    """
    from kvlib.data import load_classes
    from kvlib.device import get_device
    cfg = SpotlightConfig() if config is None else config
    device = _float64_ok(get_device(device), cfg.dtype)
    x, y = load_classes("mnist", list(range(10)), train=True)
    if cfg.n_train > x.shape[0]:
        raise ValueError(f"n_train: expected at most {x.shape[0]} (the MNIST training set), "
                         f"got {cfg.n_train}")
    g = torch.Generator().manual_seed(cfg.seed)
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
    stream, pos = torch.randperm(cfg.n_train, generator=g), 0
    with _one_thread(device):
        for _ in progress_bar(range(cfg.steps), enabled=progress, desc="training"):
            parts = []
            while sum(p.numel() for p in parts) < cfg.batch_size:   # batches straddle passes
                if pos == cfg.n_train:
                    stream, pos = torch.randperm(cfg.n_train, generator=g), 0
                take = min(cfg.batch_size - sum(p.numel() for p in parts), cfg.n_train - pos)
                parts.append(stream[pos:pos + take])
                pos += take
            idx = torch.cat(parts)
            rec.set_example_ids(idx)
            dev_idx = idx.to(device)
            loss = nn.functional.cross_entropy(model(x[dev_idx]), y[dev_idx])
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


# ------------------------------------------------------------------ the attention weights
def raw_attention(memory: LayerMemory, x: torch.Tensor, *, absolute: bool = True,
                  include_bias: bool = False) -> torch.Tensor:
    """The attention of queries ``x`` on every recorded pattern: ``|x . x_t|``, ``(B, N)``.

    As in Irie et al.'s ``get_all_scores``: one weight per pattern and step, the bias's
    constant input left out. ``include_bias=True`` keeps it (``x . x_t + 1``) and
    ``absolute=False`` keeps the sign: together, the exact weights of Eq 11.
    """
    d_in = memory.W0.shape[1] - int(memory.has_bias)
    if x.dim() != 2 or x.shape[1] != d_in:
        raise ValueError(f"x: expected shape (B, {d_in}) (the input size of layer "
                         f"{memory.name!r}), got {tuple(x.shape)}")
    if not memory.keys:
        raise ValueError(f"memory: layer {memory.name!r} has no recorded patterns")
    x = x.detach()
    keep = memory.W0.shape[1] if include_bias else d_in
    if include_bias and memory.has_bias:
        x = torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1)
    # one product per stored step (the keys are never concatenated), on one CPU thread
    with torch.no_grad(), _one_thread(x.device):
        att = torch.cat([x @ k[:, :keep].T.to(x.dtype) for k in memory.keys], dim=1)
    return att.abs() if absolute else att


def pattern_steps(memory: LayerMemory) -> torch.Tensor:
    """The update step of every recorded pattern, in storage order; ``(N,)``."""
    sizes = torch.tensor([k.shape[0] for k in memory.keys])
    return torch.repeat_interleave(torch.arange(len(memory.keys)), sizes)


def pattern_weights(memory: LayerMemory, momentum: float = 0.0,
                    clip_scales: Iterable[float] | None = None) -> torch.Tensor:
    """How much each recorded value counts in the trained weights, per pattern; ``(N,)`` float64.

    With PyTorch's SGD momentum ``mu`` (no dampening) the gradient of step ``s`` of ``T``
    (from 0) is added at every later step, ``sum_{t=s}^{T-1} mu^(t-s) = (1 - mu^(T-s)) / (1 - mu)``
    times in all; clipping multiplies the whole step by its factor. The recorder's values
    (``-lr * dL/dy``) times these weights add up to the trained weights (Eq 10 with re-weighted
    values); the keys, and so the attention, are untouched.
    """
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum: expected a number in [0, 1), got {momentum!r}")
    T = memory.n_steps
    s = torch.arange(T, dtype=torch.float64)
    w = (1 - momentum ** (T - s)) / (1 - momentum) if momentum else torch.ones(T, dtype=torch.float64)
    if clip_scales is not None:
        c = torch.as_tensor(list(clip_scales), dtype=torch.float64)
        if c.shape != (T,):
            raise ValueError(f"clip_scales: expected one factor per recorded step ({T}), "
                             f"got {c.numel()}")
        w = w * c
    w = w * memory.step_weights()                                  # weight decay, if any
    return w[pattern_steps(memory)]


def dual_readout(memory: LayerMemory, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq 11 with re-weighted values: ``x W0^T + sum_n alpha_n w_n v_n``.

    ``alpha_n`` are the signed weights of :func:`raw_attention` (bias input included),
    ``weights`` from :func:`pattern_weights`. With the right weights this is the trained
    layer's output exactly, which is what makes ``raw_attention`` the dual form's attention.
    """
    alpha = raw_attention(memory, x, absolute=False, include_bias=True)       # (B, N)
    V = torch.cat(memory.values).to(alpha.dtype)                                # (N, d_out)
    xa = torch.cat([x, x.new_ones(x.shape[0], 1)], 1) if memory.has_bias else x
    with torch.no_grad():
        return xa.detach() @ memory.W0.T.to(x.dtype) + alpha @ (weights.to(V)[:, None] * V)


def attention_identity_error(run: SpotlightRun, x: torch.Tensor | None = None) -> dict[str, float]:
    """Max ``|trained layer - dual_readout|`` per layer of a :class:`SpotlightRun`, on ``x``.

    ``x`` defaults to the run's query digits; each layer is read on its real input.
    """
    from kvlib.dualform import layer_io
    x = run.x_query if x is None else x
    io = layer_io(run.model, run.layers, x)
    out = {}
    with _one_thread(x.device):
        for name, mem in run.recorder.memories.items():
            w = pattern_weights(mem, run.config.momentum,
                                run.clip_scales if run.config.grad_clip is not None else None)
            out[name] = float((dual_readout(mem, io[name][0], w) - io[name][1]).abs().max())
    return out


# ------------------------------------------------------------------ summaries
def aggregate(att: torch.Tensor, index: torch.Tensor, n: int | None = None) -> torch.Tensor:
    """Sum the weights over patterns that share an index (a step, an example): ``(B, n)``.

    ``index`` from :func:`pattern_steps` (per step) or ``LayerMemory.example_ids`` (per
    example, their ``sample_total`` plot).
    """
    if index.shape != (att.shape[1],):
        raise ValueError(f"index: expected shape ({att.shape[1]},), one per pattern, "
                         f"got {tuple(index.shape)}")
    n = int(index.max()) + 1 if n is None else n
    return att.new_zeros(att.shape[0], n).index_add_(1, index.to(att.device), att)


def _check_fractions(fractions: Iterable[float]) -> torch.Tensor:
    fr = torch.as_tensor(list(fractions), dtype=torch.float64)
    if fr.numel() == 0 or (fr <= 0).any() or (fr > 1).any():
        raise ValueError(f"fractions: expected numbers in (0, 1], got {fr.tolist()}")
    return fr


def _sorted(att: torch.Tensor) -> torch.Tensor:
    """Each row in descending order. The order is found in float32 (about twice as fast; a
    ranking does not need float64), the sums that follow are taken in float64."""
    return att.to(torch.float32).sort(dim=-1, descending=True).values


def _shares(desc: torch.Tensor, fr: torch.Tensor) -> torch.Tensor:
    """Top-fraction shares from weights sorted in descending order; ``(B, F)``."""
    N = desc.shape[1]
    csum = desc.double().cumsum(-1)                                            # (B, N)
    k = torch.clamp(torch.ceil(fr * N - 1e-9).long(), 1, N) - 1                # (F,)
    return csum[:, k.to(desc.device)] / csum[:, -1:]


def lorenz(att: torch.Tensor, fractions: Iterable[float]) -> torch.Tensor:
    """Share of each query's total weight held by its top ``fraction`` of patterns; ``(B, F)``.

    The top ``ceil(f * N)`` patterns count (at least one). A uniform weight gives ``f``.
    """
    fr = _check_fractions(fractions)
    if (att < 0).any():
        raise ValueError("att: expected non-negative weights (raw_attention with absolute=True)")
    return _shares(_sorted(att), fr)


def concentration(att: torch.Tensor, fractions: Iterable[float] = (0.001, 0.01, 0.1)
                  ) -> dict[str, torch.Tensor]:
    """How concentrated each query's attention is over the ``N`` patterns; values ``(B,)``.

    ``"top_<f>"``: share held by the top fraction ``f`` (uniform: ``f``); ``"participation"``:
    ``(sum a)^2 / (N sum a^2)``, 1 for uniform weights and ``1/N`` for a single pattern (the
    same measure as :func:`kvlib.dualform.concentration` on contribution sizes);
    ``"peak_to_median"``: the largest weight over the median one (the lower median, as
    ``torch.median``).
    """
    fractions = list(fractions)
    _check_fractions(fractions)
    if att.dim() != 2 or (att < 0).any():
        raise ValueError(f"att: expected non-negative weights of shape (B, N), got shape "
                         f"{tuple(att.shape)}" + (" with negative entries" if att.dim() == 2 else ""))
    return _from_sorted(_sorted(att), fractions)


def _from_sorted(desc: torch.Tensor, fractions: list[float]) -> dict[str, torch.Tensor]:
    """:func:`concentration` from weights already sorted in descending order (one sort serves all)."""
    N = desc.shape[1]
    shares = _shares(desc, _check_fractions(fractions))
    out = {f"top_{f:g}": shares[:, i] for i, f in enumerate(fractions)}
    d = desc.double()
    out["participation"] = d.sum(-1) ** 2 / (N * d.pow(2).sum(-1))
    out["peak_to_median"] = d[:, 0] / d[:, N - 1 - (N - 1) // 2]
    return out


def shuffle_queries(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each query with its coordinates in a fresh random order: same values, no structure.

    The baseline for a spotlight: it keeps the query's norm and value histogram, so any
    concentration it still shows comes from the keys alone (e.g. bold training images).
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    order = torch.rand(x.shape, generator=generator).argsort(dim=-1).to(x.device)
    return torch.gather(x, -1, order)


def class_views(att: torch.Tensor, pattern_labels: torch.Tensor, query_labels: torch.Tensor,
                predictions: torch.Tensor | None = None, k: int = 10, n_classes: int = 10
                ) -> dict[str, torch.Tensor]:
    """The source's per-class reading of the weights, per query; values ``(B,)``.

    ``"same_class_top"``: fraction of the ``k`` most-attended patterns with the query's label;
    ``"vote"``: the class whose patterns hold the largest total weight, and whether it is the
    label (``"vote_is_label"``) and the model's prediction (``"vote_is_output"``, if given), as
    in their ``MatchTracker``.
    """
    if not isinstance(k, int) or k < 1 or k > att.shape[1]:
        raise ValueError(f"k: expected an int in 1..{att.shape[1]}, got {k!r}")
    labels = pattern_labels.to(att.device)
    yq = query_labels.to(att.device)
    top = att.topk(k, dim=-1).indices
    totals = att.new_zeros(att.shape[0], n_classes).index_add_(1, labels, att)   # (B, C)
    vote = totals.argmax(-1)
    out = {"same_class_top": (labels[top] == yq[:, None]).double().mean(-1),
           "vote": vote, "vote_is_label": (vote == yq).double()}
    if predictions is not None:
        out["vote_is_output"] = (vote == predictions.to(att.device)).double()
    return out


def sorted_per_class(att: torch.Tensor, pattern_labels: torch.Tensor,
                     fraction: float = SOURCE_TOP_PER_CLASS, n_classes: int = 10
                     ) -> list[torch.Tensor]:
    """For one query (``att`` of shape ``(N,)``): each class's largest weights, sorted.

    Their figure: the top ``fraction`` of each class's patterns (500 of about 64,000 in the
    source), class by class.
    """
    if att.dim() != 1:
        raise ValueError(f"att: expected one query's weights, shape (N,), got {tuple(att.shape)}")
    out = []
    for c in range(n_classes):          # ten classes: the loop is over panels of a figure
        a = att[pattern_labels.to(att.device) == c]
        k = max(1, math.ceil(fraction * a.numel()))
        out.append(a.topk(min(k, a.numel())).values if a.numel() else a)
    return out


def spotlight_stats(run: SpotlightRun, layers: Iterable[str] | None = None, k: int = 10,
                    fractions: Iterable[float] = (0.001, 0.01, 0.1), seed: int = 0,
                    by: str = "pattern", curve: Iterable[float] | None = None) -> dict[str, dict]:
    """Mean spotlight statistics over the run's query digits, per layer, with their baselines.

    For each layer: :func:`concentration` and :func:`class_views` of the real queries, the
    same for coordinate-shuffled queries (``"shuffled_<name>"``) and the uniform shares
    (``"uniform_top_<f>"``). ``by="pattern"`` (the source's unit), ``"step"`` (summed over
    each step's batch) or ``"example"`` (summed over the steps an example was seen in; class
    views are per pattern only). ``out["model"]["accuracy"]`` is the run's test accuracy on
    the queries; with ``curve`` (fractions), ``out["curves"][layer]`` holds the mean
    :func:`lorenz` shares of the real and the shuffled queries at those fractions.
    """
    if by not in ("pattern", "step", "example"):
        raise ValueError(f"by: expected 'pattern', 'step' or 'example', got {by!r}")
    from kvlib.dualform import layer_io
    fractions = list(fractions)
    layers = run.layers if layers is None else list(layers)
    io = layer_io(run.model, layers, run.x_query)
    with torch.no_grad():
        pred = run.model(run.x_query).argmax(-1)
    g = torch.Generator().manual_seed(seed)
    out: dict[str, dict] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    with _one_thread(run.x_query.device):
        for name in layers:
            out[name], curves[name] = _layer_stats(run, name, io[name][0], pred, g, k, fractions,
                                                   by, curve)
    out["model"] = {"accuracy": float((pred == run.y_query).double().mean())}
    if curve is not None:
        out["curves"] = curves
    return out


def _layer_stats(run: SpotlightRun, name: str, q: torch.Tensor, pred: torch.Tensor,
                 g: torch.Generator, k: int, fractions: list[float], by: str,
                 curve: Iterable[float] | None) -> tuple[dict[str, float], dict[str, list[float]]]:
    """One layer of :func:`spotlight_stats`: the statistics and (if asked) the curves."""
    mem = run.recorder.memories[name]
    B = q.shape[0]
    both = raw_attention(mem, torch.cat([q, shuffle_queries(q, g)]))       # one pass for both
    stats: dict[str, float] = {}
    curves: dict[str, list[float]] = {} if curve is None else {"fractions": list(curve)}
    for tag, att in (("", both[:B]), ("shuffled_", both[B:])):
        if by == "pattern":
            for key, v in class_views(att, run.pattern_labels(name), run.y_query, pred,
                                      k=k).items():
                if key != "vote":
                    stats[tag + key] = float(v.mean())
        units = att if by == "pattern" else aggregate(
            att, pattern_steps(mem) if by == "step" else mem.example_ids())
        desc = _sorted(units)                                               # one sort for all
        for key, v in _from_sorted(desc, fractions).items():
            stats[tag + key] = float(v.mean())
        if curve is not None:
            curves[tag.rstrip("_") or "real"] = \
                _shares(desc, _check_fractions(curve)).mean(0).tolist()
    n_units = units.shape[1]
    for f in fractions:
        stats[f"uniform_top_{f:g}"] = max(1, math.ceil(f * n_units - 1e-9)) / n_units
    stats["n_units"] = float(n_units)
    return stats, curves
