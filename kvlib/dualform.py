"""The dual form: a linear layer trained by gradient descent is a key-value memory.

Paper §2.3, Eqs 10-11 (Irie, Csordás & Schmidhuber 2022). For a linear layer
``y = x W^T`` (row vectors here; torch keeps ``W`` as ``(d_out, d_in)``) trained
by plain SGD, every example n of every step writes one pair

    key   k_n = x_n                       (the layer's input)
    value v_n = e_n = -lr * dL/dy_n        (its error signal)

and the trained weight is ``W = W_0 + sum_n v_n^T k_n`` (Eq 10). The layer's output
for a new input is then an (unnormalised) attention over everything it was trained on
(Eq 11), read here through :func:`kvlib.kernels.retrieve` with the dot-product similarity
and no separation::

    y(x) = x W_0^T + sum_n (x . k_n) v_n

:class:`kvlib.recorder.MemoryRecorder` materialises these pairs for every ``nn.Linear`` of
any model while it trains (forward/backward hooks), and :class:`LayerMemory` reads them out in
either form, with each phase's memories (tags such as ``"task1"``) scaled on request:
``weight(scale={"task1": beta}, scale_w0=True)`` is the reactivation of Figure 3. A bias
is a memory whose key is the constant 1: keys are stored with a trailing 1 when the
layer has a bias. :func:`dual_forward` reads a whole ``nn.Sequential`` from its
memories and :func:`layer_io` gives each layer's input, the query of its memory.

Weight decay is exact too, once older memories decay: with decay ``lambda`` each step
multiplies all earlier memories (and ``W_0``) by ``1 - lr * lambda``. Momentum and
Adam write something other than ``-lr * grad``; the recorder refuses them unless the
reader asks for the approximate memory on purpose (Chapter 3 shows the error);
``decay=False`` in the read-outs gives the naive, undecayed memory for comparison.

The identity checks are in :mod:`kvlib.dual_identity`, the training loops in
:mod:`kvlib.training`, which training examples an output comes from in
:mod:`kvlib.contributions`, and Irie et al.'s attention statistic in :mod:`kvlib.attribution`.
Explained in Chapter 3 ("The dual form") and used in Chapter 6 (Figure 3).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from kvlib import _checks as check
from kvlib import kernels

__all__ = ["LayerMemory", "dual_forward", "layer_io", "model_input"]

#: The name :meth:`LayerMemory.tag_outputs` and ``scale`` give the initial weights.
W0_TAG = "W0"


@dataclass(eq=False)
class LayerMemory:
    """The key-value memories one linear layer has stored (Eq 10), chunked by step.

    ``keys[t]`` is ``(B_t, d_in)`` (``d_in + 1`` with a bias), ``values[t]`` is
    ``(B_t, d_out)``; ``decay[t]`` is the factor step ``t`` applied to everything before it
    (1 without weight decay); ``tags[t]`` names the phase the step belonged to; ``ids[t]``
    the training example behind each memory (-1: unknown).

    >>> mem = LayerMemory("layer", torch.zeros(1, 2), False, keys=[torch.eye(2)],
    ...                   values=[torch.tensor([[1.], [2.]])], decay=[1.0], tags=["task1"])
    >>> mem.forward(torch.tensor([[1, 1]]))                 # Eq 11: 1 * 1 + 1 * 2
    tensor([[3.]])
    >>> mem.weight(scale={"task1": 2.0})                    # Eq 10, the memories doubled
    tensor([[2., 4.]])
    """

    name: str
    W0: torch.Tensor                        # (d_out, d_in[+1])
    has_bias: bool
    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)
    decay: list[float] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    ids: list[torch.Tensor] = field(default_factory=list)
    # per-tag sums of the memories (Eq 10 restricted to one tag), rebuilt when steps are added
    _sums: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"name: expected a string, got {type(self.name).__name__}")
        self.W0 = check.tensor("W0", self.W0, ndim=2, dtype="float")
        check.flag("has_bias", self.has_bias)
        d_out, d_key = self.W0.shape
        self.keys = [check.tensor(f"keys[{t}]", k, ndim=2)
                     for t, k in enumerate(check.sequence("keys", self.keys, nonempty=False))]
        self.values = [check.tensor(f"values[{t}]", v, ndim=2)
                       for t, v in enumerate(check.sequence("values", self.values, nonempty=False))]
        self.decay = check.sequence("decay", self.decay, lambda n, v: check.number(n, v, low=0),
                                    nonempty=False)
        self.tags = check.sequence("tags", self.tags, self.check_tag, nonempty=False)
        self.ids = check.sequence("ids", self.ids, nonempty=False)
        T = len(self.keys)
        for name, seq in (("values", self.values), ("decay", self.decay), ("tags", self.tags)):
            if len(seq) != T:
                raise ValueError(f"{name}: expected one entry per step ({T}, as keys), got {len(seq)}")
        if self.ids and len(self.ids) != T:
            raise ValueError(f"ids: expected none or one tensor per step ({T}, as keys), got {len(self.ids)}")
        for t, (k, v) in enumerate(zip(self.keys, self.values)):
            if k.shape[1] != d_key:
                raise ValueError(f"keys[{t}]: expected {d_key} columns (as W0's), got shape {tuple(k.shape)}")
            if v.shape != (k.shape[0], d_out):
                raise ValueError(f"values[{t}]: expected shape ({k.shape[0]}, {d_out}) (a row per key of "
                                 f"keys[{t}], as many columns as W0's rows), got {tuple(v.shape)}")
        self.ids = [check.tensor(f"ids[{t}]", i, shape=(self.keys[t].shape[0],), dtype="int").cpu()
                    for t, i in enumerate(self.ids)]

    @staticmethod
    def check_tag(name: str, tag: Any) -> str:
        """A phase tag: a non-empty string, not ``"W0"`` (the name of the initial weights)."""
        if not isinstance(tag, str) or not tag or tag == W0_TAG:
            raise ValueError(f"{name}: expected a non-empty string other than {W0_TAG!r}, got {tag!r}")
        return tag

    # ------------------------------------------------------------------ sizes
    @property
    def n_steps(self) -> int:
        return len(self.keys)

    @property
    def n_memories(self) -> int:
        return sum(k.shape[0] for k in self.keys)

    @property
    def tag_names(self) -> list[str]:
        """The tags of the stored steps, in order of first use."""
        return list(dict.fromkeys(self.tags))

    def nbytes(self) -> int:
        """Bytes held by keys and values (views of a shared tensor are counted in full)."""
        return sum(k.numel() * k.element_size() + v.numel() * v.element_size()
                   for k, v in zip(self.keys, self.values))

    def step_weights(self, decay: bool = True) -> torch.Tensor:
        """Weight of each step's memories today: the product of all later decays; ``(T,)`` float64.

        ``decay=False``: all ones (the naive memory, wrong under weight decay).
        """
        if not check.flag("decay", decay) or not self.decay:
            return torch.ones(self.n_steps, dtype=torch.float64)
        d = torch.tensor(self.decay[1:] + [1.0], dtype=torch.float64)
        return torch.flip(torch.cumprod(torch.flip(d, [0]), 0), [0])   # w[t] = prod_{s > t} d[s]

    def w0_weight(self, decay: bool = True) -> float:
        """How much of ``W0`` survives weight decay: the product of every step's decay."""
        if not check.flag("decay", decay) or not self.decay:
            return 1.0
        return float(torch.tensor(self.decay, dtype=torch.float64).prod())

    # ---------------------------------------------------------- arguments
    def _factors(self, scale: Mapping[str, float] | None, scale_w0: bool) -> tuple[dict, float]:
        """Per-tag factors and the initial weights' factor from ``scale`` and ``scale_w0``."""
        check.flag("scale_w0", scale_w0)
        if scale is None:
            scale = {}
        if not isinstance(scale, Mapping):
            raise TypeError(f"scale: expected a dict tag -> factor, got {type(scale).__name__}")
        known = self.tag_names
        bad = [t for t in scale if t not in known and t != W0_TAG]
        if bad:
            raise ValueError(f"scale: unknown tag(s) {bad}; this layer's memories are tagged {known} "
                             f"(and {W0_TAG!r} names the initial weights)")
        factors = {t: check.number(f"scale[{t!r}]", s, low=0) for t, s in scale.items()}
        w0 = factors.pop(W0_TAG, 1.0)
        if scale_w0:
            if W0_TAG in scale:
                raise ValueError(f"scale_w0: give either scale_w0=True or scale[{W0_TAG!r}], not both")
            w0 = factors.get(known[0], 1.0) if known else 1.0
        return factors, w0

    def _kept(self, tags: str | Iterable[str] | None) -> list[str]:
        """The tags to read: all (``None``), one (a string) or those listed (checked)."""
        if tags is None:
            return self.tag_names
        tags = [tags] if isinstance(tags, str) else check.sequence("tags", tags, nonempty=False)
        bad = [t for t in tags if t not in self.tag_names]
        if bad:
            raise ValueError(f"tags: unknown tag(s) {bad}; this layer's memories are tagged "
                             f"{self.tag_names}")
        return [t for t in self.tag_names if t in tags]

    def _query(self, x: Any) -> tuple[torch.Tensor, tuple[int, ...]]:
        """Queries ``(..., d_in)`` -> ``(B, d_in[+1])`` in a dtype that holds both them and the
        memory exactly (integers are converted, never the stored weights), and the leading shape."""
        x = check.tensor("x", x, dtype="any")
        if not x.is_floating_point():
            x = x.to(self.W0.dtype)                     # exact for the integers a caller passes
        d_in = self.W0.shape[1] - int(self.has_bias)
        if x.ndim < 1 or x.shape[-1] != d_in:
            raise ValueError(f"x: expected shape (..., {d_in}) (the input size of layer "
                             f"{self.name!r}), got {tuple(x.shape)}")
        if x.device != self.W0.device:
            raise ValueError(f"x: expected device {self.W0.device} (the memory's), got {x.device}")
        lead = tuple(x.shape[:-1])
        x = x.detach().reshape(-1, d_in).to(torch.promote_types(x.dtype, self.W0.dtype))
        if self.has_bias:
            x = torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1)
        return x, lead

    # ---------------------------------------------------------- read-outs
    def _tag_sums(self, decay: bool) -> dict[str, torch.Tensor]:
        """``{tag: sum over the tag's steps of w_t V_t^T K_t}``, cached until steps are added.

        Summed step by step in storage order (the loop is over stored steps, each one matrix
        product), so a tag's sum is the same whichever other tags are read with it.
        """
        key = (decay, self.n_steps)
        if self._sums.get("key") != key:
            sw = self.step_weights(decay).tolist()
            sums = {t: torch.zeros_like(self.W0) for t in self.tag_names}
            for t, (k, v) in enumerate(zip(self.keys, self.values)):
                k, v = k.to(self.W0), v.to(self.W0)
                sums[self.tags[t]] = sums[self.tags[t]] + sw[t] * (v.T @ k)   # (d_out, B) @ (B, d_in)
            self._sums = {"key": key, "sums": sums}
        return self._sums["sums"]

    def weight(self, scale: Mapping[str, float] | None = None, *, scale_w0: bool = False,
               tags: str | Iterable[str] | None = None, include_w0: bool = True,
               decay: bool = True) -> torch.Tensor:
        """Rebuild the weight matrix ``W0 + sum_n s_n v_n^T k_n`` (Eq 10); ``(d_out, d_in[+1])``.

        ``scale`` multiplies the memories of each tag (``{"task1": 1.5}``; ``"W0"`` names the
        initial weights); ``scale_w0=True`` scales ``W0`` with the first phase's memories,
        the phase that trained from it (Figure 3's published notebook keeps ``W0`` in its
        Task-1 layer). ``tags`` keeps only those tags' memories (one tag may be given as a
        string), ``include_w0=False`` drops ``W0``. ``decay=False`` ignores weight decay
        (every memory at full strength): the naive memory, wrong when the optimiser decayed
        the weights. Per-tag sums are computed once and reused, so a sweep over scales costs
        one weighted sum of a few matrices per call.
        """
        factors, w0 = self._factors(scale, scale_w0)
        kept = self._kept(tags)
        check.flag("include_w0", include_w0)
        sums = self._tag_sums(check.flag("decay", decay))
        W = self.W0 * (self.w0_weight(decay) * w0) if include_w0 else torch.zeros_like(self.W0)
        for tag in kept:
            W = W + factors.get(tag, 1.0) * sums[tag]
        return W

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Unnormalised attention ``alpha_n = x . k_n`` of queries ``(B, d_in)`` on every memory: ``(B, N)``.
        """
        xa, _ = self._query(x)
        if not self.keys:
            return xa.new_zeros(xa.shape[0], 0)
        # scores only (no weighted sum): one product per stored step, the keys never concatenated
        return torch.cat([xa @ k.T.to(xa) for k in self.keys], dim=1)             # (B, N)

    def forward(self, x: torch.Tensor, scale: Mapping[str, float] | None = None, *,
                scale_w0: bool = False, tags: str | Iterable[str] | None = None,
                include_w0: bool = True, decay: bool = True, weights: torch.Tensor | None = None,
                chunk: int = 8192) -> torch.Tensor:
        """Eq 11: ``y = x W0^T + sum_n s_n (x . k_n) v_n``, attention over the stored memories.

        ``x`` is ``(..., d_in)``; returns ``(..., d_out)``. The sum is read through
        :func:`kvlib.kernels.retrieve` (dot product, no separation), ``chunk`` memories at a
        time, so the ``(B, N)`` attention matrix is never held whole. ``scale``,
        ``scale_w0``, ``tags``, ``include_w0`` and ``decay`` as in :meth:`weight`;
        ``weights`` (``(N,)``, storage order) multiplies each memory on top of them, e.g.
        momentum's re-weighting (:func:`kvlib.attribution.pattern_weights`).
        """
        xa, lead = self._query(x)
        if weights is not None:
            weights = check.tensor("weights", weights, shape=(self.n_memories,), dtype="float")
        offsets = [0]
        for k in self.keys:
            offsets.append(offsets[-1] + k.shape[0])
        factors, w0 = self._factors(scale, scale_w0)
        kept = set(self._kept(tags))
        check.flag("include_w0", include_w0)
        chunk = check.count("chunk", chunk, minimum=1)
        sw = self.step_weights(check.flag("decay", decay)).tolist()
        y = (self.w0_weight(decay) * w0) * (xa @ self.W0.T.to(xa)) if include_w0 else \
            xa.new_zeros(xa.shape[0], self.W0.shape[0])                # (B, d_out)
        steps = [t for t in range(self.n_steps) if self.tags[t] in kept]
        start = 0
        while start < len(steps) and xa.shape[0]:
            block, size = [], 0
            while start < len(steps) and size < chunk:
                block.append(steps[start])
                size += self.keys[steps[start]].shape[0]
                start += 1
            K = torch.cat([self.keys[t].to(xa) for t in block])                # (n, d_in[+1])
            if not K.shape[0]:
                continue
            V = torch.cat([self.values[t].to(xa) * (sw[t] * factors.get(self.tags[t], 1.0))
                           for t in block])                                   # (n, d_out), scaled
            if weights is not None:
                V = V * torch.cat([weights[offsets[t]:offsets[t + 1]] for t in block]).to(V)[:, None]
            y = y + kernels.retrieve(xa, K, V, "dot", "identity")              # (B, d_out)
        return y.reshape(*lead, self.W0.shape[0])

    __call__ = forward

    def example_ids(self) -> torch.Tensor:
        """The training-example index of every memory, in storage order; ``(N,)`` (-1: unknown)."""
        if len(self.ids) != len(self.keys):
            raise ValueError(f"layer {self.name!r}: example indices were not recorded for every step; "
                             "call MemoryRecorder.set_example_ids(ids) before each batch")
        if not self.ids:
            return torch.zeros(0, dtype=torch.long)
        return torch.cat(self.ids)

    # ------------------------------------------- which phase an output comes from (Chapter 3)
    def tag_outputs(self, x: torch.Tensor, decay: bool = True) -> dict[str, torch.Tensor]:
        """Split the output by origin: ``{"W0": x W0^T, tag: that tag's memories' read-out}``.

        The parts add up to :meth:`forward` (Eq 11). When there are more queries than output
        units, each tag's part is read through its summed weights (Eq 10 restricted to the tag,
        then ``x W_tag^T``): the same sum, reassociated, at a fraction of the cost for many
        queries. Explained in Chapter 3, §Nothing was erased.
        """
        xa, lead = self._query(x)
        check.flag("decay", decay)
        primal = xa.shape[0] > self.W0.shape[0]
        with torch.no_grad():
            parts = {W0_TAG: self.forward(x, decay=decay, tags=[])}
            for tag in self.tag_names:
                if primal:
                    W = self.weight(tags=[tag], include_w0=False, decay=decay)
                    parts[tag] = (xa @ W.T.to(xa)).reshape(*lead, -1)
                else:
                    parts[tag] = self.forward(x, decay=decay, tags=[tag], include_w0=False)
        return parts

    def tag_shares(self, x: torch.Tensor, decay: bool = True) -> dict[str, torch.Tensor]:
        """Each origin's share of the output: ``part . y / |y|^2`` per query, ``(...)`` each.

        The shares of ``"W0"`` and of every tag add up to exactly 1 (a part that pulls against
        the output has a negative share); a query whose output is zero has share 0 everywhere.
        Explained in Chapter 3, §Nothing was erased.
        """
        parts = self.tag_outputs(x, decay)
        y = sum(parts.values())                                       # (..., d_out) = Eq 11
        norm2 = y.pow(2).sum(-1)
        norm2 = torch.where(norm2 > 0, norm2, torch.ones_like(norm2))
        return {k: (p * y).sum(-1) / norm2 for k, p in parts.items()}


# ------------------------------------------------------------------ whole networks
def _memories(source: Any) -> dict[str, LayerMemory]:
    """A recorder's memories (anything with a ``memories`` dict), or a dict of LayerMemory."""
    source = getattr(source, "memories", source)
    if isinstance(source, dict) and all(isinstance(m, LayerMemory) for m in source.values()):
        return source
    raise TypeError(f"memories: expected a MemoryRecorder or a dict of LayerMemory, "
                    f"got {type(source).__name__}")


