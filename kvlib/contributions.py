"""Which training examples a trained layer's output comes from: the book's contribution statistic.

Eq 11 writes a trained layer's output as a sum over its memories, and every memory knows the
training example that wrote it (:meth:`kvlib.recorder.MemoryRecorder.set_example_ids`). So
the output splits exactly into one part per training example e,

    c_e(x) = sum_{n of e} w_n (x . k_n) v_n        (summed over the steps e was seen in),

plus ``x W0^T`` (:func:`example_contributions`). :func:`example_scores` ranks examples by
*support* (how far ``c_e`` pushes the output the way it goes; the book's choice), by size
``|c_e|`` or by their raw attention; :func:`top_examples` picks the best; and
:func:`contribution_concentration` says how concentrated the read-out is. :func:`retrieval_stats`
and :func:`retrieval_study` do this for many test inputs. This statistic is the book's, not
the primary source's: Irie et al.'s raw attention is in :mod:`kvlib.attribution`.
Explained in Chapter 3, §What the network retrieves.
"""
from __future__ import annotations

import torch
from torch import nn

from kvlib import _checks as check
from kvlib.device import cpu_threads
from kvlib.dualform import LayerMemory, layer_io, model_input
from kvlib.recorder import MemoryRecorder

__all__ = ["RANKINGS", "example_contributions", "example_scores", "top_examples",
           "contribution_concentration", "retrieval_stats", "retrieval_study"]

#: The ways :func:`example_scores` ranks training examples.
RANKINGS = ("support", "attention", "magnitude")


def _memory(memory: object) -> LayerMemory:
    if not isinstance(memory, LayerMemory):
        raise TypeError(f"memory: expected a kvlib.dualform.LayerMemory, got {type(memory).__name__}")
    return memory


def _queries(x: torch.Tensor) -> torch.Tensor:
    """Queries ``(B, d_in)`` (their dtype is the memory's business, see ``LayerMemory.attention``)."""
    return check.tensor("x", x, ndim=2, dtype="any")


def _example_ids(memory: LayerMemory, n_examples: int | None) -> tuple[torch.Tensor, int]:
    """Every memory's example index, checked, and the number of examples E."""
    ids = memory.example_ids()
    if (ids < 0).any():
        raise ValueError(f"memory: layer {memory.name!r} has memories without an example index "
                         "(-1); call MemoryRecorder.set_example_ids(ids) before every batch")
    if n_examples is None:
        if not ids.numel():
            raise ValueError(f"n_examples: layer {memory.name!r} has no memories; give the number "
                             "of training examples explicitly")
        return ids, int(ids.max()) + 1
    E = check.count("n_examples", n_examples, minimum=1)
    if ids.numel() and int(ids.max()) >= E:
        raise ValueError(f"n_examples: expected more than the largest example index "
                         f"{int(ids.max())}, got {n_examples!r}")
    return ids, E


def example_contributions(memory: LayerMemory, x: torch.Tensor, n_examples: int | None = None,
                          decay: bool = True) -> torch.Tensor:
    """What each training example's memories add to the output: ``(B, E, d_out)``.

    Entry ``[b, e]`` is ``sum_{n of example e} w_n (x_b . k_n) v_n``, the part of Eq 11's sum
    written by example ``e`` (over all the steps it was seen in; ``w_n`` the decay weight).
    Summed over ``e`` and added to ``x W0^T``, it gives the layer's output. ``x``: the
    layer's inputs ``(B, d_in)``; ``n_examples``: E (default: the largest index + 1).
    """
    ids, E = _example_ids(_memory(memory), n_examples)
    with torch.no_grad():
        alpha = memory.attention(_queries(x))                         # (B, N): x . k_n, Eq 11
        return _split_by_example(memory, alpha, ids, E, decay)


def _split_by_example(memory: LayerMemory, alpha: torch.Tensor, ids: torch.Tensor, E: int,
                      decay: bool) -> torch.Tensor:
    """Eq 11's sum ``sum_n alpha_n w_n v_n`` split by the example behind each memory: ``(B, E, d_out)``."""
    sw = memory.step_weights(decay).tolist()
    out = alpha.new_zeros(alpha.shape[0], E, memory.W0.shape[0])      # (B, E, d_out)
    start = 0
    for t, v in enumerate(memory.values):       # step by step keeps (B, n_t, d_out) small
        n = v.shape[0]
        contrib = alpha[:, start:start + n, None] * (sw[t] * v.to(alpha))[None]   # (B, n_t, d_out)
        out.index_add_(1, ids[start:start + n].to(out.device), contrib)
        start += n
    return out


