"""Figures of Chapter 5's further phenomena: responses that come back, and damage to keys or values.

Each ``draw_*`` function draws the result of one library call (:mod:`kvlib.extinction`,
:mod:`kvlib.dissociations`) and returns the figure; each registered figure runs the call,
draws it, and returns ``(figure, data)`` with every plotted curve under a self-explaining key
(``python -m kvlib reproduce NAME`` writes them to JSON next to the PNG).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from kvlib import cache_barcodes, dissociations, extinction, long_retention, pointers
from kvlib.figures.registry import register

__all__ = ["draw_extinction_recovery", "draw_amnesia_recovery", "draw_returning_responses",
           "draw_memory_lesions", "draw_cache_barcodes", "cache_barcodes_figure", "draw_pointers",
           "pointers_figure", "draw_retention", "retention_figure",
           "extinction_recovery_figure", "memory_lesions_figure"]

_CHAPTER = "5 Evidence from psychology and neuroscience"
_BLUE, _ORANGE, _GREY, _GREEN = "tab:blue", "tab:orange", "0.45", "tab:green"


def _band(ax, x, mean, se, color, label, **kw) -> None:
    m, s = np.asarray(mean, dtype=float), np.asarray(se, dtype=float)
    ax.plot(x, m, marker="o", color=color, label=label, **{"ls": "-", **kw})
    ax.fill_between(x, m - 2 * s, m + 2 * s, color=color, alpha=0.2)


# --- §4.1 decades and minutes; responses that come back -------------------------------

def draw_retention(result: dict) -> plt.Figure:
    """Retrieval of list items by an item cue and by a context cue, against the retention
    interval (:func:`~kvlib.long_retention.retention_curves`). Chapter 5, §Decades and minutes."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    x = np.asarray(result["interval"], dtype=float)
    _band(ax, x, result["item_cue_mean"], result["item_cue_se"], _BLUE,
          "cued by the item itself (a face, a word)")
    _band(ax, x, result["context_cue_mean"], result["context_cue_se"], _ORANGE,
          "cued by the present context (free recall of the list)")
    ax.set(xscale="log", xlabel="memories stored since the list (one per step)",
           ylabel="retrieval weight on the list item(s)", ylim=(-0.02, 1.05),
           title="Nothing erased: one memory, two cues")
    ax.legend(fontsize=7, loc="center left")
    fig.tight_layout()
    return fig


@register("retention", _CHAPTER, "item-cued memories last while context-cued list recall fades fast (§4.1)",
          small={"subjects": 2, "intervals": [1, 10, 100]})
def retention_figure(device, progress: bool = True, seed: int = 0, subjects: int = 8,
                     intervals: tuple = (1, 3, 10, 30, 100, 300, 1000, 3000, 10000)):
    """Decades and minutes. Chapter 5, §Decades and minutes."""
    r = long_retention.retention_curves(intervals=intervals, subjects=subjects, seed=seed, device=device)
    return draw_retention(r), dict(r)


def draw_extinction_recovery(result: dict, ax=None) -> plt.Figure:
    """Responding to an extinguished CS by delay, with and without a shock reminder
    (:func:`~kvlib.extinction.extinction_recovery`). Chapter 5, §Spontaneous recovery and reinstatement."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.4, 3.6))
    else:
        fig = ax.figure
    x = np.asarray(result["delay"], dtype=float)
    _band(ax, x, result["response_mean"], result["response_se"], _BLUE, "key-value memory")
    _band(ax, x, result["response_reminder_mean"], result["response_reminder_se"], _ORANGE,
          "key-value memory, shock reminder before the test")
    ax.axhline(result["rescorla_wagner"], color=_GREY, ls="--", label="erasing account (Rescorla-Wagner)")
    ax.axhline(result["response_after_acquisition_mean"], color="k", ls=":", lw=1,
               label="after acquisition")
    ax.set(xscale="log", xlabel="steps since the end of extinction", ylabel="retrieved shock expectation",
           ylim=(-0.02, 1.05), title="Extinguished, not erased")
    ax.legend(fontsize=7, loc="center left")
    fig.tight_layout()
    return fig


def draw_amnesia_recovery(result: dict, ax=None) -> plt.Figure:
    """Responding in the five amnesia conditions (:func:`~kvlib.extinction.amnesia_recovery`).
    Chapter 5, §Recovery from experimental amnesia."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.4, 3.6))
    else:
        fig = ax.figure
    names = result["condition"]
    colors = [_GREY, _ORANGE, _BLUE, _GREEN, _GREY]
    ax.bar(range(len(names)), result["response_mean"], yerr=2 * np.asarray(result["response_se"]),
           color=colors[:len(names)], capsize=3)
    ax.set_xticks(range(len(names)), [n.replace(" + ", "\n+ ") for n in names], fontsize=8)
    ax.set(ylabel="retrieved shock expectation", ylim=(0, 1.05), title="Amnesia: stored, not found")
    fig.tight_layout()
    return fig


