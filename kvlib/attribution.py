"""Spotlights of attention: how a test input's dual-form attention spreads over the training patterns.

Irie, Csordás & Schmidhuber (ICML 2022; code ``RobertCsordas/linear_layer_as_attention``,
``tasks/simple/ff_as_attention/``) read every linear layer of a trained MLP in its dual form
(paper Eq 11, :mod:`kvlib.dualform`) and inspect the attention a test input ``x`` pays to the
training patterns. What their code computes, and :func:`raw_attention` reproduces:

* one weight per training pattern and update step (``x_t``: the layer's input for *one*
  example of the batch at step ``t``), ``T * B`` weights per layer for ``T`` steps of batch ``B``;
* the weight is ``|x . x_t|``, absolute and unnormalised, without the bias's constant input
  (``include_bias=True`` adds it: the exact weights of Eq 11 for a layer with a bias);
* for every ``nn.Linear`` of the network (three in their 784-800-800-10 MLP);
* summarised per class: each class's largest weights sorted (their figures: the top 500 of
  each class), each class's total (the "vote"), and how often the vote names the label and
  the model's output (their table).

Their optimiser is SGD with momentum 0.9 and gradient-norm clipping at 1.0 (the run itself:
:mod:`kvlib.spotlight_run`). Neither changes the keys: every step still adds ``x_t^T g_t``
outer products, only re-weighted (momentum re-adds a step's gradient at every later step,
clipping rescales a whole step), so the attention weights are exactly the dual form's.
:func:`pattern_weights` gives the re-weighting and :func:`dual_readout` rebuilds each layer
from it, through :meth:`kvlib.dualform.LayerMemory.forward` and so :func:`kvlib.kernels.retrieve`
(checked to 1e-10 in float64 by the tests).

Added here, not in the source: concentration summaries
(:func:`~kvlib.attention_stats.attention_concentration`: top shares against uniform,
participation ratio, peak over median), a baseline query with its coordinates shuffled
(:func:`~kvlib.attention_stats.shuffle_queries`), and the statistic on any recorded layer
(:func:`attention_summary`, beside :mod:`kvlib.contributions`). Explained in Chapter 3,
§Spotlights of attention.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from kvlib import _checks as check
from kvlib.attention_stats import (
    aggregate,
    attention_concentration,
    class_views,
    lorenz,
    shuffle_queries,
    sorted_per_class,
    sorted_weights,
)
from kvlib.device import cpu_threads
from kvlib.device import generator as seed_stream
from kvlib.dualform import LayerMemory, layer_io, model_input
from kvlib.spotlight_run import SpotlightRun

__all__ = ["raw_attention", "pattern_steps", "pattern_weights", "dual_readout",
           "attention_identity_error", "spotlight_stats", "spotlight_views", "spotlight_study",
           "attention_summary", "CURVE_FRACTIONS"]

#: Fractions of the training patterns at which the concentration curves are read.
CURVE_FRACTIONS = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def _one_thread(device: torch.device):                 # modest operations: one thread is faster
    return cpu_threads(1 if device.type == "cpu" else None)


def _memory(memory: object) -> LayerMemory:
    if not isinstance(memory, LayerMemory):
        raise TypeError(f"memory: expected a kvlib.dualform.LayerMemory, got {type(memory).__name__}")
    if not memory.keys:
        raise ValueError(f"memory: layer {memory.name!r} has no recorded patterns")
    return memory


def _listed(values: Iterable) -> object:
    """Any iterable of numbers as a list (lists, tuples and tensors pass through for checking)."""
    if isinstance(values, Iterable) and not isinstance(values, (str, bytes, dict, list, tuple, range,
                                                                 torch.Tensor)):
        return list(values)
    return values


def _fractions(name: str, values: Iterable[float]) -> list[float]:
    return check.sequence(name, _listed(values),
                          lambda n, f: check.number(n, f, low=0, low_open=True, high=1))


def _run(run: object) -> SpotlightRun:
    if not isinstance(run, SpotlightRun):
        raise TypeError(f"run: expected a SpotlightRun (kvlib.spotlight_run.train_recorded), "
                        f"got {type(run).__name__}")
    return run


# ------------------------------------------------------------------ the attention weights
def raw_attention(memory: LayerMemory, x: torch.Tensor, *, absolute: bool = True,
                  include_bias: bool = False) -> torch.Tensor:
    """The attention of queries ``x`` on every recorded pattern: ``|x . x_t|``, ``(B, N)``.

    As in Irie et al.'s ``get_all_scores``: one weight per pattern and step, the bias's
    constant input left out. ``include_bias=True`` keeps it (``x . x_t + 1``) and
    ``absolute=False`` keeps the sign: together, the exact weights of Eq 11.
    """
    memory = _memory(memory)
    d_in = memory.W0.shape[1] - int(memory.has_bias)
    x = check.tensor("x", x, shape=(None, d_in), dtype="float").detach()
    x = x.to(torch.promote_types(x.dtype, memory.W0.dtype))
    keep = memory.W0.shape[1] if check.flag("include_bias", include_bias) else d_in
    if include_bias and memory.has_bias:
        x = torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1)
    # one product per stored step (the keys are never concatenated), on one CPU thread
    with torch.no_grad(), _one_thread(x.device):
        att = torch.cat([x @ k[:, :keep].T.to(x) for k in memory.keys], dim=1)     # (B, N) scores
    return att.abs() if check.flag("absolute", absolute) else att


def pattern_steps(memory: LayerMemory) -> torch.Tensor:
    """The update step of every recorded pattern, in storage order; ``(N,)``."""
    sizes = torch.tensor([k.shape[0] for k in _memory(memory).keys])
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
    memory = _memory(memory)
    momentum = check.number("momentum", momentum, low=0, high=1, high_open=True)
    T = memory.n_steps
    s = torch.arange(T, dtype=torch.float64)
    w = (1 - momentum ** (T - s)) / (1 - momentum) if momentum else torch.ones(T, dtype=torch.float64)
    if clip_scales is not None:
        c = check.sequence("clip_scales", _listed(clip_scales), lambda n, v: check.number(n, v, low=0))
        if len(c) != T:
            raise ValueError(f"clip_scales: expected one factor per recorded step ({T}), got {len(c)}")
        w = w * torch.tensor(c, dtype=torch.float64)
    w = w * memory.step_weights()                                  # weight decay, if any
    return w[pattern_steps(memory)]


def dual_readout(memory: LayerMemory, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq 11 with re-weighted values: ``x W0^T + sum_n alpha_n w_n v_n``.

    ``alpha_n = x . k_n`` are the signed weights of :func:`raw_attention` (bias input
    included), ``weights`` from :func:`pattern_weights`; the sum is read through
    :meth:`~kvlib.dualform.LayerMemory.forward` (so :func:`kvlib.kernels.retrieve`). With the
    right weights this is the trained layer's output exactly, which is what makes
    ``raw_attention`` the dual form's attention.
    """
    memory = _memory(memory)
    d_in = memory.W0.shape[1] - int(memory.has_bias)
    x = check.tensor("x", x, shape=(None, d_in), dtype="float")
    weights = check.tensor("weights", weights, shape=(memory.n_memories,), dtype="float")
    with torch.no_grad():       # the weights already hold any decay: read the memory undecayed
        return memory.forward(x, decay=False, weights=weights)


