"""Figures of Chapter 5, "Evidence from psychology and neuroscience" (the review's §4).

Each ``draw_*`` function draws the result of one of the chapter's library calls
(:mod:`kvlib.interference`, :mod:`kvlib.accessibility`, :mod:`kvlib.distinct_keys`,
:mod:`kvlib.metamemory`) and returns the figure; each registered figure runs the call
(compute), draws its result, and returns ``(figure, data)`` with every plotted curve under a
self-explaining key, which ``python -m kvlib reproduce NAME`` writes to JSON next to the PNG.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from kvlib import accessibility, distinct_keys, interference, metamemory
from kvlib.figures.registry import register

__all__ = ["draw_list_length", "draw_list_before_last", "draw_error_histogram",
           "draw_accessibility_precision", "draw_interval", "draw_context_fear", "draw_repulsion",
           "draw_feeling_of_knowing",
           "list_length_figure", "list_before_last_figure", "accessibility_precision_figure",
           "retention_interval_figure", "context_generalization_figure", "repulsion_figure",
           "feeling_of_knowing_figure"]

_CHAPTER = "5 Evidence from psychology and neuroscience"
_BLUE, _ORANGE, _GREY, _GREEN = "tab:blue", "tab:orange", "0.45", "tab:green"


# --- §4.1 interference, not erasure ---------------------------------------------------

def draw_list_length(curve: dict, recovery: dict) -> plt.Figure:
    """Recall against list length (:func:`~kvlib.interference.list_length_curve`) and recovery
    of missed items (:func:`~kvlib.interference.recovery_curve`). Chapter 5, §The list-length effect."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, r in enumerate(curve["attempts"]):
        ax1.errorbar(curve["list_length"], curve["free_recall_mean"][i], curve["free_recall_se"][i],
                     marker="o", capsize=2, label=f"free recall, {r} attempts")
    ax1.errorbar(curve["list_length"], curve["cued_recall_mean"], curve["cued_recall_se"], color=_GREY,
                 ls="--", marker="s", capsize=2, label="cued by the item itself")
    ax1.set(xlabel="list length", ylabel="proportion recalled", ylim=(0, 1.05),
            title="List-length effect: every item is still stored")
    ax1.legend(fontsize=8, loc="lower left")
    x = np.array(recovery["attempts"])
    m, se = recovery["cumulative_recall_mean"].numpy(), recovery["cumulative_recall_se"].numpy()
    ax2.plot(x, m, color=_BLUE, label=f"free recall, list of {recovery['length']}")
    ax2.fill_between(x, m - 2 * se, m + 2 * se, color=_BLUE, alpha=0.2)
    ax2.axvline(recovery["first_attempts"], color=_GREY, ls=":")
    ax2.text(recovery["first_attempts"] + 2, 0.08,
             f"missed after {recovery['first_attempts']} attempts:\n"
             f"{100 * recovery['missed_recovered_by_more_attempts']:.0f}% found by more attempts\n"
             f"{100 * recovery['missed_recovered_by_item_cue']:.0f}% found by a better cue", fontsize=8)
    ax2.set(xlabel="retrieval attempts", ylabel="proportion recalled (cumulative)", ylim=(0, 1.05),
            title="Recovery: missed items were never erased")
    ax2.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    return fig


@register("list-length", _CHAPTER, "recall falls with list length; missed items come back (§4.1)",
          small={"participants": 20})
