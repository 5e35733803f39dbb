"""Key and query maps learned without backpropagation: feedback alignment (Lillicrap et al. 2016).

Explained in Chapter 2, §2.7 (``book/02_representations.ipynb``); the learned-key setting is
:mod:`kvlib.keymaps` (look-alike MNIST episodes, cross-entropy of the attention scores).

Backpropagation sends the error at a layer's output back to its input through the transpose of
the layer's own forward weights, a "weight transport" no known synapse performs. Feedback
alignment (Lillicrap, Cownden, Tweed & Akerman 2016) sends it through a *fixed random*
matrix ``B`` instead; the forward weights then come to align with ``B``, so the random feedback
becomes useful. A single linear map ``k = x W_k`` has no error to send back (its update
``xᵀ δ`` is local), so the maps here have one hidden layer shared by keys and queries::

    h = relu(x W_1),   k = h W_k,   q = relu(x̃ W_1) W_q          (row vectors; Eqs 7, 9)

and the rule (:data:`LEARNING_RULES`) decides how the hidden layer learns:

* ``"backprop"``: the error reaches ``h`` through ``W_kᵀ`` and ``W_qᵀ`` (exact gradients);
* ``"feedback-alignment"``: through fixed random ``B_kᵀ``, ``B_qᵀ`` of the same shapes;
* ``"fixed"``: ``W_1`` stays at its random initialisation (only the heads learn).

The heads' own updates ``hᵀ δ`` are local under every rule. Scores are scaled dot products
(:func:`kvlib.kernels.scaled_dot`, Eq 5) and the loss is that of
:func:`kvlib.keymaps.train_learned_keys`. Axis names: B episodes, N items, d input dims,
n_hidden hidden units, d_key key dims.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import cpu_threads
from kvlib.device import generator as seed_stream
from kvlib.device import progress as progress_bar
from kvlib.lookalikes import (
    class_table,
    cued_item_accuracy,
    mnist_test_episodes,
    partial_noisy_cue,
    sample_episodes,
)

__all__ = ["LEARNING_RULES", "HiddenKeyMaps", "train_hidden_key_maps", "update_angle",
           "compare_learning_rules"]

#: How the hidden layer of :class:`HiddenKeyMaps` learns (Chapter 2, §2.7).
LEARNING_RULES = ("backprop", "feedback-alignment", "fixed")


class _RandomFeedback(torch.autograd.Function):
    """``y = h W`` whose backward pass sends ``δ Bᵀ`` to ``h`` instead of ``δ Wᵀ`` (the update
    of ``W`` itself, ``hᵀ δ``, is unchanged): feedback alignment's one departure from backprop."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, W: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(h, B)
        return h @ W

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        h, B = ctx.saved_tensors
        grad_W = h.reshape(-1, h.shape[-1]).T @ grad.reshape(-1, grad.shape[-1])   # (n_hidden, d_key)
        return grad @ B.T, grad_W, None


