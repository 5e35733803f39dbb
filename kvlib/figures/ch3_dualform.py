"""Chapter 3 figures: the dual-form identity (Eqs 10-11) and its negative controls (paper §2.3),
and Irie et al.'s (2022) spotlights of attention (:mod:`kvlib.attribution`)."""
from __future__ import annotations

import torch

from kvlib import dualform as D
from kvlib.reproduce import register

#: Display names of Chapter 3's optimiser settings.
LABELS = {"sgd": "plain SGD", "momentum": "SGD + momentum\n(approximate)",
          "adam": "Adam\n(approximate)", "weight_decay": "weight decay,\nmemories not decayed",
          "weight_decay_decayed_memories": "weight decay,\ndecayed memories"}


def draw_identity(per_layer: dict[str, dict[str, float]], ax=None, tolerance: float = 1e-10):
    """Log-scale bars: max |trained layer - memory read-out| per setting and layer."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
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
    return ax


@register("dual-form-identity", "3 The dual form",
          "max error of the dual form (Eqs 10-11) for plain SGD and for momentum, Adam, weight decay")
def dual_form_identity(device, progress: bool = True, **settings):
    import matplotlib.pyplot as plt
    res = D.dual_form_identity(device, progress=progress, **settings)
    fig, ax = plt.subplots(figsize=(9, 4))
    draw_identity(res["per_layer"], ax)
    return fig, {"max_abs_error_float64": res["max_abs_error_float64"],
                 "controls": res["controls"], "per_layer": res["per_layer"],
                 "footprint": res["footprint"]}


# ------------------------------------------------------------------ spotlights of attention
#: Fractions of the training patterns at which the concentration curves are read.
CURVE = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def layer_label(i: int, n: int) -> str:
    """'layer 1 (pixels)', 'layer 2', ..., 'layer n (to outputs)'."""
    if i == 0:
        return "layer 1 (input: pixels)"
    return f"layer {i + 1}" + (" (to digits)" if i == n - 1 else "")


def spotlight_views(run, query: int = 0) -> dict:
    """One query's attention, as Irie et al. plot it: per layer, each class's top weights, sorted.

    Also the median weight over all patterns (the bulk the spotlight stands out of).
    """
    from kvlib import attribution as A
    from kvlib.device import cpu_threads
    from kvlib.dualform import layer_io
    if not isinstance(query, int) or not 0 <= query < run.y_query.shape[0]:
        raise ValueError(f"query: expected an int in 0..{run.y_query.shape[0] - 1}, got {query!r}")
    io = layer_io(run.model, run.layers, run.x_query[query:query + 1])
    views = {}
    with cpu_threads(1 if run.x_query.device.type == "cpu" else None):     # small operations
        for name in run.layers:
            att = A.raw_attention(run.recorder.memories[name], io[name][0])[0]
            per_class = A.sorted_per_class(att, run.pattern_labels(name))
            views[name] = {"per_class": [t.tolist() for t in per_class],
                           "median": float(att.median())}
    return {"label": int(run.y_query[query]), "layers": views}


def draw_spotlights(views: dict, curves: dict, title: str = ""):
    """Top: one test digit's per-class sorted attention per layer (the source's view, with the
    median of all patterns dashed). Bottom: share of all attention held by the top fraction of
    patterns, mean over test digits, for the real and the coordinate-shuffled queries."""
    import matplotlib.pyplot as plt
    layers = list(views["layers"])
    fig, axes = plt.subplots(2, len(layers), figsize=(3.6 * len(layers), 6.2), constrained_layout=True)
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


@register("spotlights", "3 The dual form",
          "Irie et al.'s spotlight analysis: raw attention |x.x_t| of test digits over the training "
          "patterns, per layer, and its concentration (--set setting=source for their scale)")
def spotlights(device, progress: bool = True, setting: str = "book", query: int = 0, **changes):
    from kvlib import attribution as A
    cfg = A.SpotlightConfig.named(setting, **changes)
    run = A.train_recorded(cfg, device, progress=progress)
    stats = A.spotlight_stats(run, curve=CURVE)
    curves = stats.pop("curves")
    fig = draw_spotlights(spotlight_views(run, query), curves,
                          f"{run.recorder.footprint()}; test accuracy {100 * run.accuracy():.1f} %")
    config = {k: (str(v) if isinstance(v, torch.dtype) else v) for k, v in vars(cfg).items()}
    return fig, {"config": config, "stats": stats, "curves": curves,
                 "identity_max_abs_error": A.attention_identity_error(run)}
