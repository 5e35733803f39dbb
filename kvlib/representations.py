"""Where keys, queries and values come from: learned maps, fixed scaffolds, drifting time.

Paper §2.2, Eqs 7-9. Keys, values and queries are maps of an input ``x`` (row vectors
here): ``k = x W_k``, ``v = x W_v``, ``q = x W_q``. The maps are either *learned*
(trained end to end for the task, as in transformers) or a fixed *scaffold*:

* ``"autoassociative"``: keys are the contents themselves (``W_k = W_q = W_v = I``), as
  in Hopfield networks; memories are found by matching content.
* ``"random"``: a fixed random projection, as in sparse distributed memory; the address
  a memory gets bears no designed relation to what it stores.
* ``"index"``: a fixed, regular, hand-made code, like a book's alphabetical index. For
  images we use a 7x7 thumbnail (4x4 block averages): items are filed under their coarse
  appearance, the way words are filed under their first letters. (The choice of a
  thumbnail is ours, not the paper's.)
* ``"learned"``: ``W_k`` and ``W_q`` trained by gradient descent to retrieve the right
  item; they start from the random scaffold, so "before learning" *is* the random scaffold.

Values are always the stored images (``W_v = I``): the retrieval task asks for the item
back, so values are kept for fidelity and only the addressing changes.

The second half of the module is a scaffold with a *temporal* imprint: a context vector
that drifts slowly while a list is studied (after the temporal context model of Howard &
Kahana 2002) serves as the key of each item; free recall from that memory produces the
temporal contiguity effect, measured as the conditional response probability (CRP) by lag.

Explained in Chapter 2 ("Representational structure").

Axis vocabulary (``book/appendix/notation.md``): N memories (items in an episode), d dims,
B queries/episodes, T list positions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from kvlib.device import progress as progress_bar

__all__ = [
    "SCAFFOLDS", "KeyMaps", "make_keymaps", "thumbnail_matrix", "attend",
    "class_table", "sample_episodes", "corrupt", "EpisodeBatch", "make_episodes",
    "fit_inverse_temperature", "train_learned_keys", "retrieval_accuracy", "key_similarity",
    "mean_offdiagonal",
    "compare_scaffolds",
    "drifting_context", "free_recall", "crp_by_lag", "temporal_contiguity",
]

#: The scaffolds of Chapter 2, in the order the chapter shows them.
SCAFFOLDS = ("autoassociative", "random", "index", "learned")


def _check_int(name: str, value, low: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    return value


def _check_prob(name: str, value, closed_high: bool = True) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
        0.0 <= value and (value <= 1.0 if closed_high else value < 1.0)
    if not ok:
        rng = "[0, 1]" if closed_high else "[0, 1)"
        raise ValueError(f"{name}: expected a number in {rng}, got {value!r}")
    return float(value)


# =====================================================================================
# Part 1: learned key/query maps versus fixed scaffolds (Eqs 7-9)
# =====================================================================================

def thumbnail_matrix(side: int = 28, block: int = 4, dtype: torch.dtype = torch.float32
                     ) -> torch.Tensor:
    """The structured index: a ``(side*side, (side//block)**2)`` matrix of block averages.

    ``x @ P`` turns a flattened ``side x side`` image into its thumbnail (one entry per
    ``block x block`` tile). Not in the paper: our stand-in for an alphabetical index.
    Explained in Chapter 2, §Four ways to give a memory its addresses.

    >>> thumbnail_matrix().shape
    torch.Size([784, 49])
    """
    _check_int("side", side)
    _check_int("block", block)
    if side % block:
        raise ValueError(f"block: expected a divisor of side={side}, got {block!r}")
    t = side // block
    rows = torch.arange(side).repeat_interleave(side)                 # pixel row, (side*side,)
    cols = torch.arange(side).repeat(side)                            # pixel column
    tile = (rows // block) * t + cols // block                        # which tile each pixel is in
    P = torch.zeros(side * side, t * t, dtype=dtype)
    P[torch.arange(side * side), tile] = 1.0 / block ** 2
    return P


class KeyMaps(torch.nn.Module):
    """Key and query maps ``k = x W_k``, ``q = x W_q`` (Eqs 7 and 9); values ``v = x`` (Eq 8, W_v = I).

    ``kind`` is one of :data:`SCAFFOLDS`. Only ``"learned"`` has trainable parameters.
    Explained in Chapter 2, §Four ways to give a memory its addresses.
    """

    def __init__(self, kind: str, d_in: int = 784, d_key: int = 49, seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        super().__init__()
        if kind not in SCAFFOLDS:
            raise ValueError(f"kind: expected one of {SCAFFOLDS}, got {kind!r}")
        _check_int("d_in", d_in)
        _check_int("d_key", d_key)
        self.kind = kind
        g = torch.Generator().manual_seed(seed)
        if kind == "autoassociative":
            W_k = None
        elif kind == "index":
            side = math.isqrt(d_in)
            if side * side != d_in:
                raise ValueError(f"d_in: the index scaffold needs square images, got d_in={d_in}")
            block = side // math.isqrt(d_key)
            if (side // block) ** 2 != d_key or side % block:
                raise ValueError(f"d_key: the index scaffold needs a square number of tiles that "
                                 f"divides the image, e.g. 49 or 16 for 28x28; got {d_key}")
            W_k = thumbnail_matrix(side, block)
        else:   # random, and the initial state of learned
            W_k = torch.randn(d_in, d_key, generator=g) / math.sqrt(d_in)
        if W_k is None:
            self.W_k = None
        elif kind == "learned":
            self.W_k = torch.nn.Parameter(W_k.clone().to(device))
            self.W_q = torch.nn.Parameter(W_k.clone().to(device))
        else:                                   # a fixed scaffold: one map for keys and queries
            self.register_buffer("W_k", W_k.to(device))

    def keys(self, x: torch.Tensor) -> torch.Tensor:
        """``k = x W_k`` (Eq 7); ``(..., d_key)``."""
        return x if self.W_k is None else x @ self.W_k

    def queries(self, x: torch.Tensor) -> torch.Tensor:
        """``q = x W_q`` (Eq 9; ``W_q = W_k`` for a fixed scaffold); ``(..., d_key)``."""
        if self.W_k is None:
            return x
        return x @ (self.W_q if self.kind == "learned" else self.W_k)


def make_keymaps(kind: str, d_key: int = 49, seed: int = 0,
                 device: str | torch.device = "cpu") -> KeyMaps:
    """A :class:`KeyMaps` for 28x28 images.

    Explained in Chapter 2, §Four ways to give a memory its addresses.
    """
    return KeyMaps(kind, 784, d_key, seed, device)


def attend(q: torch.Tensor, K: torch.Tensor, V: torch.Tensor | None = None
           ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product softmax attention (Eqs 3, 5, 6), batched over episodes.

    ``q``: ``(B, M, d)`` queries, ``K``: ``(B, N, d)`` keys, ``V``: ``(B, N, d_v)`` values.
    Returns the scores ``S = q K^T / sqrt(d)`` ``(B, M, N)`` and the read-out
    ``softmax(S) V`` ``(B, M, d_v)`` (``None`` without ``V``). Explained in Chapter 2.
    """
    if q.dim() != 3 or K.dim() != 3 or q.shape[-1] != K.shape[-1]:
        raise ValueError(f"q, K: expected (B, M, d) and (B, N, d) with the same d, "
                         f"got {tuple(q.shape)} and {tuple(K.shape)}")
    S = q @ K.transpose(1, 2) / math.sqrt(K.shape[-1])               # (B, M, N)
    return S, (None if V is None else torch.softmax(S, dim=-1) @ V)  # (B, M, d_v)


def class_table(y: torch.Tensor, per_class: int | None = None) -> torch.Tensor:
    """Indices of each class's examples as a ``(C, per_class)`` table (first ``per_class`` of each).

    Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    classes = torch.unique(y)
    counts = torch.stack([(y == c).sum() for c in classes])
    m = int(counts.min()) if per_class is None else _check_int("per_class", per_class)
    if m > int(counts.min()):
        raise ValueError(f"per_class: expected at most {int(counts.min())} (the rarest class), got {m}")
    # stable sort by label keeps each class's examples in data-set order
    order = torch.sort(y, stable=True).indices
    starts = torch.cumsum(counts, 0) - counts
    return torch.stack([order[s:s + m] for s in starts.tolist()])     # (C, m)


def sample_episodes(table: torch.Tensor, n_episodes: int, n_items: int, correlated: bool,
                    generator: torch.Generator) -> torch.Tensor:
    """Draw ``(n_episodes, n_items)`` distinct example indices per episode.

    ``correlated=True``: every item of an episode comes from one class (look-alikes);
    ``False``: items come from all classes.
    Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    _check_int("n_episodes", n_episodes)
    _check_int("n_items", n_items, 2)
    C, m = table.shape
    if correlated:
        if n_items > m:
            raise ValueError(f"n_items: expected at most {m} (examples per class), got {n_items}")
        cls = torch.randint(C, (n_episodes,), generator=generator)               # (E,)
        pick = torch.rand(n_episodes, m, generator=generator).topk(n_items, -1).indices  # distinct
        return table[cls[:, None].to(table.device), pick.to(table.device)]     # (E, N)
    flat = table.reshape(-1)
    if n_items > flat.numel():
        raise ValueError(f"n_items: expected at most {flat.numel()}, got {n_items}")
    pick = torch.rand(n_episodes, flat.numel(), generator=generator).topk(n_items, -1).indices
    return flat[pick.to(table.device)]


def corrupt(x: torch.Tensor, keep: float, noise: float, generator: torch.Generator) -> torch.Tensor:
    """A partial, noisy cue: keep each pixel with probability ``keep``, add Gaussian ``noise``.

    Random numbers are drawn on the CPU (``generator``) so every device sees the same cue.
    Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    keep = _check_prob("keep", keep)
    if not isinstance(noise, (int, float)) or noise < 0:
        raise ValueError(f"noise: expected a number >= 0, got {noise!r}")
    mask = (torch.rand(x.shape, generator=generator) < keep).to(x.device, x.dtype)
    eps = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
    return x * mask + noise * eps


@dataclass
class EpisodeBatch:
    """Stored items ``x`` ``(B, N, d)`` and their cues ``q`` ``(B, N, d)``; cue i asks for item i."""

    x: torch.Tensor
    cues: torch.Tensor


def make_episodes(images: torch.Tensor, table: torch.Tensor, n_episodes: int, n_items: int,
                  correlated: bool, keep: float, noise: float, generator: torch.Generator
                  ) -> EpisodeBatch:
    """Episodes of the retrieval task: store ``n_items`` images, cue each with a corrupted copy.

    Explained in Chapter 2, §A retrieval task with look-alike items.
    """
    idx = sample_episodes(table, n_episodes, n_items, correlated, generator)   # (B, N)
    x = images[idx]                                                            # (B, N, d)
    return EpisodeBatch(x, corrupt(x, keep, noise, generator))


def retrieval_accuracy(maps: KeyMaps, episodes: EpisodeBatch) -> float:
    """Fraction of cues whose largest attention weight falls on the right item.

    Attention is Eqs 5-6 over keys ``x W_k`` with queries ``cue W_q``; the argmax does not
    depend on the softmax temperature. Explained in Chapter 2, §Accuracy of each scaffold.
    """
    with torch.no_grad():
        S, _ = attend(maps.queries(episodes.cues), maps.keys(episodes.x))      # (B, N, N)
        target = torch.arange(S.shape[-1], device=S.device)
        return float((S.argmax(-1) == target).float().mean())


def fit_inverse_temperature(S: torch.Tensor, grid: torch.Tensor | None = None) -> float:
    """The inverse temperature ``beta`` that best retrieves the right items from scores ``S``.

    ``S`` is ``(B, N, N)`` with cue ``i`` asking for item ``i``; returns the ``beta`` on
    ``grid`` (default ``10**linspace(-2, 3, 51)``) maximising the mean log attention weight
    ``log softmax(beta * S)`` on the right item. Used to compare scaffolds' soft attention
    fairly (each at its own best temperature; the argmax, hence accuracy, does not depend
    on it). Not in the paper.
    Explained in Chapter 2, §Learned keys separate what the inputs confuse.
    """
    if S.dim() != 3 or S.shape[1] != S.shape[2]:
        raise ValueError(f"S: expected (B, N, N) scores, got shape {tuple(S.shape)}")
    grid = torch.logspace(-2, 3, 51, dtype=S.dtype) if grid is None else grid.to(S.dtype)
    diag = torch.eye(S.shape[-1], dtype=torch.bool, device=S.device)
    ll = torch.stack([torch.log_softmax(b * S, -1)[:, diag].mean() for b in grid.tolist()])
    return float(grid[int(ll.argmax())])


def train_learned_keys(maps: KeyMaps, images: torch.Tensor, table: torch.Tensor, *,
                       steps: int = 400, n_episodes: int = 16, n_items: int = 32,
                       keep: float = 0.5, noise: float = 0.3, lr: float = 3e-3,
                       seed: int = 0, progress: bool = False) -> list[float]:
    """Train ``W_k`` and ``W_q`` end to end (Eqs 7, 9) so each cue attends to its own item.

    Loss: cross-entropy of the attention scores against the right item, on episodes of
    look-alike items (one class per episode) drawn from ``images``; Adam. Returns the
    loss per step. Explained in Chapter 2, §Accuracy of each scaffold.
    """
    if maps.kind != "learned":
        raise ValueError(f"maps: expected a KeyMaps of kind 'learned', got kind {maps.kind!r}")
    _check_int("steps", steps)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(maps.parameters(), lr=lr)
    target = torch.arange(n_items, device=images.device).repeat(n_episodes)   # (B*N,)
    losses = []
    for _ in progress_bar(range(steps), enabled=progress, desc="learning keys"):
        ep = make_episodes(images, table, n_episodes, n_items, True, keep, noise, g)
        S, _ = attend(maps.queries(ep.cues), maps.keys(ep.x))                 # (B, N, N)
        loss = F.cross_entropy(S.reshape(-1, n_items), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def key_similarity(K: torch.Tensor) -> torch.Tensor:
    """Cosine similarity between every pair of keys: ``(N, d) -> (N, N)``.

    Explained in Chapter 2, §Learned keys separate what the inputs confuse.
    """
    if K.dim() != 2:
        raise ValueError(f"K: expected (N, d) keys, got shape {tuple(K.shape)}")
    Kn = F.normalize(K, dim=-1)
    return Kn @ Kn.T


def mean_offdiagonal(S: torch.Tensor) -> float:
    """Mean of the off-diagonal entries of a square matrix.

    Explained in Chapter 2, §Learned keys separate what the inputs confuse.
    """
    if S.dim() != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"S: expected a square matrix, got shape {tuple(S.shape)}")
    n = S.shape[0]
    return float((S.sum() - S.diagonal().sum()) / (n * (n - 1)))


def compare_scaffolds(device: str | torch.device = "cpu", *, n_items: int = 32,
                      keep: float = 0.5, noise: float = 0.3, d_key: int = 49,
                      train_steps: int = 400, lr: float = 3e-3, n_test_episodes: int = 200,
                      seed: int = 0,
                      progress: bool = False) -> dict:
    """Chapter 2's first experiment, end to end, on MNIST.

    Trains the learned maps on training-set digits, then tests every scaffold on new
    test-set digits, with look-alike episodes (one class each) and mixed episodes.
    Returns ``{"accuracy": {kind: acc}, "accuracy_mixed": {kind: acc}, "maps": {kind: KeyMaps},
    "loss": [...], "similarity": {name: (N, N)}, "offdiag": {name: float}, "example": (N, 784),
    "example_cues": (N, 784), "untrained": KeyMaps}`` (the example is one look-alike test
    episode). Explained in Chapter 2, §Accuracy of each scaffold.
    """
    from kvlib.data import load_classes
    device = torch.device(device)
    digits = list(range(10))
    x_tr, y_tr = load_classes("mnist", digits, train=True, device=device)
    x_te, y_te = load_classes("mnist", digits, train=False, device=device)
    t_tr, t_te = class_table(y_tr.cpu()).to(device), class_table(y_te.cpu()).to(device)
    maps = {k: make_keymaps(k, d_key, seed, device) for k in SCAFFOLDS}
    untrained = make_keymaps("learned", d_key, seed, device)
    loss = train_learned_keys(maps["learned"], x_tr, t_tr, steps=train_steps, n_items=n_items,
                              keep=keep, noise=noise, lr=lr, seed=seed + 1, progress=progress)
    out = {"accuracy": {}, "accuracy_mixed": {}}
    for name, correlated in (("accuracy", True), ("accuracy_mixed", False)):
        g = torch.Generator().manual_seed(seed + 2)
        ep = make_episodes(x_te, t_te, n_test_episodes, n_items, correlated, keep, noise, g)
        for k, m in maps.items():
            out[name][k] = retrieval_accuracy(m, ep)
    # key geometry of one look-alike test episode (sorted by nothing: items as drawn)
    g = torch.Generator().manual_seed(seed + 3)
    ex = make_episodes(x_te, t_te, 1, n_items, True, keep, noise, g)
    example, example_cues = ex.x[0], ex.cues[0]                                # (N, 784) each
    with torch.no_grad():
        sims = {"inputs (autoassociative keys)": key_similarity(example),
                "random keys": key_similarity(maps["random"].keys(example)),
                "index keys": key_similarity(maps["index"].keys(example)),
                "learned keys, before": key_similarity(untrained.keys(example)),
                "learned keys, after": key_similarity(maps["learned"].keys(example))}
    out.update(maps=maps, untrained=untrained, loss=loss, similarity=sims, example=example,
               example_cues=example_cues,
               offdiag={k: mean_offdiagonal(v) for k, v in sims.items()})
    return out


# =====================================================================================
# Part 2: a drifting temporal context as the key, and free recall (temporal contiguity)
# =====================================================================================

def drifting_context(n_lists: int, length: int, dim: int, drift: float,
                     generator: torch.Generator, device: str | torch.device = "cpu"
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Study ``n_lists`` lists: item inputs ``f`` and the context ``c_t`` each item is stored under.

    The context drifts as ``c_t = rho c_{t-1} + drift f_t`` with ``rho = sqrt(1 - drift^2)``
    (after the temporal context model, Howard & Kahana 2002; constant ``rho`` is our
    simplification, and each ``c_t`` is normalised to unit length afterwards). The
    recurrence is unrolled into one matrix product, ``C = D F + rho^t c_0`` with the
    lower-triangular drift kernel ``D_ts = drift rho^(t-s)``.
    ``drift = 0``: the context never moves (every item shares one address); ``drift = 1``:
    a fresh random context per item (no temporal imprint).

    Returns ``(keys, items)``, both ``(B, T, dim)`` with unit rows. Explained in Chapter 2,
    §Addresses that drift in time.
    """
    _check_int("n_lists", n_lists)
    _check_int("length", length, 2)
    _check_int("dim", dim)
    drift = _check_prob("drift", drift)
    rho = math.sqrt(1.0 - drift ** 2)
    f = F.normalize(torch.randn(n_lists, length, dim, generator=generator), dim=-1)   # (B, T, d)
    c0 = F.normalize(torch.randn(n_lists, 1, dim, generator=generator), dim=-1)       # (B, 1, d)
    t = torch.arange(length, dtype=torch.float64)
    lag = t[:, None] - t[None, :]                                                     # (T, T)
    D = torch.where(lag >= 0, drift * rho ** lag.clamp(min=0), torch.zeros(()))      # (T, T)
    start = (rho ** (t + 1))[None, :, None]                                           # (1, T, 1)
    C = torch.einsum("ts,bsd->btd", D.float(), f) + start.float() * c0                # (B, T, d)
    return F.normalize(C, dim=-1).to(device), f.to(device)


def free_recall(keys: torch.Tensor, items: torch.Tensor, drift: float, n_recalls: int,
                generator: torch.Generator, sensitivity: float = 20.0,
                reinstate: float = 0.5) -> torch.Tensor:
    """Free recall from a context-addressed memory; returns recalled list positions ``(B, R)``.

    The cue starts as the end-of-list context. At each output the memory is read with the
    cue as the query: scores ``cue . k_t``, a softmax with ``sensitivity`` over the items
    not yet recalled (a Luce choice), and one item is drawn (Gumbel-max, noise from the
    CPU ``generator``). The recalled item then brings back context: a mixture
    ``reinstate * k_j + (1 - reinstate) * f_j`` of its study context and its own input is
    folded into the cue with the same drift rule as at study. (The loop over outputs is
    the point: each recall depends on the last; it is vectorised over lists.)
    Explained in Chapter 2, §Free recall and temporal contiguity.
    """
    if keys.shape != items.shape or keys.dim() != 3:
        raise ValueError(f"keys, items: expected two (B, T, d) tensors of one shape, got "
                         f"{tuple(keys.shape)} and {tuple(items.shape)}")
    B, T, _ = keys.shape
    _check_int("n_recalls", n_recalls)
    if n_recalls > T:
        raise ValueError(f"n_recalls: expected at most the list length {T}, got {n_recalls}")
    drift = _check_prob("drift", drift)
    reinstate = _check_prob("reinstate", reinstate)
    if not isinstance(sensitivity, (int, float)) or sensitivity < 0:
        raise ValueError(f"sensitivity: expected a number >= 0, got {sensitivity!r}")
    rho = math.sqrt(1.0 - drift ** 2)
    cue = keys[:, -1]                                                  # (B, d) end-of-list context
    recalled = torch.zeros(B, T, dtype=torch.bool, device=keys.device)
    order = []
    rows = torch.arange(B, device=keys.device)
    for _ in range(n_recalls):
        scores = sensitivity * torch.einsum("bd,btd->bt", cue, keys)  # (B, T)
        scores = scores.masked_fill(recalled, float("-inf"))
        u = torch.rand(B, T, generator=generator).clamp_(1e-12, 1 - 1e-12).to(keys.device)
        j = (scores - torch.log(-torch.log(u))).argmax(-1)            # Gumbel-max draw, (B,)
        order.append(j)
        recalled[rows, j] = True
        back = F.normalize(reinstate * keys[rows, j] + (1 - reinstate) * items[rows, j], dim=-1)
        cue = F.normalize(rho * cue + drift * back, dim=-1)
    return torch.stack(order, dim=1)                                   # (B, R)


def crp_by_lag(order: torch.Tensor, length: int, max_lag: int | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Conditional response probability by lag (Kahana 1996) from recall orders ``(B, R)``.

    For each transition from position ``i`` to ``j``, the lag ``j - i`` is counted as made,
    and every lag to a position not yet recalled is counted as possible; CRP = made /
    possible. Returns ``(lags, crp)`` for lags ``-max_lag..max_lag`` (``crp`` is NaN at
    lag 0 and where a lag was never possible).
    Explained in Chapter 2, §Free recall and temporal contiguity.
    """
    if order.dim() != 2 or order.shape[1] < 2:
        raise ValueError(f"order: expected (B, R) recall orders with R >= 2, got {tuple(order.shape)}")
    _check_int("length", length, 2)
    max_lag = length - 1 if max_lag is None else _check_int("max_lag", max_lag)
    B, R = order.shape
    onehot = F.one_hot(order, length).float()                          # (B, R, T)
    done = onehot.cumsum(1).clamp(max=1)                               # recalled by output r
    avail = 1.0 - done[:, :-1]                                         # (B, R-1, T) before output r+1
    src = order[:, :-1]                                                # (B, R-1) from position i
    pos = torch.arange(length, device=order.device)
    lag_all = pos[None, None, :] - src[..., None] + (length - 1)       # (B, R-1, T) shifted lags
    possible = torch.zeros(2 * length - 1, device=order.device).index_add_(
        0, lag_all.reshape(-1), avail.reshape(-1))
    made_lag = (order[:, 1:] - src + (length - 1)).reshape(-1)
    made = torch.zeros(2 * length - 1, device=order.device).index_add_(
        0, made_lag, torch.ones_like(made_lag, dtype=torch.float))
    crp = made / possible                                              # NaN where possible == 0
    crp[length - 1] = float("nan")
    lags = torch.arange(-(length - 1), length, device=order.device)
    keep = lags.abs() <= max_lag
    return lags[keep], crp[keep]


def temporal_contiguity(drift: float = 0.5, *, n_lists: int = 2000, length: int = 16,
                        dim: int = 64, n_recalls: int = 8, sensitivity: float = 10.0,
                        reinstate: float = 0.3, max_lag: int = 5, seed: int = 0,
                        device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Study lists under a drifting context, free-recall them, return ``(lags, crp)``.

    Explained in Chapter 2, §Free recall and temporal contiguity.

    >>> lags, crp = temporal_contiguity(0.5, n_lists=500)
    >>> int(lags[crp.nan_to_num(-1).argmax()])
    1
    """
    g = torch.Generator().manual_seed(seed)
    keys, items = drifting_context(n_lists, length, dim, drift, g, device)
    order = free_recall(keys, items, drift, n_recalls, g, sensitivity, reinstate)
    return crp_by_lag(order, length, max_lag)