def draw_returning_responses(ext: dict, amn: dict) -> plt.Figure:
    """Both panels side by side: :func:`draw_extinction_recovery` and :func:`draw_amnesia_recovery`.
    Chapter 5, §Lost responses that come back."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    draw_extinction_recovery(ext, ax1)
    draw_amnesia_recovery(amn, ax2)
    return fig


@register("extinction-recovery", _CHAPTER,
          "extinguished and amnesic responses come back after a delay, a reminder or the agent (§4.1)",
          small={"animals": 4})
def extinction_recovery_figure(device, progress: bool = True, seed: int = 0, animals: int = 32):
    """Spontaneous recovery, reinstatement, and recovery from amnesia. Chapter 5, §Lost responses
    that come back."""
    ext = extinction.extinction_recovery(animals=animals, seed=seed, device=device)
    amn = extinction.amnesia_recovery(animals=animals, seed=seed, device=device)
    fig = draw_returning_responses(ext, amn)
    data = {"delay": ext["delay"], "response_mean_by_delay": ext["response_mean"],
            "response_se_by_delay": ext["response_se"],
            "response_with_reminder_mean_by_delay": ext["response_reminder_mean"],
            "response_with_reminder_se_by_delay": ext["response_reminder_se"],
            "rescorla_wagner_response": ext["rescorla_wagner"],
            "response_after_acquisition": ext["response_after_acquisition_mean"],
            "amnesia_condition": amn["condition"], "amnesia_response_mean": amn["response_mean"],
            "amnesia_response_se": amn["response_se"]}
    return fig, data


# --- §4.2 damage to keys or to values --------------------------------------------------

def draw_memory_lesions(result: dict) -> plt.Figure:
    """Recognition, recall and reinstatement against damage to the values or to the keys
    (:func:`~kvlib.dissociations.memory_lesions`). Chapter 5, §Damage to keys or to values."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    x = np.asarray(result["level"], dtype=float)
    titles = {"values": "Values degraded (semantic dementia)", "keys": "Keys degraded (hippocampal lesion)"}
    for ax, (lesion, title) in zip(axes, titles.items()):
        _band(ax, x, result[f"{lesion}_recognition_keys_mean"], result[f"{lesion}_recognition_keys_se"],
              _BLUE, "recognition (key match), AUC")
        _band(ax, x, result[f"{lesion}_recall_mean"], result[f"{lesion}_recall_se"], _ORANGE,
              "recall of content")
        _band(ax, x, result[f"{lesion}_reinstatement_mean"], result[f"{lesion}_reinstatement_se"],
              _GREEN, "cortical reinstatement")
        _band(ax, x, result[f"{lesion}_recognition_content_mean"],
              result[f"{lesion}_recognition_content_se"], _GREY,
              "recognition by content match (no keys), AUC", ls="--")
        ax.axhline(0.5, color="k", lw=0.6, ls=":")
        ax.set(xlabel="fraction of the code lost", title=title, ylim=(-0.05, 1.05))
    axes[0].set_ylabel("score")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


@register("memory-lesions", _CHAPTER,
          "degraded values spare recognition, degraded keys abolish reinstatement and recall (§4.2)",
          small={"subjects": 3, "items": 20})
def memory_lesions_figure(device, progress: bool = True, seed: int = 0, subjects: int = 16,
                          items: int = 60):
    """Damage to keys or to values. Chapter 5, §Damage to keys or to values."""
    r = dissociations.memory_lesions(subjects=subjects, items=items, seed=seed, device=device)
    return draw_memory_lesions(r), dict(r)


