"""TEM's memory step: a Hebbian attractor memory addressed by a path-integrated structural code.

Explained in Chapter 4, §4.3 (``book/04_substrates.ipynb``).

Whittington et al. 2020 (the Tolman-Eichenbaum machine); the code followed is
``jbakermans/torch_tem``, ``model.py``. A structural code ``g`` (medial entorhinal) is updated
by the animal's own actions; hippocampal cells are conjunctions ``p = f_p(flatten(g ⊗ x))`` of
``g`` with the compressed sensory code ``x`` (TEM's ``inf_p``, ``g2g_``, ``x2x_``); an
autoassociative memory stores them with TEM's Hebbian rule
``M ← clip(λM + η(p + p̂)ᵀ(p − p̂), −1, 1)``, where ``p̂`` is what the memory retrieves from
``g`` alone (``hebbian``); retrieval runs TEM's attractor ``h ← f_p(κh + hM)`` from the query
``g ⊗ 1`` (``attractor``), with ``f_p = leaky_relu(clip(·, −1, 1))``; the observation is read
by summing ``p`` over the structural cells (``f_x``'s ``W_tileᵀ``). Parameters as in TEM's
``parameters.py``: λ = 0.9999, η = 0.5, κ = 0.8, 45 observations compressed to two-hot codes
over 10 cells.

*The book's simplifications: ``g`` is hand-coded (grid modules on a torus, moved by one
permutation per action), not learned (TEM's training takes hours), and it is given by path
integration alone (TEM also infers it from memory); one frequency module, no temporal
filtering of ``x`` and a weight of 1 on it (TEM learns σ(w_p)), five attractor steps without
TEM's hierarchical early stopping; the observation is decoded as the nearest two-hot code
instead of TEM's learned decompression network.*

Row vectors throughout; axis names: T steps, B environments (TEM's batch), n_g structural cells,
n_x sensory cells, n_p = n_g·n_x conjunctive cells.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import torch

from kvlib import _checks as check
from kvlib.device import cpu_threads

__all__ = ["ACTIONS", "Torus", "random_walk", "two_hot_codes", "TEMMemory", "tem_walk", "tem_experiment"]

#: Moves on the torus: +x, −x, +y, −y (Chapter 4, §4.3).
ACTIONS = torch.tensor([[1, 0], [-1, 0], [0, 1], [0, -1]])


class Torus:
    """An L × L torus with a hand-coded, grid-like structural code that path-integrates exactly.

    The code of place r = (x, y) is ``g(r) = a·[cos θ_k(r), sin θ_k(r)]_k`` with
    ``θ_k(r) = 2π k·r / L`` over wave vectors k of the torus (one of each pair ±k, up to
    ``max_frequency`` cycles per side; all of them by default), amplitude ``a``: plane waves at
    several spatial frequencies and orientations, the Fourier modes that grid cells and TEM's
    learned g resemble. A step by action a rotates each (cos, sin) pair by ``2π k·Δ_a / L``:
    ``g_{t+1} = g_t T_a`` with one orthogonal matrix per action (the book's stand-in for TEM's
    learned, action-dependent transition ``f_mu_g_path``). Components that vanish everywhere
    (sin of a wave vector equal to its own negative) are dropped.
    Explained in Chapter 4, §4.3.

    >>> tor = Torus(6); tor.n_places, tor.n_g
    (36, 35)
    """

    def __init__(self, size: int = 6, max_frequency: float | None = None, amplitude: float = 0.1,
                 device: str | torch.device = "cpu"):
        L = check.count("size", size, minimum=2)
        if L > 64:
            raise ValueError(f"size: expected at most 64 places per side (the code has L² cells), got {L}")
        amplitude = check.positive("amplitude", amplitude)
        if max_frequency is not None:
            max_frequency = check.positive("max_frequency", max_frequency)
        self.size, self.n_places, self.amplitude = L, L * L, float(amplitude)
        if device is None:
            raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
        self.device = check.device("device", device)
        ks = []
        for kx in range(L):                                   # one of each ±k pair, by frequency
            for ky in range(L):
                if (kx, ky) == (0, 0) or ((-kx) % L, (-ky) % L) < (kx, ky):
                    continue
                if max_frequency is None or math.hypot(min(kx, L - kx), min(ky, L - ky)) <= max_frequency:
                    ks.append((kx, ky))
        if not ks:
            raise ValueError(f"max_frequency: expected at least one wave vector, got {max_frequency!r}")
        self.wave_vectors = torch.tensor(ks, dtype=torch.float64)          # (K, 2)
        xy = torch.tensor([(x, y) for x in range(L) for y in range(L)], dtype=torch.float64)   # row x·L + y
        theta = 2 * math.pi * xy @ self.wave_vectors.T / L                 # (L², K)
        full = torch.cat([torch.cos(theta), torch.sin(theta)], dim=1)     # (L², 2K): cos block, sin block
        self._keep = full.abs().amax(dim=0) > 1e-9                         # drop sin of self-conjugate k
        self.codebook = (amplitude * full[:, self._keep]).float().to(self.device)   # (L², n_g)
        self.n_g = self.codebook.shape[1]
        self.transitions = self._transitions()                # (4, n_g, n_g)

    def _transitions(self) -> torch.Tensor:
        K = self.wave_vectors.shape[0]
        mats = []
        for d in ACTIONS.tolist():                            # 4 actions
            phi = 2 * math.pi * self.wave_vectors @ torch.tensor(d, dtype=torch.float64) / self.size   # (K,)
            c, s = torch.cos(phi), torch.sin(phi)
            T = torch.zeros(2 * K, 2 * K, dtype=torch.float64)
            i = torch.arange(K)
            T[i, i], T[i, K + i] = c, s                      # [cos, sin] @ [[c, s], [−s, c]]
            T[K + i, i], T[K + i, K + i] = -s, c
            mats.append(T[self._keep][:, self._keep])
        return torch.stack(mats).float().to(self.device)

    def index(self, xy: torch.Tensor) -> torch.Tensor:
        """Place index ``x·L + y`` of integer positions (..., 2), wrapped onto the torus."""
        xy = check.tensor("xy", xy, dtype="int")
        if xy.ndim < 1 or xy.shape[-1] != 2:
            raise ValueError(f"xy: expected integer positions of shape (..., 2), got {tuple(xy.shape)}")
        xy = xy % self.size
        return xy[..., 0] * self.size + xy[..., 1]

    def code(self, xy: torch.Tensor) -> torch.Tensor:
        """Structural code of positions (B, 2) → (B, n_g)."""
        return self.codebook[self.index(xy).to(self.device)]

    def step(self, g: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Path integration, one step: ``g_{t+1} = g_t T_a`` for codes (B, n_g), actions (B,)."""
        g = check.tensor("g", g, shape=(None, self.n_g), like=self.transitions, like_name="the torus")
        actions = check.tensor("actions", actions, ndim=1, dtype="int")
        if actions.shape[0] != g.shape[0]:
            raise ValueError(f"actions: expected one action per row of g ({g.shape[0]}), got shape "
                             f"{tuple(actions.shape)}")
        if actions.numel() and not bool(((actions >= 0) & (actions < len(ACTIONS))).all()):
            raise ValueError(f"actions: expected indices in [0, {len(ACTIONS)}) (+x, −x, +y, −y)")
        return torch.bmm(g[:, None, :], self.transitions[actions.to(self.device)])[:, 0]