def list_length_figure(device, progress: bool = True, seed: int = 0, participants: int = 200):
    """Recall against list length, and recovery of missed items. Chapter 5, §The list-length effect."""
    ll = interference.list_length_curve(participants=participants, seed=seed, device=device)
    rc = interference.recovery_curve(participants=participants, seed=seed, device=device)
    data = {"list_length": ll["list_length"], "attempts": ll["attempts"],
            "free_recall_mean_by_attempts_and_length": ll["free_recall_mean"],
            "free_recall_se_by_attempts_and_length": ll["free_recall_se"],
            "cued_recall_mean_by_length": ll["cued_recall_mean"],
            "cued_recall_se_by_length": ll["cued_recall_se"],
            "recovery_attempts": rc["attempts"],
            "recovery_cumulative_recall_mean": rc["cumulative_recall_mean"],
            "recovery_cumulative_recall_se": rc["cumulative_recall_se"],
            "recovery_first_attempts": rc["first_attempts"],
            "recovery_missed_fraction": rc["missed_fraction"],
            "recovery_missed_found_by_more_attempts": rc["missed_recovered_by_more_attempts"],
            "recovery_missed_found_by_item_cue": rc["missed_recovered_by_item_cue"]}
    return draw_list_length(ll, rc), data


def draw_list_before_last(result: dict) -> plt.Figure:
    """Key-value memory vs a displacement store (:func:`~kvlib.interference.list_before_last`).
    Chapter 5, §The list before last."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    capacity = result["displacement_capacity"]
    titles = {"key_value": "Key-value memory (nothing erased)",
              "displacement": f"Displacement store (keeps the last {capacity} items)"}
    for ax, (model, title) in zip(axes, titles.items()):
        for i, nt in enumerate(result["target_list_length"]):
            ax.errorbar(result["last_list_length"], result[f"{model}_recall_mean"][i],
                        2 * result[f"{model}_recall_se"][i], marker="o", capsize=2,
                        label=f"list before last: {nt} items")
        ax.set(xlabel="length of the last list", title=title, ylim=(-0.02, 1.02))
    axes[0].set_ylabel("recall of the list before last")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


@register("list-before-last", _CHAPTER,
          "recall of the list before last ignores the last list's length (§4.1)", small={"participants": 20})
def list_before_last_figure(device, progress: bool = True, seed: int = 0, capacity: int = 20,
                            participants: int = 200):
    """Key-value memory vs a displacement store (Shiffrin 1970). Chapter 5, §The list before last."""
    r = interference.list_before_last(capacity=capacity, participants=participants, seed=seed, device=device)
    data = {"target_list_length": r["target_list_length"], "last_list_length": r["last_list_length"],
            "displacement_capacity": capacity,
            "key_value_recall_mean_by_target_and_last_length": r["key_value_recall_mean"],
            "key_value_recall_se_by_target_and_last_length": r["key_value_recall_se"],
            "displacement_recall_mean_by_target_and_last_length": r["displacement_recall_mean"],
            "displacement_recall_se_by_target_and_last_length": r["displacement_recall_se"]}
    return draw_list_before_last(r), data


def draw_error_histogram(ax, errors_deg, p: float, sd_deg: float, kappa: float, label: str) -> None:
    """One panel: histogram of angular errors with the fitted mixture
    (:func:`~kvlib.accessibility.mixture_density`) and its guessing floor.
    Chapter 5, §Accessibility and precision."""
    ax.hist(np.asarray(errors_deg), bins=np.linspace(-180, 180, 37), density=True, color=_BLUE, alpha=0.5)
    grid = torch.linspace(-180, 180, 361)
    ax.plot(grid.numpy(), accessibility.mixture_density(grid, p, kappa).numpy(), color="k", lw=1.5)
    ax.axhline((1 - p) / 360, color=_ORANGE, ls="--", lw=1)
    ax.set(xlabel="angular error (degrees)", ylabel="density", xlim=(-180, 180),
           title=f"{label}: p(retrieved) = {p:.2f}, SD = {sd_deg:.0f}°")


def _histogram(ax, result: dict, i: int) -> None:
    draw_error_histogram(ax, result["errors_deg"][i], float(result["p_memory"][i]),
                         float(result["precision_sd_deg"][i]), float(result["kappa"][i]),
                         f"day {result['interval'][i]:g}")


def draw_accessibility_precision(result: dict) -> plt.Figure:
    """Mixture fits over retention intervals (:func:`~kvlib.accessibility.accessibility_precision`)
    and the errors at the longest one. Chapter 5, §Accessibility and precision."""
    r = result
    t = np.array(r["interval"], dtype=float)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ax = axes[0]
    ax.plot(t, r["p_memory"], "o-", color=_BLUE)
    ax.fill_between(t, r["p_memory_ci_low"], r["p_memory_ci_high"], color=_BLUE, alpha=0.2)
    ax.set(xscale="log", xlabel="retention interval (days)", ylabel="p(retrieved)", ylim=(0, 1),
           title="Accessibility falls")
    ax = axes[1]
    ax.plot(t, r["precision_sd_deg"], "o-", color=_ORANGE)
    ax.fill_between(t, r["precision_sd_ci_low"], r["precision_sd_ci_high"], color=_ORANGE, alpha=0.2)
    ax.set(xscale="log", xlabel="retention interval (days)", ylabel="SD of retrieved answers (deg)",
           ylim=(0, 1.6 * float(r["precision_sd_ci_high"].max())), title="Precision stays")
    for ax in axes[:2]:
        ax.set_xticks(t, [f"{v:g}" for v in t])
    _histogram(axes[2], r, -1)
    axes[2].title.set_fontsize(9)
    fig.tight_layout()
    return fig


def _accessibility_data(r: dict) -> dict:
    return {"interval_days": r["interval"], "n_interfering_memories": r["n_interfering"],
            "p_retrieved": r["p_memory"], "p_retrieved_ci95_low": r["p_memory_ci_low"],
            "p_retrieved_ci95_high": r["p_memory_ci_high"],
            "precision_sd_deg": r["precision_sd_deg"], "precision_sd_deg_ci95_low": r["precision_sd_ci_low"],
            "precision_sd_deg_ci95_high": r["precision_sd_ci_high"], "von_mises_kappa": r["kappa"]}


@register("accessibility-precision", _CHAPTER,
          "interference lowers accessibility but not precision (Berens et al., §4.1)",
          small={"n_boot": 10, "participants": 2})
def accessibility_precision_figure(device, progress: bool = True, seed: int = 0, n_boot: int = 300,
                                   participants: int = 20):
    """Guess + von Mises mixture fits over retention intervals. Chapter 5, §Accessibility and precision."""
    r = accessibility.accessibility_precision(n_boot=n_boot, participants=participants, seed=seed,
                                              device=device)
    data = {**_accessibility_data(r), "errors_deg_last_interval": r["errors_deg"][-1]}
    return draw_accessibility_precision(r), data


def draw_interval(fig: plt.Figure, result: dict, day: float) -> None:
    """The errors after one retention interval ``day`` of a sweep, with the fitted mixture, into
    ``fig`` (the drawing behind the chapter's interval slider). Chapter 5, §Accessibility and precision."""
    if day not in result["interval"]:
        raise ValueError(f"day: expected one of the swept intervals {result['interval']}, got {day!r}")
    ax = fig.add_subplot()
    _histogram(ax, result, list(result["interval"]).index(day))
    ax.set_ylim(0, 0.013)
    ax.title.set_fontsize(9)
    fig.tight_layout()


@register("retention-interval", _CHAPTER,
          "errors after one retention interval: the peak keeps its width as the guessing floor rises (§4.1)",
          small={"participants": 2})
def retention_interval_figure(device, progress: bool = True, seed: int = 0, day: float = 8,
                              intervals=(1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64),
                              participants: int = 20):
    """One state of the chapter's retention-interval slider. Chapter 5, §Accessibility and precision."""
    r = accessibility.accessibility_precision(intervals=list(intervals), n_boot=20, participants=participants,
                                              seed=seed, device=device)
    fig = plt.figure(figsize=(6, 3.4))
    draw_interval(fig, r, day)
    i = list(r["interval"]).index(day)
    return fig, {**_accessibility_data(r), "day": day, "errors_deg_at_day": r["errors_deg"][i]}


# --- §4.2 keys and values are distinct -------------------------------------------------

def draw_context_fear(by_day: dict, reminded: dict, conditions: dict) -> plt.Figure:
    """Freezing in A and B over days (:func:`~kvlib.distinct_keys.context_fear`, without and with
    a reminder) and in the five conditions (:func:`~kvlib.distinct_keys.context_fear_conditions`).
    Chapter 5, §Context specificity and the reminder."""
    days, cond = by_day["day"], conditions
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 1.3]})
    ax1.errorbar(days, by_day["freezing_A_mean"], by_day["freezing_A_se"], color=_BLUE, marker="o", ms=3,
                 label="context A (conditioned)")
    ax1.errorbar(days, by_day["freezing_B_mean"], by_day["freezing_B_se"], color=_ORANGE, marker="o", ms=3,
                 label="context B (similar box)")
    ax1.plot(days, reminded["freezing_B_mean"], color=_ORANGE, ls="--",
             label="B, tested after a reminder in A")
    ax1.set(xlabel="days since conditioning", ylabel="freezing (retrieved fear)", ylim=(-0.02, 1.02),
            title="With keys: specificity fades, a reminder restores it")
    ax1.legend(fontsize=8, loc="center right")
    x = np.arange(len(cond["condition"]))
    ax2.bar(x - 0.2, cond["freezing_A_mean"], 0.4, yerr=cond["freezing_A_se"], color=_BLUE, label="A")
    ax2.bar(x + 0.2, cond["freezing_B_mean"], 0.4, yerr=cond["freezing_B_se"], color=_ORANGE, label="B")
    ax2.axvline(2.5, color=_GREY, lw=0.8)
    ax2.text(1, 1.04, "with keys (hippocampus)", ha="center", fontsize=8)
    ax2.text(3.5, 1.04, "without keys (lesion)", ha="center", fontsize=8)
    labels = [c.replace(", no keys", "").replace(" + ", "\n+ ") for c in cond["condition"]]
    ax2.set_xticks(x, labels, fontsize=8)
    ax2.set(ylabel="freezing", ylim=(0, 1.12), title="Reminder effect needs keys")
    ax2.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


