"""Keys and values learn different geometries: the toy simulation of paper §5.1 (Figure 2).

Every memory is a trainable pair of 2-D vectors (k_n, v_n); there is no map from
inputs to keys. Each key in turn is used as a query, compared with every key by the
scaled dot product (Eq 5), the scores go through a softmax over the memories (Eq 6),
and the read-out is the attention-weighted mean of sigmoid(values) (Eq 2): one
:func:`kvlib.kernels.retrieve`. The loss is the mean squared error to the class feature
of the query's pair; Adam at 3e-4 moves keys and values together.

**What the published notebooks compute** (``2classes_…`` and ``3classes_…`` in
``kazuki-irie/kv-memory-brain``), and what every default here follows:

* draws: ``torch.manual_seed(42)``; keys ``randn(N, 2).uniform_(0, 1)`` (the normal
  draw is consumed, then overwritten), values ``rand(N, 2)``, classes ``randint``;
  class features (1, 0), (0, 1) and (1, 1) (the text swaps the first two);
* scores ``X.detach() @ X.T / sqrt(2)``, softmax over the *first* axis, read-out
  ``attn.T @ sigmoid(V)``: column j of ``attn`` holds query j's weights over the
  memories i, which is ``retrieve(queries=X, keys=X.detach(), values=sigmoid(V))``.
  The detached factor is the key **in its role as a stored memory**; a key learns only
  through its role as a query (``detach="memory"``);
* ``loss.backward(); optimizer.step()`` with no ``zero_grad``: the gradients of all
  steps so far **accumulate**, and Adam sees their running sum (``zero_grad=False``).
  Run so, the notebooks end at a loss of 0.0227 (two classes) and 0.0009 (three).

The text's reading, "gradient descent" with Adam, zeroes the gradients every step:
``zero_grad=True``. The other variants are one argument away as well: ``detach="query"``
(the stored role trained, the query role not) or ``"none"`` (both roles trained),
``scale`` (the score's factor, retrieve's β), ``balanced=True`` (the methods' exactly 100
pairs per class). Chapter 6 runs them side by side.

Two ways to run it: ``method="fast"`` (default) takes the weights from the same read
(``return_weights=True``), computes the gradient in closed form and applies Adam itself,
several settings stacked on a leading axis in one loop (:func:`train_toys`, through
:func:`kvlib.toy_closed_form.closed_form_adam`);
``method="autograd"`` is the notebook's plain loop with ``torch.optim.Adam``. Both give the
same trajectory up to float32 noise (``tests/test_toy.py``; :func:`benchmark_toy` times
them). A run that diverges (NaN or inf keys or values) stops with a ``ValueError``.

Explained in Chapter 6, §"Keys for finding, values for storing".
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import torch

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import best_time, cpu_threads
from kvlib.device import progress as progress_bar
from kvlib.toy_closed_form import closed_form_adam

__all__ = ["CLASS_FEATURES", "PAPER_SIZES", "DETACH", "METHODS", "ToySetting", "ToyRun",
           "init_pairs", "toy_readout", "train_toy", "train_toys", "benchmark_toy"]

#: Class feature vectors: the published notebooks' order (the text swaps classes 0 and 1).
CLASS_FEATURES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])

#: Paper settings per number of classes: (pairs, Adam steps).
PAPER_SIZES = {2: (200, 5000), 3: (300, 10000)}

#: Which role of a key is cut from the gradient: "memory" (the notebooks), "query", "none".
DETACH = ("memory", "query", "none")

#: How the optimisation is computed: closed-form gradient and batched Adam, or plain autograd.
METHODS = ("fast", "autograd")

# CPU threads for the loops here: one (GPU work is unaffected). A step is a few dozen small
# operations; on 2 quiet cores 1,000 two-class steps take 0.7 s either way (six settings
# batched: 1.8 s with one thread, 1.4 s with two), but under load a second thread costs far
# more than it saves (six settings: 4 s with one thread against 15 s with two at a load of ~10).
_THREADS = 1


@dataclass(frozen=True)
class ToySetting:
    """One variant of the optimisation; every default is the published notebooks'.

    ``detach``: which role of a key gets no gradient (:data:`DETACH`); ``zero_grad``:
    zero the gradients before each step (the text's reading) instead of letting them
    accumulate (the notebooks); ``scale``: factor of the dot product, ``None`` for
    ``1/sqrt(d)`` (Eq 5); ``lr``: Adam's learning rate; ``seed`` and ``balanced``: the
    initial draws (:func:`init_pairs`).

    >>> ToySetting(zero_grad=True).resolved_scale()
    0.7071067811865475
    """

    detach: str = "memory"
    zero_grad: bool = False
    scale: float | None = None
    lr: float = 3e-4
    seed: int = 42
    balanced: bool = False

    def __post_init__(self) -> None:
        check.option("detach", self.detach, DETACH)
        check.flag("zero_grad", self.zero_grad)
        if self.scale is not None:
            object.__setattr__(self, "scale", check.positive("scale", self.scale))
        object.__setattr__(self, "lr", check.positive("lr", self.lr))
        object.__setattr__(self, "seed", check.seed("seed", self.seed))
        check.flag("balanced", self.balanced)

    def resolved_scale(self, d: int = 2) -> float:
        """The score's factor: ``scale``, or ``1/sqrt(d)`` (Eq 5) when it is ``None``."""
        d = check.count("d", d, minimum=1)
        return 1.0 / math.sqrt(d) if self.scale is None else float(self.scale)


@dataclass
class ToyRun:
    """Trajectories of one optimisation: ``keys[t]``/``values[t]`` are ``(N, 2)`` snapshots.

    ``values`` are after the sigmoid (what the memory actually reads out);
    ``steps[t]`` is the Adam step of snapshot t (0: the initial draw); ``loss[s]`` is the
    loss computed at step s + 1, before that step's update (the notebooks' ``loss_val``).
    """

    keys: torch.Tensor      # (S, N, 2)
    values: torch.Tensor    # (S, N, 2), sigmoid applied
    steps: torch.Tensor     # (S,)
    loss: torch.Tensor      # (T,)
    classes: torch.Tensor   # (N,)
    n_classes: int
    setting: ToySetting = ToySetting()

    def __post_init__(self) -> None:
        self.keys = check.tensor("keys", self.keys, ndim=3, dtype="float-strict", nonempty=True)
        S, N = self.keys.shape[:2]
        self.values = check.tensor("values", self.values, shape=tuple(self.keys.shape),
                                   dtype="float-strict")
        self.steps = check.tensor("steps", self.steps, shape=(S,), dtype="int")
        self.loss = check.tensor("loss", self.loss, ndim=1, dtype="float-strict", nonempty=True)
        self.classes = check.tensor("classes", self.classes, shape=(N,), dtype="int")
        self.n_classes = _n_classes(self.n_classes)
        if not isinstance(self.setting, ToySetting):
            raise TypeError(f"setting: expected a ToySetting, got {type(self.setting).__name__}")

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])


