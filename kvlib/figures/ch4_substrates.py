"""Chapter 4 (Neural substrates): figures, drawn from the results of kvlib.plasticity / kvlib.scaffold.

Each ``draw_*`` function takes the data dict its computation returns and draws it; the
registered functions compute with the book's default settings and draw. The chapter
notebook calls the same ``draw_*`` functions, so the book and the command line agree.
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter, ScalarFormatter

from kvlib.reproduce import register
from kvlib.device import progress as progress_bar

CHAPTER = "4 Neural substrates"

#: Colours and labels shared by every Chapter 4 figure.
def _log_loads(ax, loads):
    """Log x-axis over pattern counts, with plain-number ticks inside the range."""
    ax.set_xscale("log")
    ticks = [t for t in (100, 200, 400, 1000, 2000, 4000) if min(loads) <= t <= max(loads) * 1.2]
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


STYLE = {
    "sequential": ("tab:blue", "slots: sequential"),
    "lru": ("tab:orange", "slots: least recently used"),
    "random": ("tab:green", "slots: random"),
    "hopfield": ("tab:red", "classical Hopfield"),
    "vector-hash": ("tab:purple", "Vector-HaSH"),
    "mesh": ("tab:brown", "MESH"),
    "pinv-hopfield": ("tab:gray", "pseudoinverse Hopfield"),
}


def draw_kv_vs_hopfield(data: dict, ax=None):
    """Accuracy against the number of stored items, one line per variant."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 4))
    for name, acc in data["accuracy"].items():
        colour, label = STYLE[name]
        ls = "--" if name == "lru" else "-"
        ax.plot(data["n_items"], acc, ls, color=colour, label=label, lw=2)
    ax.axhline(0.98, color="k", lw=0.8, ls=":", label="98 % accuracy")
    ax.set_xlabel("number of stored items")
    ax.set_ylabel("fraction of bits recalled correctly")
    ax.set_title(f"Slot memory vs Hopfield (d = {data['N']}, cues 60 % zeroed)")
    ax.set_ylim(0.45, 1.02)
    ax.legend(loc="upper right", fontsize=8)
    return fig