@register("context-generalization", _CHAPTER,
          "fear generalises with time; a reminder restores specificity only with keys (Winocur et al., §4.2)",
          small={"rats": 4, "last_day": 3})
def context_generalization_figure(device, progress: bool = True, seed: int = 0, long_delay: float = 7.0,
                                  last_day: int = 14, rats: int = 16):
    """Freezing in A and B over time and in five conditions.
    Chapter 5, §Context specificity and the reminder."""
    days = list(range(0, last_day + 1))
    tc = distinct_keys.context_fear(days, rats=rats, seed=seed, device=device)
    tr = distinct_keys.context_fear(days, reminder=True, rats=rats, seed=seed, device=device)
    cond = distinct_keys.context_fear_conditions(long_delay, rats=rats, seed=seed, device=device)
    data = {"day": days, "freezing_A_mean_by_day": tc["freezing_A_mean"],
            "freezing_A_se_by_day": tc["freezing_A_se"], "freezing_B_mean_by_day": tc["freezing_B_mean"],
            "freezing_B_se_by_day": tc["freezing_B_se"],
            "freezing_B_after_reminder_mean_by_day": tr["freezing_B_mean"],
            "query_detail_gain_by_day": tc["query_detail_gain"],
            "condition": cond["condition"], "condition_has_keys": cond["keys"],
            "freezing_A_mean_by_condition": cond["freezing_A_mean"],
            "freezing_A_se_by_condition": cond["freezing_A_se"],
            "freezing_B_mean_by_condition": cond["freezing_B_mean"],
            "freezing_B_se_by_condition": cond["freezing_B_se"]}
    return draw_context_fear(tc, tr, cond), data


