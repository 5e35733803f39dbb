"""Chapter 5 rows of the Reproductions page (see :mod:`kvlib.reproductions.registry`).

Chapter 5 sets each experiment of the review's §4 beside a small simulation. None of the
simulations is fitted to the experiments' data: the book compares *findings*, each written
as a threshold on the simulation's value. Where a finding is a direction (recall falls,
feelings of knowing rise) the book's value is the effect in units of its standard error
(from the simulated participants, or over seeds) and the threshold is 3; where it is a
null result (the last list does not matter, precision does not change) the value is the
largest difference in standard errors, or whether the 95 % intervals overlap, as the
chapter states it. Every row runs the chapter's own default setting.
"""
from __future__ import annotations

import math

import torch

from kvlib.reproductions.registry import at_least, at_most, equals, experiment, row

SEEDS = (0, 1, 2, 3)
BOOK = "the book's (the chapter's defaults; not fitted)"


def _z(diff: torch.Tensor, se: torch.Tensor) -> torch.Tensor:
    return diff / se.clamp_min(1e-12)


@experiment("ch5-list-length")
def _list_length(device) -> dict:
    from kvlib.interference import list_length_curve, recovery_curve
    ll = list_length_curve(device=device)
    m, se = ll["free_recall_mean"][0], ll["free_recall_se"][0]               # 10 attempts
    n = torch.tensor(ll["list_length"], dtype=m.dtype)
    drop = _z(m[:-1] - m[1:], torch.sqrt(se[:-1] ** 2 + se[1:] ** 2))
    rise = _z(n[1:] * m[1:] - n[:-1] * m[:-1],
              torch.sqrt((n[1:] * se[1:]) ** 2 + (n[:-1] * se[:-1]) ** 2))
    rc = recovery_curve(device=device)
    return {"proportion_drop_z": drop.min().item(), "number_rise_z": rise.min().item(),
            "recovered_by_attempts": rc["missed_recovered_by_more_attempts"],
            "recovered_by_cue": rc["missed_recovered_by_item_cue"]}


@experiment("ch5-list-before-last")
def _lbl(device) -> dict:
    from kvlib.interference import last_list_effect, list_before_last
    r = list_before_last(device=device)
    m, se = r["key_value_recall_mean"], r["key_value_recall_se"]
    change = last_list_effect(r)["z"].abs()
    own, own_se = m.mean(1), torch.sqrt((se ** 2).mean(1) / se.shape[1])
    own_drop = _z(own[:-1] - own[1:], torch.sqrt(own_se[:-1] ** 2 + own_se[1:] ** 2))
    return {"last_list_change_z": change.max().item(), "own_length_drop_z": own_drop.min().item()}


@experiment("ch5-accessibility-precision")
def _berens(device) -> dict:
    from kvlib.accessibility import accessibility_precision
    r = accessibility_precision(device=device)
    lo, hi = r["precision_sd_ci_low"], r["precision_sd_ci_high"]
    return {"accessibility_falls": bool(r["p_memory_ci_high"][-1] < r["p_memory_ci_low"][0]),
            "precision_intervals_overlap": bool(lo[-1] < hi[0] and lo[0] < hi[-1])}


@experiment("ch5-context-fear")
def _winocur(device) -> dict:
    from kvlib.distinct_keys import context_fear_conditions
    c = context_fear_conditions(device=device)
    A, B = c["freezing_A_mean"], c["freezing_B_mean"]                        # day 1, week, reminder,
    return {"day1_specificity": A[0] - B[0], "week_generalisation": B[1] / A[1],   # no keys, both
            "reminder_specificity": A[2] - B[2], "lesion_reminder_specificity": abs(A[4] - B[4])}


@experiment("ch5-repulsion")
def _chanales(device) -> dict:
    from kvlib.distinct_keys import repulsion
    r = repulsion(device=device)
    d = r["learned_other_similarity"] - r["learned_pairmate_similarity"]     # per participant
    steps, pm, ot = r["step"], r["key_similarity_pairmate_mean"], r["key_similarity_other_mean"]
    cross = next((s for s, a, b in zip(steps, pm.tolist(), ot.tolist()) if a < b), None)
    return {"reversal_z": (d.mean() / (d.std() / math.sqrt(d.numel()))).item(),
            "reversal_at": (cross if cross is not None else float("nan")) / r["release_starts_at"],
            "correlation": r["repulsion_accuracy_correlation"]}