def _n_classes(n: object) -> int:
    if isinstance(n, bool) or n not in PAPER_SIZES:
        raise ValueError(f"n_classes: expected 2 or 3, got {n!r}")
    return int(n)


def init_pairs(n_pairs: int, n_classes: int, seed: int = 42, balanced: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Initial keys ``(N, 2)``, raw values ``(N, 2)`` and classes ``(N,)``.

    With ``balanced=False`` the draws are the published notebooks', in their order, from
    a generator seeded as ``torch.manual_seed(seed)`` seeds the global one: a normal draw
    of the keys' shape that ``uniform_(0, 1)`` then overwrites, the keys, the values
    (``rand``), then the classes (``randint``). ``balanced=True`` instead gives exactly
    ``n_pairs / n_classes`` pairs per class in random order, as the methods describe.

    >>> init_pairs(300, 3, balanced=True)[2].bincount().tolist()
    [100, 100, 100]
    """
    n_classes = _n_classes(n_classes)
    n_pairs = check.count("n_pairs", n_pairs, minimum=n_classes)
    g = torch.Generator().manual_seed(check.seed("seed", seed))
    torch.randn(n_pairs, 2, generator=g)                  # consumed, as in the notebook
    keys = torch.empty(n_pairs, 2).uniform_(0, 1, generator=g)
    values = torch.rand(n_pairs, 2, generator=g)
    if check.flag("balanced", balanced):
        classes = torch.arange(n_pairs) % n_classes
        classes = classes[torch.randperm(n_pairs, generator=g)]
    else:
        classes = torch.randint(0, n_classes, (n_pairs,), generator=g)
    return keys, values, classes


def _float_tensors(optional: tuple[str, ...] = (), **tensors: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Check tensors that must share one floating dtype; integer ones are converted to it exactly.
    Those named in ``optional`` may be ``None`` (then left out)."""
    out = {n: check.tensor(n, x, dtype="any") for n, x in tensors.items()
           if x is not None or n not in optional}
    floats = {x.dtype for x in out.values() if x.is_floating_point()}
    if len(floats) > 1:
        raise TypeError(f"{', '.join(out)}: expected one floating-point dtype, got "
                        f"{', '.join(str(x.dtype) for x in out.values())}")
    dtype = floats.pop() if floats else torch.get_default_dtype()
    return {n: x if x.is_floating_point() else x.to(dtype) for n, x in out.items()}


def toy_readout(keys: torch.Tensor, values: torch.Tensor, queries: torch.Tensor | None = None,
                scale: float | None = None, detach: str = "memory") -> torch.Tensor:
    """Eq 2 with Eqs 5-6, as the notebook computes it; returns ``(B, 2)``.

    The notebook writes ``attn = softmax(scale * K Q^T, dim=0)`` (rows: memories i, columns:
    queries j; the softmax runs over the memories) and reads ``attn.T @ sigmoid(V)``: that is
    one :func:`kvlib.kernels.retrieve` with the dot product, a softmax at ``β = scale`` and the
    values ``sigmoid(V)``. ``queries`` default to the keys themselves. ``detach`` cuts the
    gradient of one role of the keys: ``"memory"`` the stored keys ``K`` (the notebook's
    ``X.detach() @ X.T``), ``"query"`` the queries, ``"none"`` neither. ``scale`` defaults to
    ``1/sqrt(d)`` (Eq 5).

    >>> k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> toy_readout(k, torch.zeros(2, 2))                 # sigmoid(0) = 0.5 whatever the weights
    tensor([[0.5000, 0.5000],
            [0.5000, 0.5000]])
    """
    t = _float_tensors(("queries",), keys=keys, values=values, queries=queries)
    keys, values = t["keys"], t["values"]
    if keys.ndim != 2 or not keys.shape[0] or not keys.shape[1]:
        raise ValueError(f"keys: expected shape (N, d) with N, d >= 1, got {tuple(keys.shape)}")
    if values.shape != keys.shape:
        raise ValueError(f"values: expected the keys' shape {tuple(keys.shape)} (one value per key), "
                         f"got {tuple(values.shape)}")
    q = t.get("queries", keys)
    if q.ndim != 2 or q.shape[1] != keys.shape[1]:
        raise ValueError(f"queries: expected shape (B, {keys.shape[1]}), got {tuple(q.shape)}")
    if q.device != keys.device or values.device != keys.device:
        raise ValueError(f"queries, values: expected the keys' device {keys.device}, got "
                         f"{q.device} and {values.device}")
    check.option("detach", detach, DETACH)
    s = 1.0 / math.sqrt(keys.shape[1]) if scale is None else check.positive("scale", scale)
    mem = keys.detach() if detach == "memory" else keys
    q = q.detach() if detach == "query" else q
    return kernels.retrieve(q, mem, torch.sigmoid(values), "dot", "softmax", beta=s)   # (B, d)


def _as_setting(s: ToySetting | Mapping, where: str) -> ToySetting:
    if isinstance(s, ToySetting):
        return s
    if isinstance(s, Mapping):
        names = {f.name for f in fields(ToySetting)}
        bad = [k for k in s if k not in names]
        if bad:
            raise ValueError(f"{where}: unknown setting {', '.join(map(repr, bad))}; valid "
                             f"settings are {', '.join(sorted(names))}")
        return ToySetting(**s)
    raise TypeError(f"{where}: expected a ToySetting or a dict of its fields, got {s!r}")


def train_toy(n_classes: int = 2, n_pairs: int | None = None, steps: int | None = None, *,
              detach: str = "memory", zero_grad: bool = False, scale: float | None = None,
              lr: float = 3e-4, seed: int = 42, balanced: bool = False, method: str = "fast",
              snapshots: int = 100, dtype: torch.dtype = torch.float32,
              device: str | torch.device = "cpu", progress: bool = False) -> ToyRun:
    """Optimise keys and values jointly with Adam (paper §5.1); return the trajectories.

    Defaults are the published notebooks' (module docstring): 200 pairs and 5,000 steps
    for two classes, 300 and 10,000 for three, Adam at 3e-4, the stored role of the keys
    detached, gradients accumulated. ``zero_grad=True`` is the text's reading; see
    :class:`ToySetting` for the other arguments. ``method`` picks the computation
    (:data:`METHODS`); both give the same run up to float noise. To run several settings
    at the cost of about one, use :func:`train_toys`.

    >>> round(train_toy(2, n_pairs=20, steps=3).final_loss, 3)
    0.251
    """
    setting = ToySetting(detach=detach, zero_grad=zero_grad, scale=scale, lr=lr, seed=seed,
                         balanced=balanced)
    return _train(n_classes, [setting], n_pairs, steps, method, snapshots, dtype, device, progress)[0]


def train_toys(n_classes: int, settings: Sequence[ToySetting | Mapping],
               n_pairs: int | None = None, steps: int | None = None, *, method: str = "fast",
               snapshots: int = 100, dtype: torch.dtype = torch.float32,
               device: str | torch.device = "cpu", progress: bool = False) -> list[ToyRun]:
    """Run one optimisation per setting (all of one size); return one :class:`ToyRun` each.

    With ``method="fast"`` the settings are independent problems stacked on a leading
    axis and optimised in one loop (one batched read, closed-form gradient, Adam's update
    written out), so a handful of them costs about as much as one. ``settings`` are
    :class:`ToySetting`\\ s or dicts of their fields, e.g. ``[{}, {"zero_grad": True}]``
    (published, text). ``dtype``: float32 as in the notebooks; float64 to check the closed
    form (not on MPS).
    """
    if isinstance(settings, (ToySetting, Mapping, str)) or not isinstance(settings, Sequence) \
            or len(settings) == 0:
        raise ValueError(f"settings: expected a non-empty list of ToySetting or dicts, got {settings!r}")
    settings = [_as_setting(s, f"settings[{i}]") for i, s in enumerate(settings)]
    return _train(n_classes, settings, n_pairs, steps, method, snapshots, dtype, device, progress)


def _train(n_classes, settings, n_pairs, steps, method, snapshots, dtype, device, progress):
    """Check the shared arguments, run the loop ``method`` names, package the runs."""
    n_classes = _n_classes(n_classes)
    n_pairs = check.count("n_pairs", PAPER_SIZES[n_classes][0] if n_pairs is None else n_pairs,
                          minimum=n_classes)
    steps = check.count("steps", PAPER_SIZES[n_classes][1] if steps is None else steps, minimum=1)
    check.option("method", method, METHODS)
    snapshots = check.count("snapshots", snapshots, minimum=1)
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype: expected torch.float32 or torch.float64, got {dtype!r}")
    device = check.device("device", device)
    if device.type == "mps" and dtype == torch.float64:
        raise ValueError("dtype: Apple MPS has no float64; use torch.float32 or device='cpu'")
    check.flag("progress", progress)
    inits = [init_pairs(n_pairs, n_classes, s.seed, s.balanced) for s in settings]
    every = max(1, steps // snapshots)
    snap_steps = [0] + [t for t in range(1, steps + 1) if t % every == 0 or t == steps]
    with cpu_threads(_THREADS if device.type == "cpu" else None):
        if method == "fast":
            loss, snaps = closed_form_adam(
                *(torch.stack(t).to(device, dtype) for t in list(zip(*inits))[:2]),
                torch.stack([CLASS_FEATURES[:n_classes][c] for _, _, c in inits]).to(device, dtype),
                scale=[s.resolved_scale(2) for s in settings], lr=[s.lr for s in settings],
                query_role=[s.detach != "query" for s in settings],
                memory_role=[s.detach != "memory" for s in settings],
                accumulate=[not s.zero_grad for s in settings], steps=steps,
                snapshot_steps=snap_steps[1:], progress=progress)
        else:
            outs = [_autograd_loop(s, init, n_classes, steps, snap_steps, dtype, device, progress)
                    for s, init in zip(settings, inits)]
            loss = torch.stack([o[0] for o in outs], 1)                    # (T, B)
            snaps = torch.stack([o[1] for o in outs], 1)                   # (S, B, 2, N, 2)
    return [ToyRun(keys=snaps[:, b, 0].contiguous(), values=torch.sigmoid(snaps[:, b, 1]),
                   steps=torch.tensor(snap_steps), loss=loss[:, b].clone(), classes=classes,
                   n_classes=n_classes, setting=s)
            for b, (s, (_, _, classes)) in enumerate(zip(settings, inits))]


def _autograd_loop(setting, init, n_classes, steps, snap_steps, dtype, device, progress):
    """The plain loop, one setting: autograd and torch.optim.Adam, as the notebook runs it."""
    k0, v0, classes = init
    keys = k0.to(device, dtype, copy=True).requires_grad_(True)
    values = v0.to(device, dtype, copy=True).requires_grad_(True)
    target = CLASS_FEATURES[:n_classes].to(device, dtype)[classes.to(device)]   # (N, 2)
    opt = torch.optim.Adam([keys, values], lr=setting.lr)
    losses = torch.empty(steps, dtype=dtype, device=device)
    snaps = [torch.stack([k0, v0]).to(dtype)]
    snap_at = set(snap_steps[1:])
    for t in progress_bar(range(1, steps + 1), enabled=progress, desc=f"{n_classes} classes"):
        if setting.zero_grad:
            opt.zero_grad()
        out = toy_readout(keys, values, scale=setting.resolved_scale(2), detach=setting.detach)
        loss = torch.nn.functional.mse_loss(out, target)
        loss.backward()
        opt.step()
        losses[t - 1] = loss.detach()
        if not (check.all_finite(keys) and check.all_finite(values)):
            raise ValueError(f"lr: the optimisation diverged at Adam step {t} (keys or values became "
                             f"NaN or inf) with lr={setting.lr:g} and scale={setting.resolved_scale(2):g}; "
                             "lower the learning rate (the notebooks use 3e-4)")
        if t in snap_at:
            snaps.append(torch.stack([keys.detach(), values.detach()]).cpu())
    return losses.cpu(), torch.stack(snaps)                                # (T,), (S, 2, N, 2)


def benchmark_toy(n_classes: int = 2, repeats: int = 3, device: str | torch.device = "cpu",
                  steps: int | None = None) -> dict:
    """Time Figure 2's optimisation both ways, side by side, on ``device``.

    ``fast_s``: :func:`train_toy` as ``reproduce fig2a`` runs it; ``autograd_s``: the plain
    loop (``method="autograd"``); ``ratio = fast_s / autograd_s`` (at most 0.5 is the aim);
    ``batched6_s``: Chapter 6's six settings in one loop. Fastest of ``repeats`` runs each
    (:func:`kvlib.device.best_time`), with both methods' final losses and their largest
    difference along the run (float noise). Explained in the appendix, §Benchmarks.
    """
    device = check.device("device", device)
    repeats = check.count("repeats", repeats, minimum=1)
    n_classes = _n_classes(n_classes)
    six = [{"detach": d, "zero_grad": z} for d in DETACH for z in (False, True)]
    train_toy(n_classes, steps=20, device=device)                        # warm-up, untimed
    train_toy(n_classes, steps=20, device=device, method="autograd")
    run_f = train_toy(n_classes, steps=steps, device=device)
    run_p = train_toy(n_classes, steps=steps, device=device, method="autograd")
    timed = {name: best_time(fn, device, repeats=repeats, warmup=0) for name, fn in (
        ("fast", lambda: train_toy(n_classes, steps=steps, device=device)),
        ("autograd", lambda: train_toy(n_classes, steps=steps, device=device, method="autograd")),
        ("batched6", lambda: train_toys(n_classes, six, steps=steps, device=device)))}
    return {"n_classes": n_classes, "steps": int(run_f.steps[-1]), "device": str(device),
            "threads": _THREADS if device.type == "cpu" else None,
            "fast_s": timed["fast"], "autograd_s": timed["autograd"],
            "ratio": timed["fast"] / timed["autograd"], "batched6_s": timed["batched6"],
            "final_loss_fast": run_f.final_loss, "final_loss_autograd": run_p.final_loss,
            "max_abs_loss_diff": float((run_f.loss - run_p.loss).abs().max())}
