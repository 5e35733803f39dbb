"""Forgetting as retrieval failure, and recovery by reactivation: paper §5.2 (Figure 3).

A 784-64-4 ReLU network without biases learns MNIST 0-vs-1 (outputs 0, 1) for five
epochs of plain SGD, then a Fashion-MNIST pair (outputs 2, 3) for five more. Task 1
collapses. Seen through the dual form (Eqs 10-11, :mod:`kvlib.dualform`), each layer
still holds every Task-1 key-value pair; multiplying them by a scalar beta >= 1
("optogenetic" reactivation) brings Task 1 back without retraining.

Two settings, because the paper's text and its published notebook differ:

* ``"notebook"`` (default): Task 2 is Fashion-MNIST classes 2 and 3 (Pullover, Dress);
  beta multiplies the Task-1 weights *including the initial weights W0* (the notebook
  keeps W0 inside its Task-1 layer); data are taken in data-set order (no shuffling).
* ``"text"``: Task 2 is T-shirt/top vs Trouser (classes 0 and 1, relabelled 2 and 3),
  as the paper's text says; beta multiplies only the Task-1 memories.

Here the memories are materialised: every SGD step of each layer stores its inputs as
keys and its error signals as values. The published notebook instead keeps two copies
of each layer (Task-1 and Task-2 weights, the latter starting at zero and trained while
the former is frozen); that is the same network, since SGD on a sum of two weights moves
each by the same amount as one weight would move.

Explained in Chapter 6, §"Forgetting and reactivation".
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from kvlib.device import cpu_threads
from kvlib.device import progress as progress_bar
from kvlib.dualform import LayerMemory, MemoryRecorder, train_classifier

__all__ = ["ContinualConfig", "ContinualRun", "SETTINGS", "make_model", "run_continual",
           "accuracy", "reactivated_weights", "beta_sweep", "fraction_sweep",
           "task_attention_share", "config_dict"]

#: The two settings the book can reproduce (see module docstring).
SETTINGS = {
    "notebook": dict(fashion_classes=(2, 3), beta_scales_w0=True),
    "text": dict(fashion_classes=(0, 1), beta_scales_w0=False),
}


#: CPU threads for this module's loops (SGD steps of a small MLP, sums over ~1,000 stored
#: steps): one. Measured on 2 shared cores, ``run_continual`` took 2.7 s with one thread and
#: 9.5 s with two at a load of ~3, and 13 s against 122 s at a load of ~10, with identical
#: accuracies. The caller's setting is restored afterwards; GPUs are unaffected.
_THREADS = 1


def _one_thread(func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with cpu_threads(_THREADS):
            return func(*args, **kwargs)
    return wrapper


@dataclass
class ContinualConfig:
    """Hyper-parameters of the Figure 3 experiment (defaults: the paper's)."""

    setting: str = "notebook"
    hidden: int = 64
    lr: float = 6e-4
    batch_size: int = 128
    epochs_per_task: int = 5
    seed: int = 0
    shuffle: bool = False
    mnist_classes: tuple[int, int] = (0, 1)
    fashion_classes: tuple[int, int] | None = None     # None: from the setting
    beta_scales_w0: bool | None = None                  # None: from the setting

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise ValueError(f"setting: expected one of {list(SETTINGS)}, got {self.setting!r}")
        for key, val in SETTINGS[self.setting].items():
            if getattr(self, key) is None:
                setattr(self, key, val)
        for name in ("hidden", "batch_size", "epochs_per_task"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr: expected a positive number, got {self.lr!r}")


@dataclass
class ContinualRun:
    """What :func:`run_continual` returns: the trained model, its memories and the curves."""

    config: ContinualConfig
    model: nn.Sequential
    memories: dict[str, LayerMemory]          # layer name -> memories (tags "task1", "task2")
    task1_acc: list[float]                    # % after 0, 1, ..., 10 epochs
    task2_acc: list[float]
    test: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(repr=False)
    footprint: str = ""


def make_model(hidden: int = 64, seed: int = 0) -> nn.Sequential:
    """The 784-hidden-4 ReLU MLP without biases, drawn as the published notebook draws it.

    PyTorch's default init for ``nn.Linear`` is uniform in ``[-1/sqrt(d_in), 1/sqrt(d_in)]``,
    as the paper states. The notebook creates four layers in the order (input Task 1,
    input Task 2, output Task 1, output Task 2) and zeroes the Task-2 ones; drawing (and
    discarding) the same layers in the same order gives the same initial weights.
    """
    torch.manual_seed(seed)
    first = nn.Linear(784, hidden, bias=False)
    nn.Linear(784, hidden, bias=False)          # the notebook's Task-2 input layer (zeroed)
    second = nn.Linear(hidden, 4, bias=False)
    return nn.Sequential(first, nn.ReLU(), second)


@torch.no_grad()
def accuracy(model_or_weights, x: torch.Tensor, y: torch.Tensor) -> float:
    """Test accuracy in %; ``model_or_weights`` is a model or a pair ``(W_in, W_out)``."""
    if isinstance(model_or_weights, nn.Module):
        out = model_or_weights(x)
    else:
        w_in, w_out = model_or_weights
        out = torch.relu(x @ w_in.T) @ w_out.T                # (B, 784)->(B, h)->(B, 4)
    return 100.0 * (out.argmax(1) == y).float().mean().item()


@_one_thread
def run_continual(config: ContinualConfig | None = None, device: str | torch.device = "cpu",
                  progress: bool = False, data_root: str | None = None) -> ContinualRun:
    """Train Task 1 then Task 2, recording every key-value memory; return curves and memories."""
    from kvlib.data import load_classes

    cfg = config or ContinualConfig()
    dev = torch.device(device)
    t1 = [load_classes("mnist", list(cfg.mnist_classes), train=tr, root=data_root,
                       relabel=[0, 1], device=dev) for tr in (True, False)]
    t2 = [load_classes("fashion", list(cfg.fashion_classes), train=tr, root=data_root,
                       relabel=[2, 3], device=dev) for tr in (True, False)]
    model = make_model(cfg.hidden, cfg.seed).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    rec = MemoryRecorder(model, opt)
    acc1, acc2 = [accuracy(model, *t1[1])], [accuracy(model, *t2[1])]
    bar = progress_bar(total=2 * cfg.epochs_per_task, enabled=progress, desc="epochs")
    for task, (tag, (x, y)) in enumerate((("task1", t1[0]), ("task2", t2[0]))):
        with rec.phase(tag):
            for epoch in range(cfg.epochs_per_task):
                train_classifier(model, opt, x, y, epochs=1, batch_size=cfg.batch_size,
                                 shuffle=cfg.shuffle, seed=cfg.seed + 100 * task + epoch)
                acc1.append(accuracy(model, *t1[1]))
                acc2.append(accuracy(model, *t2[1]))
                bar.update()
    bar.close()
    rec.remove()
    return ContinualRun(cfg, model, rec.memories, acc1, acc2,
                        {"task1": t1[1], "task2": t2[1]}, rec.footprint())


def _components(mem: LayerMemory) -> dict[str, torch.Tensor]:
    """``W0`` and the summed memories of each task: ``W = W0 + D_task1 + D_task2`` (Eq 10)."""
    return {"w0": mem.W0, **{t: mem.weight(tags=[t], include_w0=False) for t in ("task1", "task2")}}


@_one_thread
def reactivated_weights(run: ContinualRun, beta: float, layers: Sequence[str] = ("0", "2"),
                        scale_w0: bool | None = None, _cache: dict | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights ``(W_in, W_out)`` with the Task-1 memories of ``layers`` multiplied by ``beta``.

    ``scale_w0`` (default: the run's setting) also multiplies the initial weights, as the
    published notebook does.
    """
    if not isinstance(beta, (int, float)) or isinstance(beta, bool) or beta < 0:
        raise ValueError(f"beta: expected a number >= 0, got {beta!r}")
    bad = [name for name in layers if name not in run.memories]
    if bad:
        raise ValueError(f"layers: {bad} not recorded; expected names among {list(run.memories)}")
    scale_w0 = run.config.beta_scales_w0 if scale_w0 is None else scale_w0
    cache = _cache if _cache is not None else {}
    out = []
    for name in ("0", "2"):
        if name not in cache:     # (setdefault would rebuild the sums on every call)
            cache[name] = _components(run.memories[name])
        comp = cache[name]
        b = beta if name in layers else 1.0
        out.append((b if scale_w0 else 1.0) * comp["w0"] + b * comp["task1"] + comp["task2"])
    return out[0], out[1]


@_one_thread
def beta_sweep(run: ContinualRun, betas: Sequence[float], layers: Sequence[str] = ("0", "2"),
               scale_w0: bool | None = None) -> dict[str, list[float]]:
    """Test accuracy (%) of both tasks as the Task-1 memories are multiplied by each beta."""
    cache: dict = {}
    res = {"task1": [], "task2": []}
    for b in betas:
        W = reactivated_weights(run, float(b), layers, scale_w0, cache)
        res["task1"].append(accuracy(W, *run.test["task1"]))
        res["task2"].append(accuracy(W, *run.test["task2"]))
    return res


@_one_thread
def fraction_sweep(run: ContinualRun, fractions: Sequence[float], betas: Sequence[float],
                   seed: int = 0) -> dict[float, list[float]]:
    """Task-1 accuracy (%) vs beta when only a random ``fraction`` of Task-1 memories is reactivated.

    The chosen examples are multiplied by beta in both layers, the rest keep weight 1.
    The initial weights W0 are left alone (whatever the setting), so that only memories
    are reactivated: ``fraction=1`` equals ``beta_sweep(..., scale_w0=False)``.
    """
    for f in fractions:
        if not 0.0 <= f <= 1.0:
            raise ValueError(f"fractions: expected numbers in [0, 1], got {f!r}")
    g = torch.Generator().manual_seed(seed)
    comps = {n: _components(m) for n, m in run.memories.items()}
    res = {}
    for f in fractions:
        chosen = {}
        for name, mem in run.memories.items():
            D = torch.zeros_like(mem.W0)
            for t, (k, v) in enumerate(zip(mem.keys, mem.values)):
                if mem.tags[t] != "task1":
                    continue
                keep = (torch.rand(k.shape[0], generator=g) < f).to(k.device, k.dtype)   # (B,)
                D = D + (v * keep[:, None]).T @ k                 # (d_out, B) @ (B, d_in)
            chosen[name] = D
        accs = []
        for b in betas:
            W = []
            for name in ("0", "2"):
                c = comps[name]
                # chosen memories get beta, the other Task-1 memories stay at weight 1
                W.append(c["w0"] + c["task1"] + (b - 1.0) * chosen[name] + c["task2"])
            accs.append(accuracy(tuple(W), *run.test["task1"]))
        res[float(f)] = accs
    return res


@_one_thread
@torch.no_grad()
def task_attention_share(run: ContinualRun, x: torch.Tensor, beta: float = 1.0
                         ) -> dict[str, float]:
    """Share of each layer's attention that Task-1 queries ``x`` put on Task-1 memories.

    In the dual form a layer's read-out is ``sum_n alpha_n v_n`` with ``alpha_n = q . k_n``
    (Eq 11). Inputs (pixels) and hidden activations (after ReLU) are non-negative, so every
    ``alpha_n >= 0`` and the shares are proper fractions. After reactivation the Task-1
    weights carry a factor beta and the hidden-layer queries change too.
    """
    W_in, _ = reactivated_weights(run, beta)
    h = torch.relu(x @ W_in.T)                                  # queries of the second layer
    shares = {}
    for name, q in (("0", x), ("2", h)):
        mem = run.memories[name]
        sums = {t: torch.zeros(mem.W0.shape[1], dtype=q.dtype, device=q.device)
                for t in ("task1", "task2")}
        for t, k in enumerate(mem.keys):
            sums[mem.tags[t]] += k.sum(0)                       # sum of keys per task, (d_in,)
        a1 = beta * (q @ sums["task1"])                         # total attention on Task 1, (B,)
        a2 = q @ sums["task2"]
        shares[name] = float((a1 / (a1 + a2)).mean())
    return shares


def config_dict(cfg: ContinualConfig) -> dict:
    """The configuration as a JSON-ready dict."""
    return asdict(cfg)
