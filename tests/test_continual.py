import json
import subprocess
import sys

import pytest
import torch
from torch import nn

from conftest import requires_data
from kvlib.continual import (
    ContinualConfig,
    beta_sweep,
    fraction_sweep,
    make_model,
    reactivated_weights,
    run_continual,
)


def test_init_matches_the_paper_range():
    m = make_model(64, seed=0)
    assert m[0].weight.abs().max() <= 784 ** -0.5 and m[2].weight.abs().max() <= 64 ** -0.5
    assert m[0].bias is None and m[2].bias is None


def test_one_weight_equals_the_notebooks_frozen_plus_fresh_copy():
    """SGD on W (all steps) = SGD on W1 (task 1) then on W2 from zero with W1 frozen."""
    torch.manual_seed(0)
    xs = [torch.randn(16, 5, dtype=torch.float64) for _ in range(6)]
    ys = [torch.randint(0, 3, (16,)) for _ in range(6)]
    W = torch.randn(3, 5, dtype=torch.float64)
    w = W.clone().requires_grad_()
    opt = torch.optim.SGD([w], lr=0.1)
    for x, y in zip(xs, ys):
        opt.zero_grad()
        nn.functional.cross_entropy(x @ w.T, y).backward()
        opt.step()
    w1 = W.clone().requires_grad_()
    w2 = torch.zeros_like(W, requires_grad=True)
    opt = torch.optim.SGD([w1, w2], lr=0.1)
    for i, (x, y) in enumerate(zip(xs, ys)):
        w1.requires_grad_(i < 3)
        w2.requires_grad_(i >= 3)
        opt.zero_grad()
        nn.functional.cross_entropy(x @ (w1 + w2).T, y).backward()
        opt.step()
    assert (w - (w1 + w2)).abs().max() < 1e-12


def test_bad_config():
    with pytest.raises(ValueError, match="setting"):
        ContinualConfig(setting="paper")
    with pytest.raises(ValueError, match="lr"):
        ContinualConfig(lr=-1)
    with pytest.raises(ValueError, match="batch_size"):
        ContinualConfig(batch_size=0)


@pytest.fixture(scope="module")
def run():
    return run_continual(ContinualConfig(), device="cpu")


@requires_data
def test_reproduces_the_published_curves(run):
    a1, a2 = run.task1_acc, run.task2_acc
    assert len(a1) == len(a2) == 11
    assert a1[5] >= 99 and a1[10] <= 15 and a2[10] >= 93
    # same initial weights and data order as the published notebook: same numbers
    assert abs(a1[0] - 48.5) < 0.1 and abs(a1[10] - 9.125) < 0.5 and abs(a2[10] - 94.95) < 0.5


@requires_data
def test_memories_rebuild_the_network_and_reactivation_recovers_task1(run):
    W_in, W_out = reactivated_weights(run, 1.0)
    assert torch.allclose(W_in, run.model[0].weight, atol=1e-5)
    assert torch.allclose(W_out, run.model[2].weight, atol=1e-5)
    x = run.test["task1"][0][:64]
    dual = run.memories["2"](torch.relu(run.memories["0"](x)))
    assert (dual - run.model(x)).abs().max() < 1e-4
    sweep = beta_sweep(run, [1.0, 1.7])
    assert sweep["task1"][0] <= 15 and sweep["task1"][1] >= 95
    assert sweep["task2"][0] > sweep["task2"][1]              # the price: Task 2 degrades
    with pytest.raises(ValueError, match="beta"):
        reactivated_weights(run, -0.5)


@requires_data
def test_fraction_sweep_interpolates(run):
    res = fraction_sweep(run, [0.0, 0.25, 0.5, 1.0], [1.0, 1.7, 3.0])
    full = beta_sweep(run, [1.0, 1.7], scale_w0=False)["task1"]
    assert res[0.0][1] == pytest.approx(full[0], abs=0.05)    # nothing reactivated
    assert res[1.0][1] == pytest.approx(full[1], abs=0.05)    # everything reactivated
    assert len({acc[0] for acc in res.values()}) == 1         # beta = 1 changes nothing
    for b in (1, 2):           # more of the old memories reactivated: more of Task 1 comes back
        accs = [res[f][b] for f in (0.0, 0.25, 0.5, 1.0)]
        assert all(hi > lo + 5 or min(lo, hi) > 99 for lo, hi in zip(accs, accs[1:])), accs   # 99: saturated


@requires_data
def test_cli_reproduces_fig3(tmp_path):
    out = subprocess.run([sys.executable, "-m", "kvlib", "reproduce", "fig3", "--out",
                          str(tmp_path), "--device", "cpu", "--no-progress"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rec = json.loads((tmp_path / "fig3.json").read_text())
    assert (tmp_path / "fig3.png").stat().st_size > 10_000
    assert rec["task1_acc"][5] >= 99 and rec["task1_acc"][10] <= 15 and rec["task2_acc"][10] >= 93
    assert rec["task1_acc_vs_beta"][rec["beta"].index(1.7)] >= 95
    assert rec["beta"][0] == 1.0 and rec["beta"][-1] == 3.0
    assert rec["memory_readout_max_abs_diff"] < 1e-4
    assert rec["provenance"]["device"] == "cpu"


def test_cli_errors_are_clear():
    out = subprocess.run([sys.executable, "-m", "kvlib", "reproduce", "fig99"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "valid figures are" in out.stderr and "fig3" in out.stderr
    out = subprocess.run([sys.executable, "-m", "kvlib", "reproduce", "fig2a", "--device", "tpu"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "device" in out.stderr
    out = subprocess.run([sys.executable, "-m", "kvlib", "list"], capture_output=True, text=True)
    assert out.returncode == 0 and all(f in out.stdout for f in ("fig2a", "fig2b", "fig3"))


@requires_data
def test_a_sweep_sums_the_memories_once_per_layer(run, monkeypatch):
    """Eq 10 is linear in beta: a sweep needs each layer's per-task sums once, not once per beta."""
    import dataclasses

    from kvlib.dualform import LayerMemory
    fresh = {n: LayerMemory(m.name, m.W0, m.has_bias, keys=m.keys, values=m.values, decay=m.decay,
                            tags=m.tags) for n, m in run.memories.items()}    # nothing summed yet
    run = dataclasses.replace(run, memories=fresh)
    calls = []
    real = LayerMemory.step_weights           # asked once each time a layer sums its memories
    monkeypatch.setattr(LayerMemory, "step_weights", lambda self, *a, **k: calls.append(self.name)
                        or real(self, *a, **k))
    before = torch.get_num_threads()
    betas = [1.0, 1.5, 2.0]
    sweep = beta_sweep(run, betas)
    assert sorted(calls) == ["0", "2"]                        # one per layer, not per beta
    assert beta_sweep(run, betas) == sweep and len(calls) == 2    # the second sweep sums nothing
    assert torch.get_num_threads() == before                  # the thread setting is restored
