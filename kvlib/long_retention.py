"""Decades of retention beside lists forgotten in minutes: one memory, two kinds of cue (§4.1).

People recognise the names and faces of classmates half a century on and keep school
mathematics for decades with little rehearsal (Bahrick et al. 1975; Bahrick & Hall 1991), yet
forget a list of words within minutes. The review argues that both follow from retrieval
interference rather than from storage running out (§4.1). Here one memory stores a list and
then, step after step, a stream of unrelated memories, each under the drifting context of its
moment (the temporal context model, Howard & Kahana 2002; :func:`kvlib.extinction.context_drift`);
nothing is ever removed. What differs is the cue:

* an *item cue* (the face, the word to translate) carries the memory's own distinctive content,
  which does not drift; it competes with the whole lifetime of memories, but only by chance
  resemblance;
* a *context cue* (free recall of "the list I just learned") carries only the present context;
  it loses its match to the list as the context drifts, and the memories of the last few
  minutes, which share today's context, take over.

:func:`retention_curves` reads the memory with both cues after each retention interval, one
softmax read with a "nothing comes to mind" option (:func:`kvlib.episodic.weighted_recall`).
Randomness: ``seed``, through ``kvlib.device.generator``. Axis names: B subjects, T steps
(one memory each), n list items, d dims. Explained in Chapter 5, §Decades and minutes.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from kvlib import _checks as check
from kvlib.device import cpu_threads
from kvlib.device import generator as stream
from kvlib.episodic import mean_se, noisy_cue, random_unit, weighted_recall
from kvlib.extinction import context_drift

__all__ = ["long_contexts", "retention_curves", "retention_numbers"]

_BLOCK = 256


def long_contexts(inputs: Tensor, drift: float) -> Tensor:
    """:func:`kvlib.extinction.context_drift` for long streams, in blocks of 256 steps.

    Each block is one matrix product; the context at a block's end is carried into the next as
    ``rho^(k+1) c_end`` (the loop is over blocks, not steps). ``inputs`` (..., T, d); returns
    the unit contexts (..., T, d).

    >>> f = torch.randn(600, 3, generator=torch.Generator().manual_seed(0))
    >>> c = F.normalize(context_drift(f, 0.2), dim=-1)
    >>> bool(torch.allclose(long_contexts(f, 0.2), c, atol=1e-5))
    True
    """
    inputs = check.tensor("inputs", inputs, nonempty=True)
    if inputs.ndim < 2:
        raise ValueError(f"inputs: expected shape (..., T, d), got {tuple(inputs.shape)}")
    drift = check.probability("drift", drift)
    rho = math.sqrt(1.0 - drift ** 2)
    T = inputs.shape[-2]
    decay = rho ** torch.arange(1, _BLOCK + 1, dtype=inputs.dtype, device=inputs.device)[:, None]
    out, carry = [], torch.zeros_like(inputs[..., :1, :])
    for start in range(0, T, _BLOCK):                              # loop over blocks of steps
        block = inputs[..., start:start + _BLOCK, :]
        c = context_drift(block, drift) + decay[:block.shape[-2]] * carry
        out.append(c)
        carry = c[..., -1:, :]
    return F.normalize(torch.cat(out, -2), dim=-1)


@cpu_threads(1)
def retention_curves(intervals: Sequence[int] = (1, 3, 10, 30, 100, 300, 1000, 3000, 10000),
                     list_length: int = 10, subjects: int = 8, d: int = 128, drift: float = 0.1,
                     item_weight: float = 0.8, cue_noise: float = 1.0, beta: float = 20.0,
                     threshold: float | None = None, seed: int = 0, device="cpu") -> dict:
    """Retrieval of a list's items after each interval, cued by the item and by the context.

    A list of ``list_length`` items is stored first, then one unrelated memory per step; every
    memory's key is ``[a x, b c_t]``, its content ``x`` (random unit) and the context of its
    step (``a^2 = item_weight``; contexts drift by ``drift`` per step). After ``Δ`` further
    steps (each of ``intervals``) the memory holds the list and ``Δ`` later memories, and is
    read with ``beta`` (and a "nothing" option at ``threshold``, if given):

    - *item cue*: ``[a x̃, b c_now]`` with ``x̃`` a noisy view of the item (``cue_noise``);
      the score is the read's weight on that item (cued recall);
    - *context cue*: ``[0, c_now]``; the score is the read's total weight on the list's
      items, the chance that a free-recall attempt returns a list word.

    Returns the intervals, the number of memories stored, and the mean and standard error
    over subjects of both scores. Explained in Chapter 5, §Decades and minutes.
    """
    intervals = check.sequence("intervals", intervals, lambda n, v: check.count(n, v, minimum=1))
    if not intervals:
        raise ValueError("intervals: expected at least one interval, got an empty sequence")
    n = check.count("list_length", list_length, minimum=1)
    B = check.count("subjects", subjects, minimum=2)
    d = check.count("d", d, minimum=2)
    drift = check.probability("drift", drift)
    a2 = check.number("item_weight", item_weight, low=0, high=1)
    noise = check.number("cue_noise", cue_noise, low=0, high=1e6)
    beta = check.positive("beta", beta)
    if threshold is not None:
        threshold = check.number("threshold", threshold, low=-1, high=1)
    gen = stream(check.seed("seed", seed))
    dev = check.device("device", device)
    T = n + max(intervals)
    if B * T * 2 * d > 10**8 or T > 10**6:
        raise ValueError(f"intervals: expected at most 10**8 key entries (subjects x steps x 2d), got "
                         f"{B} x {T} x {2 * d}")
    a, b = math.sqrt(a2), math.sqrt(1 - a2)
    x = random_unit((B, T, d), gen, dev)                           # (B, T, d) each memory's content
    ctx = long_contexts(random_unit((B, T, d), gen, dev), drift)   # (B, T, d) context of each step
    K = torch.cat([a * x, b * ctx], -1)                            # (B, T, 2d)
    V = K[..., :1]                                                 # only the weights are used
    in_list = (torch.arange(T, device=dev) < n).float()            # (T,)
    views = noisy_cue(x[:, :n], noise, gen)                        # (B, n, d) noisy views of the items
    out: dict = {"interval": intervals, "list_length": n}
    item, free = [], []
    for gap in intervals:                                          # loop over a few intervals
        now = n - 1 + gap                                          # the last step stored
        stored = torch.arange(T, device=dev) <= now                # (T,) what is stored by then
        c_now = ctx[:, now][:, None, :].expand(B, n, d)
        q_item = torch.cat([a * views, b * c_now], -1)             # (B, n, 2d)
        _, w = weighted_recall(q_item, K, V, beta, mask=stored, nothing=threshold, return_weights=True)
        item.append(w[..., :n].diagonal(dim1=-2, dim2=-1).mean(-1))            # weight on the right item
        q_ctx = torch.cat([torch.zeros_like(views[:, :1]), c_now[:, :1]], -1)  # (B, 1, 2d)
        _, w = weighted_recall(q_ctx, K, V, beta, mask=stored, nothing=threshold, return_weights=True)
        free.append((w[:, 0] * in_list).sum(-1))                   # weight on the list's items
    for name, xs in (("item_cue", item), ("context_cue", free)):
        m, se = mean_se(torch.stack(xs, 1).cpu())
        out[f"{name}_mean"], out[f"{name}_se"] = m, se
    out["memories_stored"] = [n + g for g in intervals]
    return out


def retention_numbers(result: dict) -> dict[str, float]:
    """The numbers Chapter 5 quotes from :func:`retention_curves`'s ``result`` (intervals must hold
    1, 10 and 100): the read's weight (%) on the cued item after 1 and after the last interval, the
    last interval, and the weight on the list under a context cue after 1, 10 and 100."""
    if not isinstance(result, dict):
        raise TypeError(f"result: expected the dict retention_curves returns, got {type(result).__name__}")
    if "context_cue_mean" not in result:
        raise ValueError("result: expected retention_curves' result, missing 'context_cue_mean'")
    at = {g: i for i, g in enumerate(result["interval"])}
    if any(g not in at for g in (1, 10, 100)):
        raise ValueError(f"result: expected intervals holding 1, 10 and 100, got {list(at)}")
    item, ctx = result["item_cue_mean"], result["context_cue_mean"]
    return {"rt_item_1": 100 * float(item[at[1]]), "rt_item_last": 100 * float(item[-1]),
            "rt_last": result["interval"][-1], "rt_ctx_1": 100 * float(ctx[at[1]]),
            "rt_ctx_10": 100 * float(ctx[at[10]]), "rt_ctx_100": 100 * float(ctx[at[100]])}