@experiment("ch5-feeling-of-knowing")
def _fok(device) -> dict:
    from kvlib.metamemory import feeling_of_knowing, judgment_steps
    runs = [feeling_of_knowing(seed=s, device=device) for s in SEEDS]
    gam = torch.tensor([f["fok_recognition_gamma"] for f in runs])
    f = runs[0]                                                             # the chapter's seed
    fok = _z(torch.tensor(f["fok_mean_familiar_cue"] - f["fok_mean"]),
             torch.tensor(math.hypot(f["fok_se"], f["fok_se_familiar_cue"])))
    rec = _z(torch.tensor(abs(f["recall_rate_familiar_cue"] - f["recall_rate"])),
             torch.tensor(math.hypot(f["recall_se"], f["recall_se_familiar_cue"])))
    s = judgment_steps(device=device)
    dd = s["steps_retrieve"] - s["steps_is_it_stored"]
    return {"gamma_z": (gam.mean() / (gam.std() / math.sqrt(len(SEEDS)))).item(),
            "gamma": gam.mean().item(), "familiar_fok_rise_z": fok.item(),
            "familiar_recall_change_z": rec.item(),
            "stored_faster_z": (dd.mean() / (dd.std() / math.sqrt(dd.numel()))).item()}


def _row(key, quantity, source, where, finding, expect, exp, field, note, switch):
    row(key=key, chapter=5, quantity=quantity, source=source, where=where, source_value=finding,
        expect=expect, experiment=exp, field=field, setting=BOOK, note=note, switch=switch)


Z3 = "Direction only: at least 3 standard errors of the simulation."

# --- 4.1 interference, not erasure ---------------------------------------------------
_row("ch5-list-length-proportion", "Proportion of a list recalled falls with list length "
     "(smallest drop between adjacent lengths, in SE)", "Murdock 1962", "free recall of lists of 10–40 words",
     "the proportion recalled falls as lists grow", at_least(3.0), "ch5-list-length",
     "proportion_drop_z", Z3 + " Lists of 5–40 items, 10 retrieval attempts.",
     "interference.list_length_curve(lengths, attempts)")
_row("ch5-list-length-number", "Number of items recalled rises with list length "
     "(smallest rise, in SE)", "Murdock 1962", "free recall of lists of 10–40 words",
     "the number of words recalled grows with list length", at_least(3.0), "ch5-list-length",
     "number_rise_z", Z3 + " The chapter states only the falling proportion; this is its other half. "
     "Narrow: the smallest rise (30 → 40 items, where 10 attempts nearly saturate) is 2.6–4.9 SE "
     "over seeds 0–7, below 3 at seed 1.",
     "interference.list_length_curve(lengths, attempts)")
_row("ch5-recovery-attempts", "Items missed after 10 attempts that later attempts find",
     "Buschke 1974; Roediger & Thorpe 1978", "recall over repeated attempts and longer recall time",
     "items not recalled at first are recalled later", at_least(0.5), "ch5-list-length",
     "recovered_by_attempts", "Threshold: most of the missed items come back (a list of 20, 120 attempts).",
     "interference.recovery_curve(max_attempts, first_attempts)")
_row("ch5-recovery-cue", "Items missed after 10 attempts that their own cue finds",
     "Wagenaar 1986", "events thought forgotten, recalled with more cues",
     "seemingly lost memories come back with a better cue", at_least(0.5), "ch5-list-length",
     "recovered_by_cue",
     "Threshold: most of the missed items come back; the cue is a noisy copy of the item's key.",
     "interference.recovery_curve(cue_noise=...)")
_row("ch5-lbl-last-list", "Recall of the list before last: change as the last list grows 5 → 20 "
     "(largest, in SE)", "Shiffrin 1970", "recall of the list before last",
     "does not depend on the length of the last list", at_most(3.0), "ch5-list-before-last",
     "last_list_change_z", "Null finding: no change beyond 3 standard errors. Needs unrelated list "
     "contexts (Exercise 1: overlapping contexts break it).",
     "interference.list_before_last(list_overlap=...)")
_row("ch5-lbl-own-length", "Recall of the list before last falls with its own length "
     "(smallest drop, in SE)", "Shiffrin 1970", "recall of the list before last",
     "depends on the length of the list being recalled", at_least(3.0), "ch5-list-before-last",
     "own_length_drop_z", Z3, "interference.list_before_last(target_lengths=...)")
_row("ch5-accessibility", "Accessibility: 95 % intervals of p(retrieved) at the first and last "
     "interval do not overlap", "Berens et al. 2020", "mixture-model fits over four days",
     "accessibility declines with the retention interval", equals(True), "ch5-accessibility-precision",
     "accessibility_falls", "The model's 'days' label numbers of interfering memories (1–32), not time.",
     "accessibility.accessibility_precision(intervals, interference_rate=...)")
_row("ch5-precision", "Precision: 95 % intervals of the circular SD at the first and last "
     "interval overlap", "Berens et al. 2020", "mixture-model fits over four days",
     "precision does not change with the retention interval", equals(True),
     "ch5-accessibility-precision", "precision_intervals_overlap",
     "Holds with a sharp softmax (β = 100); a soft one blurs answers (Exercise 2).",
     "accessibility.accessibility_precision(beta=...)")

# --- 4.2 keys and values are distinct ------------------------------------------------
WINOCUR = "Winocur et al. 2009 (as the review summarises it)"
_row("ch5-fear-day1", "Freezing in A minus freezing in B, one day after conditioning", WINOCUR,
     "context fear conditioning in rats", "rats freeze in A, not in B", at_least(0.5),
     "ch5-context-fear", "day1_specificity",
     "Threshold: at least half the freezing scale separates A from B.",
     "distinct_keys.context_fear(threshold=...)")
