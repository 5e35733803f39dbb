"""Chapter 2 figures: learned keys against fixed scaffolds, and temporal contiguity (paper §2.2).

Each figure is compute → result → draw: the registered functions call
:mod:`kvlib.keymaps`, :mod:`kvlib.lookalikes` or :mod:`kvlib.temporal_context` and hand the
result to a ``draw_*`` function below, which the chapter calls on the same result. ``small``
settings make each run in a second or two for the test suite.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from kvlib import keymaps, lookalikes
from kvlib import temporal_context as tc
from kvlib.figures.registry import register

CHAPTER = "2 Representational structure"
#: compare_scaffolds settings small enough for the figure smoke test.
SMALL_SCAFFOLDS = {"train_steps": 5, "n_test_episodes": 4, "n_locations": 500, "n_items": 8}
SMALL_LISTS = {"n_lists": 50}

#: Display names of the scaffolds, in the chapter's order.
LABELS = {"autoassociative": "autoassociative\n(keys = values)", "random": "random linear\nprojection",
          "index": "structured\nindex", "sdm": "sparse distributed\nmemory (Kanerva)",
          "learned": "learned\nW_k, W_q"}

#: Key-similarity panels under the bars: (name in ``res["similarity"]``, panel title).
PANELS = [("inputs (autoassociative keys)", "inputs (autoassociative keys)"),
          ("learned keys, before", "random projection\n(= learned keys before training)"),
          ("SDM keys (active hard locations)", "SDM keys\n(active hard locations)"),
          ("learned keys, after", "learned keys, after training")]


def _nan_to_none(t: torch.Tensor) -> list:
    """JSON has no NaN: the undefined lag-0 entry of a CRP becomes null."""
    return [None if v != v else v for v in t.tolist()]


# ----------------------------------------------------------------------------- drawing
def draw_episode(x: torch.Tensor, cues: torch.Tensor, fig=None, n_show: int = 8):
    """The first ``n_show`` stored digits ``x`` of an episode (top) and their ``cues`` (``(N, 784)`` each)."""
    fig = fig or plt.figure(figsize=(9, 2.6))
    n_show = min(n_show, x.shape[0])
    axes = fig.subplots(2, n_show, squeeze=False)
    for i in range(n_show):
        axes[0, i].imshow(x[i].view(28, 28).cpu().numpy(), cmap="gray")
        axes[1, i].imshow(cues[i].view(28, 28).cpu().numpy(), cmap="gray")
    for a in axes.flat:
        a.set_xticks([])
        a.set_yticks([])
    axes[0, 0].set_ylabel("stored", fontsize=9)
    axes[1, 0].set_ylabel("cue", fontsize=9)
    fig.suptitle("Part of one look-alike test episode: stored digits and the cues that ask for them")
    return fig


def draw_loss(res: dict, ax=None):
    """The training loss of the learned key and query maps (``res["loss"]``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 2.4))
    ax.plot(res["loss"], lw=1)
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy")
    ax.set_title("Learning W_k and W_q on look-alike episodes")
    return ax.figure


