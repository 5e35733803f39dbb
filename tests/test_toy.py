"""kvlib.toy against its source: the published Figure 2 notebooks (kazuki-irie/kv-memory-brain).

The notebooks end at a final loss of 0.0227 (2classes_key_value_optimization.ipynb, 200
pairs, 5,000 Adam steps) and 0.0009 (3classes_…, 300 pairs, 10,000 steps) when run as
published. ``notebook_loop`` below is this file's own transcription of their model and
training cell (softmax over the first axis of ``X.detach() @ X.T``, no ``zero_grad``), so
the library's closed-form path is checked against plain autograd and torch.optim.Adam.
"""
import math

import pytest
import torch

from kvlib.device import cpu_threads
from kvlib.toy import CLASS_FEATURES, DETACH, ToySetting, init_pairs, toy_readout, train_toy, train_toys
from kvlib.toy_closed_form import closed_form_adam

PUBLISHED = {2: 0.0227, 3: 0.0009}        # final losses of the notebooks run as published


def notebook_loop(n_classes, steps, *, zero_grad=False, detach="memory", scale=2 ** -0.5,
                  n_pairs=None):
    """The notebook's training cell, step by step (autograd + torch.optim.Adam, lr 3e-4)."""
    n_pairs = n_pairs or {2: 200, 3: 300}[n_classes]
    with torch.random.fork_rng():
        torch.manual_seed(42)
        keys0 = torch.randn([n_pairs, 2]).uniform_(0, 1)
        values0 = torch.rand([n_pairs, 2])
        classes = torch.randint(low=0, high=n_classes, size=[n_pairs])
    feats = torch.tensor([[1, 0], [0, 1], [1, 1]])[:n_classes]
    target = feats[classes].float()
    X = torch.nn.Parameter(keys0.clone())
    V = torch.nn.Parameter(values0.clone())
    opt = torch.optim.Adam([X, V], lr=3e-4)
    losses = []
    with cpu_threads(1):                                     # tiny ops: one thread is fastest
        for _ in range(steps):
            if zero_grad:
                opt.zero_grad()
            mem = X.detach() if detach == "memory" else X    # rows: stored keys
            qry = X.detach() if detach == "query" else X     # columns: queries
            attn = torch.softmax(mem.mm(qry.T) * scale, dim=0)
            loss = torch.nn.MSELoss()(torch.matmul(attn.T, torch.sigmoid(V)), target)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return torch.tensor(losses), X.detach().clone(), torch.sigmoid(V.detach()), classes


@pytest.fixture(scope="module")
def two():
    """The published setting and the text's (gradients zeroed), two classes, one batched loop."""
    return train_toys(2, [{}, {"zero_grad": True}])


@pytest.fixture(scope="module")
def three():
    return train_toy(3)


def test_draws_are_the_notebooks():
    for n, c in ((200, 2), (300, 3)):
        k, v, cls = init_pairs(n, c, seed=42)
        with torch.random.fork_rng():
            torch.manual_seed(42)
            k_nb = torch.randn([n, 2]).uniform_(0, 1)
            v_nb = torch.rand([n, 2])
            c_nb = torch.randint(low=0, high=c, size=[n])
        assert torch.equal(k, k_nb) and torch.equal(v, v_nb) and torch.equal(cls, c_nb)
    _, _, cb = init_pairs(300, 3, seed=1, balanced=True)       # the methods: 100 per class
    assert cb.bincount().tolist() == [100, 100, 100]


def test_readout_is_the_notebooks_formula():
    g = torch.Generator().manual_seed(0)
    k, v = torch.rand(7, 2, generator=g, dtype=torch.float64), torch.randn(7, 2, generator=g,
                                                                        dtype=torch.float64)
    attn = torch.softmax(k @ k.T / math.sqrt(2), dim=0)        # column j: query j over memories
    assert torch.allclose(toy_readout(k, v), attn.T @ torch.sigmoid(v), atol=1e-12)
    # columns of the notebook's attention sum to one; its rows do not
    assert torch.allclose(attn.sum(0), torch.ones(7, dtype=torch.float64), atol=1e-12)
    assert not torch.allclose(attn.sum(1), torch.ones(7, dtype=torch.float64), atol=1e-3)


