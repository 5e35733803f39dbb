"""Chapter 1 figures: from correlations to kernels.

Each function computes through :mod:`kvlib.kernels`, :mod:`kvlib.memory` or
:mod:`kvlib.fastweights` and only draws here; ``book/01_kernels.ipynb`` calls the same
functions, so the book and ``python -m kvlib reproduce NAME`` show the same figure.
The module is longer than 450 lines because the chapter has nine figures, two of them
(Millidge et al.'s settings, Schlag et al.'s logs) with the steps that assemble them.
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


#: From the book's capacity setting to Millidge et al.'s, one of their choices at a time
#: (label, settings of :func:`kvlib.memory.capacity_curve`, their dot product?). All on their
#: kind of images, 1,000 training digits.
MILLIDGE_STEPS = {
    "noise": [
        ("book: σ = 1.5, raw dot product, error ≤ 5", {"setting": "book", "level": 1.5}, False),
        ("their noise level σ = 0.5", {"setting": "book", "level": 0.5}, False),
        ("+ noisy query clipped: |x + ε| in [0, 1]", {"setting": "book", "level": 0.5, "clip": True}, False),
        ("+ their dot product (L1-normalised)", {"setting": "book", "level": 0.5, "clip": True}, True),
        ("+ their threshold, error ≤ 60: their setting", {"setting": "millidge", "level": 0.5}, True),
    ],
    "mask": [
        ("book: raw dot product, error ≤ 5", {"setting": "book", "level": 0.5}, False),
        ("+ their dot product (L1-normalised)", {"setting": "book", "level": 0.5}, True),
        ("+ their threshold, error ≤ 60: their setting", {"setting": "millidge", "level": 0.5}, True),
    ],
}
#: The separations compared in both settings (label -> (name, settings, β)); β = 1000 is the
#: softmax parameter of their separation runs.
MILLIDGE_SEPARATIONS = {
    "identity": ("identity", {}, 1.0),
    "polynomial n=2": ("polynomial", {"degree": 2}, 1.0),
    "polynomial n=10": ("polynomial", {"degree": 10}, 1.0),
    "softmax β=1000": ("softmax", {}, 1000.0),
    "max": ("max", {}, 1.0),
}
MILLIDGE_SEPARATION_STEPS = [
    ("book: cosine, noise σ = 1.5, raw scores, error ≤ 5",
     {"setting": "book", "similarity": "cosine", "corruption": "noise", "level": 1.5}),
    ("their setting: 1/Manhattan, half masked, scores normalised, error ≤ 60",
     {"setting": "millidge", "similarity": "manhattan", "corruption": "mask", "level": 0.5}),
    ("their setting, but raw scores",
     {"setting": "millidge", "similarity": "manhattan", "corruption": "mask", "level": 0.5,
      "normalize_scores": False}),
    ("their setting, but error ≤ 5",
     {"setting": "millidge", "similarity": "manhattan", "corruption": "mask", "level": 0.5,
      "tolerance": 5.0}),
]


class _SharedScores:
    """Similarity matrices shared between steps that differ only in how the reads are scored.

    ``scores(name, key)`` returns a callable similarity for :func:`kvlib.memory.capacity_curve`
    that computes ``name`` once per ``key`` (which names the images and the query corruption,
    so equal keys mean equal queries). Reciprocal distances reuse the distance matrix.
    """

    _BASE = {"inverse_euclidean": "euclidean", "inverse_manhattan": "manhattan"}

    def __init__(self) -> None:
        self.cache: dict[tuple, torch.Tensor] = {}

    def scores(self, name: str, key: tuple):
        base = self._BASE.get(name, name)

        def similarity(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
            if (base, key) not in self.cache:
                self.cache[(base, key)] = kernels.SIMILARITIES[base](queries, keys)
            s = self.cache[(base, key)].clone()
            if base == name:
                return s
            # 1 / distance, floored at machine epsilon, as kernels.inverse_euclidean / _manhattan
            return s.neg_().clamp_(min=torch.finfo(s.dtype).eps).reciprocal_()
        return similarity


def compute_millidge_settings(device: torch.device | str = "cpu", *, n_stored=(100, 1000),
                              seed: int = 0) -> dict:
    """Similarity (max separation) and separation orderings, from the book's setting to Millidge et al.'s.

    For each step of :data:`MILLIDGE_STEPS`, the retrieval accuracy of each similarity under
    max, at each N; for each step of :data:`MILLIDGE_SEPARATION_STEPS`, that of each
    separation of :data:`MILLIDGE_SEPARATIONS`. All on 1,000 MNIST training digits (Millidge
    et al. draw theirs from the training set; the chapter's other figures use test digits).
    Explained in Chapter 1, §"The same comparison in Millidge et al.'s setting".
    """
    images = memory.mnist_memories(max(n_stored), train=True, device=device)
    shared = _SharedScores()

    def resolve(name: str, setting: str, their_dot: bool) -> str:
        if their_dot and name == "dot":
            return "l1_dot"
        return memory.CAPACITY_SETTINGS[setting]["similarities"].get(name, name)

    def curve(name, query, kw, their_dot, separations=None):
        clip = kw.get("clip", memory.CAPACITY_SETTINGS[kw["setting"]]["clip"])
        sim = shared.scores(resolve(name, kw["setting"], their_dot), (query, kw["level"], clip, seed))
        rest = {k: v for k, v in kw.items() if k not in ("similarity", "corruption")}
        if separations is None:
            return memory.capacity_curve(images, n_stored, similarity=sim, separation="max",
                                         corruption=query, seed=seed, **rest)
        return memory.capacity_by_separation(images, n_stored, separations, similarity=sim,
                                             corruption=query, seed=seed, **rest)

    sims = {query: {label: {name: curve(name, query, kw, their_dot)
                            for name in CAPACITY_SIMILARITIES}      # four similarities
                    for label, kw, their_dot in steps}
            for query, steps in MILLIDGE_STEPS.items()}
    seps = {label: curve(kw["similarity"], kw["corruption"], kw, False, MILLIDGE_SEPARATIONS)
            for label, kw in MILLIDGE_SEPARATION_STEPS}
    return {"n_stored": list(n_stored), "similarity": sims, "separation": seps,
            "similarities": list(CAPACITY_SIMILARITIES), "separations": list(MILLIDGE_SEPARATIONS)}


def plot_millidge_settings(data: dict):
    """Accuracy at the largest N along the steps from the book's setting to Millidge et al.'s."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [6, 4, 4]})
    cmap = plt.get_cmap("tab10")
    n = data["n_stored"][-1]
    sims = data["similarities"]
    panels = [(axes[0], data["similarity"]["noise"], sims, "Noisy cues: similarity, max separation"),
              (axes[1], data["similarity"]["mask"], sims, "Half-masked cues: similarity, max"),
              (axes[2], data["separation"], data["separations"], "Separation")]
    for ax, steps, names, title in panels:
        labels = list(steps)
        for i, name in enumerate(names):
            ax.plot(range(len(labels)), [steps[lab][name][-1] for lab in labels], "o-", color=cmap(i),
                    label=name)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([f"{j + 1}" for j in range(len(labels))])
        ax.set_xlabel("step (see the table)")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel(f"fraction retrieved, N = {n}")
    fig.tight_layout()
    return fig


def millidge_table(data: dict, part: str) -> str:
    """A Markdown table of one part of :func:`compute_millidge_settings` (``"noise"``, ``"mask"`` or
    ``"separation"``): one row per step, one column per similarity or separation, at the largest N."""
    steps = data["separation"] if part == "separation" else data["similarity"][part]
    names = data["separations"] if part == "separation" else data["similarities"]
    lines = ["| step | setting | " + " | ".join(names) + " |", "| --- | --- |" + " --- |" * len(names)]
    for j, (label, row) in enumerate(steps.items()):
        lines.append(f"| {j + 1} | {label} | " + " | ".join(f"{row[n][-1]:.2f}" for n in names) + " |")
    return "\n".join(lines)


@register("millidge-settings", CHAPTER,
          "similarity and separation orderings from the book's capacity setting to Millidge et al.'s")
def millidge_settings(device, progress: bool = True):
    data = compute_millidge_settings(device)
    return plot_millidge_settings(data), data


def ranking_text(accuracy: dict, at: int = -1) -> str:
    """``'a (0.91) > b (0.88) > ...'`` at position ``at`` of each curve; ties keep the given order."""
    items = sorted(accuracy.items(), key=lambda kv: -kv[1][at])
    return " > ".join(f"{name} ({a[at]:.2f})" for name, a in items)


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
                         n_pairs=(8, 16, 32, 64, 128, 256, 512, 1024, 2048), level: float = 0.5,
                         delta: bool = True) -> dict:
    """The random-key variant: accuracy curves at one key size (sum rule, and delta rule if
    ``delta``), and the capacity (accuracy < level) of each map at each key size, with its
    feature dimension m and effective dimension (:func:`kvlib.fastweights.effective_dimension`)."""
    maps = ("identity", "elu1", "dpfp1", "dpfp2", "dpfp3")
    runs = {dk: fastweights.associative_capacity(n_pairs, d_key=dk, device=device,
                                                 features=maps + ("softmax",) * (dk == d_key_curves))
            for dk in d_keys}
    cap = {name: [] for name in maps}
    dims = {name: [] for name in maps}
    eff = {name: [] for name in maps}
    floor = {name: [] for name in maps}                            # True: below `level` from the start
    for dk in d_keys:                                              # three key sizes
        for name in maps:
            acc = runs[dk]["accuracy"][name]
            c = fastweights.capacity_at(n_pairs, acc, level)
            cap[name].append(None if math.isinf(c) else c)         # None: never fell below `level`
            floor[name].append(acc[0] < level)
            dims[name].append(runs[dk]["feature_dim"][name])
            eff[name].append(runs[dk]["effective_dim"][name])
    soft = fastweights.capacity_at(n_pairs, runs[d_key_curves]["accuracy"]["softmax"], level)
    cap["softmax"] = None if math.isinf(soft) else soft
    out = {"n_pairs": list(n_pairs), "accuracy": runs[d_key_curves]["accuracy"], "d_key": d_key_curves,
           "d_keys": list(d_keys), "feature_dim": dims, "effective_dim": eff, "capacity": cap,
           "below_smallest": floor, "level": level, "rule": "sum"}
    if delta:                                                      # to 1,024 pairs: all fall by then
        small = [n for n in n_pairs if n <= 1024]
        dl = fastweights.associative_capacity(small, d_key=d_key_curves, device=device, features=maps,
                                              rule="delta")
        out["n_pairs_delta"] = small
        out["accuracy_delta"] = dl["accuracy"]
        out["capacity_delta"] = {name: fastweights.capacity_at(small, dl["accuracy"][name], level)
                                 for name in maps}
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
          "vs effective dimension")
