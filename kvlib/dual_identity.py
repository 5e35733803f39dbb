"""The dual-form identity, checked: a trained network equals its memories (Eqs 10-11), and
which optimisers break it.

:func:`layer_errors` compares every recorded layer of a trained model with Eq 11 read from
its memories on the layer's real input; :func:`identity_errors` trains an MLP under one of
:data:`OPTIMIZER_SETTINGS` while recording and returns those errors; :func:`dual_form_identity`
is Chapter 3's MNIST run of all settings, in float64. :func:`adam_update_ranks` shows why
Adam has no such memory: its updates are not outer products. Explained in Chapter 3, §The
identity on MNIST and §Negative controls, and why they fail.
"""
from __future__ import annotations

import torch
from torch import nn

from kvlib import _checks as check
from kvlib.device import cpu_threads, float64_device
from kvlib.device import generator as seed_stream
from kvlib.device import progress as progress_bar
from kvlib.dualform import LayerMemory, layer_io
from kvlib.recorder import MemoryRecorder
from kvlib.training import make_mlp, train_classifier

__all__ = ["layer_errors", "OPTIMIZER_SETTINGS", "identity_errors", "mnist_run", "dual_form_identity",
           "adam_update_ranks"]

#: Chapter 3's optimiser settings: the exact one (plain SGD) and the negative controls.
OPTIMIZER_SETTINGS = ("sgd", "momentum", "adam", "weight_decay", "weight_decay_decayed_memories")


def layer_errors(model: nn.Module, memories: MemoryRecorder | dict[str, LayerMemory],
                 x: torch.Tensor, *, decay: bool = True) -> dict[str, float]:
    """Max absolute difference, per recorded layer, between the trained layer and its memory.

    The model runs on ``x``; each recorded ``nn.Linear`` sees its real input ``h`` and its
    output ``h W^T + b`` is compared with Eq 11 read from the memories on the same ``h``.
    ``decay=False`` reads the naive, undecayed memory.
    """
    if isinstance(memories, MemoryRecorder):
        memories = memories.memories
    if not isinstance(memories, dict) or not all(isinstance(m, LayerMemory) for m in memories.values()):
        raise TypeError(f"memories: expected a MemoryRecorder or a dict of LayerMemory, "
                        f"got {type(memories).__name__}")
    check.flag("decay", decay)
    io = layer_io(model, memories, x)
    if not next(iter(io.values()))[0].shape[0]:
        raise ValueError("x: expected at least one input, got none")
    return {n: float((mem.forward(io[n][0], decay=decay) - io[n][1]).abs().max())
            for n, mem in memories.items()}


def _optimizer(setting: str, params, lr: float, weight_decay: float) -> tuple[torch.optim.Optimizer, bool]:
    """The optimiser for ``setting`` and whether it needs ``approximate=True``."""
    if setting == "sgd":
        return torch.optim.SGD(params, lr=lr), False
    if setting == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9), True
    if setting == "adam":
        return torch.optim.Adam(params, lr=1e-3), True
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay), False


def _check_rates(lr: float, weight_decay: float) -> tuple[float, float]:
    lr, weight_decay = check.positive("lr", lr), check.number("weight_decay", weight_decay, low=0)
    if lr * weight_decay >= 1:
        raise ValueError(f"weight_decay: expected lr * weight_decay < 1 (each step keeps "
                         f"1 - lr * weight_decay of the weights), got {weight_decay!r} with lr {lr!r}")
    return lr, weight_decay


