"""Chapter 1 figures, first half: one read, capacity, the memory cliff and random features.

Each function computes through :mod:`kvlib.kernels`, :mod:`kvlib.memory`,
:mod:`kvlib.memory_cliff` or :mod:`kvlib.random_features` and only draws here;
``book/01_kernels.ipynb`` calls the same functions, so the book and
``python -m kvlib reproduce NAME`` show the same figure. The fast-weight figures are in
:mod:`kvlib.figures.ch1_fastweights`, the numbers the prose quotes in
:mod:`kvlib.figures.ch1_numbers`. ``small`` settings run each figure in seconds.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from kvlib import kernels, memory, memory_cliff, random_features
from kvlib.device import progress as progress_bar
from kvlib.figures.registry import register

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
          "MNIST retrieval accuracy vs images stored, per similarity (max) and per separation (cosine)",
          small={"n_stored": (10, 30)})
def kernel_capacity(device, progress: bool = True, query: str = "noise", level: float | None = None,
                    n_stored=(10, 30, 100, 300, 1000)):
    data = compute_kernel_capacity(device, query=query, level=level, n_stored=tuple(n_stored),
                                   progress=progress)
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
        clip = clip and query == "noise"                     # masked cues are never clipped
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


def millidge_tables(data: dict) -> str:
    """The three tables of :func:`millidge_table` (noisy cues, half-masked cues, separations),
    each under a bold heading, as one Markdown text."""
    return ("**Noisy cues, max separation** (fraction retrieved, 1,000 stored)\n\n"
            + millidge_table(data, "noise") + "\n\n**Half-masked cues, max separation**\n\n"
            + millidge_table(data, "mask") + "\n\n**Separations** (1,000 stored)\n\n"
            + millidge_table(data, "separation"))


@register("millidge-settings", CHAPTER,
          "similarity and separation orderings from the book's capacity setting to Millidge et al.'s",
          small={"n_stored": (10, 30)})
def millidge_settings(device, progress: bool = True, n_stored=(100, 1000)):
    data = compute_millidge_settings(device, n_stored=tuple(n_stored))
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
        label = f"softmax, σ={sigma:g}"
        axes[0].plot(data["betas"], data["mse_softmax"][i], "o-", ms=3, color=c, label=label)
        axes[0].axhline(data["mse_max"][i], color=c, ls=":", lw=1.5)
        axes[0].axvline(1 / (2 * sigma ** 2), color=c, ls="--", lw=0.8)
        axes[1].plot(data["betas"], data["acc_softmax"][i], "o-", ms=3, color=c, label=label)
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
          "max vs softmax at finite β under Gaussian noise: error and exact-retrieval rate vs β",
          small={"n_stored": 30})
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
          "overlap after retrieval vs load: classical Hopfield cliff near 0.14 N vs modern Hopfield",
          small={"n_neurons": 60, "n_probes": 8})
def hopfield_capacity(device, progress: bool = True, n_neurons: int = 500, n_probes: int = 64,
                      seeds: int = 1):
    loads = [0.02, 0.05, 0.08, 0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.25, 0.3, 0.5, 1.0, 2.0]
    data = memory_cliff.hopfield_capacity(n_neurons, loads, n_probes=n_probes, seeds=seeds, sweeps=15,
                                    device=device, progress=progress)
    return plot_hopfield(data), data


def plot_random_features(data: dict):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(data["n_features"], data["rel_error"], "o-", label="FAVOR+ attention, orthogonal features")
    ax.plot(data["n_features"], data["rel_error_iid"], "s--", label="FAVOR+ attention, independent features")
    ax.plot(data["n_features"], data["rel_error_rff_kernel"], "^-",
            label="random Fourier features, RBF kernel")
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
          "relative error of FAVOR+ softmax attention (and RFF for RBF) vs number of random features",
          small={"n_features": (16, 32), "seeds": 1})
def random_feature_errors(device, progress: bool = True, seeds: int = 3,
                          n_features=(16, 32, 64, 128, 256, 512, 1024)):
    n_features = list(n_features)
    data = random_features.random_feature_error(n_features, seeds=seeds, device=device)
    iid = random_features.random_feature_error(n_features, seeds=seeds, orthogonal=False, rff=False,
                                               device=device)
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


#: Settings of the separations that take one, in the digit-retrieval widget.
DIGIT_DEMO_SETTINGS = {"polynomial": {"degree": 10}, "topk": {"k": 3}, "threshold": {"threshold": 0.5}}


def draw_digit_retrieval(fig, memories: torch.Tensor, noise: float, digit: int, similarity: str,
                         separation: str, log10_beta: float, masked: float) -> None:
    """The digit-retrieval widget: mask a fraction ``masked`` of stored image ``digit`` of the
    autoassociative memory ``memories`` (N, 784), add Gaussian noise ``noise`` (seeded by
    ``digit``), read it through :func:`kvlib.kernels.retrieve` with β = 10**``log10_beta``,
    and draw cue, read and weights (:func:`plot_retrieval`) into ``fig``."""
    beta = 10 ** log10_beta
    cue = memory.corrupt(memories[digit:digit + 1], "mask", masked)
    cue = memory.corrupt(cue, "noise", noise, generator=torch.Generator().manual_seed(digit))
    out, w = kernels.retrieve(cue, memories, memories, similarity, separation, beta=beta, normalize=True,
                              return_weights=True, **DIGIT_DEMO_SETTINGS.get(separation, {}))
    err = float((out[0] - memories[digit]).square().sum())
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1, 3]})
    plot_retrieval(axes, cue[0], out[0], w[0], digit, title=f"{similarity} + {separation}, β = {beta:.3g}, "
                   f"noise σ = {noise:.1f}: squared error {err:.1f}")
    axes[2].set_ylim(0, 1.02)
    fig.tight_layout()
