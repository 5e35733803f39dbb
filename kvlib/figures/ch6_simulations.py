"""Chapter 6 figures: the paper's Figures 2A, 2B and 3 (A and B), and the chapter's own.

Each registered figure calls :mod:`kvlib.toy` or :mod:`kvlib.continual` (compute) and a
``draw_*`` function here (draw); ``small`` settings (a few pairs and steps, a few hundred
training images) let the test suite run each in about a second. ``draw_toy_step`` and
``draw_reactivation`` draw one state of the chapter's two sliders (:func:`kvlib.notebook.interact`).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.collections import LineCollection

from kvlib import _checks as check
from kvlib.figures.registry import register
from kvlib.toy_geometry import snapshot_index

CHAPTER = "6 Simulations"

CLASS_COLORS = ["tab:red", "tab:blue", "tab:green"]


def _paths(ax, traj, colors, lw: float, alpha: float) -> None:
    """Each memory's path through the snapshots ``traj`` (S, N, 2), one line per memory."""
    lines = LineCollection(traj.transpose(0, 1).numpy(), colors=colors, linewidths=lw, alpha=alpha)
    ax.add_collection(lines)                                  # (N, S, 2): one polyline per memory
    ax.autoscale_view()


def draw_toy(run, title: str = "") -> plt.Figure:
    """Initial, trajectory and final keys (top row) and values (bottom row), as in Figure 2."""
    fig, axes = plt.subplots(2, 3, figsize=(10, 6.4), constrained_layout=True)
    cols = [CLASS_COLORS[c] for c in run.classes.tolist()]
    for row, (name, traj) in enumerate((("keys", run.keys), ("values (after sigmoid)", run.values))):
        first, last = traj[0].numpy(), traj[-1].numpy()
        ax = axes[row, 0]
        ax.scatter(first[:, 0], first[:, 1], c=cols, s=12)
        ax.set_title(f"{name}: initial")
        ax = axes[row, 1]
        _paths(ax, traj, cols, lw=0.5, alpha=0.5)
        ax.scatter(last[:, 0], last[:, 1], c="0.5", s=8, zorder=3)
        ax.set_title(f"{name}: trajectory")
        ax = axes[row, 2]
        ax.scatter(last[:, 0], last[:, 1], c=cols, s=12)
        ax.set_title(f"{name}: final")
        for ax in axes[row]:
            ax.set_xlabel("dim 1")
            ax.set_ylabel("dim 2")
            ax.set_aspect("equal", adjustable="datalim")
    if title:
        fig.suptitle(title)
    return fig


def draw_toy_compare(runs: dict, title: str = "") -> plt.Figure:
    """Final keys (top row) and values (bottom row) of several runs side by side, one column
    per run (labelled by the dict's keys, with its final loss), and their loss curves."""
    n = len(runs)
    fig = plt.figure(figsize=(3.0 * n + 3.4, 5.6), constrained_layout=True)
    grid = fig.add_gridspec(2, n + 1, width_ratios=[1] * n + [1.15])
    loss_ax = fig.add_subplot(grid[:, n])
    for col, (label, run) in enumerate(runs.items()):
        cols = [CLASS_COLORS[c] for c in run.classes.tolist()]
        for row, (name, traj) in enumerate((("keys", run.keys), ("values (after sigmoid)", run.values))):
            ax = fig.add_subplot(grid[row, col])
            _paths(ax, traj, cols, lw=0.4, alpha=0.3)
            last = traj[-1].numpy()
            ax.scatter(last[:, 0], last[:, 1], c=cols, s=9, zorder=3)
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_title(f"{label}\n{name}" if row == 0 else name, fontsize=9)
        loss_ax.plot(range(1, len(run.loss) + 1), run.loss.numpy(),
                     label=f"{label}: {run.final_loss:.4f}")
    loss_ax.set(xlabel="Adam step", ylabel="loss (MSE)", yscale="log", title="loss")
    loss_ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def toy_frame_steps(run, n_frames: int = 20) -> list[int]:
    """The Adam steps of ``n_frames`` snapshots of ``run`` spread evenly over it (distinct, in order):
    the values of the replay slider."""
    n_frames = check.count("n_frames", n_frames, minimum=1)
    frames = torch.linspace(0, len(run.steps) - 1, n_frames).round().long()
    return list(dict.fromkeys(int(s) for s in run.steps[frames]))


