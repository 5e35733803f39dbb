"""Forgetting as retrieval failure, and recovery by reactivation: paper §5.2 (Figure 3).

A 784-64-4 ReLU network without biases learns MNIST 0-vs-1 (outputs 0, 1) for five
epochs of plain SGD, then a Fashion-MNIST pair (outputs 2, 3) for five more. Task 1
collapses. Seen through the dual form (Eqs 10-11, :mod:`kvlib.dualform`), each layer
still holds every Task-1 key-value pair; multiplying them by a scalar beta >= 1
("optogenetic" reactivation) brings Task 1 back without retraining. The reactivated
weights are asked of the memory itself:
``LayerMemory.weight(scale={"task1": beta}, scale_w0=...)`` (Eq 10 with the Task-1 terms
scaled), the same call Chapter 3 uses.

Two settings, because the paper's text and its published notebook differ:

* ``"notebook"`` (default): Task 2 is Fashion-MNIST classes 2 and 3 (Pullover, Dress);
  beta multiplies the Task-1 weights *including the initial weights W0* (the notebook
  keeps W0 inside its Task-1 layer); data are taken in data-set order (no shuffling).
* ``"text"``: Task 2 is T-shirt/top vs Trouser (classes 0 and 1, relabelled 2 and 3),
  as the paper's text says; beta multiplies only the Task-1 memories.

Here the memories are materialised: every SGD step of each layer stores its inputs as
keys and its error signals as values (:class:`kvlib.recorder.MemoryRecorder`). The
published notebook instead keeps two copies of each layer (Task-1 and Task-2 weights, the
latter starting at zero and trained while the former is frozen); that is the same network,
since SGD on a sum of two weights moves each by the same amount as one weight would move.

Explained in Chapter 6, §"Forgetting and reactivation".
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from kvlib import _checks as check
from kvlib.device import cpu_threads
from kvlib.device import generator as seed_stream
from kvlib.device import progress as progress_bar
from kvlib.dualform import LayerMemory
from kvlib.recorder import MemoryRecorder
from kvlib.training import train_classifier

__all__ = ["ContinualConfig", "ContinualRun", "SETTINGS", "LAYERS", "make_model", "run_continual",
           "train_continual", "accuracy", "reactivated_weights", "beta_sweep", "layer_sweeps",
           "fraction_sweep", "reactivation_states", "readout_difference", "scaled_keys_vs_values",
           "task_attention_share", "config_dict"]

#: The two settings the book can reproduce (see module docstring).
SETTINGS = {
    "notebook": dict(fashion_classes=(2, 3), beta_scales_w0=True),
    "text": dict(fashion_classes=(0, 1), beta_scales_w0=False),
}

#: The network's two linear layers, by their names in the ``nn.Sequential``: input, output.
LAYERS = ("0", "2")

#: CPU threads for this module's loops (SGD steps of a small MLP, sums over ~1,000 stored
#: steps, the read-out): one. On 2 shared cores ``run_continual`` took 2.7 s with one thread
#: and 9.5 s with two at a load of ~3 (13 s and 122 s at ~10), with identical accuracies.
#: The caller's setting is restored afterwards; GPUs are unaffected.
_THREADS = 1


def _one_thread(func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with cpu_threads(_THREADS):
            return func(*args, **kwargs)
    return wrapper


def _classes(name: str, value: object) -> tuple[int, int]:
    pair = check.sequence(name, value, lambda n, c: check.number(n, c, low=0, high=9, integer=True),
                          distinct=True)
    if len(pair) != 2:
        raise ValueError(f"{name}: expected two distinct classes in 0..9, got {value!r}")
    return tuple(pair)


@dataclass
class ContinualConfig:
    """Hyper-parameters of the Figure 3 experiment (defaults: the paper's).

    ``n_train``: the first ``n_train`` training images of each task (``None``: all of them,
    as the paper); ``shuffle``: reshuffle the training data every epoch (the notebook takes
    them in data-set order), from the named seed stream ``(seed, "shuffle")``.
    """

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
    n_train: int | None = None                          # None: every training image

    def __post_init__(self) -> None:
        check.option("setting", self.setting, SETTINGS)
        for key, val in SETTINGS[self.setting].items():
            if getattr(self, key) is None:
                setattr(self, key, val)
        for name in ("hidden", "batch_size", "epochs_per_task"):
            setattr(self, name, check.count(name, getattr(self, name), minimum=1))
        self.lr = check.positive("lr", self.lr)
        self.seed = check.seed("seed", self.seed)
        check.flag("shuffle", self.shuffle)
        self.mnist_classes = _classes("mnist_classes", self.mnist_classes)
        self.fashion_classes = _classes("fashion_classes", self.fashion_classes)
        check.flag("beta_scales_w0", self.beta_scales_w0)
        if self.n_train is not None:
            self.n_train = check.count("n_train", self.n_train, minimum=1)


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

    def __post_init__(self) -> None:
        if not isinstance(self.config, ContinualConfig):
            raise TypeError(f"config: expected a ContinualConfig, got {type(self.config).__name__}")
        if not isinstance(self.model, nn.Sequential):
            raise TypeError(f"model: expected a torch.nn.Sequential, got {type(self.model).__name__}")
        if not isinstance(self.memories, dict) or not all(
                isinstance(m, LayerMemory) for m in self.memories.values()):
            raise TypeError(f"memories: expected a dict of LayerMemory, got {type(self.memories).__name__}")
        percent = functools.partial(check.number, low=0, high=100)
        self.task1_acc = check.sequence("task1_acc", self.task1_acc, percent, nonempty=False)
        self.task2_acc = check.sequence("task2_acc", self.task2_acc, percent, nonempty=False)
        if not isinstance(self.test, dict):
            raise TypeError(f"test: expected a dict task -> (x, y), got {type(self.test).__name__}")
        if not isinstance(self.footprint, str):
            raise TypeError(f"footprint: expected a string, got {type(self.footprint).__name__}")


def make_model(hidden: int = 64, seed: int = 0) -> nn.Sequential:
    """The 784-hidden-4 ReLU MLP without biases, drawn as the published notebook draws it.

    PyTorch's default init for ``nn.Linear`` is uniform in ``[-1/sqrt(d_in), 1/sqrt(d_in)]``,
    as the paper states. The notebook creates four layers in the order (input Task 1,
    input Task 2, output Task 1, output Task 2) and zeroes the Task-2 ones; drawing (and
    discarding) the same layers in the same order gives the same initial weights. The
    global random state is left as it was.

    >>> make_model(8)
    Sequential(
      (0): Linear(in_features=784, out_features=8, bias=False)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=4, bias=False)
    )
    """
    hidden = check.count("hidden", hidden, minimum=1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(check.seed("seed", seed))
        first = nn.Linear(784, hidden, bias=False)
        nn.Linear(784, hidden, bias=False)      # the notebook's Task-2 input layer (zeroed)
        second = nn.Linear(hidden, 4, bias=False)
    return nn.Sequential(first, nn.ReLU(), second)


def _weights(model_or_weights) -> tuple[Callable, torch.Tensor]:
    if isinstance(model_or_weights, nn.Module):
        p = next(model_or_weights.parameters(), None)
        if p is None:
            raise ValueError("model_or_weights: expected a model with parameters, got none")
        return model_or_weights, p
    pair = check.sequence("model_or_weights", model_or_weights)
    if len(pair) != 2:
        raise ValueError(f"model_or_weights: expected a model or a pair (W_in, W_out), got {len(pair)} items")
    w_in = check.tensor("model_or_weights[0]", pair[0], ndim=2, dtype="float-strict")
    w_out = check.tensor("model_or_weights[1]", pair[1], ndim=2, dtype="float-strict", like=w_in,
                         like_name="model_or_weights[0]")
    if w_out.shape[1] != w_in.shape[0]:
        raise ValueError(f"model_or_weights: expected W_out with {w_in.shape[0]} columns (W_in's rows), "
                         f"got shapes {tuple(w_in.shape)} and {tuple(w_out.shape)}")
    return (lambda x: torch.relu(x @ w_in.T) @ w_out.T), w_in      # (B, 784)->(B, h)->(B, 4)


@torch.no_grad()
def accuracy(model_or_weights, x: torch.Tensor, y: torch.Tensor) -> float:
    """Test accuracy in %; ``model_or_weights`` is a model or a pair ``(W_in, W_out)``."""
    net, ref = _weights(model_or_weights)
    x = check.tensor("x", x, ndim=2, dtype="float", like=ref, like_name="the weights", nonempty=True)
    y = check.tensor("y", y, shape=(x.shape[0],), dtype="int")
    if y.device != x.device:
        raise ValueError(f"y: expected device {x.device} (as x), got {y.device}")
    return 100.0 * (net(x).argmax(1) == y).float().mean().item()


def _task_data(name: str, value: object) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """``((x_train, y_train), (x_test, y_test))`` of one task, checked."""
    parts = check.sequence(name, value)
    if len(parts) != 2:
        raise ValueError(f"{name}: expected ((x_train, y_train), (x_test, y_test)), got {len(parts)} items")
    out = []
    for split, part in zip(("train", "test"), parts):
        xy = check.sequence(f"{name}[{split!r}]", part)
        x = check.tensor(f"{name}[{split!r}] x", xy[0], shape=(None, 784), nonempty=True)
        y = check.tensor(f"{name}[{split!r}] y", xy[1], shape=(x.shape[0],), dtype="int")
        out.append((x, y))
    return tuple(out)


@_one_thread
def train_continual(config: ContinualConfig, data: Mapping[str, Sequence], device: str | torch.device = "cpu",
                    progress: bool = False) -> ContinualRun:
    """Train Task 1 then Task 2 on ``data``, recording every key-value memory (Eq 10).

    ``data``: ``{"task1": ((x, y), (x_test, y_test)), "task2": (...)}`` with flattened
    images ``(N, 784)`` and labels 0-1 (Task 1) and 2-3 (Task 2). :func:`run_continual`
    loads the paper's data and calls this.
    """
    if not isinstance(config, ContinualConfig):
        raise TypeError(f"config: expected a ContinualConfig, got {type(config).__name__}")
    if not isinstance(data, Mapping) or set(data) != {"task1", "task2"}:
        raise ValueError(f"data: expected a dict with the keys 'task1' and 'task2', got {data!r:.80}")
    t1, t2 = (_task_data(f"data[{t!r}]", data[t]) for t in ("task1", "task2"))
    dev = check.device("device", device)
    t1, t2 = [[(x.to(dev), y.to(dev)) for x, y in t] for t in (t1, t2)]
    cfg = config
    model = make_model(cfg.hidden, cfg.seed).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    rec = MemoryRecorder(model, opt)
    acc1, acc2 = [accuracy(model, *t1[1])], [accuracy(model, *t2[1])]
    shuffles = seed_stream(cfg.seed, "shuffle")           # one stream for every epoch
    bar = progress_bar(total=2 * cfg.epochs_per_task, enabled=check.flag("progress", progress),
                       desc="epochs")
    for tag, (x, y) in (("task1", t1[0]), ("task2", t2[0])):
        with rec.phase(tag):
            for _ in range(cfg.epochs_per_task):
                train_classifier(model, opt, x, y, epochs=1, batch_size=cfg.batch_size,
                                 shuffle=cfg.shuffle, generator=shuffles)
                acc1.append(accuracy(model, *t1[1]))
                acc2.append(accuracy(model, *t2[1]))
                bar.update()
    bar.close()
    rec.remove()
    return ContinualRun(cfg, model, rec.memories, acc1, acc2,
                        {"task1": t1[1], "task2": t2[1]}, rec.footprint())


def run_continual(config: ContinualConfig | None = None, device: str | torch.device = "cpu",
                  progress: bool = False, data_root: str | os.PathLike | None = None) -> ContinualRun:
    """Figure 3's experiment: load MNIST and Fashion-MNIST as the setting says and train.

    Test sets are complete; training sets are too unless ``config.n_train`` cuts them.
    """
    from kvlib.data import DataError, load_classes

    cfg = ContinualConfig() if config is None else config
    if not isinstance(cfg, ContinualConfig):
        raise TypeError(f"config: expected a ContinualConfig or None, got {type(cfg).__name__}")
    if data_root is not None and not isinstance(data_root, (str, os.PathLike)):
        raise TypeError(f"data_root: expected a folder (str or path) or None, got {type(data_root).__name__}")
    if data_root is not None and not os.fspath(data_root).strip():
        raise ValueError("data_root: expected a folder path or None (then KVLIB_DATA), got ''")
    dev = check.device("device", device)
    data = {}
    for tag, name, classes, labels in (("task1", "mnist", cfg.mnist_classes, [0, 1]),
                                       ("task2", "fashion", cfg.fashion_classes, [2, 3])):
        try:
            train, test = (load_classes(name, list(classes), train=tr, root=data_root, relabel=labels,
                                        device=dev) for tr in (True, False))
        except DataError as err:
            raise DataError(f"data_root: {err}") from None
        n = cfg.n_train
        data[tag] = ((train[0][:n], train[1][:n]) if n else train, test)
    return train_continual(cfg, data, device=dev, progress=progress)


def _run(run: object) -> ContinualRun:
    if not isinstance(run, ContinualRun):
        raise TypeError(f"run: expected a ContinualRun (from run_continual), got {type(run).__name__}")
    return run


def _layers(run: ContinualRun, layers: object, name: str = "layers") -> list[str]:
    names = check.sequence(name, [layers] if isinstance(layers, str) else layers, nonempty=False)
    bad = [n for n in names if n not in run.memories]
    if bad:
        raise ValueError(f"{name}: {bad} not recorded; expected names among {list(run.memories)}")
    return names


@_one_thread
def reactivated_weights(run: ContinualRun, beta: float, layers: Sequence[str] = LAYERS,
                        scale_w0: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights ``(W_in, W_out)`` with the Task-1 memories of ``layers`` multiplied by ``beta``.

    Asked of each layer's memory (:meth:`kvlib.dualform.LayerMemory.weight`, Eq 10 with the
    Task-1 terms scaled). ``scale_w0`` (default: the run's setting) also multiplies the
    initial weights, as the published notebook does.
    """
    run = _run(run)
    beta = check.number("beta", beta, low=0)
    layers = _layers(run, layers)
    w0 = run.config.beta_scales_w0 if scale_w0 is None else check.flag("scale_w0", scale_w0)
    return tuple(run.memories[n].weight(scale={"task1": beta if n in layers else 1.0}, scale_w0=w0)
                 for n in LAYERS)


