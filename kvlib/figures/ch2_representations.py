"""Chapter 2 figures: learned keys vs fixed scaffolds, and temporal contiguity (paper §2.2)."""
from __future__ import annotations

import torch

from kvlib import representations as R
from kvlib.reproduce import register

#: Display names of the scaffolds, in the chapter's order.
LABELS = {"autoassociative": "autoassociative\n(keys = values)", "random": "random linear\nprojection",
          "index": "structured\nindex", "sdm": "sparse distributed\nmemory (Kanerva)",
          "learned": "learned\nW_k, W_q"}

#: Key-similarity panels under the bars: (name in ``res["similarity"]``, panel title).
PANELS = [("inputs (autoassociative keys)", "inputs (autoassociative keys)"),
          ("learned keys, before", "random projection\n(= learned keys before training)"),
          ("SDM keys (active hard locations)", "SDM keys\n(active hard locations)"),
          ("learned keys, after", "learned keys, after training")]


def draw_scaffolds(res: dict, fig=None):
    """Accuracy bars (look-alike and mixed episodes) above key-similarity matrices."""
    import matplotlib.pyplot as plt
    fig = fig or plt.figure(figsize=(12, 6.6))
    gs = fig.add_gridspec(2, 4, height_ratios=[1, 1.1], hspace=0.5, wspace=0.35)
    ax = fig.add_subplot(gs[0, :])
    kinds = list(res["accuracy"])
    pos = torch.arange(len(kinds)).float()
    ax.bar(pos - 0.2, [res["accuracy"][k] for k in kinds], 0.4, label="look-alike items (one digit class)")
    ax.bar(pos + 0.2, [res["accuracy_mixed"][k] for k in kinds], 0.4, label="mixed items (all classes)")
    ax.set_xticks(pos.tolist(), [LABELS.get(k, k) for k in kinds])
    ax.set_ylabel("retrieval accuracy")
    ax.set_ylim(0, 1.18)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.axhline(1 / res["example"].shape[0], color="k", lw=0.8, ls=":", label="chance")
    ax.legend(loc="upper center", fontsize=8, ncol=3)
    ax.set_title("Which item does a corrupted cue retrieve? (new test digits)")
    panels = [(n, t) for n, t in PANELS if n in res["similarity"]]
    for i, (name, title) in enumerate(panels):
        a = fig.add_subplot(gs[1, i])
        sim = res["similarity"][name].cpu()
        im = a.imshow(sim, vmin=-1, vmax=1, cmap="RdBu_r")
        a.set_title(f"{title}\nmean off-diagonal {res['offdiag'][name]:.2f}", fontsize=8)
        a.set_xlabel("item")
        a.set_ylabel("item")
    fig.colorbar(im, ax=fig.axes[-len(panels):], shrink=0.8, label="cosine similarity of keys")
    return fig


@register("learned-vs-random-keys", "2 Representational structure",
          "retrieval accuracy of learned keys vs random-projection, index, SDM and "
          "autoassociative scaffolds")
def learned_vs_random_keys(device, progress: bool = True, seed: int = 0, train_steps: int = 400,
                           **settings):
    res = R.compare_scaffolds(device, seed=seed, train_steps=train_steps, progress=progress,
                              **settings)
    fig = draw_scaffolds(res)
    return fig, {"accuracy": res["accuracy"], "accuracy_mixed": res["accuracy_mixed"],
                 "offdiag": res["offdiag"], "sdm": res["sdm"]}


def draw_crp(curves: dict, ax=None):
    """CRP-by-lag curves, one per label (each ``(lags, crp)``)."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for i, (label, (lags, crp)) in enumerate(curves.items()):
        lags, crp = lags.cpu(), crp.cpu()
        for side in (lags < 0, lags > 0):                  # the curve is broken at lag 0
            ax.plot(lags[side], crp[side], "o-", color=f"C{i}", label=label if side[0] else None)
    ax.set_xlabel("lag (serial position of next recall - current)")
    ax.set_ylabel("conditional response probability")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title("Temporal contiguity in free recall")
    return ax


@register("temporal-contiguity", "2 Representational structure",
          "CRP by lag from a memory keyed by a drifting temporal context, and without drift")
def temporal_contiguity(device, progress: bool = True, drift: float = 0.5, seed: int = 0,
                        **settings):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    curves = {f"drifting context (drift {drift})": R.temporal_contiguity(drift, seed=seed,
                                                                        device=device, **settings),
              "no drift (one shared context)": R.temporal_contiguity(0.0, seed=seed, device=device,
                                                                      **settings),
              "fresh random context per item": R.temporal_contiguity(1.0, seed=seed, device=device,
                                                                     **settings)}
    draw_crp(curves, ax)
    lags, crp = next(iter(curves.values()))
    return fig, {"lags": lags, "crp": _nan_to_none(crp), "drift": drift,
                 "crp_no_drift": _nan_to_none(curves["no drift (one shared context)"][1]),
                 "crp_fresh_context": _nan_to_none(curves["fresh random context per item"][1])}


def _nan_to_none(t: torch.Tensor) -> list:
    """JSON has no NaN: the undefined lag-0 entry becomes null."""
    return [None if v != v else v for v in t.tolist()]