def draw_toy_step(fig: plt.Figure, run, step: int) -> None:
    """Keys (left) and values (right) of ``run`` at Adam step ``step`` into ``fig``, on axes
    fixed over the run, so that a replay shows the points move."""
    t = snapshot_index(run, step)
    colors = [CLASS_COLORS[c] for c in run.classes.tolist()]
    lim = float(run.keys.abs().max()) * 1.05
    ak, av = fig.subplots(1, 2)
    ak.scatter(run.keys[t][:, 0], run.keys[t][:, 1], c=colors, s=8)
    av.scatter(run.values[t][:, 0], run.values[t][:, 1], c=colors, s=8)
    ak.set(xlim=(-lim, lim), ylim=(-lim, lim), title=f"keys, Adam step {step:,}")
    av.set(xlim=(0, 1), ylim=(0, 1), title="values (after sigmoid)")


def _toy_figure(n_classes: int, device, progress: bool, **settings):
    import inspect
    from dataclasses import asdict

    from kvlib.toy import train_toy
    valid = [p for p in inspect.signature(train_toy).parameters
             if p not in ("n_classes", "device", "progress")]
    bad = [k for k in settings if k not in valid]
    if bad:
        raise ValueError(f"settings: unknown setting {', '.join(map(repr, bad))} for Figure 2; "
                         f"valid settings are {', '.join(valid)}")
    run = train_toy(n_classes, device=device, progress=progress, **settings)
    fig = draw_toy(run, f"{n_classes} classes: final loss {run.final_loss:.4f}")
    data = {"loss": run.final_loss, "classes": run.classes, "keys": run.keys[-1],
            "values": run.values[-1], "settings": {"n_classes": n_classes, **settings},
            "setting": asdict(run.setting), "loss_curve": run.loss}
    return fig, data


@register("fig2a", CHAPTER, "Figure 2A: keys vs values, two classes",
          small={"n_pairs": 20, "steps": 50, "snapshots": 10})
def fig2a(device, progress: bool = True, **settings):
    """Figure 2A as the published notebook computes it; ``--set zero_grad=true`` gives the
    text's reading, ``--set detach=query`` (or ``none``) the other roles (see kvlib.toy)."""
    return _toy_figure(2, device, progress, **settings)


@register("fig2b", CHAPTER, "Figure 2B: keys vs values, three classes",
          small={"n_pairs": 30, "steps": 50, "snapshots": 10})
def fig2b(device, progress: bool = True, **settings):
    """Figure 2B as the published notebook computes it; settings as for ``fig2a``."""
    return _toy_figure(3, device, progress, **settings)


def draw_fig3(task1_acc, task2_acc, betas, task1_vs_beta, paper_betas_max: float = 1.9
              ) -> plt.Figure:
    """Figure 3A (accuracy per epoch) and 3B (Task-1 accuracy against beta)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    epochs = list(range(len(task1_acc)))
    a.plot(epochs, task1_acc, "-o", color="tab:red", label="Task 1 (MNIST)")
    a.plot(epochs, task2_acc, "-o", color="tab:blue", label="Task 2 (Fashion-MNIST)")
    a.axvline((len(epochs) - 1) / 2, color="0.6", ls="--", lw=1)
    a.set_xlabel("training epoch (data switch to Task 2 after epoch 5)")
    a.set_ylabel("test accuracy (%)")
    a.set_title("A. Forgetting")
    a.legend(loc="lower left", bbox_to_anchor=(0.0, 0.15))
    b.plot(betas, task1_vs_beta, "-o", color="tab:red", ms=4)
    b.axvspan(min(betas), paper_betas_max, color="0.92", label="range in the paper")
    b.set_xlabel(r"reactivation strength $\beta$")
    b.set_ylabel("Task 1 test accuracy (%)")
    b.set_title("B. Recovery by reactivation")
    b.legend(loc="lower right")
    return fig


@register("fig3", CHAPTER, "Figure 3A/3B: forgetting and recovery by reactivation",
          small={"n_train": 256, "beta_max": 1.5, "n_check": 16})
def fig3(device, progress: bool = True, setting: str = "notebook", beta_max: float = 3.0,
         n_check: int = 128, n_train: int | None = None):
    """Figure 3 as the published notebook computes it (``--set setting=text``: the text's);
    ``n_train`` cuts each task's training set (default: all of it, as the paper)."""
    from kvlib.continual import ContinualConfig, beta_sweep, config_dict, readout_difference, run_continual
    beta_max = check.number("beta_max", beta_max, low=1)
    n_check = check.count("n_check", n_check, minimum=1)
    run = run_continual(ContinualConfig(setting=setting, n_train=n_train), device=device, progress=progress)
    betas = [round(1.0 + 0.1 * i, 1) for i in range(int(round((beta_max - 1.0) / 0.1)) + 1)]
    sweep = beta_sweep(run, betas)
    # the memory read-out (Eq 11, attention over every stored pair) against the network
    diff = readout_difference(run, run.test["task1"][0][:n_check])
    fig = draw_fig3(run.task1_acc, run.task2_acc, betas, sweep["task1"])
    data = {"task1_acc": run.task1_acc, "task2_acc": run.task2_acc, "beta": betas,
            "task1_acc_vs_beta": sweep["task1"], "task2_acc_vs_beta": sweep["task2"],
            "memory_readout_max_abs_diff": diff, "n_memories_per_layer": run.memories["0"].n_memories,
            "config": config_dict(run.config)}
    return fig, data


def draw_reactivation(fig: plt.Figure, states: dict, beta: float) -> None:
    """One state of the reactivation slider into ``fig``: both tasks' accuracy at ``beta`` (bars)
    and the network's answers to a strip of Task-1 test digits (green: a Task-1 answer, 0 or 1).
    ``states``: :func:`kvlib.continual.reactivation_states`."""
    i = states["beta"].index(beta)
    digits = states["images"].view(-1, 28, 28).transpose(0, 1).reshape(28, -1)   # side by side
    bars, strip = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 5]})
    bars.bar(["Task 1", "Task 2"], [states["task1"][i], states["task2"][i]], color=["tab:red", "tab:blue"])
    bars.set_ylim(0, 100)
    bars.set_title(f"beta = {beta:.1f}")
    strip.imshow(digits, cmap="gray")
    strip.set_axis_off()
    for n, p in enumerate(states["predictions"][i]):
        strip.text(28 * n + 14, -4, f"says {p}", ha="center", fontsize=9,
                   color="green" if p < 2 else "crimson")