def test_published_final_losses(two, three):
    assert abs(two[0].final_loss - PUBLISHED[2]) < 0.02 * PUBLISHED[2]
    assert abs(three.final_loss - PUBLISHED[3]) < 0.05 * PUBLISHED[3]


def test_full_run_matches_the_notebook_loop(two):
    """5,000 accumulated-gradient steps: the closed form drifts from autograd by float noise."""
    losses, keys, values, _ = notebook_loop(2, 5000)
    assert abs(losses[-1] - PUBLISHED[2]) < 0.02 * PUBLISHED[2]   # the transcription is right
    run = two[0]
    assert abs(run.final_loss - losses[-1]) < 1e-4 * losses[-1]
    assert (run.loss - losses).abs().max() < 1e-5
    assert (run.keys[-1] - keys).abs().max() < 1e-3               # keys of norm up to ~4.5
    assert (run.values[-1] - values).abs().max() < 1e-3


@pytest.mark.parametrize("detach", DETACH)
@pytest.mark.parametrize("zero_grad", [False, True])
def test_every_variant_follows_autograd_and_torch_adam(detach, zero_grad):
    """float32, as the notebook: equal up to float noise (keys move ~0.1 in 300 steps)."""
    steps = 300
    losses, keys, values, _ = notebook_loop(2, steps, zero_grad=zero_grad, detach=detach,
                                            n_pairs=60)
    run = train_toy(2, n_pairs=60, steps=steps, detach=detach, zero_grad=zero_grad)
    assert (run.loss - losses).abs().max() < 1e-6
    assert (run.keys[-1] - keys).abs().max() < 1e-4
    assert (run.values[-1] - values).abs().max() < 1e-4


def test_closed_form_equals_autograd_in_float64():
    """The identity itself: batched closed-form gradient + written-out Adam = autograd +
    torch.optim.Adam, every variant at once, to 1e-10 in float64."""
    settings = [ToySetting(detach=d, zero_grad=z) for d in DETACH for z in (False, True)]
    settings += [ToySetting(scale=1.0, lr=1e-3, seed=3), ToySetting(detach="none", balanced=True)]
    batched = train_toys(3, settings, n_pairs=30, steps=200, dtype=torch.float64)
    for s, b in zip(settings, batched):
        alone = train_toy(3, n_pairs=30, steps=200, method="autograd", dtype=torch.float64,
                          detach=s.detach, zero_grad=s.zero_grad, scale=s.scale, lr=s.lr,
                          seed=s.seed, balanced=s.balanced)
        assert b.setting == s and b.loss.dtype == torch.float64
        assert (b.loss - alone.loss).abs().max() < 1e-12
        assert (b.keys - alone.keys).abs().max() < 1e-10
        assert (b.values - alone.values).abs().max() < 1e-10


def test_scores_too_large_for_exp_stay_exact():
    """Scores up to ~270 (exp overflows float32 above ~88): the softmax is shift-invariant, so
    the closed form, reading through kernels.retrieve's shifted softmax, stays finite and is
    still autograd's run (to 1e-10 in float64; in float32 the losses to float noise)."""
    k0 = init_pairs(20, 2)[0]
    assert float((200.0 * k0 @ k0.T).max()) > 200                   # far past float32's exp
    for dtype, loss_tol, key_tol in ((torch.float64, 1e-12, 1e-9), (torch.float32, 1e-6, None)):
        fast = train_toy(2, n_pairs=20, steps=30, scale=200.0, dtype=dtype)
        plain = train_toy(2, n_pairs=20, steps=30, scale=200.0, method="autograd", dtype=dtype)
        assert torch.isfinite(fast.loss).all() and torch.isfinite(fast.keys).all()
        assert (fast.loss - plain.loss).abs().max() < loss_tol
        if key_tol is not None:        # float32: near-one-hot weights, Adam scales tiny gradients up
            assert (fast.keys - plain.keys).abs().max() < key_tol