def draw_plasticity_capacity(data: dict, ax=None):
    """Capacity at 98 % accuracy against the item dimension N."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.2, 4))
    for name, cap in data["capacity"].items():
        colour, label = STYLE[name]
        marker = "s" if name == "lru" else "o"
        ax.plot(data["N"], cap, marker=marker, color=colour, label=label, lw=2,
                ls="--" if name == "lru" else "-", mfc="none" if name == "lru" else colour)
    ax.set_xlabel("item dimension d (slot memories have d/2 slots)")
    ax.set_ylabel("items stored at ≥ 98 % accuracy")
    ax.set_title("Capacity grows with size")
    ax.legend(fontsize=8)
    return fig


def draw_scaffold_states(data: dict, ax=None):
    """How many scaffold states are fixed points, against the number of hippocampal cells."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.6, 4))
    ax.plot(data["n_hippocampal"], data["stable_states"], "o-", color=STYLE["vector-hash"][0],
            label="Vector-HaSH (grid modules, WTA per module)", lw=2)
    if "mesh_stable_states" in data:
        ax.plot(data["n_hippocampal"], data["mesh_stable_states"], "s-", color=STYLE["mesh"][0],
                label="MESH (K-hot labels, global top-K)", lw=2)
    ax.axhline(data["total_states"], color="k", lw=0.8, ls=":", label=f"all {data['total_states']} states")
    ax.set_xlabel("hippocampal cells $N_h$")
    ax.set_ylabel("stable scaffold states")
    ax.set_title("Scaffold states that are fixed points")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def draw_scaffold_capacity(data: dict, axes: Sequence | None = None, marker_at: int | None = None):
    """Mutual information per bit, overlap and total information against stored patterns (log x)."""
    panels = [("mutual_information", "mutual information per bit", "Per bit: graceful vs cliff"),
              ("overlap", "overlap with the stored pattern", "Overlap"),
              ("bits_per_synapse", "recalled bits per synapse", "Information recalled in total")]
    panels = [p for p in panels if p[0] in data]
    if axes is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.9))
    fig = axes[0].figure
    for ax, (key, ylabel, title) in zip(axes, panels):
        for name, ys in data[key].items():
            colour, label = STYLE[name]
            ax.plot(data["n_patterns"], ys, "o-", color=colour, label=label, lw=2, ms=4)
        _log_loads(ax, data["n_patterns"])
        ax.set_xlabel("stored patterns P")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if key != "bits_per_synapse":
            ax.set_ylim(-0.03, 1.03)
        if "n_hippocampal" in data:
            ax.axvline(data["n_hippocampal"], color=STYLE["vector-hash"][0], lw=0.8, ls=":")
        if "n_hopfield" in data:
            ax.axvline(data["n_hopfield"], color=STYLE["pinv-hopfield"][0], lw=0.8, ls=":")
        if marker_at is not None:
            ax.axvline(marker_at, color="k", lw=6, alpha=0.15)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def draw_scaffold_load(data: dict, i: int, fig=None, side: int = 30):
    """One load of the capacity sweep: MI curves with the load marked, and which of the first
    ``side²`` bits of one recalled pattern came back right (white) or wrong (black) per model.

    ``data`` from :func:`kvlib.scaffold.capacity_sweep` with ``keep_examples >= side²``.
    Used by the chapter's slider and by its animation (the static twin).
    """
    models = list(data["examples"])
    fig = fig or plt.figure(figsize=(10, 3.2))
    fig.clear()
    grid = fig.add_gridspec(1, 1 + len(models), width_ratios=[2.2] + [1] * len(models), wspace=0.35,
                            left=0.07, right=0.98, bottom=0.17, top=0.85)
    ax = fig.add_subplot(grid[0])
    P = data["n_patterns"][i]
    for name, ys in data["mutual_information"].items():
        colour, label = STYLE[name]
        ax.plot(data["n_patterns"], ys, "-", color=colour, label=label, lw=1.5)
        ax.plot([P], [ys[i]], "o", color=colour, ms=7)
    ax.axvline(P, color="k", lw=6, alpha=0.15)
    _log_loads(ax, data["n_patterns"])
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("stored patterns P")
    ax.set_ylabel("MI per bit")
    ax.set_title(f"P = {P}")
    ax.legend(fontsize=7, loc="lower left")
    for k, name in enumerate(models):
        a = fig.add_subplot(grid[1 + k])
        right = data["examples"][name][i][: side * side].reshape(side, side).float()
        a.imshow(right, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        a.set_xticks([])
        a.set_yticks([])
        a.set_title(f"{STYLE[name][1]}\nMI {data['mutual_information'][name][i]:.2f}", fontsize=8)
    return fig


# --------------------------------------------------------------------------- registered figures
@register("kv-vs-hopfield", CHAPTER, "accuracy vs stored items: three-factor slot memory variants vs Hopfield")
def kv_vs_hopfield(device, progress: bool = True, N: int = 40, max_items: int = 180,
                   seeds: Sequence[int] = tuple(range(10))):
    from kvlib.plasticity import LOCAL_FACTORS, accuracy_curve
    acc = {m: accuracy_curve(m, N, max_items, seeds=seeds, device=device).tolist()
           for m in progress_bar(LOCAL_FACTORS + ("hopfield",), desc="models", enabled=progress)}
    data = {"N": N, "n_items": list(range(1, max_items + 1)), "accuracy": acc}
    return draw_kv_vs_hopfield(data), data


@register("plasticity-capacity", CHAPTER, "capacity at 98 % accuracy vs item dimension N")
def plasticity_capacity(device, progress: bool = True, N: Sequence[int] = (20, 40, 80, 160),
                        seeds: Sequence[int] = tuple(range(10))):
    from kvlib.plasticity import capacity_vs_size
    cap = capacity_vs_size(tuple(N), seeds=seeds, device=device, progress=progress)
    data = {"N": list(N), "capacity": cap}
    return draw_plasticity_capacity(data), data


@register("scaffold-states", CHAPTER, "stable scaffold states vs hippocampal cells (Vector-HaSH, MESH)")
def scaffold_states(device, progress: bool = True,
                    n_hippocampal: Sequence[int] = (25, 50, 75, 100, 150, 200, 250, 300, 350, 400),
                    seeds: Sequence[int] = (0, 1, 2)):
    from kvlib.scaffold import stable_state_sweep
    data = stable_state_sweep(tuple(n_hippocampal), seeds=seeds, device=device, progress=progress)
    return draw_scaffold_states(data), data


@register("scaffold-capacity", CHAPTER, "recall (MI per bit, overlap) vs stored patterns: Vector-HaSH vs Hopfield")
def scaffold_capacity(device, progress: bool = True,
                      n_patterns: Sequence[int] = (100, 200, 300, 400, 600, 800, 1200, 1600, 2000, 2400, 3000, 3600),
                      n_hippocampal: int = 400, seed: int = 0):
    from kvlib.scaffold import capacity_sweep
    data = capacity_sweep(tuple(n_patterns), n_hippocampal=n_hippocampal, seed=seed, device=device,
                          progress=progress)
    data["n_hippocampal"] = n_hippocampal
    return draw_scaffold_capacity(data), data
