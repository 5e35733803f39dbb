"""Chapter 4 (Neural substrates): every figure the chapter shows, drawn from the results of the
chapter's library modules (:mod:`kvlib.plasticity`, :mod:`kvlib.slot_capacity`,
:mod:`kvlib.scaffold`, :mod:`kvlib.scaffold_capacity`, :mod:`kvlib.tem`, :mod:`kvlib.astrocytes`).

Each ``draw_*`` function takes the dict its computation returns and draws it; each registered
figure is that computation with the book's settings followed by its ``draw_*`` function, so the
notebook and ``python -m kvlib reproduce NAME`` draw the same thing. ``small`` settings run each
in a second or two (the figure smoke test).
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter, ScalarFormatter

from kvlib.figures.registry import register

CHAPTER = "4 Neural substrates"


def _log_loads(ax, loads):
    """Log x-axis over pattern counts, with plain-number ticks inside the range."""
    ax.set_xscale("log")
    ticks = [t for t in (25, 50, 100, 200, 400, 800, 1600, 3600) if min(loads) <= t <= max(loads) * 1.2]
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
    "bounded-hopfield": ("tab:pink", "bounded Hopfield"),
}


def draw_kv_vs_hopfield(data: dict, ax=None, reference: dict | None = None):
    """Accuracy against the number of stored items, one line per network (Tyulmankov et al.
    Fig 2b); ``reference``: ``{model: {T: accuracy}}`` from bio-kvm's own run, drawn as rings."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 4))
    for name, acc in data["accuracy"].items():
        colour, label = STYLE[name]
        ls = "--" if name == "lru" else "-"
        ax.plot(data["n_items"], acc, ls, color=colour, label=label, lw=2)
        if reference and name in reference:
            ts = sorted(reference[name])
            ax.plot(ts, [reference[name][t] for t in ts], "o", mfc="none", color=colour, ms=6)
    if reference:
        ax.plot([], [], "o", mfc="none", color="k", label="bio-kvm's code, run as published")
    ax.axhline(0.98, color="k", lw=0.8, ls=":", label="98 % accuracy")
    ax.axhline(0.7, color="0.5", lw=0.8, ls="--", label="cue's known bits + guesses (0.7)")
    ax.axvline(data.get("n_slots", data["N"]), color="0.6", lw=0.8)
    ax.set_xlabel("number of stored items")
    ax.set_ylabel("fraction of bits recalled correctly")
    ax.set_title(f"N = {data['N']} units, {data.get('n_slots', data['N'])} slots, cues 60 % unknown")
    ax.set_ylim(0.55, 1.02)
    ax.legend(loc="upper right", fontsize=8)
    return fig


def draw_plasticity_capacity(data: dict, ax=None, reference: dict | None = None):
    """Mean 98 % capacity against the size N, ± 1 s.d. over runs (Tyulmankov et al. Fig 2c);
    ``reference``: ``{model: {N: capacity}}`` from bio-kvm's own run, drawn as rings."""
    import numpy as np
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.2, 4))
    Ns = np.array(data["N"], dtype=float)
    for name, cap in data["capacity"].items():
        colour, label = STYLE[name]
        runs = data.get("runs", {}).get(name)
        sd = [float(np.std(r)) for r in runs] if runs else None
        slope = data["slope"][name] if "slope" in data else \
            (float(np.polyfit(Ns, cap, 1)[0]) if len(Ns) > 1 else float("nan"))
        ax.errorbar(Ns, cap, yerr=sd, marker="o", color=colour, lw=2, capsize=3,
                    label=f"{label} (C ≈ {slope:.2f} N)")
        if reference and name in reference:
            ks = sorted(reference[name])
            ax.plot(ks, [reference[name][k] for k in ks], "o", mfc="none", ms=9, color=colour)
    if reference:
        ax.plot([], [], "o", mfc="none", ms=9, color="k", label="bio-kvm's code, run as published")
    ax.set_xlabel("network size N (input units = slots)")
    ax.set_ylabel("items stored at ≥ 98 % accuracy")
    n_runs = data.get("n_runs")
    ax.set_title("Capacity against size" + (f" (mean of {n_runs} searches)" if n_runs else ""))
    ax.legend(fontsize=8)
    return fig


