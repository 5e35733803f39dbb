"""Summaries of attention weights over stored patterns: how concentrated, over which classes.

For the weights ``a`` ``(B, N)`` that B queries give N patterns (Irie et al.'s raw attention,
:func:`kvlib.attribution.raw_attention`): :func:`lorenz` and :func:`attention_concentration`
say how much of the total the top fraction of patterns holds (against the uniform share), the
participation ratio and the peak over the median; :func:`aggregate` sums patterns that share a
step or an example; :func:`class_views` and :func:`sorted_per_class` are the source's
per-class readings (the top patterns' labels, the class "vote", each class's largest weights
sorted); :func:`shuffle_queries` is the book's baseline, a query with its coordinates
shuffled. Explained in Chapter 3, §Spotlights of attention.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from kvlib import _checks as check

__all__ = ["SOURCE_TOP_PER_CLASS", "aggregate", "sorted_weights", "lorenz", "attention_concentration",
           "shuffle_queries", "class_views", "sorted_per_class"]

#: Their figures show the 500 largest weights of each class, out of about 64,000 per class
#: (5,000 steps x 128 examples / 10 classes): the top 0.78 % of a class.
SOURCE_TOP_PER_CLASS = 500 / 64_000


def aggregate(att: torch.Tensor, index: torch.Tensor, n: int | None = None) -> torch.Tensor:
    """Sum the weights over patterns that share an index (a step, an example): ``(B, n)``.

    ``index`` from :func:`kvlib.attribution.pattern_steps` (per step) or
    ``LayerMemory.example_ids`` (per example, their ``sample_total`` plot).
    """
    att = check.tensor("att", att, ndim=2, dtype="float")
    index = check.tensor("index", index, shape=(att.shape[1],), dtype="int", nonempty=True)
    if int(index.min()) < 0:
        raise ValueError(f"index: expected indices >= 0, got {int(index.min())}")
    n = int(index.max()) + 1 if n is None else check.count("n", n, minimum=int(index.max()) + 1)
    return att.new_zeros(att.shape[0], n).index_add_(1, index.to(att.device), att)


def _numbers(name: str, values: Iterable[float], low: float = 0.0, fraction: bool = False) -> list[float]:
    """A non-empty list of numbers >= ``low`` (in (0, 1] if ``fraction``), from any iterable."""
    if isinstance(values, Iterable) and not isinstance(values, (str, bytes, dict, list, tuple, range,
                                                                 torch.Tensor)):
        values = list(values)
    if fraction:
        return check.sequence(name, values, lambda n, f: check.number(n, f, low=0, low_open=True, high=1))
    return check.sequence(name, values, lambda n, f: check.number(n, f, low=low))


def _check_fractions(fractions: Iterable[float], name: str = "fractions") -> torch.Tensor:
    return torch.tensor(_numbers(name, fractions, fraction=True), dtype=torch.float64)


def sorted_weights(att: torch.Tensor) -> torch.Tensor:
    """Non-negative weights ``(B, N)``, each row in descending order (float32; for ``presorted``).

    The order is found in float32 (about twice as fast; a ranking does not need float64),
    the sums that follow are taken in float64. One sort serves :func:`lorenz` and
    :func:`attention_concentration` alike.
    """
    return _sorted(_weights(att))


def _weights(att: torch.Tensor) -> torch.Tensor:
    """Non-negative weights ``(B, N)`` with N >= 1 (``raw_attention`` with ``absolute=True``)."""
    att = check.tensor("att", att, ndim=2, dtype="float", nonempty=True)
    if (att < 0).any():
        raise ValueError("att: expected non-negative weights (kvlib.attribution.raw_attention with "
                         "absolute=True)")
    return att


def _sorted(att: torch.Tensor) -> torch.Tensor:
    """Each row in descending order. The order is found in float32 (about twice as fast; a
    ranking does not need float64), the sums that follow are taken in float64."""
    return att.to(torch.float32).sort(dim=-1, descending=True).values


def _shares(desc: torch.Tensor, fr: torch.Tensor) -> torch.Tensor:
    """Top-fraction shares from weights sorted in descending order; ``(B, F)`` (0 for all-zero rows)."""
    N = desc.shape[1]
    csum = desc.double().cumsum(-1)                                            # (B, N)
    k = torch.clamp(torch.ceil(fr * N - 1e-9).long(), 1, N) - 1                # (F,)
    total = csum[:, -1:]
    return csum[:, k.to(desc.device)] / torch.where(total > 0, total, torch.ones_like(total))


def lorenz(att: torch.Tensor, fractions: Iterable[float], presorted: bool = False) -> torch.Tensor:
    """Share of each query's total weight held by its top ``fraction`` of patterns; ``(B, F)``.

    The top ``ceil(f * N)`` patterns count (at least one). A uniform weight gives ``f``.
    ``presorted``: ``att`` comes from :func:`sorted_weights` already.
    """
    fr = _check_fractions(fractions)
    return _shares(_weights(att) if check.flag("presorted", presorted) else sorted_weights(att), fr)


def attention_concentration(att: torch.Tensor, fractions: Iterable[float] = (0.001, 0.01, 0.1),
                            presorted: bool = False) -> dict[str, torch.Tensor]:
    """How concentrated each query's attention is over the ``N`` patterns; values ``(B,)``.

    ``"top_<f>"``: share held by the top fraction ``f`` (uniform: ``f``); ``"participation"``:
    ``(sum a)^2 / (N sum a^2)``, 1 for uniform weights and ``1/N`` for a single pattern (the
    same measure as :func:`kvlib.contributions.contribution_concentration` on contribution
    sizes); ``"peak_to_median"``: the largest weight over the median one (the lower median, as
    ``torch.median``; 0 where the median is 0). A query whose weights are all zero gets 0.
    ``presorted``: ``att`` comes from :func:`sorted_weights` already.

    >>> c = attention_concentration(torch.tensor([[4.0, 1.0, 1.0, 1.0]]), (0.25,))
    >>> {k: round(float(v), 3) for k, v in c.items()}
    {'top_0.25': 0.571, 'participation': 0.645, 'peak_to_median': 4.0}
    """
    fractions = _check_fractions(fractions).tolist()
    desc = _weights(att) if check.flag("presorted", presorted) else sorted_weights(att)
    return _from_sorted(desc, fractions)


def _from_sorted(desc: torch.Tensor, fractions: list[float]) -> dict[str, torch.Tensor]:
    """:func:`attention_concentration` from weights already sorted in descending order."""
    N = desc.shape[1]
    shares = _shares(desc, torch.tensor(fractions, dtype=torch.float64))
    out = {f"top_{f:g}": shares[:, i] for i, f in enumerate(fractions)}
    d = desc.double()
    sq, med = d.pow(2).sum(-1), d[:, N - 1 - (N - 1) // 2]
    out["participation"] = d.sum(-1) ** 2 / (N * torch.where(sq > 0, sq, torch.ones_like(sq)))
    out["peak_to_median"] = torch.where(med > 0, d[:, 0] / torch.where(med > 0, med, torch.ones_like(med)),
                                        torch.zeros_like(med))
    return out


def shuffle_queries(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each query with its coordinates in a fresh random order: same values, no structure.

    The baseline for a spotlight: it keeps the query's norm and value histogram, so any
    concentration it still shows comes from the keys alone (e.g. bold training images).
    """
    x = check.tensor("x", x, ndim=range(1, 64), dtype="float")
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
    att = _weights(att)
    n_classes = check.count("n_classes", n_classes, minimum=1)
    labels = check.tensor("pattern_labels", pattern_labels, shape=(att.shape[1],), dtype="int")
    yq = check.tensor("query_labels", query_labels, shape=(att.shape[0],), dtype="int")
    for name, lab in (("pattern_labels", labels), ("query_labels", yq)):
        if lab.numel() and not (0 <= int(lab.min()) and int(lab.max()) < n_classes):
            raise ValueError(f"{name}: expected labels in 0..{n_classes - 1}, got {lab.min()}..{lab.max()}")
    k = check.count("k", k, minimum=1)
    if k > att.shape[1]:
        raise ValueError(f"k: expected an int in 1..{att.shape[1]}, got {k!r}")
    labels, yq = labels.to(att.device), yq.to(att.device)
    top = att.topk(k, dim=-1).indices
    totals = att.new_zeros(att.shape[0], n_classes).index_add_(1, labels, att)   # (B, C)
    vote = totals.argmax(-1)
    out = {"same_class_top": (labels[top] == yq[:, None]).double().mean(-1),
           "vote": vote, "vote_is_label": (vote == yq).double()}
    if predictions is not None:
        pred = check.tensor("predictions", predictions, shape=(att.shape[0],), dtype="int")
        out["vote_is_output"] = (vote == pred.to(att.device)).double()
    return out


def sorted_per_class(att: torch.Tensor, pattern_labels: torch.Tensor,
                     fraction: float = SOURCE_TOP_PER_CLASS, n_classes: int = 10
                     ) -> list[torch.Tensor]:
    """For one query (``att`` of shape ``(N,)``): each class's largest weights, sorted.

    Their figure: the top ``fraction`` of each class's patterns (500 of about 64,000 in the
    source), class by class.
    """
    att = check.tensor("att", att, ndim=1, dtype="float", nonempty=True)
    labels = check.tensor("pattern_labels", pattern_labels, ndim=1, dtype="int")
    if labels.shape != att.shape:
        raise ValueError(f"pattern_labels: expected one label per weight of att ({att.shape[0]}), "
                         f"got {tuple(labels.shape)}")
    fraction = check.number("fraction", fraction, low=0, low_open=True, high=1)
    out = []
    for c in range(check.count("n_classes", n_classes, minimum=1)):   # the loop is over panels
        a = att[labels.to(att.device) == c]
        k = max(1, math.ceil(fraction * a.numel()))
        out.append(a.topk(min(k, a.numel())).values if a.numel() else a)
    return out
