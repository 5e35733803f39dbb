"""A retrieval task with look-alike items: episodes of stored digits, partial noisy cues, a score.

Chapter 2 (paper §2.2) compares ways of giving a memory its addresses on one task. An
*episode* stores ``N`` MNIST digits; each stored digit is then cued by a damaged copy of
itself (:func:`partial_noisy_cue`: pixels kept at random, Gaussian noise added), and a memory
answers correctly when its largest query-key score falls on the cued digit
(:func:`diagonal_accuracy`). In a *look-alike* episode all digits come from one class, so the
inputs are strongly correlated; in a *mixed* episode they come from all classes. The task is
ours, built to be hard for addresses that are not learned; the review describes no such test.

Any memory with a method ``scores(cues, x) -> (B, N, N)`` can be scored
(:func:`cued_item_accuracy`): the key maps of :mod:`kvlib.keymaps` and Kanerva's memory of
:mod:`kvlib.sdm`. Explained in Chapter 2, §A retrieval task with look-alike items.

Axis vocabulary (``book/appendix/notation.md``): B episodes, N items per episode, d pixels,
C classes. Random numbers are drawn on the CPU from the caller's generator, so every device
sees the same episodes.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from kvlib import _checks as check
from kvlib.device import generator as seed_stream

__all__ = ["class_table", "sample_episodes", "partial_noisy_cue", "EpisodeBatch", "make_episodes",
           "mnist_test_episodes", "mnist_example_episode", "diagonal_accuracy", "cued_item_accuracy"]


def _generator(name: str, g: object) -> torch.Generator:
    """A generator is required here (the episodes must be reproducible)."""
    if check.generator(name, g) is None:
        raise TypeError(f"{name}: expected a torch.Generator, got None")
    return g


def class_table(y: torch.Tensor, per_class: int | None = None) -> torch.Tensor:
    """Indices of each class's examples as a ``(C, per_class)`` table (the first ``per_class`` of each).

    ``y``: integer labels ``(n,)``. ``per_class`` defaults to the size of the rarest class.

    >>> class_table(torch.tensor([1, 0, 1, 0, 0])).tolist()
    [[1, 3], [0, 2]]

    Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    y = check.tensor("y", y, ndim=1, dtype="int", nonempty=True)
    classes, counts = torch.unique(y, return_counts=True)
    rarest = int(counts.min())
    m = rarest if per_class is None else check.count("per_class", per_class, 1)
    if m > rarest:
        raise ValueError(f"per_class: expected at most {rarest} (the rarest class), got {m}")
    order = torch.sort(y, stable=True).indices           # each class's examples in data-set order
    starts = torch.cumsum(counts, 0) - counts
    return torch.stack([order[s:s + m] for s in starts.tolist()])     # (C, m)


