"""Damage to keys or to values: semantic dementia, and reinstatement that needs the hippocampus (§4.2).

If the hippocampus holds keys and the neocortex the values they point to, the two kinds of damage
should come apart (the review's §4.2):

* degrading the values and keeping the keys (semantic dementia, after Graham et al. 1999) leaves
  recognition, a judgement that the cue matches a stored key, intact while the recalled content
  fades; a memory that recognises by matching the cue's *content* against stored contents (the
  standard account the review sets aside, §4.3) loses both together;
* retrieval reinstates the cortical pattern of encoding (the retrieved value, compared with the
  value stored), and degrading the keys (a hippocampal lesion) abolishes reinstatement and recall
  together (Tanaka et al. 2014; Staresina et al. 2012; Danker et al. 2017).

:func:`degrade` replaces a fraction of each code's variance by noise, :func:`recognition_auc` is
the old/new discrimination, and :func:`memory_lesions` runs both lesions at a range of damage
levels. Recall reads the memory once through :func:`kvlib.episodic.weighted_recall` (Eq 3):
the recalled content *is* the reinstated pattern, so "reinstatement is necessary for recall"
holds here by construction; the rest is what the simulation finds.

Randomness: ``seed``, through ``kvlib.device.generator``. Axis names: S subjects, N studied
items, L damage levels, d_k key dims, d_v value dims. Explained in Chapter 5, §Damage to keys or
to values.
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

__all__ = ["degrade", "recognition_auc", "memory_lesions", "lesion_numbers"]


def degrade(x: Tensor, loss: float, generator: torch.Generator) -> Tensor:
    """Unit codes with a fraction ``loss`` of their variance replaced by noise.

    ``normalise(sqrt(1 - loss) x̂ + sqrt(loss) ε̂)`` with ``x̂`` the unit rows of ``x`` (..., d)
    and ``ε̂`` random unit rows drawn on the CPU from ``generator``: ``loss = 0`` keeps the
    code, ``loss = 1`` leaves none of it (cosine with the original near 0, ±1/√d).

    >>> x = torch.eye(3)
    >>> bool(torch.allclose(degrade(x, 0.0, torch.Generator().manual_seed(0)), x))
    True
    """
    x = check.tensor("x", x, nonempty=True)
    if x.ndim < 1:
        raise ValueError(f"x: expected shape (..., d), got {tuple(x.shape)}")
    loss = check.probability("loss", loss)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    eps = random_unit(tuple(x.shape), generator, x.device).to(x.dtype)
    return F.normalize(math.sqrt(1 - loss) * F.normalize(x, dim=-1) + math.sqrt(loss) * eps, dim=-1)


def recognition_auc(old: Tensor, new: Tensor) -> Tensor:
    """Area under the ROC curve for telling ``old`` scores from ``new`` along the last axis.

    The probability that a random old item scores above a random new one, ties counting one
    half (the Mann-Whitney statistic): 0.5 is chance, 1 perfect. ``old`` (..., n_old),
    ``new`` (..., n_new) with broadcastable leading axes; returns (...).

    >>> recognition_auc(torch.tensor([2.0, 3.0]), torch.tensor([1.0, 2.0]))
    tensor(0.8750)
    """
    old = check.tensor("old", old, nonempty=True)
    new = check.tensor("new", new, nonempty=True, like=old, like_name="old")
    if old.ndim < 1 or new.ndim < 1:
        raise ValueError(f"old, new: expected shapes (..., n), got {tuple(old.shape)} and {tuple(new.shape)}")
    if old.shape[-1] * new.shape[-1] * max(old[..., :1].numel(), 1) > 10**8:
        raise ValueError(f"old: expected at most 10**8 old-new comparisons, got shapes "
                         f"{tuple(old.shape)} and {tuple(new.shape)}")
    diff = old[..., :, None] - new[..., None, :]                  # (..., n_old, n_new)
    return ((diff > 0).to(old.dtype) + 0.5 * (diff == 0).to(old.dtype)).mean((-1, -2))


def _levels(name: str, v) -> list[float]:
    out = check.sequence(name, v, check.probability)
    if not out:
        raise ValueError(f"{name}: expected at least one damage level, got an empty sequence")
    return out


@cpu_threads(1)
def memory_lesions(levels: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0), items: int = 60,
                   subjects: int = 16, d_key: int = 32, d_value: int = 32, beta: float = 20.0,
                   cue_noise: float = 2.0, recall_criterion: float = 0.5, seed: int = 0,
                   device="cpu") -> dict:
    """Recognition, recall and cortical reinstatement after damage to the values or to the keys.

    Each subject stores ``items`` memories: a hippocampal key (random unit, ``d_key``) and a
    cortical value, the pattern active at encoding (random unit, ``d_value``). At the test,
    a studied item's cue gives a noisy query of its key (``cue_noise``) and a noisy copy of its
    content; a new item gives random ones. Then, for each damage level and each lesion
    (``"values"``: semantic dementia; ``"keys"``: hippocampal lesion; :func:`degrade`):

    - *recognition by keys*: the best key-query match, old against new items
      (:func:`recognition_auc`); *recognition by content*: the best match of the cue's content
      against the stored values, the rival account without keys;
    - *reinstatement*: the retrieved value ``v̂ = softmax(β q Kᵀ) V`` (the cortical pattern at
      retrieval) compared with the stored encoding patterns: its cosine with its own item's
      minus its mean cosine with the other items' (encoding-retrieval similarity);
    - *recall*: the fraction of studied items whose retrieved pattern has a cosine above
      ``recall_criterion`` with its original (undamaged) encoding pattern.

    Also the correlation across trials, in the intact memory, between the best key match
    and reinstatement (after Danker et al. 2017). Returns, per lesion, the levels and the mean
    and standard error over subjects of each measure. Explained in Chapter 5, §Damage to
    keys or to values.
    """
    levels = _levels("levels", levels)
    N = check.count("items", items, minimum=2)
    S = check.count("subjects", subjects, minimum=2)
    dk, dv = check.count("d_key", d_key, minimum=2), check.count("d_value", d_value, minimum=2)
    beta = check.positive("beta", beta)
    noise = check.number("cue_noise", cue_noise, low=0, high=1e6)
    criterion = check.number("recall_criterion", recall_criterion, low=-1, high=1)
    gen = stream(check.seed("seed", seed))
    dev = check.device("device", device)
    if S * N * max(dk, dv) * 4 > 10**8:
        raise ValueError(f"subjects: expected at most 10**8 code entries (subjects x items x dims), "
                         f"got {S} x {N} x {max(dk, dv)}")
    K = random_unit((S, N, dk), gen, dev)                          # (S, N, d_k) hippocampal keys
    V = random_unit((S, N, dv), gen, dev)                          # (S, N, d_v) cortical values
    q_old = noisy_cue(K, noise, gen)                               # cues of studied items
    q_new = random_unit((S, N, dk), gen, dev)                      # cues of new items
    x_old = noisy_cue(V, noise, gen)                               # the studied items' content
    x_new = random_unit((S, N, dv), gen, dev)
    same = torch.eye(N, dtype=torch.bool, device=dev)

    def measures(Kd: Tensor, Vd: Tensor) -> dict:
        best = lambda q, M: (q @ M.transpose(-1, -2)).amax(-1)      # noqa: E731  (S, N) best match
        v_hat = weighted_recall(q_old, Kd, Vd, beta)               # (S, N, d_v) reinstated patterns
        ers = F.normalize(v_hat, dim=-1) @ V.transpose(-1, -2)     # (S, N, N) vs encoding patterns
        own = ers.diagonal(dim1=-2, dim2=-1)                       # (S, N)
        other = ers.masked_fill(same, 0.0).sum(-1) / (N - 1)
        return {"recognition_keys": recognition_auc(best(q_old, Kd), best(q_new, Kd)),
                "recognition_content": recognition_auc(best(x_old, Vd), best(x_new, Vd)),
                "reinstatement": (own - other).mean(-1),
                "recall": (own > criterion).float().mean(-1),
                "_match": best(q_old, Kd), "_ers": own - other}

    out: dict = {"level": levels}
    for lesion in ("values", "keys"):
        per = {m: [] for m in ("recognition_keys", "recognition_content", "reinstatement", "recall")}
        for L in levels:                                           # loop over a few damage levels
            Kd = degrade(K, L, gen) if lesion == "keys" else K
            Vd = degrade(V, L, gen) if lesion == "values" else V
            r = measures(Kd, Vd)
            for m in per:
                per[m].append(r[m])
        for m, vals in per.items():
            mean, se = mean_se(torch.stack(vals, 1).cpu())          # over subjects: (L,)
            out[f"{lesion}_{m}_mean"], out[f"{lesion}_{m}_se"] = mean, se
    intact = measures(K, V)
    match, ers = intact["_match"].flatten().cpu().double(), intact["_ers"].flatten().cpu().double()
    out["match_reinstatement_correlation"] = float(torch.corrcoef(torch.stack([match, ers]))[0, 1])
    return out



def lesion_numbers(result: dict) -> dict[str, float]:
    """The numbers Chapter 5 quotes from :func:`memory_lesions`'s ``result`` (levels must hold
    0 first and 0.9): with the values damaged, key recognition (AUC) intact (``les_rec``) and at
    90% damage (``les_rec90``), the same for recognition by content and for recall (%); with the
    keys damaged at the last level, reinstatement, recall (%) and recognition; and the intact
    match-reinstatement correlation (``les_r``)."""
    result = check.result("result", result, "memory_lesions",
                          ["level", "values_recall_mean", "keys_reinstatement_mean",
                           "match_reinstatement_correlation"])
    levels = list(result["level"])
    if not levels or levels[0] != 0.0 or 0.9 not in levels:
        raise ValueError(f"result: expected damage levels starting at 0 and holding 0.9, got {levels}")
    i = levels.index(0.9)
    v, k = (lambda m: result[f"values_{m}_mean"]), (lambda m: result[f"keys_{m}_mean"])
    return {"les_i90": 100 * levels[i],
            "les_rec": float(v("recognition_keys")[0]), "les_rec90": float(v("recognition_keys")[i]),
            "les_content": float(v("recognition_content")[0]),
            "les_content90": float(v("recognition_content")[i]),
            "les_recall": 100 * float(v("recall")[0]), "les_recall90": 100 * float(v("recall")[i]),
            "les_ers": float(k("reinstatement")[0]), "les_ers_k": float(k("reinstatement")[-1]),
            "les_recall_k": 100 * float(k("recall")[-1]), "les_rec_k": float(k("recognition_keys")[-1]),
            "les_r": result["match_reinstatement_correlation"]}
