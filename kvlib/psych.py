"""Chapter 5: the review's psychological and neural evidence (§4), as small simulations.

Every model here is the same tiny key-value memory: stored keys ``K`` (N, d), stored
values ``V`` (N, d_v), and a query ``q`` that is matched against all keys by a scaled
dot product and a softmax (Eqs 3, 5 and 6). What changes from section to section is
only where the keys, queries and values come from. The module follows the chapter:

0. The retrieval rule (Eqs 3, 5, 6): :func:`attention`, :func:`retrieve`, and
   :func:`sample_retrieval` (the same softmax read as sampling probabilities).
1. *Retrieval interference, not erasure* (§4.1): :func:`study_lists`, :func:`free_recall`,
   :func:`list_length_curve`, :func:`recovery_curve`, :func:`list_before_last`,
   :func:`word_location_errors`, :func:`fit_guess_vonmises`, :func:`accessibility_precision`.
2. *Keys and values are distinct* (§4.2): :func:`context_fear`,
   :func:`context_fear_conditions`, :func:`repulsion`.
3. *Keys are used but not recalled* (§4.3): :func:`study_trivia`,
   :func:`feeling_of_knowing`, :func:`judgment_steps`.

Axis names in shape comments: N memories, d dims, B queries (trials, rats, participants
or questions), T steps, R retrieval attempts.

Randomness: every function that draws takes ``seed`` (an int) or ``generator`` (a CPU
``torch.Generator``). Random numbers are always drawn on the CPU and then moved to
``device``, so a GPU gives the same draws as a CPU, and the same results up to float noise.
The experiment functions run with one CPU thread and restore the caller's setting on
return: they are many small tensor operations, for which extra threads only cost time.

Explained in Chapter 5, "Evidence from psychology and neuroscience".
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar

__all__ = [
    "attention", "retrieve", "sample_retrieval",
    "ListMemory", "study_lists", "free_recall", "list_length_curve", "list_before_last",
    "recovery_curve",
    "word_location_errors", "fit_guess_vonmises", "circular_sd_deg", "accessibility_precision",
    "context_fear", "context_fear_conditions", "repulsion", "TriviaMemory", "study_trivia",
    "feeling_of_knowing", "judgment_steps",
]


# ----------------------------------------------------------------------------------
# Argument checks and random draws (private)
# ----------------------------------------------------------------------------------

def _number(name: str, value, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, integer: bool = False):
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        kind = "an int" if integer else "a finite number"
        raise ValueError(f"{name}: expected {kind}, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name}: expected a value {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name}: expected a value <= {high}, got {value!r}")
    return value


def _lengths(name: str, values, *, low: int = 1) -> list[int]:
    try:
        vals = list(values)
    except TypeError:
        raise ValueError(f"{name}: expected a non-empty sequence of ints >= {low}, got {values!r}") from None
    if not vals or any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in vals):
        raise ValueError(f"{name}: expected a non-empty sequence of ints >= {low}, got {values!r}")
    return vals


def _generator(seed: int) -> torch.Generator:
    _number("seed", seed, low=0, integer=True)
    return torch.Generator().manual_seed(seed)


def _randn(shape: Sequence[int], gen: torch.Generator, device) -> Tensor:
    return torch.randn(tuple(shape), generator=gen).to(device)


def _rand(shape: Sequence[int], gen: torch.Generator, device) -> Tensor:
    return torch.rand(tuple(shape), generator=gen).to(device)


def _unit(x: Tensor) -> Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _random_unit(shape: Sequence[int], gen: torch.Generator, device) -> Tensor:
    return _unit(_randn(shape, gen, device))


def _gumbel(shape: Sequence[int], gen: torch.Generator, device) -> Tensor:
    u = _rand(shape, gen, device).clamp(1e-12, 1 - 1e-7)
    return -torch.log(-torch.log(u))


def _single_threaded(func):
    """Decorator: run ``func`` on one CPU thread (:func:`kvlib.device.cpu_threads`)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with cpu_threads(1):
            return func(*args, **kwargs)
    return wrapper


def _mean_se(x: Tensor, dim: int = 0) -> tuple[Tensor, Tensor]:
    n = x.shape[dim]
    return x.mean(dim), x.std(dim) / math.sqrt(n)


# ----------------------------------------------------------------------------------
# 0. The retrieval rule every section uses (Eqs 3, 5, 6)
# ----------------------------------------------------------------------------------

def attention(q: Tensor, K: Tensor, beta: float = 1.0, mask: Tensor | None = None) -> Tensor:
    """Attention weights ``alpha = softmax(beta * q K^T)`` over stored keys (Eqs 3, 5, 6).

    ``q`` is (..., B, d) and ``K`` is (..., N, d) (row vectors, as in the paper); the
    result is (..., B, N) and sums to 1 over N. ``beta`` is an inverse temperature:
    ``beta = 1/sqrt(d)`` is the scaled dot product of Eq 5, larger values separate more.
    ``mask`` (broadcastable to (..., B, N), True = the memory can be retrieved) removes
    memories from the competition. Explained in Chapter 5, §One retrieval rule for the whole chapter.

    >>> K = torch.eye(3); attention(K[:1], K, beta=50.0).argmax().item()
    0
    """
    _number("beta", beta, low=0)
    if q.shape[-1] != K.shape[-1]:
        raise ValueError(f"q, K: expected the same last dimension d, got q {tuple(q.shape)} "
                         f"and K {tuple(K.shape)}")
    logits = beta * q @ K.transpose(-1, -2)                     # (..., B, N)
    if mask is not None:
        logits = logits.masked_fill(~mask, float("-inf"))
    return torch.softmax(logits, dim=-1)


