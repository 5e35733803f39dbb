"""Where keys and queries come from: learned maps against fixed scaffolds (paper §2.2, Eqs 7-9).

Keys, values and queries are maps of an input ``x`` (row vectors here): ``k = x W_k``,
``v = x W_v``, ``q = x W_q``. The maps are either *learned* (trained end to end for the task,
as in transformers) or a fixed *scaffold* (:data:`SCAFFOLDS`, in the chapter's order):

* ``"autoassociative"``: keys are the contents themselves (``W_k = W_q = W_v = I``), as
  in Hopfield networks; memories are found by matching content.
* ``"random"``: a fixed random linear projection ``W_k = W_q = R`` (Gaussian entries) to
  ``d_key`` dimensions. It is *not* Kanerva's sparse distributed memory (next item); with
  ``d_key`` below the input size it mostly shows what compressing the addresses at random costs.
* ``"index"``: a fixed, regular, hand-made code, like a book's alphabetical index: a 7x7
  thumbnail of the image (4x4 block averages), filing items under their coarse
  appearance. (The thumbnail is our choice, not the paper's.)
* ``"sdm"``: Kanerva's sparse distributed memory, its own module (:mod:`kvlib.sdm`).
* ``"learned"``: ``W_k`` and ``W_q`` trained by gradient descent to retrieve the right
  item; they start from the random projection, so "before learning" *is* that scaffold.

Values are always the stored images (``W_v = I``): the task asks for the item back, so only
the addressing changes. Every score and read goes through :mod:`kvlib.kernels` (scaled dot
product, Eq 5; softmax, Eq 6). :func:`compare_scaffolds` runs the chapter's comparison on the
look-alike task of :mod:`kvlib.lookalikes`. Explained in Chapter 2 ("Representational structure").

Axis vocabulary (``book/appendix/notation.md``): B episodes, N items per episode, d input
dims (pixels), d_key key dims.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import cpu_threads, float64_device
from kvlib.device import generator as seed_stream
from kvlib.device import progress as progress_bar
from kvlib.lookalikes import (
    class_table,
    cued_item_accuracy,
    mnist_example_episode,
    mnist_test_episodes,
    partial_noisy_cue,
    sample_episodes,
)
from kvlib.sdm import SparseDistributedMemory, binary_address, sdm_accuracy
from kvlib.sdm_theory import kanerva_fraction

__all__ = [
    "SCAFFOLDS", "KEYMAP_KINDS", "thumbnail_matrix", "KeyMaps", "make_keymaps",
    "fit_inverse_temperature", "best_temperature_attention", "train_learned_keys",
    "key_similarity", "mean_offdiagonal", "fixed_scaffold_accuracy",
    "compare_scaffolds",
]

#: The scaffolds of Chapter 2, in the order the chapter shows them.
SCAFFOLDS = ("autoassociative", "random", "index", "sdm", "learned")
#: The scaffolds that are linear key/query maps (:class:`KeyMaps`); ``"sdm"`` is not one.
KEYMAP_KINDS = ("autoassociative", "random", "index", "learned")


def thumbnail_matrix(side: int = 28, block: int = 4, dtype: torch.dtype = torch.float32
                     ) -> torch.Tensor:
    """The structured index: a ``(side*side, (side//block)**2)`` matrix of block averages.

    ``x @ P`` turns a flattened ``side x side`` image into its thumbnail (one entry per
    ``block x block`` tile). Not in the paper: our stand-in for an alphabetical index.
    Explained in Chapter 2, §Five ways to give a memory its addresses.

    >>> thumbnail_matrix().shape
    torch.Size([784, 49])
    """
    side = check.count("side", side, 1)
    block = check.count("block", block, 1)
    if side % block:
        raise ValueError(f"block: expected a divisor of side={side}, got {block!r}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating-point torch.dtype, got {dtype!r}")
    t = side // block
    rows = torch.arange(side).repeat_interleave(side)                 # pixel row, (side*side,)
    cols = torch.arange(side).repeat(side)                            # pixel column
    tile = (rows // block) * t + cols // block                        # which tile each pixel is in
    P = torch.zeros(side * side, t * t, dtype=dtype)
    P[torch.arange(side * side), tile] = 1.0 / block ** 2
    return P


class KeyMaps(torch.nn.Module):
    """Key and query maps ``k = x W_k``, ``q = x W_q`` (Eqs 7, 9); values ``v = x`` (Eq 8, W_v = I).

    ``kind`` is one of :data:`KEYMAP_KINDS` (for ``"sdm"`` see :class:`kvlib.sdm.SparseDistributedMemory`).
    ``"random"`` is a random linear projection with N(0, 1/d_in) entries drawn from ``seed``
    (seed stream ``"random projection"``);
    ``"learned"`` starts from the same matrix and is the only kind with trainable parameters.
    Explained in Chapter 2, §Five ways to give a memory its addresses.
    """

    def __init__(self, kind: str, d_in: int = 784, d_key: int = 49, seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        super().__init__()
        if kind == "sdm":
            raise ValueError("kind: 'sdm' is not a linear key map; build it with "
                             "kvlib.sdm.SparseDistributedMemory(...)")
        self.kind = check.option("kind", kind, KEYMAP_KINDS)
        self.d_in = check.count("d_in", d_in, 1)
        d_key = check.count("d_key", d_key, 1)
        seed = check.seed("seed", seed)
        dev = check.device("device", device)
        if kind == "autoassociative":
            W_k = None
        elif kind == "index":
            side = math.isqrt(d_in)
            if side * side != d_in:
                raise ValueError(f"d_in: the index scaffold needs square images, got d_in={d_in}")
            block = side // max(1, math.isqrt(d_key))
            if block < 1 or (side // block) ** 2 != d_key or side % block:
                raise ValueError(f"d_key: the index scaffold needs a square number of tiles that "
                                 f"divides the image, e.g. 49 or 16 for 28x28; got {d_key}")
            W_k = thumbnail_matrix(side, block)
        else:   # random, and the initial state of learned
            g = seed_stream(seed, "random projection")
            W_k = torch.randn(d_in, d_key, generator=g) / math.sqrt(d_in)
        if W_k is None:
            self.W_k = None
        elif kind == "learned":
            self.W_k = torch.nn.Parameter(W_k.clone().to(dev))
            self.W_q = torch.nn.Parameter(W_k.clone().to(dev))
        else:                                   # a fixed scaffold: one map for keys and queries
            self.register_buffer("W_k", W_k.to(dev))

    def _inputs(self, name: str, x: object, ndim: int = 1) -> torch.Tensor:
        like = self.W_k if self.W_k is not None else None
        x = check.tensor(name, x, like=like, like_name="the key map")
        if x.ndim < ndim or x.shape[-1] != self.d_in:
            want = "(..., d)" if ndim == 1 else "(..., N, d)"
            raise ValueError(f"{name}: expected shape {want} with d = {self.d_in}, got {tuple(x.shape)}")
        return x

    def _key(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.W_k is None else x @ self.W_k

    def _query(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.W_k is None else x @ (self.W_q if self.kind == "learned" else self.W_k)

    def keys(self, x: torch.Tensor) -> torch.Tensor:
        """``k = x W_k`` (Eq 7); ``(..., d) -> (..., d_key)``."""
        return self._key(self._inputs("x", x))

    def queries(self, x: torch.Tensor) -> torch.Tensor:
        """``q = x W_q`` (Eq 9; ``W_q = W_k`` for a fixed scaffold); ``(..., d) -> (..., d_key)``."""
        return self._query(self._inputs("x", x))

    def _pair(self, cues: object, x: object) -> tuple[torch.Tensor, torch.Tensor]:
        cues, x = self._inputs("cues", cues, 2), self._inputs("x", x, 2)
        try:
            torch.broadcast_shapes(cues.shape[:-2], x.shape[:-2])
        except RuntimeError:
            raise ValueError(f"cues, x: expected leading (episode) axes that broadcast, got shapes "
                             f"{tuple(cues.shape)} and {tuple(x.shape)}") from None
        return cues, x

    def scores(self, cues: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Attention scores ``q K^T / sqrt(d_key)`` (Eq 5) of every cue on every stored item.

        ``cues`` ``(..., B, d)``, ``x`` ``(..., N, d)`` -> ``(..., B, N)``, through
        :func:`kvlib.kernels.scaled_dot`.
        """
        cues, x = self._pair(cues, x)
        return kernels.scaled_dot(self._query(cues), self._key(x))

    def attention(self, cues: torch.Tensor, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """Softmax attention weights ``softmax(beta * scores)`` (Eq 6), ``(..., B, N)``."""
        return kernels.separate(self.scores(cues, x), "softmax", beta=beta)

    def read(self, cues: torch.Tensor, x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """The read-out (Eqs 3, 5, 6): values ``x`` weighted by :meth:`attention`, ``(..., B, d)``.

        One :func:`kvlib.kernels.retrieve` (scaled dot product, softmax).
        """
        cues, x = self._pair(cues, x)
        return kernels.retrieve(self._query(cues), self._key(x), x, "scaled_dot", "softmax", beta=beta)


def make_keymaps(kind: str, d_key: int = 49, seed: int = 0,
                 device: str | torch.device = "cpu") -> KeyMaps:
    """A :class:`KeyMaps` for 28x28 images (``d_in = 784``).

    Explained in Chapter 2, §Five ways to give a memory its addresses.
    """
    return KeyMaps(kind, 784, d_key, seed, device)


def fit_inverse_temperature(S: torch.Tensor, grid: torch.Tensor | None = None) -> float:
    """The inverse temperature ``beta`` that best retrieves the right items from scores ``S``.

    ``S`` is ``(..., N, N)`` with cue ``i`` asking for item ``i``; returns the ``beta`` on
    ``grid`` (default ``10**linspace(-2, 3, 51)``) maximising the mean log softmax weight
    (:func:`kvlib.kernels.separate`, in float64) on the right item. Used to compare
    scaffolds' soft attention fairly, each at its own best temperature (the argmax, hence
    accuracy, does not depend on it). Not in the paper.
    Explained in Chapter 2, §Learned keys separate what the inputs confuse.
    """
    S = check.tensor("S", S, nonempty=True)
    if S.ndim < 2 or S.shape[-1] != S.shape[-2]:
        raise ValueError(f"S: expected (..., N, N) scores, got shape {tuple(S.shape)}")
    if grid is None:
        grid = torch.logspace(-2, 3, 51, dtype=torch.float64)
    grid = check.tensor("grid", grid, ndim=1, nonempty=True).to(torch.float64)
    if bool((grid < 0).any()):
        raise ValueError(f"grid: expected inverse temperatures >= 0, got {grid.min().item()!r}")
    dev = float64_device(S.device)
    S64 = S.detach().to(dev, torch.float64)
    w = kernels.separate(grid.to(dev).view(-1, *[1] * S.ndim) * S64, "softmax")    # (G, ..., N, N)
    right = w.diagonal(dim1=-2, dim2=-1).reshape(len(grid), -1)                     # (G, ...N)
    ll = right.clamp_min(torch.finfo(torch.float64).tiny).log().mean(-1)          # (G,)
    return float(grid[int(ll.argmax())])


def best_temperature_attention(maps: KeyMaps, x: torch.Tensor, cues: torch.Tensor
                               ) -> tuple[torch.Tensor, float]:
    """Attention weights of every cue on every item at the maps' best temperature.

    ``x``, ``cues``: ``(..., N, d)``. Returns the weights ``(..., N, N)`` (:meth:`KeyMaps.attention`
    at :func:`fit_inverse_temperature`'s ``beta``) and that ``beta``.
    Explained in Chapter 2, §Learned keys separate what the inputs confuse.
    """
    if not isinstance(maps, KeyMaps):
        raise TypeError(f"maps: expected a KeyMaps, got {type(maps).__name__}")
    with torch.no_grad():
        S = maps.scores(cues, x)                                            # (B, N, N)
        beta = fit_inverse_temperature(S)
        return maps.attention(cues, x, beta=beta), beta


def train_learned_keys(maps: KeyMaps, images: torch.Tensor, table: torch.Tensor, *,
                       steps: int = 400, n_episodes: int = 16, n_items: int = 32,
                       keep: float = 0.5, noise: float = 0.3, lr: float = 3e-3,
                       seed: int = 0, progress: bool = False) -> list[float]:
    """Train ``W_k`` and ``W_q`` end to end (Eqs 7, 9) so each cue attends to its own item.

    Loss: cross-entropy of the attention scores (:meth:`KeyMaps.scores`) against the right
    item, on episodes of look-alike items (one class per episode) drawn from ``images`` with
    the seed stream ``"training episodes"``; Adam. (The cross-entropy is torch's fused,
    stable log-softmax loss; the scores themselves come from :mod:`kvlib.kernels`.) Returns
    the loss per step; a loss that diverges is an error. Explained in Chapter 2, §Accuracy of
    each scaffold.
    """
    if not isinstance(maps, KeyMaps) or maps.kind != "learned":
        raise ValueError(f"maps: expected a KeyMaps of kind 'learned', got "
                         f"{getattr(maps, 'kind', type(maps).__name__)!r}")
    images = check.tensor("images", images, ndim=2, nonempty=True, like=maps.W_k, like_name="the key map")
    table = check.tensor("table", table, ndim=2, dtype="int", nonempty=True)
    if int(table.min()) < 0 or int(table.max()) >= images.shape[0]:
        raise ValueError(f"table: expected indices into the {images.shape[0]} images, got values "
                         f"from {int(table.min())} to {int(table.max())}")
    steps = check.count("steps", steps, 1)
    n_episodes = check.count("n_episodes", n_episodes, 1)
    n_items = check.count("n_items", n_items, 2)
    lr = check.positive("lr", lr)
    check.flag("progress", progress)
    g = seed_stream(check.seed("seed", seed), "training episodes")
    opt = torch.optim.Adam(maps.parameters(), lr=lr)
    target = torch.arange(n_items, device=images.device).repeat(n_episodes)   # (B*N,)
    losses = []
    with cpu_threads(1):     # many small steps: one thread is several times faster on 2 busy cores
        for _ in progress_bar(range(steps), enabled=progress, desc="learning keys"):
            # make_episodes's steps, without re-checking the whole training set every step
            x = images[sample_episodes(table, n_episodes, n_items, True, g).to(images.device)]
            cues = partial_noisy_cue(x, keep, noise, g)                       # (B, N, d), checked there
            S = kernels.scaled_dot(maps._query(cues), maps._key(x))          # (B, N, N), as maps.scores
            loss = F.cross_entropy(S.reshape(-1, n_items), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if not math.isfinite(losses[-1]):
                raise ValueError(f"lr, noise: the training loss diverged (NaN or inf) at step "
                                 f"{len(losses)}; lower the learning rate or the cue noise")
    return losses


def key_similarity(K: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between every pair of keys, ``(..., N, d) -> (..., N, N)``.

    :func:`kvlib.kernels.cosine` of the keys with themselves.

    Explained in Chapter 2, §Learned keys separate what the inputs confuse.
    """
    K = check.tensor("K", K)
    if K.ndim < 2:
        raise ValueError(f"K: expected (N, d) keys, got shape {tuple(K.shape)}")
    return kernels.cosine(K, K)


def mean_offdiagonal(S: torch.Tensor) -> float:
    """Mean of the off-diagonal entries of a square ``(N, N)`` matrix, ``N >= 2``.

    Explained in Chapter 2, §Learned keys separate what the inputs confuse.
    """
    S = check.tensor("S", S, ndim=2)
    n = S.shape[0]
    if S.shape[1] != n or n < 2:
        raise ValueError(f"S: expected a square matrix of at least 2 x 2, got shape {tuple(S.shape)}")
    return float((S.sum() - S.diagonal().sum()) / (n * (n - 1)))


def fixed_scaffold_accuracy(maps, device: str | torch.device = "cpu", *,
                            correlated: bool = True, **episodes) -> float:
    """Accuracy of a fixed scaffold (:class:`KeyMaps` or SDM) on the chapter's test episodes.

    ``episodes`` keywords go to :func:`kvlib.lookalikes.mnist_test_episodes` (the same
    ``seed`` gives the same episodes as :func:`compare_scaffolds`, so a scaffold built later is
    scored on exactly the chapter's cues). Explained in Chapter 2, §Accuracy of each scaffold
    (and its exercises).
    """
    if not isinstance(maps, (KeyMaps, SparseDistributedMemory)):
        raise TypeError(f"maps: expected a KeyMaps or a SparseDistributedMemory, got {type(maps).__name__}")
    return cued_item_accuracy(maps, mnist_test_episodes(device, correlated=correlated, **episodes))


def compare_scaffolds(device: str | torch.device = "cpu", *, n_items: int = 32,
                      keep: float = 0.5, noise: float = 0.3, d_key: int = 49,
                      train_steps: int = 400, lr: float = 3e-3, n_test_episodes: int = 200,
                      n_locations: int = 10_000, seed: int = 0,
                      progress: bool = False) -> dict:
    """Chapter 2's first experiment, end to end, on MNIST (LeCun et al. 1998).

    Trains the learned maps on training-set digits, then tests every scaffold of
    :data:`SCAFFOLDS` on new test-set digits, with look-alike episodes (one class each) and
    mixed episodes. The SDM has ``n_locations`` hard locations and Kanerva's radius for
    ``n_items`` stored words. Returns ``{"accuracy": {kind: acc}, "accuracy_mixed": {kind:
    acc}, "maps": {kind: KeyMaps or SparseDistributedMemory}, "loss": [...], "similarity":
    {name: (N, N)}, "offdiag": {name: float}, "example": (N, 784), "example_cues": (N, 784),
    "untrained": KeyMaps, "attention": {kind: ((N, N) weights, beta)}, "sdm": {...}}``;
    ``"sdm"`` holds the memory's size, radius and activation fractions, and the accuracy of
    Kanerva's own read and of the infinite-memory limit (:func:`kvlib.sdm.sdm_accuracy`) for
    both kinds of episode. The example is one look-alike test episode; ``"attention"`` is
    its attention with raw and learned keys, each at its best temperature.
    Explained in Chapter 2, §Accuracy of each scaffold.
    """
    from kvlib.data import load_classes
    dev = check.device("device", device)
    for name, value in (("n_items", n_items), ("n_test_episodes", n_test_episodes),
                        ("train_steps", train_steps)):
        check.count(name, value, 2 if name == "n_items" else 1)
    seed, keep = check.seed("seed", seed), check.probability("keep", keep)
    noise, lr = check.number("noise", noise, low=0.0), check.positive("lr", lr)
    check.flag("progress", progress)
    maps = {k: make_keymaps(k, d_key, seed, dev) for k in KEYMAP_KINDS}   # every check before the data
    maps["sdm"] = SparseDistributedMemory(784, n_locations, n_stored=n_items, seed=seed, device=dev)
    maps = {k: maps[k] for k in SCAFFOLDS}
    untrained = make_keymaps("learned", d_key, seed, dev)
    x_tr, y_tr = load_classes("mnist", list(range(10)), train=True, device=dev)
    loss = train_learned_keys(maps["learned"], x_tr, class_table(y_tr.cpu()).to(dev), steps=train_steps,
                              n_items=n_items, keep=keep, noise=noise, lr=lr, seed=seed,
                              progress=progress)
    sdm = maps["sdm"]
    out = {"accuracy": {}, "accuracy_mixed": {}}
    sdm_out = {"n_locations": n_locations, "n_bits": 784, "radius": sdm.radius,
               "kanerva_fraction": kanerva_fraction(n_locations, n_items),
               "activation_probability": sdm.fraction}
    for name, correlated in (("accuracy", True), ("accuracy_mixed", False)):
        ep = mnist_test_episodes(dev, correlated=correlated, n_items=n_items, keep=keep,
                                 noise=noise, n_episodes=n_test_episodes, seed=seed)
        three = sdm_accuracy(sdm, ep)                                 # scaffold, read, limit
        out[name] = {k: three["scaffold"] if k == "sdm" else cued_item_accuracy(m, ep)
                     for k, m in maps.items()}                        # chapter order
        sdm_out[f"read_{name}"], sdm_out[f"limit_{name}"] = three["read"], three["limit"]
    # key geometry of one look-alike test episode (items as drawn)
    ex = mnist_example_episode(dev, n_items=n_items, keep=keep, noise=noise, seed=seed)
    example, example_cues = ex.x[0], ex.cues[0]                                # (N, 784) each
    with torch.no_grad():
        active = sdm.activate(binary_address(example, sdm.threshold))          # (N, M)
        sdm_out["active_fraction_measured"] = float(active.mean())
        sims = {"inputs (autoassociative keys)": key_similarity(example),
                "random-projection keys": key_similarity(maps["random"].keys(example)),
                "index keys": key_similarity(maps["index"].keys(example)),
                "SDM keys (active hard locations)": key_similarity(active),
                "learned keys, before": key_similarity(untrained.keys(example)),
                "learned keys, after": key_similarity(maps["learned"].keys(example))}
    attention = {k: best_temperature_attention(maps[k], ex.x, ex.cues)
                 for k in ("autoassociative", "learned")}
    out.update(maps=maps, untrained=untrained, loss=loss, similarity=sims, example=example,
               example_cues=example_cues, sdm=sdm_out,
               offdiag={k: mean_offdiagonal(v) for k, v in sims.items()},
               attention={k: (w[0], beta) for k, (w, beta) in attention.items()})
    return out