_row("ch5-fear-week", "Freezing in B relative to A after a week", WINOCUR,
     "context fear conditioning in rats", "a week later they freeze in both contexts", at_least(0.5),
     "ch5-context-fear", "week_generalisation", "Threshold: B at least half of A. The loss of detail "
     "in the query map is assumed, not derived.", "distinct_keys.context_fear(detail_memories=...)")
_row("ch5-fear-reminder", "Freezing in A minus B after a week, with a reminder in A", WINOCUR,
     "context fear conditioning in rats", "a reminder in A restores context specificity", at_least(0.5),
     "ch5-context-fear", "reminder_specificity", "Threshold as on day 1.",
     "distinct_keys.context_fear(reminder=True)")
_row("ch5-fear-lesion", "|Freezing in A minus B| after a reminder, without keys (hippocampal lesion)",
     WINOCUR, "context fear conditioning in rats", "the reminder effect disappears after hippocampal lesions",
     at_most(0.1), "ch5-context-fear", "lesion_reminder_specificity",
     "The model's lesioned memory generalises on day 1 too; the experiment's lesion timing is not modelled.",
     "distinct_keys.context_fear(keys=False, reminder=True)")
_row("ch5-repulsion-reversal", "Key similarity: non-pairmates minus pairmates after learning (in SE)",
     "Chanales et al. 2017", "hippocampal pattern similarity of overlapping routes (fMRI)",
     "overlapping routes end less similar than unrelated ones (a reversal)", at_least(3.0),
     "ch5-repulsion", "reversal_z", Z3 + " Over 24 simulated participants.",
     "distinct_keys.repulsion(pair_similarity, other_similarity)")
_row("ch5-repulsion-gradual", "Share of the learning phase before pairmate keys cross below the others",
     "Chanales et al. 2017", "hippocampal pattern similarity over learning",
     "the repulsion emerges gradually over learning", at_least(0.1), "ch5-repulsion", "reversal_at",
     "Threshold: no reversal within the first tenth of learning; similarity falls smoothly before it.",
     "distinct_keys.repulsion(steps, record_every)")
_row("ch5-repulsion-correlation", "Correlation across participants of repulsion with discrimination",
     "Chanales et al. 2017", "repulsion vs behavioural discrimination",
     "positive: more repulsion, better discrimination", at_least(0.404), "ch5-repulsion", "correlation",
     "Threshold: significant at p < 0.05 for 24 participants. In the model participants differ only "
     "in learning rate, which drives both.", "distinct_keys.repulsion(lr_range=...)")

# --- 4.3 keys are used but not recalled ------------------------------------------------
_row("ch5-fok-predicts", "Goodman-Kruskal gamma of FOK with later recognition, unrecalled questions "
     "(mean over 4 seeds, in SE)", "Hart 1965; Freedman & Landauer 1966",
     "feeling-of-knowing ratings and later recognition", "feelings of knowing predict recognition",
     at_least(3.0), "ch5-feeling-of-knowing", "gamma_z", Z3, "metamemory.feeling_of_knowing(cue_noise=...)")
_row("ch5-fok-imperfect", "Goodman-Kruskal gamma of FOK with later recognition (mean over 4 seeds)",
     "Hart 1965; Freedman & Landauer 1966", "feeling-of-knowing ratings and later recognition",
     "the prediction is imperfect", at_most(0.9), "ch5-feeling-of-knowing", "gamma",
     "Threshold: clearly short of a perfect gamma of 1.",
     "metamemory.feeling_of_knowing(recognition_noise=...)")
_row("ch5-fok-familiarity", "Rise of the mean FOK with familiar question words (in SE)",
     "Reder & Ritter 1992; Schwartz & Metcalfe 1992", "cue familiarity and feelings of knowing",
     "familiar cues raise the feeling of knowing", at_least(3.0), "ch5-feeling-of-knowing",
     "familiar_fok_rise_z", Z3, "metamemory.feeling_of_knowing(prime_similarity=...)")
_row("ch5-fok-recall", "Change of recall with familiar question words (|difference|, in SE)",
     "Reder & Ritter 1992; Schwartz & Metcalfe 1992", "cue familiarity and recall",
     "familiar cues do not raise recall", at_most(2.0), "ch5-feeling-of-knowing",
     "familiar_recall_change_z", "Null finding: within 2 standard errors. A more similar prime "
     "lowers recall (Exercise 5).", "metamemory.feeling_of_knowing(prime_similarity=...)")
_row("ch5-answerability-faster", "Steps to 'is it stored?' vs to the answer (difference, in SE)",
     "Reder 1987", "answerability judgments vs answers to trivia questions",
     "people judge answerability faster than they answer", at_least(3.0), "ch5-feeling-of-knowing",
     "stored_faster_z", Z3 + " Both decisions held to the same confidence (0.95).",
     "metamemory.judgment_steps(confidence=...)")