def draw_scaffold_states(data: dict, ax=None):
    """Fraction of scaffold states that are fixed points, against the number of hidden cells."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5.6, 4))
    n = data["n_hippocampal"]
    ax.plot(n, [s / data["total_states"] for s in data["stable_states"]], "o-",
            color=STYLE["vector-hash"][0], lw=2,
            label=f"Vector-HaSH ({data['total_states']} grid states, WTA per module)")
    if "mesh_stable_states" in data:
        ax.plot(n, [s / data["mesh_total_states"] for s in data["mesh_stable_states"]], "s-",
                color=STYLE["mesh"][0], lw=2,
                label=f"MESH ({data['mesh_total_states']} three-hot labels, top-3)")
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    ax.set_xlabel("hidden (hippocampal) cells $N_h$")
    ax.set_ylabel("fraction of scaffold states that are fixed points")
    ax.set_title("Scaffold states that are fixed points")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def draw_mesh_capacity(data: dict, reference: dict | None = None, axes: Sequence | None = None):
    """MESH's feature error and MI per bit against stored patterns, one line per N_s (clean cues);
    ``data["noisy"]`` (same layout, 5 % cue flips) dashed; ``reference``: MESH's committed
    numbers ``{N_s: {"feature_error": {P: v}, "mutual_information": {P: v}}}`` as rings."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.9))
    fig = axes[0].figure
    colours = {"400": "tab:brown", "816": "tab:olive"}
    panels = (("feature_error", "fraction of feature bits wrong"), ("mutual_information", "MI per bit"))
    for ax, (key, ylabel) in zip(axes, panels):
        for ns, ys in data[key].items():
            c = colours.get(ns, "k")
            ax.plot(data["n_patterns"], ys, "-", color=c, lw=2, label=f"$N_s$ = {ns}, clean cues")
            if reference and key in reference.get(ns, {}):
                ref = reference[ns][key]
                ax.plot(list(ref), list(ref.values()), "o", mfc="none", ms=8, color=c)
        noisy = data.get("noisy")
        if noisy:
            for ns, ys in noisy[key].items():
                ax.plot(noisy["n_patterns"], ys, "--", color=colours.get(ns, "k"), lw=1.5,
                        label=f"$N_s$ = {ns}, {100 * noisy['cue_flip']:.0f} % cue bits flipped")
        ax.axvline(data["n_hippocampal"], color="0.6", lw=0.8, ls=":")
        ax.set_xlabel("stored patterns P")
        ax.set_ylabel(ylabel)
    if reference:
        axes[1].plot([], [], "o", mfc="none", color="k", label="committed in FieteLab/MESH")
    axes[0].set_title("MESH: error per feature bit")
    axes[1].set_title("MESH: information per bit")
    axes[1].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def draw_scaffold_capacity(data: dict, clean: dict | None = None, axes: Sequence | None = None,
                           marker_at: int | None = None):
    """MI per bit (95 % band over tested patterns) and information recalled per synapse against
    stored patterns (log x), each model in its source's setting; ``clean`` (a sweep with clean
    cues) dashed for the models it holds."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.1))
    fig = axes[0].figure
    P = data["n_patterns"]
    for name, ys in data["mutual_information"].items():
        colour, label = STYLE[name]
        axes[0].plot(P, ys, "o-", color=colour, label=label, lw=2, ms=4)
        axes[0].fill_between(P, data["mi_low"][name], data["mi_high"][name], color=colour, alpha=0.2, lw=0)
        axes[1].plot(P, data["bits_per_synapse"][name], "o-", color=colour, lw=2, ms=4)
        if clean and name in clean["mutual_information"]:
            axes[0].plot(clean["n_patterns"], clean["mutual_information"][name], "--", color=colour, lw=1.2)
            axes[1].plot(clean["n_patterns"], clean["bits_per_synapse"][name], "--", color=colour, lw=1.2)
    if clean:
        axes[0].plot([], [], "k--", lw=1.2, label="clean cues")
    flip = f"{100 * data['cue_flip']:.0f} % of cue bits flipped" if data["cue_flip"] else "clean cues"
    for ax, ylabel, title in ((axes[0], "mutual information per bit", f"Recall per bit ({flip})"),
                              (axes[1], "recalled bits per synapse", "Information recalled in total")):
        _log_loads(ax, P)
        ax.set_xlabel("stored patterns P")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if marker_at is not None:
            ax.axvline(marker_at, color="k", lw=6, alpha=0.15)
    axes[0].set_ylim(-0.03, 1.03)
    axes[0].legend(fontsize=7.5, loc="lower left")
    fig.tight_layout()
    return fig


def draw_scaffold_load(data: dict, P: int, fig=None, side: int = 24):
    """One load ``P`` of the capacity sweep: MI curves with the load marked, and which of the
    first ``side²`` bits of one recalled pattern came back right (white) or wrong (black) per
    model. ``data`` from :func:`kvlib.scaffold_capacity.capacity_sweep` with
    ``keep_examples >= side²``. The chapter's control (``kvlib.notebook.interact``) draws it.
    """
    models = list(data["examples"])
    if P not in data["n_patterns"]:
        raise ValueError(f"P: expected one of the sweep's loads {data['n_patterns']}, got {P!r}")
    i = data["n_patterns"].index(P)
    side = min(side, int(len(data["examples"][models[0]][i]) ** 0.5))
    fig = fig or plt.figure(figsize=(11, 3.0))
    fig.clear()
    grid = fig.add_gridspec(1, 1 + len(models), width_ratios=[2.2] + [1] * len(models), wspace=0.35,
                            left=0.06, right=0.99, bottom=0.17, top=0.83)
    ax = fig.add_subplot(grid[0])
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
    for k, name in enumerate(models):
        a = fig.add_subplot(grid[1 + k])
        right = data["examples"][name][i][: side * side].reshape(side, side).float()
        a.imshow(right, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        a.set_xticks([])
        a.set_yticks([])
        a.set_title(f"{STYLE[name][1]}\nMI {data['mutual_information'][name][i]:.2f}", fontsize=7)
    return fig


def draw_tem(data: dict, axes: Sequence | None = None):
    """TEM's test: prediction accuracy against the fraction of the environment visited (left) and
    on returns to a visited place by an untaken (place, action) (right), for TEM's memory step and
    torch_tem's node and edge agents."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.9))
    fig = axes[0].figure
    style = {"tem": ("tab:purple", "TEM's memory (path-integrated g)"),
             "node": ("tab:olive", "node agent (remembers each visited place)"),
             "edge": ("tab:cyan", "edge agent (remembers each step taken)")}
    x = data["bin_centres"]
    for a, (c, label) in style.items():
        axes[0].plot(x, data["accuracy"][a], "o-", color=c, lw=2, label=label)
        axes[1].plot(x, data["zero_shot"][a], "o-", color=c, lw=2, label=label)
    for ax in axes:
        ax.axhline(data["chance"], color="0.5", lw=0.8, ls="--")
        ax.set_xlabel("fraction of places visited so far")
        ax.set_ylim(-0.03, 1.05)
    axes[0].set_ylabel("next observation predicted correctly")
    axes[0].set_title("All steps")
    axes[1].set_title("Returns by a step never taken (zero-shot)")
    axes[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def draw_slot_write(data: dict):
    """What one write changes (:func:`kvlib.plasticity.write_changes`): |change| of every key and
    value synapse, with the global factor on (left pair) and off (right pair)."""
    fig, axes = plt.subplots(1, 4, figsize=(12, 2.9))
    im = None
    for col, mu in enumerate((1, 0)):
        for k, (part, name) in enumerate((("keys", "keys K (Eq 12)"), ("values", "values V"))):
            ax = axes[2 * col + k]
            D = data[mu][part]
            im = ax.imshow(D, cmap="Greys", vmin=0, vmax=2)
            ax.set_title(f"global factor μ = {mu}\n|change| of {name}", fontsize=9)
            ax.set_xlabel("input unit" if k == 0 else "output unit")
            ax.set_yticks(range(D.shape[0]))
            if k == 0:
                ax.set_ylabel("slot")
    fig.subplots_adjust(wspace=0.3, left=0.05, right=0.88, top=0.8, bottom=0.2)
    fig.colorbar(im, cax=fig.add_axes([0.9, 0.25, 0.012, 0.5]), label="|change|")
    return fig


def draw_grid_state(data: dict):
    """One Vector-HaSH state (:func:`kvlib.scaffold.grid_state`): its grid code, one active cell
    per module, and the hippocampal key it drives."""
    n = len(data["modules"])
    fig, axes = plt.subplots(1, n + 1, figsize=(11, 2.5), gridspec_kw={"width_ratios": [1] * n + [3.2]})
    for ax, lam, block, phase in zip(axes, data["periods"], data["modules"], data["phases"]):
        ax.imshow(block, cmap="Purples", vmin=0, vmax=1)
        ax.set_title(f"module λ = {lam}\nphase {tuple(phase)}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    h = data["hidden"]
    axes[n].bar(range(len(h)), h, width=1.0, color=STYLE["vector-hash"][0])
    axes[n].set_xlabel("hippocampal cell")
    axes[n].set_ylabel("rate")
    axes[n].set_title(f"its hippocampal key: {int((h > 0).sum())} of {data['n_h']} cells active", fontsize=9)
    fig.tight_layout()
    return fig


def draw_astrocytes(data: dict):
    """The neuron-astrocyte circuit against softmax attention (left: every output coordinate;
    right: relative error against the number of processes, with the 1/√m rate)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ref, out, m = data["softmax"], data["circuit"], data["m"]
    axes[0].plot(ref.flatten(), out.flatten(), ".", color="tab:green", alpha=0.6)
    lim = float(ref.abs().max()) * 1.1
    axes[0].plot([-lim, lim], [-lim, lim], "k:", lw=1)
    axes[0].set_xlabel("softmax attention output")
    axes[0].set_ylabel(f"neuron-astrocyte output (m = {m})")
    axes[0].set_title(f"Close to softmax attention ({m} processes)", fontsize=10)
    c = data["curve"]
    axes[1].loglog(c["n_features"], c["to_softmax"], "o-", color="tab:green", lw=2,
                   label="vs softmax attention (relative error)")
    rate = [c["to_softmax"][0] * (c["n_features"][0] / f) ** 0.5 for f in c["n_features"]]
    axes[1].loglog(c["n_features"], rate, "k:", lw=1, label=r"$\propto 1/\sqrt{m}$")
    axes[1].set_xlabel("astrocyte processes (= random features) m")
    axes[1].set_ylabel("relative error")
    axes[1].set_title("Softmax is the many-process limit", fontsize=10)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- registered figures
@register("slot-write", CHAPTER, "one three-factor write with the global factor on and off (Eq 12)",
          small={"dim": 6})
def slot_write(device, progress: bool = True, n_slots: int = 6, dim: int = 12, n_filled: int = 4,
               seed: int = 0):
    from kvlib.plasticity import write_changes
    data = write_changes(n_slots, dim, n_filled, seed=seed, device=device)
    return draw_slot_write(data), data


@register("kv-vs-hopfield", CHAPTER,
          "accuracy vs stored items: three-factor slot memory vs Hopfield (Tyulmankov Fig 2b)",
          small={"N": 12, "max_items": 30, "repeats": 2})
def kv_vs_hopfield(device, progress: bool = True, N: int = 40, max_items: int = 180,
                   repeats: int | str = "auto", n_slots: int | str = "N",
                   value_rule: str = "replace", hopfield_diagonal: bool = True):
    """Defaults: bio-kvm's reference networks (N hidden units, replaced values, Hopfield with its
    diagonal) on their item counts and repeats; ``n_slots``, ``value_rule``,
    ``hopfield_diagonal`` switch to the book's variants."""
    from kvlib.reproductions.ch4_substrates import BIO_KVM_FIG2B
    from kvlib.slot_capacity import fig2b_curves
    data = fig2b_curves(N, max_items, repeats, n_slots, value_rule, hopfield_diagonal, device, progress)
    default = (N, max_items, n_slots, value_rule, hopfield_diagonal) == (40, 180, "N", "replace", True)
    return draw_kv_vs_hopfield(data, reference=BIO_KVM_FIG2B if default else None), data


@register("plasticity-capacity", CHAPTER,
          "98 % capacity vs network size N, bio-kvm's search (Tyulmankov Fig 2c)",
          small={"N": (8, 16), "runs": 3})
def plasticity_capacity(device, progress: bool = True, N: Sequence[int] = (20, 40, 80, 160),
                        runs: int = 50, n_slots: int | str = "N", value_rule: str = "replace",
                        hopfield_diagonal: bool = True):
    """``runs`` searches per point (bio-kvm: 50), each on fresh random items."""
    from kvlib.reproductions.ch4_substrates import BIO_KVM_FIG2C
    from kvlib.slot_capacity import capacity_vs_size
    data = capacity_vs_size(tuple(N), seeds=range(runs), n_slots=n_slots, value_rule=value_rule,
                            hopfield_diagonal=hopfield_diagonal, device=device, progress=progress)
    default = (n_slots, value_rule, hopfield_diagonal) == ("N", "replace", True)
    return draw_plasticity_capacity(data, reference=BIO_KVM_FIG2C if default else None), data


@register("vector-hash-state", CHAPTER, "one Vector-HaSH grid state and the hippocampal key it drives",
          small={"n_hippocampal": 50})
def vector_hash_state(device, progress: bool = True, position: Sequence[int] = (7, 11),
                      n_hippocampal: int = 400, seed: int = 0):
    from kvlib.scaffold import grid_state
    data = grid_state(tuple(position), n_hippocampal, seed=seed, device=device)
    return draw_grid_state(data), data


@register("scaffold-states", CHAPTER, "fixed-point scaffold states vs hidden cells (Vector-HaSH, MESH)",
          small={"n_hippocampal": (25, 50), "seeds": (0,)})
def scaffold_states(device, progress: bool = True,
                    n_hippocampal: Sequence[int] = (25, 50, 75, 100, 150, 200, 250, 300, 350, 400),
                    seeds: Sequence[int] = (0, 1, 2)):
    from kvlib.scaffold_capacity import stable_state_sweep
    data = stable_state_sweep(tuple(n_hippocampal), seeds=tuple(seeds), device=device, progress=progress)
    return draw_scaffold_states(data), data


@register("mesh-capacity", CHAPTER, "MESH's feature error and MI vs stored patterns, N_s = 400 and 816 "
          "(vs its committed results)",
          small={"n_patterns": (100, 300), "n_sensory": (400,), "n_runs": 1, "noisy_flip": 0.0})
def mesh_capacity(device, progress: bool = True,
                  n_patterns: Sequence[int] = (50, 100, 200, 250, 300, 325, 350, 400, 450, 500, 600, 700,
                                               816),
                  n_sensory: Sequence[int] = (400, 816), n_runs: int = 2, noisy_flip: float = 0.05):
    """MESH's own setting (18 choose 3, N_H = 300), clean cues as in its committed curves;
    ``noisy_flip`` adds a run with that fraction of cue bits flipped at N_s = 816 (``"noisy"``)."""
    from kvlib.reproductions.ch4_substrates import MESH_COMMITTED
    from kvlib.scaffold_capacity import mesh_capacity as run
    data = run(tuple(n_patterns), tuple(n_sensory), n_runs=n_runs, device=device, progress=progress)
    if noisy_flip:
        data["noisy"] = run(tuple(n_patterns), (816,), n_runs=n_runs, cue_flip=noisy_flip, device=device)
    return draw_mesh_capacity(data, MESH_COMMITTED), data


@register("scaffold-capacity", CHAPTER, "Box 1's test: recall vs stored patterns from 5 %-corrupted cues "
          "(MESH, Vector-HaSH, Hopfield baselines), clean cues dashed",
          small={"n_patterns": (25, 50)})
def scaffold_capacity(device, progress: bool = True,
                      n_patterns: Sequence[int] = (25, 50, 100, 150, 200, 300, 400, 500, 600, 700, 816),
                      cue_flip: float = 0.05, seed: int = 0):
    """The chapter's setting (:data:`kvlib.scaffold_capacity.SWEEP_SETTING`); the clean-cue run
    (dashed) for the scaffolds and the pseudoinverse network."""
    from kvlib.scaffold_capacity import SWEEP_MODELS, SWEEP_SETTING, capacity_sweep
    data = capacity_sweep(tuple(n_patterns), models=SWEEP_MODELS, cue_flip=cue_flip, seed=seed,
                          device=device, progress=progress, **SWEEP_SETTING)
    data["clean"] = capacity_sweep(tuple(n_patterns), models=("mesh", "vector-hash", "pinv-hopfield"),
                                   cue_flip=0.0, seed=seed, device=device, **SWEEP_SETTING)
    return draw_scaffold_capacity(data, data["clean"]), data


@register("scaffold-load", CHAPTER, "one load of Box 1's test: which bits of a recalled pattern come back, "
          "per model (the chapter's slider)", small={"n_patterns": (25, 100), "P": 25})
def scaffold_load(device, progress: bool = True,
                  n_patterns: Sequence[int] = (25, 50, 100, 150, 200, 300, 400, 500, 600, 700, 816),
                  P: int = 300, cue_flip: float = 0.05, seed: int = 0):
    from kvlib.scaffold_capacity import SWEEP_MODELS, SWEEP_SETTING, capacity_sweep
    data = capacity_sweep(tuple(n_patterns), models=SWEEP_MODELS, cue_flip=cue_flip, seed=seed,
                          keep_examples=576, device=device, progress=progress, **SWEEP_SETTING)
    return draw_scaffold_load(data, P), data


@register("tem-memory", CHAPTER, "TEM's memory step: prediction on revisits and zero-shot returns vs "
          "node and edge agents", small={"n_steps": 60, "n_envs": 2})
def tem_memory(device, progress: bool = True, n_steps: int = 400, n_envs: int = 6, seed: int = 0):
    from kvlib.tem import tem_experiment
    data = tem_experiment(n_steps=n_steps, n_envs=n_envs, seed=seed, device=device)
    return draw_tem(data), data


@register("astrocyte-attention", CHAPTER, "neuron-astrocyte circuit vs softmax attention, and its error vs "
          "the number of processes", small={"m": 64, "n_features": (16, 64)})
def astrocyte_attention(device, progress: bool = True, m: int = 1024,
                        n_features: Sequence[int] = (16, 64, 256, 1024, 4096), seed: int = 0):
    from kvlib.astrocytes import astrocyte_comparison
    data = astrocyte_comparison(m, tuple(n_features), seed=seed, device=device)
    return draw_astrocytes(data), data