def model_input(model: nn.Module, x: Any, name: str = "x") -> torch.Tensor:
    """``x`` checked and converted (exactly) to the dtype and device of ``model``'s parameters."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected the argument's name as a non-empty string, got {name!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    p = next(model.parameters(), None)
    x = check.tensor(name, x, ndim=range(1, 64), dtype="any")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype() if p is None else p.dtype)   # exact for small integers
    if p is not None:
        if x.device != p.device:
            raise ValueError(f"{name}: expected device {p.device} (the model's), got {x.device}")
        if torch.promote_types(x.dtype, p.dtype) != p.dtype:
            raise TypeError(f"{name}: expected dtype {p.dtype} (the model's), got {x.dtype}")
        x = x.to(p.dtype)
    return x


def dual_forward(model: nn.Module, memories: Any,
                 x: torch.Tensor, *, scale: Mapping[str, float] | None = None,
                 scale_w0: bool = False, decay: bool = True,
                 tags: str | Iterable[str] | None = None) -> torch.Tensor:
    """Run a ``nn.Sequential`` with every recorded linear layer read out as a memory (Eq 11).

    Layers without memories (activations, unrecorded linears) run as themselves; nested
    ``nn.Sequential`` blocks are followed. ``scale``/``scale_w0``/``decay``/``tags`` are
    passed to every :meth:`LayerMemory.forward` (e.g. ``scale={"task2": 0}`` reads the
    network as it would be without task 2's memories). Explained in Chapter 3.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model: expected a torch.nn.Sequential (the dual forward pass follows its "
                        f"layers in order), got {type(model).__name__}")
    mems = _memories(memories)
    h = model_input(model, x)

    def run(seq: nn.Sequential, prefix: str, h: torch.Tensor) -> torch.Tensor:
        for name, mod in seq.named_children():
            full = f"{prefix}{name}"
            if isinstance(mod, nn.Sequential):
                h = run(mod, f"{full}.", h)
            elif full in mems:
                h = mems[full].forward(h, scale=scale, scale_w0=scale_w0, decay=decay, tags=tags)
            else:
                h = mod(h)
        return h

    with torch.no_grad():
        return run(model, "", h)