@_one_thread
def beta_sweep(run: ContinualRun, betas: Sequence[float], layers: Sequence[str] = LAYERS,
               scale_w0: bool | None = None) -> dict[str, list[float]]:
    """Test accuracy (%) of both tasks as the Task-1 memories are multiplied by each beta."""
    betas = check.sequence("betas", betas, lambda n, b: check.number(n, b, low=0))
    res = {"task1": [], "task2": []}
    for b in betas:
        W = reactivated_weights(run, b, layers, scale_w0)
        res["task1"].append(accuracy(W, *run.test["task1"]))
        res["task2"].append(accuracy(W, *run.test["task2"]))
    return res


def layer_sweeps(run: ContinualRun, betas: Sequence[float]) -> dict[str, list[float]]:
    """Task-1 accuracy (%) against beta with the Task-1 memories of both layers, of the first
    (input-to-hidden) only, and of the second (hidden-to-output) only reactivated."""
    return {label: beta_sweep(run, betas, layers)["task1"] for label, layers in (
        ("both layers", LAYERS), ("first layer only", LAYERS[:1]), ("second layer only", LAYERS[1:]))}


@_one_thread
def fraction_sweep(run: ContinualRun, fractions: Sequence[float], betas: Sequence[float],
                   seed: int = 0) -> dict[float, list[float]]:
    """Task-1 accuracy (%) vs beta when only a random ``fraction`` of Task-1 memories is reactivated.

    Each training step's examples are chosen at random (a share ``fraction`` of them) and their
    memories multiplied by beta in both layers; the rest keep weight 1.
    The initial weights W0 are left alone (whatever the setting), so that only memories
    are reactivated: ``fraction=1`` equals ``beta_sweep(..., scale_w0=False)``.
    """
    run = _run(run)
    fractions = check.sequence("fractions", fractions, check.probability)
    betas = check.sequence("betas", betas, lambda n, b: check.number(n, b, low=0))
    g = torch.Generator().manual_seed(check.seed("seed", seed))
    mems = [run.memories[n] for n in LAYERS]
    f = torch.tensor([float(v) for v in fractions])                             # (F,)
    # Eq 10 over each fraction's chosen Task-1 memories, per layer: (F, d_out, d_in)
    chosen = [torch.zeros(len(fractions), *m.W0.shape, dtype=m.W0.dtype, device=m.W0.device)
              for m in mems]
    # one product per stored step (the memories are kept in per-step chunks; joining them would
    # copy the whole store), every fraction at once; a step's examples are chosen once, for both layers
    for t, tag in enumerate(mems[0].tags):
        if tag != "task1":
            continue
        keep = torch.rand(mems[0].keys[t].shape[0], generator=g) < f[:, None]          # (F, B)
        for D, m in zip(chosen, mems):
            k, v = m.keys[t], m.values[t]                                           # (B, d_in), (B, d_out)
            D += (keep.to(v)[:, :, None] * v).transpose(1, 2) @ k                   # (F, d_out, d_in)
    full = [m.weight() for m in mems]                        # W0 + Task 1 + Task 2 (Eq 10)
    # ... + (beta - 1) * the chosen Task-1 memories
    return {float(frac): [accuracy([W + (b - 1.0) * D[i] for W, D in zip(full, chosen)], *run.test["task1"])
                          for b in betas] for i, frac in enumerate(fractions)}