class HiddenKeyMaps(torch.nn.Module):
    """Key and query maps with one hidden layer, ``k = relu(x W_1) W_k``, ``q = relu(x W_1) W_q``.

    ``rule`` (:data:`LEARNING_RULES`) sets how the hidden layer learns. Initial weights (seed streams
    ``"hidden layer"``, ``"key heads"``, ``"feedback"``): He-scaled Gaussian ``W_1``, Gaussian
    heads with variance 1/n_hidden, ``W_q = W_k`` at the start (as in :class:`kvlib.keymaps.KeyMaps`),
    and fixed feedback matrices ``B_k``, ``B_q`` drawn like the heads. Has ``scores(cues, x)``,
    so :func:`kvlib.lookalikes.cued_item_accuracy` scores it. Explained in Chapter 2, §2.7.
    """

    def __init__(self, rule: str = "backprop", d_in: int = 784, n_hidden: int = 128, d_key: int = 49,
                 seed: int = 0, device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.rule = check.option("rule", rule, LEARNING_RULES)
        self.d_in = check.count("d_in", d_in, 1)
        n_hidden, d_key = check.count("n_hidden", n_hidden, 1), check.count("d_key", d_key, 1)
        seed = check.seed("seed", seed)
        dev = check.device("device", device)
        W1 = torch.randn(d_in, n_hidden, generator=seed_stream(seed, "hidden layer")) * math.sqrt(2 / d_in)
        head = torch.randn(n_hidden, d_key, generator=seed_stream(seed, "key heads")) / math.sqrt(n_hidden)
        fb = seed_stream(seed, "feedback")
        B = torch.randn(2, n_hidden, d_key, generator=fb) / math.sqrt(n_hidden)
        if self.rule == "fixed":
            self.register_buffer("W_1", W1.to(dev))
        else:
            self.W_1 = torch.nn.Parameter(W1.to(dev))
        self.W_k = torch.nn.Parameter(head.clone().to(dev))
        self.W_q = torch.nn.Parameter(head.clone().to(dev))
        self.register_buffer("B_k", B[0].to(dev))
        self.register_buffer("B_q", B[1].to(dev))

    def _head(self, h: torch.Tensor, W: torch.Tensor, B: torch.Tensor, feedback: bool) -> torch.Tensor:
        return _RandomFeedback.apply(h, W, B) if feedback else h @ W

    def _maps(self, cues: torch.Tensor, x: torch.Tensor, feedback: bool) -> tuple[torch.Tensor, torch.Tensor]:
        q = self._head(torch.relu(cues @ self.W_1), self.W_q, self.B_q, feedback)
        k = self._head(torch.relu(x @ self.W_1), self.W_k, self.B_k, feedback)
        return q, k

    def _inputs(self, name: str, x: object, ndim: int) -> torch.Tensor:
        x = check.tensor(name, x, like=self.W_k, like_name="the key map")
        if x.ndim < ndim or x.shape[-1] != self.d_in:
            want = "(..., d)" if ndim == 1 else "(..., N, d)"
            raise ValueError(f"{name}: expected shape {want} with d = {self.d_in}, got {tuple(x.shape)}")
        return x

    def keys(self, x: torch.Tensor) -> torch.Tensor:
        """``k = relu(x W_1) W_k``: ``(..., d) -> (..., d_key)``."""
        return torch.relu(self._inputs("x", x, 1) @ self.W_1) @ self.W_k

    def scores(self, cues: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Scaled dot products of every cue's query with every item's key (Eq 5): ``(..., B, N)``.

        Under ``"feedback-alignment"`` gradients reach the hidden layer through ``B_k``, ``B_q``."""
        cues, x = self._inputs("cues", cues, 2), self._inputs("x", x, 2)
        try:
            torch.broadcast_shapes(cues.shape[:-2], x.shape[:-2])
        except RuntimeError:
            raise ValueError(f"cues, x: expected leading (episode) axes that broadcast, got shapes "
                             f"{tuple(cues.shape)} and {tuple(x.shape)}") from None
        q, k = self._maps(cues, x, self.rule == "feedback-alignment")
        return kernels.scaled_dot(q, k)


def _episode_loss(maps: HiddenKeyMaps, images, table, n_episodes, n_items, keep, noise, g,
                  feedback: bool | None = None) -> torch.Tensor:
    """Cross-entropy of one batch of look-alike episodes (as :func:`kvlib.keymaps.train_learned_keys`)."""
    x = images[sample_episodes(table, n_episodes, n_items, True, g).to(images.device)]   # (B, N, d)
    cues = partial_noisy_cue(x, keep, noise, g)
    fa = maps.rule == "feedback-alignment" if feedback is None else feedback
    q, k = maps._maps(cues, x, fa)
    S = kernels.scaled_dot(q, k)                                                         # (B, N, N)
    target = torch.arange(n_items, device=images.device).repeat(n_episodes)
    return F.cross_entropy(S.reshape(-1, n_items), target)


def _check_data(maps, images, table):
    if not isinstance(maps, HiddenKeyMaps):
        raise TypeError(f"maps: expected a HiddenKeyMaps, got {type(maps).__name__}")
    images = check.tensor("images", images, ndim=2, nonempty=True, like=maps.W_k, like_name="the key map")
    if images.shape[1] != maps.d_in:
        raise ValueError(f"images: expected {maps.d_in} pixels per row, got shape {tuple(images.shape)}")
    table = check.tensor("table", table, ndim=2, dtype="int", nonempty=True)
    if int(table.min()) < 0 or int(table.max()) >= images.shape[0]:
        raise ValueError(f"table: expected indices into the {images.shape[0]} images, got values "
                         f"from {int(table.min())} to {int(table.max())}")
    return images, table


def train_hidden_key_maps(maps: HiddenKeyMaps, images: torch.Tensor, table: torch.Tensor, *,
                          steps: int = 300, n_episodes: int = 8, n_items: int = 32, keep: float = 0.5,
                          noise: float = 0.3, lr: float = 1e-3, seed: int = 0,
                          progress: bool = False) -> list[float]:
    """Train ``maps`` under its rule on look-alike episodes (seed stream ``"training episodes"``); Adam.

    The loss of :func:`kvlib.keymaps.train_learned_keys` (cross-entropy of the scores against
    the cued item). Returns the loss per step; a diverging loss is an error. Explained in
    Chapter 2, §2.7.
    """
    images, table = _check_data(maps, images, table)
    steps, n_episodes = check.count("steps", steps, 1), check.count("n_episodes", n_episodes, 1)
    n_items = check.count("n_items", n_items, 2)
    keep, noise = check.probability("keep", keep), check.number("noise", noise, low=0.0)
    lr = check.positive("lr", lr)
    check.flag("progress", progress)
    g = seed_stream(check.seed("seed", seed), "training episodes")
    params = [p for p in maps.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    with cpu_threads(1):      # many small steps: one thread is faster on busy cores
        for _ in progress_bar(range(steps), enabled=progress, desc=f"keys by {maps.rule}"):  # SGD steps
            try:
                loss = _episode_loss(maps, images, table, n_episodes, n_items, keep, noise, g)
            except ValueError as err:                     # inputs were checked: the weights overflowed
                raise ValueError(f"lr: the training diverged at step {len(losses) + 1} ({err}); "
                                 f"lower the learning rate") from None
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if not math.isfinite(losses[-1]) or not all(check.all_finite(p) for p in params):
                raise ValueError(f"lr: the training loss diverged at step {len(losses)}; "
                                 f"lower the learning rate")
    return losses


def update_angle(maps: HiddenKeyMaps, images: torch.Tensor, table: torch.Tensor, *, n_episodes: int = 16,
                 n_items: int = 32, keep: float = 0.5, noise: float = 0.3, seed: int = 0) -> float:
    """Angle in degrees between the hidden layer's update under random feedback and its true
    gradient, on one batch of episodes (Lillicrap et al. 2016, Fig 2: below 90° means the random
    feedback points downhill). Seed stream ``"angle episodes"``. Explained in Chapter 2, §2.7.
    """
    images, table = _check_data(maps, images, table)
    n_episodes, n_items = check.count("n_episodes", n_episodes, 1), check.count("n_items", n_items, 2)
    keep, noise = check.probability("keep", keep), check.number("noise", noise, low=0.0)
    seed = check.seed("seed", seed)
    W1 = maps.W_1.detach().clone().requires_grad_(True)
    grads = []
    for fa in (True, False):                                  # the same batch, both backward passes
        g = seed_stream(seed, "angle episodes")
        probe = HiddenKeyMaps.__new__(HiddenKeyMaps)
        torch.nn.Module.__init__(probe)
        probe.rule, probe.d_in = maps.rule, maps.d_in
        probe.W_1, probe.W_k, probe.W_q = W1, maps.W_k.detach(), maps.W_q.detach()
        probe.B_k, probe.B_q = maps.B_k, maps.B_q
        loss = _episode_loss(probe, images, table, n_episodes, n_items, keep, noise, g, feedback=fa)
        grads.append(torch.autograd.grad(loss, W1)[0].reshape(-1).double())
    cos = torch.dot(grads[0], grads[1]) / (grads[0].norm() * grads[1].norm()).clamp_min(1e-300)
    return float(torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0))))


def _head_angle(maps: HiddenKeyMaps) -> float:
    """Angle in degrees between the heads (W_k, W_q) and the feedback (B_k, B_q), all flattened."""
    w = torch.cat([maps.W_k.detach().reshape(-1), maps.W_q.detach().reshape(-1)]).double()
    b = torch.cat([maps.B_k.reshape(-1), maps.B_q.reshape(-1)]).double()
    return float(torch.rad2deg(torch.arccos((w @ b / (w.norm() * b.norm())).clamp(-1.0, 1.0))))


def compare_learning_rules(device: str | torch.device = "cpu", *, rules: Sequence[str] = LEARNING_RULES,
                           n_hidden: int = 128, d_key: int = 49, steps: int = 300, n_episodes: int = 8,
                           lr: float = 1e-3, n_test_episodes: int = 200, seed: int = 0,
                           progress: bool = False) -> dict:
    """Chapter 2's learned-key task with hidden-layer maps trained by each rule, on MNIST (LeCun et al. 1998).

    Trains one :class:`HiddenKeyMaps` per rule on training digits, scores it on the chapter's
    look-alike test episodes (:func:`kvlib.lookalikes.mnist_test_episodes`, same ``seed``, same
    cues as :func:`kvlib.keymaps.compare_scaffolds`), and measures :func:`update_angle` for
    feedback alignment before and after training, with the angle between its heads and its
    feedback matrices. Returns ``{"accuracy": {rule: acc}, "untrained": acc, "loss": {rule: [...]},
    "angle_before", "angle_after", "head_angle_before", "head_angle_after", "n_hidden", "steps"}``.
    Explained in Chapter 2, §2.7.
    """
    from kvlib.data import load_classes
    dev = check.device("device", device)
    rules = check.sequence("rules", rules, lambda k, v: check.option(k, v, LEARNING_RULES), distinct=True)
    for name, value in (("n_hidden", n_hidden), ("d_key", d_key), ("steps", steps),
                        ("n_episodes", n_episodes), ("n_test_episodes", n_test_episodes)):
        check.count(name, value, 1)
    lr, seed = check.positive("lr", lr), check.seed("seed", seed)
    check.flag("progress", progress)
    x_tr, y_tr = load_classes("mnist", list(range(10)), train=True, device=dev)
    table = class_table(y_tr.cpu()).to(dev)
    test = mnist_test_episodes(dev, n_episodes=n_test_episodes, seed=seed)
    out = {"accuracy": {}, "loss": {}, "n_hidden": n_hidden, "steps": steps}
    out["untrained"] = cued_item_accuracy(HiddenKeyMaps("fixed", 784, n_hidden, d_key, seed, dev), test)
    for rule in rules:                                        # one network per rule
        maps = HiddenKeyMaps(rule, 784, n_hidden, d_key, seed, dev)
        if rule == "feedback-alignment":
            out["angle_before"] = update_angle(maps, x_tr, table, seed=seed)
            out["head_angle_before"] = _head_angle(maps)
        out["loss"][rule] = train_hidden_key_maps(maps, x_tr, table, steps=steps, n_episodes=n_episodes,
                                                  lr=lr, seed=seed, progress=progress)
        if rule == "feedback-alignment":
            out["angle_after"] = update_angle(maps, x_tr, table, seed=seed)
            out["head_angle_after"] = _head_angle(maps)
        out["accuracy"][rule] = cued_item_accuracy(maps, test)
    return out
