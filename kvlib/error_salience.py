"""Errors are salient: how much of a trained layer's read-out its largest-error memories supply.

Paper §2.3 (Eqs 10-11) and the remark that follows it: a linear layer trained by gradient
descent stores one pair per example and step, key ``k_n = x_n`` and value ``v_n = e_n =
-lr * dL/dy_n``, its error signal (:mod:`kvlib.dualform`). The stored values *are* errors, so a
memory is written strongly where the network was wrong and hardly at all where it was right,
which the review compares with the salience of surprising events in human memory (von Restorff
and prediction-error effects, Green 1956; Bein, Plotkin & Davachi 2021, ...).

For a query ``x`` the memories' part of the output is ``r(x) = sum_n w_n (x . k_n) e_n``
(``w_n`` the weight-decay factor, 1 for plain SGD), a sum of contributions
``c_n = w_n (x . k_n) e_n``. For the set ``S`` of the top fraction ``f`` of memories ranked by
their stored error ``w_n |e_n|`` (:func:`salient_set`), :func:`salience_shares` measures

=================  ==============================================  ==========================
measure            share held by ``S``                              if errors did not matter
=================  ==============================================  ==========================
``count``          ``|S| / N``                                      ``f``
``attention``      ``sum_S |x . k_n| / sum_n |x . k_n|``            ``f``
``contribution``   ``sum_S |c_n| / sum_n |c_n|``                    ``f``
``readout``        ``(sum_S c_n) . r / |r|^2`` (adds up to 1 over   ``f``
                   ``S`` and its complement; negative: pulls
                   against the output)
=================  ==============================================  ==========================

The control (``order="shuffled"``) ranks by the errors shuffled among the memories, i.e. a
random set of the same size: by linearity every share then has expectation exactly ``f``.
``order="largest_in_step"`` ranks within each training step, so that "large error" cannot
simply mean "early in training". :func:`salience_curves` sweeps the fractions and
:func:`salience_study` runs every layer of a recorded model on test inputs. The read-out goes
through :meth:`kvlib.dualform.LayerMemory.forward` and so :func:`kvlib.kernels.retrieve`.
The statistic is the book's (not in the review, which makes the remark without a measurement).
Explained in Chapter 3, §Errors are salient.
"""
from __future__ import annotations

import torch
from torch import nn

from kvlib import _checks as check
from kvlib.device import cpu_threads
from kvlib.device import generator as seed_stream
from kvlib.dualform import LayerMemory, layer_io, model_input
from kvlib.recorder import MemoryRecorder

__all__ = ["ERROR_ORDERS", "SALIENCE_MEASURES", "SALIENCE_FRACTIONS", "error_strengths",
           "salient_set", "salience_shares", "salience_curves", "salience_study"]

#: How :func:`salient_set` ranks the memories.
ERROR_ORDERS = ("largest", "largest_in_step", "shuffled")
#: What :func:`salience_shares` measures (see the module's table).
SALIENCE_MEASURES = ("count", "attention", "contribution", "readout")
#: The fractions of memories Chapter 3 reads the shares at.
SALIENCE_FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


def _memory(memory: object) -> LayerMemory:
    if not isinstance(memory, LayerMemory):
        raise TypeError(f"memory: expected a kvlib.dualform.LayerMemory, got {type(memory).__name__}")
    if not memory.n_memories:
        raise ValueError(f"memory: layer {memory.name!r} has no memories to rank")
    return memory


def error_strengths(memory: LayerMemory, decay: bool = True) -> torch.Tensor:
    """The size of each stored error today, ``w_n |e_n|``, in storage order; ``(N,)`` float64.

    ``w_n`` is the weight-decay factor of the memory's step (:meth:`~kvlib.dualform.LayerMemory.step_weights`;
    ``decay=False``: 1).

    >>> mem = LayerMemory("l", torch.zeros(1, 2), False, keys=[torch.eye(2)],
    ...                   values=[torch.tensor([[3.], [-4.]])], decay=[1.0], tags=["t"])
    >>> error_strengths(mem)
    tensor([3., 4.], dtype=torch.float64)
    """
    memory = _memory(memory)
    sw = memory.step_weights(check.flag("decay", decay))                     # (T,)
    sizes = torch.tensor([v.shape[0] for v in memory.values])
    norms = torch.cat([v.detach().double().norm(dim=1).cpu() for v in memory.values])   # (N,)
    return norms * sw.repeat_interleave(sizes)


