"""kvlib.associative_retrieval: Schlag et al.'s setting-1 model, batched, against their model run by hand."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kvlib import associative_retrieval as AR
from kvlib import fastweights as FW
from kvlib.similarities import FEATURE_MAPS


def _reference_reads(batch, queries, value_of, position, rule):
    """Their model's forward pass written out per run and sequence: keys in sequence order, the fast
    weight built by outer products (sum rule, with their normaliser) or by the delta recurrence
    (``FW.recurrent``), then read by the query; returned indexed by key like ``batch.reads``."""
    P, out = batch.params, torch.zeros(queries.shape + (batch.S_max,))
    for r in range(batch.R):
        S, e = int(batch.S[r]), int((int(batch.S[r]) * 2) * 1.1)
        for j in range(queries.shape[1]):
            val = value_of[r, j] if value_of is not None else torch.arange(batch.S_max)
            order = position[r, j, :S].tolist() if position is not None else list(range(S))
            K, V, beta = [], [], []
            for i in order:
                v = int(val[i])
                K.append(P["E"][r, i, :e] @ P["Wk"][r, :e] + P["bk"][r]
                         + (P["Wkv"][r, v] if batch.vik else 0))
                V.append(F.one_hot(torch.tensor(v), batch.S_max).float())
                if rule == "delta" and batch.name != "softmax":
                    beta.append(torch.sigmoid(P["E"][r, i, :e] @ P["Wb"][r, :e] + P["bb"][r]
                                              + (P["Wbv"][r, v] if batch.vik else 0)))
            K, V = torch.stack(K), torch.stack(V)
            q = P["E"][r, int(queries[r, j]), :e] @ P["Wq"][r, :e] + P["bq"][r]
            if batch.name == "softmax":
                y = torch.softmax(K @ q / math.sqrt(batch.d), 0) @ V
            else:
                phi = FEATURE_MAPS["elu1"] if batch.name == "elu1" else (lambda x: FEATURE_MAPS["dpfp"](x, 2))
                fk, fq = phi(K), phi(q)
                if rule == "sum":
                    y = (fq @ (fk.T @ V)) / (fk.sum(0) @ fq + 1e-6)   # VK q / (Z·q + 1e-6)
                else:
                    kt, qt = fk / fk.sum(-1, keepdim=True), fq / (fq.sum() + 1e-6)
                    y = FW.recurrent(qt.expand(S, -1).contiguous(), kt, V, rule="delta",
                                     lr=torch.stack(beta).reshape(S))[-1]
            for i in range(S):
                out[r, j, i] = y[int(val[i])]
    return out


@pytest.mark.parametrize("rule", ["sum", "delta"])
@pytest.mark.parametrize("value_in_key", [False, True])
@pytest.mark.parametrize("name", ["elu1", "dpfp2", "softmax"])
def test_setting1_batched_reads_are_their_model(name, value_in_key, rule):
    g = torch.Generator().manual_seed(1)
    runs = [(name, 5, 0), (name, 7, 0)]
    b = AR._RetrievalBatch(name, runs, 4, rule, value_in_key, g, torch.device("cpu"))
    with torch.no_grad():                                              # move away from the init
        for p in b.params.values():
            p.add_(0.3 * torch.randn(p.shape, generator=g) * (p != 0))
    value_of, position = b.sequences(3)
    queries = torch.tensor([[0, 4, 2], [6, 1, 3]])
    with torch.no_grad():
        got = b.reads(queries, value_of, position)
    want = _reference_reads(b, queries, value_of, position, rule)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_favor_features_are_their_construction():
    """Schlag et al.'s FAVOR+: orthogonal blocks of directions with Gaussian-row norms, and features
    ``[exp(xΩ - c), exp(-xΩ - c)]`` with ``c = ‖x‖²/2 + log(n)/2 + log(2)/2``, so that
    ``φ(x)·φ(y) = mean_j cosh(ω_j·(x + y)) · exp(-(‖x‖² + ‖y‖²)/2)``."""
    g = torch.Generator().manual_seed(0)
    x = 0.3 * torch.randn(1, 6, 4, generator=g, dtype=torch.float64)
    omega = AR._favor_directions(1, 4, 12, g).double()               # (1, 4, 12): three blocks
    for b in range(3):
        blk = omega[0, :, 4 * b: 4 * b + 4]
        unit = blk / blk.norm(dim=0)
        torch.testing.assert_close(unit.T @ unit, torch.eye(4, dtype=torch.float64), atol=1e-6, rtol=0)
    phi = AR._favor_features(x, omega)[0]                              # (6, 24)
    z = x[0][:, None, :] + x[0][None, :, :]                            # (6, 6, d): x + y
    want = torch.cosh(z @ omega[0]).mean(-1) * torch.exp(-0.5 * (x[0].square().sum(-1)[:, None]
                                                               + x[0].square().sum(-1)[None, :]))
    torch.testing.assert_close(phi @ phi.T, want, atol=1e-12, rtol=1e-10)
    many = AR._favor_directions(1, 4, 40000, g)
    assert float(many.square().sum(1).mean()) == pytest.approx(4.0, rel=0.03)   # E‖ω‖² = d


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12), st.integers(1, 12), st.integers(0, 10**6))
def test_rank_bound_holds_for_any_feature_map(S, m, seed):
    """‖Ŝ - I‖²_F ≥ S - m for any S×S matrix Ŝ of rank ≤ m (Eckart-Young), so the mean setting-1
    loss is at least ½(1 - m/S), whatever the (non-negative) features."""
    g = torch.Generator().manual_seed(seed)
    fq, fk = (torch.rand(S, m, generator=g, dtype=torch.float64) ** 3 for _ in range(2))
    s = fq @ fk.T
    s_hat = s / (s.sum(1, keepdim=True) + 1e-6)
    loss = 0.5 * (s_hat - torch.eye(S, dtype=torch.float64)).square().sum() / S
    assert float(loss) >= AR.rank_bound(S, m) - 1e-12


def test_rank_bound_is_reached_by_disjoint_supports():
    """Keys grouped onto m features, each group sharing one feature: the loss is ½(1 - m/S) exactly."""
    S, m = 10, 4
    group = torch.arange(S) % m
    phi = F.one_hot(group, m).double()                                 # queries = keys
    s = phi @ phi.T
    s_hat = s / s.sum(1, keepdim=True)
    loss = 0.5 * (s_hat - torch.eye(S, dtype=torch.float64)).square().sum() / S
    assert float(loss) == pytest.approx(AR.rank_bound(S, m), abs=1e-12)




def test_retrieval_errors():
    with pytest.raises(ValueError, match=r"features: expected identity, elu1, dpfp<ν> or favor<n>"):
        AR.associative_retrieval([("relu", 8)], d_key=4)
    with pytest.raises(ValueError, match=r"runs: expected n_keys to be an integer >= 2, got 1"):
        AR.associative_retrieval([("elu1", 1)], d_key=4)
