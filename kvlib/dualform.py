"""The dual form: a linear layer trained by gradient descent is a key-value memory.

Paper §2.3, Eqs 10-11 (Irie, Csordás & Schmidhuber 2022). For a linear layer
``y = x W^T`` (row vectors here; torch keeps ``W`` as ``(d_out, d_in)``) trained
by plain SGD, every example n of every step writes one pair

    key   k_n = x_n                       (the layer's input)
    value v_n = e_n = -lr * dL/dy_n        (its error signal)

and the trained weight is ``W = W_0 + sum_n v_n^T k_n`` (Eq 10). The layer's output
for a new input is then an (unnormalised) attention over everything it was trained on
(Eq 11)::

    y(x) = x W_0^T + sum_n (x . k_n) v_n

:class:`MemoryRecorder` materialises these pairs for every ``nn.Linear`` of any model
while it trains (forward/backward hooks), and :class:`LayerMemory` reads them out
in either form. A bias is a memory whose key is the constant 1: keys are stored
with a trailing 1 when the layer has a bias.

Weight decay is exact too, once older memories decay: with decay ``lambda`` each step
multiplies all earlier memories (and ``W_0``) by ``1 - lr * lambda``. Momentum and
Adam write something other than ``-lr * grad``; the recorder refuses them unless the
reader asks for the approximate memory on purpose (Chapter 3 shows the error);
``decay=False`` in the read-outs gives the naive, undecayed memory for comparison.

Each pair can also carry the index of the training example that wrote it
(:meth:`MemoryRecorder.set_example_ids`), which lets Chapter 3 ask which training
examples a test input retrieves (:meth:`LayerMemory.top_examples`), and which task's
memories supply an output (:meth:`LayerMemory.tag_shares`). The module ends with
whole-network helpers: :func:`dual_forward` (a ``nn.Sequential`` read entirely from its
memories), :func:`layer_errors` (the identity, layer by layer) and the runs of Chapter 3
(:func:`dual_form_identity`, :func:`sequential_tasks`).

:func:`concentration` and :func:`retrieval_stats` measure the book's own statistic, the size and
support of each training example's contribution to the output. The source's statistic, the
raw attention of test inputs over the recorded patterns ("spotlights", Irie et al. 2022), is in
:mod:`kvlib.attribution`.

Explained in Chapter 3 ("The dual form") and used in Chapter 6 (Figure 3).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import torch
from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar
from torch import nn

__all__ = ["MemoryRecorder", "LayerMemory", "check_optimizer", "dual_forward", "layer_io",
           "layer_errors", "retrieval_stats",
           "make_mlp", "train_classifier", "SETTINGS", "identity_errors", "dual_form_identity",
           "concentration", "sequential_tasks"]


def _small_steps(device: str | torch.device):
    """One CPU thread for loops of many small tensor operations (measured 3-8x faster than two
    on shared cores, see :func:`kvlib.device.cpu_threads`); other devices are left alone."""
    return cpu_threads(1 if torch.device(device).type == "cpu" else None)


def check_optimizer(optimizer: torch.optim.Optimizer) -> list[float]:
    """Return each param group's weight decay if SGD's update is exactly a key-value write.

    Raises ``ValueError`` (saying why) for momentum, Nesterov or any optimiser other than
    ``torch.optim.SGD``: their update is not ``-lr * gradient``, so the memories of Eq 10
    would not add up to the trained weights.
    """
    if not isinstance(optimizer, torch.optim.SGD):
        raise ValueError(
            f"optimizer: the dual form of Eq 10 is exact only for plain SGD, got "
            f"{type(optimizer).__name__}: its update is not -lr * gradient (Adam rescales each "
            "coordinate by running moments). Pass approximate=True to record -lr * gradient anyway.")
    decays = []
    for i, group in enumerate(optimizer.param_groups):
        if group.get("momentum", 0) != 0 or group.get("nesterov", False):
            raise ValueError(
                f"optimizer: param group {i} has momentum={group.get('momentum')}; with momentum each "
                "update mixes gradients of earlier steps, so a step's error signal is not its own "
                "write. Use momentum=0, or approximate=True to record -lr * gradient anyway.")
        if group.get("maximize", False):
            raise ValueError(f"optimizer: param group {i} has maximize=True; expected False")
        decays.append(float(group.get("weight_decay", 0.0)))
    return decays


@dataclass
class LayerMemory:
    """The key-value memories one linear layer has stored (Eq 10), chunked by step.

    ``keys[t]`` is ``(B_t, d_in)`` (``d_in + 1`` with a bias), ``values[t]`` is
    ``(B_t, d_out)``; ``decay[t]`` is the factor step ``t`` applied to everything before it
    (1 without weight decay); ``tags[t]`` names the phase the step belonged to.
    """

    name: str
    W0: torch.Tensor                        # (d_out, d_in[+1])
    has_bias: bool
    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)
    decay: list[float] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    ids: list[torch.Tensor] = field(default_factory=list)   # (B_t,) example index per memory, -1 unknown

    # ------------------------------------------------------------------ sizes
    @property
    def n_steps(self) -> int:
        return len(self.keys)

    @property
    def n_memories(self) -> int:
        return sum(k.shape[0] for k in self.keys)

    def nbytes(self) -> int:
        """Bytes held by keys and values (views of a shared tensor are counted in full)."""
        return sum(k.numel() * k.element_size() + v.numel() * v.element_size()
                   for k, v in zip(self.keys, self.values))

    def step_weights(self) -> torch.Tensor:
        """Weight of each step's memories today: the product of all later decays; ``(T,)``."""
        d = torch.tensor(self.decay + [1.0], dtype=torch.float64)
        # suffix product: w[t] = prod_{s > t} decay[s]
        rev = torch.flip(torch.cumprod(torch.flip(d[1:], [0]), 0), [0])
        return rev

    def w0_weight(self) -> float:
        """How much of ``W0`` survives weight decay: the product of every step's decay."""
        return float(torch.tensor(self.decay, dtype=torch.float64).prod()) if self.decay else 1.0

    # ---------------------------------------------------------- read-outs
    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.W0.shape[1] - int(self.has_bias):
            raise ValueError(f"x: expected last dimension {self.W0.shape[1] - int(self.has_bias)} "
                             f"(the input size of layer {self.name!r}), got {tuple(x.shape)}")
        if self.has_bias:
            return torch.cat([x, x.new_ones(*x.shape[:-1], 1)], dim=-1)
        return x

    def _scales(self, scale: dict[str, float] | None, w0_scale: float,
                decay: bool = True) -> tuple[list[float], float]:
        scale = scale or {}
        bad = [t for t in scale if t not in set(self.tags)]
        if bad:
            raise ValueError(f"scale: unknown tag(s) {bad}; this layer's memories are tagged "
                             f"{sorted(set(self.tags))}")
        for t, s in scale.items():
            if not isinstance(s, (int, float)) or s < 0:
                raise ValueError(f"scale[{t!r}]: expected a number >= 0, got {s!r}")
        if not isinstance(w0_scale, (int, float)) or w0_scale < 0:
            raise ValueError(f"w0_scale: expected a number >= 0, got {w0_scale!r}")
        if decay:
            sw, w0w = self.step_weights().tolist(), self.w0_weight()
        else:   # the naive memory: every write kept at full strength (wrong under weight decay)
            sw, w0w = [1.0] * self.n_steps, 1.0
        return [sw[t] * scale.get(tag, 1.0) for t, tag in enumerate(self.tags)], w0w * w0_scale

    def weight(self, scale: dict[str, float] | None = None, w0_scale: float = 1.0,
               tags: Iterable[str] | None = None, include_w0: bool = True,
               decay: bool = True) -> torch.Tensor:
        """Rebuild the weight matrix ``W0 + sum_n s_n v_n^T k_n`` (Eq 10); ``(d_out, d_in[+1])``.

        ``scale`` multiplies the memories of each tag (e.g. ``{"task1": 1.5}``), ``w0_scale``
        the initial weights; ``tags`` keeps only the memories of those tags. ``decay=False``
        ignores weight decay (every memory at full strength): the naive memory, which is
        wrong when the optimiser decayed the weights (Chapter 3's control).
        """
        steps, w0w = self._scales(scale, w0_scale, decay)
        keep = None if tags is None else set(tags)
        W = self.W0 * w0w if include_w0 else torch.zeros_like(self.W0)
        for t, (k, v) in enumerate(zip(self.keys, self.values)):
            if keep is not None and self.tags[t] not in keep:
                continue
            W = W + steps[t] * (v.T.to(W.dtype) @ k.to(W.dtype))   # (d_out, B) @ (B, d_in)
        return W

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Unnormalised attention ``alpha_n = x . k_n`` of queries on every memory; ``(B, N)``."""
        xa = self._augment(x)
        return torch.cat([xa @ k.T.to(xa.dtype) for k in self.keys], dim=1) if self.keys \
            else xa.new_zeros(xa.shape[0], 0)

    def forward(self, x: torch.Tensor, scale: dict[str, float] | None = None,
                w0_scale: float = 1.0, chunk: int = 8192, *, decay: bool = True,
                tags: Iterable[str] | None = None, include_w0: bool = True) -> torch.Tensor:
        """Eq 11: ``y = x W0^T + sum_n s_n (x . k_n) v_n``, attention over stored memories.

        Computed chunk by chunk over memories (``chunk`` memories at a time), so the
        ``(B, N)`` attention matrix is never held whole. ``decay``, ``tags`` and
        ``include_w0`` as in :meth:`weight`.
        """
        steps, w0w = self._scales(scale, w0_scale, decay)
        keep = None if tags is None else set(tags)
        xa = self._augment(x)                                        # (B, d_in[+1])
        y = w0w * (xa @ self.W0.T.to(xa.dtype))                      # (B, d_out)
        if not include_w0:
            y = torch.zeros_like(y)
        buf_k, buf_v, size = [], [], 0

        def flush() -> torch.Tensor:
            K = torch.cat(buf_k).to(xa.dtype)                          # (n, d_in[+1])
            V = torch.cat(buf_v).to(xa.dtype)                          # (n, d_out), pre-scaled
            return (xa @ K.T) @ V                                    # (B, n) @ (n, d_out)

        for t, (k, v) in enumerate(zip(self.keys, self.values)):
            if keep is not None and self.tags[t] not in keep:
                continue
            buf_k.append(k)
            buf_v.append(v * steps[t])
            size += k.shape[0]
            if size >= chunk:
                y = y + flush()
                buf_k, buf_v, size = [], [], 0
        if buf_k:
            y = y + flush()
        return y

    __call__ = forward

    # ------------------------------------------- what the layer retrieves (Chapter 3)
    def example_ids(self) -> torch.Tensor:
        """The training-example index of every memory, in storage order; ``(N,)`` (-1: unknown)."""
        if len(self.ids) != len(self.keys):
            raise ValueError(f"layer {self.name!r}: example indices were not recorded for every step; "
                             "call MemoryRecorder.set_example_ids(ids) before each batch")
        if not self.ids:
            return torch.zeros(0, dtype=torch.long)
        return torch.cat([i.cpu() for i in self.ids])

    def example_contributions(self, x: torch.Tensor, n_examples: int | None = None,
                              decay: bool = True) -> torch.Tensor:
        """What each training example's memories add to the output: ``(B, E, d_out)``.

        Entry ``[b, e]`` is ``sum_{n of example e} s_n (x_b . k_n) v_n``, the part of Eq 11's sum
        written by example ``e`` (over all the steps it was seen in). Summed over ``e`` and
        added to ``x W0^T``, it gives the layer's output. Needs the example indices
        (:meth:`MemoryRecorder.set_example_ids`).
        Explained in Chapter 3, §What the network retrieves.
        """
        ids = self.example_ids()
        if (ids < 0).any():
            raise ValueError(f"layer {self.name!r}: some memories have no example index (-1); "
                             "call MemoryRecorder.set_example_ids(ids) before every batch")
        if n_examples is None and not ids.numel():
            raise ValueError(f"n_examples: layer {self.name!r} has no memories; give the number "
                             "of training examples explicitly")
        E = int(ids.max()) + 1 if n_examples is None else n_examples
        if ids.numel() and int(ids.max()) >= E:
            raise ValueError(f"n_examples: expected more than the largest example index "
                             f"{int(ids.max())}, got {n_examples!r}")
        steps, _ = self._scales(None, 1.0, decay)
        xa = self._augment(x).detach()                                # (B, d_in[+1])
        out = xa.new_zeros(xa.shape[0], E, self.W0.shape[0])          # (B, E, d_out)
        start = 0
        with torch.no_grad(), _small_steps(xa.device):
            for t, (k, v) in enumerate(zip(self.keys, self.values)):
                n = k.shape[0]
                alpha = xa @ k.T.to(xa.dtype)                         # (B, n) attention
                contrib = alpha[:, :, None] * (steps[t] * v.to(xa.dtype))[None]   # (B, n, d_out)
                out.index_add_(1, ids[start:start + n].to(xa.device), contrib)
                start += n
        return out

    def example_scores(self, x: torch.Tensor, by: str = "support", n_examples: int | None = None,
                       decay: bool = True) -> torch.Tensor:
        """Score every training example for each query; ``(B, E)``.

        ``by="support"``: how far example ``e``'s contribution ``c_e`` pushes the output the way
        it actually goes, ``c_e . y / |y|`` with ``y`` the layer's output (Eq 11); the supports
        of all examples plus ``W0``'s add up to ``|y|``. ``"magnitude"``: ``|c_e|``.
        ``"attention"``: the summed raw attention ``x . k_n`` of the example's memories,
        ignoring what they store. Explained in Chapter 3, §What the network retrieves.
        """
        if by not in ("support", "magnitude", "attention"):
            raise ValueError(f"by: expected 'support', 'magnitude' or 'attention', got {by!r}")
        if by == "attention":
            ids = self.example_ids()
            E = int(ids.max()) + 1 if n_examples is None else n_examples
            with torch.no_grad():
                alpha = self.attention(x.detach())                    # (B, N)
                return alpha.new_zeros(alpha.shape[0], E).index_add_(1, ids.to(alpha.device), alpha)
        c = self.example_contributions(x, n_examples, decay)          # (B, E, d_out)
        if by == "magnitude":
            return c.norm(dim=-1)
        with torch.no_grad():
            y = self.forward(x.detach(), decay=decay)                 # (B, d_out)
        return (c * y[:, None, :]).sum(-1) / y.norm(dim=-1, keepdim=True)

    def top_examples(self, x: torch.Tensor, k: int = 8, by: str = "support",
                     n_examples: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` training examples each query retrieves most: ``(indices, scores)``, ``(B, k)``.

        Ranked by :meth:`example_scores`. Explained in Chapter 3, §What the network retrieves.
        """
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k: expected an int >= 1, got {k!r}")
        top = self.example_scores(x, by, n_examples).topk(k, dim=-1)
        return top.indices, top.values

    def tag_outputs(self, x: torch.Tensor, decay: bool = True) -> dict[str, torch.Tensor]:
        """Split the output by origin: ``{"W0": x W0^T, tag: that tag's memories' read-out}``.

        The parts add up to :meth:`forward` (Eq 11). When there are more queries than output
        units, each tag's part is read through its summed weights (Eq 10 restricted to the tag,
        then ``x W_tag^T``): the same sum, reassociated, at a fraction of the cost for many
        queries. Explained in Chapter 3, §Nothing was erased.
        """
        primal = x.shape[0] > self.W0.shape[0]
        with torch.no_grad(), _small_steps(x.device):
            parts = {"W0": self.forward(x, decay=decay, tags=[])}
            for tag in dict.fromkeys(self.tags):                      # tags in order of first use
                if primal:
                    W = self.weight(tags=[tag], include_w0=False, decay=decay)
                    parts[tag] = self._augment(x) @ W.T.to(x.dtype)
                else:
                    parts[tag] = self.forward(x, decay=decay, tags=[tag], include_w0=False)
        return parts

    def tag_shares(self, x: torch.Tensor, decay: bool = True) -> dict[str, torch.Tensor]:
        """Each origin's share of the output: ``part . y / |y|^2`` per query, ``(B,)`` each.

        The shares of ``"W0"`` and of every tag add up to exactly 1 (a part that pulls against
        the output has a negative share). Explained in Chapter 3, §Nothing was erased.
        """
        parts = self.tag_outputs(x, decay)
        y = sum(parts.values())                                       # (B, d_out) = Eq 11
        return {k: (p * y).sum(-1) / y.pow(2).sum(-1) for k, p in parts.items()}


