"""Where the toy's keys and values end up: measurements of a :class:`kvlib.toy.ToyRun` (paper §5.1).

Figure 2's claim is about geometry: the keys spread the classes apart (the two classes'
keys go to opposite quadrants, their mean directions point away from each other), while
the values settle on the class features. Each function here turns one snapshot of a run
(``at_step``: an Adam step at which a snapshot was taken; ``None``: the last) into one
number of that claim, so Chapter 6 can quote them and the tests can check them:

* :func:`quadrant_share`: % of keys in their class's quadrant (two classes);
* :func:`class_direction_cosine`: largest cosine between two classes' mean keys;
* :func:`value_gap`: largest distance of a class's mean value from its feature;
* :func:`value_progress`: how much of that distance is closed by a step (%);
* :func:`key_drift`: how far the keys moved, overall and per step late in the run.

Explained in Chapter 6, §"Keys for finding, values for storing".
"""
from __future__ import annotations

import torch

from kvlib import _checks as check
from kvlib.toy import CLASS_FEATURES, ToyRun

__all__ = ["snapshot_index", "quadrant_share", "class_direction_cosine", "value_gap", "value_progress",
           "key_drift"]


def _toy_run(run: object) -> ToyRun:
    if not isinstance(run, ToyRun):
        raise TypeError(f"run: expected a ToyRun (from kvlib.toy.train_toy), got {type(run).__name__}")
    return run


def snapshot_index(run: ToyRun, at_step: int | None = None) -> int:
    """Index t of the snapshot ``run.keys[t]`` taken at Adam step ``at_step`` (``None``: the last).

    >>> from kvlib.toy import train_toy
    >>> snapshot_index(train_toy(2, n_pairs=4, steps=10, snapshots=5), at_step=4)
    2
    """
    return _index(_toy_run(run), at_step, "at_step")


def _index(run: ToyRun, step: object, name: str) -> int:
    if step is None:
        return run.steps.shape[0] - 1
    step = check.count(name, step)
    hits = (run.steps == step).nonzero()
    if not hits.numel():
        raise ValueError(f"{name}: expected an Adam step with a snapshot (one of "
                         f"{run.steps.tolist()[:6]}{', ...' if len(run.steps) > 6 else ''}), got {step}")
    return int(hits[0])


def quadrant_share(run: ToyRun, at_step: int | None = None) -> float:
    """% of keys in the quadrant of their class: class 0's quadrant is the sign pattern of
    its mean key, class 1's the opposite one (two classes only).

    >>> from kvlib.toy import train_toy
    >>> 0.0 <= quadrant_share(train_toy(2, n_pairs=6, steps=3)) <= 100.0
    True
    """
    run = _toy_run(run)
    if run.n_classes != 2:
        raise ValueError(f"run: expected a two-class run (opposite quadrants), got {run.n_classes} classes")
    k, c = run.keys[snapshot_index(run, at_step)], run.classes          # (N, 2), (N,)
    sign0 = torch.sign(k[c == 0].mean(0))                               # class 0's quadrant
    inside = torch.cat([(torch.sign(k[c == 0]) == sign0).all(1), (torch.sign(k[c == 1]) == -sign0).all(1)])
    return 100 * inside.float().mean().item()


def _class_means(x: torch.Tensor, classes: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Mean row of ``x`` (N, d) per class: (C, d); a class without rows gives NaN."""
    onehot = torch.nn.functional.one_hot(classes, n_classes).to(x)      # (N, C)
    return (onehot.T @ x) / onehot.sum(0)[:, None]


def class_direction_cosine(run: ToyRun, at_step: int | None = None) -> float:
    """The largest cosine between the mean key directions of two classes (1: the keys do not
    tell the classes apart by direction; -1: two classes point in opposite directions).

    >>> from kvlib.toy import train_toy
    >>> -1.0 <= class_direction_cosine(train_toy(3, n_pairs=9, steps=3)) <= 1.0
    True
    """
    run = _toy_run(run)
    means = _class_means(run.keys[snapshot_index(run, at_step)], run.classes, run.n_classes)  # (C, 2)
    unit = means / means.norm(dim=1, keepdim=True)
    off = ~torch.eye(run.n_classes, dtype=torch.bool)
    return (unit @ unit.T)[off].max().item()


def value_gap(run: ToyRun, at_step: int | None = None) -> float:
    """The largest distance of a class's mean value (after the sigmoid) from its class feature.

    >>> from kvlib.toy import train_toy
    >>> value_gap(train_toy(2, n_pairs=6, steps=3)) > 0
    True
    """
    run = _toy_run(run)
    means = _class_means(run.values[snapshot_index(run, at_step)], run.classes, run.n_classes)  # (C, 2)
    return (means - CLASS_FEATURES[:run.n_classes].to(means)).norm(dim=1).max().item()


def value_progress(run: ToyRun, at_step: int) -> float:
    """% of the values' whole approach to their features done by Adam step ``at_step``:
    ``100 (gap(0) - gap(at_step)) / (gap(0) - gap(end))`` with :func:`value_gap`."""
    run = _toy_run(run)
    at_step = check.count("at_step", at_step)
    start, end = value_gap(run, 0), value_gap(run)
    if start == end:
        raise ValueError("run: the values' gap did not change over the run, so no share of it can be done")
    return 100 * (start - value_gap(run, at_step)) / (start - end)


def key_drift(run: ToyRun, since_step: int) -> dict[str, float]:
    """How far the keys moved: ``"moved"``, the mean length of each key's whole displacement,
    and ``"late"``, the mean change per coordinate and per Adam step after ``since_step``, in
    learning rates (Adam moves a coordinate by at most about ``lr`` a step, so ``late`` near 1
    means the keys still move at full speed, near 0 that they have settled)."""
    run = _toy_run(run)
    t = _index(run, since_step, "since_step")
    n_steps = int(run.steps[-1] - run.steps[t])
    if n_steps < 1:
        raise ValueError(f"since_step: expected a step before the last one ({int(run.steps[-1])}), "
                         f"got {since_step}")
    moved = (run.keys[-1] - run.keys[0]).norm(dim=1).mean().item()
    late = (run.keys[-1] - run.keys[t]).abs().mean().item() / (n_steps * run.setting.lr)
    return {"moved": moved, "late": late}