def draw_repulsion(result: dict) -> plt.Figure:
    """Key similarity during learning and release, and repulsion against discrimination
    (:func:`~kvlib.distinct_keys.repulsion`). Chapter 5, §Repulsion."""
    r = result
    steps = np.array(r["step"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.4, 1]})
    for key, color, label in (("pairmate", _BLUE, "overlapping routes (pairmates)"),
                              ("other", _ORANGE, "non-overlapping routes")):
        m, se = r[f"key_similarity_{key}_mean"].numpy(), r[f"key_similarity_{key}_se"].numpy()
        ax1.plot(steps, m, color=color, label=f"keys: {label}")
        ax1.fill_between(steps, m - 2 * se, m + 2 * se, color=color, alpha=0.2)
        ax1.axhline(r[f"input_similarity_{key}"], color=color, ls=":", lw=1)
    ax1.axvspan(r["release_starts_at"], steps[-1], color=_GREY, alpha=0.12)
    ax1.text(r["release_starts_at"] + 5, 0.7, "release: pairmates\nshare a destination", fontsize=8)
    ax1.set(xlabel="training step", ylabel="cosine similarity of keys",
            title="Repulsion reverses input similarity (dotted)")
    ax1.legend(fontsize=8, loc="lower left")
    ax2.scatter(r["repulsion_index"], r["discrimination_accuracy"], c=np.log10(r["learning_rate"]),
                cmap="viridis", s=25)
    ax2.axvline(0, color=_GREY, lw=0.8, ls=":")
    ax2.set(xlabel="repulsion (non-pairmate minus pairmate key similarity)",
            ylabel="p(retrieving the cued route)",
            title=f"Repulsion tracks discrimination (r = {r['repulsion_accuracy_correlation']:.2f})")
    ax2.xaxis.label.set_fontsize(8)
    fig.tight_layout()
    return fig