def attention_identity_error(run: SpotlightRun, x: torch.Tensor | None = None) -> dict[str, float]:
    """Max ``|trained layer - dual_readout|`` per layer of a :class:`~kvlib.spotlight_run.SpotlightRun`.

    ``x`` defaults to the run's query digits; each layer is read on its real input.
    """
    run = _run(run)
    x = run.x_query if x is None else model_input(run.model, x)
    if x.ndim != 2 or not x.shape[0]:
        raise ValueError(f"x: expected shape (B, d) with B >= 1 queries, got {tuple(x.shape)}")
    io = layer_io(run.model, run.layers, x)
    out = {}
    with _one_thread(run.x_query.device):
        for name, mem in run.recorder.memories.items():
            w = pattern_weights(mem, run.config.momentum,
                                run.clip_scales if run.config.grad_clip is not None else None)
            out[name] = float((dual_readout(mem, io[name][0], w) - io[name][1]).abs().max())
    return out


def spotlight_stats(run: SpotlightRun, layers: Iterable[str] | None = None, k: int = 10,
                    fractions: Iterable[float] = (0.001, 0.01, 0.1), seed: int = 0,
                    by: str = "pattern", curve: Iterable[float] | None = None) -> dict[str, dict]:
    """Mean spotlight statistics over the run's query digits, per layer, with their baselines.

    For each layer: :func:`~kvlib.attention_stats.attention_concentration` and
    :func:`~kvlib.attention_stats.class_views` of the real queries, the same for
    coordinate-shuffled queries (``"shuffled_<name>"``) and the uniform shares
    (``"uniform_top_<f>"``). ``by="pattern"`` (the source's unit), ``"step"`` (summed
    over each step's batch) or ``"example"`` (summed over the steps an example was seen in;
    class views are per pattern only). ``out["model"]["accuracy"]`` is the run's test accuracy
    on the queries; with ``curve`` (fractions), ``out["curves"][layer]`` holds the mean
    :func:`kvlib.attention_stats.lorenz` shares of the real and the shuffled queries at those fractions.
    """
    run = _run(run)
    check.option("by", by, ("pattern", "step", "example"))
    fractions = _fractions("fractions", fractions)
    curve = None if curve is None else _fractions("curve", curve)
    layers = run.layers if layers is None else [check.option(f"layers[{i}]", n, run.layers)
                                                for i, n in enumerate(check.sequence("layers", layers))]
    k = check.count("k", k, minimum=1)
    io = layer_io(run.model, layers, run.x_query)
    with torch.no_grad():
        pred = run.model(run.x_query).argmax(-1)
    g = seed_stream(check.seed("seed", seed))
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
                 curve: list[float] | None) -> tuple[dict[str, float], dict[str, list[float]]]:
    """One layer of :func:`spotlight_stats`: the statistics and (if asked) the curves."""
    mem = run.recorder.memories[name]
    B = q.shape[0]
    both = raw_attention(mem, torch.cat([q, shuffle_queries(q, g)]))       # one pass for both
    stats: dict[str, float] = {}
    curves: dict[str, list[float]] = {} if curve is None else {"fractions": list(curve)}
    for tag, att in (("", both[:B]), ("shuffled_", both[B:])):
        if by == "pattern":
            for key, v in class_views(att, run.pattern_labels(name), run.y_query, pred, k=k).items():
                if key != "vote":
                    stats[tag + key] = float(v.mean())
        units = att if by == "pattern" else aggregate(
            att, pattern_steps(mem) if by == "step" else mem.example_ids())
        desc = sorted_weights(units)                                        # one sort for all
        for key, v in attention_concentration(desc, fractions, presorted=True).items():
            stats[tag + key] = float(v.mean())
        if curve is not None:
            curves[tag.rstrip("_") or "real"] = \
                lorenz(desc, curve, presorted=True).mean(0).tolist()
    n_units = units.shape[1]
    for f in fractions:
        stats[f"uniform_top_{f:g}"] = max(1, math.ceil(f * n_units - 1e-9)) / n_units
    stats["n_units"] = float(n_units)
    return stats, curves


