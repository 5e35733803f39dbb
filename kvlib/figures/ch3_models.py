"""Figures of two models: errors are salient (:mod:`kvlib.error_salience`, Chapter 3), and
pattern separation and completion on the key path (:mod:`kvlib.separation_completion`, Chapter 5).

Each ``draw_*`` draws one result; each registered figure computes it first (for Chapter 3, the
MNIST run of :func:`kvlib.dual_identity.mnist_run`)."""
from __future__ import annotations

from kvlib import dual_identity as D
from kvlib import error_salience as ES
from kvlib import separation_completion as SC
from kvlib.figures.registry import register

CHAPTER = "3 The dual form"
CHAPTER5 = "5 Evidence from psychology and neuroscience"

#: Display names of the measures and orders of :mod:`kvlib.error_salience`.
MEASURE_LABELS = {"attention": "attention |x.k|", "contribution": "size of contribution |c|",
                  "readout": "share of the read-out"}
ORDER_STYLES = {"largest": ("largest errors", "-"), "largest_in_step": ("largest in each step", "--"),
                "shuffled": ("shuffled errors (control)", ":")}
#: The small run the test suite draws the figure with (seconds on a CPU).
SMALL_RUN = dict(n_train=200, n_test=50, steps=20, hidden=16)


def _figure(fig, figsize):
    import matplotlib.pyplot as plt
    return plt.figure(figsize=figsize) if fig is None else fig


def draw_salience(study: dict, fig=None):
    """One panel per layer: the share of attention, of contribution size and of the read-out held
    by the largest-error memories against their share of the memories (``study`` from
    :func:`kvlib.error_salience.salience_study`); the diagonal is "errors do not matter"."""
    fig = _figure(fig, (10, 3.6))
    layers = study["layers"]
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    for ax, (j, name) in zip(axes, enumerate(layers)):
        curves = study["curves"][name]
        for c, m in enumerate(MEASURE_LABELS):
            for order, (label, ls) in ORDER_STYLES.items():
                ax.plot(curves[order]["count"], curves[order][m], ls=ls, marker="o" if ls == "-" else None,
                        ms=3, color=f"C{c}", label=f"{MEASURE_LABELS[m]}, {label}" if j == 0 else None)
        diag = [f / 1000 for f in range(5, 1001, 5)]                   # the diagonal, on a log axis
        ax.plot(diag, diag, color="k", lw=0.8, alpha=0.5)
        ax.axhline(0, color="k", lw=0.5, alpha=0.3)
        ax.set_xscale("log")
        ax.set_xlabel("share of the memories (largest errors first)")
        ax.set_title(f"layer {j + 1} ({study['n_memories'][name]:,} memories)", fontsize=9)
    axes[0].set_ylabel("share held by those memories")
    fig.legend(fontsize=7, loc="upper center", ncol=3, bbox_to_anchor=(0.5, 1.12))
    fig.tight_layout()
    return fig


@register("errors-salient", CHAPTER,
          "the share of attention, contribution size and read-out held by the largest-error "
          "memories of a trained MNIST MLP, against a shuffled-error control",
          small={**SMALL_RUN, "n_queries": 20})
def errors_salient(device, progress: bool = True, n_queries: int = 200, **settings):
    run = D.mnist_run(device, **settings)
    study = ES.salience_study(run["model"], run["recorder"], run["test"][0], n_queries=n_queries)
    return draw_salience(study), {"curves": study["curves"], "n_memories": study["n_memories"]}


# ------------------------------------------------------------------ separation and completion
PATH_LABELS = {"direct": "cue as it is", "completion": "attractor (CA3-like)",
               "separation": "sparse expansion (DG-like)",
               "separation+completion": "expansion, then attractor"}
PATH_COLORS = {"direct": "k", "completion": "C0", "separation": "C1", "separation+completion": "C2"}


def draw_separation_completion(transfer: dict, recall: dict, tradeoff: dict, fig=None):
    """Three panels: output against input similarity per stage (``transfer`` from
    :func:`kvlib.separation_completion.similarity_transfer`), recall accuracy against cue noise
    per key path (``recall``, :func:`~kvlib.separation_completion.key_path_recall`), and the
    trade-off (``tradeoff``, :func:`~kvlib.separation_completion.separation_completion_tradeoff`)."""
    fig = _figure(fig, (12, 3.8))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.plot([0, 1], [0, 1], color=PATH_COLORS["direct"], lw=0.8, ls=":", label=PATH_LABELS["direct"])
    for p in SC.KEY_PATHS[1:]:
        ax1.plot(transfer["input"], transfer[p], marker="o", ms=3, color=PATH_COLORS[p], label=PATH_LABELS[p])
    ax1.set_xlabel("input similarity (cue vs stored key)")
    ax1.set_ylabel("output similarity")
    ax1.set_title("separation below, completion above the diagonal", fontsize=9)
    ax1.legend(fontsize=7)
    for p in SC.KEY_PATHS:
        if p in recall:
            ax2.plot(recall["noise"], recall[p], marker="o", ms=3, color=PATH_COLORS[p], label=PATH_LABELS[p])
    ax2.axhline(recall["chance"], color="k", lw=0.5, ls=":")
    ax2.set_xlabel("fraction of the cue's bits flipped")
    ax2.set_ylabel("recall accuracy (linear read)")
    ax2.set_title("recall from noisy cues", fontsize=9)
    ax2.set_ylim(0, 1.02)
    ax3.plot([0, 1], [0, 1], color="k", lw=0.8, ls=":")
    for p in ("separation", "separation+completion"):
        sib, cue = zip(*tradeoff[p])
        ax3.plot(sib, cue, marker="o", ms=3, color=PATH_COLORS[p], label=PATH_LABELS[p])
        if p == "separation":                           # label the sparsity once, on the lower curve
            for k, x, y in zip(tradeoff["actives"], sib, cue):
                ax3.annotate(f"k={k}", (x, y), fontsize=6, xytext=(2, -8), textcoords="offset points")
    ax3.plot(*tradeoff["input"], "s", color=PATH_COLORS["direct"], label=PATH_LABELS["direct"])
    ax3.plot(*tradeoff["completion"], "s", color=PATH_COLORS["completion"], label=PATH_LABELS["completion"])
    ax3.set_xlabel("similarity of two similar memories (low: separated)")
    ax3.set_ylabel("similarity of a noisy cue to its memory")
    ax3.set_title("the trade-off, and what the attractor adds", fontsize=9)
    ax3.set_xlim(0, 1)
    ax3.set_ylim(0, 1.05)
    ax3.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


@register("separation-completion", CHAPTER5,
          "pattern separation (sparse expansion, k-winners-take-all) and completion (attractor) on the "
          "key path: similarity curves, recall from noisy cues, the trade-off",
          small=dict(cues=20, seeds=1, d=60, units=200, active=10, clusters=5, members=2))
def separation_completion(device, progress: bool = True, cues: int = 200, seeds: int = 2, d: int = 200,
                          units: int = 1000, active: int = 50, clusters: int = 15, members: int = 4):
    world = dict(d=d, units=units, clusters=clusters, members=members)
    transfer = SC.similarity_transfer(cues=cues, active=active, **world)
    recall = SC.key_path_recall(cues=cues, seeds=seeds, active=active, **world)
    actives = tuple(k for k in (10, 20, 50, 100, 200, 500) if k < units)
    tradeoff = SC.separation_completion_tradeoff(actives, cues=cues, **world)
    return draw_separation_completion(transfer, recall, tradeoff), \
        {"transfer": transfer, "recall": recall, "tradeoff": tradeoff}