def _support(c: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``c_e . y / |y|`` for contributions ``(B, E, d)`` and outputs ``(B, d)`` (0 where y = 0)."""
    norm = y.norm(dim=-1, keepdim=True)
    return (c * y[:, None, :]).sum(-1) / torch.where(norm > 0, norm, torch.ones_like(norm))


def example_scores(memory: LayerMemory, x: torch.Tensor, by: str = "support",
                   n_examples: int | None = None, decay: bool = True) -> torch.Tensor:
    """Score every training example for each query; ``(B, E)``.

    ``by="support"``: how far example ``e``'s contribution ``c_e`` pushes the output the way
    it actually goes, ``c_e . y / |y|`` with ``y`` the layer's output (Eq 11); the supports
    of all examples plus ``W0``'s add up to ``|y|``. ``"magnitude"``: ``|c_e|``.
    ``"attention"``: the summed raw attention ``x . k_n`` of the example's memories,
    ignoring what they store.
    """
    check.option("by", by, RANKINGS)
    x = _queries(x)
    if by == "attention":
        ids, E = _example_ids(_memory(memory), n_examples)
        with torch.no_grad():
            alpha = memory.attention(x)                               # (B, N)
            return alpha.new_zeros(alpha.shape[0], E).index_add_(1, ids.to(alpha.device), alpha)
    c = example_contributions(memory, x, n_examples, decay)           # (B, E, d_out)
    if by == "magnitude":
        return c.norm(dim=-1)
    with torch.no_grad():
        return _support(c, memory.forward(x, decay=decay))


def top_examples(memory: LayerMemory, x: torch.Tensor, k: int = 8, by: str = "support",
                 n_examples: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` training examples each query retrieves most: ``(indices, scores)``, ``(B, k)``.

    Ranked by :func:`example_scores`.
    """
    k = check.count("k", k, minimum=1)
    scores = example_scores(memory, x, by, n_examples)
    if k > scores.shape[1]:
        raise ValueError(f"k: expected at most the number of training examples {scores.shape[1]}, got {k}")
    top = scores.topk(k, dim=-1)
    return top.indices, top.values


def contribution_concentration(contrib: torch.Tensor, top_fraction: float = 0.01
                               ) -> dict[str, torch.Tensor]:
    """How concentrated a read-out is over training examples, per query.

    ``contrib`` is ``(B, E, d_out)`` from :func:`example_contributions`; with ``m_e`` the size
    of example ``e``'s contribution, returns ``"top_share"`` (the share of ``sum_e m_e`` held
    by the top ``top_fraction`` of examples, at least one) and ``"effective_fraction"`` (the
    participation ratio ``(sum m)^2 / (E sum m^2)``: 1 when every example adds the same,
    ``1/E`` when one example does it all), each ``(B,)``; a query with no contribution at all
    gets 0 for both.

    >>> one = torch.zeros(1, 100, 3); one[0, 7] = 1.0
    >>> {k: round(float(v), 3) for k, v in contribution_concentration(one).items()}
    {'top_share': 1.0, 'effective_fraction': 0.01}
    """
    contrib = check.tensor("contrib", contrib, ndim=3, dtype="float", nonempty=True)
    top_fraction = check.number("top_fraction", top_fraction, low=0, low_open=True, high=1)
    m = contrib.norm(dim=-1)                                          # (B, E)
    E = m.shape[1]
    k = max(1, int(round(top_fraction * E)))
    total, sq = m.sum(-1), m.pow(2).sum(-1)
    top = m.topk(k, dim=-1).values.sum(-1)
    ok = total > 0
    one = torch.ones_like(total)
    return {"top_share": torch.where(ok, top / torch.where(ok, total, one), 0 * one),
            "effective_fraction": torch.where(ok, total ** 2 / (E * torch.where(ok, sq, one)), 0 * one)}


def retrieval_stats(memory: LayerMemory, inputs: torch.Tensor, example_labels: torch.Tensor,
                    query_labels: torch.Tensor, k: int = 10, batch: int = 25,
                    top_fraction: float = 0.01) -> dict[str, float]:
    """Does a layer retrieve training examples of the query's own class? And how concentrated?

    For every query (``inputs``: the layer's inputs, ``(B, d_in)``), ranks the training
    examples (labels ``example_labels``, ``(E,)``) by each of :data:`RANKINGS` and returns the
    fraction of the top ``k`` that share the query's label (``"same_class_<by>"``), plus the
    mean :func:`contribution_concentration` measures. Works in batches of ``batch`` queries so
    the ``(B, E, d_out)`` contributions stay small; on one thread on a CPU. The attention of a
    batch is computed once: the contributions, the per-example attention and the output
    (``x W0^T`` plus the contributions, Eq 11) all come from it.
    """
    _memory(memory)
    inputs = check.tensor("inputs", inputs, ndim=2, dtype="float", nonempty=True)
    example_labels = check.tensor("example_labels", example_labels, ndim=1, dtype="int", nonempty=True)
    query_labels = check.tensor("query_labels", query_labels, ndim=1, dtype="int")
    if inputs.shape[0] != query_labels.shape[0]:
        raise ValueError(f"query_labels: expected one label per input ({inputs.shape[0]}), "
                         f"got {query_labels.shape[0]}")
    E = example_labels.shape[0]
    ids = _memory(memory).example_ids()
    if ids.numel() and int(ids.max()) >= E:
        raise ValueError(f"example_labels: expected a label for each of the {int(ids.max()) + 1} "
                         f"training examples, got {E}")
    ids, _ = _example_ids(memory, E)
    k = check.count("k", k, minimum=1)
    if k > E:
        raise ValueError(f"k: expected at most the number of training examples {E}, got {k}")
    batch = check.count("batch", batch, minimum=1)
    example_labels = example_labels.to(inputs.device)
    sums: dict[str, float] = {}
    with cpu_threads(1 if inputs.device.type == "cpu" else None):
        for s in range(0, inputs.shape[0], batch):          # blocks of queries bound the memory
            x, yq = inputs[s:s + batch], query_labels[s:s + batch].to(inputs.device)
            with torch.no_grad():
                alpha = memory.attention(x)                               # (b, N)
                c = _split_by_example(memory, alpha, ids, E, True)        # (b, E, d_out)
                y = memory.forward(x, tags=[]) + c.sum(1)                 # (b, d_out), Eq 11
                per_example = alpha.new_zeros(alpha.shape[0], E).index_add_(1, ids.to(alpha.device), alpha)
            scores = {"support": _support(c, y), "magnitude": c.norm(dim=-1), "attention": per_example}
            for by in RANKINGS:
                top = scores[by].topk(k, dim=-1).indices                   # (b, k)
                hit = (example_labels[top] == yq[:, None]).double().mean(-1).sum()
                sums[f"same_class_{by}"] = sums.get(f"same_class_{by}", 0.0) + float(hit)
            for name, v in contribution_concentration(c, top_fraction).items():
                sums[name] = sums.get(name, 0.0) + float(v.sum())
    return {name: v / inputs.shape[0] for name, v in sums.items()}


def retrieval_study(model: nn.Module, recorder: MemoryRecorder, x_train: torch.Tensor,
                    y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor, *,
                    n_queries: int = 200, k: int = 10, n_shown: int = 12, n_top: int = 6) -> dict:
    """:func:`retrieval_stats` for every recorded layer of a trained model, and what it retrieves.

    The first ``n_queries`` test inputs are the queries (each layer sees its real input,
    :func:`kvlib.dualform.layer_io`). Returns ``{"stats": {layer: stats}, "test_accuracy":
    float, "top": {layer: {ranking: (n_shown, n_top) indices}}, "shown": (x, y) of the first
    ``n_shown`` queries, "train": (x_train, y_train), "layers": [...], "chance": 1 / classes}``.
    Explained in Chapter 3, §What the network retrieves.
    """
    if not isinstance(recorder, MemoryRecorder):
        raise TypeError(f"recorder: expected a MemoryRecorder, got {type(recorder).__name__}")
    n_queries = check.count("n_queries", n_queries, minimum=1)
    n_shown = check.count("n_shown", n_shown, minimum=1)
    n_top = check.count("n_top", n_top, minimum=1)
    x_test = model_input(model, x_test, "x_test")
    if x_test.ndim != 2 or not x_test.shape[0]:
        raise ValueError(f"x_test: expected shape (B, d) with B >= 1, got {tuple(x_test.shape)}")
    y_q = check.tensor("y_test", y_test, shape=(x_test.shape[0],), dtype="int")[:n_queries]
    x_q = x_test[:n_queries]
    y_train = check.tensor("y_train", y_train, ndim=1, dtype="int", nonempty=True)
    x_train = check.tensor("x_train", x_train, shape=(y_train.shape[0], None), dtype="float")
    if n_top > y_train.shape[0]:
        raise ValueError(f"n_top: expected at most the number of training examples {y_train.shape[0]}, "
                         f"got {n_top}")
    io = layer_io(model, recorder.memories, x_q)
    stats = {n: retrieval_stats(mem, io[n][0], y_train, y_q, k=k)
             for n, mem in recorder.memories.items()}
    with torch.no_grad():
        acc = float((model(x_q).argmax(-1) == y_q).double().mean())
    shown = min(n_shown, x_q.shape[0])
    with cpu_threads(1 if x_q.device.type == "cpu" else None):
        top = {n: {by: top_examples(mem, io[n][0][:shown], n_top, by, y_train.shape[0])[0].cpu()
                   for by in RANKINGS} for n, mem in recorder.memories.items()}
    n_classes = int(max(y_train.max(), y_q.max())) + 1
    return {"stats": stats, "test_accuracy": acc, "top": top, "layers": list(recorder.memories),
            "shown": (x_q[:shown].cpu(), y_q[:shown].cpu()), "train": (x_train.cpu(), y_train.cpu()),
            "chance": 1.0 / n_classes, "n_queries": x_q.shape[0], "k": k}
