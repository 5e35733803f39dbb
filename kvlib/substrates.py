"""Two sketches of key-value memory in neural tissue (§3 of the review).

Explained in Chapter 4, §TEM as key-value memory and §Astrocytes compute attention
(``book/04_substrates.ipynb``). Both are deliberately small, hand-built versions of the
ideas, not re-implementations of the published models.

1. **TEM-like structural memory** (after Whittington et al. 2020, 2022). A structural code
   for places on a small torus, built from grid modules and updated by path integration
   (``g_{t+1} = g_t T_a``, one permutation matrix per action, like TEM's action-dependent
   transitions), addresses a Hebbian memory: hippocampal cells are conjunctions of the grid
   modules (``p = g₁ ⊗ g₂ ⊗ …``, one cell per place) and their synapses onto sensory cells
   are strengthened when both fire (``M += pᵀs``). Because the address is computed from the
   path, a place reached by a route never taken before still finds what was seen there.
   *Not in TEM: the structural code is hand-built, not learned, and memory retrieval is a
   single read-out rather than attractor dynamics.*

2. **Neuron-astrocyte attention** (after Kozachkov, Kastanenka & Krotov 2023). Hidden neurons
   carry feature maps ``φ`` of keys and queries; Hebbian hidden→output synapses store
   ``H = Σ φ(k_t)ᵀ v_t``. Each astrocyte process wraps the output synapses of one hidden
   neuron, keeps a trace ``z_i = Σ_t φ(k_t)_i`` of that neuron's activity while memories are
   written, and when a query arrives responds linearly to the neuron's activity,
   ``a_i = z_i φ(q)_i``. Summed over processes this is the total key-query similarity
   ``Σ_t φ(q)·φ(k_t)``, and the astrocyte scales every hidden→output synapse by its inverse.
   The output is exactly attention with kernel ``φ(q)·φ(k)``; with positive random features
   (Choromanski et al. 2021) that kernel approximates the softmax kernel ``exp(q·k)``.
   *A simplified reading of the published model: one astrocyte, no dynamics.*

Row vectors throughout; axis names: T memories (time steps), B queries, m features.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from kvlib.scaffold import _check_periods, _check_pos_int, grid_codebook

__all__ = [
    "ACTIONS", "Torus", "random_walk", "ConjunctiveMemory", "tem_trial", "tem_experiment",
    "draw_features", "positive_random_features", "softmax_attention", "kernel_attention",
    "NeuronAstrocyteNetwork", "astrocyte_error_curve",
]

#: Moves on the torus: +x, −x, +y, −y (Chapter 4, §TEM as key-value memory).
ACTIONS = torch.tensor([[1, 0], [-1, 0], [0, 1], [0, -1]])


# =========================================================================== 1. TEM-like sketch
class Torus:
    """An L × L torus with a grid-module structural code (L = product of co-prime periods).

    ``code(xy)`` gives the structural code of positions (B, 2) → (B, Σλ²); ``step(g, a)``
    path-integrates codes (B, Σλ²) by actions (B,) with one permutation matrix per action;
    ``place_code(g)`` forms the conjunctive hippocampal code (B, L²).
    Explained in Chapter 4, §TEM as key-value memory.

    >>> tor = Torus((3, 4)); tor.size, tor.n_places
    (12, 144)
    """

    def __init__(self, periods: Sequence[int] = (3, 4), device: str | torch.device = "cpu"):
        ps = _check_periods(periods)
        for i in range(len(ps)):
            for j in range(i + 1, len(ps)):
                if math.gcd(ps[i], ps[j]) != 1:
                    raise ValueError(f"periods: expected pairwise co-prime periods, got {periods!r}")
        self.periods = ps
        self.size = math.prod(ps)
        self.n_places = self.size ** 2
        self.device = torch.device(device)
        self.codebook = grid_codebook(ps, device=device)      # (L², n_g), row x·L + y
        self.transitions = self._transitions()                # (4, n_g, n_g)

    def _transitions(self) -> torch.Tensor:
        mats = []
        for dx, dy in ACTIONS.tolist():                       # 4 actions
            blocks = []
            for lam in self.periods:                          # one shift per module
                i, j = torch.meshgrid(torch.arange(lam), torch.arange(lam), indexing="ij")
                src = (i * lam + j).reshape(-1)
                dst = (((i + dx) % lam) * lam + (j + dy) % lam).reshape(-1)
                T = torch.zeros(lam * lam, lam * lam)
                T[src, dst] = 1.0                             # g_next[dst] = g[src]
                blocks.append(T)
            mats.append(torch.block_diag(*blocks))
        return torch.stack(mats).to(self.device)

    def index(self, xy: torch.Tensor) -> torch.Tensor:
        """Place index ``x·L + y`` of positions (B, 2), wrapped onto the torus."""
        xy = xy % self.size
        return xy[..., 0] * self.size + xy[..., 1]

    def code(self, xy: torch.Tensor) -> torch.Tensor:
        """Structural (grid) code of positions (B, 2) → (B, n_g)."""
        return self.codebook[self.index(xy.to(self.device))]

    def step(self, g: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Path integration, one step: ``g_{t+1} = g_t T_a`` for codes (B, n_g), actions (B,)."""
        return torch.bmm(g[:, None, :], self.transitions[actions.to(self.device)])[:, 0]

    def place_code(self, g: torch.Tensor) -> torch.Tensor:
        """Conjunctive hippocampal code: outer product of the module codes, flattened (B, L²)."""
        p = torch.ones(g.shape[0], 1, device=g.device, dtype=g.dtype)
        start = 0
        for lam in self.periods:                              # conjoin module by module
            block = g[:, start:start + lam * lam]
            p = (p[:, :, None] * block[:, None, :]).reshape(g.shape[0], -1)
            start += lam * lam
        return p


