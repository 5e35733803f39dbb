"""Keys matched, values not retrieved: familiarity without recollection, tip of the tongue, pointers (§4.3).

The review gathers several experiences under one heading (§4.3): a key can match a query without
its value coming to mind. Two simulations, both reading one memory through
:func:`kvlib.episodic.weighted_recall` (Eq 3):

* :func:`familiarity_recollection`: people known from one place are met there or elsewhere.
  Familiarity is the best key-query match, recollection the retrieval of the name (the value)
  with a "nothing comes to mind" option. Met out of context, the face is familiar but the name
  does not come: the "butcher on the bus" (Mandler 1980). For familiar but unnamed faces, the
  faint retrieved value still tells the name's first letter more often than chance: the tip of
  the tongue (Brown & McNeill 1966).
* :func:`change_detection`: short-term memory holds pointers to long-term memories, not copies
  of their content (Ruchkin et al. 2003; Norris 2017). The same noisy pointer is good enough to
  notice that an item of a display has changed (it is matched against a handful of items) but
  not to say what the item was (it must then pick one value out of all of long-term memory):
  change detection without identification (Ball & Busch 2015).

Randomness: ``seed``, through ``kvlib.device.generator``. Axis names: B subjects, N memories
(people, or long-term items), n set size, d dims. Explained in Chapter 5, §Keys matched, values
not retrieved.
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

__all__ = ["familiarity_recollection", "change_detection", "pointer_numbers"]


def _criterion(new_scores: Tensor, false_alarms: float) -> Tensor:
    """Per subject, the score that new items exceed with probability ``false_alarms``. (B, n) -> (B, 1)."""
    return torch.quantile(new_scores, 1 - false_alarms, dim=-1, keepdim=True)


@cpu_threads(1)
def familiarity_recollection(people: int = 200, subjects: int = 16, d: int = 64,
                             context_weight: float = 0.5, cue_noise: float = 1.0, beta: float = 30.0,
                             threshold: float = 0.6, strength_range: tuple = (0.3, 1.0),
                             recall_criterion: float = 0.5, readout_noise: float = 2.0,
                             false_alarms: float = 0.05, letters: int = 26, seed: int = 0,
                             device="cpu") -> dict:
    """Familiarity, recollection and the tip of the tongue, for faces met in and out of context.

    Each subject knows ``people`` people: key ``[a f, b u]`` (the face ``f`` and the usual
    place ``u`` where they are met, ``b^2 = context_weight``), value ``s · w``, the name's
    code ``w`` bound with a strength ``s`` drawn uniformly from ``strength_range``. A name's
    code joins a first-letter code (one of ``letters`` random codes) to the rest of the word,
    half of its variance each. A face is met with a noisy view (``cue_noise``) either at its
    usual place (in context) or at a random one (out of context, the butcher on the bus);
    new faces are met at random places.

    - *Familiar*: the best key-query match exceeds the criterion that new faces exceed with
      probability ``false_alarms`` (set per subject, so the false-alarm rate is fixed).
    - *Recollected*: the retrieved value ``v̂`` (softmax, ``beta``, "nothing" at
      ``threshold``, plus Gaussian read-out noise of size ``readout_noise``) has a dot product
      above ``recall_criterion`` with the right name.
    - *Tip of the tongue*: familiar, not recollected; for these, the first-letter part of
      ``v̂`` is decoded (nearest letter code).

    Returns the rates of familiarity, recollection and familiarity without recollection in
    and out of context, and the first-letter accuracy in tip-of-the-tongue states with its
    chance level (mean and standard error over subjects). Explained in Chapter 5, §Keys
    matched, values not retrieved.
    """
    N = check.count("people", people, minimum=2)
    B = check.count("subjects", subjects, minimum=2)
    d = check.count("d", d, minimum=2)
    b2 = check.number("context_weight", context_weight, low=0, high=1)
    noise = check.number("cue_noise", cue_noise, low=0, high=1e6)
    beta = check.positive("beta", beta)
    threshold = check.number("threshold", threshold, low=-1, high=1)
    lo, hi = check.sequence("strength_range", strength_range, check.probability)
    if not 0 <= lo <= hi:
        raise ValueError(f"strength_range: expected (low, high) with 0 <= low <= high <= 1, "
                         f"got {strength_range!r}")
    crit = check.number("recall_criterion", recall_criterion)
    rnoise = check.number("readout_noise", readout_noise, low=0, high=1e6)
    fa = check.number("false_alarms", false_alarms, low=1e-3, high=0.5)
    L = check.count("letters", letters, minimum=2)
    gen = stream(check.seed("seed", seed))
    dev = check.device("device", device)
    if B * N * max(N, 2 * d) > 10**8:
        raise ValueError(f"people: expected at most 10**8 entries (subjects x people^2), got {B} x {N}^2")
    a, b = math.sqrt(1 - b2), math.sqrt(b2)
    face, place = random_unit((B, N, d), gen, dev), random_unit((B, N, d), gen, dev)
    K = torch.cat([a * face, b * place], -1)                             # (B, N, 2d)
    letter_codes = random_unit((L, d), gen, dev)                         # (L, d)
    first = torch.randint(L, (B, N), generator=gen).to(dev)              # each name's first letter
    word = torch.cat([letter_codes[first], random_unit((B, N, d), gen, dev)], -1) / math.sqrt(2)
    s = lo + (hi - lo) * torch.rand((B, N, 1), generator=gen).to(dev)    # binding strengths
    V = s * word                                                         # (B, N, 2d) names, bound

    def cue(faces: Tensor, places: Tensor) -> Tensor:
        return torch.cat([a * noisy_cue(faces, noise, gen), b * places], -1)

    new = cue(random_unit((B, N, d), gen, dev), random_unit((B, N, d), gen, dev))
    best = lambda q: (q @ K.transpose(-1, -2)).amax(-1)                  # noqa: E731  (B, N)
    c = _criterion(best(new), fa)
    out = {"people": N, "false_alarm_rate": fa, "letter_chance": 1.0 / L}
    for where, places in (("in_context", place), ("out_of_context", random_unit((B, N, d), gen, dev))):
        q = cue(face, places)
        familiar = best(q) > c                                           # (B, N)
        v_hat = weighted_recall(q, K, V, beta, nothing=threshold)        # (B, N, 2d)
        v_hat = v_hat + rnoise / math.sqrt(2 * d) * torch.randn(tuple(v_hat.shape), generator=gen).to(dev)
        named = (v_hat * word).sum(-1) > crit                            # (B, N)
        tot = familiar & ~named
        letter = (v_hat[..., :d] @ letter_codes.T).argmax(-1) == first   # (B, N) first letter right
        tot_letter = (letter & tot).sum(-1) / tot.sum(-1).clamp(min=1)
        for name, x in (("familiar", familiar.float().mean(-1)), ("recollected", named.float().mean(-1)),
                        ("familiar_not_recollected", tot.float().mean(-1)),
                        ("tot_first_letter", tot_letter)):
            m, se = mean_se(x.cpu())
            out[f"{name}_{where}_mean"], out[f"{name}_{where}_se"] = m.item(), se.item()
    return out


def _rows(K: Tensor, idx: Tensor) -> Tensor:
    """The keys ``K`` (B, N, d) at indices ``idx`` (B, T, n): (B, T, n, d)."""
    B, d = K.shape[0], K.shape[-1]
    return torch.gather(K, 1, idx.reshape(B, -1, 1).expand(-1, -1, d)).reshape(*idx.shape, d)


def _match(K: Tensor, items: Tensor, ptr: Tensor) -> Tensor:
    """Dot products of the displayed items' keys with the pointers: (B, T, n items, n pointers)."""
    return _rows(K, items) @ ptr.transpose(-1, -2)


