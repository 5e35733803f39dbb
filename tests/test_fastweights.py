"""kvlib.fastweights: linear attention as a fast weight programmer (sum and delta rules)."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from kvlib import fastweights as FW
from kvlib.kernels import retrieve
from conftest import tol


def _seq(T=100, d_k=8, d_v=5, batch=(2,), dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k = (FW.sum_normalize(F.elu(torch.randn(*batch, T, d_k, generator=g, dtype=dtype)) + 1)
            for _ in range(2))
    v = torch.randn(*batch, T, d_v, generator=g, dtype=dtype)
    lr = torch.sigmoid(torch.randn(*batch, T, generator=g, dtype=dtype))
    return q, k, v, lr


CASES = [("sum", False), ("sum", True), ("delta", False)]


@pytest.mark.parametrize("rule,normalize", CASES)
def test_three_forms_agree_float64(rule, normalize):
    q, k, v, lr = _seq()
    lr = lr if rule == "delta" else None
    ref = FW.recurrent(q, k, v, rule=rule, lr=lr, normalize=normalize)
    for form in ("parallel", "chunked"):
        out = FW.fast_weights(q, k, v, rule=rule, form=form, lr=lr, normalize=normalize, chunk_size=16)
        torch.testing.assert_close(out, ref, atol=tol(torch.float64), rtol=0, msg=form)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 150), st.integers(1, 70), st.sampled_from(CASES), st.integers(0, 10**6))
def test_three_forms_agree_float32_to_1e5(T, chunk, case, seed):
    rule, normalize = case
    q, k, v, lr = _seq(T=T, dtype=torch.float32, seed=seed, batch=())
    lr = lr if rule == "delta" else None
    ref = FW.recurrent(q, k, v, rule=rule, lr=lr, normalize=normalize)
    for form in ("parallel", "chunked"):
        out = FW.fast_weights(q, k, v, rule=rule, form=form, lr=lr, normalize=normalize, chunk_size=chunk)
        assert out.shape == ref.shape
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5, msg=form)


def test_sum_rule_is_causal_linear_attention_and_dual_form():
    """Step t of the sum rule is the dual form (Eq 3) over pairs 1..t with S = dot, σ = identity."""
    q, k, v, _ = _seq(batch=())
    y = FW.parallel(q, k, v, rule="sum")
    for t in (0, 17, 99):
        want = retrieve(q[t], k[: t + 1], v[: t + 1], "dot", "identity")
        torch.testing.assert_close(y[t], want, atol=1e-12, rtol=0)
    # normalised: the weights sum to one (Katharopoulos et al.'s denominator)
    yn = FW.parallel(q, k, v, rule="sum", normalize=True)
    torch.testing.assert_close(yn[40], retrieve(q[40], k[:41], v[:41], "dot", "identity", normalize=True))


def test_delta_rule_overwrites_an_association():
    """Writing the same key twice with β = 1 replaces its value (the sum rule would add them)."""
    k = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    v = torch.tensor([[1.0], [5.0]], dtype=torch.float64)
    lr = torch.ones(2, dtype=torch.float64)
    assert float(FW.recurrent(k, k, v, rule="delta", lr=lr)[1, 0]) == pytest.approx(5.0)
    assert float(FW.recurrent(k, k, v, rule="sum")[1, 0]) == pytest.approx(6.0)


def test_padding_steps_change_nothing():
    q, k, v, lr = _seq(T=37, batch=())
    a = FW.chunked(q, k, v, rule="delta", lr=lr, chunk_size=8)      # 37 is not a multiple of 8
    b = FW.chunked(q, k, v, rule="delta", lr=lr, chunk_size=37)
    torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_errors():
    q, k, v, lr = _seq(batch=())
    with pytest.raises(ValueError, match=r"rule: expected one of sum, delta, got 'hebb'"):
        FW.recurrent(q, k, v, rule="hebb")
    with pytest.raises(ValueError, match=r"form: expected one of recurrent, parallel, chunked"):
        FW.fast_weights(q, k, v, form="scan")
    with pytest.raises(ValueError, match=r"k: expected the shape of q"):
        FW.parallel(q, k[:, :3], v)
    with pytest.raises(ValueError, match=r"v: expected leading shape"):
        FW.parallel(q, k, v[:5])
    with pytest.raises(ValueError, match=r"lr: expected shape \(100,\)"):
        FW.chunked(q, k, v, rule="delta", lr=lr[:4])
    with pytest.raises(ValueError, match=r"lr: the sum rule takes no write strength"):
        FW.chunked(q, k, v, rule="sum", lr=lr)
    with pytest.raises(ValueError, match=r"normalize: only the sum rule"):
        FW.recurrent(q, k, v, rule="delta", normalize=True)
    with pytest.raises(ValueError, match=r"k: expected dtype torch.float64"):
        FW.recurrent(q, k.float(), v)
    with pytest.raises(ValueError, match=r"chunk_size: expected a positive integer, got 0"):
        FW.chunked(q, k, v, chunk_size=0)


def test_benchmark_forms_reports_agreement():
    res = FW.benchmark_forms((64, 128), d_k=16, d_v=16, repeats=1)
    assert res["max_abs_diff"] < 1e-5                                 # the forms agree in float32


def test_capacity_at():
    assert FW.capacity_at([10, 100], [1.0, 0.0]) == pytest.approx(10 ** 1.5)
    assert FW.capacity_at([10, 100], [1.0, 0.9]) == float("inf")
    assert FW.capacity_at([10, 100], [0.2, 0.1]) == 10


# --- the random-key variant -----------------------------------------------------------------

def test_delta_rule_reads_back_the_last_pair_exactly():
    """With β = 1 the delta rule makes M return the most recent value for its key (Schlag et al.'s
    motivation for it); the sum rule does not once keys overlap."""
    g = torch.Generator().manual_seed(0)
    k = F.normalize(torch.randn(40, 8, generator=g, dtype=torch.float64), dim=-1)   # N > d: overlap
    v = torch.randn(40, 3, generator=g, dtype=torch.float64)
    u = FW._delta_values(k, v, torch.ones(40, dtype=torch.float64))
    M = k.T @ u                                                        # (d, d_v)
    torch.testing.assert_close(k[-1] @ M, v[-1], atol=1e-10, rtol=0)
    assert float((k[-1] @ (k.T @ v) - v[-1]).abs().max()) > 0.1
    # and M is the fast weight of the step-by-step recurrence
    y = FW.recurrent(k, k, v, rule="delta", lr=torch.ones(40, dtype=torch.float64))
    torch.testing.assert_close(y[-1], k[-1] @ M, atol=1e-10, rtol=0)


def test_effective_dimension_of_isotropic_and_shared_mean_features():
    """Unit-length Gaussian keys spread evenly over d directions (participation ratio d);
    elu+1 features share a large positive mean, which leaves few effective directions."""
    for d in (8, 32):
        assert FW.effective_dimension("identity", d, n=20000) == pytest.approx(d, rel=0.05)
    assert FW.effective_dimension("elu1", 32) < 3


def test_random_key_capacity_tracks_effective_dimension_not_feature_dimension():
    """Cross-talk of N unit-length random features has variance N·tr(C²) = N / m_eff, so the
    nearest-value capacity scales with m_eff: the ratio is the same for every map, while the
    ratio to the feature dimension m is not (DPFP-ν has m = 2ν d_key)."""
    sizes = [16, 32, 64, 128, 256, 512, 1024]
    res = FW.associative_capacity(sizes, d_key=32, seeds=2, features=("identity", "dpfp1", "dpfp2", "dpfp3"))
    cap = {n: FW.capacity_at(sizes, a) for n, a in res["accuracy"].items()}
    per_eff = [cap[n] / res["effective_dim"][n] for n in cap]
    per_m = [cap[n] / res["feature_dim"][n] for n in cap]
    assert max(per_eff) / min(per_eff) < 1.4
    assert max(per_m) / min(per_m) > 3


# --- Schlag et al.'s setting 1 --------------------------------------------------------------

def _reference_reads(batch, queries, value_of, position, rule):
    """Their model's forward pass written out per run and sequence: keys in sequence order, the fast
    weight built by outer products (sum rule, with their normaliser) or by the delta recurrence
    (``FW.recurrent``), then read by the query; returned indexed by key like ``batch.reads``."""
    from kvlib.kernels import FEATURE_MAPS
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
    b = FW._RetrievalBatch(name, runs, 4, rule, value_in_key, g, torch.device("cpu"))
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
    omega = FW._favor_directions(1, 4, 12, g).double()               # (1, 4, 12): three blocks
    for b in range(3):
        blk = omega[0, :, 4 * b: 4 * b + 4]
        unit = blk / blk.norm(dim=0)
        torch.testing.assert_close(unit.T @ unit, torch.eye(4, dtype=torch.float64), atol=1e-6, rtol=0)
    phi = FW._favor_features(x, omega)[0]                              # (6, 24)
    z = x[0][:, None, :] + x[0][None, :, :]                            # (6, 6, d): x + y
    want = torch.cosh(z @ omega[0]).mean(-1) * torch.exp(-0.5 * (x[0].square().sum(-1)[:, None]
                                                               + x[0].square().sum(-1)[None, :]))
    torch.testing.assert_close(phi @ phi.T, want, atol=1e-12, rtol=1e-10)
    many = FW._favor_directions(1, 4, 40000, g)
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
    assert float(loss) >= FW.rank_bound(S, m) - 1e-12


def test_rank_bound_is_reached_by_disjoint_supports():
    """Keys grouped onto m features, each group sharing one feature: the loss is ½(1 - m/S) exactly."""
    S, m = 10, 4
    group = torch.arange(S) % m
    phi = F.one_hot(group, m).double()                                 # queries = keys
    s = phi @ phi.T
    s_hat = s / s.sum(1, keepdim=True)
    loss = 0.5 * (s_hat - torch.eye(S, dtype=torch.float64)).square().sum() / S
    assert float(loss) == pytest.approx(FW.rank_bound(S, m), abs=1e-12)


def test_setting1_capacity_tracks_the_feature_dimension():
    """Schlag et al.'s finding, at a small scale and with three independent runs of each size:
    with 16-dimensional keys, elu+1 (m = 16) learns 8 keys but sits on the rank bound at 32, while
    DPFP-2 (m = 64) learns 32 keys and sits on the bound at 128. Same key size, capacity set by m.
    (At this key size two DPFP keys now and then end up sharing their active features, a local
    minimum that costs 0.25 per query, 0.016 in the mean over 32: hence 0.02, far below 0.25.)"""
    runs = [(name, n) for name, m in (("elu1", 16), ("dpfp2", 64)) for n in (m // 2, 2 * m)
            for _ in range(3)]
    res = FW.associative_retrieval(runs, d_key=16, value_in_key=False, max_steps=1500)
    for (name, n), loss, bound in zip(runs, res["final_loss"], res["bound"]):
        m = FW.feature_dim(name, 16)
        if n < m:
            assert loss <= 0.02, (name, n, loss)
        else:
            assert bound == 0.25
            assert bound - 0.005 <= loss <= bound + 0.03, (name, n, loss)


def test_their_logs_sit_on_the_rank_bound():
    """Schlag et al.'s committed losses for S ≤ 200 (all queries evaluated) against ½(1 - m/S)."""
    for name in ("elu1", "dpfp1", "dpfp2", "dpfp3"):
        m = FW.feature_dim(name, 64)
        for n, loss in FW.SCHLAG2021_LOGS[name].items():
            if n <= 200:
                assert loss >= FW.rank_bound(n, m) - 0.01, (name, n)    # chunk means: a little below
                assert loss <= FW.rank_bound(n, m) + 0.03, (name, n)
    logs = FW.SCHLAG2021_LOGS
    caps = {name: FW.capacity_from_losses(sorted(logs[name]), [logs[name][n] for n in sorted(logs[name])])
            for name in ("dpfp1", "dpfp2", "dpfp3")}
    for name, cap in caps.items():
        assert cap == pytest.approx(FW.feature_dim(name, 64), rel=0.1)


def test_retrieval_errors():
    with pytest.raises(ValueError, match=r"features: expected identity, elu1, dpfp<ν> or favor<n>"):
        FW.associative_retrieval([("relu", 8)], d_key=4)
    with pytest.raises(ValueError, match=r"runs: expected n_keys to be an integer >= 2, got 1"):
        FW.associative_retrieval([("elu1", 1)], d_key=4)
    with pytest.raises(ValueError, match=r"scale: expected one of small, paper, got 'huge'"):
        FW.retrieval_capacity("huge")
    with pytest.raises(ValueError, match=r"rule: expected one of sum, delta, got 'hebb'"):
        FW.associative_capacity([8], rule="hebb")