class MemoryRecorder:
    """Record the key-value memories that SGD writes into the ``nn.Linear`` layers of a model.

    >>> model = nn.Sequential(nn.Linear(3, 2)); opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> rec = MemoryRecorder(model, opt)
    >>> loss = model(torch.randn(5, 3)).pow(2).sum(); loss.backward(); opt.step()
    >>> rec.memories["0"].n_memories
    5

    Keys are the layer inputs (flattened over leading axes), values the error signals
    ``-lr * dL/dy``; one pair per example and step, committed when the optimiser steps.
    Use :meth:`phase` to tag steps (e.g. by task). ``approximate=True`` records
    ``-lr * gradient`` even for optimisers whose update is something else (for
    demonstrating why the identity then fails).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 layers: Iterable[str] | None = None, approximate: bool = False,
                 store_device: str | torch.device | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        self.optimizer = optimizer
        self.approximate = approximate
        if approximate:
            self._decays = [0.0] * len(optimizer.param_groups)
        else:
            self._decays = check_optimizer(optimizer)
        linears = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
        if layers is not None:
            layers = list(layers)
            missing = [n for n in layers if n not in linears]
            if missing:
                raise ValueError(f"layers: {missing} are not nn.Linear modules of the model; "
                                 f"its linear layers are {list(linears)}")
            linears = {n: linears[n] for n in layers}
        if not linears:
            raise ValueError("model: has no nn.Linear layer to record")
        self.store_device = None if store_device is None else torch.device(store_device)
        self.tag = "train"
        self._ids: torch.Tensor | None = None
        self.modules = linears
        self.memories: dict[str, LayerMemory] = {}
        self._group_of: dict[str, int] = {}
        self._pending: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {n: [] for n in linears}
        self._handles = []
        for name, mod in linears.items():
            W = mod.weight.detach()
            if mod.bias is not None:
                W = torch.cat([W, mod.bias.detach()[:, None]], dim=1)
            self.memories[name] = LayerMemory(name, W.clone(), mod.bias is not None)
            self._group_of[name] = self._find_group(mod.weight)
            if not approximate and mod.bias is not None and mod.bias.requires_grad and \
                    self._find_group(mod.bias) != self._group_of[name]:
                raise ValueError(
                    f"optimizer: the bias of layer {name!r} is not in the same param group as its "
                    "weight; the bias is stored as the memory column with key 1, so both must be "
                    "trained with the same learning rate and weight decay")
            self._handles.append(mod.register_forward_hook(self._make_forward_hook(name)))
        self._handles.append(optimizer.register_step_pre_hook(self._on_step))

    # ------------------------------------------------------------------ hooks
    def _find_group(self, p: torch.Tensor) -> int:
        for i, g in enumerate(self.optimizer.param_groups):
            if any(q is p for q in g["params"]):
                return i
        return -1

    def _make_forward_hook(self, name: str):
        def hook(mod, inputs, output):
            if torch.is_grad_enabled() and output.requires_grad:
                x = inputs[0].detach()
                x = x.reshape(-1, x.shape[-1])                         # (B, d_in)
                ids = self._ids
                if ids is None or ids.shape[0] != x.shape[0]:
                    ids = torch.full((x.shape[0],), -1, dtype=torch.long)

                def grad_hook(g: torch.Tensor) -> None:               # g = dL/dy, (..., d_out)
                    self._pending[name].append((x, g.detach().reshape(-1, g.shape[-1]), ids))
                output.register_hook(grad_hook)
        return hook

    def _on_step(self, optimizer, args, kwargs) -> None:
        self._ids = None                               # example indices are set per batch
        for name, mod in self.modules.items():
            pending, self._pending[name] = self._pending[name], []
            gi = self._group_of[name]
            if gi < 0 or not mod.weight.requires_grad or mod.weight.grad is None:
                continue                               # this layer is not being trained
            group = optimizer.param_groups[gi]
            lr = float(group["lr"])
            mem = self.memories[name]
            keys, values, ids = [], [], []
            for x, g, i in pending:
                if mod.bias is not None:
                    x = torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1)
                keys.append(x)
                values.append(-lr * g)
                ids.append(i)
            if not keys:
                continue
            k, v = (torch.cat(keys), torch.cat(values)) if len(keys) > 1 else (keys[0], values[0])
            if self.store_device is not None:
                k, v = k.to(self.store_device), v.to(self.store_device)
            mem.keys.append(k)
            mem.values.append(v)
            mem.decay.append(1.0 - lr * self._decays[gi])
            mem.tags.append(self.tag)
            mem.ids.append(torch.cat(ids) if len(ids) > 1 else ids[0])

    # ------------------------------------------------------------------ API
    @contextmanager
    def phase(self, tag: str) -> Iterator["MemoryRecorder"]:
        """Tag every memory written inside the block with ``tag`` (e.g. ``"task1"``)."""
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"tag: expected a non-empty string, got {tag!r}")
        old, self.tag = self.tag, tag
        try:
            yield self
        finally:
            self.tag = old

    def set_example_ids(self, ids: torch.Tensor | None) -> None:
        """Name the training examples of the next batch (``(B,)`` ints), until the optimiser steps.

        The indices travel with the memories (``LayerMemory.ids``), so Chapter 3 can show which
        training images a test input retrieves. ``None`` forgets them.
        """
        if ids is not None:
            ids = torch.as_tensor(ids)
            if ids.dim() != 1 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
                raise ValueError(f"ids: expected a 1-D tensor of integer example indices, got "
                                 f"dtype {ids.dtype} and shape {tuple(ids.shape)}")
            ids = ids.detach().to("cpu", torch.long)
        self._ids = ids

    def nbytes(self) -> int:
        """Total bytes of stored keys and values, all layers."""
        return sum(m.nbytes() for m in self.memories.values())

    def footprint(self) -> str:
        """A one-line summary: memories per layer and the storage they take."""
        parts = [f"{n}: {m.n_memories:,} pairs" for n, m in self.memories.items()]
        return f"{'; '.join(parts)}; {self.nbytes() / 2**20:.1f} MiB of keys and values"

    def remove(self) -> None:
        """Detach the hooks (the memories recorded so far stay)."""
        for h in self._handles:
            h.remove()
        self._handles = []


# =====================================================================================
# Whole networks: the dual-form forward pass, the identity check, and Chapter 3's runs
# =====================================================================================

def _memories(source: "MemoryRecorder | dict[str, LayerMemory]") -> dict[str, LayerMemory]:
    if isinstance(source, MemoryRecorder):
        return source.memories
    if isinstance(source, dict) and all(isinstance(m, LayerMemory) for m in source.values()):
        return source
    raise TypeError(f"memories: expected a MemoryRecorder or a dict of LayerMemory, "
                    f"got {type(source).__name__}")


def dual_forward(model: nn.Module, memories: "MemoryRecorder | dict[str, LayerMemory]",
                 x: torch.Tensor, *, scale: dict[str, float] | None = None,
                 w0_scale: float = 1.0, decay: bool = True,
                 tags: Iterable[str] | None = None) -> torch.Tensor:
    """Run a ``nn.Sequential`` with every recorded linear layer read out as a memory (Eq 11).

    Layers without memories (activations, unrecorded linears) run as themselves; nested
    ``nn.Sequential`` blocks are followed. ``scale``/``w0_scale``/``decay``/``tags`` are
    passed to every :meth:`LayerMemory.forward` (e.g. ``scale={"task2": 0}`` reads the
    network as it would be without task 2's memories). Explained in Chapter 3.
    """
    mems = _memories(memories)
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model: expected a torch.nn.Sequential (the dual forward pass follows its "
                        f"layers in order), got {type(model).__name__}")

    def run(seq: nn.Sequential, prefix: str, h: torch.Tensor) -> torch.Tensor:
        for name, mod in seq.named_children():
            full = f"{prefix}{name}"
            if isinstance(mod, nn.Sequential):
                h = run(mod, f"{full}.", h)
            elif full in mems:
                mem = mems[full]
                lead = h.shape[:-1]
                h = mem.forward(h.reshape(-1, h.shape[-1]), scale=scale, w0_scale=w0_scale,
                                decay=decay, tags=tags).reshape(*lead, -1)
            else:
                h = mod(h)
        return h

    with torch.no_grad():
        return run(model, "", x)


def layer_io(model: nn.Module, names: Iterable[str], x: torch.Tensor
             ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Run ``model`` on ``x`` and return each named layer's ``(input, output)``, flattened to 2-D.

    Explained in Chapter 3 (a layer's input is the query of its memory).
    """
    mods = dict(model.named_modules())
    names = list(names)
    missing = [n for n in names if n not in mods]
    if missing:
        raise ValueError(f"names: layers {missing} are not modules of the model")
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


def layer_errors(model: nn.Module, memories: "MemoryRecorder | dict[str, LayerMemory]",
                 x: torch.Tensor, *, decay: bool = True) -> dict[str, float]:
    """Max absolute difference, per recorded layer, between the trained layer and its memory.

    The model runs on ``x``; each recorded ``nn.Linear`` sees its real input ``h`` and its
    output ``h W^T + b`` is compared with Eq 11 read from the memories on the same ``h``.
    Explained in Chapter 3, §The identity on MNIST.
    """
    mems = _memories(memories)
    io = layer_io(model, mems, x)
    return {n: float((mem.forward(io[n][0], decay=decay) - io[n][1]).abs().max())
            for n, mem in mems.items()}


def make_mlp(sizes: tuple[int, ...] = (784, 64, 10), bias: bool = True, seed: int = 0,
             dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> nn.Sequential:
    """A ReLU multilayer perceptron ``Linear, ReLU, ..., Linear`` with PyTorch's default init.

    Float64 by default: the identity of Chapter 3 is checked to 1e-10.
    """
    if len(sizes) < 2 or any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"sizes: expected at least two positive ints, got {sizes!r}")
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):   # default init, seeded, global RNG left untouched
        torch.manual_seed(seed)
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b, bias=bias, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
    return nn.Sequential(*layers).to(device=device)