def draw_cache_barcodes(result: dict) -> plt.Figure:
    """Key overlaps and retrieval accuracy of place, dense and sparse conjunctive keys
    (:func:`~kvlib.cache_barcodes.cache_retrieval`). Chapter 5, §One address per cache."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    codes = result["codes"]
    colors = {"place": _GREY, "dense": _ORANGE, "sparse": _BLUE}
    labels = {"place": "place code", "dense": "dense conjunctive", "sparse": "sparse conjunctive"}
    ax = axes[0]
    i = len(result["caches_per_site"]) - 1
    xs = np.arange(len(codes))
    same = [float(result[f"{c}_same_site_cosine_mean"][i]) for c in codes]
    other = [float(result[f"{c}_other_site_cosine_mean"][i]) for c in codes]
    ax.bar(xs - 0.2, same, 0.4, color=[colors[c] for c in codes], label="caches at the same site")
    ax.bar(xs + 0.2, other, 0.4, color=[colors[c] for c in codes], alpha=0.45, label="at different sites")
    ax.set_xticks(xs, [labels[c] for c in codes], fontsize=8)
    ax.set(ylabel="mean key cosine", ylim=(0, 1.05), title="Key overlap between caches")
    ax.legend(fontsize=7)
    x = np.asarray(result["caches_per_site"], dtype=float)
    for ax, read, title in ((axes[1], "linear", "Linear read (Eq 2)"),
                            (axes[2], "softmax", "Softmax read (Eq 6)")):
        for c in codes:
            _band(ax, x, result[f"{c}_{read}_accuracy_mean"], result[f"{c}_{read}_accuracy_se"],
                  colors[c], labels[c])
        ax.set(xscale="log", xlabel="caches per site", ylabel="right cache retrieved",
               ylim=(-0.02, 1.05), title=title)
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.minorticks_off()
    axes[1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


@register("cache-barcodes", _CHAPTER,
          "sparse conjunctive keys tell apart caches at one site, which a place code confuses (§4.2)",
          small={"birds": 2, "caches_per_site": [2, 4]})
def cache_barcodes_figure(device, progress: bool = True, seed: int = 0, birds: int = 8,
                          caches_per_site: tuple = (2, 4, 8, 16)):
    """One address per cache (Chettih et al. 2024). Chapter 5, §One address per cache."""
    r = cache_barcodes.cache_retrieval(caches_per_site=caches_per_site, birds=birds, seed=seed, device=device)
    return draw_cache_barcodes(r), dict(r)


# --- §4.3 keys matched, values not retrieved ---------------------------------------------

def draw_pointers(fr: dict, cd: dict) -> plt.Figure:
    """Familiarity and recollection in and out of context, the tip of the tongue
    (:func:`~kvlib.pointers.familiarity_recollection`), and change detection with pointers
    (:func:`~kvlib.pointers.change_detection`). Chapter 5, §Keys matched, values not retrieved."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), gridspec_kw={"width_ratios": [1.3, 0.8, 1.3]})
    ax = axes[0]
    xs = np.arange(2)
    bars = (("familiar", _BLUE, "familiar"), ("recollected", _ORANGE, "name recalled"))
    for j, (m, color, label) in enumerate(bars):
        vals = [fr[f"{m}_{w}_mean"] for w in ("in_context", "out_of_context")]
        err = [2 * fr[f"{m}_{w}_se"] for w in ("in_context", "out_of_context")]
        ax.bar(xs + (j - 0.5) * 0.38, vals, 0.38, yerr=err, color=color, capsize=3, label=label)
    ax.axhline(fr["false_alarm_rate"], color=_GREY, ls=":", lw=1, label="false alarms to new faces")
    ax.set_xticks(xs, ["met where they\nare usually met", "met elsewhere\n(butcher on the bus)"], fontsize=8)
    ax.set(ylabel="fraction of known faces", ylim=(0, 1.05), title="Familiarity without recollection")
    ax.legend(fontsize=7, loc="upper right")
    ax = axes[1]
    ax.bar([0], [fr["tot_first_letter_in_context_mean"]], yerr=[2 * fr["tot_first_letter_in_context_se"]],
           color=_GREEN, capsize=3, width=0.5)
    ax.axhline(fr["letter_chance"], color=_GREY, ls="--", lw=1, label="chance")
    ax.set_xticks([0], ["familiar,\nname not recalled"], fontsize=8)
    ax.set(xlim=(-0.6, 0.6), ylim=(0, 1.05), ylabel="first letter right", title="Tip of the tongue")
    ax.legend(fontsize=7)
    ax = axes[2]
    x = np.asarray(cd["memory_size"], dtype=float)
    for k, color, label in (("detection", _BLUE, "detect a change"), ("localisation", _ORANGE, "say where"),
                            ("identification", _GREEN, "say what it was")):
        _band(ax, x, cd[f"{k}_mean"], cd[f"{k}_se"], color, label)
    ax.plot(x, cd["identification_chance"], color=_GREY, ls="--", lw=1, label="chance (what)")
    ax.axhline(cd["localisation_chance"], color=_GREY, ls=":", lw=1, label="chance (where)")
    ax.set(xscale="log", xlabel="items in long-term memory", ylabel="accuracy on change trials",
           ylim=(-0.02, 1.05), title=f"Pointers to {cd['set_size']} items")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


@register("pointers", _CHAPTER,
          "familiar faces without names, the tip of the tongue, change detection with pointers (§4.3)",
          small={"subjects": 2, "memory_sizes": [10, 100]})
def pointers_figure(device, progress: bool = True, seed: int = 0, subjects: int = 8,
                    memory_sizes: tuple = (10, 100, 1000, 10000)):
    """Keys matched, values not retrieved. Chapter 5, §Keys matched, values not retrieved."""
    fr = pointers.familiarity_recollection(subjects=max(subjects, 2), seed=seed, device=device)
    cd = pointers.change_detection(memory_sizes=memory_sizes, subjects=subjects, seed=seed, device=device)
    data = {f"faces_{k}": v for k, v in fr.items()}
    data.update({f"change_{k}": v for k, v in cd.items()})
    return draw_pointers(fr, cd), data
