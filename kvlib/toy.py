"""Keys and values learn different geometries: the toy simulation of paper §5.1 (Figure 2).

Every memory is a trainable pair of 2-D vectors (k_n, v_n); there is no map from
inputs to keys. Each key in turn is used as a query, attends to all keys by
scaled dot product and softmax (Eqs 5-6),
and reads out the attention-weighted mean of sigmoid(values) (Eq 2). The loss is
the mean squared error to the class feature of the query's pair. Optimising keys
and values jointly with Adam shows keys spreading apart to be told apart, while
values settle on the class features.

Published setting (the default here, following the authors' notebooks): seed 42,
keys and values uniform in [0, 1), classes drawn uniformly at random per pair
(``torch.randint``), class features (1, 0), (0, 1) and (1, 1). The paper's methods
section describes exactly 100 pairs per class instead: ``balanced=True``.

Whether a key is also trained through its role as a query matters: with the
query detached (``detach_queries=True``), 5,000 Adam steps at 3e-4 leave the loss
at chance; letting gradients flow through the query
(the default) gives the paper's picture, classes in opposite quadrants. Chapter 6
runs both.

Explained in Chapter 6, §"Keys for finding, values for storing".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar

__all__ = ["CLASS_FEATURES", "ToyRun", "init_pairs", "toy_readout", "train_toy"]

#: Class feature vectors: the published notebooks' order (the text swaps classes 0 and 1).
CLASS_FEATURES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])

#: Paper settings per number of classes: (pairs, Adam steps).
PAPER_SIZES = {2: (200, 5000), 3: (300, 10000)}


@dataclass
class ToyRun:
    """Trajectories of one optimisation: ``keys[t]``/``values[t]`` are ``(N, 2)`` snapshots.

    ``values`` are after the sigmoid (what the memory actually reads out);
    ``steps[t]`` is the Adam step of snapshot t, ``loss[s]`` the loss at every step.
    """

    keys: torch.Tensor      # (S, N, 2)
    values: torch.Tensor    # (S, N, 2), sigmoid applied
    steps: torch.Tensor     # (S,)
    loss: torch.Tensor      # (n_steps,)
    classes: torch.Tensor   # (N,)
    n_classes: int

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])


def init_pairs(n_pairs: int, n_classes: int, seed: int = 42, balanced: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Initial keys ``(N, 2)``, raw values ``(N, 2)`` and classes ``(N,)``, as in the paper.

    With ``balanced=False`` the random draws follow the published notebooks' order
    (keys, values, then classes with ``randint``), so seed 42 gives their figure.
    """
    if not isinstance(n_pairs, int) or n_pairs < n_classes:
        raise ValueError(f"n_pairs: expected an int >= n_classes ({n_classes}), got {n_pairs!r}")
    if n_classes not in (2, 3):
        raise ValueError(f"n_classes: expected 2 or 3, got {n_classes!r}")
    # The published notebook draws keys with randn(...).uniform_(0, 1): the randn draw is
    # consumed, then overwritten. Reproducing that order reproduces its figure.
    g = torch.Generator().manual_seed(seed)
    torch.randn(n_pairs, 2, generator=g)
    keys = torch.empty(n_pairs, 2).uniform_(0, 1, generator=g)
    values = torch.rand(n_pairs, 2, generator=g)
    if balanced:
        classes = torch.arange(n_pairs) % n_classes
        classes = classes[torch.randperm(n_pairs, generator=g)]
    else:
        classes = torch.randint(0, n_classes, (n_pairs,), generator=g)
    return keys, values, classes


def toy_readout(keys: torch.Tensor, values: torch.Tensor, queries: torch.Tensor | None = None,
                scale: float | None = None, detach_queries: bool = False) -> torch.Tensor:
    """Eq 2 with Eqs 5-6: ``softmax(scale * q K^T) sigmoid(V)``; ``(B, 2)``.

    ``queries`` default to the keys themselves (detached if ``detach_queries``, so a key
    is then not trained in its role as a query). ``scale`` defaults to ``1/sqrt(d)`` (Eq 5).
    """
    if keys.ndim != 2 or values.shape != keys.shape:
        raise ValueError(f"keys, values: expected two (N, d) tensors of one shape, got "
                         f"{tuple(keys.shape)} and {tuple(values.shape)}")
    q = (keys.detach() if detach_queries else keys) if queries is None else queries
    s = 1.0 / math.sqrt(keys.shape[1]) if scale is None else scale
    attn = torch.softmax(s * q @ keys.T, dim=-1)        # (B, N)
    return attn @ torch.sigmoid(values)                   # (B, d)


def train_toy(n_classes: int = 2, n_pairs: int | None = None, steps: int | None = None,
              lr: float = 3e-4, seed: int = 42, balanced: bool = False,
              scale: float | None = None, detach_queries: bool = False, snapshots: int = 100,
              device: str | torch.device = "cpu", progress: bool = False) -> ToyRun:
    """Optimise keys and values jointly with Adam (paper §5.1); return the trajectories.

    Defaults are the paper's: 200 pairs and 5,000 steps for two classes, 300 and
    10,000 for three, learning rate 3e-4. The loop over steps is the point here
    (an optimisation), so it is a Python loop; each step is one batched computation.
    """
    if n_classes not in PAPER_SIZES:
        raise ValueError(f"n_classes: expected 2 or 3, got {n_classes!r}")
    n_pairs = PAPER_SIZES[n_classes][0] if n_pairs is None else n_pairs
    steps = PAPER_SIZES[n_classes][1] if steps is None else steps
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps: expected a positive int, got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr: expected a positive number, got {lr!r}")
    keys0, values0, classes = init_pairs(n_pairs, n_classes, seed, balanced)
    keys = keys0.clone().to(device).requires_grad_(True)
    values = values0.clone().to(device).requires_grad_(True)
    target = CLASS_FEATURES[:n_classes].to(device)[classes.to(device)]   # (N, 2)
    opt = torch.optim.Adam([keys, values], lr=lr)
    every = max(1, steps // snapshots)
    snap_k, snap_v, snap_s = [keys0.clone()], [torch.sigmoid(values0)], [0]
    losses = torch.empty(steps)
    # Tensors of a few hundred numbers: one thread is fastest (the setting is restored).
    with cpu_threads(1):
        for step in progress_bar(range(1, steps + 1), enabled=progress, desc=f"{n_classes} classes"):
            loss = torch.nn.functional.mse_loss(
                toy_readout(keys, values, scale=scale, detach_queries=detach_queries), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[step - 1] = loss.detach()
            if step % every == 0 or step == steps:
                snap_k.append(keys.detach().cpu().clone())
                snap_v.append(torch.sigmoid(values.detach()).cpu())
                snap_s.append(step)
    return ToyRun(torch.stack(snap_k), torch.stack(snap_v), torch.tensor(snap_s), losses,
                  classes, n_classes)