def retrieve(q: Tensor, K: Tensor, V: Tensor, beta: float = 1.0,
             mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Retrieved value ``v_hat = alpha V`` and the weights ``alpha`` (dual form, Eq 3).

    Shapes: ``q`` (..., B, d), ``K`` (..., N, d), ``V`` (..., N, d_v) -> ``v_hat``
    (..., B, d_v), ``alpha`` (..., B, N). A small stand-in for the kernels chapter's
    general ``retrieve`` (similarity = dot product, separation = softmax).
    Explained in Chapter 5, §One retrieval rule for the whole chapter.

    >>> K = torch.eye(2); V = torch.tensor([[1.0], [-1.0]])
    >>> round(retrieve(K[1:], K, V, beta=20.0)[0].item(), 3)
    -1.0
    """
    if K.shape[-2] != V.shape[-2]:
        raise ValueError(f"K, V: expected the same number of memories N, got K {tuple(K.shape)} "
                         f"and V {tuple(V.shape)}")
    alpha = attention(q, K, beta, mask)
    return alpha @ V, alpha                                      # (..., B, d_v), (..., B, N)


def sample_retrieval(logits: Tensor, attempts: int, generator: torch.Generator) -> Tensor:
    """Draw ``attempts`` memories per query, each with probability ``softmax(logits)``.

    Not in the paper: the review reads the softmax (Eq 6) as mixing weights; the sampling
    models of free recall (SAM) read the same numbers as the probability that one
    retrieval attempt lands on each memory. ``logits`` (..., B, N) -> indices
    (..., B, R) with R = attempts, drawn with replacement by the Gumbel-max trick.
    Explained in Chapter 5, §The list-length effect.
    """
    _number("attempts", attempts, low=1, integer=True)
    g = _gumbel((*logits.shape[:-1], attempts, logits.shape[-1]), generator, logits.device)
    return (logits.unsqueeze(-2) + g).argmax(-1)                 # (..., B, R)


# ----------------------------------------------------------------------------------
# 1. Retrieval interference, not erasure (§4.1)
# ----------------------------------------------------------------------------------

@dataclass
class ListMemory:
    """Studied lists for B independent simulated participants.

    ``keys`` (B, N, d): one key per studied item, lists in study order; ``list_id`` (N,):
    the list each item belongs to; ``contexts`` (B, L, d): each list's context, the query
    that reinstates that list at test. Explained in Chapter 5, §The list-length effect.
    """
    keys: Tensor
    list_id: Tensor
    contexts: Tensor


def study_lists(lengths: Sequence[int], participants: int = 200, d: int = 64,
                item_share: float = 0.35, list_overlap: float = 0.0,
                generator: torch.Generator | None = None, device="cpu") -> ListMemory:
    """Study lists of the given ``lengths`` one after another; every item gets a key.

    An item's key mixes its list's context with an item-specific part:
    ``k = sqrt(1 - item_share) c_list + sqrt(item_share) u_item`` (unit vectors), so the
    items of one list share an address region (temporal context, Howard & Kahana 2002).
    Successive list contexts overlap by ``list_overlap`` (cosine). Nothing is ever
    erased: all keys stay in memory. Explained in Chapter 5, §The list-length effect.
    """
    lengths = _lengths("lengths", lengths)
    _number("participants", participants, low=1, integer=True)
    _number("d", d, low=2, integer=True)
    _number("item_share", item_share, low=0, high=1)
    _number("list_overlap", list_overlap, low=0, high=1)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    B, L = participants, len(lengths)
    fresh = _random_unit((B, L, d), gen, device)                 # (B, L, d)
    ctx = [fresh[:, 0]]
    for i in range(1, L):                                        # a drift recursion over few lists
        ctx.append(_unit(math.sqrt(list_overlap) * ctx[-1] + math.sqrt(1 - list_overlap) * fresh[:, i]))
    contexts = torch.stack(ctx, 1)                               # (B, L, d)
    list_id = torch.repeat_interleave(torch.arange(L, device=device),
                                      torch.tensor(lengths, device=device))  # (N,)
    items = _random_unit((B, len(list_id), d), gen, device)      # (B, N, d)
    keys = _unit(math.sqrt(1 - item_share) * contexts[:, list_id] + math.sqrt(item_share) * items)
    return ListMemory(keys, list_id, contexts)


def free_recall(memory: ListMemory, target: int, beta: float = 8.0, attempts: int = 10,
                generator: torch.Generator | None = None, capacity: int | None = None,
                ) -> tuple[Tensor, Tensor]:
    """Free recall of list ``target``: ``attempts`` retrieval attempts cued by its context.

    Each attempt draws one stored item with probability ``softmax(beta * c_target K^T)``
    (Eq 6 read as sampling); an item counts as recalled if it belongs to the target list
    and was drawn at least once. ``capacity`` (not in the paper; the rival account) keeps
    only the most recent ``capacity`` items, erasing older ones as in a displacement
    store. Returns the proportion of the target list recalled per participant (B,) and
    the boolean recalled mask (B, N). Explained in Chapter 5, §The list-length effect.
    """
    L = memory.contexts.shape[1]
    _number("target", target, low=0, high=L - 1, integer=True)
    _number("beta", beta, low=0)
    if capacity is not None:
        _number("capacity", capacity, low=1, integer=True)
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    q = memory.contexts[:, target]                               # (B, d)
    logits = beta * torch.einsum("bd,bnd->bn", q, memory.keys)   # (B, N)
    N = logits.shape[-1]
    if capacity is not None and capacity < N:
        logits[:, : N - capacity] = float("-inf")                # erased: no longer stored
    drawn = sample_retrieval(logits, attempts, gen)              # (B, R)
    recalled = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, drawn, True)  # (B, N)
    in_target = memory.list_id == target                         # (N,)
    return recalled[:, in_target].float().mean(1), recalled


def _cued_recall(memory: ListMemory, beta: float, cue_noise: float, gen: torch.Generator) -> Tensor:
    """Top-1 retrieval cued by each item's own (noisy) key: True where it finds the item."""
    B, N, d = memory.keys.shape
    q = _unit(memory.keys + cue_noise / math.sqrt(d) * _randn((B, N, d), gen, memory.keys.device))
    alpha = attention(q, memory.keys, beta)                      # (B, N queries, N memories)
    return alpha.argmax(-1) == torch.arange(N, device=memory.keys.device)   # (B, N)


@_single_threaded
def list_length_curve(lengths: Sequence[int] = (5, 10, 15, 20, 30, 40),
                      attempts: Sequence[int] = (10, 30), beta: float = 8.0,
                      participants: int = 200, d: int = 64, item_share: float = 0.35,
                      cue_noise: float = 1.0, seed: int = 0, device="cpu") -> dict:
    """Recall probability against list length, for several numbers of attempts.

    The list-length effect as retrieval interference: longer lists put more keys near
    the list's context, so each attempt is less likely to land on any one item. Also
    returns cued recall (each item cued by a noisy copy of its own key), which stays
    high: every item is still stored. Free parameters: ``beta`` and ``attempts``.
    Explained in Chapter 5, §The list-length effect.
    """
    lengths = _lengths("lengths", lengths)
    attempts = _lengths("attempts", attempts)
    _number("cue_noise", cue_noise, low=0)
    gen = _generator(seed)
    free = torch.zeros(len(attempts), len(lengths), 2)
    cued = torch.zeros(len(lengths), 2)
    for j, n in enumerate(lengths):                              # one list per length
        mem = study_lists([n], participants, d, item_share, generator=gen, device=device)
        for i, r in enumerate(attempts):
            p, _ = free_recall(mem, 0, beta, r, gen)
            free[i, j] = torch.stack(_mean_se(p.float().cpu()))
        c = _cued_recall(mem, beta, cue_noise, gen).float().mean(1).cpu()
        cued[j] = torch.stack(_mean_se(c))
    return {"list_length": lengths, "attempts": attempts,
            "free_recall_mean": free[..., 0], "free_recall_se": free[..., 1],
            "cued_recall_mean": cued[:, 0], "cued_recall_se": cued[:, 1]}


@_single_threaded
def recovery_curve(length: int = 20, max_attempts: int = 120, first_attempts: int = 10,
                   beta: float = 8.0, participants: int = 200, d: int = 64,
                   item_share: float = 0.35, cue_noise: float = 1.0, seed: int = 0,
                   device="cpu") -> dict:
    """Items missed after ``first_attempts`` come back with more attempts or a better cue.

    Returns the cumulative proportion recalled after each of 1..``max_attempts`` attempts,
    and, for items missed after ``first_attempts``, the fraction found by cueing each with
    a noisy copy of its own key. Explained in Chapter 5, §Recovery.
    """
    _number("length", length, low=1, integer=True)
    _number("max_attempts", max_attempts, low=1, integer=True)
    _number("first_attempts", first_attempts, low=1, high=max_attempts, integer=True)
    gen = _generator(seed)
    mem = study_lists([length], participants, d, item_share, generator=gen, device=device)
    logits = beta * torch.einsum("bd,bnd->bn", mem.contexts[:, 0], mem.keys)   # (B, N)
    drawn = sample_retrieval(logits, max_attempts, gen)          # (B, R)
    # first attempt at which each item is drawn (R if never): (B, N)
    hit = torch.nn.functional.one_hot(drawn, length).bool()      # (B, R, N)
    steps = torch.arange(max_attempts, device=logits.device)[None, :, None]
    first = torch.where(hit, steps, max_attempts).amin(1)        # (B, N)
    cumulative = (first[:, None, :] <= steps).float().mean(-1)  # (B, R): found by attempt r
    missed = first >= first_attempts                             # (B, N)
    found = _cued_recall(mem, beta, cue_noise, gen)              # (B, N)
    recovered_by_cue = (found & missed).sum() / missed.sum().clamp_min(1)
    recovered_by_attempts = ((first < max_attempts) & missed).sum() / missed.sum().clamp_min(1)
    mean, se = _mean_se(cumulative.cpu())
    return {"length": length, "attempts": list(range(1, max_attempts + 1)),
            "cumulative_recall_mean": mean,
            "cumulative_recall_se": se, "first_attempts": first_attempts,
            "missed_fraction": missed.float().mean().item(),
            "missed_recovered_by_more_attempts": recovered_by_attempts.item(),
            "missed_recovered_by_item_cue": recovered_by_cue.item()}


@_single_threaded
def list_before_last(target_lengths: Sequence[int] = (5, 10, 20),
                     last_lengths: Sequence[int] = (5, 10, 15, 20),
                     attempts: int = 10, beta: float = 8.0, participants: int = 200,
                     d: int = 64, item_share: float = 0.35, list_overlap: float = 0.0,
                     capacity: int = 20, seed: int = 0, device="cpu") -> dict:
    """Recall of the list before last against the length of the last list (Shiffrin 1970).

    Two lists are studied; the first (the *target*, the list before last) is recalled,
    cued by its own context. In the key-value memory every item stays stored and the last
    list's keys sit in another context region, so its length barely matters. The rival
    displacement store (``capacity`` most recent items kept) loses target items as the
    last list grows. Returns mean and standard error for both, indexed
    [target length, last length]. Explained in Chapter 5, §The list before last.
    """
    target_lengths = _lengths("target_lengths", target_lengths)
    last_lengths = _lengths("last_lengths", last_lengths)
    gen = _generator(seed)
    out = {m: torch.zeros(len(target_lengths), len(last_lengths), 2)
           for m in ("key_value", "displacement")}
    for i, nt in enumerate(target_lengths):
        for j, nl in enumerate(last_lengths):
            mem = study_lists([nt, nl], participants, d, item_share, list_overlap, gen, device)
            for model, cap in (("key_value", None), ("displacement", capacity)):
                p, _ = free_recall(mem, 0, beta, attempts, gen, capacity=cap)
                out[model][i, j] = torch.stack(_mean_se(p.cpu()))
    return {"target_list_length": target_lengths, "last_list_length": last_lengths,
            "displacement_capacity": capacity,
            "key_value_recall_mean": out["key_value"][..., 0],
            "key_value_recall_se": out["key_value"][..., 1],
            "displacement_recall_mean": out["displacement"][..., 0],
            "displacement_recall_se": out["displacement"][..., 1]}


# --- accessibility and precision (Berens et al. 2020) ------------------------------

def word_location_errors(intervals: Sequence[float] = (1, 2, 4, 8, 16, 32), n_pairs: int = 40,
                         participants: int = 20, d: int = 32, beta: float = 100.0,
                         cue_noise: float = 1.5, encoding_sd_deg: float = 20.0,
                         interference_rate: float = 60.0, seed: int = 0,
                         device="cpu") -> dict:
    """Angular recall errors for word-location pairs after each retention interval.

    Each participant studies ``n_pairs`` words (random unit keys) paired with locations on
    a circle (values ``(cos theta, sin theta)``, stored with Gaussian angular noise of
    ``encoding_sd_deg``). During an interval of ``t`` days, ``interference_rate * t``
    further random key-value memories are stored; none is erased. At test a noisy word
    cue retrieves ``v_hat = softmax(beta q K^T) V`` (Eq 3) and the answer is its angle.
    Returns errors in radians, shape (intervals, participants * n_pairs).
    Explained in Chapter 5, §Accessibility and precision.
    """
    intervals = list(intervals)
    if not intervals or any(isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0
                            for t in intervals):
        raise ValueError(f"intervals: expected a non-empty sequence of numbers >= 0, got {intervals!r}")
    _number("n_pairs", n_pairs, low=1, integer=True)
    _number("participants", participants, low=1, integer=True)
    _number("interference_rate", interference_rate, low=0)
    _number("encoding_sd_deg", encoding_sd_deg, low=0)
    gen = _generator(seed)
    B, P = participants, n_pairs
    n_int = [int(round(interference_rate * t)) for t in intervals]
    N = P + max(n_int)
    keys = _random_unit((B, N, d), gen, device)                  # (B, N, d): studied + later
    theta = 2 * math.pi * _rand((B, N), gen, device)             # true locations
    stored = theta + math.radians(encoding_sd_deg) * _randn((B, N), gen, device)
    V = torch.stack([stored.cos(), stored.sin()], -1)            # (B, N, 2)
    errors = []
    for n in n_int:                                              # one memory state per interval
        q = _unit(keys[:, :P] + cue_noise / math.sqrt(d) * _randn((B, P, d), gen, device))
        mask = (torch.arange(N, device=device) < P + n)[None, None, :]   # (1, 1, N)
        v_hat, _ = retrieve(q, keys, V, beta, mask)              # (B, P, 2)
        answer = torch.atan2(v_hat[..., 1], v_hat[..., 0])
        errors.append(torch.remainder(answer - theta[:, :P] + math.pi, 2 * math.pi) - math.pi)
    return {"interval": intervals, "n_interfering": n_int,
            "errors": torch.stack(errors).reshape(len(intervals), B * P)}


def _a1(kappa: Tensor) -> Tensor:
    return torch.special.i1e(kappa) / torch.special.i0e(kappa)


def _a1_inverse(r: Tensor) -> Tensor:
    """Best & Fisher's approximation to the inverse of A1(kappa) = I1/I0."""
    r = r.clamp(1e-6, 1 - 1e-6)
    low = 2 * r + r ** 3 + 5 * r ** 5 / 6
    mid = -0.4 + 1.39 * r + 0.43 / (1 - r)
    high = 1 / (r ** 3 - 4 * r ** 2 + 3 * r)
    return torch.where(r < 0.53, low, torch.where(r < 0.85, mid, high))


def fit_guess_vonmises(errors: Tensor, iterations: int = 500, tol: float = 1e-6,
                       init: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """Fit ``p * VonMises(0, kappa) + (1 - p) * Uniform(-pi, pi)`` to errors, by EM.

    The mixture used to separate accessibility (``p``, the probability that the item was
    retrieved at all) from precision (``kappa``, the concentration of retrieved answers)
    (Zhang & Luck 2008; Berens et al. 2020). ``errors`` (..., B) in radians; every leading
    index is fitted separately, so bootstrap resamples fit in one call. EM stops after
    ``iterations`` or when no estimate moves by more than ``tol``; ``init`` (p, kappa)
    starts it elsewhere than (0.5, 5). Returns ``p`` and ``kappa``, each of shape (...).
    Explained in Chapter 5, §Accessibility and precision.

    >>> e = torch.cat([0.1 * torch.randn(900, generator=torch.Generator().manual_seed(0)),
    ...                torch.linspace(-3.14, 3.14, 100)])
    >>> p, kappa = fit_guess_vonmises(e); round(p.item(), 1)
    0.9
    """
    _number("iterations", iterations, low=1, integer=True)
    _number("tol", tol, low=0)
    if errors.ndim < 1 or errors.shape[-1] < 2:
        raise ValueError(f"errors: expected a tensor (..., B) with B >= 2, got shape {tuple(errors.shape)}")
    cos = errors.cos()
    if init is None:
        p = torch.full(errors.shape[:-1], 0.5, dtype=errors.dtype, device=errors.device)
        kappa = torch.full_like(p, 5.0)
    else:
        p = init[0].to(errors).expand(errors.shape[:-1]).clone()
        kappa = init[1].to(errors).expand(errors.shape[:-1]).clone()
    for _ in range(iterations):                                  # EM; the loop is the algorithm
        vm = torch.exp(kappa[..., None] * (cos - 1)) / (2 * math.pi * torch.special.i0e(kappa)[..., None])
        memory = p[..., None] * vm
        resp = memory / (memory + (1 - p[..., None]) / (2 * math.pi))   # (..., B)
        p_new = resp.mean(-1)
        kappa_new = _a1_inverse((resp * cos).sum(-1) / resp.sum(-1).clamp_min(1e-12))
        moved = torch.maximum((p_new - p).abs().max(), ((kappa_new - kappa).abs() / kappa).max())
        p, kappa = p_new, kappa_new
        if moved.item() < tol:
            break
    return p, kappa


def circular_sd_deg(kappa: Tensor) -> Tensor:
    """Circular standard deviation (degrees) of a von Mises with concentration ``kappa``.

    Explained in Chapter 5, §Accessibility and precision.
    """
    return torch.rad2deg(torch.sqrt(-2 * torch.log(_a1(kappa))))


@_single_threaded
def accessibility_precision(intervals: Sequence[float] = (1, 2, 4, 8, 16, 32),
                            n_boot: int = 300, seed: int = 0, device="cpu", **model) -> dict:
    """Accessibility and precision of the model's answers after each retention interval.

    Simulates :func:`word_location_errors` (``model`` keywords go there), fits the
    guess + von Mises mixture at each interval, and bootstraps 95 % intervals over trials.
    Precision is reported as the circular SD (degrees) of the von Mises component.
    Free parameters: ``interference_rate`` and ``cue_noise``.
    Explained in Chapter 5, §Accessibility and precision.
    """
    _number("n_boot", n_boot, low=10, integer=True)
    sim = word_location_errors(intervals, seed=seed, device=device, **model)
    err = sim["errors"]                                          # (I, B)
    p, kappa = fit_guess_vonmises(err)
    gen = _generator(seed + 1)
    idx = torch.randint(err.shape[1], (n_boot, err.shape[1]), generator=gen).to(err.device)
    boot = err[:, idx]                                           # (I, n_boot, B)
    pb, kb = fit_guess_vonmises(boot, tol=1e-4, init=(p[:, None], kappa[:, None]))
    sd, sdb = circular_sd_deg(kappa), circular_sd_deg(kb)
    q = torch.tensor([0.025, 0.975], dtype=err.dtype, device=err.device)
    p_ci, sd_ci = torch.quantile(pb, q, dim=1), torch.quantile(sdb, q, dim=1)   # (2, I)
    return {"interval": sim["interval"], "n_interfering": sim["n_interfering"],
            "p_memory": p.float().cpu(), "p_memory_ci_low": p_ci[0].float().cpu(),
            "p_memory_ci_high": p_ci[1].float().cpu(),
            "kappa": kappa.float().cpu(),
            "precision_sd_deg": sd.float().cpu(), "precision_sd_ci_low": sd_ci[0].float().cpu(),
            "precision_sd_ci_high": sd_ci[1].float().cpu(),
            "errors_deg": torch.rad2deg(sim["errors"]).float().cpu()}


# ----------------------------------------------------------------------------------
# 2. Keys and values are distinct (§4.2)
# ----------------------------------------------------------------------------------

def _box_features(similarity: float, d: int, gen: torch.Generator, device):
    """Orthonormal 'shared box' direction s and 'detail' direction e; A = a s + b e, B = a s - b e."""
    basis, _ = torch.linalg.qr(torch.randn(d, 2, generator=gen))
    s, e = basis[:, 0].to(device), basis[:, 1].to(device)
    a, b = math.sqrt((1 + similarity) / 2), math.sqrt((1 - similarity) / 2)
    return s, e, a, b


@_single_threaded
def context_fear(days: Sequence[float] = (1, 7), reminder: bool = False, keys: bool = True,
                 rats: int = 16, beta: float = 20.0, threshold: float = 0.75,
                 detail_memories: float = 100.0, memories_per_day: float = 20.0,
                 context_similarity: float = 0.5, cue_noise: float = 0.2, d: int = 64,
                 seed: int = 0, device="cpu") -> dict:
    """Freezing in the conditioning context A and a similar context B (Winocur et al. 2009).

    A fear memory is stored with key ``k = x_A`` (the hippocampal address, with all the
    detail that tells A from B) and value "shock". Each day ``memories_per_day`` unrelated
    memories are stored (value "no shock"). The test cue passes through a query map whose
    sensitivity to the A-vs-B detail falls as ``exp(-n_intervening / detail_memories)``
    (interference with the cue-to-address map, not with the stored memory; assumed, not
    derived). Retrieval is a softmax over the stored keys plus a "nothing retrieved" option
    at ``threshold``; freezing is the retrieved fear (Eq 3).

    ``reminder``: a brief visit to A before the test retrieves the stored key, which still
    holds the detail, and copies it back into the query map. ``keys=False`` (hippocampal
    lesion): memories are reached through their values only; values keep the box's gist,
    not the detail, so A and B cannot be told apart and the reminder has nothing to restore.
    Free parameters: ``detail_memories`` and ``threshold``. Returns freezing mean and
    standard error per day in A and B. Explained in Chapter 5, §Context specificity and the reminder.
    """
    days = list(days)
    if not days or any(isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0 for t in days):
        raise ValueError(f"days: expected a non-empty sequence of numbers >= 0, got {days!r}")
    _number("rats", rats, low=2, integer=True)
    _number("context_similarity", context_similarity, low=-1, high=1)
    _number("detail_memories", detail_memories, low=0, low_open=True)
    _number("memories_per_day", memories_per_day, low=0)
    _number("threshold", threshold)
    gen = _generator(seed)
    s, e, a, b = _box_features(context_similarity, d, gen, device)
    x = {"A": a * s + b * e, "B": a * s - b * e}                 # sensory input of each box
    n_int = [int(round(memories_per_day * t)) for t in days]
    N = 1 + max(n_int)
    other = _random_unit((rats, N - 1, d), gen, device)          # intervening memories
    fear_key = x["A"].expand(rats, 1, d)
    K = torch.cat([fear_key, other], 1) if keys else torch.cat([s.expand(rats, 1, d), other], 1)
    # ^ lesion: the only route is the value's content, the gist s of "a box with a shock"
    fear = torch.zeros(N, device=device)
    fear[0] = 1.0
    V = torch.cat([fear, torch.zeros(1, device=device)])[:, None]   # (N + 1, 1): + "nothing"

    def freeze(cue: Tensor, n: int) -> Tensor:                   # cue (rats, d) -> (rats,)
        logits = beta * torch.einsum("rd,rnd->rn", cue, K)       # (rats, N)
        logits[:, 1 + n:] = float("-inf")                        # not yet stored
        logits = torch.cat([logits, torch.full((rats, 1), beta * threshold, device=device)], 1)
        return (torch.softmax(logits, -1) @ V)[:, 0]

    result = {"day": days, "n_intervening": n_int}
    for ctx in ("A", "B"):
        result[f"freezing_{ctx}_mean"], result[f"freezing_{ctx}_se"] = [], []
    result["query_detail_gain"] = []
    for n in n_int:
        g = math.exp(-n / detail_memories)                       # detail kept by the query map
        noise = {c: cue_noise / math.sqrt(d) * _randn((rats, d), gen, device) for c in ("A", "B", "R")}

        def cue(ctx: str, gain, noise=noise) -> Tensor:
            sign = 1.0 if ctx == "A" else -1.0
            if not keys:                                         # content route: raw sensory cue
                return _unit(x[ctx] + noise[ctx])
            return _unit(a * s + sign * gain[:, None] * b * e + noise[ctx])

        gain = torch.full((rats,), g, device=device)
        if reminder and keys:
            q = _unit(a * s + gain[:, None] * b * e + noise["R"])
            logits = beta * torch.einsum("rd,rnd->rn", q, K)
            logits[:, 1 + n:] = float("-inf")
            k_hat = torch.einsum("rn,rnd->rd", torch.softmax(logits, -1), K)   # retrieved key
            gain = torch.maximum(gain, (k_hat @ e / b).clamp(0, 1))   # its detail, copied back
        result["query_detail_gain"].append(gain.mean().item())
        for ctx in ("A", "B"):
            m, se = _mean_se(freeze(cue(ctx, gain), n).cpu())
            result[f"freezing_{ctx}_mean"].append(m.item())
            result[f"freezing_{ctx}_se"].append(se.item())
    return result


def context_fear_conditions(long_delay: float = 7.0, seed: int = 0, device="cpu", **model) -> dict:
    """Freezing in A and B in the five conditions of the reminder experiment.

    Day 1; ``long_delay``; ``long_delay`` after a reminder; and the last two again
    without keys (hippocampal lesion). ``model`` keywords go to :func:`context_fear`.
    Explained in Chapter 5, §Context specificity and the reminder.
    """
    _number("long_delay", long_delay, low=0)
    runs = [("day 1", 1.0, True, False), (f"day {long_delay:g}", long_delay, True, False),
            (f"day {long_delay:g} + reminder", long_delay, True, True),
            (f"day {long_delay:g}, no keys", long_delay, False, False),
            (f"day {long_delay:g} + reminder, no keys", long_delay, False, True)]
    out = {"condition": [], "keys": [], "freezing_A_mean": [], "freezing_A_se": [],
           "freezing_B_mean": [], "freezing_B_se": []}
    for name, day, keys, reminder in runs:
        r = context_fear([day], reminder=reminder, keys=keys, seed=seed, device=device, **model)
        out["condition"].append(name)
        out["keys"].append(keys)
        for k in ("freezing_A_mean", "freezing_A_se", "freezing_B_mean", "freezing_B_se"):
            out[k].append(r[k][0])
    return out


@_single_threaded
def repulsion(steps: int = 300, pairs: int = 4, participants: int = 24, d: int = 32,
              pair_similarity: float = 0.8, other_similarity: float = 0.2,
              cue_noise: float = 0.3, beta: float = 10.0,
              lr_range: tuple[float, float] = (0.03, 1.0), release_steps: int = 300,
              record_every: int = 10, seed: int = 0, device="cpu", progress: bool = False) -> dict:
    """Keys trained to tell overlapping routes apart repel past their input similarity.

    ``2 * pairs`` routes have input codes ``x`` whose cosine is ``pair_similarity`` within
    a pair of overlapping routes and ``other_similarity`` across pairs (Chanales et al.
    2017). Keys start at the inputs and are trained by gradient descent on retrieval: a
    slightly noisy cue ``x + noise``, matched by cosine, must put its attention (Eq 6) on
    keys whose value is the cued route's destination (the loss is minus the log of that
    attention, i.e. of the probability of *sampling* a right memory). Simulated participants
    differ only in learning rate (log-uniform over ``lr_range``). After ``steps``, a
    *release* phase gives pairmates the same destination, so telling them apart no longer
    matters: the paper's untested prediction is that the repulsion then reverses.
    Discrimination is the mean attention on the cued route. Free parameters: ``cue_noise``
    and ``beta``. Returns key-similarity trajectories, and per participant the repulsion
    (non-pairmate minus pairmate key similarity after learning) and the discrimination.
    Explained in Chapter 5, §Repulsion.
    """
    _number("steps", steps, low=1, integer=True)
    _number("pairs", pairs, low=2, integer=True)
    _number("participants", participants, low=3, integer=True)
    _number("pair_similarity", pair_similarity, low=-1, high=1)
    _number("other_similarity", other_similarity, low=0, high=pair_similarity)
    _number("release_steps", release_steps, low=0, integer=True)
    _number("record_every", record_every, low=1, integer=True)
    if not (isinstance(lr_range, (tuple, list)) and len(lr_range) == 2 and 0 < lr_range[0] <= lr_range[1]):
        raise ValueError(f"lr_range: expected (low, high) with 0 < low <= high, got {lr_range!r}")
    gen = _generator(seed)
    P, n = participants, 2 * pairs
    # input codes: shared part (all routes), pair part (pairmates), own part: Gram as asked
    basis, _ = torch.linalg.qr(torch.randn(d, 1 + pairs + n, generator=gen))   # (d, 1 + pairs + n)
    basis = basis.T.to(device)
    pair_of = torch.arange(n, device=device) // 2
    x = (math.sqrt(other_similarity) * basis[0]
         + math.sqrt(pair_similarity - other_similarity) * basis[1 + pair_of]
         + math.sqrt(1 - pair_similarity) * basis[1 + pairs + torch.arange(n, device=device)])  # (n, d)
    same_pair = pair_of[:, None] == pair_of[None, :]
    off = ~torch.eye(n, dtype=torch.bool, device=device)
    lo, hi = math.log(lr_range[0]), math.log(lr_range[1])
    lr = torch.exp(lo + (hi - lo) * torch.linspace(0, 1, P)).to(device)   # (P,)
    lr = lr[torch.randperm(P, generator=gen).to(device)]
    K = x.expand(P, n, d).clone().requires_grad_(True)          # (P, n, d): keys start at inputs

    def similarity(keys: Tensor) -> tuple[Tensor, Tensor]:      # mean pairmate / other cosine, (P,)
        c = _unit(keys) @ _unit(keys).transpose(-1, -2)         # (P, n, n)
        return c[:, same_pair & off].mean(-1), c[:, ~same_pair].mean(-1)

    def step(target_same: Tensor) -> None:
        q = _unit(x + cue_noise / math.sqrt(d) * _randn((P, 4, n, d), gen, device))   # (P, 4, n, d)
        alpha = attention(q, _unit(K)[:, None], beta)            # (P, 4, n, n): cosine match
        loss = -torch.log((alpha * target_same).sum(-1).clamp_min(1e-12)).mean((1, 2))
        grad, = torch.autograd.grad(loss.sum(), K)
        with torch.no_grad():
            K.sub_(lr[:, None, None] * grad)

    def sampling_accuracy(keys: Tensor) -> Tensor:              # P(retrieving the cued route), (P,)
        qt = _unit(x + cue_noise / math.sqrt(d) * _randn((P, 64, n, d), gen, device))   # (P, 64, n, d)
        alpha = attention(qt, _unit(keys)[:, None], beta)       # (P, 64, n, n)
        return alpha.diagonal(dim1=-2, dim2=-1).mean((1, 2)).cpu()

    with torch.no_grad():
        before = sampling_accuracy(K)
    eye = torch.eye(n, device=device)
    trace = {"step": [], "pairmate": [], "other": []}
    phases = [("learn", steps, eye), ("release", release_steps, same_pair.float())]
    t = 0
    bar = progress_bar(total=steps + release_steps, desc="training keys", enabled=progress)
    for phase, n_steps, target in phases:
        for _ in range(n_steps):                                 # gradient descent: the loop is the point
            if t % record_every == 0:
                with torch.no_grad():
                    pm, ot = similarity(K)
                trace["step"].append(t)
                trace["pairmate"].append(pm.cpu())
                trace["other"].append(ot.cpu())
            step(target)
            t += 1
            bar.update()
        if phase == "learn":
            with torch.no_grad():
                pm, ot = similarity(K)
                learned = {"pairmate": pm.cpu(), "other": ot.cpu()}
                correct = sampling_accuracy(K)
    bar.close()
    with torch.no_grad():
        pm, ot = similarity(K)
    in_pm, in_ot = similarity(x.expand(1, n, d))
    pm_t, ot_t = torch.stack(trace["pairmate"], 1), torch.stack(trace["other"], 1)   # (P, T)
    rep = learned["other"] - learned["pairmate"]                 # repulsion index per participant
    r = torch.corrcoef(torch.stack([rep, correct]))[0, 1]
    return {"step": trace["step"], "release_starts_at": steps,
            "input_similarity_pairmate": in_pm.item(), "input_similarity_other": in_ot.item(),
            "key_similarity_pairmate_mean": pm_t.mean(0), "key_similarity_other_mean": ot_t.mean(0),
            "key_similarity_pairmate_se": pm_t.std(0) / math.sqrt(P),
            "key_similarity_other_se": ot_t.std(0) / math.sqrt(P),
            "learned_pairmate_similarity": learned["pairmate"],
            "learned_other_similarity": learned["other"],
            "released_pairmate_similarity": pm.cpu(), "released_other_similarity": ot.cpu(),
            "learning_rate": lr.cpu(), "repulsion_index": rep, "discrimination_accuracy": correct,
            "discrimination_accuracy_before": before,
            "repulsion_accuracy_correlation": r.item()}


# ----------------------------------------------------------------------------------
# 3. Keys are used but not recalled (§4.3)
# ----------------------------------------------------------------------------------

@dataclass
class TriviaMemory:
    """Question-answer memories: ``keys`` (N, d), ``values`` (N, d_v), question codes ``x``.

    Explained in Chapter 5, §Feeling of knowing.
    """
    keys: Tensor
    values: Tensor
    x: Tensor
    strength: Tensor


def study_trivia(questions: int = 400, d: int = 256, d_v: int = 16,
                 strength_range: tuple[float, float] = (0.2, 1.0),
                 generator: torch.Generator | None = None, device="cpu") -> TriviaMemory:
    """Store ``questions`` question-answer pairs: key ``g x`` (question code ``x``, encoding
    strength ``g`` uniform over ``strength_range``), value a random answer code.
    Explained in Chapter 5, §Feeling of knowing.
    """
    _number("questions", questions, low=8, integer=True)
    if not (isinstance(strength_range, (tuple, list)) and len(strength_range) == 2
            and 0 < strength_range[0] <= strength_range[1]):
        raise ValueError(f"strength_range: expected (low, high) with 0 < low <= high, got {strength_range!r}")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    x = _random_unit((questions, d), gen, device)                # (N, d) question codes
    g_lo, g_hi = strength_range
    strength = g_lo + (g_hi - g_lo) * _rand((questions,), gen, device)
    return TriviaMemory(strength[:, None] * x, _random_unit((questions, d_v), gen, device), x, strength)


@_single_threaded
def feeling_of_knowing(questions: int = 400, d: int = 256, d_v: int = 16, beta: float = 24.0,
                       cue_noise: float = 0.9, recall_threshold: float = 0.5,
                       recognition_noise: float = 0.05, prime_similarity: float = 0.3,
                       strength_range: tuple[float, float] = (0.2, 1.0),
                       seed: int = 0, device="cpu") -> dict:
    """Feeling of knowing from the key-query match; recall and recognition from values.

    With the memories of :func:`study_trivia` and a noisy question cue ``q``:

    - *feeling of knowing* (FOK): the best key-query match ``max_n q k_n`` (keys only);
    - *recall*: retrieval with a "nothing comes to mind" option at ``recall_threshold``
      (softmax over ``beta q K^T`` and ``beta * recall_threshold``, Eq 6); the question is
      answered if the retrieved value is mostly the right answer (``v_hat . v_target >= 1/2``);
    - *recognition* (later, the answer among 3 new lures): the option closest to the same
      retrieved value, however faint, each comparison blurred by Gaussian noise of
      ``recognition_noise``: choosing among offered answers needs no answer to come to mind.

    *Cue familiarity*: each question is also met once in an unrelated priming episode, a
    memory whose key has cosine ``prime_similarity`` with the question and whose value is
    unrelated. Free parameters: ``cue_noise`` and ``recall_threshold``. Returns recognition
    by FOK quartile among unrecalled questions, their Goodman-Kruskal gamma, and FOK and
    recall with and without familiar cues. Explained in Chapter 5, §Feeling of knowing.
    """
    _number("cue_noise", cue_noise, low=0)
    _number("prime_similarity", prime_similarity, low=0, high=1)
    _number("recall_threshold", recall_threshold)
    gen = _generator(seed)
    mem = study_trivia(questions, d, d_v, strength_range, generator=gen, device=device)
    Q = questions
    q = _unit(mem.x + cue_noise / math.sqrt(d) * _randn((Q, d), gen, device))   # (B=Q, d)
    target = torch.arange(Q, device=device)
    lures = _random_unit((Q, 3, d_v), gen, device)               # (Q, 3, d_v) new wrong answers
    options = torch.cat([mem.values[:, None], lures], 1)         # (Q, 4, d_v), target first

    def test(keys: Tensor, values: Tensor) -> dict:
        logits = beta * q @ keys.T                               # (Q, N)
        nothing = torch.full((Q, 1), beta * recall_threshold, device=device)
        alpha = torch.softmax(torch.cat([logits, nothing], 1), -1)[:, :-1]   # (Q, N)
        v_recall = alpha @ values                                # (Q, d_v); ~0 if nothing came
        scores = v_recall @ mem.values.T                         # (Q, Q) vs every stored answer
        recalled = (scores.argmax(-1) == target) & (scores[target, target] >= 0.5)
        match = torch.einsum("qd,qod->qo", v_recall, options)   # (Q, 4) partial content vs options
        noisy = match + recognition_noise * _randn((Q, 4), gen, device)
        recognised = noisy.argmax(-1) == 0
        return {"fok": (logits / beta).max(-1).values, "recalled": recalled, "recognised": recognised}

    base = test(mem.keys, mem.values)
    prime_keys = _unit(math.sqrt(prime_similarity) * mem.x + math.sqrt(1 - prime_similarity)
                       * _random_unit((Q, d), gen, device))      # (Q, d) priming episodes
    primed = test(torch.cat([mem.keys, prime_keys]),
                  torch.cat([mem.values, _random_unit((Q, d_v), gen, device)]))

    # FOK predicts later recognition among the unrecalled (Hart 1965): Goodman-Kruskal gamma
    miss = ~base["recalled"]
    f, rec = base["fok"][miss], base["recognised"][miss].float()
    conc = ((f[:, None] > f[None, :]) & (rec[:, None] > rec[None, :])).sum()
    disc = ((f[:, None] > f[None, :]) & (rec[:, None] < rec[None, :])).sum()
    gamma = ((conc - disc) / (conc + disc).clamp_min(1)).item()
    edges = torch.quantile(f, torch.tensor([0.25, 0.5, 0.75], device=device))
    bins = torch.bucketize(f, edges)                             # FOK quartile of each miss
    count = torch.bincount(bins, minlength=4).clamp_min(1)
    rec_by_bin = torch.bincount(bins, rec, minlength=4) / count
    fok_by_bin = torch.bincount(bins, f, minlength=4) / count

    def mse(t: Tensor) -> tuple[float, float]:
        return t.float().mean().item(), (t.float().std() / math.sqrt(t.numel())).item()

    out = {"fok_quartile_mean": fok_by_bin.cpu(), "recognition_by_fok_quartile": rec_by_bin.cpu(),
           "recognition_by_fok_quartile_n": count.cpu(), "fok_recognition_gamma": gamma,
           "recognition_rate_unrecalled": rec.mean().item(), "chance_recognition": 0.25}
    for name, res in (("", base), ("_familiar_cue", primed)):
        out[f"fok_mean{name}"], out[f"fok_se{name}"] = mse(res["fok"])
        out[f"recall_rate{name}"], out[f"recall_se{name}"] = mse(res["recalled"])
    return out


@_single_threaded
def judgment_steps(questions: int = 400, d: int = 256, beta: float = 24.0,
                   glimpse_noise: float = 4.0, confidence: float = 0.95, max_steps: int = 40,
                   strength_range: tuple[float, float] = (0.2, 1.0), seed: int = 0,
                   device="cpu") -> dict:
    """Steps to judge "is it stored?" (keys only) against steps to retrieve the answer.

    Evidence about the question arrives in noisy glimpses ``x + noise`` (``glimpse_noise``);
    both judgments read the same running mean ``q_t`` of the glimpses (Reder 1987):

    - "is it stored?": stop at the first step where the best match ``max_n q_t k_n`` is
      higher than all but ``1 - confidence`` of never-studied questions at that step;
    - retrieval: stop at the first step where ``softmax(beta q_t K^T)`` puts ``confidence``
      of its weight on one memory, whose value is then read out (Eq 3).

    Both decisions are held to the same confidence. Free parameters: ``glimpse_noise`` and
    ``beta``. Returns the steps of studied questions that both decisions reach within
    ``max_steps``. Explained in Chapter 5, §Feeling of knowing.
    """
    _number("glimpse_noise", glimpse_noise, low=0)
    _number("confidence", confidence, low=0, high=1, low_open=True)
    _number("max_steps", max_steps, low=1, integer=True)
    gen = _generator(seed)
    mem = study_trivia(questions, d, 16, strength_range, generator=gen, device=device)
    Q, T = questions, max_steps
    new = _random_unit((Q, d), gen, device)                      # never-studied questions
    cues = torch.cat([mem.x, new])                               # (2Q, d)
    glimpses = cues + glimpse_noise / math.sqrt(d) * _randn((T, 2 * Q, d), gen, device)   # (T, 2Q, d)
    steps = torch.arange(1, T + 1, device=device)
    q = _unit(glimpses.cumsum(0) / steps[:, None, None])         # (T, 2Q, d) running estimate
    match = q @ mem.keys.T                                       # (T, 2Q, N)
    best = match.max(-1).values                                  # (T, 2Q)
    criterion = torch.quantile(best[:, Q:], confidence, dim=1)   # (T,) per-step criterion
    stored_yes = best[:, :Q] >= criterion[:, None]               # (T, Q)
    settled = torch.softmax(beta * match[:, :Q], -1).max(-1).values >= confidence   # (T, Q)

    def first(flag: Tensor) -> Tensor:                           # first step where flag holds, (Q,)
        return torch.where(flag, steps[:, None], T + 1).amin(0)

    s_stored, s_retrieve = first(stored_yes), first(settled)
    both = (s_stored <= T) & (s_retrieve <= T)
    return {"step": steps.cpu(),
            "cumulative_is_it_stored": (s_stored[None] <= steps[:, None]).float().mean(1).cpu(),
            "cumulative_retrieved": (s_retrieve[None] <= steps[:, None]).float().mean(1).cpu(),
            "steps_is_it_stored": s_stored[both].float().cpu(),
            "steps_retrieve": s_retrieve[both].float().cpu(),
            "fraction_decided_by_both": both.float().mean().item(),
            "fraction_stored_yes": (s_stored <= T).float().mean().item(),
            "fraction_retrieved": (s_retrieve <= T).float().mean().item()}