def spotlight_views(run: SpotlightRun, query: int = 0) -> dict:
    """One query's attention, as Irie et al. plot it: per layer, each class's top weights, sorted.

    Also the median weight over all patterns (the bulk the spotlight stands out of).
    Returns ``{"label": int, "layers": {layer: {"per_class": [[...] x 10], "median": float}}}``.
    """
    run = _run(run)
    query = check.number("query", query, low=0, high=run.y_query.shape[0] - 1, integer=True)
    io = layer_io(run.model, run.layers, run.x_query[query:query + 1])
    views = {}
    with _one_thread(run.x_query.device):
        for name in run.layers:
            att = raw_attention(run.recorder.memories[name], io[name][0])[0]
            views[name] = {"per_class": [t.tolist() for t in sorted_per_class(att, run.pattern_labels(name))],
                           "median": float(att.median())}
    return {"label": int(run.y_query[query]), "layers": views}


def spotlight_study(run: SpotlightRun, query: int | None = None,
                    curve: Iterable[float] = CURVE_FRACTIONS) -> dict:
    """Everything Chapter 3 shows of a spotlight run: the identity, the statistics, one digit's view.

    ``"identity"``: :func:`attention_identity_error`; ``"stats"`` and ``"curves"``:
    :func:`spotlight_stats` (``"accuracy"`` split off); ``"views"``: :func:`spotlight_views` of
    ``query`` (default: the first correctly classified query digit, as in their figures).
    """
    run = _run(run)
    curve = _fractions("curve", curve)
    if query is None:
        with torch.no_grad():
            correct = (run.model(run.x_query).argmax(-1) == run.y_query).nonzero().flatten()
        query = int(correct[0]) if correct.numel() else 0
    stats = spotlight_stats(run, curve=curve)
    return {"identity": attention_identity_error(run), "curves": stats.pop("curves"),
            "accuracy": stats.pop("model")["accuracy"], "stats": stats,
            "views": spotlight_views(run, query), "footprint": run.recorder.footprint()}