@register("repulsion", _CHAPTER,
          "keys of overlapping routes repel past their input similarity, and can come back "
          "(Chanales et al., §4.2)",
          small={"participants": 6, "steps": 30})
def repulsion_figure(device, progress: bool = True, seed: int = 0, participants: int = 24, steps: int = 300):
    """Key similarity during learning and release; repulsion vs discrimination. Chapter 5, §Repulsion."""
    r = distinct_keys.repulsion(steps=steps, release_steps=steps, participants=participants, seed=seed,
                                device=device, progress=progress)
    data = {"step": r["step"], "release_starts_at_step": r["release_starts_at"],
            "input_similarity_pairmate": r["input_similarity_pairmate"],
            "input_similarity_other": r["input_similarity_other"],
            "key_similarity_pairmate_mean_by_step": r["key_similarity_pairmate_mean"],
            "key_similarity_pairmate_se_by_step": r["key_similarity_pairmate_se"],
            "key_similarity_other_mean_by_step": r["key_similarity_other_mean"],
            "key_similarity_other_se_by_step": r["key_similarity_other_se"],
            "participant_learning_rate": r["learning_rate"],
            "participant_repulsion_index": r["repulsion_index"],
            "participant_discrimination_accuracy": r["discrimination_accuracy"],
            "participant_discrimination_accuracy_before_learning": r["discrimination_accuracy_before"],
            "repulsion_accuracy_correlation": r["repulsion_accuracy_correlation"],
            "released_pairmate_similarity_mean": r["released_pairmate_similarity"].mean().item(),
            "released_other_similarity_mean": r["released_other_similarity"].mean().item()}
    return draw_repulsion(r), data


# --- §4.3 keys are used but not recalled ------------------------------------------------