def draw_scaffolds(res: dict, fig=None):
    """Accuracy bars (look-alike and mixed episodes) above key-similarity matrices."""
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
        im = a.imshow(res["similarity"][name].cpu().numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
        a.set_title(f"{title}\nmean off-diagonal {res['offdiag'][name]:.2f}", fontsize=8)
        a.set_xlabel("item")
        a.set_ylabel("item")
    fig.colorbar(im, ax=fig.axes[-len(panels):], shrink=0.8, label="cosine similarity of keys")
    return fig


def draw_attention(res: dict, fig=None):
    """Attention of each cue on each stored digit of the example episode, raw vs learned keys."""
    fig = fig or plt.figure(figsize=(9, 4.2))
    axes = fig.subplots(1, len(res["attention"]))
    for ax, (kind, (weights, _)) in zip(axes, res["attention"].items()):
        im = ax.imshow(weights.cpu().numpy(), cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"{kind} keys\nmean weight on the right digit: "
                     f"{float(weights.diagonal().mean()):.2f}", fontsize=9)
        ax.set_xlabel("stored digit")
        ax.set_ylabel("cue")
    fig.colorbar(im, ax=axes, shrink=0.8, label="attention weight")
    return fig


def draw_context_similarity(sims: dict, fig=None):
    """Mean similarity of context keys by list position, one panel per drift rate (``{drift: (T, T)}``)."""
    fig = fig or plt.figure(figsize=(10.5, 3.3))
    axes = fig.subplots(1, len(sims))
    for ax, (drift, sim) in zip(axes, sims.items()):
        im = ax.imshow(sim.cpu().numpy(), vmin=0, vmax=1, cmap="magma")
        ax.set_title(f"drift rate {drift}", fontsize=9)
        ax.set_xlabel("list position")
    axes[0].set_ylabel("list position")
    fig.colorbar(im, ax=axes, shrink=0.8, label="key similarity")
    return fig


def draw_crp(curves: dict, ax=None, title: str = "Temporal contiguity in free recall"):
    """CRP-by-lag curves, one per label (each ``(lags, crp)``), broken at lag 0."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, (label, (lags, crp)) in enumerate(curves.items()):
        lags, crp = lags.cpu().numpy(), crp.cpu().numpy()
        for side in (lags < 0, lags > 0):
            ax.plot(lags[side], crp[side], "o-", color=f"C{i}", label=label if side[0] else None)
    ax.set_xlabel("lag (serial position of next recall - current)")
    ax.set_ylabel("conditional response probability")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return ax.figure


def draw_crp_at(fig, drift: float, *, sweep: dict):
    """One state of the drift-rate control: the CRP at ``drift``, read from ``sweep``.

    ``sweep``: :func:`kvlib.temporal_context.contiguity_by_drift`'s ``{drift: (lags, crp)}``;
    used with :func:`kvlib.notebook.interact`, one drawing for the live control and its twin.
    """
    ax = fig.subplots()
    draw_crp({f"drift rate {drift:.1f}": sweep[drift]}, ax,
             title=f"Temporal contiguity, drift rate {drift:.1f}")
    ax.set_xlim(-5.5, 5.5)
    ax.set_ylim(0, 1)
    return fig


# -------------------------------------------------------------------- registered figures
@register("lookalike-episode", CHAPTER, "stored digits of one look-alike test episode and their cues")
def lookalike_episode(device, progress: bool = True, seed: int = 0):
    ep = lookalikes.mnist_example_episode(device, seed=seed)
    return draw_episode(ep.x[0], ep.cues[0]), {"n_items": ep.x.shape[1], "seed": seed}


def _scaffold_data(res: dict) -> dict:
    return {"accuracy": res["accuracy"], "accuracy_mixed": res["accuracy_mixed"],
            "offdiag": res["offdiag"], "sdm": res["sdm"]}


@register("learned-keys-loss", CHAPTER, "training loss of the learned key and query maps",
          small=SMALL_SCAFFOLDS)
def learned_keys_loss(device, progress: bool = True, seed: int = 0, train_steps: int = 400,
                      n_test_episodes: int = 200, n_locations: int = 10_000, n_items: int = 32):
    res = keymaps.compare_scaffolds(device, seed=seed, train_steps=train_steps, progress=progress,
                                    n_test_episodes=n_test_episodes, n_locations=n_locations, n_items=n_items)
    return draw_loss(res), {"loss": res["loss"]}


@register("learned-vs-random-keys", CHAPTER,
          "retrieval accuracy of learned keys vs random-projection, index, SDM and "
          "autoassociative scaffolds", small=SMALL_SCAFFOLDS)
def learned_vs_random_keys(device, progress: bool = True, seed: int = 0, train_steps: int = 400,
                           n_test_episodes: int = 200, n_locations: int = 10_000, n_items: int = 32):
    res = keymaps.compare_scaffolds(device, seed=seed, train_steps=train_steps, progress=progress,
                                    n_test_episodes=n_test_episodes, n_locations=n_locations, n_items=n_items)
    return draw_scaffolds(res), _scaffold_data(res)


@register("attention-maps", CHAPTER, "attention of cues on look-alike digits, raw pixels vs learned keys",
          small=SMALL_SCAFFOLDS)
def attention_maps(device, progress: bool = True, seed: int = 0, train_steps: int = 400,
                   n_test_episodes: int = 200, n_locations: int = 10_000, n_items: int = 32):
    res = keymaps.compare_scaffolds(device, seed=seed, train_steps=train_steps, progress=progress,
                                    n_test_episodes=n_test_episodes, n_locations=n_locations, n_items=n_items)
    return draw_attention(res), {k: {"beta": b, "mean_weight_on_right_item": float(w.diagonal().mean())}
                                 for k, (w, b) in res["attention"].items()}


@register("context-similarity", CHAPTER, "similarity of drifting-context keys by list position",
          small=SMALL_LISTS)
def context_similarity(device, progress: bool = True, n_lists: int = 500, seed: int = 0):
    sims = {d: tc.context_similarity(d, n_lists=n_lists, seed=seed) for d in (0.0, 0.5, 1.0)}
    return draw_context_similarity(sims), {str(d): s for d, s in sims.items()}


def _three_curves(device, drift: float, seed: int, n_lists: int) -> dict:
    kw = {"seed": seed, "device": device, "n_lists": n_lists}
    return {f"drifting context (drift {drift})": tc.temporal_contiguity(drift, **kw),
            "no drift (one shared context)": tc.temporal_contiguity(0.0, **kw),
            "fresh random context per item": tc.temporal_contiguity(1.0, **kw)}


@register("temporal-contiguity", CHAPTER,
          "CRP by lag from a memory keyed by a drifting temporal context, and without drift",
          small=SMALL_LISTS)
def temporal_contiguity(device, progress: bool = True, drift: float = 0.5, seed: int = 0,
                        n_lists: int = 2000):
    curves = _three_curves(device, drift, seed, n_lists)
    lags, crp = next(iter(curves.values()))
    return draw_crp(curves), {"lags": lags, "crp": _nan_to_none(crp), "drift": drift,
                              "crp_no_drift": _nan_to_none(curves["no drift (one shared context)"][1]),
                              "crp_fresh_context": _nan_to_none(curves["fresh random context per item"][1])}


@register("crp-by-drift", CHAPTER, "CRP by lag as the context's drift rate goes from 0 to 1",
          small=SMALL_LISTS)
def crp_by_drift(device, progress: bool = True, n_lists: int = 1000, seed: int = 0):
    sweep = tc.contiguity_by_drift([0.0, 0.2, 0.5, 0.8, 1.0], n_lists=n_lists, seed=seed, device=device)
    fig = draw_crp({f"drift {d}": c for d, c in sweep.items()}, title="Contiguity appears with a slow drift")
    return fig, {"lags": next(iter(sweep.values()))[0],
                 **{f"crp_drift_{d}": _nan_to_none(c) for d, (_, c) in sweep.items()}}