def layer_io(model: nn.Module, names: Iterable[str], x: torch.Tensor
             ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Run ``model`` on ``x`` and return each named layer's ``(input, output)``, flattened to 2-D.

    Explained in Chapter 3 (a layer's input is the query of its memory).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    mods = dict(model.named_modules())
    names = check.sequence("names", list(names) if isinstance(names, dict) else names)
    missing = [n for n in names if n not in mods]
    if missing:
        raise ValueError(f"names: layers {missing} are not modules of the model")
    x = model_input(model, x)
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def keep(name):
        def hook(mod, inputs, output):
            h, y = inputs[0].detach(), output.detach()
            seen[name] = (h.reshape(-1, h.shape[-1]), y.reshape(-1, y.shape[-1]))
        return hook

    handles = [mods[n].register_forward_hook(keep(n)) for n in names]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return seen


_MOVED = {"MemoryRecorder": "kvlib.recorder", "check_optimizer": "kvlib.recorder",
          "train_classifier": "kvlib.training", "make_mlp": "kvlib.training"}


def __getattr__(name: str) -> Any:
    """The old import paths keep working: ``kvlib.dualform.MemoryRecorder`` (now in
    :mod:`kvlib.recorder`), ``train_classifier`` and ``make_mlp`` (now in :mod:`kvlib.training`),
    imported lazily because those modules import this one."""
    if name in _MOVED:
        import importlib
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'kvlib.dualform' has no attribute {name!r}")