@_one_thread
def reactivation_states(run: ContinualRun, betas: Sequence[float], n_images: int = 8) -> dict:
    """What the network does at each beta: both tasks' accuracy (%) and its answers to the
    first ``n_images`` Task-1 test images (Chapter 6's slider). Returns ``{"beta", "task1",
    "task2", "images" (n, 784), "labels", "predictions" (one list per beta)}``."""
    run = _run(run)
    betas = check.sequence("betas", betas, lambda n, b: check.number(n, b, low=0))
    n_images = check.count("n_images", n_images, minimum=1)
    x, y = run.test["task1"]
    preds = []
    for b in betas:
        w_in, w_out = reactivated_weights(run, b)
        preds.append((torch.relu(x[:n_images] @ w_in.T) @ w_out.T).argmax(1).tolist())
    return {"beta": betas, **beta_sweep(run, betas), "images": x[:n_images].cpu(),
            "labels": y[:n_images].tolist(), "predictions": preds}


@_one_thread
@torch.no_grad()
def readout_difference(run: ContinualRun, x: torch.Tensor) -> float:
    """Largest ``|dual - network|`` over queries ``x``: both layers read out as memories, by
    attention over every stored pair (Eq 11, :meth:`~kvlib.dualform.LayerMemory.forward`), against the trained
    network itself. Float32 rounding when the identity holds."""
    run = _run(run)
    x = check.tensor("x", x, ndim=2, nonempty=True)
    first, second = (run.memories[n] for n in LAYERS)
    dual = second(torch.relu(first(x)))
    return float((dual - run.model(x.to(first.W0))).abs().max())