def draw_beta_curves(betas, curves: dict, ylabel: str = "Task 1 test accuracy (%)") -> plt.Figure:
    """Accuracy against the reactivation strength beta, one line per entry of ``curves``
    (label -> accuracies), as in Figures 6.5 and 6.6."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4), constrained_layout=True)
    for label, acc in curves.items():
        ax.plot(betas, acc, "-o", ms=3, label=label)
    ax.set(xlabel=r"reactivation strength $\beta$", ylabel=ylabel)
    ax.legend()
    return fig


def fraction_labels(sweep: dict) -> dict:
    """:func:`kvlib.continual.fraction_sweep`'s result keyed by readable labels ("25% of Task-1 memories")."""
    return {f"{int(100 * f)}% of Task-1 memories": acc for f, acc in sweep.items()}


def _small_run(device, progress, setting, n_train, beta_max):
    from kvlib.continual import ContinualConfig, run_continual
    beta_max = check.number("beta_max", beta_max, low=1)
    run = run_continual(ContinualConfig(setting=setting, n_train=n_train), device=device, progress=progress)
    return run, [round(1.0 + 0.1 * i, 1) for i in range(int(round((beta_max - 1.0) / 0.1)) + 1)]


@register("reactivation_layers", CHAPTER, "Figure 6.5: reactivating one layer's Task-1 memories",
          small={"n_train": 256, "beta_max": 1.5})
def reactivation_layers(device, progress: bool = True, setting: str = "notebook", beta_max: float = 3.0,
                        n_train: int | None = None):
    """Task-1 accuracy against beta with both layers', the first's or the second's Task-1
    memories reactivated (:func:`kvlib.continual.layer_sweeps`)."""
    from kvlib.continual import config_dict, layer_sweeps
    run, betas = _small_run(device, progress, setting, n_train, beta_max)
    curves = layer_sweeps(run, betas)
    return draw_beta_curves(betas, curves), {"beta": betas, "task1_acc": curves,
                                             "config": config_dict(run.config)}


@register("reactivation_fractions", CHAPTER, "Figure 6.6: reactivating a share of the Task-1 memories",
          small={"n_train": 256, "beta_max": 1.5})
def reactivation_fractions(device, progress: bool = True, setting: str = "notebook", beta_max: float = 3.0,
                           n_train: int | None = None, seed: int = 0):
    """Task-1 accuracy against beta when 10%, 25%, 50% or all of the Task-1 memories are
    reactivated (:func:`kvlib.continual.fraction_sweep`)."""
    from kvlib.continual import config_dict, fraction_sweep
    run, betas = _small_run(device, progress, setting, n_train, beta_max)
    curves = fraction_labels(fraction_sweep(run, [0.1, 0.25, 0.5, 1.0], betas, seed=seed))
    return draw_beta_curves(betas, curves), {"beta": betas, "task1_acc": curves,
                                             "config": config_dict(run.config)}
