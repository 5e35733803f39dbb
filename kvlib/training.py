"""Training loops that write key-value memories: Chapter 3's networks and Chapter 6's Figure 3.

:func:`make_mlp` builds a ReLU MLP with PyTorch's default initialisation (seeded, the global
random state left alone); :func:`train_classifier` trains any classifier by minibatch
cross-entropy, optionally under a :class:`~kvlib.recorder.MemoryRecorder` that keeps every
pair with the index of the example that wrote it; :func:`train_layer` records one small
layer on random inputs (the teaching copy and exercises of Chapter 3); and
:func:`sequential_tasks` trains MNIST 0/1 and then Fashion-MNIST T-shirt/trouser while
recording, Chapter 3's "nothing was erased". A run whose loss becomes NaN or inf stops with
an error instead of recording nonsense.
"""
from __future__ import annotations

import torch
from torch import nn

from kvlib import _checks as check
from kvlib.device import cpu_threads, float64_device
from kvlib.device import generator as seed_stream
from kvlib.device import progress as progress_bar
from kvlib.dualform import dual_forward, layer_io, model_input
from kvlib.recorder import MemoryRecorder

__all__ = ["make_mlp", "train_classifier", "train_layer", "sequential_tasks"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def make_mlp(sizes: tuple[int, ...] = (784, 64, 10), bias: bool = True, seed: int = 0,
             dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> nn.Sequential:
    """A ReLU multilayer perceptron ``Linear, ReLU, ..., Linear`` with PyTorch's default init.

    Float64 by default: the identity of Chapter 3 is checked to 1e-10.

    >>> make_mlp((4, 3, 2))
    Sequential(
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): ReLU()
      (2): Linear(in_features=3, out_features=2, bias=True)
    )
    """
    sizes = check.sequence("sizes", sizes, lambda n, s: check.count(n, s, minimum=1))
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least two layer sizes, got {sizes!r}")
    check.flag("bias", bias)
    seed = check.seed("seed", seed)
    if isinstance(dtype, str) and dtype in _DTYPES:
        dtype = _DTYPES[dtype]
    if dtype not in _DTYPES.values():
        raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    device = check.device("device", device)
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
                     batch_size: int = 32, recorder: MemoryRecorder | None = None,
                     id_offset: int = 0, seed: int = 0, generator: torch.Generator | None = None,
                     shuffle: bool = True, progress: bool = False) -> list[float]:
    """Minibatch training with cross-entropy; with a ``recorder``, each batch's example indices
    (``id_offset`` + row of ``x``) are recorded with its memories. Returns the loss per step.

    Stops after ``epochs`` passes or ``steps`` steps, whichever comes first. Shuffling uses
    ``generator`` (default: a CPU generator seeded with ``seed``); ``shuffle=False`` takes the
    rows in order, as the paper's published Figure 3 notebook does. A loss that becomes NaN or
    inf is a ``ValueError`` (lower the learning rate). Explained in Chapter 3; used in Chapter 6.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
    x = model_input(model, x)
    if x.ndim != 2 or not x.shape[0]:
        raise ValueError(f"x: expected shape (N, d) with N >= 1 training examples, got {tuple(x.shape)}")
    y = check.tensor("y", y, shape=(x.shape[0],), dtype="int")
    if y.device != x.device:
        raise ValueError(f"y: expected device {x.device} (as x), got {y.device}")
    if int(y.min()) < 0:
        raise ValueError(f"y: expected class labels >= 0, got {int(y.min())}")
    epochs = check.count("epochs", epochs, minimum=1)
    if steps is not None:
        steps = check.count("steps", steps, minimum=1)
    batch_size = check.count("batch_size", batch_size, minimum=1)
    if recorder is not None and not isinstance(recorder, MemoryRecorder):
        raise TypeError(f"recorder: expected a MemoryRecorder or None, got {type(recorder).__name__}")
    id_offset = check.count("id_offset", id_offset)
    g = check.generator("generator", generator) or seed_stream(check.seed("seed", seed))
    check.flag("shuffle", shuffle)
    n = x.shape[0]
    per_epoch = -(-n // batch_size)
    total = epochs * per_epoch if steps is None else min(steps, epochs * per_epoch)
    losses: list[float] = []
    bar = progress_bar(total=total, enabled=check.flag("progress", progress), desc="training")
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
            logits = model(xb)
            if not losses and int(y.max()) >= logits.shape[-1]:
                raise ValueError(f"y: expected labels below the model's {logits.shape[-1]} outputs, "
                                 f"got {int(y.max())}")
            loss = nn.functional.cross_entropy(logits, yb)
            if not bool(torch.isfinite(loss)):
                bar.close()
                raise ValueError(f"optimizer: training diverged at step {len(losses)} (loss {loss.item()}); "
                                 "lower the learning rate (lr) or the weight decay (weight_decay)")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            bar.update(1)
    bar.close()
    return losses


def train_layer(d_in: int = 6, d_out: int = 4, *, steps: int = 25, batch_size: int = 5,
                lr: float = 0.05, momentum: float = 0.0, weight_decay: float = 0.0,
                approximate: bool = False, seed: int = 0) -> tuple[nn.Linear, MemoryRecorder]:
    """A bias-free float64 ``nn.Linear`` trained by SGD on random inputs, every pair recorded.

    The loss is ``sum(sin(y))`` (any smooth loss would do); inputs are standard normal, drawn
    from a generator seeded with ``seed``, and so is the initial weight. Returns the trained
    layer and its recorder (``rec.memories[""]``). With ``momentum`` the recorder must be
    ``approximate``. Chapter 3's exercises on momentum and weight decay.
    """
    d_in, d_out = check.count("d_in", d_in, minimum=1), check.count("d_out", d_out, minimum=1)
    steps = check.count("steps", steps, minimum=1)
    batch_size = check.count("batch_size", batch_size, minimum=1)
    lr = check.positive("lr", lr)
    momentum = check.number("momentum", momentum, low=0, high=1, high_open=True)
    weight_decay = check.number("weight_decay", weight_decay, low=0)
    if lr * weight_decay >= 1:
        raise ValueError(f"weight_decay: expected lr * weight_decay < 1 (each step keeps "
                         f"1 - lr * weight_decay of the weights), got {weight_decay!r} with lr {lr!r}")
    if momentum and not check.flag("approximate", approximate):
        raise ValueError("approximate: momentum's update is not a key-value write; pass "
                         "approximate=True to record -lr * gradient anyway")
    g = seed_stream(check.seed("seed", seed))
    layer = nn.Linear(d_in, d_out, bias=False, dtype=torch.float64)
    with torch.no_grad():
        bound = d_in ** -0.5                                  # PyTorch's default range
        layer.weight.copy_(torch.rand(d_out, d_in, generator=g, dtype=torch.float64) * 2 * bound - bound)
    opt = torch.optim.SGD(layer.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    rec = MemoryRecorder(layer, opt, approximate=approximate)
    for _ in range(steps):                        # the loop is the training run itself
        loss = layer(torch.randn(batch_size, d_in, generator=g, dtype=torch.float64)).sin().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    rec.remove()
    return layer, rec


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(-1) == labels).double().mean())


def sequential_tasks(device: str | torch.device = "cpu", *, hidden: int = 64, epochs: int = 1,
                     batch_size: int = 64, lr: float = 0.05, n_per_task: int | None = 6000,
                     seed: int = 0, progress: bool = False) -> dict:
    """MNIST 0/1 (outputs 0, 1), then Fashion-MNIST T-shirt/trouser (outputs 2, 3), recorded.

    A 784-``hidden``-4 ReLU MLP without biases (as in the paper's Figure 3), float64,
    plain SGD on all weights for ``epochs`` per task on the first ``n_per_task`` training
    images of each task (``None``: all of them), every step's memories tagged
    ``"task1"``/``"task2"`` and indexed by training example (task 2's indices follow
    task 1's; ``"train_x"`` holds the images in that order, in float32 for display).
    Returns the model, recorder, train/test data, the accuracies on task 1 after task 1,
    after task 2 and read without task 2's memories, and ``"shares"``: for the test images
    of each task, each layer's mean :meth:`~kvlib.dualform.LayerMemory.tag_shares`. Runs on
    ``device`` except Apple MPS (no float64; then on the CPU), on one thread on a CPU.
    Explained in Chapter 3, §Nothing was erased (Chapter 6 takes this further).
    """
    from kvlib.data import load_classes
    device = float64_device(check.device("device", device))   # exact bookkeeping in float64
    hidden = check.count("hidden", hidden, minimum=1)
    epochs = check.count("epochs", epochs, minimum=1)
    lr = check.positive("lr", lr)
    if n_per_task is not None:
        n_per_task = check.count("n_per_task", n_per_task, minimum=1)
    seed = check.seed("seed", seed)
    kw = dict(device=device, dtype=torch.float64)
    x1, y1 = load_classes("mnist", [0, 1], train=True, relabel=[0, 1], **kw)
    x2, y2 = load_classes("fashion", [0, 1], train=True, relabel=[2, 3], **kw)
    t1, l1 = load_classes("mnist", [0, 1], train=False, relabel=[0, 1], **kw)
    t2, l2 = load_classes("fashion", [0, 1], train=False, relabel=[2, 3], **kw)
    if n_per_task is not None:
        x1, y1, x2, y2 = x1[:n_per_task], y1[:n_per_task], x2[:n_per_task], y2[:n_per_task]
    model = make_mlp((784, hidden, 4), bias=False, seed=seed, dtype=torch.float64, device=device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    rec = MemoryRecorder(model, opt)
    train = dict(epochs=epochs, batch_size=batch_size, recorder=rec, progress=progress)
    with cpu_threads(1 if device.type == "cpu" else None):    # many small steps: one thread
        with rec.phase("task1"):
            train_classifier(model, opt, x1, y1, seed=seed, **train)
        with torch.no_grad():
            after1 = {"task1": _accuracy(model(t1), l1), "task2": _accuracy(model(t2), l2)}
            logits_after1 = model(t1)
        with rec.phase("task2"):
            train_classifier(model, opt, x2, y2, id_offset=x1.shape[0],
                             generator=seed_stream(seed, "task2"), **train)
        rec.remove()
        with torch.no_grad():
            after2 = {"task1": _accuracy(model(t1), l1), "task2": _accuracy(model(t2), l2)}
        without2 = dual_forward(model, rec, t1, scale={"task2": 0.0})
        shares = {}
        for task, (xt, _) in (("task1", (t1, l1)), ("task2", (t2, l2))):
            io = layer_io(model, rec.memories, xt)
            shares[task] = {n: {k: float(v.mean()) for k, v in mem.tag_shares(io[n][0]).items()}
                            for n, mem in rec.memories.items()}
    return {"model": model, "recorder": rec, "train_x": torch.cat([x1.float(), x2.float()]),
            "train_y": torch.cat([y1, y2]), "test": {"task1": (t1, l1), "task2": (t2, l2)},
            "accuracy_after_task1": after1, "accuracy_after_task2": after2,
            "task1_accuracy_without_task2_memories": _accuracy(without2, l1),
            "max_abs_diff_without_task2_vs_after_task1": float((without2 - logits_after1).abs().max()),
            "shares": shares}