@cpu_threads(1)
def change_detection(memory_sizes: Sequence[int] = (10, 100, 1000, 10000), set_size: int = 4,
                     trials: int = 200, subjects: int = 8, d: int = 64, pointer_noise: float = 3.0,
                     beta: float = 30.0, false_alarms: float = 0.05, seed: int = 0,
                     device="cpu") -> dict:
    """Detecting a change with pointers, and failing to say what changed, as long-term memory grows.

    Long-term memory holds ``memory_size`` items (random unit keys, and values that are their
    contents). A display shows ``set_size`` of them; short-term memory keeps only pointers,
    noisy copies of their keys (``pointer_noise``, :func:`kvlib.episodic.noisy_cue`). Each
    display is tested twice: unchanged, and with one item replaced by another long-term item.

    - *Detection*: "changed" when some test item's best match with the pointers falls below a
      criterion set on the unchanged tests (false-alarm rate ``false_alarms``); hit rate.
    - *Localisation*: the pointer least matched by the test display is the changed one.
    - *Identification*: the pointer so found reads long-term memory (softmax, ``beta``);
      correct when the retrieved value is closest to the replaced item's content.

    Returns, per long-term memory size, the mean and standard error over subjects of the
    three accuracies (localisation and identification on change trials), and their chance
    levels. Explained in Chapter 5, §Short-term memory as pointers.
    """
    sizes = check.sequence("memory_sizes", memory_sizes, lambda n, v: check.count(n, v, minimum=2))
    if not sizes:
        raise ValueError("memory_sizes: expected at least one size, got an empty sequence")
    n = check.count("set_size", set_size, minimum=1)
    if n + 1 > min(sizes):
        raise ValueError(f"set_size: expected fewer than the smallest memory size {min(sizes)}, got {n}")
    T = check.count("trials", trials, minimum=2)
    B = check.count("subjects", subjects, minimum=2)
    d = check.count("d", d, minimum=2)
    noise = check.number("pointer_noise", pointer_noise, low=0, high=1e6)
    beta = check.positive("beta", beta)
    fa = check.number("false_alarms", false_alarms, low=1e-3, high=0.5)
    gen = stream(check.seed("seed", seed))
    dev = check.device("device", device)
    if B * T * max(sizes) > 10**8 or B * max(sizes) * d > 10**8:
        raise ValueError(f"memory_sizes: expected at most 10**8 entries (subjects x trials x memory size), "
                         f"got {B} x {T} x {max(sizes)}")
    out: dict = {"memory_size": sizes, "set_size": n, "localisation_chance": 1.0 / n}
    per = {k: [] for k in ("detection", "localisation", "identification")}
    rows = torch.arange(T, device=dev)
    for N in sizes:                                                     # loop over a few memory sizes
        K = random_unit((B, N, d), gen, dev)                            # long-term keys
        V = random_unit((B, N, d), gen, dev)                            # long-term contents
        # n display items and one replacement per trial, distinct, from long-term memory
        pick = torch.rand((B, T, N), generator=gen).topk(n + 1, dim=-1).indices.to(dev)   # (B, T, n + 1)
        shown, swap = pick[..., :n], pick[..., n]
        ptr = noisy_cue(_rows(K, shown), noise, gen)                    # (B, T, n, d) short-term pointers
        slot = torch.randint(n, (B, T), generator=gen).to(dev)          # which item changes
        changed = shown.clone()
        changed.scatter_(-1, slot[..., None], swap[..., None])
        c = _criterion(_match(K, shown, ptr).amax(-1).amin(-1), fa)     # (B, 1) from no-change trials
        match = _match(K, changed, ptr)                                 # (B, T, n items, n pointers)
        hit = (match.amax(-1).amin(-1) < c).float().mean(-1)            # some item matches no pointer
        least = match.amax(-2).argmin(-1)                               # (B, T) pointer matched by no item
        loc = (least == slot).float().mean(-1)
        p = ptr[torch.arange(B, device=dev)[:, None], rows[None, :], least]       # (B, T, d) that pointer
        v_hat = weighted_recall(p, K, V, beta)                          # (B, T, d) read long-term memory
        said = (F.normalize(v_hat, dim=-1) @ V.transpose(-1, -2)).argmax(-1)
        ident = (said == torch.gather(shown, -1, slot[..., None])[..., 0]).float().mean(-1)
        for k, x in (("detection", hit), ("localisation", loc), ("identification", ident)):
            per[k].append(x)
    for k, xs in per.items():
        m, se = mean_se(torch.stack(xs, 1).cpu())
        out[f"{k}_mean"], out[f"{k}_se"] = m, se
    out["identification_chance"] = [1.0 / N for N in sizes]
    return out


