"""Keys and values are distinct, each shaped for its own job (the review's §4.2).

Two simulations of the claim that addresses (keys, in the hippocampus) are represented apart
from contents (values, in the neocortex):

- :func:`context_fear` and :func:`context_fear_conditions`: fear conditioned in one box
  generalises to a similar box as the route from cue to address loses detail, and a
  reminder that reaches the stored key, which kept the detail, makes it specific again;
  without keys (a hippocampal lesion) it cannot (Winocur et al. 2009, as the review
  describes it);
- :func:`repulsion`: keys trained to tell overlapping routes apart move past their input
  similarity, in step with discrimination, and drift back when telling them apart no
  longer matters (Chanales et al. 2017; the reversal is the review's untested prediction).

Both read the memory through :func:`kvlib.episodic.weighted_recall`. Randomness: ``seed``,
through ``kvlib.device.generator`` (one stream per experiment, drawn in a fixed order). Both run
on one CPU thread and restore the caller's setting. Axis names: N memories, d dims, P
participants, n routes. Explained in Chapter 5, §Keys and values are distinct.
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
from kvlib.device import progress as progress_bar
from kvlib.episodic import mean_se, noisy_cue, random_unit, weighted_recall

__all__ = ["context_fear", "context_fear_conditions", "repulsion", "repulsion_numbers"]

_MAX_MEMORIES = 10**6


def _box_features(similarity: float, d: int, gen: torch.Generator, device):
    """Orthonormal 'shared box' direction s and 'detail' direction e; A = a s + b e, B = a s - b e."""
    basis, _ = torch.linalg.qr(torch.randn(d, 2, generator=gen))
    s, e = basis[:, 0].to(device), basis[:, 1].to(device)
    a, b = math.sqrt((1 + similarity) / 2), math.sqrt((1 - similarity) / 2)
    return s, e, a, b


def _day(name: str, t) -> int | float:
    """A day >= 0; integers stay integers (they label the figure's days)."""
    return t if isinstance(t, int) and not isinstance(t, bool) and t >= 0 else check.number(name, t, low=0)


@cpu_threads(1)
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
    derived). Retrieval is the softmax read with a "nothing retrieved" option at
    ``threshold`` (:func:`kvlib.episodic.weighted_recall`); freezing is the retrieved fear (Eq 3).

    ``reminder``: a brief visit to A before the test retrieves the stored key, which still
    holds the detail, and copies it back into the query map. ``keys=False`` (hippocampal
    lesion): memories are reached through their values only; values keep the box's gist,
    not the detail, so A and B cannot be told apart and the reminder has nothing to restore.
    Free parameters: ``detail_memories`` and ``threshold``. Returns freezing mean and
    standard error over rats per day in A and B, and the query map's detail gain.
    Explained in Chapter 5, §Context specificity and the reminder.
    """
    days = check.sequence("days", days, _day)
    reminder, keys = check.flag("reminder", reminder), check.flag("keys", keys)
    rats = check.count("rats", rats, minimum=2)
    beta = check.positive("beta", beta)
    threshold = check.number("threshold", threshold)
    detail_memories = check.positive("detail_memories", detail_memories)
    per_day = check.number("memories_per_day", memories_per_day, low=0)
    similarity = check.number("context_similarity", context_similarity, low=-1, high=1)
    cue_noise = check.number("cue_noise", cue_noise, low=0, high=1e6)
    d = check.count("d", d, minimum=2)
    if per_day * max(days) > _MAX_MEMORIES:
        raise ValueError(f"memories_per_day: expected at most {_MAX_MEMORIES} intervening memories "
                         f"(memories_per_day x the last day), got {per_day:g} x {max(days):g}")
    gen = stream(check.seed("seed", seed))
    dev = check.device("device", device)
    s, e, a, b = _box_features(similarity, d, gen, dev)
    x = {"A": a * s + b * e, "B": a * s - b * e}                 # sensory input of each box
    n_int = [int(round(per_day * t)) for t in days]
    N = 1 + max(n_int)
    if rats * N * d > 10**8:
        raise ValueError(f"rats: expected at most 10**8 key entries (rats x memories x d), "
                         f"got {rats} x {N} x {d}")
    other = random_unit((rats, N - 1, d), gen, dev)              # intervening memories
    first = x["A"] if keys else s                                # lesion: only the value's gist s is left
    K = torch.cat([first.expand(rats, 1, d), other], 1)          # (rats, N, d)
    fear = torch.zeros(rats, N, 1, device=dev)
    fear[:, 0] = 1.0                                             # values: "shock", then "no shock"

    result = {"day": days, "n_intervening": n_int, "freezing_A_mean": [], "freezing_A_se": [],
              "freezing_B_mean": [], "freezing_B_se": [], "query_detail_gain": []}
    for n in n_int:
        K_n, fear_n = K[:, :1 + n], fear[:, :1 + n]             # what is stored by then
        g = math.exp(-n / detail_memories)                       # detail kept by the query map
        eps = {c: torch.randn((rats, d), generator=gen).to(dev) for c in ("A", "B", "R")}
        noise = {c: cue_noise / math.sqrt(d) * eps[c] for c in eps}

        def cue(ctx: str, gain: Tensor, noise=noise) -> Tensor:  # (rats, d)
            if not keys:                                         # content route: the raw sensory cue
                return F.normalize(x[ctx] + noise[ctx], dim=-1)
            sign = -1.0 if ctx == "B" else 1.0                   # the reminder "R" is a visit to A
            return F.normalize(a * s + sign * gain[:, None] * b * e + noise[ctx], dim=-1)

        gain = torch.full((rats,), g, device=dev)
        if reminder and keys:
            k_hat = weighted_recall(cue("R", gain)[:, None], K_n, K_n, beta)[:, 0]   # retrieved key (rats, d)
            gain = torch.maximum(gain, (k_hat @ e / b).clamp(0, 1))   # its detail, copied back
        result["query_detail_gain"].append(gain.mean().item())
        for ctx in ("A", "B"):
            freeze = weighted_recall(cue(ctx, gain)[:, None], K_n, fear_n, beta, nothing=threshold)
            m, se = mean_se(freeze[:, 0, 0].cpu())               # freeze: (rats, 1, 1), the retrieved fear
            result[f"freezing_{ctx}_mean"].append(m.item())
            result[f"freezing_{ctx}_se"].append(se.item())
    return result


def context_fear_conditions(long_delay: float = 7.0, seed: int = 0, device="cpu", **model) -> dict:
    """Freezing in A and B in the five conditions of the reminder experiment.

    Day 1; ``long_delay``; ``long_delay`` after a reminder; and the last two again without
    keys (hippocampal lesion). ``model`` keywords go to :func:`context_fear`.
    Explained in Chapter 5, §Context specificity and the reminder.
    """
    long_delay = check.number("long_delay", long_delay, low=0)
    per_day = model.get("memories_per_day", 20.0)
    if isinstance(per_day, (int, float)) and not isinstance(per_day, bool) and \
            per_day * long_delay > _MAX_MEMORIES:
        raise ValueError(f"long_delay: expected at most {_MAX_MEMORIES} intervening memories "
                         f"(memories_per_day x long_delay), got {per_day:g} x {long_delay:g}")
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


def _range(name: str, value) -> tuple[float, float]:
    pair = check.sequence(name, value, lambda n, v: check.positive(n, v))
    if len(pair) != 2 or pair[0] > pair[1]:
        raise ValueError(f"{name}: expected (low, high) with 0 < low <= high, got {value!r}")
    return pair[0], pair[1]


@cpu_threads(1)
def repulsion(steps: int = 300, pairs: int = 4, participants: int = 24, d: int = 32,
              pair_similarity: float = 0.8, other_similarity: float = 0.2,
              cue_noise: float = 0.3, beta: float = 10.0,
              lr_range: tuple[float, float] = (0.03, 1.0), release_steps: int = 300,
              record_every: int = 10, seed: int = 0, device="cpu", progress: bool = False) -> dict:
    """Keys trained to tell overlapping routes apart repel past their input similarity.

    ``2 · pairs`` routes have input codes ``x`` whose cosine is ``pair_similarity`` within
    a pair of overlapping routes and ``other_similarity`` across pairs (Chanales et al.
    2017). Keys start at the inputs and are trained by gradient descent on retrieval: a
    slightly noisy cue ``x + noise``, matched by cosine, must put its attention (Eq 6) on
    keys whose value is the cued route's destination (the loss is minus the log of that
    attention, i.e. of the probability of *sampling* a right memory; the read
    ``softmax(β q Kᵀ) V`` with one-hot destinations as values gives it). Simulated
    participants differ only in learning rate (log-uniform over ``lr_range``). After
    ``steps``, a *release* phase gives pairmates the same destination, so telling them apart
    no longer matters: the review's untested prediction is that the repulsion then reverses.
    Discrimination is the mean attention on the cued route. Free parameters: ``cue_noise``
    and ``beta``. Returns key-similarity trajectories, and per participant the repulsion
    (non-pairmate minus pairmate key similarity after learning) and the discrimination, and
    their correlation across participants (NaN, undefined, when either does not vary, e.g.
    when a very sharp read lets every participant discriminate perfectly).
    Explained in Chapter 5, §Repulsion.
    """
    steps = check.count("steps", steps, minimum=1)
    pairs = check.count("pairs", pairs, minimum=2)
    P = check.count("participants", participants, minimum=3)
    d = check.count("d", d, minimum=2)
    pair_sim = check.number("pair_similarity", pair_similarity, low=-1, high=1)
    other_sim = check.number("other_similarity", other_similarity, low=0)
    if other_sim > pair_sim:
        raise ValueError(f"other_similarity: expected at most pair_similarity = {pair_sim:g} (pairmates "
                         f"share more than other routes), got {other_sim:g}")
    check.number("cue_noise", cue_noise, low=0, high=1e6)
    beta = check.positive("beta", beta)
    lr_lo, lr_hi = _range("lr_range", lr_range)
    release_steps = check.count("release_steps", release_steps, minimum=0)
    record_every = check.count("record_every", record_every, minimum=1)
    progress = check.flag("progress", progress)
    n = 2 * pairs
    if d < 1 + pairs + n:
        raise ValueError(f"d: expected at least 1 + 3 x pairs = {1 + pairs + n} dimensions (a shared, "
                         f"a pair and an own direction per route), got {d}")
    if P * 64 * n * d > 10**8 or steps + release_steps > 10**6:
        raise ValueError(f"participants: expected a run of at most 10**8 cue entries per test and "
                         f"10**6 steps, got {P} participants x {n} routes x {d} dims, "
                         f"{steps + release_steps} steps")
    gen = stream(check.seed("seed", seed))
    dev = check.device("device", device)
    # input codes: a shared part (all routes), a pair part (pairmates), an own part; Gram as asked
    basis, _ = torch.linalg.qr(torch.randn(d, 1 + pairs + n, generator=gen))   # (d, 1 + pairs + n)
    basis = basis.T.to(dev)
    pair_of = torch.arange(n, device=dev) // 2
    x = (math.sqrt(other_sim) * basis[0] + math.sqrt(pair_sim - other_sim) * basis[1 + pair_of]
         + math.sqrt(1 - pair_sim) * basis[1 + pairs + torch.arange(n, device=dev)])   # (n, d)
    same_pair = pair_of[:, None] == pair_of[None, :]
    off = ~torch.eye(n, dtype=torch.bool, device=dev)
    lo, hi = math.log(lr_lo), math.log(lr_hi)
    lr = torch.exp(lo + (hi - lo) * torch.linspace(0, 1, P)).to(dev)   # (P,)
    lr = lr[torch.randperm(P, generator=gen).to(dev)]
    K = x.expand(P, n, d).clone().requires_grad_(True)          # (P, n, d): keys start at the inputs

    def similarity(keys: Tensor) -> tuple[Tensor, Tensor]:      # mean pairmate / other cosine, (P,)
        c = F.normalize(keys, dim=-1) @ F.normalize(keys, dim=-1).transpose(-1, -2)   # (P, n, n)
        return c[:, same_pair & off].mean(-1), c[:, ~same_pair].mean(-1)

    def on_target(keys: Tensor, cues: int, right: Tensor) -> Tensor:
        """Attention on the right memories for ``cues`` noisy cues of each route, (P, cues, n)."""
        q = noisy_cue(x.expand(P, cues, n, d), cue_noise, gen)  # (P, cues, n, d)
        dest = right.to(keys.dtype).expand(P, 1, n, n)          # values: one-hot "right" per route
        read = weighted_recall(q, F.normalize(keys, dim=-1)[:, None], dest, beta)   # (P, cues, n, n)
        return read.diagonal(dim1=-2, dim2=-1)                   # route i's cue, route i's column

    def step(right: Tensor) -> None:
        loss = -torch.log(on_target(K, 4, right).clamp_min(1e-12)).mean((1, 2))
        grad, = torch.autograd.grad(loss.sum(), K)
        with torch.no_grad():
            K.sub_(lr[:, None, None] * grad)

    def sampling_accuracy(keys: Tensor) -> Tensor:              # P(retrieving the cued route), (P,)
        return on_target(keys, 64, torch.eye(n, device=dev)).mean((1, 2)).cpu()

    with torch.no_grad():
        before = sampling_accuracy(K)
    eye = torch.eye(n, device=dev)
    trace = {"step": [], "pairmate": [], "other": []}
    t = 0
    bar = progress_bar(total=steps + release_steps, desc="training keys", enabled=progress)
    for phase, n_steps, right in (("learn", steps, eye), ("release", release_steps, same_pair.float())):
        for _ in range(n_steps):                                 # gradient descent: the loop is the point
            if t % record_every == 0:
                with torch.no_grad():
                    pm, ot = similarity(K)
                trace["step"].append(t)
                trace["pairmate"].append(pm.cpu())
                trace["other"].append(ot.cpu())
            step(right)
            t += 1
            bar.update()
        if phase == "learn":
            with torch.no_grad():
                pm, ot = similarity(K)
                learned = {"pairmate": pm.cpu(), "other": ot.cpu()}
                correct = sampling_accuracy(K)
    bar.close()
    check.finite_result("repulsion", K.detach())
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


def repulsion_numbers(result: dict) -> dict[str, float]:
    """The numbers Chapter 5 quotes from :func:`repulsion`'s ``result``: the inputs' similarity of
    pairmates and of other pairs, the keys' at the end of learning (the last step before the
    release), the first step at which pairmates' keys are less alike than others' (``rep_cross``),
    the repulsion-accuracy correlation, discrimination accuracy before and after learning, and
    the similarities after the release."""
    if not isinstance(result, dict):
        raise TypeError(f"result: expected the dict repulsion returns, got {type(result).__name__}")
    if "release_starts_at" not in result:
        raise ValueError("result: expected repulsion's result, missing 'release_starts_at'")
    steps = result["step"]
    pm, ot = result["key_similarity_pairmate_mean"], result["key_similarity_other_mean"]
    end = max(i for i, s in enumerate(steps) if s <= result["release_starts_at"])    # the end of learning
    return {"rep_in_pm": result["input_similarity_pairmate"], "rep_in_ot": result["input_similarity_other"],
            "rep_learn_pm": float(pm[end]), "rep_learn_ot": float(ot[end]),
            "rep_cross": next((steps[i] for i in range(end + 1) if pm[i] < ot[i]), math.nan),
            "rep_r": result["repulsion_accuracy_correlation"],
            "rep_acc_before": float(result["discrimination_accuracy_before"].mean()),
            "rep_acc_after": float(result["discrimination_accuracy"].mean()),
            "rep_rel_pm": float(result["released_pairmate_similarity"].mean()),
            "rep_rel_ot": float(result["released_other_similarity"].mean())}