def salient_set(memory: LayerMemory, fraction: float, order: str = "largest",
                generator: torch.Generator | None = None, decay: bool = True) -> torch.Tensor:
    """The memories with the largest stored errors: a boolean mask ``(N,)`` in storage order.

    ``order="largest"``: the top ``round(fraction * N)`` (at least one) by
    :func:`error_strengths`. ``"largest_in_step"``: the top ``round(fraction * B_t)`` (at least
    one) of every step ``t``. ``"shuffled"``: the control, the same count chosen by ranking the
    errors shuffled among the memories (a uniformly random set; ``generator`` draws it).
    Ties are broken by storage order (earlier first).
    """
    memory = _memory(memory)
    fraction = check.number("fraction", fraction, low=0, low_open=True, high=1)
    check.option("order", order, ERROR_ORDERS)
    g = check.generator("generator", generator)
    strength = error_strengths(memory, decay)                                 # (N,)
    N = strength.numel()
    mask = torch.zeros(N, dtype=torch.bool)
    if order == "largest_in_step":
        sizes = torch.tensor([v.shape[0] for v in memory.values])
        step = torch.arange(len(sizes)).repeat_interleave(sizes)              # (N,) step of each memory
        by_size = torch.sort(strength, descending=True, stable=True).indices
        within = by_size[torch.sort(step[by_size], stable=True).indices]      # steps in order, largest first
        start = torch.cumsum(sizes, 0) - sizes                                # (T,) first index of each step
        rank = torch.arange(N) - start[step[within]]                          # rank within its step
        keep = torch.clamp(torch.round(fraction * sizes.double()).long(), min=1)
        mask[within[rank < keep[step[within]]]] = True
        return mask
    k = max(1, int(round(fraction * N)))
    if order == "shuffled":
        perm = torch.randperm(N, generator=g)
        mask[perm[:k]] = True                      # ranking shuffled errors = a random set of k
        return mask
    mask[torch.sort(strength, descending=True, stable=True).indices[:k]] = True
    return mask


def _shares(memory: LayerMemory, x: torch.Tensor, masks: torch.Tensor, strength: torch.Tensor,
            decay: bool) -> dict[str, torch.Tensor]:
    """Each measure for each mask ``(F, N)`` and query ``(B, d)``: ``{measure: (F, B)}``.

    The read-out ``r`` comes from :meth:`~kvlib.dualform.LayerMemory.forward`; a set's share
    of it is the sum of its memories' projections ``c_n . r / |r|^2`` (Eq 11 is a sum, so this
    equals reading the set alone and projecting; the tests check the two agree to 1e-10).
    """
    alpha = memory.attention(x)                                               # (B, N): x . k_n
    att = alpha.abs()
    m = masks.to(att)                                                         # (F, N)
    contrib = att * strength.to(att)                                          # (B, N): |c_n|
    tiny = torch.finfo(att.dtype).tiny
    r = memory.forward(x, include_w0=False, decay=decay)                      # (B, d_out): Eq 11's sum
    norm2 = r.pow(2).sum(-1)
    sw = memory.step_weights(decay).to(att)
    errs = torch.cat([v.to(att) * sw[t] for t, v in enumerate(memory.values)])   # (N, d_out): w_n e_n
    along = (errs @ r.T).T * alpha                                            # (B, N): c_n . r
    safe = torch.where(norm2 > 0, norm2, torch.ones_like(norm2))
    readout = (m @ along.T) / safe                                            # (F, B)
    return {"count": (m.mean(1)[:, None]).expand(-1, x.shape[0]),
            "attention": (m @ att.T) / att.sum(1).clamp_min(tiny),
            "contribution": (m @ contrib.T) / contrib.sum(1).clamp_min(tiny),
            "readout": torch.where(norm2 > 0, readout, torch.zeros_like(readout))}


def salience_shares(memory: LayerMemory, x: torch.Tensor, fraction: float = 0.1,
                    order: str = "largest", generator: torch.Generator | None = None,
                    decay: bool = True) -> dict[str, torch.Tensor]:
    """The share of each measure (:data:`SALIENCE_MEASURES`) held by :func:`salient_set`, per query.

    ``x``: the layer's inputs ``(B, d_in)`` (its queries). Returns ``{measure: (B,)}``; a query
    whose read-out is zero has read-out share 0. The read-out shares of a set and of its
    complement add up to 1 (Eq 11 is a sum).

    >>> mem = LayerMemory("l", torch.zeros(1, 2), False, keys=[torch.eye(2)],
    ...                   values=[torch.tensor([[1.], [3.]])], decay=[1.0], tags=["t"])
    >>> {k: round(float(v), 2) for k, v in salience_shares(mem, torch.ones(1, 2), 0.5).items()}
    {'count': 0.5, 'attention': 0.5, 'contribution': 0.75, 'readout': 0.75}
    """
    memory = _memory(memory)
    x = check.tensor("x", x, ndim=2, dtype="any", nonempty=True)
    check.flag("decay", decay)
    mask = salient_set(memory, fraction, order, generator, decay)
    with torch.no_grad():
        out = _shares(memory, x, mask[None], error_strengths(memory, decay), decay)
    return {k: v[0] for k, v in out.items()}


