"""The recorder: every key-value pair that SGD writes into a model's linear layers (Eq 10).

Paper §2.3, Eqs 10-11 (Irie, Csordás & Schmidhuber 2022). A step of plain SGD on a linear
layer adds, for each example n of the batch, the outer product of its error signal
``e_n = -lr * dL/dy_n`` (the value) with its input ``x_n`` (the key). :class:`MemoryRecorder`
keeps these pairs for every ``nn.Linear`` of any model while it trains (a forward hook
keeps the input, a hook on the output's gradient the error, and the optimiser's step
commits them) in one :class:`~kvlib.dualform.LayerMemory` per layer, with each step's
weight-decay factor, a tag naming the phase (:meth:`MemoryRecorder.phase`) and the index of
the example behind each pair (:meth:`MemoryRecorder.set_example_ids`).

:func:`check_optimizer` says whether an optimiser's update is exactly such a write: plain
SGD is (with or without weight decay); momentum, Nesterov and Adam are not, and the
recorder refuses them unless asked for the approximate memory on purpose. Explained in
Chapter 3 ("The dual form") and used in Chapter 6 (Figure 3).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from kvlib import _checks as check
from kvlib.dualform import LayerMemory

__all__ = ["MemoryRecorder", "check_optimizer"]


def check_optimizer(optimizer: torch.optim.Optimizer) -> list[float]:
    """Return each param group's weight decay if SGD's update is exactly a key-value write.

    Raises ``ValueError`` (saying why) for momentum, Nesterov or any optimiser other than
    ``torch.optim.SGD``: their update is not ``-lr * gradient``, so the memories of Eq 10
    would not add up to the trained weights.
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
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
    demonstrating why the identity then fails). ``store_device`` keeps the pairs elsewhere
    (e.g. ``"cpu"`` while training on a GPU).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer,
                 layers: Iterable[str] | None = None, approximate: bool = False,
                 store_device: str | torch.device | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.approximate = check.flag("approximate", approximate)
        self._decays = [0.0] * len(optimizer.param_groups) if approximate else check_optimizer(optimizer)
        linears = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
        if layers is not None:
            layers = check.sequence("layers", layers)
            missing = [n for n in layers if n not in linears]
            if missing:
                raise ValueError(f"layers: {missing} are not nn.Linear modules of the model; "
                                 f"its linear layers are {list(linears)}")
            linears = {n: linears[n] for n in layers}
        if not linears:
            raise ValueError("model: has no nn.Linear layer to record")
        self.store_device = None if store_device is None else check.device("store_device", store_device)
        self.tag = "train"
        self._ids: torch.Tensor | None = None
        self.modules = linears
        self.memories: dict[str, LayerMemory] = {}
        self._group_of: dict[str, int] = {}
        self._pending: dict[str, list] = {n: [] for n in linears}
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
            if gi < 0 or not mod.weight.requires_grad or mod.weight.grad is None or not pending:
                continue                               # this layer is not being trained
            lr = float(optimizer.param_groups[gi]["lr"])
            keys = [torch.cat([x, x.new_ones(x.shape[0], 1)], 1) if mod.bias is not None else x
                    for x, _, _ in pending]
            values = [-lr * g for _, g, _ in pending]
            ids = [i for _, _, i in pending]
            k, v = (torch.cat(keys), torch.cat(values)) if len(keys) > 1 else (keys[0], values[0])
            if self.store_device is not None:
                k, v = k.to(self.store_device), v.to(self.store_device)
            mem = self.memories[name]
            mem.keys.append(k)
            mem.values.append(v)
            mem.decay.append(1.0 - lr * self._decays[gi])
            mem.tags.append(self.tag)
            mem.ids.append(torch.cat(ids) if len(ids) > 1 else ids[0])

    # ------------------------------------------------------------------ API
    def phase(self, tag: str):
        """A context manager tagging every memory written inside it with ``tag`` (e.g. ``"task1"``)."""
        LayerMemory.check_tag("tag", tag)

        @contextmanager
        def tagged() -> Iterator[MemoryRecorder]:
            old, self.tag = self.tag, tag
            try:
                yield self
            finally:
                self.tag = old
        return tagged()

    def set_example_ids(self, ids: torch.Tensor | None = None) -> None:
        """Name the training examples of the next batch (``(B,)`` ints), until the optimiser steps.

        The indices travel with the memories (``LayerMemory.ids``), so Chapter 3 can show which
        training images a test input retrieves. ``None`` forgets them.
        """
        if ids is not None:
            ids = check.tensor("ids", ids, ndim=1, dtype="int")
            if ids.numel() and int(ids.min()) < -1:
                raise ValueError(f"ids: expected example indices >= 0 (-1: unknown), got {int(ids.min())}")
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