def attention_summary(memory: LayerMemory, x: torch.Tensor, example_labels: torch.Tensor,
                      query_labels: torch.Tensor, k: int = 10, fraction: float = 0.01) -> dict[str, float]:
    """The source's statistic on any recorded layer, to set beside :mod:`kvlib.contributions`.

    For queries ``x`` (the layer's inputs) and the labels of the training examples and the
    queries: the mean share of the attention held by the top ``fraction`` of patterns
    (``"top_pattern"``) and, summed per example, of examples (``"top_example"``), the
    participation ratio per example (``"participation_example"``), the fraction of the ``k``
    most-attended patterns in the query's class (``"same_class"``), and the coefficients of
    variation of the stored values' sizes (``"cv_values"``) and of each query's attention
    (``"cv_attention"``).
    """
    memory = _memory(memory)
    x = check.tensor("x", x, ndim=2, dtype="any", nonempty=True)
    example_labels = check.tensor("example_labels", example_labels, ndim=1, dtype="int", nonempty=True)
    fractions = [check.number("fraction", fraction, low=0, low_open=True, high=1)]
    att = raw_attention(memory, x)                                    # (B, N), per pattern and step
    ids = memory.example_ids()
    if ids.numel() and int(ids.max()) >= example_labels.shape[0]:
        raise ValueError(f"example_labels: expected a label for each of the {int(ids.max()) + 1} "
                         f"training examples, got {example_labels.shape[0]}")
    per_example = aggregate(att, ids, example_labels.shape[0])
    c_pattern = attention_concentration(att, fractions)
    c_example = attention_concentration(per_example, fractions)
    same = class_views(att, example_labels.cpu()[ids], query_labels, k=k,
                       n_classes=int(example_labels.max()) + 1)["same_class_top"]
    size = torch.cat(memory.values).norm(dim=1)                       # |value| of every memory
    top = f"top_{fractions[0]:g}"
    return {"top_pattern": float(c_pattern[top].mean()), "top_example": float(c_example[top].mean()),
            "participation_example": float(c_example["participation"].mean()),
            "same_class": float(same.mean()), "cv_values": float(size.std() / size.mean()),
            "cv_attention": float((att.std(-1) / att.mean(-1)).mean())}