def random_walk(n_steps: int, n_walks: int = 1, start: Sequence[int] = (0, 0),
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random walks on the integer lattice: actions (n_walks, n_steps) and positions
    (n_walks, n_steps + 1, 2), starting at ``start`` (wrap them with :meth:`Torus.index`).

    Explained in Chapter 4, §TEM as key-value memory.
    """
    if not isinstance(n_steps, int) or isinstance(n_steps, bool) or n_steps < 0:
        raise ValueError(f"n_steps: expected an integer >= 0, got {n_steps!r}")
    _check_pos_int("n_walks", n_walks)
    actions = torch.randint(0, 4, (n_walks, n_steps), generator=generator)
    moves = ACTIONS[actions]                                  # (n_walks, n_steps, 2)
    pos = torch.cat([torch.zeros(n_walks, 1, 2, dtype=torch.long), moves.cumsum(dim=1)], dim=1)
    return actions, pos + torch.tensor(start)


class ConjunctiveMemory:
    """Hebbian memory binding hippocampal (conjunctive) codes to sensory codes: ``M += pᵀs``.

    Explained in Chapter 4, §TEM as key-value memory.
    """

    def __init__(self, n_hippocampal: int, n_sensory: int, device: str | torch.device = "cpu"):
        self.M = torch.zeros(_check_pos_int("n_hippocampal", n_hippocampal),
                             _check_pos_int("n_sensory", n_sensory), device=device)

    def store(self, p: torch.Tensor, s: torch.Tensor) -> None:
        """Add the conjunctions of hippocampal codes (T, n_h) and sensory codes (T, n_s), Eq 1."""
        if p.shape[0] != s.shape[0]:
            raise ValueError(f"s: expected {p.shape[0]} rows to match p, got {s.shape[0]}")
        self.M += p.T @ s

    def recall(self, p: torch.Tensor) -> torch.Tensor:
        """Read-out ``p M`` for hippocampal codes (B, n_h) → (B, n_s)."""
        return p @ self.M


def tem_trial(torus: Torus, explore_steps: int, n_obs: int = 10, d_sensory: int = 20,
              route_length: int = 12, n_queries: int = 200, generator: torch.Generator | None = None,
              details: bool = False) -> dict:
    """One environment: explore, then answer "what is at the end of this new route?".

    The world assigns each place one of ``n_obs`` observations (random ±1 sensory codes). The
    agent walks ``explore_steps`` random steps from the origin, storing (place code, sensory
    code) at every visited position. It is then given ``n_queries`` fresh random routes of
    ``route_length`` steps from the origin and must name the observation at each end:

    - the **TEM-like** agent path-integrates its structural code along the route and reads the
      memory at the resulting address;
    - the **route** agent remembers only the transitions it made (place, action → place) and
      can follow a route only while it retraces them.

    Either agent guesses at random when it has nothing. Returns the fraction of places visited
    and, for each agent, the accuracy on all queries and on queries ending at visited places;
    with ``details=True`` also the walks, routes, answers and the step at which the route agent
    got lost (−1 if never), for drawing.
    Explained in Chapter 4, §TEM as key-value memory.
    """
    _check_pos_int("n_obs", n_obs)
    _check_pos_int("route_length", route_length)
    _check_pos_int("n_queries", n_queries)
    dev = torus.device
    obs = torch.randint(0, n_obs, (torus.n_places,), generator=generator)          # world: place → observation
    codes = (torch.randint(0, 2, (n_obs, _check_pos_int("d_sensory", d_sensory)), generator=generator)
             * 2 - 1).float().to(dev)                                               # (n_obs, d_s)
    acts, pos = random_walk(explore_steps, 1, generator=generator)
    places = torus.index(pos[0])                                                    # (T + 1,)
    visited = torch.zeros(torus.n_places, dtype=torch.bool)
    visited[places] = True

    # TEM-like agent: path integration during exploration, then Hebbian binding
    g = torus.code(pos[0, :1])
    g_path = [g]
    for a in acts[0]:                                          # path integration is sequential in time
        g = torus.step(g, a[None])
        g_path.append(g)
    mem = ConjunctiveMemory(torus.n_places, d_sensory, device=dev)
    mem.store(torus.place_code(torch.cat(g_path)), codes[obs[places]])

    # route agent: a table of experienced transitions, -1 where never taken
    table = torch.full((torus.n_places, 4), -1, dtype=torch.long)
    if explore_steps:
        table[places[:-1], acts[0]] = places[1:]

    q_acts, q_pos = random_walk(route_length, n_queries, generator=generator)
    target = obs[torus.index(q_pos[:, -1])]                                        # (B,)
    ends_visited = visited[torus.index(q_pos[:, -1])]
    g = torus.code(q_pos[:, 0])
    here = torus.index(q_pos[:, 0])
    lost_at = torch.full((n_queries,), -1, dtype=torch.long)
    for t in range(route_length):                             # both agents follow the route step by step
        g = torus.step(g, q_acts[:, t])
        nxt = table[here.clamp_min(0), q_acts[:, t]]
        lost_at = torch.where((here >= 0) & (nxt < 0), torch.tensor(t), lost_at)
        here = torch.where(here >= 0, nxt, here)              # -1 once lost
    guess = torch.randint(0, n_obs, (2, n_queries), generator=generator)
    read = mem.recall(torus.place_code(g))                    # (B, d_s)
    tem = torch.where(read.abs().sum(1).cpu() > 0, (read @ codes.T).argmax(1).cpu(), guess[0])
    route = torch.where(here >= 0, obs[here.clamp_min(0)], guess[1])
    out = {"fraction_visited": float(visited.float().mean()),
           "ends_visited": float(ends_visited.float().mean())}
    for name, pred in (("tem", tem), ("route", route)):
        hit = (pred == target).float()
        out[name] = float(hit.mean())
        out[name + "_visited"] = float(hit[ends_visited].mean()) if bool(ends_visited.any()) else float("nan")
    if details:
        out.update(explore=pos[0], visited=visited, routes=q_pos, target=target, visited_end=ends_visited,
                   tem_answer=tem, route_answer=route, lost_at=lost_at, observations=obs)
    return out


def tem_experiment(explore_steps: Sequence[int] = (0, 10, 25, 50, 100, 150, 200, 300, 400, 600, 800),
                   periods: Sequence[int] = (3, 4), n_obs: int = 10, route_length: int = 12,
                   n_queries: int = 200, seeds: Sequence[int] = (0, 1, 2, 3, 4),
                   device: str | torch.device = "cpu") -> dict:
    """:func:`tem_trial` over exploration lengths and seeds; means over seeds, as lists.

    Returns ``{"explore_steps", "fraction_visited", "ends_visited" (fraction of query routes
    ending at a visited place), "accuracy": {"tem", "route"}, "accuracy_visited": {"tem", "route"}}``. Explained in Chapter 4, §TEM as key-value memory.
    """
    torus = Torus(periods, device)
    rows = []
    for n in explore_steps:
        trials = [tem_trial(torus, n, n_obs=n_obs, route_length=route_length, n_queries=n_queries,
                            generator=torch.Generator().manual_seed(s)) for s in seeds]
        rows.append({k: sum(t[k] for t in trials) / len(trials) for k in trials[0]})
    return {"explore_steps": list(explore_steps),
            "fraction_visited": [r["fraction_visited"] for r in rows],
            "ends_visited": [r["ends_visited"] for r in rows],
            "accuracy": {a: [r[a] for r in rows] for a in ("tem", "route")},
            "accuracy_visited": {a: [r[a + "_visited"] for r in rows] for a in ("tem", "route")}}


# =========================================================================== 2. astrocytes
def draw_features(d: int, m: int, generator: torch.Generator | None = None,
                  device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Random projection ``ω`` (m, d), rows i.i.d. standard normal, for :func:`positive_random_features`.

    Explained in Chapter 4, §Astrocytes compute attention.
    """
    return torch.randn(_check_pos_int("m", m), _check_pos_int("d", d), generator=generator).to(device, dtype)


def positive_random_features(x: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """``φ(x) = exp(x ωᵀ − |x|²/2) / √m``, so that ``E[φ(q)·φ(k)] = exp(q·k)`` (Eq 6's kernel).

    ``x`` (B, d), ``omega`` (m, d) → (B, m), all entries positive (Choromanski et al. 2021).
    Explained in Chapter 4, §Astrocytes compute attention.
    """
    if x.ndim != 2 or x.shape[1] != omega.shape[1]:
        raise ValueError(f"x: expected shape (B, {omega.shape[1]}), got {tuple(x.shape)}")
    return torch.exp(x @ omega.T - 0.5 * (x * x).sum(dim=1, keepdim=True)) / math.sqrt(omega.shape[0])


def softmax_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """``softmax(β Q Kᵀ) V`` (Eqs 3, 6): (B, d), (T, d), (T, d_v) → (B, d_v).

    Explained in Chapter 4, §Astrocytes compute attention.
    """
    return torch.softmax(beta * Q @ K.T, dim=1) @ V


def kernel_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """Attention with kernel ``S(k, q) = φ(q)·φ(k)`` (Eqs 3–4), written out with its (B, T) weights.

    Explained in Chapter 4, §Astrocytes compute attention.
    """
    S = positive_random_features(Q, omega) @ positive_random_features(K, omega).T   # (B, T)
    return (S / S.sum(dim=1, keepdim=True)) @ V


class NeuronAstrocyteNetwork:
    """Hidden neurons φ, Hebbian hidden→output synapses, one astrocyte scaling them.

    Writing phase (:meth:`write`): synapses ``H = Σ_t φ(k_t)ᵀ v_t`` (m, d_v); astrocyte
    process traces ``z = Σ_t φ(k_t)`` (m,). Reading phase (:meth:`read`): hidden activity
    ``φ(q)``, process responses ``a = z ⊙ φ(q)`` (linear in the hidden activity), calcium
    ``c = Σ_i a_i`` (the summed key-query similarity), output ``φ(q) (H / c)``.
    Explained in Chapter 4, §Astrocytes compute attention.
    """

    def __init__(self, omega: torch.Tensor):
        self.omega = omega
        self.H: torch.Tensor | None = None
        self.z: torch.Tensor | None = None

    def write(self, K: torch.Tensor, V: torch.Tensor) -> None:
        """Store keys (T, d) and values (T, d_v)."""
        if K.shape[0] != V.shape[0]:
            raise ValueError(f"V: expected {K.shape[0]} rows to match K, got {V.shape[0]}")
        phi = positive_random_features(K, self.omega)         # (T, m) hidden activity per memory
        self.H = phi.T @ V.to(phi.dtype)                      # Hebbian synapses, (m, d_v)
        self.z = phi.sum(dim=0)                               # astrocyte process traces, (m,)

    def read(self, Q: torch.Tensor) -> dict[str, torch.Tensor]:
        """Queries (B, d) → ``{"hidden", "processes", "calcium", "output"}``."""
        if self.H is None:
            raise ValueError("read: write memories first")
        hidden = positive_random_features(Q, self.omega)      # (B, m)
        processes = hidden * self.z                           # (B, m), linear in hidden activity
        calcium = processes.sum(dim=1)                        # (B,), Σ_t S(k_t, q)
        output = hidden @ self.H / calcium[:, None]           # synapses scaled by 1/calcium
        return {"hidden": hidden, "processes": processes, "calcium": calcium, "output": output}


def astrocyte_error_curve(n_features: Sequence[int] = (16, 64, 256, 1024, 4096), d: int = 8,
                          n_memories: int = 32, n_queries: int = 16, seeds: Sequence[int] = (0, 1, 2),
                          device: str | torch.device = "cpu") -> dict:
    """How close the neuron-astrocyte output is to kernel and to softmax attention, vs features m.

    Keys and queries are Gaussian with variance 1/d (so ``q·k`` is of order 1). Returns
    ``{"n_features", "to_kernel": [max abs diff], "to_softmax": [mean relative error]}``,
    averaged over seeds, in float64 (on the CPU if ``device`` is Apple MPS). Explained in Chapter 4, §Astrocytes compute attention.
    """
    device = torch.device(device)
    if device.type == "mps":                                  # Apple MPS has no float64
        device = torch.device("cpu")
    to_kernel, to_softmax = [], []
    for m in n_features:
        dk, ds = 0.0, 0.0
        for seed in seeds:
            g = torch.Generator().manual_seed(seed)
            K = torch.randn(n_memories, d, generator=g, dtype=torch.float64).to(device) / math.sqrt(d)
            V = torch.randn(n_memories, d, generator=g, dtype=torch.float64).to(device)
            Q = torch.randn(n_queries, d, generator=g, dtype=torch.float64).to(device) / math.sqrt(d)
            omega = draw_features(d, m, g, device)
            net = NeuronAstrocyteNetwork(omega)
            net.write(K, V)
            y = net.read(Q)["output"]
            dk = max(dk, float((y - kernel_attention(Q, K, V, omega)).abs().max()))
            ref = softmax_attention(Q, K, V)
            ds += float(((y - ref).norm(dim=1) / ref.norm(dim=1)).mean()) / len(seeds)
        to_kernel.append(dk)
        to_softmax.append(ds)
    return {"n_features": list(n_features), "to_kernel": to_kernel, "to_softmax": to_softmax}