@_one_thread
@torch.no_grad()
def scaled_keys_vs_values(run: ContinualRun, beta: float = 1.7, layer: str = "0") -> float:
    """Largest difference between ``sum_n v_n^T (beta k_n)`` and ``sum_n (beta v_n)^T k_n`` over
    the Task-1 memories of ``layer``: scaling keys or values is the same (the read is bilinear)."""
    run = _run(run)
    beta = check.number("beta", beta, low=0)
    mem = run.memories[_layers(run, [layer], "layer")[0]]
    task1 = [t for t, tag in enumerate(mem.tags) if tag == "task1"]
    scaled_keys = sum(mem.values[t].T @ (beta * mem.keys[t]) for t in task1)
    scaled_values = sum((beta * mem.values[t]).T @ mem.keys[t] for t in task1)
    return float((scaled_keys - scaled_values).abs().max())


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
    run = _run(run)
    W_in, _ = reactivated_weights(run, beta)
    x = check.tensor("x", x, ndim=2, nonempty=True, like=W_in, like_name="the weights")
    if bool((x < 0).any()):
        raise ValueError("x: expected non-negative inputs (pixels), so that every alpha_n >= 0")
    # float64: a large beta must give a share near 1, not inf / inf
    x = x.double()
    h = torch.relu(x @ W_in.double().T)                         # queries of the second layer
    shares = {}
    for name, q in zip(LAYERS, (x, h)):
        mem = run.memories[name]
        # sum of the keys of each task, (d_in,): one sum per stored step (the store is chunked)
        step_sums = torch.stack([k.sum(0) for k in mem.keys]).double()          # (T, d_in)
        task1 = torch.tensor([tag == "task1" for tag in mem.tags], device=step_sums.device)
        a1 = beta * (q @ step_sums[task1].sum(0))               # total attention on Task 1, (B,)
        a2 = q @ step_sums[~task1].sum(0)                       # on everything else (Task 2)
        total = a1 + a2
        shares[name] = float((a1 / torch.where(total > 0, total, torch.ones_like(total))).mean())
    return shares


def config_dict(cfg: ContinualConfig) -> dict:
    """The configuration as a JSON-ready dict."""
    if not isinstance(cfg, ContinualConfig):
        raise TypeError(f"cfg: expected a ContinualConfig, got {type(cfg).__name__}")
    return asdict(cfg)
