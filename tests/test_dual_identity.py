"""Chapter 3's identity checks: exact for plain SGD (and decayed memories), broken by the controls."""
from __future__ import annotations

import pytest
import torch

from conftest import requires_data, tol
from kvlib import dual_identity as D

F64 = torch.float64


def _data(n=64, d=12, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.randint(c, (n,), generator=g)


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("setting", ["momentum", "adam", "weight_decay"])
def test_negative_controls_break_the_identity(setting, seed):
    x, y = _data(seed=seed)
    kw = dict(sizes=(12, 16, 3), steps=30, batch_size=8, lr=0.1, weight_decay=0.05, seed=seed)
    errs, _, _ = D.identity_errors(setting, x, y, x, **kw)
    exact, _, _ = D.identity_errors("sgd", x, y, x, **kw)
    decayed, _, _ = D.identity_errors("weight_decay_decayed_memories", x, y, x, **kw)
    assert max(exact.values()) <= tol(F64) and max(decayed.values()) <= tol(F64)
    assert max(errs.values()) > 1e-4 > 1e6 * max(exact.values())


def test_arguments_are_checked():
    x, y = _data()
    with pytest.raises(ValueError, match="setting"):
        D.identity_errors("rmsprop", x, y, x)
    with pytest.raises(ValueError, match="weight_decay"):
        D.identity_errors("weight_decay", x, y, x, lr=0.5, weight_decay=2.0)   # decay factor <= 0
    with pytest.raises(ValueError, match=r"\blr\b"):
        D.identity_errors("sgd", x, y, x, lr=1e30, sizes=(12, 8, 3), steps=40)  # diverges: named


def test_adam_updates_are_not_outer_products():
    """Exercise 3: one example's gradient is rank 1; Adam's rescaled updates after the first are not."""
    for seed in (0, 1, 2):
        r = D.adam_update_ranks(steps=3, seed=seed)
        assert r["gradient"] == [1, 1, 1]
        assert r["update"][0] == 1 and min(r["update"][1:]) > 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_memories_on_gpu():
    x, y = _data(seed=7)
    out = {}
    for dev in ("cpu", "cuda"):
        errs, rec, model = D.identity_errors("sgd", x.to(dev), y.to(dev), x.to(dev),
                                             sizes=(12, 8, 3), steps=20, batch_size=8)
        assert max(errs.values()) <= tol(F64, dev)
        out[dev] = rec.memories["0"].weight().cpu()
    assert torch.allclose(out["cpu"], out["cuda"], atol=1e-10)


@requires_data
def test_identity_on_mnist_and_controls_are_orders_of_magnitude_worse():
    res = D.dual_form_identity(n_train=400, n_test=100, steps=120, hidden=32)
    assert res["max_abs_error_float64"] <= 1e-10
    assert set(res["controls"]) == set(D.OPTIMIZER_SETTINGS) - {"sgd"}
    assert res["controls"]["weight_decay_decayed_memories"] <= 1e-10
    for name in ("momentum", "adam", "weight_decay"):
        assert res["controls"][name] > 1e6 * res["max_abs_error_float64"]
        assert res["controls"][name] > 1e-3
    passes, rest = divmod(120, 13)                       # 13 batches per pass: 12 of 32, one of 16
    assert res["n_memories"] == 2 * (passes * 400 + rest * 32) and res["n_steps"] == 120
