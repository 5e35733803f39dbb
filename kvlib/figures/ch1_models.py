"""Figures of the models added to Chapter 1: dense associative memory's capacity
(:mod:`kvlib.dense_capacity`), the radial basis kernel (:mod:`kvlib.rbf_kernel`), Kanerva's
sparse distributed memory against its size (:mod:`kvlib.sdm_capacity`) and a key-value memory
answering questions (:mod:`kvlib.qa_memory`).

Each ``draw_*`` function draws the dict its computation returns; each registered figure is that
computation with the book's settings followed by its ``draw_*`` function, so the notebook and
``python -m kvlib reproduce NAME`` draw the same thing. ``small`` settings run each in seconds.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt

from kvlib.figures.registry import register

CHAPTER = "1 From correlations to kernels"

#: The book's settings: dimensions per degree n (chosen so the capacity spans 10 to a few thousand).
DENSE_DIMS = {2: (40, 80, 160, 320), 3: (20, 40, 80, 160), 4: (30, 40, 60, 80)}
DENSE_EXP_DIMS = (10, 20, 30)


def draw_dense_capacity(data: dict, fig=None):
    """Left: capacity against d per degree (log-log), with the signal-to-noise estimate dashed;
    right: the exponential's capacity against d (log-linear) with the overlap rate's slope."""
    fig = fig or plt.figure(figsize=(10, 3.6))
    fig.clear()
    ax1, ax2 = fig.subplots(1, 2)
    colours = plt.get_cmap("viridis")
    dims, caps, est = data["dims"], data["capacity"], data["estimate"]
    keys = sorted(dims, key=int)
    for i, n in enumerate(keys):
        c = colours(i / max(1, len(keys) - 1) * 0.85)
        slope = data["slope"][n]
        ax1.loglog(dims[n], caps[n], "o-", color=c,
                   label=f"n = {n}: slope {slope:.2f} (n − 1 = {int(n) - 1})")
        ax1.loglog(dims[n], est[n], "--", color=c, lw=1)
    ax1.set(xlabel="neurons d", ylabel="capacity P (patterns)",
            title=f"F(x) = max(x, 0)ⁿ: bit error ≤ {data['error']:g}, "
                  f"{100 * data['flip']:.0f}% of cue bits flipped")
    ax1.legend(fontsize=7)
    e = data["exponential"]
    if e["dims"]:
        ax2.semilogy(e["dims"], e["capacity"], "o-", color="C3",
                     label=f"measured: ln P rises {e['rate']:.2f} per neuron")
        d0, p0 = e["dims"][0], max(e["capacity"][0], 0.5)
        line = [p0 * math.exp(e["rate_estimate"] * (d - d0)) for d in e["dims"]]
        ax2.semilogy(e["dims"], line, "--", color="k", lw=1,
                     label=f"slope of I(m) = {e['rate_estimate']:.2f}")
        ax2.legend(fontsize=7)
    ax2.set(xlabel="neurons d", ylabel="capacity P (patterns)",
            title="F(x) = exp(x) (modern Hopfield, β = 1)")
    fig.tight_layout()
    return fig


@register("dense-capacity", CHAPTER,
          "capacity of dense associative memory against d: d^(n-1) for max(x,0)^n, exponential for exp",
          small={"dims": {2: (20, 40), 3: (10, 20)}, "degrees": (2, 3), "exponential_dims": (8, 12),
                 "seeds": (0,)})
def dense_capacity(device, progress: bool = True, dims: dict | None = None,
                   degrees: Sequence[int] = (2, 3, 4), exponential_dims: Sequence[int] = DENSE_EXP_DIMS,
                   flip: float = 0.1, error: float = 0.01, seeds: Sequence[int] = (0, 1, 2)):
    from kvlib.dense_capacity import capacity_scaling
    dims = DENSE_DIMS if dims is None else {int(k): v for k, v in dims.items()}
    data = capacity_scaling(dims, tuple(degrees), exponential_dims=tuple(exponential_dims), flip=flip,
                            error=error, seeds=tuple(seeds), device=device, progress=progress)
    return draw_dense_capacity(data), data


LABELS = {"exponential": "exponential exp(q·k/h²) = softmax of dot", "rbf": "RBF exp(−‖q−k‖²/2h²)",
          "laplacian": "Laplacian exp(−‖q−k‖₁/h)"}


def draw_rbf_kernel(data: dict, fig=None):
    """Fraction retrieved against the number stored, per kernel: raw images (left), unit norm (right)."""
    fig = fig or plt.figure(figsize=(10, 3.6))
    fig.clear()
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, title in ((axes[0], "raw", "raw images (norms differ)"),
                           (axes[1], "unit", "every image scaled to norm 1")):
        r = data[key]
        for i, (k, acc) in enumerate(r["accuracy"].items()):
            style = ":" if k == "exponential" and key == "unit" else "-"
            ax.semilogx(r["n_stored"], acc, "o" + style, color=f"C{i}", ms=4,
                        label=f"{LABELS[k]}, h = {r['bandwidth'][k]:g}")
        ax.set(xlabel="images stored N", title=title, ylim=(-0.03, 1.03))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel(f"fraction retrieved (error ≤ {data['raw']['tolerance']:g} ‖x‖²)")
    fig.tight_layout()
    return fig


def rbf_comparison(images, n_stored: Sequence[int], noise: float, n_cues: int = 200,
                   progress: bool = False) -> dict:
    """The kernel-smoother capacity on raw and on unit-norm images (one dict per condition)."""
    from kvlib.rbf_kernel import smoother_capacity
    return {key: smoother_capacity(images, tuple(n_stored), noise=noise, n_cues=n_cues, unit_norm=unit,
                                   progress=progress)
            for key, unit in (("raw", False), ("unit", True))}


@register("rbf-kernel", CHAPTER,
          "kernel-smoother reads of MNIST digits: RBF, Laplacian and exponential (softmax) kernels",
          small={"n_stored": (10, 100), "n_cues": 50})
def rbf_kernel(device, progress: bool = True, n_stored: Sequence[int] = (10, 30, 100, 300, 1000),
               noise: float = 1.5, n_cues: int = 200):
    import torch

    from kvlib.data import load_classes
    from kvlib.device import generator as seed_stream
    x, _ = load_classes("mnist", list(range(10)), train=False, device=device)
    order = torch.randperm(x.shape[0], generator=seed_stream(0, "rbf images")).to(x.device)
    data = rbf_comparison(x[order[:max(n_stored)]], n_stored, noise, n_cues, progress)
    return draw_rbf_kernel(data), data


def draw_sdm_size(data: dict, fig=None):
    """Left: capacity against the number of hard locations (measured, Kanerva's analysis);
    right: the critical distance for a fixed number of words, measured and in the analysis."""
    fig = fig or plt.figure(figsize=(10, 3.6))
    fig.clear()
    ax1, ax2 = fig.subplots(1, 2)
    M = data["locations"]
    ax1.loglog(M, data["capacity"], "o-", label=f"simulated (slope {data['slope']:.2f})")
    ax1.loglog(M, data["capacity_theory"], "s--", label="Kanerva's analysis (one Gaussian step)")
    ax1.set(xlabel="hard locations M", ylabel="capacity T (words)",
            title=f"one read from {data['distance']} of {data['n_bits']} bits, bit error ≤ {data['error']:g}")
    ax1.legend(fontsize=7)
    ax2.semilogx(M, data["critical"], "o-", label="simulated: iterated reads converge")
    ax2.semilogx(M, data["critical_theory"], "s--", label="Kanerva's analysis")
    ax2.set(xlabel="hard locations M", ylabel="critical distance (bits)",
            title=f"T = {data['n_stored_critical']} words", ylim=(0, data["n_bits"] / 2 + 2))
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig


@register("sdm-size", CHAPTER,
          "Kanerva's sparse distributed memory: capacity and critical distance against its hard locations",
          small={"n_bits": 64, "locations": (200, 800), "distance": 6, "n_stored_critical": 10,
                 "seeds": (0,)})
def sdm_size(device, progress: bool = True, n_bits: int = 256,
             locations: Sequence[int] = (500, 1000, 2000, 4000), distance: int = 25,
             n_stored_critical: int = 50, seeds: Sequence[int] = (0,)):
    from kvlib.sdm_capacity import sdm_size_sweep
    data = sdm_size_sweep(n_bits, tuple(locations), distance=distance, n_stored_critical=n_stored_critical,
                          seeds=tuple(seeds), device=device, progress=progress)
    return draw_sdm_size(data), data


READER_LABELS = {"autoassociative": "autoassociative store\n(fixed codes)",
                 "kv-untrained": "key-value,\nfixed codes", "kv-trained": "key-value,\ntrained A, B"}


def draw_qa_memory(data: dict, fig=None):
    """Accuracy of each reader on canonical questions and on held-out paraphrases."""
    fig = fig or plt.figure(figsize=(6.5, 3.4))
    fig.clear()
    ax = fig.subplots()
    readers = list(data["accuracy"])
    xs = range(len(readers))
    for j, (what, colour) in enumerate((("canonical", "C0"), ("paraphrase", "C1"))):
        ax.bar([x + 0.38 * (j - 0.5) for x in xs], [data["accuracy"][r][what] for r in readers], 0.38,
               color=colour, label=f"{what} questions")
    ax.axhline(data["chance_given_subject"], color="k", ls=":", lw=1, label="subject matched only")
    ax.set_xticks(list(xs), [READER_LABELS.get(r, r) for r in readers], fontsize=8)
    ax.set(ylabel="answers correct", ylim=(0, 1.05),
           title=f"{data['n_subjects']} subjects × {data['n_relations']} relations, paraphrases held out")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


@register("kv-question-answering", CHAPTER,
          "a key-value memory of facts answers paraphrased questions; an autoassociative store does not",
          small={"n_subjects": 10, "steps": 30, "seeds": (0,)})
def kv_question_answering(device, progress: bool = True, n_subjects: int = 40, n_relations: int = 5,
                          n_objects: int = 30, steps: int = 200, seeds: Sequence[int] = (0, 1, 2)):
    from kvlib.qa_memory import paraphrase_accuracy
    data = paraphrase_accuracy(n_subjects, n_relations, n_objects, steps=steps, seeds=tuple(seeds))
    return draw_qa_memory(data), data