def draw_feeling_of_knowing(fok: dict, steps: dict) -> plt.Figure:
    """FOK against later recognition, cue familiarity (:func:`~kvlib.metamemory.feeling_of_knowing`),
    and steps to judge vs to retrieve (:func:`~kvlib.metamemory.judgment_steps`).
    Chapter 5, §Feeling of knowing."""
    f, s = fok, steps
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ax = axes[0]
    ax.bar(np.arange(4), f["recognition_by_fok_quartile"], color=_BLUE)
    ax.axhline(f["chance_recognition"], color=_GREY, ls="--", label="chance")
    ax.set_xticks(np.arange(4), ["lowest", "2nd", "3rd", "highest"])
    ax.set(xlabel="feeling of knowing (quartile, unrecalled questions)",
           ylabel="later recognition (4 options)", ylim=(0, 1.05),
           title=f"FOK predicts recognition (gamma = {f['fok_recognition_gamma']:.2f})")
    ax.legend(fontsize=8, loc="upper left")
    ax = axes[1]
    x = np.arange(2)
    ax.bar(x - 0.2, [f["fok_mean"], f["fok_mean_familiar_cue"]], 0.4,
           yerr=[2 * f["fok_se"], 2 * f["fok_se_familiar_cue"]], color=_ORANGE, label="feeling of knowing")
    ax.bar(x + 0.2, [f["recall_rate"], f["recall_rate_familiar_cue"]], 0.4,
           yerr=[2 * f["recall_se"], 2 * f["recall_se_familiar_cue"]], color=_GREEN, label="recall")
    ax.set_xticks(x, ["new cue", "familiar cue"])
    ax.set(ylabel="mean (error bars: 2 SE)", ylim=(0, 0.8), title="Familiarity raises FOK, not recall")
    ax.legend(fontsize=8)
    ax = axes[2]
    ax.step(s["step"], s["cumulative_is_it_stored"], where="post", color=_ORANGE,
            label='"is it stored?" (keys)')
    ax.step(s["step"], s["cumulative_retrieved"], where="post", color=_GREEN,
            label="answer retrieved (values)")
    ax.set(xlabel="evidence steps", ylabel="fraction of studied questions decided", ylim=(0, 1.05),
           title=f"Judging is faster (median {s['median_steps_is_it_stored']:.0f} vs "
                 f"{s['median_steps_retrieve']:.0f} steps)")
    ax.legend(fontsize=8, loc="lower right")
    for a in axes:
        a.title.set_fontsize(10)
    fig.tight_layout()
    return fig


@register("feeling-of-knowing", _CHAPTER,
          "key-query match predicts recognition, is raised by familiarity, and is fast (§4.3)",
          small={"questions": 100})
def feeling_of_knowing_figure(device, progress: bool = True, seed: int = 0, questions: int = 400):
    """FOK vs later recognition; cue familiarity; steps to judge vs retrieve.
    Chapter 5, §Feeling of knowing."""
    f = metamemory.feeling_of_knowing(questions=questions, seed=seed, device=device)
    s = metamemory.judgment_steps(questions=questions, seed=seed, device=device)
    data = {"fok_quartile": ["lowest", "2nd", "3rd", "highest"],
            "fok_mean_by_quartile_unrecalled": f["fok_quartile_mean"],
            "recognition_rate_by_fok_quartile_unrecalled": f["recognition_by_fok_quartile"],
            "questions_per_quartile": f["recognition_by_fok_quartile_n"],
            "fok_recognition_gamma": f["fok_recognition_gamma"],
            "chance_recognition": f["chance_recognition"],
            "fok_mean_new_cue": f["fok_mean"], "fok_se_new_cue": f["fok_se"],
            "fok_mean_familiar_cue": f["fok_mean_familiar_cue"],
            "fok_se_familiar_cue": f["fok_se_familiar_cue"],
            "recall_rate_new_cue": f["recall_rate"], "recall_se_new_cue": f["recall_se"],
            "recall_rate_familiar_cue": f["recall_rate_familiar_cue"],
            "recall_se_familiar_cue": f["recall_se_familiar_cue"],
            "step": s["step"], "cumulative_fraction_is_it_stored": s["cumulative_is_it_stored"],
            "cumulative_fraction_retrieved": s["cumulative_retrieved"],
            "median_steps_is_it_stored": s["median_steps_is_it_stored"],
            "median_steps_retrieve": s["median_steps_retrieve"],
            "mean_steps_is_it_stored": s["steps_is_it_stored"].mean().item(),
            "mean_steps_retrieve": s["steps_retrieve"].mean().item()}
    return draw_feeling_of_knowing(f, s), data
