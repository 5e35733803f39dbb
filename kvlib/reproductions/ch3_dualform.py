"""Chapter 3 rows of the Reproductions page (see :mod:`kvlib.reproductions.registry`).

The source is Irie, Csordás & Schmidhuber (ICML 2022) and its code
(``RobertCsordas/linear_layer_as_attention``, ``tasks/simple/ff_as_attention/``). The
identity rows are algebra (the source's Eqs for the dual form, the review's Eqs 10-11):
exact up to float64 rounding. The spotlight rows compute the source's statistic
(:func:`kvlib.attribution.raw_attention`: ``|x . x_t|`` per training pattern and step, per
layer) with the source's model shape, optimiser and data preparation at the book's CPU scale
(:class:`kvlib.spotlight_run.SpotlightConfig`); the source publishes those findings as figures,
so the rows state them as thresholds, each justified in its note.
"""
from __future__ import annotations

from kvlib.reproductions.registry import at_least, at_most, experiment, row

SOURCE = "Irie, Csordás & Schmidhuber 2022"
PAPER = "https://arxiv.org/abs/2202.05798"
CODE = "https://github.com/RobertCsordas/linear_layer_as_attention"
TASK = f"{CODE}/blob/main/tasks/simple/ff_as_attention/mnist_fmnist_ff_attention.py"
SWITCH = ("python -m kvlib reproduce spotlights --set setting=source "
          "(kvlib.spotlight_run.SpotlightConfig.source())")


def _threads(device):
    from kvlib.device import cpu_threads
    return cpu_threads(1 if device.type == "cpu" else None)   # small steps: one thread is faster


@experiment("ch3-identity")
def _identity(device) -> dict:
    from kvlib.dual_identity import dual_form_identity
    with _threads(device):
        res = dual_form_identity(device, n_train=400, n_test=100, steps=120, hidden=32)
    return {"sgd": res["max_abs_error_float64"],
            "decayed": res["controls"]["weight_decay_decayed_memories"],
            "momentum_unweighted": res["controls"]["momentum"]}


@experiment("ch3-spotlights")
def _spotlights(device) -> dict:
    from kvlib.attribution import attention_identity_error, spotlight_stats
    from kvlib.spotlight_run import SpotlightConfig, train_recorded
    run = train_recorded(SpotlightConfig(), device)          # Chapter 3's run
    with _threads(device):
        stats = spotlight_stats(run)
    layers = [n for n in stats if n != "model"]
    with _threads(device):
        identity = max(attention_identity_error(run).values())
    return {"identity": identity,
            "same_class_input": stats[layers[0]]["same_class_top"],
            "top1_share_max": max(stats[n]["top_0.01"] for n in layers),
            "participation_min": min(stats[n]["participation"] for n in layers)}


row(key="ch3-identity-sgd", chapter=3,
    quantity="Dual form (Eqs 10-11): max |trained layer - its memory|, plain SGD, float64",
    source=SOURCE, where="§2, the dual form of a linear layer (algebra)", url=PAPER,
    source_value="0 (an identity)", expect=at_most(1e-10), experiment="ch3-identity", field="sgd",
    setting="the book's (784-32-10 MLP, 120 steps of plain SGD)",
    note="Exact algebra; the tolerance covers float64 rounding.")

row(key="ch3-identity-weight-decay", chapter=3,
    quantity="Dual form with weight decay, older memories decayed: max |error|, float64",
    source=SOURCE, where="§2 (the same algebra, with each step's decay factor)", url=PAPER,
    source_value="0 (an identity)", expect=at_most(1e-10), experiment="ch3-identity",
    field="decayed", setting="the book's",
    note="The book's extension: decay multiplies every earlier memory by 1 - lr * wd per step.")

row(key="ch3-identity-source-optimiser", chapter=3,
    quantity="Attention weights x . x_t rebuild every layer under the source's optimiser "
             "(SGD, momentum 0.9, gradient clipping 1.0), values re-weighted per step",
    source=SOURCE, where="sweeps/ff_as_attention/*.yaml with the code's SGD (momentum 0.9) "
                         "and grad_clip 1.0",
    url=f"{CODE}/blob/main/tasks/simple/simple_task.py",
    source_value="0 (momentum and clipping re-weight values, keys unchanged)",
    expect=at_most(1e-10), experiment="ch3-spotlights", field="identity",
    setting="the source's optimiser and model shape, book's scale (784-128-128-10, 300 steps)",
    note="Checks that |x . x_t| are exactly the dual form's attention weights in the source's "
         "own training setting.", switch=SWITCH)

row(key="ch3-spotlight-same-class", chapter=3,
    quantity="Spotlights: fraction of the 10 most-attended training patterns that share the "
             "test digit's class, input layer",
    source=SOURCE, where="per-layer top training patterns of a test image (their closest_training "
                         "and labels_500 plots)", url=TASK,
    source_value="the most-attended training patterns resemble the test input",
    expect=at_least(0.5), experiment="ch3-spotlights", field="same_class_input",
    setting="the source's model shape, optimiser and normalisation, book's scale",
    note="Threshold: 5 times chance (10 classes). Deeper layers are lower (Chapter 3).",
    switch=SWITCH)

row(key="ch3-spotlight-concentration", chapter=3,
    quantity="Concentration: share of all attention held by the top 1 % of training patterns "
             "(most concentrated layer)",
    source=SOURCE, where="title and figures: attention over training patterns as 'spotlights'",
    url=PAPER, source_value="attention concentrates on a few training patterns",
    expect=at_least(0.10), experiment="ch3-spotlights", field="top1_share_max",
    setting="the source's model shape, optimiser and normalisation, book's scale",
    note="Threshold: 10 times the uniform share, a lenient reading of 'a few'. The top patterns "
         "stand out (about 3 times the median weight) but hold little of the mass: the "
         "attention is spread over most patterns (participation ratio about 0.75).",
    switch=SWITCH)