def test_a_diverging_run_is_an_error_naming_the_learning_rate():
    k, v, c = init_pairs(20, 2)
    with pytest.raises(ValueError, match=r"lr: the optimisation diverged at Adam step \d+ .* lr=1e\+30"):
        closed_form_adam(k[None], v[None], CLASS_FEATURES[c][None], lr=1e30, steps=5)
    with pytest.raises(ValueError, match=r"lr: the optimisation diverged .* lr=1e\+30"):
        train_toy(2, n_pairs=20, steps=5, lr=1e30)


def _quadrant_share(keys, classes, cls, signs):
    k = keys[classes == cls]
    return float((torch.sign(k) == signs).all(1).float().mean())


def test_two_classes_take_opposite_quadrants_and_values_the_features(two):
    """Paper §5.1: keys of the two classes in opposite quadrants, values at the class features."""
    for run in two:                                  # published and text settings alike
        keys, vals, c = run.keys[-1], run.values[-1], run.classes
        m0, m1 = keys[c == 0].mean(0), keys[c == 1].mean(0)
        signs = torch.sign(m0)
        assert torch.equal(torch.sign(m1), -signs) and (signs != 0).all()
        assert _quadrant_share(keys, c, 0, signs) == 1.0
        assert _quadrant_share(keys, c, 1, -signs) == 1.0
        for cls in (0, 1):
            assert (vals[c == cls].mean(0) - CLASS_FEATURES[cls]).norm() < 0.4


def test_three_classes_take_three_directions(three):
    keys, vals, c = three.keys[-1], three.values[-1], three.classes
    means = torch.stack([keys[c == k].mean(0) for k in range(3)])
    unit = means / means.norm(dim=1, keepdim=True)
    cos = unit @ unit.T
    assert cos[~torch.eye(3, dtype=bool)].max() < 0.5            # pairwise angles above 60 deg
    for cls in range(3):
        assert (vals[c == cls].mean(0) - CLASS_FEATURES[cls]).norm() < 0.1


def test_the_texts_setting_is_not_the_published_one(two):
    published, text = two
    assert text.setting.zero_grad and not published.setting.zero_grad
    assert torch.equal(text.loss[0], published.loss[0])          # same start
    assert text.final_loss > 1.5 * published.final_loss           # outside any noise
    assert abs(text.final_loss - PUBLISHED[2]) > 0.10 * PUBLISHED[2]


def test_detaching_the_query_role_instead_does_not_learn():
    run = train_toy(2, detach="query", steps=2000)
    assert run.final_loss > 0.2                                   # chance: 0.25


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_classes"):
        train_toy(4)
    with pytest.raises(ValueError, match="steps"):
        train_toy(2, steps=0)
    with pytest.raises(ValueError, match="detach"):
        train_toy(2, detach="keys")
    with pytest.raises(TypeError, match="zero_grad"):
        train_toy(2, zero_grad="yes")
    with pytest.raises(ValueError, match="scale"):
        train_toy(2, scale=-1.0)
    with pytest.raises(ValueError, match="lr"):
        train_toy(2, lr=0)
    with pytest.raises(ValueError, match="method"):
        train_toy(2, method="jax")
    with pytest.raises(ValueError, match="detatch"):
        train_toys(2, [{"detatch": "query"}])
    with pytest.raises(ValueError, match="settings"):
        train_toys(2, [])
    with pytest.raises(ValueError, match="dtype"):
        train_toy(2, dtype=torch.float16)
    k, v, _ = init_pairs(10, 2)
    with pytest.raises(ValueError, match="values: expected the keys' shape"):
        toy_readout(k, v[:3])
    from kvlib.figures.ch6_simulations import fig2a
    with pytest.raises(ValueError, match="zero"):
        fig2a("cpu", progress=False, zero=True)


def test_benchmark_reports_both_methods():
    from kvlib.toy import benchmark_toy
    res = benchmark_toy(repeats=1, steps=30)
    assert res["steps"] == 30 and res["fast_s"] > 0 and res["autograd_s"] > 0
    assert res["ratio"] == pytest.approx(res["fast_s"] / res["autograd_s"])
    assert res["max_abs_loss_diff"] < 1e-5