def sample_episodes(table: torch.Tensor, n_episodes: int, n_items: int, correlated: bool,
                    generator: torch.Generator) -> torch.Tensor:
    """Draw ``(n_episodes, n_items)`` example indices, distinct within each episode.

    ``table``: a :func:`class_table`. ``correlated=True``: every item of an episode comes from
    one class (look-alikes); ``False``: items come from all classes.
    Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    table = check.tensor("table", table, ndim=2, dtype="int", nonempty=True)
    n_episodes = check.count("n_episodes", n_episodes, 1)
    n_items = check.count("n_items", n_items, 2)
    check.flag("correlated", correlated)
    _generator("generator", generator)
    C, m = table.shape
    if correlated:
        if n_items > m:
            raise ValueError(f"n_items: expected at most {m} (examples per class), got {n_items}")
        cls = torch.randint(C, (n_episodes,), generator=generator)                  # (B,)
        pick = torch.rand(n_episodes, m, generator=generator).topk(n_items, -1).indices   # (B, N) distinct
        return table[cls[:, None].to(table.device), pick.to(table.device)]          # (B, N)
    flat = table.reshape(-1)
    if n_items > flat.numel():
        raise ValueError(f"n_items: expected at most {flat.numel()} (examples in the table), got {n_items}")
    pick = torch.rand(n_episodes, flat.numel(), generator=generator).topk(n_items, -1).indices
    return flat[pick.to(table.device)]


def partial_noisy_cue(x: torch.Tensor, keep: float, noise: float,
                      generator: torch.Generator) -> torch.Tensor:
    """A partial, noisy cue: keep each entry of ``x`` with probability ``keep``, add Gaussian ``noise``.

    ``x * mask + noise * eps`` with ``mask ~ Bernoulli(keep)`` and ``eps ~ N(0, 1)``, drawn on
    the CPU from ``generator``. Integer images (e.g. ``uint8``) are converted to floating point
    exactly first (not rescaled), so the noise is never truncated away.
    Explained in Chapter 2, §A retrieval task with look-alike items.

    >>> cue = partial_noisy_cue(torch.full((2, 3), 200, dtype=torch.uint8), 1.0, 0.5,
    ...                         torch.Generator().manual_seed(0))
    >>> cue.dtype, bool((cue != 200).all())
    (torch.float32, True)
    """
    x = check.tensor("x", x, dtype="float")
    keep = check.probability("keep", keep)
    noise = check.number("noise", noise, low=0.0)
    _generator("generator", generator)
    mask = (torch.rand(x.shape, generator=generator) < keep).to(x.device, x.dtype)
    eps = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
    return x * mask + noise * eps


@dataclass
class EpisodeBatch:
    """Stored items ``x`` ``(B, N, d)`` and their cues ``cues`` ``(B, N, d)``; cue i asks for item i."""

    x: torch.Tensor
    cues: torch.Tensor

    def __post_init__(self) -> None:
        self.x = check.tensor("x", self.x, ndim=3, nonempty=True)
        self.cues = check.tensor("cues", self.cues, ndim=3, nonempty=True)
        x, c = self.x, self.cues
        if c.shape != x.shape or c.dtype != x.dtype or c.device != x.device:
            raise ValueError(f"x, cues: expected one cue per item, alike in shape (B, N, d), dtype "
                             f"and device; got {tuple(x.shape)} {x.dtype} {x.device} and "
                             f"{tuple(c.shape)} {c.dtype} {c.device}")


def make_episodes(images: torch.Tensor, table: torch.Tensor, n_episodes: int, n_items: int,
                  correlated: bool, keep: float, noise: float, generator: torch.Generator
                  ) -> EpisodeBatch:
    """Episodes of the task: store ``n_items`` of ``images`` (``(n, d)``), cue each with a damaged copy.

    ``table`` is the :func:`class_table` of the images' labels; the cues come from
    :func:`partial_noisy_cue`. Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    images = check.tensor("images", images, ndim=2, nonempty=True)
    table = check.tensor("table", table, ndim=2, dtype="int", nonempty=True)
    if int(table.min()) < 0 or int(table.max()) >= images.shape[0]:
        raise ValueError(f"table: expected indices into the {images.shape[0]} images, got values "
                         f"from {int(table.min())} to {int(table.max())}")
    idx = sample_episodes(table, n_episodes, n_items, correlated, generator)     # (B, N)
    x = images[idx.to(images.device)]                                             # (B, N, d)
    return EpisodeBatch(x, partial_noisy_cue(x, keep, noise, generator))