def salience_curves(memory: LayerMemory, x: torch.Tensor,
                    fractions: tuple[float, ...] = SALIENCE_FRACTIONS, n_shuffles: int = 5,
                    seed: int = 0, decay: bool = True, batch: int = 256) -> dict:
    """The shares of every measure at every fraction, for every order, averaged over the queries.

    Returns ``{"fractions": [...], order: {measure: [mean share per fraction]}}`` for each of
    :data:`ERROR_ORDERS` (the shuffled control averaged over ``n_shuffles`` draws from the
    named seed stream ``(seed, "salience-shuffle")``), and ``"early"``: for the largest-error
    sets, the mean position in training of their steps (0: first step, 1: last; 0.5 for a
    random set), which says how much "large error" means "early". Queries run ``batch`` at a
    time, on one CPU thread.
    """
    memory = _memory(memory)
    x = check.tensor("x", x, ndim=2, dtype="any", nonempty=True)
    fr = check.sequence("fractions", fractions,
                        lambda n, f: check.number(n, f, low=0, low_open=True, high=1))
    n_shuffles = check.count("n_shuffles", n_shuffles, minimum=1)
    g = seed_stream(check.seed("seed", seed), "salience-shuffle")
    batch = check.count("batch", batch, minimum=1)
    check.flag("decay", decay)
    strength = error_strengths(memory, decay)
    sets = {order: torch.stack([salient_set(memory, f, order, decay=decay) for f in fr])
            for order in ERROR_ORDERS if order != "shuffled"}
    sets["shuffled"] = torch.stack([salient_set(memory, f, "shuffled", g, decay)
                                    for _ in range(n_shuffles) for f in fr])   # (S * F, N)
    sums = {o: {m: torch.zeros(s.shape[0], dtype=torch.float64) for m in SALIENCE_MEASURES}
            for o, s in sets.items()}
    with torch.no_grad(), cpu_threads(1 if x.device.type == "cpu" else None):
        for s in range(0, x.shape[0], batch):                 # blocks of queries bound the memory
            xb = x[s:s + batch]
            for o, masks in sets.items():
                for m, v in _shares(memory, xb, masks, strength, decay).items():
                    sums[o][m] += v.sum(1).double().cpu()
    out: dict = {"fractions": fr}
    for o, per in sums.items():
        out[o] = {m: (v / x.shape[0]).reshape(-1, len(fr)).mean(0).tolist() for m, v in per.items()}
    sizes = torch.tensor([v.shape[0] for v in memory.values])
    pos = torch.arange(len(sizes), dtype=torch.float64).repeat_interleave(sizes) / max(1, len(sizes) - 1)
    out["early"] = [float(pos[mk].mean()) for mk in sets["largest"]]
    return out


def salience_study(model: nn.Module, recorder: MemoryRecorder, x_test: torch.Tensor, *,
                   n_queries: int = 200, fractions: tuple[float, ...] = SALIENCE_FRACTIONS,
                   n_shuffles: int = 5, seed: int = 0) -> dict:
    """:func:`salience_curves` for every recorded layer of a trained model, on test inputs.

    The first ``n_queries`` rows of ``x_test`` are the queries; each layer is queried with its
    real input (:func:`kvlib.dualform.layer_io`). Returns ``{"layers": [...], "curves": {layer:
    curves}, "fractions": [...], "n_queries": int, "n_memories": {layer: N}}``.
    Explained in Chapter 3, §Errors are salient.
    """
    if not isinstance(recorder, MemoryRecorder):
        raise TypeError(f"recorder: expected a MemoryRecorder, got {type(recorder).__name__}")
    n_queries = check.count("n_queries", n_queries, minimum=1)
    x_test = model_input(model, x_test, "x_test")
    if x_test.ndim != 2 or not x_test.shape[0]:
        raise ValueError(f"x_test: expected shape (B, d) with B >= 1, got {tuple(x_test.shape)}")
    io = layer_io(model, recorder.memories, x_test[:n_queries])
    curves = {n: salience_curves(mem, io[n][0], fractions, n_shuffles, seed)
              for n, mem in recorder.memories.items()}
    first = next(iter(curves.values()))
    return {"layers": list(curves), "curves": curves, "fractions": first["fractions"],
            "n_queries": min(n_queries, x_test.shape[0]),
            "n_memories": {n: m.n_memories for n, m in recorder.memories.items()}}