def fwp_capacity(device, progress: bool = True):
    data = compute_fwp_capacity(device)
    return plot_fwp_capacity(data), data


#: Colours of the feature maps in the learned-key figure.
_MAP_COLOURS = {"elu1": "tab:blue", "dpfp1": "tab:orange", "dpfp2": "tab:green", "dpfp3": "tab:red",
                "favor64": "tab:purple", "favor128": "tab:pink", "favor512": "tab:brown",
                "favor8": "tab:purple", "softmax": "black"}


def compute_learned_capacity(device: torch.device | str = "cpu", *, scale: str = "small", seed: int = 0,
                             progress: bool = False, **settings) -> dict:
    """Schlag et al.'s setting 1: the book's run at ``scale`` and their committed logs (d_key = 64)."""
    ours = fastweights.retrieval_capacity(scale, seed=seed, device=device, progress=progress, **settings)
    logs = {}
    for name, by_s in fastweights.SCHLAG2021_LOGS.items():
        n_keys = sorted(by_s)
        losses = [by_s[n] for n in n_keys]
        m = None if name == "softmax" else fastweights.feature_dim(name, 64)
        logs[name] = {"n_keys": n_keys, "final_loss": losses, "feature_dim": m,
                      "capacity": fastweights.capacity_from_losses(n_keys, losses, ours["level"]),
                      "bound": [fastweights.rank_bound(n, m) if m else 0.0 for n in n_keys]}
    return {"ours": ours, "logs": logs, "logs_url": fastweights.SCHLAG2021_LOGS_URL, "level": ours["level"]}


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
          "Schlag et al.'s setting 1 (learned keys): final loss vs keys per feature dimension, logs and ours")
def fwp_learned_capacity(device, progress: bool = True, scale: str = "small", seed: int = 0):
    data = compute_learned_capacity(device, scale=scale, seed=seed, progress=progress)
    return plot_learned_capacity(data), data


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
