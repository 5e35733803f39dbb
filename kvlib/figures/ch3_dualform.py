"""Chapter 3 figure: the dual-form identity (Eqs 10-11) and its negative controls (paper §2.3)."""
from __future__ import annotations

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