@functools.lru_cache(maxsize=2)
def _mnist_test_set(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST's test digits ``(10000, 784)`` and their class table, once per device (read-only use)."""
    from kvlib.data import load_classes
    x, y = load_classes("mnist", list(range(10)), train=False, device=device)
    return x, class_table(y.cpu()).to(device)


def _task_settings(n_items: object, keep: object, noise: object, n_episodes: object, seed: object,
                   n_episodes_name: str = "n_episodes") -> None:
    """Check the task's settings before any data are loaded (so bad input fails fast)."""
    check.count("n_items", n_items, 2)
    check.probability("keep", keep)
    check.number("noise", noise, low=0.0)
    check.count(n_episodes_name, n_episodes, 1)
    check.seed("seed", seed)


def mnist_test_episodes(device: str | torch.device = "cpu", *, correlated: bool = True,
                        n_items: int = 32, keep: float = 0.5, noise: float = 0.3,
                        n_episodes: int = 200, seed: int = 0) -> EpisodeBatch:
    """Chapter 2's test episodes: ``n_episodes`` episodes of new MNIST test digits (LeCun et al. 1998).

    ``correlated``: look-alike episodes (one class each) or mixed ones. Drawn from the seed
    stream ``"test episodes"`` of ``seed``, so the same ``seed`` gives the chapter's cues.
    Explained in Chapter 2, §Accuracy of each scaffold.
    """
    dev = check.device("device", device)
    check.flag("correlated", correlated)
    _task_settings(n_items, keep, noise, n_episodes, seed)
    x, table = _mnist_test_set(dev)
    g = seed_stream(seed, "test episodes")
    return make_episodes(x, table, n_episodes, n_items, correlated, keep, noise, g)


def mnist_example_episode(device: str | torch.device = "cpu", *, n_items: int = 32, keep: float = 0.5,
                          noise: float = 0.3, seed: int = 0) -> EpisodeBatch:
    """The one look-alike test episode the chapter shows (``B = 1``; seed stream ``"example episode"``).

    Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    dev = check.device("device", device)
    _task_settings(n_items, keep, noise, 1, seed)
    x, table = _mnist_test_set(dev)
    g = seed_stream(seed, "example episode")
    return make_episodes(x, table, 1, n_items, True, keep, noise, g)


def diagonal_accuracy(scores: torch.Tensor, seed: int = 0) -> float:
    """Fraction of rows of ``scores`` ``(..., N, N)`` whose largest entry is on the diagonal.

    Row ``i`` holds cue ``i``'s score for every stored item, so this is the fraction of cues
    that retrieve their own item. Ties (the SDM's integer scores have them; continuous scores
    do not) are broken uniformly at random with ``seed``, drawn on the CPU.

    >>> diagonal_accuracy(torch.tensor([[[2., 1.], [0., 3.]]]))
    1.0
    """
    scores = check.tensor("scores", scores, nonempty=True)
    if scores.ndim < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores: expected square (..., N, N) scores, got shape {tuple(scores.shape)}")
    seed = check.seed("seed", seed)
    top = scores == scores.amax(-1, keepdim=True)
    u = torch.rand(scores.shape, generator=torch.Generator().manual_seed(seed)).to(scores.device) + 1.0
    pick = (top * u).argmax(-1)                                   # a random one of the tied best
    return float((pick == torch.arange(scores.shape[-1], device=scores.device)).float().mean())


def cued_item_accuracy(memory, episodes: EpisodeBatch, seed: int = 0) -> float:
    """Fraction of cues whose largest score falls on the cued item (:func:`diagonal_accuracy`).

    ``memory`` is anything with ``scores(cues, x) -> (B, N, N)``: a :class:`kvlib.keymaps.KeyMaps`
    (scaled dot products of queries ``cue W_q`` with keys ``x W_k``, Eqs 5, 7, 9; the argmax
    does not depend on the softmax temperature) or a :class:`kvlib.sdm.SparseDistributedMemory`
    (hard locations the cue and each item share). Explained in Chapter 2, §Accuracy of each scaffold.
    """
    if not callable(getattr(memory, "scores", None)):
        raise TypeError(f"memory: expected a memory with a scores(cues, x) method (KeyMaps or "
                        f"SparseDistributedMemory), got {type(memory).__name__}")
    if not isinstance(episodes, EpisodeBatch):
        raise TypeError(f"episodes: expected an EpisodeBatch, got {type(episodes).__name__}")
    with torch.no_grad():
        return diagonal_accuracy(memory.scores(episodes.cues, episodes.x), seed)     # (B, N, N)
