"""Forgetting as retrieval interference, not erasure (the review's §4.1): lists of words in free recall.

Studied items are stored for good: each gets a key that mixes its list's context with a
part of its own, and nothing is ever removed. Free recall reinstates a list's context as the
query and makes retrieval attempts, each drawing one memory with the softmax weights
(:func:`kvlib.episodic.sample_recall`). The module follows the chapter:

- :func:`study_lists` stores lists (a :class:`ListMemory`), :func:`recall_list` recalls one;
- :func:`list_length_curve`: recall falls with list length while every item stays findable
  by its own cue (Murdock 1962);
- :func:`recovery_curve`: items missed at first come back with more attempts or a better cue;
- :func:`list_before_last` and :func:`last_list_effect`: recall of the list before last does
  not depend on the length of the last list (Shiffrin 1970), unlike in a store that makes
  room by erasing its oldest items (the rival account, not in the review).

Randomness: every experiment takes ``seed`` (its draws come from
``kvlib.device.generator(seed)``, one stream in a fixed order); the building blocks take a
``generator``. Experiments run on one CPU thread (many small tensor operations, for which
extra threads only cost time) and restore the caller's setting. Axis names: B participants,
N memories, L lists, d dims, R attempts. Explained in Chapter 5, §Retrieval interference, not erasure.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import cpu_threads
from kvlib.device import generator as stream
from kvlib.episodic import mean_se, noisy_cue, random_unit, sample_recall

__all__ = ["ListMemory", "study_lists", "recall_list", "list_length_curve", "recovery_curve",
           "list_before_last", "last_list_effect", "list_length_numbers", "list_before_last_numbers"]


@dataclass
class ListMemory:
    """Studied lists for B independent simulated participants.

    ``keys`` (B, N, d): one key per studied item, lists in study order; ``list_id`` (N,):
    the list each item belongs to (0, 1, ...); ``contexts`` (B, L, d): each list's
    context, the query that reinstates that list at test.
    Explained in Chapter 5, §The list-length effect.
    """

    keys: Tensor
    list_id: Tensor
    contexts: Tensor

    def __post_init__(self):
        self.keys = check.tensor("keys", self.keys, ndim=3, nonempty=True)
        self.list_id = check.tensor("list_id", self.list_id, dtype="int", shape=(self.keys.shape[1],))
        self.contexts = check.tensor("contexts", self.contexts, like=self.keys, like_name="the keys",
                                     shape=(self.keys.shape[0], None, self.keys.shape[2]), nonempty=True)
        if self.list_id.device != self.keys.device:
            raise ValueError(f"list_id: expected device {self.keys.device} (as the keys), "
                             f"got {self.list_id.device}")
        L = self.contexts.shape[1]
        if bool((self.list_id < 0).any() or (self.list_id >= L).any()):
            raise ValueError(f"list_id: expected list numbers in 0..{L - 1} (one context per list), "
                             f"got values from {int(self.list_id.min())} to {int(self.list_id.max())}")


def _lengths(name: str, values) -> list[int]:
    return check.sequence(name, values, lambda n, v: check.count(n, v, minimum=1))


def study_lists(lengths: Sequence[int], participants: int = 200, d: int = 64,
                item_share: float = 0.35, list_overlap: float = 0.0,
                generator: torch.Generator | None = None, device="cpu") -> ListMemory:
    """Study lists of the given ``lengths`` one after another; every item gets a key.

    An item's key mixes its list's context with an item-specific part,
    ``k = √(1 - item_share) c_list + √item_share u_item`` (unit vectors), so the items of
    one list share an address region (temporal context, Howard & Kahana 2002). Successive
    list contexts overlap by ``list_overlap`` (cosine). Nothing is ever erased: all keys
    stay in memory. ``generator`` defaults to ``kvlib.device.generator(0)``.
    Explained in Chapter 5, §The list-length effect.

    >>> study_lists([3, 2], participants=4, d=8).keys.shape
    torch.Size([4, 5, 8])
    """
    lengths = _lengths("lengths", lengths)
    B = check.count("participants", participants, minimum=1)
    d = check.count("d", d, minimum=2)
    item_share = check.probability("item_share", item_share)
    list_overlap = check.probability("list_overlap", list_overlap)
    if B * sum(lengths) * d > 10**8:
        raise ValueError(f"lengths: expected at most 10**8 key entries in all (participants x items x d), "
                         f"got {B} x {sum(lengths)} x {d}")
    gen = check.generator("generator", generator) or stream(0)
    dev = check.device("device", device)
    L = len(lengths)
    fresh = random_unit((B, L, d), gen, dev)                     # (B, L, d)
    ctx = [fresh[:, 0]]
    for i in range(1, L):                                        # a drift recursion over a few lists
        ctx.append(F.normalize(math.sqrt(list_overlap) * ctx[-1]
                               + math.sqrt(1 - list_overlap) * fresh[:, i], dim=-1))
    contexts = torch.stack(ctx, 1)                               # (B, L, d)
    list_id = torch.repeat_interleave(torch.arange(L, device=dev), torch.tensor(lengths, device=dev))  # (N,)
    items = random_unit((B, len(list_id), d), gen, dev)          # (B, N, d)
    keys = F.normalize(math.sqrt(1 - item_share) * contexts[:, list_id] + math.sqrt(item_share) * items,
                       dim=-1)
    return ListMemory(keys, list_id, contexts)


def recall_list(memory: ListMemory, target: int, beta: float = 8.0, attempts: int = 10,
                generator: torch.Generator | None = None, capacity: int | None = None,
                ) -> tuple[Tensor, Tensor]:
    """Free recall of list ``target``: ``attempts`` retrieval attempts cued by its context.

    Each attempt draws one stored item with probability ``softmax(β c_target Kᵀ)`` (Eq 6
    read as sampling, :func:`kvlib.episodic.sample_recall`); an item counts as recalled if
    it belongs to the target list and was drawn at least once. ``capacity`` (not in the
    review; the rival account) keeps only the most recent ``capacity`` items, erasing older
    ones as in a displacement store. ``generator`` defaults to ``kvlib.device.generator(0)``.
    Returns the proportion of the target list recalled per participant (B,) and the boolean
    recalled mask (B, N). Explained in Chapter 5, §The list-length effect.
    """
    if not isinstance(memory, ListMemory):
        raise TypeError(f"memory: expected a ListMemory (from study_lists), got {type(memory).__name__}")
    L = memory.contexts.shape[1]
    target = check.number("target", target, low=0, high=L - 1, integer=True)
    gen = check.generator("generator", generator) or stream(0)
    B, N, _ = memory.keys.shape
    mask = None
    if capacity is not None:
        capacity = check.count("capacity", capacity, minimum=1)
        mask = torch.arange(N, device=memory.keys.device) >= N - capacity   # (N,): older items erased
    q = memory.contexts[:, target, None]                         # (B, 1, d)
    drawn = sample_recall(q, memory.keys, beta, attempts, gen, mask=mask)[:, 0]   # (B, R)
    recalled = torch.zeros(B, N, dtype=torch.bool, device=drawn.device).scatter_(1, drawn, True)
    in_target = memory.list_id == target                         # (N,)
    return recalled[:, in_target].float().mean(1), recalled


def _cued_recall(memory: ListMemory, cue_noise: float, gen: torch.Generator) -> Tensor:
    """Each item cued by a noisy copy of its own key: True where the best match is the item, (B, N)."""
    keys = memory.keys
    q = noisy_cue(keys, cue_noise, gen)                          # (B, N queries, d)
    best = kernels.retrieve(q, keys, keys[..., :1], separation="max", full=True).index   # (B, N)
    return best == torch.arange(keys.shape[1], device=keys.device)


def _experiment_args(seed, device) -> tuple[torch.Generator, torch.device]:
    return stream(check.seed("seed", seed)), check.device("device", device)


@cpu_threads(1)
def list_length_curve(lengths: Sequence[int] = (5, 10, 15, 20, 30, 40),
                      attempts: Sequence[int] = (10, 30), beta: float = 8.0,
                      participants: int = 200, d: int = 64, item_share: float = 0.35,
                      cue_noise: float = 1.0, seed: int = 0, device="cpu") -> dict:
    """Recall probability against list length, for several numbers of attempts.

    The list-length effect as retrieval interference: longer lists put more keys near the
    list's context, so each attempt is less likely to land on any one item. Also returns
    cued recall (each item cued by a noisy copy of its own key), which stays high: every
    item is still stored. Free parameters: ``beta`` and ``attempts``. Means and standard
    errors are over ``participants``, indexed [attempts, length] for free recall.
    Explained in Chapter 5, §The list-length effect.
    """
    lengths = _lengths("lengths", lengths)
    attempts = _lengths("attempts", attempts)
    check.number("cue_noise", cue_noise, low=0, high=1e6)
    gen, dev = _experiment_args(seed, device)
    free = torch.zeros(len(attempts), len(lengths), 2)
    cued = torch.zeros(len(lengths), 2)
    for j, n in enumerate(lengths):                              # one list per length
        mem = study_lists([n], participants, d, item_share, generator=gen, device=dev)
        for i, r in enumerate(attempts):
            p, _ = recall_list(mem, 0, beta, r, gen)
            free[i, j] = torch.stack(mean_se(p.float().cpu()))
        cued[j] = torch.stack(mean_se(_cued_recall(mem, cue_noise, gen).float().mean(1).cpu()))
    return {"list_length": lengths, "attempts": attempts,
            "free_recall_mean": free[..., 0], "free_recall_se": free[..., 1],
            "cued_recall_mean": cued[:, 0], "cued_recall_se": cued[:, 1]}


@cpu_threads(1)
def recovery_curve(length: int = 20, max_attempts: int = 120, first_attempts: int = 10,
                   beta: float = 8.0, participants: int = 200, d: int = 64,
                   item_share: float = 0.35, cue_noise: float = 1.0, seed: int = 0,
                   device="cpu") -> dict:
    """Items missed after ``first_attempts`` come back with more attempts or a better cue.

    Returns the cumulative proportion recalled after each of 1..``max_attempts`` attempts
    (mean and standard error over participants), and, for items missed after
    ``first_attempts``, the fraction found by further attempts and the fraction found by
    cueing each with a noisy copy of its own key. Explained in Chapter 5, §Recovery.
    """
    length = check.count("length", length, minimum=1)
    max_attempts = check.count("max_attempts", max_attempts, minimum=1)
    first_attempts = check.number("first_attempts", first_attempts, low=1, high=max_attempts, integer=True)
    check.number("cue_noise", cue_noise, low=0, high=1e6)
    gen, dev = _experiment_args(seed, device)
    mem = study_lists([length], participants, d, item_share, generator=gen, device=dev)
    drawn = sample_recall(mem.contexts, mem.keys, beta, max_attempts, gen)[:, 0]   # (B, R)
    hit = F.one_hot(drawn, length).bool()                        # (B, R, N)
    steps = torch.arange(max_attempts, device=dev)[None, :, None]
    first = torch.where(hit, steps, max_attempts).amin(1)        # (B, N): first attempt drawing it (R: never)
    cumulative = (first[:, None, :] <= steps).float().mean(-1)  # (B, R): found by attempt r
    missed = first >= first_attempts                             # (B, N)
    found = _cued_recall(mem, cue_noise, gen)                    # (B, N)
    n_missed = missed.sum().clamp_min(1)
    mean, se = mean_se(cumulative.cpu())
    return {"length": length, "attempts": list(range(1, max_attempts + 1)),
            "cumulative_recall_mean": mean, "cumulative_recall_se": se,
            "first_attempts": first_attempts, "missed_fraction": missed.float().mean().item(),
            "missed_recovered_by_more_attempts": (((first < max_attempts) & missed).sum() / n_missed).item(),
            "missed_recovered_by_item_cue": ((found & missed).sum() / n_missed).item()}


@cpu_threads(1)
def list_before_last(target_lengths: Sequence[int] = (5, 10, 20),
                     last_lengths: Sequence[int] = (5, 10, 15, 20),
                     attempts: int = 10, beta: float = 8.0, participants: int = 200,
                     d: int = 64, item_share: float = 0.35, list_overlap: float = 0.0,
                     capacity: int = 20, seed: int = 0, device="cpu") -> dict:
    """Recall of the list before last against the length of the last list (Shiffrin 1970).

    Two lists are studied; the first (the *target*, the list before last) is recalled,
    cued by its own context. In the key-value memory every item stays stored and the last
    list's keys sit in another context region, so its length barely matters. The rival
    displacement store (the ``capacity`` most recent items kept; not in the review) loses
    target items as the last list grows. Returns means and standard errors over
    participants for both, indexed [target length, last length].
    Explained in Chapter 5, §The list before last.
    """
    target_lengths = _lengths("target_lengths", target_lengths)
    last_lengths = _lengths("last_lengths", last_lengths)
    capacity = check.count("capacity", capacity, minimum=1)
    gen, dev = _experiment_args(seed, device)
    out = {m: torch.zeros(len(target_lengths), len(last_lengths), 2) for m in ("key_value", "displacement")}
    for i, nt in enumerate(target_lengths):
        for j, nl in enumerate(last_lengths):
            mem = study_lists([nt, nl], participants, d, item_share, list_overlap, gen, dev)
            for model, cap in (("key_value", None), ("displacement", capacity)):
                p, _ = recall_list(mem, 0, beta, attempts, gen, capacity=cap)
                out[model][i, j] = torch.stack(mean_se(p.cpu()))
    return {"target_list_length": target_lengths, "last_list_length": last_lengths,
            "displacement_capacity": capacity,
            "key_value_recall_mean": out["key_value"][..., 0],
            "key_value_recall_se": out["key_value"][..., 1],
            "displacement_recall_mean": out["displacement"][..., 0],
            "displacement_recall_se": out["displacement"][..., 1]}


def last_list_effect(result: dict, model: str = "key_value") -> dict:
    """How much recall of the list before last changes from the shortest to the longest last list.

    ``result``: the output of :func:`list_before_last`; ``model``: ``"key_value"`` or
    ``"displacement"``. Returns, per length of the list before last, the ``drop`` in recall
    (shortest minus longest last list), its standard error ``se`` and ``z = drop / se``.
    Explained in Chapter 5, §The list before last.

    >>> r = {"key_value_recall_mean": torch.tensor([[0.5, 0.4]]),
    ...      "key_value_recall_se": torch.tensor([[0.03, 0.04]])}
    >>> last_list_effect(r)["z"]
    tensor([2.0000])
    """
    model = check.option("model", model, ("key_value", "displacement"))
    if not isinstance(result, dict) or f"{model}_recall_mean" not in result:
        raise TypeError(f"result: expected the dict list_before_last returns, got {type(result).__name__}")
    m = check.tensor("result", result[f"{model}_recall_mean"], ndim=2)
    se = check.tensor("result", result[f"{model}_recall_se"], shape=tuple(m.shape))
    if m.shape[1] < 2:
        raise ValueError(f"result: expected at least two last-list lengths, got {m.shape[1]}")
    drop = m[:, 0] - m[:, -1]
    err = torch.sqrt(se[:, 0] ** 2 + se[:, -1] ** 2)
    return {"drop": drop, "se": err, "z": drop / err.clamp_min(1e-12)}


def list_length_numbers(curve: dict, recovery: dict) -> dict[str, float]:
    """The numbers Chapter 5 quotes from :func:`list_length_curve` (``curve``: the shortest and
    longest list, the % of each recalled in the first number of attempts and how many items that
    is, the lowest cued recall in %) and :func:`recovery_curve` (``recovery``: the first attempts,
    the % of items they miss, and the % of those that an item cue or more attempts recover)."""
    for name, value, source, key in (("curve", curve, "list_length_curve", "free_recall_mean"),
                                     ("recovery", recovery, "recovery_curve", "missed_fraction")):
        check.result(name, value, source, key)
    free, n = curve["free_recall_mean"][0], curve["list_length"]                   # the first attempts
    return {"ll_short": n[0], "ll_long": n[-1], "ll_recall_short": 100 * float(free[0]),
            "ll_recall_long": 100 * float(free[-1]),
            "ll_cued_min": 100 * float(curve["cued_recall_mean"].min()),
            "ll_number_short": n[0] * float(free[0]), "ll_number_long": n[-1] * float(free[-1]),
            "rec_first": recovery["first_attempts"], "rec_missed": 100 * recovery["missed_fraction"],
            "rec_cue": 100 * recovery["missed_recovered_by_item_cue"],
            "rec_attempts": 100 * recovery["missed_recovered_by_more_attempts"]}


def list_before_last_numbers(result: dict) -> dict[str, float]:
    """The numbers Chapter 5 quotes from :func:`list_before_last`'s ``result`` (lists before last
    of 5, 10 and 20 items among its target lengths): the largest change (%) in the key-value
    memory's recall of the list before last from the shortest to the longest last list, and that
    change in standard errors (:func:`last_list_effect`); its recall (%) of the lists of 5 and of
    20, averaged over last lists; and the displacement store's recall of the list of 10 after the
    longest last list."""
    eff = last_list_effect(result)
    targets = list(result["target_list_length"])
    if any(n not in targets for n in (5, 10, 20)):
        raise ValueError(f"result: expected lists before last of 5, 10 and 20 items, got {targets}")
    kv = result["key_value_recall_mean"]                                  # [target length, last length]
    return {"lbl_change_max": 100 * float(eff["drop"].abs().max()),
            "lbl_ratio_max": float(eff["z"].abs().max()),
            "lbl_own_5": 100 * float(kv[targets.index(5)].mean()),
            "lbl_own_20": 100 * float(kv[targets.index(20)].mean()),
            "lbl_disp_10": 100 * float(result["displacement_recall_mean"][targets.index(10), -1])}
