"""Chapter 3 figures: the dual-form identity (Eqs 10-11) and its negative controls (paper §2.3),
what a trained network retrieves, Irie et al.'s (2022) spotlights of attention, and the
memories of two tasks. Computation is in :mod:`kvlib.dual_identity`, :mod:`kvlib.contributions`,
:mod:`kvlib.attribution` and :mod:`kvlib.training`; each ``draw_*`` here draws one result."""
from __future__ import annotations

import torch

from kvlib import attribution as A
from kvlib import contributions as C
from kvlib import dual_identity as D
from kvlib import spotlight_run as S
from kvlib import training as T
from kvlib.figures.registry import register

CHAPTER = "3 The dual form"

#: Display names of Chapter 3's optimiser settings.
LABELS = {"sgd": "plain SGD", "momentum": "SGD + momentum\n(approximate)",
          "adam": "Adam\n(approximate)", "weight_decay": "weight decay,\nmemories not decayed",
          "weight_decay_decayed_memories": "weight decay,\ndecayed memories"}
RANKING_LABELS = {"support": "support", "attention": "raw attention", "magnitude": "size of contribution"}
#: The small run the test suite draws each figure with (seconds on a CPU).
SMALL_RUN = dict(n_train=200, n_test=50, steps=20, hidden=16)


def _figure(fig, figsize):
    import matplotlib.pyplot as plt
    return plt.figure(figsize=figsize) if fig is None else fig


def layer_label(i: int, n: int) -> str:
    """'layer 1 (input: pixels)', 'layer 2', ..., 'layer n (to digits)'."""
    if i == 0:
        return "layer 1 (input: pixels)"
    return f"layer {i + 1}" + (" (to digits)" if i == n - 1 else "")


# ------------------------------------------------------------------ the identity
def draw_identity(result: dict, fig=None, tolerance: float = 1e-10):
    """Log-scale bars: max |trained layer - memory read-out| per setting and layer
    (``result`` from :func:`kvlib.dual_identity.dual_form_identity`)."""
    fig = _figure(fig, (9, 4))
    ax = fig.subplots()
    per_layer = result["per_layer"]
    settings = list(per_layer)
    layers = list(next(iter(per_layer.values())))
    width = 0.8 / len(layers)
    for j, layer in enumerate(layers):
        xs = [i + (j - (len(layers) - 1) / 2) * width for i in range(len(settings))]
        ax.bar(xs, [max(per_layer[s][layer], 1e-18) for s in settings], width,
               label=f"layer {j + 1} (module '{layer}')")
    ax.set_yscale("log")
    ax.axhline(tolerance, color="k", ls="--", lw=1, label=f"tolerance {tolerance:g}")
    ax.set_xticks(range(len(settings)), [LABELS.get(s, s) for s in settings], fontsize=8)
    ax.set_ylabel("max |layer output - memory read-out|")
    ax.set_title("A trained layer equals its key-value memory (float64)")
    ax.legend(fontsize=8)
    return fig


@register("dual-form-identity", CHAPTER,
          "max error of the dual form (Eqs 10-11) for plain SGD and for momentum, Adam, weight decay",
          small=SMALL_RUN)
def dual_form_identity(device, progress: bool = True, **settings):
    res = D.dual_form_identity(device, progress=progress, **settings)
    return draw_identity(res), {k: res[k] for k in ("max_abs_error_float64", "controls", "per_layer",
                                                    "footprint")}


# ------------------------------------------------------------------ what the network retrieves
def draw_retrieval(study: dict, fig=None):
    """Bars: fraction of the top-k training examples in the test digit's class, per ranking and
    layer (``study`` from :func:`kvlib.contributions.retrieval_study`)."""
    fig = _figure(fig, (7, 3.2))
    ax = fig.subplots()
    layers = study["layers"]
    width = 0.8 / len(layers)
    for j, n in enumerate(layers):
        xs = [i + (j - (len(layers) - 1) / 2) * width for i in range(len(C.RANKINGS))]
        ax.bar(xs, [study["stats"][n][f"same_class_{r}"] for r in C.RANKINGS], width,
               label=layer_label(j, len(layers)))
    ax.axhline(study["chance"], color="k", ls=":", lw=1, label="chance")
    ax.set_xticks(range(len(C.RANKINGS)), [RANKING_LABELS[r] for r in C.RANKINGS])
    ax.set_ylabel(f"top-{study['k']} of the same class")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Do the most-retrieved training digits share the test digit's class?", fontsize=10)
    return fig


