"""Lost responses that come back: extinction and experimental amnesia as retrieval failures (§4.1).

The review lists two families of "forgotten" memories that return (§4.1): a conditioned response
that was extinguished comes back on its own after a delay (spontaneous recovery, Pavlov 1927) or
after one unsignalled shock (reinstatement, Rescorla & Heth 1975); and a memory lost to an
amnesic treatment comes back after a reminder or after a second dose of the amnesic agent itself
(Lewis et al. 1968; Briggs & Olson 2013; Gisquet-Verrier et al. 2015). Both are simulated here
with one memory whose addresses drift in time, after the temporal context model (Howard & Kahana
2002):

* every input ``f_t`` (the conditioned stimulus CS, the shock US, the amnesic agent's internal
  state, or an unrelated background event) enters a context ``c_t = rho c_{t-1} + drift f_t``;
* each CS trial is stored as one memory: key ``[a cs, b c_{t-1}]`` (the CS and the context it
  arrived in, unit rows), value 1 if a shock followed and 0 if not;
* the response at a test is the retrieved shock expectation, one softmax read through
  :func:`kvlib.episodic.weighted_recall` (Eq 3), optionally with a "nothing comes to mind" option.

:func:`extinction_recovery` keeps extinction as new memories (nothing is erased) and sets beside
it the erasing account, a Rescorla-Wagner strength that extinction drives back down (Rescorla &
Wagner 1972). :func:`amnesia_recovery` makes the amnesic agent re-address the memories that are
still active when it is given (its state is folded into their keys, Gisquet-Verrier et al. 2015):
the values are untouched. The loop over time steps is replaced by one matrix product (the
unrolled recurrence); the loops here run over a handful of conditions.

Randomness: ``seed``, through ``kvlib.device.generator``. Axis names: B animals, T time steps,
N memories (CS trials), d context dims, Q tests. Explained in Chapter 5, §Lost responses that
come back.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from kvlib import _checks as check
from kvlib.device import cpu_threads
from kvlib.device import generator as stream
from kvlib.episodic import mean_se, random_unit, weighted_recall

__all__ = ["context_drift", "extinction_recovery", "amnesia_recovery", "returning_response_numbers"]

_MAX_STEPS = 100_000


def context_drift(inputs: Tensor, drift: float) -> Tensor:
    """The drifting context ``c_t = rho c_{t-1} + drift f_t`` for every step, from ``c_{-1} = 0``.

    ``inputs`` (..., T, d) are the ``f_t``; ``rho = sqrt(1 - drift^2)`` (Howard & Kahana 2002,
    with a constant ``rho``). Unrolled into one product with the lower-triangular kernel
    ``D_ts = drift rho^(t-s)``, so no loop over time. Returns (..., T, d), not normalised.

    >>> context_drift(torch.tensor([[1.0], [0.0]]), 0.6)
    tensor([[0.6000],
            [0.4800]])
    """
    inputs = check.tensor("inputs", inputs, nonempty=True)
    if inputs.ndim < 2:
        raise ValueError(f"inputs: expected shape (..., T, d), got {tuple(inputs.shape)}")
    T = inputs.shape[-2]
    if T > _MAX_STEPS:
        raise ValueError(f"inputs: expected at most {_MAX_STEPS} time steps, got {T}")
    drift = check.probability("drift", drift)
    rho = math.sqrt(1.0 - drift ** 2)
    t = torch.arange(T, dtype=torch.float64)
    lag = t[:, None] - t[None, :]                                             # (T, T)
    D = torch.where(lag >= 0, drift * rho ** lag.clamp(min=0), torch.zeros((), dtype=torch.float64))
    return torch.einsum("ts,...sd->...td", D.to(inputs), inputs)               # (..., T, d)


def _keys(cs: Tensor, ctx: Tensor, cs_weight: float) -> Tensor:
    """Unit keys or queries ``[a cs, b ĉ]`` with ``a^2 = cs_weight``, ``a^2 + b^2 = 1``.

    ``cs`` (B, d), ``ctx`` (B, M, d) -> (B, M, 2d)."""
    a, b = math.sqrt(cs_weight), math.sqrt(1.0 - cs_weight)
    return torch.cat([a * cs[:, None, :].expand_as(ctx), b * F.normalize(ctx, dim=-1)], -1)


def _delays(name: str, v) -> list[int]:
    out = check.sequence(name, v, lambda n, x: check.count(n, x, minimum=0))
    if not out:
        raise ValueError(f"{name}: expected at least one delay, got an empty sequence")
    if max(out) > _MAX_STEPS:
        raise ValueError(f"{name}: expected delays of at most {_MAX_STEPS} steps, got {max(out)}")
    return out


class _Session:
    """One schedule of inputs for ``B`` animals: background events, then placed CS, US and agent steps."""

    def __init__(self, B: int, T: int, d: int, gen: torch.Generator, device, salience: float):
        self.salience = salience                                     # the shock's input strength
        self.inputs = random_unit((B, T, d), gen, device)            # (B, T, d) background events
        self.cs, self.us, self.agent = random_unit((3, B, d), gen, device)   # each animal's codes
        self.trials: list[tuple[int, float]] = []                    # (CS step, shock 0/1)

    def trial(self, t: int, shock: bool) -> None:
        """A CS at step ``t`` (stored as a memory), followed at ``t + 1`` by a shock if ``shock``."""
        self.inputs[:, t] = self.cs
        if shock:
            self.inputs[:, t + 1] = self.salience * self.us
        self.trials.append((t, float(shock)))

    def memories(self, ctx: Tensor, cs_weight: float) -> tuple[Tensor, Tensor]:
        """Keys (B, N, 2d) from the contexts just before each CS, values (B, N, 1): the shock."""
        steps = torch.tensor([t - 1 for t, _ in self.trials], device=ctx.device)
        K = _keys(self.cs, ctx[:, steps], cs_weight)
        V = torch.tensor([s for _, s in self.trials], device=ctx.device).expand(ctx.shape[0], -1)
        return K, V[..., None].clone()


def _common(animals, d, drift, beta, cs_weight, iti, seed, device):
    return (check.count("animals", animals, minimum=2), check.count("d", d, minimum=2),
            check.probability("drift", drift), check.positive("beta", beta),
            check.number("cs_weight", cs_weight, low=0, high=1), check.count("iti", iti, minimum=1),
            stream(check.seed("seed", seed)), check.device("device", device))


@cpu_threads(1)
def extinction_recovery(delays: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128), acquisition: int = 10,
                        extinction: int = 10, reminder_lead: int = 1, animals: int = 32, d: int = 64,
                        drift: float = 0.3, beta: float = 20.0, cs_weight: float = 0.5,
                        us_salience: float = 3.0, iti: int = 3, learning_rate: float = 0.3,
                        seed: int = 0, device="cpu") -> dict:
    """Responding to an extinguished CS after each delay, with and without a shock reminder.

    ``acquisition`` CS-shock trials, then ``extinction`` CS-alone trials (a trial every
    ``iti + 2`` steps, background events in between), then a retention interval of ``delay``
    steps of background events and a test: the CS's query ``[a cs, b ĉ_t]`` reads the
    memory (softmax, inverse temperature ``beta``) and the response is the retrieved shock
    expectation. A shock enters the context with input strength ``us_salience`` (the other
    events have strength 1), so the contexts of the acquisition trials carry its trace. With
    the reminder, one unsignalled shock is given ``reminder_lead`` steps before the test (it
    enters the context, nothing is stored). Extinction adds memories and
    erases none. Beside it, the erasing account: one Rescorla-Wagner strength per CS,
    ``V <- V + learning_rate (shock - V)`` on every trial (Rescorla & Wagner 1972), whose
    response does not depend on the delay or the reminder. Returns, per delay, the mean and
    standard error over animals of the key-value response without and with the reminder,
    the response at the end of acquisition, and the Rescorla-Wagner response. Explained in
    Chapter 5, §Spontaneous recovery and reinstatement.
    """
    delays = _delays("delays", delays)
    n_acq = check.count("acquisition", acquisition, minimum=1)
    n_ext = check.count("extinction", extinction, minimum=1)
    lead = check.count("reminder_lead", reminder_lead, minimum=1)
    B, d, drift, beta, cs_weight, iti, gen, dev = _common(animals, d, drift, beta, cs_weight, iti,
                                                          seed, device)
    lr = check.probability("learning_rate", learning_rate)
    salience = check.positive("us_salience", us_salience)
    if min(delays) < lead:
        raise ValueError(f"delays: expected delays of at least reminder_lead = {lead} steps (the "
                         f"reminder comes before the test, after extinction), got {min(delays)}")
    period = iti + 2
    start = iti                                                    # a few background events first
    end = start + period * (n_acq + n_ext)                         # first step after extinction
    T = end + max(delays) + 1
    if T > _MAX_STEPS or B * T * d > 10**8:
        raise ValueError(f"delays: expected at most {_MAX_STEPS} steps and 10**8 inputs in all, got "
                         f"{T} steps for {B} animals of d = {d}")
    s = _Session(B, T, d, gen, dev, salience)
    for i in range(n_acq + n_ext):                                 # loop over trials (tens) to place them
        s.trial(start + period * i, shock=i < n_acq)
    ctx = context_drift(s.inputs, drift)                           # (B, T, d)
    K, V = s.memories(ctx, cs_weight)                              # (B, N, 2d), (B, N, 1)
    acq = torch.arange(K.shape[1], device=dev) < n_acq             # memories of acquisition

    def response(c: Tensor, mask: Tensor | None = None) -> Tensor:   # c: (B, Q, d) -> (B, Q)
        return weighted_recall(_keys(s.cs, c, cs_weight), K, V, beta, mask=mask)[..., 0]

    test = torch.tensor([end - 1 + t for t in delays], device=dev)  # context just before each test CS
    plain = response(ctx[:, test])                                 # (B, Q)
    reminded = []
    us = s.us[:, None, :]
    for t in delays:                                               # loop over delays: one shock each
        extra = torch.zeros(1, T, 1, device=dev)
        extra[0, end - 1 + t - lead + 1] = 1.0                     # the shock replaces that step's event
        inputs = s.inputs * (1 - extra) + extra * (salience * us)
        reminded.append(response(context_drift(inputs, drift)[:, end - 1 + t][:, None])[:, 0])
    reminded = torch.stack(reminded, 1)                            # (B, Q)
    trained = response(ctx[:, start + period * n_acq - 1][:, None], mask=acq)[:, 0]   # (B,)

    v, rw = 0.0, []                                                # Rescorla-Wagner: one strength
    for _, shock in s.trials:
        v += lr * (shock - v)
        rw.append(v)
    out = {"delay": delays, "acquisition": n_acq, "extinction": n_ext,
           "response_after_acquisition_mean": trained.mean().item(),
           "rescorla_wagner_after_acquisition": rw[n_acq - 1], "rescorla_wagner": rw[-1]}
    for name, r in (("", plain), ("_reminder", reminded)):
        m, se = mean_se(r.cpu())
        out[f"response{name}_mean"], out[f"response{name}_se"] = m, se
    return out


@cpu_threads(1)
def amnesia_recovery(test_delay: int = 20, late_agent: int = 30, acquisition: int = 5,
                     integration: float = 1.5, window: int = 20, lead: int = 1, animals: int = 32,
                     d: int = 64, drift: float = 0.3, beta: float = 50.0, threshold: float = 0.75,
                     cs_weight: float = 0.5, us_salience: float = 3.0, iti: int = 3, seed: int = 0,
                     device="cpu") -> dict:
    """Retrograde amnesia as re-addressing, and the recoveries by a reminder and by the agent itself.

    ``acquisition`` CS-shock trials are stored as in :func:`extinction_recovery`. The
    amnesic agent induces an internal state ``g`` (a random unit vector) that is present
    while the agent acts and absent otherwise (it does not drift with the temporal context).
    Memories at most ``window`` steps old when it is given are still active and fold the
    state into the context part of their keys, ``ĉ_key <- normalise(ĉ_key + integration · g)``
    (after Gisquet-Verrier et al. 2015; the window and this rule are assumptions). Values,
    the stored shock, are never touched. At the test, ``test_delay`` steps after training,
    the CS's query reads the memory with a "nothing comes to mind" option at ``threshold``
    and the response is the retrieved shock.

    Conditions: ``control`` (no agent); ``amnesic`` (agent right after training);
    ``amnesic + reminder`` (an unsignalled shock ``lead`` steps before the test, Lewis et al.
    1968); ``amnesic + agent again`` (the agent's state is present at the test, its query
    context ``normalise(ĉ_t + integration · g)``, Briggs & Olson 2013); ``late agent`` (given
    ``late_agent`` steps after training, when the memories are no longer active: the
    temporal gradient of retrograde amnesia, which holds by the window's construction).
    Returns the condition names and the response's mean and standard error over animals.
    Explained in Chapter 5, §Recovery from experimental amnesia.
    """
    test_delay = check.count("test_delay", test_delay, minimum=1)
    late = check.count("late_agent", late_agent, minimum=0)
    n_acq = check.count("acquisition", acquisition, minimum=1)
    lam = check.number("integration", integration, low=0, high=1e6)
    window = check.count("window", window, minimum=0)
    lead = check.count("lead", lead, minimum=1)
    threshold = check.number("threshold", threshold, low=-1, high=1)
    salience = check.positive("us_salience", us_salience)
    B, d, drift, beta, cs_weight, iti, gen, dev = _common(animals, d, drift, beta, cs_weight, iti,
                                                          seed, device)
    if lead >= test_delay:
        raise ValueError(f"lead: expected fewer steps than test_delay = {test_delay} (the reminder "
                         f"comes after training), got {lead}")
    period = iti + 2
    start = iti
    end = start + period * n_acq                                   # first step after training
    t_test = end + test_delay                                      # the test CS's step
    T = t_test + 1
    if T > _MAX_STEPS or B * T * d > 10**8:
        raise ValueError(f"test_delay: expected at most {_MAX_STEPS} steps and 10**8 inputs in all, "
                         f"got {T} steps for {B} animals of d = {d}")
    s = _Session(B, T, d, gen, dev, salience)
    for i in range(n_acq):                                         # loop over trials to place them
        s.trial(start + period * i, shock=True)
    g = s.agent[:, None, :]                                        # (B, 1, d) the agent's state
    ctx = context_drift(s.inputs, drift)                           # (B, T, d)
    reminded = s.inputs.clone()
    reminded[:, t_test - lead] = salience * s.us                   # an unsignalled shock
    ctx_reminded = context_drift(reminded, drift)
    K0, V = s.memories(ctx, cs_weight)                             # (B, N, 2d), (B, N, 1)
    b = math.sqrt(1 - cs_weight)

    def keys(agent_at: int | None) -> Tensor:
        if agent_at is None:
            return K0
        age = torch.tensor([agent_at - t for t, _ in s.trials], device=dev)
        active = (age <= window)[None, :, None]                    # (1, N, 1) still active
        c_key = K0[..., d:] / b                                    # (B, N, d) unit context part
        folded = F.normalize(c_key + lam * g, dim=-1)
        return torch.cat([K0[..., :d], b * torch.where(active, folded, c_key)], -1)

    def test(K: Tensor, c: Tensor, agent: bool = False) -> Tensor:  # c: (B, d) context before the CS
        c = F.normalize(c, dim=-1)[:, None, :]
        if agent:
            c = c + lam * g
        return weighted_recall(_keys(s.cs, c, cs_weight), K, V, beta, nothing=threshold)[:, 0, 0]

    amnesic = keys(end)
    now = ctx[:, t_test - 1]
    runs = [("control", test(K0, now)), ("amnesic", test(amnesic, now)),
            ("amnesic + reminder", test(amnesic, ctx_reminded[:, t_test - 1])),
            ("amnesic + agent again", test(amnesic, now, agent=True)),
            ("late agent", test(keys(end + late), now))]
    out = {"condition": [name for name, _ in runs], "response_mean": [], "response_se": []}
    for _, r in runs:
        m, se = mean_se(r.cpu())
        out["response_mean"].append(m.item())
        out["response_se"].append(se.item())
    return out


def returning_response_numbers(recovery: dict, amnesia: dict) -> dict[str, float]:
    """The numbers Chapter 5 quotes (responses in %) from :func:`extinction_recovery`
    (``recovery``: shortest and longest delay, the response there without and with a reminder,
    Rescorla-Wagner's prediction, the acquisition trials' share of all trials) and
    :func:`amnesia_recovery` (``amnesia``: the response in each of its five conditions)."""
    for name, value, source, key in (("recovery", recovery, "extinction_recovery", "response_reminder_mean"),
                                     ("amnesia", amnesia, "amnesia_recovery", "condition")):
        check.result(name, value, source, key)
    m, rm = recovery["response_mean"], recovery["response_reminder_mean"]
    am = dict(zip(amnesia["condition"], amnesia["response_mean"]))
    return {"ext_first": recovery["delay"][0], "ext_last": recovery["delay"][-1],
            "ext_m_first": 100 * float(m[0]), "ext_m_last": 100 * float(m[-1]),
            "ext_r_first": 100 * float(rm[0]), "ext_r_last": 100 * float(rm[-1]),
            "ext_rw": 100 * recovery["rescorla_wagner"],
            "ext_share": 100 * recovery["acquisition"] / (recovery["acquisition"] + recovery["extinction"]),
            **{f"am_{short}": 100 * am[name] for short, name in (
                ("control", "control"), ("amnesic", "amnesic"), ("reminder", "amnesic + reminder"),
                ("again", "amnesic + agent again"), ("late", "late agent"))}}