def random_walk(n_steps: int, n_walks: int = 1, start: Sequence[int] = (0, 0),
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random walks on the integer lattice: actions (n_walks, n_steps) and positions
    (n_walks, n_steps + 1, 2), starting at ``start`` (wrap them with :meth:`Torus.index`).

    Explained in Chapter 4, §4.3.
    """
    n_steps = check.count("n_steps", n_steps, minimum=0)
    n_walks = check.count("n_walks", n_walks, minimum=1)
    start = check.sequence("start", start, lambda k, v: check.number(k, v, integer=True))
    if len(start) != 2:
        raise ValueError(f"start: expected two coordinates (x, y), got {start!r}")
    check.generator("generator", generator)
    actions = torch.randint(0, 4, (n_walks, n_steps), generator=generator)
    moves = ACTIONS[actions]                                  # (n_walks, n_steps, 2)
    pos = torch.cat([torch.zeros(n_walks, 1, 2, dtype=torch.long), moves.cumsum(dim=1)], dim=1)
    return actions, pos + torch.tensor(start)


def two_hot_codes(n_obs: int = 45, n_cells: int = 10) -> torch.Tensor:
    """TEM's compressed sensory code (``two_hot_table``): a distinct two-hot vector over
    ``n_cells`` cells for each of ``n_obs`` observations, (n_obs, n_cells).

    TEM lists them in its own order; any order of distinct codes serves. Explained in Chapter 4, §4.3.

    >>> two_hot_codes(45, 10).sum(1).unique().tolist()
    [2.0]
    """
    n_obs = check.count("n_obs", n_obs, minimum=1)
    n_cells = check.count("n_cells", n_cells, minimum=2)
    if n_obs > math.comb(n_cells, 2):
        raise ValueError(f"n_obs: expected at most C({n_cells}, 2) = {math.comb(n_cells, 2)} observations, "
                         f"got {n_obs}")
    pairs = list(combinations(range(n_cells), 2))[:n_obs]
    codes = torch.zeros(n_obs, n_cells)
    for o, (i, j) in enumerate(pairs):                        # a small table, built once
        codes[o, [i, j]] = 1.0
    return codes


class TEMMemory:
    """TEM's Hebbian attractor memory over conjunctive cells ``p = g ⊗ x``, one per environment.

    ``M`` (B, n_p, n_p) with ``n_p = n_g·n_x``, ``p`` flattened g-major (TEM's ``W_repeat`` and
    ``W_tile``). Methods follow ``torch_tem/model.py``: :meth:`f_p`, :meth:`conjunction`
    (``inf_p``), :meth:`query` (``g2g_``), :meth:`attractor`, :meth:`hebbian`, :meth:`read_x`
    (``f_x`` before its decompression network). Explained in Chapter 4, §4.3.
    """

    def __init__(self, n_g: int, n_x: int, batch: int = 1, lam: float = 0.9999, eta: float = 0.5,
                 kappa: float = 0.8, n_iter: int = 5, device: str | torch.device = "cpu"):
        self.n_g, self.n_x = check.count("n_g", n_g, minimum=1), check.count("n_x", n_x, minimum=1)
        self.lam = check.number("lam", lam, low=0.0, high=1.0)          # a decay: at most 1
        self.eta = check.number("eta", eta, low=0.0)
        self.kappa = check.number("kappa", kappa, low=0.0)
        self.n_iter = check.count("n_iter", n_iter, minimum=1)
        n_p = self.n_g * self.n_x
        if n_p > 20_000:
            raise ValueError(f"n_g: n_g·n_x = {n_p} conjunctive cells need an (n_p, n_p) memory per "
                             f"environment; expected at most 20000")
        if device is None:
            raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
        self.M = torch.zeros(check.count("batch", batch, minimum=1), n_p, n_p,
                             device=check.device("device", device))

    @staticmethod
    def f_p(p: torch.Tensor) -> torch.Tensor:
        """TEM's hippocampal activation: ``leaky_relu(clip(p, −1, 1))`` (slope 0.01)."""
        p = check.tensor("p", p)
        return torch.nn.functional.leaky_relu(p.clamp(-1.0, 1.0))

    @staticmethod
    def prepare_x(x: torch.Tensor) -> torch.Tensor:
        """TEM's ``f_n``: ``normalise(relu(x − mean(x)))`` of compressed codes (B, n_x)."""
        x = check.tensor("x", x, ndim=2, nonempty=True)
        return torch.nn.functional.normalize(torch.relu(x - x.mean(dim=-1, keepdim=True)), dim=-1)

    def conjunction(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``p = f_p(flatten(g ⊗ x))`` for structural codes (B, n_g) and prepared sensory codes (B, n_x)."""
        g = check.tensor("g", g, shape=(None, self.n_g), like=self.M, like_name="the memory")
        x = check.tensor("x", x, shape=(None, self.n_x), like=self.M, like_name="the memory")
        if x.shape[0] != g.shape[0]:
            raise ValueError(f"x: expected one row per row of g ({g.shape[0]}), got shape {tuple(x.shape)}")
        return self.f_p((g[:, :, None] * x[:, None, :]).reshape(g.shape[0], -1))   # (B, n_g·n_x)

    def query(self, g: torch.Tensor) -> torch.Tensor:
        """The memory index from ``g`` alone, ``g ⊗ 1`` (TEM's ``g2g_`` with ``W_repeat``): (B, n_p)."""
        g = check.tensor("g", g, shape=(None, self.n_g), like=self.M, like_name="the memory")
        return g.repeat_interleave(self.n_x, dim=1)

    def attractor(self, h: torch.Tensor) -> torch.Tensor:
        """Pattern completion: ``h ← f_p(h)``, then ``n_iter`` times ``h ← f_p(κh + hM)``: (B, n_p)."""
        h = self.f_p(check.tensor("h", h, shape=self.M.shape[:2], like=self.M, like_name="the memory"))
        for _ in range(self.n_iter):                          # the attractor's iterations
            h = self.f_p(self.kappa * h + torch.bmm(h[:, None, :], self.M)[:, 0])
        return h

    def hebbian(self, p: torch.Tensor, p_hat: torch.Tensor) -> None:
        """TEM's update ``M ← clip(λM + η(p + p̂)ᵀ(p − p̂), −1, 1)`` (row vectors), in place."""
        p = check.tensor("p", p, shape=self.M.shape[:2], like=self.M, like_name="the memory")
        p_hat = check.tensor("p_hat", p_hat, shape=self.M.shape[:2], like=self.M, like_name="the memory")
        new = (p + p_hat)[:, :, None] * (p - p_hat)[:, None, :]   # (B, n_p, n_p)
        self.M = (self.lam * self.M + self.eta * new).clamp_(-1.0, 1.0)

    def read_x(self, p: torch.Tensor) -> torch.Tensor:
        """Sum ``p`` over the structural cells for each sensory cell (``p W_tileᵀ``): (B, n_p) → (B, n_x)."""
        p = check.tensor("p", p, shape=(None, self.n_g * self.n_x))
        return p.reshape(p.shape[0], self.n_g, self.n_x).sum(dim=1)


def tem_walk(torus: Torus, n_steps: int = 400, n_envs: int = 8, n_obs: int = 45, n_x: int = 10,
             generator: torch.Generator | None = None, **memory) -> dict:
    """TEM's test: walk each of ``n_envs`` environments once and predict every observation
    before seeing it.

    Each environment gives each place one of ``n_obs`` observations at random. At every step
    the TEM agent path-integrates ``g``, retrieves ``p̂`` from ``g ⊗ 1`` by the attractor,
    predicts the observation whose two-hot code is nearest to ``read_x(p̂)``, then sees the
    observation and stores ``p`` with the Hebbian rule (``p̂`` from before the update, as in
    TEM). Two reference agents (TEM's Fig 3 comparison): a **node agent** that knows which place
    it is at and remembers what each visited place showed, and an **edge agent** that
    remembers only what lay at the end of each (place, action) it has taken; both guess at
    random otherwise. ``memory`` passes TEM's parameters to :class:`TEMMemory`.

    Returns per step t = 1…n_steps (shape (n_envs, n_steps)): ``"tem"``, ``"node"``,
    ``"edge"`` (prediction correct), ``"visited"`` (the place was seen before), ``"new_edge"``
    (reached by a (place, action) never taken before), ``"fraction_visited"`` (of all places,
    before the step). Explained in Chapter 4, §4.3.
    """
    if not isinstance(torus, Torus):
        raise TypeError(f"torus: expected a Torus, got {type(torus).__name__}")
    n_steps = check.count("n_steps", n_steps, minimum=1)
    B = check.count("n_envs", n_envs, minimum=1)
    n_obs, n_x = check.count("n_obs", n_obs, minimum=1), check.count("n_x", n_x, minimum=2)
    if n_obs > math.comb(n_x, 2):
        raise ValueError(f"n_obs: expected at most C(n_x, 2) = {math.comb(n_x, 2)} observations for "
                         f"n_x = {n_x} sensory cells, got {n_obs}")
    check.generator("generator", generator)
    dev = torus.device
    codes = two_hot_codes(n_obs, n_x).to(dev)                 # (n_obs, n_x)
    x_all = TEMMemory.prepare_x(codes)                        # prepared codes, (n_obs, n_x)
    world = torch.randint(0, n_obs, (B, torus.n_places), generator=generator)   # place → observation
    acts, pos = random_walk(n_steps, B, generator=generator)
    places = torus.index(pos)                                 # (B, T + 1)
    obs = torch.gather(world, 1, places)                      # (B, T + 1)
    guess = torch.randint(0, n_obs, (3, B, n_steps), generator=generator)
    mem = TEMMemory(torus.n_g, n_x, batch=B, device=dev, **memory)
    rows = torch.arange(B)
    seen = torch.zeros(B, torus.n_places, dtype=torch.bool)
    edges = torch.zeros(B, torus.n_places, 4, dtype=torch.bool)
    node_mem = torch.full((B, torus.n_places), -1, dtype=torch.long)
    out = {k: torch.zeros(B, n_steps, dtype=torch.bool)
           for k in ("tem", "node", "edge", "visited", "new_edge")}
    frac = torch.zeros(B, n_steps)
    g = torus.code(pos[:, 0])
    with cpu_threads(1 if dev.type == "cpu" else None):       # many small steps: one thread is faster
        for t in range(n_steps + 1):                          # the walk is sequential in time
            here, o = places[:, t], obs[:, t]
            p_hat = mem.attractor(mem.query(g))               # generated from g alone
            if t > 0:
                prev, a = places[:, t - 1], acts[:, t - 1]
                scores = mem.read_x(p_hat) @ x_all.T          # (B, n_obs)
                tem = torch.where(scores.abs().sum(1).cpu() > 0, scores.argmax(1).cpu(), guess[0, :, t - 1])
                visited = seen[rows, here]
                known_edge = edges[rows, prev, a]
                node = torch.where(visited, node_mem[rows, here], guess[1, :, t - 1])
                edge = torch.where(known_edge, node_mem[rows, here], guess[2, :, t - 1])
                for k, v in (("tem", tem == o), ("node", node == o), ("edge", edge == o),
                             ("visited", visited), ("new_edge", ~known_edge)):
                    out[k][:, t - 1] = v
                frac[:, t - 1] = seen.float().mean(dim=1)
                edges[rows, prev, a] = True
            p = mem.conjunction(g, x_all[o.to(dev)])          # inferred p from g and what is seen
            mem.hebbian(p, p_hat)
            seen[rows, here] = True
            node_mem[rows, here] = o
            if t < n_steps:
                g = torus.step(g, acts[:, t])                 # path integration
    return {**{k: v for k, v in out.items()}, "fraction_visited": frac}


def _mean(correct: torch.Tensor, where: torch.Tensor) -> float | None:
    """Fraction of correct predictions over the selected steps; ``None`` if there are none."""
    return float(correct[where].float().mean()) if bool(where.any()) else None


def tem_experiment(torus: Torus | None = None, n_steps: int = 400, n_envs: int = 8,
                   bins: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0), seed: int = 0,
                   device: str | torch.device = "cpu", **kwargs) -> dict:
    """:func:`tem_walk` summarised against the fraction of the environment visited.

    Returns ``{"bin_centres", "accuracy": {agent: [...]}, "zero_shot": {agent: [...]}
    (accuracy on returns to a visited place by a (place, action) never taken before),
    "n_zero_shot", "zero_shot_total": {agent: float}, "revisit_total": {agent: float}}`` for
    the agents ``tem``, ``node``, ``edge``. Bins are fractions of places visited before the
    step; a bin (or total) without steps is ``None``. ``kwargs``: settings of :func:`tem_walk` and
    :class:`TEMMemory`. Explained in Chapter 4, §4.3.
    """
    if device is None:
        raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
    dev = check.device("device", device)
    torus = Torus(device=dev) if torus is None else torus
    cuts = check.sequence("bins", bins, check.probability)
    if len(cuts) < 2 or cuts != sorted(set(cuts)):
        raise ValueError(f"bins: expected at least two increasing fractions in [0, 1], got {bins!r}")
    res = tem_walk(torus, n_steps, n_envs, generator=torch.Generator().manual_seed(check.seed("seed", seed)),
                   **kwargs)
    f = res["fraction_visited"]
    zero = res["visited"] & res["new_edge"]
    edges_ = torch.tensor(cuts)
    acc = {a: [] for a in ("tem", "node", "edge")}
    zs = {a: [] for a in ("tem", "node", "edge")}
    n_zs, centres = [], []
    for lo, hi in zip(edges_[:-1], edges_[1:]):
        sel = (f >= lo) & ((f < hi) if hi < 1 else (f <= hi))
        centres.append(float((lo + hi) / 2))
        n_zs.append(int((sel & zero).sum()))
        for a in acc:
            acc[a].append(_mean(res[a], sel))
            zs[a].append(_mean(res[a], sel & zero))
    return {"bin_centres": centres, "bins": cuts, "accuracy": acc, "zero_shot": zs, "n_zero_shot": n_zs,
            "zero_shot_total": {a: _mean(res[a], zero) for a in acc},
            "revisit_total": {a: _mean(res[a], res["visited"]) for a in acc},
            "first_visit_total": {a: _mean(res[a], ~res["visited"]) for a in acc},
            "n_steps": n_steps, "n_envs": n_envs, "chance": 1 / kwargs.get("n_obs", 45)}