def train_classifier(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                     y: torch.Tensor, *, epochs: int = 1, steps: int | None = None,
                     batch_size: int = 32, recorder: "MemoryRecorder | None" = None,
                     id_offset: int = 0, seed: int = 0, shuffle: bool = True,
                     progress: bool = False) -> list[float]:
    """Minibatch training with cross-entropy; with a ``recorder``, each batch's example indices
    (``id_offset`` + row of ``x``) are recorded with its memories. Returns the loss per step.

    Stops after ``epochs`` passes or ``steps`` steps, whichever comes first. Shuffling uses a
    CPU generator seeded with ``seed``; ``shuffle=False`` takes the rows in order, as the
    paper's published Figure 3 notebook does. Explained in Chapter 3; used in Chapter 6.
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x, y: expected the same number of rows, got {x.shape[0]} and {y.shape[0]}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
    g = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    total = epochs * (-(-n // batch_size)) if steps is None else min(steps, epochs * (-(-n // batch_size)))
    losses: list[float] = []
    bar = progress_bar(total=total, enabled=progress, desc="training")
    while len(losses) < total:
        perm = torch.randperm(n, generator=g) if shuffle else torch.arange(n)
        for s in range(0, n, batch_size):
            if len(losses) >= total:
                break
            idx = perm[s:s + batch_size]
            if recorder is not None:
                recorder.set_example_ids(idx + id_offset)
            if shuffle:
                dev_idx = idx.to(x.device)
                xb, yb = x[dev_idx], y[dev_idx]
            else:              # a slice is a view: recorded keys then share the data's storage
                xb, yb = x[s:s + batch_size], y[s:s + batch_size]
            loss = nn.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            bar.update(1)
    bar.close()
    return losses


#: Chapter 3's optimiser settings: the exact one and the negative controls.
SETTINGS = ("sgd", "momentum", "adam", "weight_decay", "weight_decay_decayed_memories")


def _float64_device(device: str | torch.device) -> torch.device:
    """Where a float64 computation can run: ``device``, except Apple MPS (no float64) -> CPU."""
    device = torch.device(device)
    return torch.device("cpu") if device.type == "mps" else device


def _optimizer(setting: str, params, lr: float, weight_decay: float) -> tuple[torch.optim.Optimizer, bool]:
    """The optimiser for ``setting`` and whether it needs ``approximate=True``."""
    if setting == "sgd":
        return torch.optim.SGD(params, lr=lr), False
    if setting == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9), True
    if setting == "adam":
        return torch.optim.Adam(params, lr=1e-3), True
    if setting in ("weight_decay", "weight_decay_decayed_memories"):
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay), False
    raise ValueError(f"setting: expected one of {SETTINGS}, got {setting!r}")


def identity_errors(setting: str, x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, *,
                    sizes: tuple[int, ...] = (784, 64, 10), steps: int = 300, batch_size: int = 32,
                    lr: float = 0.05, weight_decay: float = 0.01, seed: int = 0
                    ) -> tuple[dict[str, float], MemoryRecorder, nn.Module]:
    """Train a float64 MLP under ``setting`` while recording, then compare every layer with its memory.

    ``"sgd"``: plain SGD, the exact case. Controls: ``"momentum"`` (0.9) and ``"adam"``
    (lr 1e-3) are recorded with ``approximate=True`` (``-lr * gradient``, which is not what
    they wrote); ``"weight_decay"`` reads the memories without decay; and
    ``"weight_decay_decayed_memories"`` reads the same run with every older memory decayed by
    ``1 - lr * weight_decay`` per step, which is exact again. Returns ``(errors per layer,
    recorder, model)``. Explained in Chapter 3, §The identity on MNIST and §Negative controls,
    and why they fail.
    """
    model = make_mlp(sizes, seed=seed, dtype=x.dtype, device=x.device)
    opt, approx = _optimizer(setting, model.parameters(), lr, weight_decay)
    rec = MemoryRecorder(model, opt, approximate=approx)
    train_classifier(model, opt, x, y, steps=steps, epochs=10 ** 6, batch_size=batch_size,
                     recorder=rec, seed=seed)
    rec.remove()
    errors = layer_errors(model, rec, x_test, decay=(setting != "weight_decay"))
    return errors, rec, model


def dual_form_identity(device: str | torch.device = "cpu", *, n_train: int = 2000,
                       n_test: int = 500, steps: int = 300, batch_size: int = 32,
                       hidden: int = 64, lr: float = 0.05, weight_decay: float = 0.01,
                       seed: int = 0, progress: bool = False, keep_sgd_run: bool = False) -> dict:
    """Chapter 3's identity and its controls on MNIST (all ten digits), in float64.

    Runs on ``device`` except Apple MPS, which has no float64 (then on the CPU).
    Returns ``{"max_abs_error_float64": float, "per_layer": {setting: {layer: err}},
    "controls": {setting: max err}, "footprint": str, "nbytes": int, "n_memories": int}``;
    with ``keep_sgd_run=True`` also the plain-SGD ``"model"`` and ``"recorder"`` and the
    ``"train"``/``"test"`` ``(x, y)`` pairs. Explained in Chapter 3, §The identity on MNIST.
    """
    from kvlib.data import load_classes
    device = _float64_device(device)           # the identity is checked in float64
    x, y = load_classes("mnist", list(range(10)), train=True, device=device)
    xt, yt = load_classes("mnist", list(range(10)), train=False, device=device)
    # slice first, then float64 (exactly representable: pixels are k/255 either way)
    x, y, xt, yt = x[:n_train].double(), y[:n_train], xt[:n_test].double(), yt[:n_test]
    per_layer, out = {}, {}
    for setting in progress_bar(SETTINGS, enabled=progress, desc="optimisers"):
        with _small_steps(device):
            errs, rec, model = identity_errors(setting, x, y, xt, sizes=(784, hidden, 10),
                                               steps=steps, batch_size=batch_size, lr=lr,
                                               weight_decay=weight_decay, seed=seed)
        per_layer[setting] = errs
        if setting == "sgd":
            out.update(footprint=rec.footprint(), nbytes=rec.nbytes(),
                       n_memories=sum(m.n_memories for m in rec.memories.values()))
            if keep_sgd_run:
                out.update(model=model, recorder=rec, train=(x, y), test=(xt, yt))
        del rec, model
    out["per_layer"] = per_layer
    out["max_abs_error_float64"] = max(per_layer["sgd"].values())
    out["controls"] = {s: max(per_layer[s].values()) for s in SETTINGS if s != "sgd"}
    return out


def concentration(contrib: torch.Tensor, top_fraction: float = 0.01) -> dict[str, torch.Tensor]:
    """How concentrated a read-out is over training examples, per query.

    ``contrib`` is ``(B, E, d_out)`` from :meth:`LayerMemory.example_contributions`; with
    ``m_e`` the size of example ``e``'s contribution, returns ``"top_share"`` (the share of
    ``sum_e m_e`` held by the top ``top_fraction`` of examples) and ``"effective_fraction"``
    (the participation ratio ``(sum m)^2 / (E sum m^2)``: 1 when every example adds the same,
    ``1/E`` when one example does it all), each ``(B,)``. Explained in Chapter 3.
    """
    if contrib.dim() != 3:
        raise ValueError(f"contrib: expected (B, E, d_out), got shape {tuple(contrib.shape)}")
    if not 0 < top_fraction <= 1:
        raise ValueError(f"top_fraction: expected a number in (0, 1], got {top_fraction!r}")
    m = contrib.norm(dim=-1)                                         # (B, E)
    E = m.shape[1]
    k = max(1, int(round(top_fraction * E)))
    total = m.sum(-1)
    top = m.topk(k, dim=-1).values.sum(-1)
    return {"top_share": top / total,
            "effective_fraction": total ** 2 / (E * m.pow(2).sum(-1))}


def retrieval_stats(memory: LayerMemory, inputs: torch.Tensor, example_labels: torch.Tensor,
                    query_labels: torch.Tensor, k: int = 10, batch: int = 25,
                    top_fraction: float = 0.01) -> dict[str, float]:
    """Does a layer retrieve training examples of the query's own class? And how concentrated?

    For every query (``inputs``: the layer's inputs, ``(B, d_in)``), ranks the training
    examples by each score of :meth:`LayerMemory.example_scores` and returns the fraction of
    the top ``k`` that share the query's label (``"same_class_<by>"``), plus the mean
    :func:`concentration` measures. Works in batches of ``batch`` queries so the
    ``(B, E, d_out)`` contributions stay small. Explained in Chapter 3, §What the network retrieves.
    """
    if inputs.shape[0] != query_labels.shape[0]:
        raise ValueError(f"query_labels: expected one label per input ({inputs.shape[0]}), "
                         f"got {query_labels.shape[0]}")
    E = example_labels.shape[0]
    example_labels = example_labels.to(inputs.device)
    sums: dict[str, float] = {}
    with _small_steps(inputs.device):
        for s in range(0, inputs.shape[0], batch):
            x, yq = inputs[s:s + batch], query_labels[s:s + batch].to(inputs.device)
            c = memory.example_contributions(x, n_examples=E)           # (b, E, d_out)
            with torch.no_grad():
                y = memory.forward(x)                                   # (b, d_out)
            scores = {"support": (c * y[:, None, :]).sum(-1) / y.norm(dim=-1, keepdim=True),
                      "magnitude": c.norm(dim=-1),
                      "attention": memory.example_scores(x, "attention", n_examples=E)}
            for by, sc in scores.items():
                top = sc.topk(k, dim=-1).indices                        # (b, k)
                hit = (example_labels[top] == yq[:, None]).double().mean(-1).sum()
                sums[f"same_class_{by}"] = sums.get(f"same_class_{by}", 0.0) + float(hit)
            for name, v in concentration(c, top_fraction).items():
                sums[name] = sums.get(name, 0.0) + float(v.sum())
    return {name: v / inputs.shape[0] for name, v in sums.items()}


def sequential_tasks(device: str | torch.device = "cpu", *, hidden: int = 64, epochs: int = 1,
                     batch_size: int = 64, lr: float = 0.05, n_per_task: int | None = 6000,
                     seed: int = 0, progress: bool = False) -> dict:
    """MNIST 0/1 (outputs 0, 1), then Fashion-MNIST T-shirt/trouser (outputs 2, 3), recorded.

    A 784-``hidden``-4 ReLU MLP without biases (as in the paper's Figure 3), float64,
    plain SGD on all weights for ``epochs`` per task on the first ``n_per_task`` training
    images of each task (``None``: all of them), every step's memories tagged
    ``"task1"``/``"task2"`` and indexed by training example (task 2's indices follow
    task 1's; ``"train_x"`` holds the images in that order, in float32 for display).
    Returns the model, recorder, train/test data, and the accuracies on task 1
    after task 1, after task 2, and read without task 2's memories. Explained in Chapter 3,
    §Nothing was erased (Chapter 6 takes this further).
    """
    from kvlib.data import load_classes
    device = _float64_device(device)           # exact bookkeeping in float64
    kw = dict(device=device, dtype=torch.float64)
    x1, y1 = load_classes("mnist", [0, 1], train=True, relabel=[0, 1], **kw)
    x2, y2 = load_classes("fashion", [0, 1], train=True, relabel=[2, 3], **kw)
    t1, l1 = load_classes("mnist", [0, 1], train=False, relabel=[0, 1], **kw)
    t2, l2 = load_classes("fashion", [0, 1], train=False, relabel=[2, 3], **kw)
    if n_per_task is not None:
        if not isinstance(n_per_task, int) or n_per_task < 1:
            raise ValueError(f"n_per_task: expected an int >= 1 or None, got {n_per_task!r}")
        x1, y1, x2, y2 = x1[:n_per_task], y1[:n_per_task], x2[:n_per_task], y2[:n_per_task]
    model = make_mlp((784, hidden, 4), bias=False, seed=seed, dtype=torch.float64, device=device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    rec = MemoryRecorder(model, opt)

    def acc(pred_logits: torch.Tensor, labels: torch.Tensor) -> float:
        return float((pred_logits.argmax(-1) == labels).double().mean())

    with rec.phase("task1"), _small_steps(device):
        train_classifier(model, opt, x1, y1, epochs=epochs, batch_size=batch_size, recorder=rec,
                         seed=seed, progress=progress)
    with torch.no_grad():
        after1 = {"task1": acc(model(t1), l1), "task2": acc(model(t2), l2)}
        logits_after1 = model(t1)
    with rec.phase("task2"), _small_steps(device):
        train_classifier(model, opt, x2, y2, epochs=epochs, batch_size=batch_size, recorder=rec,
                         id_offset=x1.shape[0], seed=seed + 1, progress=progress)
    rec.remove()
    with torch.no_grad():
        after2 = {"task1": acc(model(t1), l1), "task2": acc(model(t2), l2)}
    without2 = dual_forward(model, rec, t1, scale={"task2": 0.0})
    return {"model": model, "recorder": rec, "train_x": torch.cat([x1.float(), x2.float()]),
            "train_y": torch.cat([y1, y2]), "test": {"task1": (t1, l1), "task2": (t2, l2)},
            "accuracy_after_task1": after1, "accuracy_after_task2": after2,
            "task1_accuracy_without_task2_memories": acc(without2, l1),
            "max_abs_diff_without_task2_vs_after_task1": float((without2 - logits_after1).abs().max())}
