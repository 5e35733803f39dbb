"""Structural codes as position encodings: one TEM memory, addressed by different codes of "where".

Explained in Chapter 4, §4.6 (``book/04_substrates.ipynb``). The memory is TEM's
(:class:`kvlib.tem.TEMMemory`: conjunctions ``p = g ⊗ x`` in a Hebbian attractor memory,
Whittington et al. 2020); what changes is the structural code ``g`` that addresses it.
Whittington, Warren & Behrens (2022) showed that TEM is a transformer whose position encoding
is path-integrated from actions, where a language transformer uses a fixed code of the position
in the sequence (Vaswani et al. 2017). Here the same memory meets three codes:

* ``"grid"``: :class:`kvlib.tem.Torus`'s plane waves on an L × L torus, moved by the actions;
* ``"ring"``: :class:`RingCode`, plane waves on a loop of n places, moved by the actions
  (on the torus: a ring code of the x coordinate alone, blind to steps along y);
* ``"sinusoidal"``: :func:`sinusoidal_code`, the transformer's fixed code of the step number t,
  whatever the animal did.

Two worlds (:data:`WORLDS`): the torus of :mod:`kvlib.tem` (4 actions) and a loop with as many
places (2 actions, ±1). *By construction* a path-integrated code returns to the same value
whenever the animal returns to the same place, by whatever route, and the time code never
repeats; *the findings* are what the memory then predicts on a return by a new route
(:func:`position_code_experiment`), against chance.

Row vectors; axis names: T steps, B environments, n_g structural cells, n_x sensory cells.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from kvlib import _checks as check
from kvlib import kernels, tem
from kvlib.device import cpu_threads
from kvlib.device import generator as seed_stream

__all__ = ["WORLDS", "CODES", "POSITION_CASES", "RingCode", "sinusoidal_code", "code_walk",
           "position_code_experiment"]

#: The worlds: ``"torus"`` (L × L, actions ±x, ±y) and ``"loop"`` (L² places in a ring, actions ±1).
WORLDS = ("torus", "loop")
#: The structural codes (Chapter 4, §4.6).
CODES = ("grid", "ring", "sinusoidal")
#: The chapter's (world, code) pairs: two matched path-integrated codes, a mismatched one, the time code.
POSITION_CASES = (("torus", "grid"), ("loop", "ring"), ("torus", "ring"), ("torus", "sinusoidal"),
                  ("loop", "sinusoidal"))


class RingCode:
    """A ring code on a loop of ``n`` places that path-integrates steps of ±1 exactly.

    Place c has code ``a·[cos(2πkc/n), sin(2πkc/n)]`` for k = 1 … ⌊n/2⌋ (the sine of k = n/2,
    zero everywhere, is dropped): n − 1 cells, the 1-D analogue of :class:`kvlib.tem.Torus`.
    A step by ±1 rotates each (cos, sin) pair: ``g_{t+1} = g_t R_±``. Explained in Chapter 4, §4.6.

    >>> RingCode(36).n_g
    35
    """

    def __init__(self, n: int, amplitude: float = 0.1, device: str | torch.device = "cpu"):
        self.n = check.count("n", n, minimum=2)
        self.amplitude = check.positive("amplitude", amplitude)
        if device is None:
            raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
        self.device = check.device("device", device)
        k = torch.arange(1, self.n // 2 + 1, dtype=torch.float64)             # (K,) frequencies
        theta = 2 * math.pi * torch.arange(self.n, dtype=torch.float64)[:, None] * k / self.n   # (n, K)
        full = torch.cat([torch.cos(theta), torch.sin(theta)], dim=1)          # (n, 2K)
        self._keep = full.abs().amax(dim=0) > 1e-9
        self.codebook = (self.amplitude * full[:, self._keep]).float().to(self.device)   # (n, n_g)
        self.n_g = self.codebook.shape[1]
        mats = []
        for d in (1, -1):                                                     # the two moves
            c, s = torch.cos(2 * math.pi * k * d / self.n), torch.sin(2 * math.pi * k * d / self.n)
            K, i = len(k), torch.arange(len(k))
            R = torch.zeros(2 * K, 2 * K, dtype=torch.float64)
            R[i, i], R[i, K + i], R[K + i, i], R[K + i, K + i] = c, s, -s, c   # [cos, sin] @ rotation
            mats.append(R[self._keep][:, self._keep])
        mats.append(torch.eye(self.n_g, dtype=torch.float64))                 # "no move along the ring"
        self.transitions = torch.stack(mats).float().to(self.device)         # (3, n_g, n_g): +1, −1, stay

    def step(self, g: torch.Tensor, moves: torch.Tensor) -> torch.Tensor:
        """Path integration: codes (B, n_g), moves (B,) in {0: +1, 1: −1, 2: stay} → (B, n_g)."""
        g = check.tensor("g", g, shape=(None, self.n_g), nonempty=True, like=self.transitions,
                         like_name="the ring")
        moves = check.tensor("moves", moves, shape=(g.shape[0],), dtype="int")
        if moves.numel() and not bool(((moves >= 0) & (moves < 3)).all()):
            raise ValueError("moves: expected indices 0 (+1), 1 (−1) or 2 (stay)")
        return torch.bmm(g[:, None, :], self.transitions[moves.to(self.device)])[:, 0]


def sinusoidal_code(n_steps: int, n_g: int = 35, amplitude: float = 0.1, base: float = 10000.0,
                    device: str | torch.device = "cpu") -> torch.Tensor:
    """The transformer's fixed position code of steps t = 0 … n_steps: (n_steps + 1, n_g).

    ``g_t[2i] = a·sin(t / base^(2i/n_g))``, ``g_t[2i+1] = a·cos(t / base^(2i/n_g))`` (Vaswani et al.
    2017, §3.5), scaled by ``a`` like the path-integrated codes. It depends on t alone.
    Explained in Chapter 4, §4.6.

    >>> sinusoidal_code(3, 4)[0].tolist()
    [0.0, 0.10000000149011612, 0.0, 0.10000000149011612]
    """
    n_steps = check.count("n_steps", n_steps, minimum=0)
    n_g = check.count("n_g", n_g, minimum=1)
    amplitude = check.positive("amplitude", amplitude)
    base = check.number("base", base, low=1.0, low_open=True)
    dev = check.device("device", device)
    t = torch.arange(n_steps + 1, dtype=torch.float64)[:, None]              # (T + 1, 1)
    i = torch.arange(n_g, dtype=torch.float64)
    freq = base ** (-(2 * (i // 2)) / n_g)                                    # (n_g,)
    angle = t * freq
    code = torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle))        # (T + 1, n_g)
    return (amplitude * code).float().to(dev)


def _walk(world: str, size: int, n_steps: int, B: int, gen: torch.Generator):
    """Actions (B, T), places (B, T + 1) and the number of places and actions of a world."""
    if world == "torus":
        acts, pos = tem.random_walk(n_steps, B, generator=gen)
        return acts, pos[..., 0] % size * size + pos[..., 1] % size, size * size, 4, pos
    n = size * size
    acts = torch.randint(0, 2, (B, n_steps), generator=gen)                   # 0: +1, 1: −1
    steps = torch.where(acts == 0, 1, -1)
    pos = torch.cat([torch.zeros(B, 1, dtype=torch.long), steps.cumsum(dim=1)], dim=1)
    return acts, pos % n, n, 2, pos


def _codes(world: str, code: str, size: int, acts: torch.Tensor, pos: torch.Tensor, dev) -> torch.Tensor:
    """The structural code at every step, (B, T + 1, n_g): path-integrated from the actions
    (grid, ring) or a function of t alone (sinusoidal)."""
    B, T = acts.shape
    if code == "sinusoidal":
        return sinusoidal_code(T, device=dev).expand(B, T + 1, -1)
    if code == "grid":
        mover = tem.Torus(size, device=dev)
        g = mover.code(pos[:, 0])
        moves = acts
    else:
        mover = RingCode(size * size if world == "loop" else size, device=dev)
        g = mover.codebook[(pos[:, 0] if world == "loop" else pos[:, 0, 0]) % mover.n]
        # on the torus the ring follows x: +x → +1, −x → −1, ±y → stay
        moves = acts if world == "loop" else torch.tensor([0, 1, 2, 2])[acts]
    out = [g]
    for t in range(T):                                        # path integration, step by step
        g = mover.step(g, moves[:, t])
        out.append(g)
    return torch.stack(out, dim=1)


def code_walk(world: str = "torus", code: str = "grid", size: int = 6, n_steps: int = 400,
              n_envs: int = 6, n_obs: int = 45, n_x: int = 10, seed: int = 0,
              device: str | torch.device = "cpu") -> dict:
    """TEM's memory predicts each observation of a random walk before seeing it, addressed by ``code``.

    As :func:`kvlib.tem.tem_walk`: each of ``n_envs`` environments gives each place one of
    ``n_obs`` observations (two-hot codes over ``n_x`` cells); at every step the memory generates
    ``p̂`` from ``g ⊗ 1`` by its attractor, the prediction is the stored observation code nearest
    to ``read_x(p̂)`` (one :func:`kvlib.kernels.retrieve` read, a random guess if the memory is
    silent), then the observation is seen and stored by TEM's Hebbian rule. Seed streams
    ``"world"``, ``"walk"``, ``"guess"``.

    Returns per step t = 1 … n_steps, shape (n_envs, n_steps): ``"correct"``, ``"visited"`` (the
    place was seen before) and ``"new_edge"`` (reached by a (place, action) never taken before).
    Explained in Chapter 4, §4.6.
    """
    world = check.option("world", world, WORLDS)
    code = check.option("code", code, CODES)
    if world == "loop" and code == "grid":
        raise ValueError("code: the grid code lives on the torus; on the loop use 'ring' or 'sinusoidal'")
    size = check.count("size", size, minimum=2)
    n_steps, B = check.count("n_steps", n_steps, minimum=1), check.count("n_envs", n_envs, minimum=1)
    n_obs, n_x = check.count("n_obs", n_obs, minimum=1), check.count("n_x", n_x, minimum=2)
    if n_obs > math.comb(n_x, 2):
        raise ValueError(f"n_obs: expected at most C(n_x, 2) = {math.comb(n_x, 2)} observations, got {n_obs}")
    seed = check.seed("seed", seed)
    if device is None:
        raise TypeError("device: expected a device such as 'cpu', 'cuda' or 'auto', got None")
    dev = check.device("device", device)
    acts, places, n_places, n_actions, pos = _walk(world, size, n_steps, B, seed_stream(seed, "walk"))
    world_obs = torch.randint(0, n_obs, (B, n_places), generator=seed_stream(seed, "world"))
    obs = torch.gather(world_obs, 1, places)                 # (B, T + 1)
    guess = torch.randint(0, n_obs, (B, n_steps), generator=seed_stream(seed, "guess"))
    x_all = tem.TEMMemory.prepare_x(tem.two_hot_codes(n_obs, n_x)).to(dev)   # (n_obs, n_x)
    ids = torch.arange(n_obs, dtype=x_all.dtype, device=dev)[:, None]
    rows = torch.arange(B)
    seen = torch.zeros(B, n_places, dtype=torch.bool)
    edges = torch.zeros(B, n_places, n_actions, dtype=torch.bool)
    out = {k: torch.zeros(B, n_steps, dtype=torch.bool) for k in ("correct", "visited", "new_edge")}
    with cpu_threads(1 if dev.type == "cpu" else None):       # many small steps: one thread is faster
        G = _codes(world, code, size, acts, pos, dev)         # (B, T + 1, n_g)
        mem = tem.TEMMemory(G.shape[-1], n_x, batch=B, device=dev)
        for t in range(n_steps + 1):                          # the walk is sequential in time
            here, g = places[:, t], G[:, t]
            p_hat = mem.attractor(mem.query(g))
            if t > 0:
                read = mem.read_x(p_hat)                      # (B, n_x)
                best = kernels.retrieve(read, x_all, ids, similarity="dot", separation="max")[:, 0]
                silent = read.abs().sum(dim=1).cpu() == 0
                pred = torch.where(silent, guess[:, t - 1], best.round().long().cpu())
                prev, a = places[:, t - 1], acts[:, t - 1]
                out["correct"][:, t - 1] = pred == obs[:, t]
                out["visited"][:, t - 1] = seen[rows, here]
                out["new_edge"][:, t - 1] = ~edges[rows, prev, a]
                edges[rows, prev, a] = True
            mem.hebbian(mem.conjunction(g, x_all[obs[:, t].to(dev)]), p_hat)
            seen[rows, here] = True
    return out


def position_code_experiment(cases: Sequence[tuple[str, str]] = POSITION_CASES, size: int = 6,
                             n_steps: int = 400, n_envs: int = 6, seed: int = 0,
                             device: str | torch.device = "cpu") -> dict:
    """:func:`code_walk` for each (world, code) pair, summarised by the kind of step.

    Returns ``{"cases": ["world/code", ...], "zero_shot", "revisit", "first_visit"}`` (accuracy of the
    prediction on returns by a (place, action) never taken, on all returns, on first visits; each a
    dict by case, ``None`` where there were no such steps), ``"n_zero_shot"`` and ``"chance"``
    (1/45). All cases share the seed, so walks on the same world are the same walks.
    Explained in Chapter 4, §4.6.
    """
    cases = check.sequence("cases", cases)
    for i, c in enumerate(cases):
        if not isinstance(c, (tuple, list)) or len(c) != 2:
            raise TypeError(f"cases[{i}]: expected a (world, code) pair, got {c!r}")
    res = {"cases": [], "zero_shot": {}, "revisit": {}, "first_visit": {}, "n_zero_shot": {}}
    for world, code in cases:                                 # a handful of settings
        r = code_walk(world, code, size, n_steps, n_envs, seed=seed, device=device)
        name = f"{world}/{code}"
        zero = r["visited"] & r["new_edge"]
        res["cases"].append(name)
        for key, sel in (("zero_shot", zero), ("revisit", r["visited"]), ("first_visit", ~r["visited"])):
            res[key][name] = float(r["correct"][sel].float().mean()) if bool(sel.any()) else None
        res["n_zero_shot"][name] = int(zero.sum())
    return {**res, "chance": 1 / 45, "size": size, "n_steps": n_steps, "n_envs": n_envs}