def pointer_numbers(faces: dict, change: dict) -> dict[str, float]:
    """The numbers Chapter 5 quotes (in %, sizes as counts) from :func:`familiarity_recollection`
    (``faces``: familiar and recollected in and out of context, false alarms, tip-of-the-tongue
    first letters against chance) and :func:`change_detection` (``change``: worst detection, mean
    localisation, identification at the smallest and largest long-term memory)."""
    for name, value, source, key in (("faces", faces, "familiarity_recollection", "letter_chance"),
                                     ("change", change, "change_detection", "identification_mean")):
        check.result(name, value, source, key)
    pct = {f"pt_{short}": 100 * faces[key] for short, key in (
        ("fam_in", "familiar_in_context_mean"), ("rec_in", "recollected_in_context_mean"),
        ("fam_out", "familiar_out_of_context_mean"), ("rec_out", "recollected_out_of_context_mean"),
        ("fa", "false_alarm_rate"), ("tot", "familiar_not_recollected_in_context_mean"),
        ("letter", "tot_first_letter_in_context_mean"), ("chance", "letter_chance"))}
    ident = change["identification_mean"]
    return {**pct, "pt_det_min": 100 * float(change["detection_mean"].min()),
            "pt_loc": 100 * float(change["localisation_mean"].mean()),
            "pt_id_first": 100 * float(ident[0]), "pt_id_last": 100 * float(ident[-1]),
            "pt_n_first": change["memory_size"][0], "pt_n_last": change["memory_size"][-1]}