def identity_errors(setting: str, x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, *,
                    sizes: tuple[int, ...] = (784, 64, 10), steps: int = 300, batch_size: int = 32,
                    lr: float = 0.05, weight_decay: float = 0.01, seed: int = 0
                    ) -> tuple[dict[str, float], MemoryRecorder, nn.Module]:
    """Train an MLP (``x``'s dtype) under ``setting`` while recording; compare every layer with its memory.

    ``"sgd"``: plain SGD, the exact case. Controls: ``"momentum"`` (0.9) and ``"adam"``
    (lr 1e-3) are recorded with ``approximate=True`` (``-lr * gradient``, which is not what
    they wrote); ``"weight_decay"`` reads the memories without decay; and
    ``"weight_decay_decayed_memories"`` reads the same run with every older memory decayed by
    ``1 - lr * weight_decay`` per step, which is exact again. Returns ``(errors per layer,
    recorder, model)``.
    """
    check.option("setting", setting, OPTIMIZER_SETTINGS)
    x = check.tensor("x", x, ndim=2, dtype="float-strict", nonempty=True)
    x_test = check.tensor("x_test", x_test, shape=(None, x.shape[1]), dtype="float", nonempty=True,
                          like=x, like_name="x")
    lr, weight_decay = _check_rates(lr, weight_decay)
    model = make_mlp(sizes, seed=seed, dtype=x.dtype, device=x.device)
    if model[0].in_features != x.shape[1]:
        raise ValueError(f"sizes: expected the input size {x.shape[1]} (x's columns) first, got {sizes!r}")
    opt, approx = _optimizer(setting, model.parameters(), lr, weight_decay)
    rec = MemoryRecorder(model, opt, approximate=approx)
    train_classifier(model, opt, x, y, steps=check.count("steps", steps, minimum=1), epochs=10 ** 6,
                     batch_size=batch_size, recorder=rec, seed=seed)
    rec.remove()
    errors = layer_errors(model, rec, x_test, decay=(setting != "weight_decay"))
    for err in errors.values():
        check.finite_result("lr", err)
    return errors, rec, model


def _mnist(device: torch.device, n_train: int, n_test: int) -> tuple[tuple, tuple]:
    """The first ``n_train`` training and ``n_test`` test digits (all ten classes) in float64."""
    from kvlib.data import load_classes
    x, y = load_classes("mnist", list(range(10)), train=True, device=device)
    xt, yt = load_classes("mnist", list(range(10)), train=False, device=device)
    # slice first, then float64 (exactly representable: pixels are k/255 either way)
    return (x[:n_train].double(), y[:n_train]), (xt[:n_test].double(), yt[:n_test])


def mnist_run(device: str | torch.device = "cpu", setting: str = "sgd", *, n_train: int = 2000,
              n_test: int = 500, steps: int = 300, batch_size: int = 32, hidden: int = 64,
              lr: float = 0.05, weight_decay: float = 0.01, seed: int = 0) -> dict:
    """One of Chapter 3's MNIST runs: a 784-``hidden``-10 ReLU MLP with biases, float64, recorded.

    Trained for ``steps`` steps of batch ``batch_size`` on the first ``n_train`` training
    digits under ``setting`` (one of :data:`OPTIMIZER_SETTINGS`), compared with its memories
    on the first ``n_test`` test digits. Runs on ``device`` except Apple MPS, which has no
    float64 (then on the CPU), on one thread on a CPU (many small steps). Returns
    ``{"errors": {layer: max error}, "model", "recorder", "train": (x, y), "test": (x, y)}``.
    """
    device = float64_device(check.device("device", device))     # the identity is checked in float64
    check.option("setting", setting, OPTIMIZER_SETTINGS)
    train, test = _mnist(device, check.count("n_train", n_train, minimum=1),
                         check.count("n_test", n_test, minimum=1))
    return _run(setting, train, test, steps=steps, batch_size=batch_size, hidden=hidden, lr=lr,
                weight_decay=weight_decay, seed=seed)


def _run(setting: str, train: tuple, test: tuple, *, steps: int, batch_size: int, hidden: int,
         lr: float, weight_decay: float, seed: int) -> dict:
    """:func:`mnist_run` on data already loaded."""
    device = train[0].device
    with cpu_threads(1 if device.type == "cpu" else None):
        errs, rec, model = identity_errors(setting, *train, test[0],
                                           sizes=(784, check.count("hidden", hidden, minimum=1), 10),
                                           steps=steps, batch_size=batch_size, lr=lr,
                                           weight_decay=weight_decay, seed=seed)
    return {"errors": errs, "model": model, "recorder": rec, "train": train, "test": test}


