"""Chapter 1 figures: from correlations to kernels.

Each function computes through :mod:`kvlib.kernels`, :mod:`kvlib.memory` or
:mod:`kvlib.fastweights` and only draws here; ``book/01_kernels.ipynb`` calls the same
functions, so the book and ``python -m kvlib reproduce NAME`` show the same figure.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from kvlib import fastweights, kernels, memory
from kvlib.reproduce import register
from kvlib.device import progress as progress_bar

CHAPTER = "1 From correlations to kernels"

#: The similarities compared under max separation, and the separations compared under cosine.
CAPACITY_SIMILARITIES = ("dot", "cosine", "euclidean", "manhattan")
CAPACITY_SEPARATIONS = {                     # label -> (name, settings, β)
    "identity": ("identity", {}, 1.0),
    "threshold θ=0.5": ("threshold", {"threshold": 0.5}, 1.0),
    "top-3": ("topk", {"k": 3}, 1.0),
    "polynomial n=2": ("polynomial", {"degree": 2}, 1.0),
    "polynomial n=10": ("polynomial", {"degree": 10}, 1.0),
    "polynomial n=50": ("polynomial", {"degree": 50}, 1.0),
    "softmax β=50": ("softmax", {}, 50.0),
    "softmax β=500": ("softmax", {}, 500.0),
    "max": ("max", {}, 1.0),
}
DEFAULT_LEVELS = {"noise": 1.5, "mask": 0.5}


def _progress(iterable, progress: bool, desc: str):
    return progress_bar(iterable, enabled=progress, desc=desc)


def compute_kernel_capacity(device: torch.device | str = "cpu", *, query: str = "noise",
                            level: float | None = None, n_stored=(10, 30, 100, 300, 1000),
                            tolerance: float = 5.0, progress: bool = False) -> dict:
    """Capacity curves on MNIST: each similarity under max, each separation under cosine."""
    if query not in memory.CORRUPTIONS:
        raise ValueError(f"query: expected one of {', '.join(memory.CORRUPTIONS)}, got {query!r}")
    level = DEFAULT_LEVELS[query] if level is None else level
    images = memory.mnist_memories(max(n_stored), device=device)
    common = dict(corruption=query, level=level, tolerance=tolerance)
    acc = {s: memory.capacity_curve(images, n_stored, similarity=s, separation="max", **common)
           for s in _progress(CAPACITY_SIMILARITIES, progress, "similarities")}
    acc_sep = memory.capacity_by_separation(images, n_stored, CAPACITY_SEPARATIONS, similarity="cosine",
                                            **common)
    return {"n_stored": list(n_stored), "accuracy": acc, "accuracy_by_separation": acc_sep,
            "query": query, "level": level, "tolerance": tolerance,
            "separation_for_similarities": "max", "similarity_for_separations": "cosine"}


def plot_kernel_capacity(data: dict):
    what = ("Gaussian noise σ = {level:g}" if data["query"] == "noise"
            else "bottom {pct:.0f}% masked").format(level=data["level"], pct=100 * data["level"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for name, acc in data["accuracy"].items():
        axes[0].plot(data["n_stored"], acc, "o-", label=name)
    axes[0].set_title(f"Similarity S, with max separation\n(queries: {what})")
    cmap = plt.get_cmap("tab10")
    for i, label in enumerate(data["accuracy_by_separation"]):
        style = "s--" if label.startswith(("identity", "threshold", "top")) else "o-"
        axes[1].plot(data["n_stored"], data["accuracy_by_separation"][label], style,
                     color=cmap(i % 10), label=label)
    axes[1].set_title(f"Separation σ, with cosine similarity\n(queries: {what})")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("number of stored MNIST images N")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower left")
    axes[1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    axes[0].set_ylabel(f"fraction retrieved (squared error ≤ {data['tolerance']:g})")
    fig.tight_layout()
    return fig


@register("kernel-capacity", CHAPTER,
          "MNIST retrieval accuracy vs images stored, per similarity (max) and per separation (cosine)")
def kernel_capacity(device, progress: bool = True, query: str = "noise", level: float | None = None):
    data = compute_kernel_capacity(device, query=query, level=level, progress=progress)
    return plot_kernel_capacity(data), data


def plot_noise_tradeoff(data: dict):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    cmap = plt.get_cmap("plasma")
    n = len(data["noise_levels"])
    for i, sigma in enumerate(data["noise_levels"]):
        c = cmap(i / max(1, n - 1) * 0.85)
        axes[0].plot(data["betas"], data["mse_softmax"][i], "o-", ms=3, color=c, label=f"softmax, σ={sigma:g}")
        axes[0].axhline(data["mse_max"][i], color=c, ls=":", lw=1.5)
        axes[0].axvline(1 / (2 * sigma ** 2), color=c, ls="--", lw=0.8)
        axes[1].plot(data["betas"], data["acc_softmax"][i], "o-", ms=3, color=c, label=f"softmax, σ={sigma:g}")
        axes[1].axhline(data["acc_max"][i], color=c, ls=":", lw=1.5)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("mean squared error of the read")
    axes[0].set_title("Robustness: error (dotted: max; dashed: β = 1/(2σ²))")
    axes[1].set_ylabel(f"fraction retrieved (squared error ≤ {data['tolerance']:g})")
    axes[1].set_title("Separability: exact retrievals (dotted: max)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("inverse temperature β (Euclidean similarity)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def compute_noise_tradeoff(device: torch.device | str = "cpu", *, n_stored: int = 300,
                           noise_levels=(1.0, 1.5, 2.0, 2.5), betas=None, tolerance: float = 5.0,
                           progress: bool = False) -> dict:
    betas = torch.logspace(-2.5, 1, 15).tolist() if betas is None else list(betas)
    images = memory.mnist_memories(n_stored, device=device)
    data = memory.noise_tradeoff(images, noise_levels, betas, tolerance=tolerance, progress=progress)
    data.update(n_stored=n_stored, tolerance=tolerance)
    best = [data["betas"][min(range(len(betas)), key=lambda j: m[j])] for m in data["mse_softmax"]]
    data["best_beta"] = best
    return data


@register("noise-tradeoff", CHAPTER,
          "max vs softmax at finite β under Gaussian noise: error and exact-retrieval rate vs β")
def noise_tradeoff(device, progress: bool = True, n_stored: int = 300):
    data = compute_noise_tradeoff(device, n_stored=n_stored, progress=progress)
    return plot_noise_tradeoff(data), data


def plot_hopfield(data: dict):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(data["load"], data["overlap_classical"], "o-", label="classical (Hebbian weights, sign dynamics)")
    ax.plot(data["load"], data["overlap_modern"], "s-", label="modern (one softmax-attention step)")
    ax.axvline(0.138, color="gray", ls="--", lw=1)
    ax.text(0.145, 0.5, "α ≈ 0.138", color="gray", rotation=90, va="center")
    ax.set_xscale("log")
    ax.set_xlabel(f"load α = patterns / neurons  (neurons d = {data['n_neurons']})")
    ax.set_ylabel("overlap with the stored pattern after retrieval")
    ax.set_title("The memory cliff of the classical Hopfield network")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


@register("hopfield-capacity", CHAPTER,
          "overlap after retrieval vs load: classical Hopfield cliff near 0.14 N vs modern Hopfield")
def hopfield_capacity(device, progress: bool = True, n_neurons: int = 500, n_probes: int = 64,
                      seeds: int = 1):
    loads = [0.02, 0.05, 0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.25, 0.3, 0.5, 1.0, 2.0]
    data = memory.hopfield_capacity(n_neurons, loads, n_probes=n_probes, seeds=seeds, sweeps=15,
                                    device=device, progress=progress)
    return plot_hopfield(data), data


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
          "recurrent, parallel and chunked linear attention agree; wall time vs sequence length")
def fwp_equivalence(device, progress: bool = True, rule: str = "delta", repeats: int = 5,
                    threads: int | None = 1):
    # One CPU thread by default: on a busy machine, waking worker threads dominates the
    # small products of the recurrent and chunked forms (threads=None uses torch's setting).
    data = fastweights.benchmark_forms((256, 512, 1024, 2048, 4096), rule=rule, repeats=repeats,
                                       device=device, threads=threads)
    return plot_fwp(data), data


def compute_fwp_capacity(device: torch.device | str = "cpu", *, d_keys=(16, 32, 64), d_key_curves: int = 32,
                         n_pairs=(8, 16, 32, 64, 128, 256, 512, 1024, 2048), level: float = 0.5) -> dict:
    """Accuracy curves at one key size, and the capacity (accuracy < level) against feature dimension."""
    maps = ("identity", "elu1", "dpfp1", "dpfp2", "dpfp3")
    runs = {dk: fastweights.associative_capacity(n_pairs, d_key=dk, device=device,
                                                 features=maps + ("softmax",) * (dk == d_key_curves))
            for dk in d_keys}
    cap = {name: [] for name in maps}
    dims = {name: [] for name in maps}
    floor = {name: [] for name in maps}                            # True: below `level` from the start
    for dk in d_keys:                                              # three key sizes
        for name in maps:
            acc = runs[dk]["accuracy"][name]
            c = fastweights.capacity_at(n_pairs, acc, level)
            cap[name].append(None if math.isinf(c) else c)         # None: never fell below `level`
            floor[name].append(acc[0] < level)
            dims[name].append(runs[dk]["feature_dim"][name])
    soft = fastweights.capacity_at(n_pairs, runs[d_key_curves]["accuracy"]["softmax"], level)
    cap["softmax"] = None if math.isinf(soft) else soft
    return {"n_pairs": list(n_pairs), "accuracy": runs[d_key_curves]["accuracy"], "d_key": d_key_curves,
            "d_keys": list(d_keys), "feature_dim": dims, "capacity": cap, "below_smallest": floor,
            "level": level}


def plot_fwp_capacity(data: dict):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, acc in data["accuracy"].items():
        axes[0].plot(data["n_pairs"], acc, "o-", ms=4, label=name)
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("number of stored pairs N")
    axes[0].set_ylabel("fraction retrieved")
    axes[0].set_title(f"Sum-rule fast weights vs softmax (keys in R^{data['d_key']})")
    axes[0].axhline(data["level"], color="gray", lw=0.8, ls=":")
    for name in data["feature_dim"]:
        xs = [m for m, c in zip(data["feature_dim"][name], data["capacity"][name]) if c is not None]
        ys = [c for c in data["capacity"][name] if c is not None]
        floor = all(data["below_smallest"][name])
        axes[1].plot(xs, ys, "v--" if floor else "o-",
                     label=f"{name} (below the smallest N tested)" if floor else name)
    never = data["capacity"]["softmax"] is None
    axes[1].axhline(max(data["n_pairs"]), color="k", ls="--", lw=1,
                    label=("softmax: above this line (never fell)" if never else "largest N tested"))
    axes[1].set_xscale("log", base=2)
    axes[1].set_yscale("log", base=2)
    axes[1].set_xlabel("feature dimension m of φ")
    axes[1].set_ylabel(f"capacity: N where accuracy < {data['level']:g}")
    axes[1].set_title(f"Capacity grows with m (d_key = {', '.join(map(str, data['d_keys']))})")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@register("fwp-capacity", CHAPTER,
          "capacity of sum-rule fast weights (identity, elu+1, DPFP) vs feature dimension, and softmax")
def fwp_capacity(device, progress: bool = True):
    data = compute_fwp_capacity(device)
    return plot_fwp_capacity(data), data


def plot_random_features(data: dict):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(data["n_features"], data["rel_error"], "o-", label="FAVOR+ attention, orthogonal features")
    ax.plot(data["n_features"], data["rel_error_iid"], "s--", label="FAVOR+ attention, independent features")
    ax.plot(data["n_features"], data["rel_error_rff_kernel"], "^-", label="random Fourier features, RBF kernel")
    m = torch.tensor(data["n_features"], dtype=torch.float64)
    ax.plot(data["n_features"], (data["rel_error_iid"][0] * (m / m[0]) ** -0.5).tolist(), "k:", lw=1,
            label="∝ 1/√m (guide)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("number of random features m")
    ax.set_ylabel("relative error vs exact")
    ax.set_title("Random features approximate the softmax and RBF kernels")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@register("random-features", CHAPTER,
          "relative error of FAVOR+ softmax attention (and RFF for RBF) vs number of random features")
def random_features(device, progress: bool = True, seeds: int = 3):
    n_features = [16, 32, 64, 128, 256, 512, 1024]
    data = kernels.random_feature_error(n_features, seeds=seeds, device=device)
    iid = kernels.random_feature_error(n_features, seeds=seeds, orthogonal=False, rff=False, device=device)
    data["rel_error_iid"] = iid["rel_error"]
    return plot_random_features(data), data


def plot_retrieval(axes, query: torch.Tensor, retrieved: torch.Tensor, weights: torch.Tensor,
                   target: int, title: str = "") -> None:
    """Draw one read on three axes: the query, the retrieved image, the attention weights α."""
    for ax in axes:
        ax.clear()
    axes[0].imshow(query.detach().cpu().reshape(28, 28), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("query")
    axes[1].imshow(retrieved.detach().cpu().reshape(28, 28), cmap="gray", vmin=0, vmax=1)
    axes[1].set_title("retrieved")
    for ax in axes[:2]:
        ax.set_xticks([])
        ax.set_yticks([])
    w = weights.detach().cpu()
    axes[2].vlines(range(w.shape[0]), 0, w.tolist(), color="tab:blue", lw=2)
    axes[2].vlines([target], 0, [float(w[target])], color="tab:red", lw=3)
    axes[2].set_xlim(-1, w.shape[0])
    axes[2].set_xlabel("stored image n (red: the query's own)")
    axes[2].set_ylabel("weight αₙ")
    axes[2].set_title(title, fontsize=9)
