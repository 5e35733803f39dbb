"""Keys are used but not recalled (the review's §4.3): knowing that you know, from keys alone.

Matching a query against the stored keys can say that something is stored before, or
without, the content coming to mind. With question-answer memories (:func:`study_trivia`):

- :func:`feeling_of_knowing`: the best key-query match (a feeling of knowing, FOK) predicts
  later recognition of answers that could not be recalled (Hart 1965), and familiar question
  words raise it without raising recall (Reder & Ritter 1992; Schwartz & Metcalfe 1992);
- :func:`judgment_steps`: "is it stored?" is decided in fewer evidence steps than the answer
  is retrieved, both held to the same confidence (Reder 1987).

Recall is :func:`kvlib.episodic.weighted_recall` with a "nothing comes to mind" option; the
FOK is a similarity (:func:`kvlib.kernels.dot`), no read at all. Randomness: ``seed``, through
``kvlib.device.generator`` (one stream per experiment, drawn in a fixed order). Both run on
one CPU thread and restore the caller's setting. Axis names: N memories (questions), Q
question cues, d dims, d_v answer dims, T evidence steps.
Explained in Chapter 5, §Keys are used but not recalled.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import cpu_threads
from kvlib.device import generator as stream
from kvlib.episodic import noisy_cue, random_unit, weighted_recall

__all__ = ["TriviaMemory", "study_trivia", "feeling_of_knowing", "judgment_steps", "metamemory_numbers"]


@dataclass
class TriviaMemory:
    """Question-answer memories: ``keys`` (N, d) = strength · question code, ``values`` (N, d_v)
    answer codes, the question codes ``x`` (N, d) and the encoding ``strength`` (N,).

    Explained in Chapter 5, §Feeling of knowing.
    """

    keys: Tensor
    values: Tensor
    x: Tensor
    strength: Tensor

    def __post_init__(self):
        self.keys = check.tensor("keys", self.keys, ndim=2, nonempty=True)
        N, d = self.keys.shape
        self.values = check.tensor("values", self.values, shape=(N, None), like=self.keys,
                                   like_name="the keys", nonempty=True)
        self.x = check.tensor("x", self.x, shape=(N, d), like=self.keys, like_name="the keys")
        self.strength = check.tensor("strength", self.strength, shape=(N,), like=self.keys,
                                     like_name="the keys")


def _strength_range(value) -> tuple[float, float]:
    pair = check.sequence("strength_range", value, lambda n, v: check.positive(n, v))
    if len(pair) != 2 or pair[0] > pair[1]:
        raise ValueError(f"strength_range: expected (low, high) with 0 < low <= high, got {value!r}")
    return pair[0], pair[1]


def study_trivia(questions: int = 400, d: int = 256, d_v: int = 16,
                 strength_range: tuple[float, float] = (0.2, 1.0),
                 generator: torch.Generator | None = None, device="cpu") -> TriviaMemory:
    """Store ``questions`` question-answer pairs: key ``g x`` (question code ``x``, encoding
    strength ``g`` uniform over ``strength_range``), value a random answer code (unit vectors).
    ``generator`` defaults to ``kvlib.device.generator(0)``. Explained in Chapter 5, §Feeling of knowing.

    >>> study_trivia(questions=8, d=4, d_v=2).keys.shape
    torch.Size([8, 4])
    """
    Q = check.count("questions", questions, minimum=8)
    d = check.count("d", d, minimum=2)
    d_v = check.count("d_v", d_v, minimum=2)
    lo, hi = _strength_range(strength_range)
    if Q * (d + d_v) > 10**8:
        raise ValueError(f"questions: expected at most 10**8 stored entries (questions x (d + d_v)), "
                         f"got {Q} x {d + d_v}")
    gen = check.generator("generator", generator) or stream(0)
    dev = check.device("device", device)
    x = random_unit((Q, d), gen, dev)                            # (N, d) question codes
    strength = lo + (hi - lo) * torch.rand((Q,), generator=gen).to(dev)
    return TriviaMemory(strength[:, None] * x, random_unit((Q, d_v), gen, dev), x, strength)


@cpu_threads(1)
def feeling_of_knowing(questions: int = 400, d: int = 256, d_v: int = 16, beta: float = 24.0,
                       cue_noise: float = 0.9, recall_threshold: float = 0.5,
                       recognition_noise: float = 0.05, prime_similarity: float = 0.3,
                       strength_range: tuple[float, float] = (0.2, 1.0),
                       seed: int = 0, device="cpu") -> dict:
    """Feeling of knowing from the key-query match; recall and recognition from values.

    With the memories of :func:`study_trivia` and a noisy question cue ``q``:

    - *feeling of knowing* (FOK): the best key-query match ``max_n q·k_n`` (keys only);
    - *recall*: the softmax read with a "nothing comes to mind" option at ``recall_threshold``
      (:func:`kvlib.episodic.weighted_recall`, Eq 6); the question is answered if the retrieved
      value is mostly the right answer (``v̂·v_target >= 1/2`` and closer to it than to any other);
    - *recognition* (later, the answer among 3 new lures): the option closest to the same
      retrieved value, however faint, each comparison blurred by Gaussian noise of
      ``recognition_noise``: choosing among offered answers needs no answer to come to mind.

    *Cue familiarity*: each question is also met once in an unrelated priming episode, a
    memory whose key has cosine ``prime_similarity`` with the question and whose value is
    unrelated. Free parameters: ``cue_noise`` and ``recall_threshold``. Returns recognition
    by FOK quartile among unrecalled questions, their Goodman-Kruskal gamma, and FOK and
    recall (mean and standard error over questions) with and without familiar cues.
    Explained in Chapter 5, §Feeling of knowing.
    """
    beta = check.positive("beta", beta)
    cue_noise = check.number("cue_noise", cue_noise, low=0, high=1e6)
    recall_threshold = check.number("recall_threshold", recall_threshold)
    recognition_noise = check.number("recognition_noise", recognition_noise, low=0, high=1e6)
    prime_similarity = check.probability("prime_similarity", prime_similarity)
    gen = stream(check.seed("seed", seed))
    mem = study_trivia(questions, d, d_v, strength_range, generator=gen, device=device)
    dev, (Q, d), d_v = mem.keys.device, mem.keys.shape, mem.values.shape[1]
    q = noisy_cue(mem.x, cue_noise, gen)                         # (Q, d): one cue per question
    target = torch.arange(Q, device=dev)
    lures = random_unit((Q, 3, d_v), gen, dev)                   # (Q, 3, d_v) new wrong answers
    options = torch.cat([mem.values[:, None], lures], 1)         # (Q, 4, d_v), target first

    def test(keys: Tensor, values: Tensor) -> dict:
        v_recall = weighted_recall(q, keys, values, beta, nothing=recall_threshold)   # (Q, d_v); ~0: nothing
        scores = kernels.dot(v_recall, mem.values)               # (Q, Q) vs every stored answer
        recalled = (scores.argmax(-1) == target) & (scores[target, target] >= 0.5)
        match = torch.einsum("qd,qod->qo", v_recall, options)   # (Q, 4) partial content vs the options
        noisy = match + recognition_noise * torch.randn((Q, 4), generator=gen).to(dev)
        return {"fok": kernels.dot(q, keys).amax(-1), "recalled": recalled,
                "recognised": noisy.argmax(-1) == 0}

    base = test(mem.keys, mem.values)
    prime_keys = F.normalize(math.sqrt(prime_similarity) * mem.x + math.sqrt(1 - prime_similarity)
                             * random_unit((Q, d), gen, dev), dim=-1)   # (Q, d) priming episodes
    primed = test(torch.cat([mem.keys, prime_keys]), torch.cat([mem.values, random_unit((Q, d_v), gen, dev)]))

    # FOK predicts later recognition among the unrecalled (Hart 1965): Goodman-Kruskal gamma
    miss = ~base["recalled"]
    if int(miss.sum()) < 4:
        raise ValueError(f"questions: expected at least 4 unrecalled questions to relate FOK to "
                         f"recognition, got {int(miss.sum())} of {Q}; use more questions, a larger "
                         f"cue_noise or recall_threshold, or a smaller beta")
    f, rec = base["fok"][miss], base["recognised"][miss].float()
    conc = ((f[:, None] > f[None, :]) & (rec[:, None] > rec[None, :])).sum()
    disc = ((f[:, None] > f[None, :]) & (rec[:, None] < rec[None, :])).sum()
    gamma = ((conc - disc) / (conc + disc).clamp_min(1)).item()
    edges = torch.quantile(f, torch.tensor([0.25, 0.5, 0.75], dtype=f.dtype, device=dev))
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


@cpu_threads(1)
def judgment_steps(questions: int = 400, d: int = 256, beta: float = 24.0,
                   glimpse_noise: float = 4.0, confidence: float = 0.95, max_steps: int = 40,
                   strength_range: tuple[float, float] = (0.2, 1.0), seed: int = 0,
                   device="cpu") -> dict:
    """Steps to judge "is it stored?" (keys only) against steps to retrieve the answer.

    Evidence about the question arrives in noisy glimpses ``x + noise`` (``glimpse_noise``);
    both judgments read the same running mean ``q_t`` of the glimpses (Reder 1987):

    - "is it stored?": stop at the first step where the best match ``max_n q_t·k_n`` is
      higher than all but ``1 - confidence`` of never-studied questions at that step;
    - retrieval: stop at the first step where ``softmax(β q_t Kᵀ)`` puts ``confidence``
      of its weight on one memory, whose value is then read out (Eq 3).

    Both decisions are held to the same confidence. Free parameters: ``glimpse_noise`` and
    ``beta``. Returns the cumulative fractions decided by each step, and the steps (each, and
    their medians) of the studied questions that both decisions reach within ``max_steps``
    (medians ``max_steps + 1`` if there are none).
    Explained in Chapter 5, §Feeling of knowing.
    """
    beta = check.positive("beta", beta)
    glimpse_noise = check.number("glimpse_noise", glimpse_noise, low=0, high=1e6)
    confidence = check.number("confidence", confidence, low=0, high=1, low_open=True)
    T = check.count("max_steps", max_steps, minimum=1)
    Q = check.count("questions", questions, minimum=8)
    d = check.count("d", d, minimum=2)
    if T * 2 * Q * max(Q, d) > 10**8:
        raise ValueError(f"max_steps: expected at most 10**8 match entries (max_steps x 2 questions x "
                         f"max(questions, d)), got {T} x {2 * Q} x {max(Q, d)}")
    gen = stream(check.seed("seed", seed))
    mem = study_trivia(Q, d, 16, strength_range, generator=gen, device=device)
    dev = mem.keys.device
    new = random_unit((Q, d), gen, dev)                          # never-studied questions
    cues = torch.cat([mem.x, new])                               # (2Q, d)
    eps = torch.randn((T, 2 * Q, d), generator=gen).to(dev)
    glimpses = cues + glimpse_noise / math.sqrt(d) * eps         # (T, 2Q, d)
    steps = torch.arange(1, T + 1, device=dev)
    q = F.normalize(glimpses.cumsum(0) / steps[:, None, None], dim=-1)   # (T, 2Q, d) running estimate
    match = kernels.dot(q, mem.keys)                             # (T, 2Q, N)
    best = match.max(-1).values                                  # (T, 2Q)
    criterion = torch.quantile(best[:, Q:], confidence, dim=1)   # (T,) per-step criterion
    stored_yes = best[:, :Q] >= criterion[:, None]               # (T, Q)
    settled = kernels.separate(match[:, :Q], "softmax", beta=beta).amax(-1) >= confidence   # (T, Q)

    def first(flag: Tensor) -> Tensor:                           # first step where flag holds, (Q,)
        return torch.where(flag, steps[:, None], T + 1).amin(0)

    s_stored, s_retrieve = first(stored_yes), first(settled)
    both = (s_stored <= T) & (s_retrieve <= T)

    def median(t: Tensor) -> float:                              # as numpy's: mean of the two middle ones
        return torch.quantile(t[both].float(), 0.5).item() if bool(both.any()) else T + 1.0

    return {"step": steps.cpu(),
            "cumulative_is_it_stored": (s_stored[None] <= steps[:, None]).float().mean(1).cpu(),
            "cumulative_retrieved": (s_retrieve[None] <= steps[:, None]).float().mean(1).cpu(),
            "steps_is_it_stored": s_stored[both].float().cpu(),
            "steps_retrieve": s_retrieve[both].float().cpu(),
            "median_steps_is_it_stored": median(s_stored), "median_steps_retrieve": median(s_retrieve),
            "fraction_decided_by_both": both.float().mean().item(),
            "fraction_stored_yes": (s_stored <= T).float().mean().item(),
            "fraction_retrieved": (s_retrieve <= T).float().mean().item()}


def metamemory_numbers(fok: dict, steps: dict) -> dict[str, float]:
    """The numbers Chapter 5 quotes from :func:`feeling_of_knowing` (``fok``: the FOK-recognition
    gamma, recognition (%) in the lowest and highest FOK quartile, mean FOK and recall (%) without
    and with a familiar cue) and :func:`judgment_steps` (``steps``: median steps to "is it
    stored?" and to the answer)."""
    for name, value, source, key in (("fok", fok, "feeling_of_knowing", "recognition_by_fok_quartile"),
                                     ("steps", steps, "judgment_steps", "median_steps_retrieve")):
        check.result(name, value, source, key)
    rec = fok["recognition_by_fok_quartile"]
    return {"fok_gamma": fok["fok_recognition_gamma"], "fok_rec_low": 100 * float(rec[0]),
            "fok_rec_high": 100 * float(rec[-1]), "fok_base": fok["fok_mean"],
            "fok_fam": fok["fok_mean_familiar_cue"], "fok_recall_base": 100 * fok["recall_rate"],
            "fok_recall_fam": 100 * fok["recall_rate_familiar_cue"], "fok_recall_se": 100 * fok["recall_se"],
            "fok_steps_stored": steps["median_steps_is_it_stored"],
            "fok_steps_retrieve": steps["median_steps_retrieve"]}
