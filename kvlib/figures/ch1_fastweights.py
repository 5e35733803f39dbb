"""Chapter 1 figures, second half: linear attention is a fast weight programmer, and its capacity.

Each function computes through :mod:`kvlib.fastweights`, :mod:`kvlib.random_key_capacity` or
:mod:`kvlib.learned_capacity` and only draws here; ``book/01_kernels.ipynb`` calls the same
functions, so the book and ``python -m kvlib reproduce NAME`` show the same figure. ``small``
settings run each figure in seconds.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from kvlib import fastweights, learned_capacity
from kvlib import random_key_capacity as rkc
from kvlib.associative_retrieval import rank_bound
from kvlib.figures.registry import register

CHAPTER = "1 From correlations to kernels"

def plot_fwp(data: dict):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for form, marker in (("recurrent", "o"), ("parallel", "s"), ("chunked", "^")):
        ax.plot(data["seq_len"], data[f"{form}_s"], marker + "-", label=form)
    T = torch.tensor(data["seq_len"], dtype=torch.float64)
    ref = data["parallel_s"][-1] * (T / T[-1]) ** 2
    ax.plot(data["seq_len"], ref.tolist(), "k:", lw=1, label="∝ T² (guide)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("wall time (s)")
    where = f"{data['threads']} CPU thread(s)" if data["device"] == "cpu" else data["device"]
    ax.set_title(f"Three forms of one fast weight programmer ({data['rule']} rule, {where})\n"
                 f"largest difference between forms: {data['max_abs_diff']:.1e} (float32)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@register("fwp-equivalence", CHAPTER,
          "recurrent, parallel and chunked linear attention agree; wall time vs sequence length",
          small={"seq_lens": (32, 64), "repeats": 1})
def fwp_equivalence(device, progress: bool = True, rule: str = "delta", repeats: int = 5,
                    threads: int | None = 1, seq_lens=(256, 512, 1024, 2048, 4096)):
    # One CPU thread by default: on a busy machine, waking worker threads dominates the
    # small products of the recurrent and chunked forms (threads=None uses torch's setting).
    data = fastweights.benchmark_forms(tuple(seq_lens), rule=rule, repeats=repeats,
                                       device=device, threads=threads)
    return plot_fwp(data), data


def compute_fwp_capacity(device: torch.device | str = "cpu", *, d_keys=(16, 32, 64), d_key_curves: int = 32,
                         n_pairs=(8, 16, 32, 64, 128, 256, 512, 1024, 2048), level: float = 0.5,
                         delta: bool = True) -> dict:
    """The random-key variant: accuracy curves at one key size (sum rule, and delta rule if
    ``delta``), and the capacity (accuracy < level) of each map at each key size, with its
    feature dimension m and effective dimension (:func:`kvlib.random_key_capacity.effective_dimension`).
    Capacities never reached on the grid are None."""
    maps = ("identity", "elu1", "dpfp1", "dpfp2", "dpfp3")
    runs = {dk: rkc.associative_capacity(n_pairs, d_key=dk, device=device,
                                                 features=maps + ("softmax",) * (dk == d_key_curves))
            for dk in d_keys}
    cap = {name: [] for name in maps}
    dims = {name: [] for name in maps}
    eff = {name: [] for name in maps}
    floor = {name: [] for name in maps}                            # True: below `level` from the start
    for dk in d_keys:                                              # three key sizes
        for name in maps:
            acc = runs[dk]["accuracy"][name]
            c = rkc.accuracy_crossing(n_pairs, acc, level)
            cap[name].append(None if math.isinf(c) else c)         # None: never fell below `level`
            floor[name].append(acc[0] < level)
            dims[name].append(runs[dk]["feature_dim"][name])
            eff[name].append(runs[dk]["effective_dim"][name])
    soft = rkc.accuracy_crossing(n_pairs, runs[d_key_curves]["accuracy"]["softmax"], level)
    cap["softmax"] = None if math.isinf(soft) else soft
    out = {"n_pairs": list(n_pairs), "accuracy": runs[d_key_curves]["accuracy"], "d_key": d_key_curves,
           "d_keys": list(d_keys), "feature_dim": dims, "effective_dim": eff, "capacity": cap,
           "below_smallest": floor, "level": level, "rule": "sum"}
    if delta:                                                      # to 1,024 pairs: all fall by then
        small = [n for n in n_pairs if n <= 1024]
        dl = rkc.associative_capacity(small, d_key=d_key_curves, device=device, features=maps,
                                              rule="delta")
        out["n_pairs_delta"] = small
        out["accuracy_delta"] = dl["accuracy"]
        delta_cap = {name: rkc.accuracy_crossing(small, dl["accuracy"][name], level) for name in maps}
        out["capacity_delta"] = {name: None if math.isinf(c) else c for name, c in delta_cap.items()}
    return out


def plot_fwp_capacity(data: dict):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    cmap = plt.get_cmap("tab10")
    for i, (name, acc) in enumerate(data["accuracy"].items()):
        axes[0].plot(data["n_pairs"], acc, "o-", ms=4, color=cmap(i), label=f"{name} (sum rule)")
        if name in data.get("accuracy_delta", {}):
            axes[0].plot(data["n_pairs_delta"], data["accuracy_delta"][name], "x--", ms=4, lw=1,
                         color=cmap(i))
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("number of stored pairs N")
    axes[0].set_ylabel("fraction read back (nearest stored value)")
    axes[0].set_title(f"Random keys in R^{data['d_key']}: sum rule (solid), delta rule (dashed)")
    axes[0].axhline(data["level"], color="gray", lw=0.8, ls=":")
    xs_all, ys_all = [], []
    for i, name in enumerate(data["feature_dim"]):
        pts = [(e, c) for e, c in zip(data["effective_dim"][name], data["capacity"][name])
               if c is not None and e is not None]
        floor = all(data["below_smallest"][name])
        if not pts:
            continue
        xs, ys = zip(*pts)
        axes[1].plot(xs, ys, "v" if floor else "o", ms=7, color=cmap(i),
                     label=f"{name} (below the smallest N tested)" if floor else name)
        if not floor:
            xs_all += xs
            ys_all += ys
    if xs_all:                                                     # least-squares slope through 0
        k = sum(x * y for x, y in zip(xs_all, ys_all)) / sum(x * x for x in xs_all)
        grid = torch.logspace(0, math.log10(max(xs_all) * 1.3), 20).tolist()
        axes[1].plot(grid, [k * x for x in grid], "k:", lw=1, label=f"{k:.1f} × effective dimension")
    axes[1].set_xscale("log", base=2)
    axes[1].set_yscale("log", base=2)
    axes[1].set_xlabel("effective dimension of φ(k) (participation ratio)")
    axes[1].set_ylabel(f"capacity: N where accuracy < {data['level']:g}")
    keys = ", ".join(map(str, data["d_keys"]))
    axes[1].set_title(f"Capacity tracks the effective dimension (d_key = {keys})")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@register("fwp-capacity", CHAPTER,
          "random-key capacity of fast weights (identity, elu+1, DPFP; sum and delta rule) "
          "vs effective dimension", small={"d_keys": (8, 16), "n_pairs": (8, 16, 32, 64, 128)})
def fwp_capacity(device, progress: bool = True, d_keys=(16, 32, 64),
                 n_pairs=(8, 16, 32, 64, 128, 256, 512, 1024, 2048)):
    data = compute_fwp_capacity(device, d_keys=tuple(d_keys), d_key_curves=max(d_keys) if 32 not in
                                d_keys else 32, n_pairs=tuple(n_pairs))
    return plot_fwp_capacity(data), data


#: Colours of the feature maps in the learned-key figure.
_MAP_COLOURS = {"elu1": "tab:blue", "dpfp1": "tab:orange", "dpfp2": "tab:green", "dpfp3": "tab:red",
                "favor64": "tab:purple", "favor128": "tab:pink", "favor512": "tab:brown",
                "favor8": "tab:purple", "softmax": "black"}


def compute_learned_capacity(device: torch.device | str = "cpu", *, scale: str = "small", seed: int = 0,
                             progress: bool = False, **settings) -> dict:
    """Schlag et al.'s setting 1: the book's run at ``scale`` and their committed logs (d_key = 64)."""
    ours = learned_capacity.retrieval_capacity(scale, seed=seed, device=device, progress=progress, **settings)
    logs = {}
    for name, by_s in learned_capacity.SCHLAG2021_LOGS.items():
        n_keys = sorted(by_s)
        losses = [by_s[n] for n in n_keys]
        m = None if name == "softmax" else fastweights.feature_dim(name, 64)
        logs[name] = {"n_keys": n_keys, "final_loss": losses, "feature_dim": m,
                      "capacity": learned_capacity.capacity_from_losses(n_keys, losses, ours["level"]),
                      "bound": [rank_bound(n, m) if m else 0.0 for n in n_keys]}
    return {"ours": ours, "logs": logs, "logs_url": learned_capacity.SCHLAG2021_LOGS_URL,
            "level": ours["level"]}


def plot_learned_capacity(data: dict):
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    for name, rec in data["logs"].items():
        c = _MAP_COLOURS.get(name, "gray")
        label = "softmax" if name == "softmax" else f"{name} (m = {rec['feature_dim']})"
        axes[0].plot(rec["n_keys"], rec["final_loss"], "-", lw=1.5, color=c, label=label)
        if rec["feature_dim"]:
            axes[0].plot(rec["n_keys"], rec["bound"], ":", lw=1, color=c)
            ratio = [n / rec["feature_dim"] for n in rec["n_keys"]]
            axes[1].plot(ratio, rec["final_loss"], "-", lw=1, alpha=0.6, color=c, label=f"{name}, logs")
    x = torch.linspace(0.05, 5, 200).tolist()
    axes[1].plot(x, [0.5 * max(0.0, 1 - 1 / t) for t in x], "k--", lw=1.2, label="½ max(0, 1 − m/S)")
    ours = data["ours"]
    for name, rec in ours["maps"].items():
        if rec["feature_dim"] is None:
            continue
        ratio = [n / rec["feature_dim"] for n in rec["n_keys"]]
        axes[1].plot(ratio, rec["final_loss"], "o", ms=8, mfc="none", mew=2,
                     color=_MAP_COLOURS.get(name, "gray"), label=f"{name}, book (m = {rec['feature_dim']})")
    axes[0].set_xlabel("number of unique keys S")
    axes[0].set_ylabel("final test loss")
    axes[0].set_title("Schlag et al.'s committed logs (d_key = 64; dotted: rank bound)")
    axes[1].set_xlabel("S / m (keys per feature dimension)")
    axes[1].set_title(f"Against S/m: their logs (lines), the book's run (circles, d_key = {ours['d_key']})")
    axes[1].set_xlim(0, 5)
    for ax in axes:
        ax.set_ylim(-0.01, 0.52)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left" if ax is axes[0] else "lower right", ncol=1)
    fig.tight_layout()
    return fig


@register("fwp-learned-capacity", CHAPTER,
          "Schlag et al.'s setting 1 (learned keys): final loss vs keys per feature dimension, logs and ours",
          small={"max_steps": 20})
def fwp_learned_capacity(device, progress: bool = True, scale: str = "small", seed: int = 0,
                         max_steps: int | None = None):
    data = compute_learned_capacity(device, scale=scale, seed=seed, progress=progress, max_steps=max_steps)
    return plot_learned_capacity(data), data
