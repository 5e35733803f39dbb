"""kvlib.fastweights: linear attention as a fast weight programmer (sum and delta rules)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import tol
from kvlib import fastweights as FW
from kvlib.kernels import retrieve


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
    with pytest.raises(ValueError, match=r"chunk_size: expected an integer > 0, got 0"):
        FW.chunked(q, k, v, chunk_size=0)


def test_benchmark_forms_reports_agreement():
    res = FW.benchmark_forms((64, 128), d_k=16, d_v=16, repeats=1)
    assert res["max_abs_diff"] < 1e-5                                 # the forms agree in float32


def test_delta_rule_reads_back_the_last_pair_exactly():
    """With β = 1 the delta rule makes M return the most recent value for its key (Schlag et al.'s
    motivation for it); the sum rule does not once keys overlap."""
    g = torch.Generator().manual_seed(0)
    k = F.normalize(torch.randn(40, 8, generator=g, dtype=torch.float64), dim=-1)   # N > d: overlap
    v = torch.randn(40, 3, generator=g, dtype=torch.float64)
    u = FW.delta_values(k, v, torch.ones(40, dtype=torch.float64))
    M = k.T @ u                                                        # (d, d_v)
    torch.testing.assert_close(k[-1] @ M, v[-1], atol=1e-10, rtol=0)
    assert float((k[-1] @ (k.T @ v) - v[-1]).abs().max()) > 0.1
    # and M is the fast weight of the step-by-step recurrence
    y = FW.recurrent(k, k, v, rule="delta", lr=torch.ones(40, dtype=torch.float64))
    torch.testing.assert_close(y[-1], k[-1] @ M, atol=1e-10, rtol=0)