def dual_form_identity(device: str | torch.device = "cpu", *, n_train: int = 2000,
                       n_test: int = 500, steps: int = 300, batch_size: int = 32,
                       hidden: int = 64, lr: float = 0.05, weight_decay: float = 0.01,
                       seed: int = 0, progress: bool = False, keep_sgd_run: bool = False) -> dict:
    """Chapter 3's identity and its controls on MNIST (all ten digits), in float64.

    :func:`mnist_run` under each of :data:`OPTIMIZER_SETTINGS`. Returns
    ``{"max_abs_error_float64": float, "per_layer": {setting: {layer: err}}, "controls":
    {setting: max err}, "footprint": str, "nbytes": int, "n_memories": int, "n_steps": int,
    "n_test": int, "lr", "weight_decay"}``; with ``keep_sgd_run=True`` also the plain-SGD
    ``"model"`` and ``"recorder"`` and the ``"train"``/``"test"`` ``(x, y)`` pairs.
    Explained in Chapter 3, §The identity on MNIST.
    """
    check.flag("keep_sgd_run", keep_sgd_run)
    lr, weight_decay = _check_rates(lr, weight_decay)
    device = float64_device(check.device("device", device))
    train, test = _mnist(device, check.count("n_train", n_train, minimum=1),
                         check.count("n_test", n_test, minimum=1))      # loaded once for all runs
    kw = dict(steps=steps, batch_size=batch_size, hidden=check.count("hidden", hidden, minimum=1),
              lr=lr, weight_decay=weight_decay, seed=seed)
    per_layer, out = {}, {}
    for setting in progress_bar(OPTIMIZER_SETTINGS, enabled=check.flag("progress", progress),
                                desc="optimisers"):
        run = _run(setting, train, test, **kw)
        per_layer[setting], rec = run["errors"], run["recorder"]
        if setting == "sgd":
            first = next(iter(rec.memories.values()))
            out.update(footprint=rec.footprint(), nbytes=rec.nbytes(), n_steps=first.n_steps,
                       n_memories=sum(m.n_memories for m in rec.memories.values()),
                       n_test=run["test"][0].shape[0])
            if keep_sgd_run:
                out.update({k: run[k] for k in ("model", "recorder", "train", "test")})
        del run, rec
    out.update(per_layer=per_layer, lr=lr, weight_decay=weight_decay,
               max_abs_error_float64=max(per_layer["sgd"].values()),
               controls={s: max(per_layer[s].values()) for s in OPTIMIZER_SETTINGS if s != "sgd"})
    return out


def adam_update_ranks(d_in: int = 6, d_out: int = 4, steps: int = 3, lr: float = 1e-2,
                      seed: int = 0) -> dict[str, list[int]]:
    """Ranks of one example's gradient and of Adam's update, step by step (Chapter 3, exercise 3).

    A bias-free float64 layer sees one random input per step (loss ``sum(sin(y))``) and is
    updated by Adam with ``beta1 = 0`` and ``eps = 0``, so nothing but the division by the
    running gradient size acts. Each gradient is an outer product (rank 1); an update is a
    key-value write only if it is rank 1 too. Returns ``{"gradient": [...], "update": [...]}``.
    """
    d_in, d_out = check.count("d_in", d_in, minimum=2), check.count("d_out", d_out, minimum=2)
    steps = check.count("steps", steps, minimum=1)
    g = seed_stream(check.seed("seed", seed))
    layer = nn.Linear(d_in, d_out, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(d_out, d_in, generator=g, dtype=torch.float64) * d_in ** -0.5)
    opt = torch.optim.Adam(layer.parameters(), lr=check.positive("lr", lr), betas=(0.0, 0.999), eps=0.0)
    ranks: dict[str, list[int]] = {"gradient": [], "update": []}
    for _ in range(steps):                      # a handful of steps: the loop is the experiment
        before = layer.weight.detach().clone()
        loss = layer(torch.randn(1, d_in, generator=g, dtype=torch.float64)).sin().sum()
        opt.zero_grad()
        loss.backward()
        ranks["gradient"].append(int(torch.linalg.matrix_rank(layer.weight.grad)))
        opt.step()
        ranks["update"].append(int(torch.linalg.matrix_rank(layer.weight.detach() - before)))
    return ranks
