"""Figures of the models added to Chapter 4 (and Chapter 2): the key's error correction
(:mod:`kvlib.key_correction`), structural codes as position encodings (:mod:`kvlib.position_codes`),
MESH against an autoencoder with its synapses (:mod:`kvlib.autoencoder_memory`) and key maps
learned by feedback alignment (:mod:`kvlib.feedback_alignment`, Chapter 2).

Each ``draw_*`` function draws the dict its computation returns; each registered figure is that
computation with the book's settings followed by its ``draw_*`` function, so the notebook and
``python -m kvlib reproduce NAME`` draw the same thing. ``small`` settings run each in a second.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt

from kvlib.figures.registry import register

CHAPTER = "4 Neural substrates"


def draw_key_correction(data: dict, fig=None):
    """Left: wrong bits against cue noise per load, with (solid) and without (dashed) the
    clean-up; right: the fraction of cues whose grid state is corrected to the stored one."""
    fig = fig or plt.figure(figsize=(10, 3.4))
    fig.clear()
    ax1, ax2 = fig.subplots(1, 2)
    flips = [100 * f for f in data["flips"]]
    colours = plt.get_cmap("viridis")
    n = len(data["n_patterns"])
    for i, P in enumerate(data["n_patterns"]):
        c = colours(i / max(1, n - 1) * 0.85)
        ax1.plot(flips, data["error"]["cleanup"][i], "-o", color=c, ms=3, label=f"P = {P}, clean-up")
        ax1.plot(flips, data["error"]["none"][i], "--", color=c, label=f"P = {P}, none")
        ax2.plot(flips, data["key_recovered"][i], "-o", color=c, ms=3, label=f"P = {P}")
    ax1.axhline(0.5, color="k", lw=0.6, ls=":")
    ax1.set(xlabel="cue bits flipped (%)", ylabel="wrong bits in recall", ylim=(-0.02, 0.55),
            title=f"Vector-HaSH, $N_h$ = {data['n_hippocampal']}, $N_s$ = {data['n_sensory']}")
    ax1.legend(fontsize=7, ncol=1 if n < 3 else 2)
    ax2.set(xlabel="cue bits flipped (%)", ylabel="keys corrected", ylim=(-0.02, 1.02),
            title="grid state = the stored one")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig


@register("key-correction", CHAPTER,
          "recall against cue noise and load, with and without the scaffold's clean-up (Box 1)",
          small={"n_patterns": (20, 60), "flips": (0.0, 0.2), "n_hippocampal": 60, "n_sensory": 200,
                 "periods": (2, 3, 5)})
def key_correction(device, progress: bool = True, n_patterns: Sequence[int] = (100, 400, 1600),
                   flips: Sequence[float] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4), n_hippocampal: int = 400,
                   n_sensory: int = 3600, periods: Sequence[int] = (3, 4, 5), seed: int = 0):
    from kvlib.key_correction import key_correction_sweep
    data = key_correction_sweep(tuple(n_patterns), tuple(flips), n_hippocampal, n_sensory, tuple(periods),
                                seed=seed, device=device, progress=progress)
    return draw_key_correction(data), data


CASE_LABELS = {
    "torus/grid": "grid code, torus",
    "loop/ring": "ring code, loop",
    "torus/ring": "ring code (x only), torus",
    "torus/sinusoidal": "time code, torus",
    "loop/sinusoidal": "time code, loop",
}


def draw_position_codes(data: dict, fig=None):
    """Prediction accuracy of one TEM memory on returns by a new route, on all returns and on
    first visits, for each (world, code) pair; dotted: chance."""
    fig = fig or plt.figure(figsize=(9, 3.4))
    fig.clear()
    ax = fig.subplots()
    cases = data["cases"]
    kinds = (("zero_shot", "return by a new route"), ("revisit", "any return"),
             ("first_visit", "first visit"))
    w = 0.8 / len(kinds)
    for j, (key, label) in enumerate(kinds):
        vals = [data[key][c] if data[key][c] is not None else 0.0 for c in cases]
        ax.bar([i + (j - 1) * w for i in range(len(cases))], vals, w, label=label)
    ax.axhline(data["chance"], color="k", lw=0.8, ls=":", label="chance")
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels([CASE_LABELS.get(c, c) for c in cases], fontsize=8, rotation=12)
    ax.set(ylabel="prediction accuracy", ylim=(0, 1.02),
           title=f"TEM's memory, {data['n_envs']} walks of {data['n_steps']} steps, "
                 f"{data['size'] ** 2} places")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


@register("position-codes", CHAPTER,
          "one TEM memory addressed by a grid, a ring and a sinusoidal time code: predictions on new routes",
          small={"size": 3, "n_steps": 30, "n_envs": 2})
def position_codes(device, progress: bool = True, size: int = 6, n_steps: int = 400, n_envs: int = 6,
                   seed: int = 0):
    from kvlib.position_codes import position_code_experiment
    data = position_code_experiment(size=size, n_steps=n_steps, n_envs=n_envs, seed=seed, device=device)
    return draw_position_codes(data), data



AE_STYLE = {"mesh": ("tab:brown", "MESH (fixed scaffold)"),
            "autoencoder, one pass": ("tab:cyan", "autoencoder, one pass"),
            "autoencoder, iterated": ("tab:blue", "autoencoder, iterated")}


def draw_scaffold_vs_autoencoder(data: dict, reference: dict | None = None, fig=None):
    """Mutual information per bit against stored patterns / N_h for MESH and the autoencoder with
    its synapses; solid: noisy cues (the largest flip), dashed: clean cues. ``reference``: MESH's
    committed autoencoder (``MESH_AUTOENCODER_COMMITTED``, clean cues), drawn as rings."""
    from kvlib.binary_channel import mutual_information
    fig = fig or plt.figure(figsize=(10, 3.6))
    fig.clear()
    ax = fig.subplots()
    load = [P / data["n_hidden"] for P in data["n_patterns"]]
    flips = data["cue_flips"]
    for model, (colour, label) in AE_STYLE.items():
        mi = data["mutual_information"][model]
        ax.plot(load, mi[flips[-1]], "-o", ms=3, color=colour,
                label=f"{label}, {100 * flips[-1]:.0f} % flipped")
        if len(flips) > 1:
            ax.plot(load, mi[flips[0]], "--", color=colour, label=f"{label}, clean")
    if reference:
        x = [P / reference["n_hidden"] for P in reference["n_patterns"]]
        for key, colour in (("first", "tab:cyan"), ("final", "tab:blue")):
            mi = [float(mutual_information(min(0.5, (1 - m) / 2))) for m in reference[key]]
            ax.plot(x, mi, "o", mfc="none", color=colour, ms=5,
                    label=f"MESH's committed autoencoder, {'one pass' if key == 'first' else 'iterated'}")
    ax.axvline(1.0, color="k", lw=0.6, ls=":")
    ax.set(xlabel="stored patterns / hidden cells", ylabel="mutual information per bit", ylim=(-0.02, 1.02),
           title=f"{data['synapses']:,} synapses each ($N_F$ = {data['n_sensory']}, "
                 f"$N_H$ = {data['n_hidden']}, $N_L$ = {data['n_label']})")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


@register("scaffold-vs-autoencoder", CHAPTER,
          "MESH's fixed scaffold against an autoencoder with the same synapses (MESH's comparison)",
          small={"n_patterns": (6, 12), "n_label": 6, "k": 2, "n_hidden": 8, "steps": 20})
def scaffold_vs_autoencoder(device, progress: bool = True,
                            n_patterns: Sequence[int] = (20, 40, 80, 120, 160, 220), n_label: int = 12,
                            k: int = 3, n_hidden: int = 80, steps: int = 400, seed: int = 0):
    from kvlib.autoencoder_memory import MESH_AUTOENCODER_COMMITTED
    from kvlib.autoencoder_memory import scaffold_vs_autoencoder as run
    data = run(tuple(n_patterns), n_label, k, n_hidden, steps=steps, seed=seed, device=device,
               progress=progress)
    return draw_scaffold_vs_autoencoder(data, MESH_AUTOENCODER_COMMITTED), data

CHAPTER2 = "2 Representational structure"
RULE_LABELS = {"backprop": "backprop", "feedback-alignment": "feedback alignment",
               "fixed": "hidden layer fixed"}


def draw_learning_rules(data: dict, reference: dict | None = None, fig=None):
    """Left: training loss of the hidden-layer key maps under each rule; right: accuracy on the
    look-alike test cues, with ``reference`` accuracies (e.g. Chapter 2's linear learned keys) as lines."""
    fig = fig or plt.figure(figsize=(10, 3.4))
    fig.clear()
    ax1, ax2 = fig.subplots(1, 2)
    rules = list(data["accuracy"])
    colours = {"backprop": "tab:blue", "feedback-alignment": "tab:orange", "fixed": "tab:gray"}
    for rule in rules:
        ax1.plot(data["loss"][rule], color=colours.get(rule), lw=0.8, label=RULE_LABELS.get(rule, rule))
    ax1.set(xlabel="training step", ylabel="cross-entropy", title=f"{data['n_hidden']} hidden units")
    ax1.legend(fontsize=8)
    ax2.bar(range(len(rules)), [data["accuracy"][r] for r in rules], color=[colours.get(r) for r in rules])
    ax2.set_xticks(range(len(rules)))
    ax2.set_xticklabels([RULE_LABELS.get(r, r) for r in rules], fontsize=8)
    styles = iter(("--", "-.", ":"))
    for name, value in (reference or {}).items():
        ax2.axhline(value, color="k", lw=0.8, ls=next(styles, ":"), label=name)
    ax2.axhline(data["untrained"], color="tab:red", lw=0.8, ls=":", label="before training")
    ax2.set(ylabel="cues retrieving their digit", ylim=(0, 1))
    ax2.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


@register("feedback-alignment-keys", CHAPTER2,
          "key and query maps learned by backprop, by feedback alignment and with the hidden layer fixed",
          small={"n_hidden": 16, "steps": 5, "n_test_episodes": 4})
def feedback_alignment_keys(device, progress: bool = True, n_hidden: int = 128, steps: int = 300,
                            n_test_episodes: int = 200, seed: int = 0):
    from kvlib.feedback_alignment import compare_learning_rules
    data = compare_learning_rules(device, n_hidden=n_hidden, steps=steps, n_test_episodes=n_test_episodes,
                                  seed=seed, progress=progress)
    return draw_learning_rules(data), data