def draw_retrieved(fig, study: dict, test_digit: int = 0, ranking: str = "support"):
    """One test digit (left) and the training digits its layers retrieve most, one row per layer
    (``study`` from :func:`kvlib.contributions.retrieval_study`); for ``interact``."""
    x_shown, y_shown = study["shown"]
    x_train, y_train = study["train"]
    layers = study["layers"]
    n_top = study["top"][layers[0]][ranking].shape[1]
    axes = fig.subplots(len(layers), n_top + 1, squeeze=False)
    for r, n in enumerate(layers):
        axes[r, 0].imshow(x_shown[test_digit].view(28, 28), cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_title(f"test: {int(y_shown[test_digit])}", fontsize=8, color="C3")
        axes[r, 0].set_ylabel(f"layer {r + 1}", fontsize=8)
        for a, i in zip(axes[r, 1:], study["top"][n][ranking][test_digit].tolist()):
            a.imshow(x_train[i].view(28, 28), cmap="gray", vmin=0, vmax=1)
            a.set_title(str(int(y_train[i])), fontsize=8)
    for a in axes.flat:
        a.set_xticks([])
        a.set_yticks([])
    fig.suptitle(f"training digits with the highest {RANKING_LABELS[ranking]}, per layer", fontsize=9)
    return fig


def _retrieval(device, n_queries: int, **settings) -> dict:
    run = D.mnist_run(device, **settings)
    return C.retrieval_study(run["model"], run["recorder"], *run["train"], *run["test"],
                             n_queries=n_queries)


@register("dual-form-retrieval", CHAPTER,
          "which training digits a trained MLP retrieves for a test digit: top-10 of the same "
          "class by support, raw attention and size of contribution", small={**SMALL_RUN, "n_queries": 20})
def dual_form_retrieval(device, progress: bool = True, n_queries: int = 200, **settings):
    study = _retrieval(device, n_queries, **settings)
    return draw_retrieval(study), {"stats": study["stats"], "test_accuracy": study["test_accuracy"]}


@register("retrieved-digits", CHAPTER,
          "one test digit and the training digits with the highest support in each layer",
          small={**SMALL_RUN, "n_queries": 20})
def retrieved_digits(device, progress: bool = True, n_queries: int = 200, test_digit: int = 0,
                     ranking: str = "support", **settings):
    import matplotlib.pyplot as plt
    study = _retrieval(device, n_queries, **settings)
    fig = draw_retrieved(plt.figure(figsize=(8, 3.0)), study, test_digit, ranking)
    return fig, {n: study["top"][n][ranking][test_digit].tolist() for n in study["layers"]}


# ------------------------------------------------------------------ spotlights of attention
def draw_spotlights(study: dict, title: str = "", fig=None):
    """Top: one test digit's per-class sorted attention per layer (the source's view, with the
    median of all patterns dashed). Bottom: share of all attention held by the top fraction of
    patterns, mean over test digits, for the real and the coordinate-shuffled queries
    (``study`` from :func:`kvlib.attribution.spotlight_study`)."""
    views, curves = study["views"], study["curves"]
    layers = list(views["layers"])
    fig = _figure(fig, (3.6 * len(layers), 6.2))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(2, len(layers), squeeze=False)
    for j, name in enumerate(layers):
        ax = axes[0, j]
        v = views["layers"][name]
        start, ticks = 0, []
        for c, vals in enumerate(v["per_class"]):
            xs = list(range(start, start + len(vals)))
            own = c == views["label"]
            ax.plot(xs, vals, lw=1.6 if own else 0.9, color="C3" if own else "0.45",
                    marker="o", ms=1.5, label="the test digit's class" if own else None)
            ticks.append(start + len(vals) / 2)
            start += len(vals) + 3
        ax.axhline(v["median"], color="k", ls="--", lw=0.8, label="median of all patterns")
        ax.set_xticks(ticks, [str(c) for c in range(len(ticks))], fontsize=7)
        ax.set_xlabel("class of the training pattern (each: its top weights, sorted)", fontsize=7)
        ax.set_ylim(bottom=0)
        ax.set_title(f"{layer_label(j, len(layers))}: test digit {views['label']}", fontsize=9)
        if j == 0:
            ax.set_ylabel("|x · x_t|")
            ax.legend(fontsize=7, loc="lower left")
        ax = axes[1, j]
        cv = curves[name]
        ax.loglog(cv["fractions"], cv["real"], "o-", ms=3, color="C3", label="test digits")
        ax.loglog(cv["fractions"], cv["shuffled"], "s--", ms=3, color="C0",
                  label="same digits, pixels/units shuffled")
        ax.loglog(cv["fractions"], cv["fractions"], ":", color="k", label="uniform attention")
        ax.set_xlabel("top fraction of training patterns", fontsize=8)
        if j == 0:
            ax.set_ylabel("share of all attention")
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


@register("spotlights", CHAPTER,
          "Irie et al.'s spotlight analysis: raw attention |x.x_t| of test digits over the training "
          "patterns, per layer, and its concentration (--set setting=source for their scale)",
          small=dict(hidden=[16, 16], steps=20, n_train=500, n_queries=10))
def spotlights(device, progress: bool = True, setting: str = "book", query: int | None = None,
               **changes):
    cfg = S.SpotlightConfig.named(setting, **changes)
    run = S.train_recorded(cfg, device, progress=progress)
    study = A.spotlight_study(run, query)
    fig = draw_spotlights(study, f"{study['footprint']}; test accuracy {100 * study['accuracy']:.1f} %")
    config = {k: (str(v) if isinstance(v, torch.dtype) else v) for k, v in vars(cfg).items()}
    return fig, {"config": config, "stats": study["stats"], "curves": study["curves"],
                 "identity_max_abs_error": study["identity"]}


# ------------------------------------------------------------------ nothing was erased
def draw_task_shares(result: dict, fig=None):
    """Bars: each layer's mean share of its output from W0 and from each task's memories, for
    test images of each task (``result`` from :func:`kvlib.training.sequential_tasks`)."""
    fig = _figure(fig, (9, 3.4))
    axes = fig.subplots(1, 2, sharey=True)
    colors = {"W0": "0.6", "task1": "C0", "task2": "C1"}
    titles = {"task1": "test images of task 1 (MNIST 0/1)",
              "task2": "test images of task 2 (T-shirt/trouser)"}
    for ax, (task, per_layer) in zip(axes, result["shares"].items()):
        for j, shares in enumerate(per_layer.values()):
            for k, (origin, share) in enumerate(shares.items()):
                label = ("initial weights W0" if origin == "W0" else f"{origin} memories") if j == 0 else None
                ax.bar(j + (k - 1) * 0.27, share, 0.27, color=colors.get(origin, f"C{k}"), label=label)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(range(len(per_layer)), [f"layer {j + 1}" + (" (output)" if j == len(per_layer) - 1
                                                                   else "") for j in range(len(per_layer))])
        ax.set_title(titles.get(task, task), fontsize=9)
    axes[0].set_ylabel("share of the layer's output")
    axes[0].legend(fontsize=8)
    return fig


@register("nothing-erased", CHAPTER,
          "after MNIST 0/1 then Fashion-MNIST T-shirt/trouser: each layer's output share from W0 "
          "and from each task's memories", small=dict(n_per_task=200, hidden=8))
def nothing_erased(device, progress: bool = True, **settings):
    res = T.sequential_tasks(device, progress=progress, **settings)
    keys = ("accuracy_after_task1", "accuracy_after_task2", "task1_accuracy_without_task2_memories",
            "max_abs_diff_without_task2_vs_after_task1", "shares")
    return draw_task_shares(res), {k: res[k] for k in keys}
