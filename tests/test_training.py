"""The training loops: seeded, checked, and a run that diverges stops with a clear error."""
from __future__ import annotations

import pytest
import torch

from conftest import requires_data
from kvlib import training as T
from kvlib.recorder import MemoryRecorder

F64 = torch.float64


def test_make_mlp_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    T.make_mlp((4, 3, 2), seed=5)
    assert torch.equal(state, torch.random.get_rng_state())
    a, b = T.make_mlp((4, 3), seed=5), T.make_mlp((4, 3), seed=5)
    assert torch.equal(a[0].weight, b[0].weight)
    assert not torch.equal(a[0].weight, T.make_mlp((4, 3), seed=6)[0].weight)
    with pytest.raises(ValueError, match="sizes"):
        T.make_mlp((4,))


def test_train_classifier_records_example_indices_and_stops_on_divergence():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 6, generator=g, dtype=F64), torch.randint(3, (40,), generator=g)
    model = T.make_mlp((6, 5, 3), seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    rec = MemoryRecorder(model, opt)
    losses = T.train_classifier(model, opt, x, y, epochs=2, batch_size=16, recorder=rec, id_offset=100)
    assert len(losses) == 2 * 3                                   # ceil(40 / 16) steps per epoch
    ids = rec.memories["0"].example_ids()
    assert sorted(ids[:40].tolist()) == list(range(100, 140))     # each example once per epoch
    assert len(T.train_classifier(model, opt, x, y, epochs=5, steps=4)) == 4
    hot = T.make_mlp((6, 5, 3), seed=0)
    with pytest.raises(ValueError, match=r"diverged.*\blr\b"):
        T.train_classifier(hot, torch.optim.SGD(hot.parameters(), lr=1e300), x, y, epochs=20)
    with pytest.raises(ValueError, match="y: expected shape"):
        T.train_classifier(model, opt, x, y[:5])


def test_train_layer_is_seeded_and_exact():
    a, rec_a = T.train_layer(steps=5, seed=3)
    b, _ = T.train_layer(steps=5, seed=3)
    assert torch.equal(a.weight, b.weight)
    assert (rec_a.memories[""].weight() - a.weight.detach()).abs().max() <= 1e-12
    with pytest.raises(ValueError, match="approximate"):
        T.train_layer(momentum=0.9)


@requires_data
@pytest.mark.parametrize("seed", [0, 1])
def test_sequential_tasks_forget_yet_erase_nothing(seed):
    res = T.sequential_tasks(seed=seed, n_per_task=2000)
    after1, after2 = res["accuracy_after_task1"], res["accuracy_after_task2"]
    assert after1["task1"] > 0.95 and after2["task2"] > 0.85      # 31 steps: 0.89-0.95 over seeds
    assert after2["task1"] < after1["task1"] - 0.3                   # interference
    assert res["max_abs_diff_without_task2_vs_after_task1"] <= 1e-10  # ...but nothing erased
    assert res["task1_accuracy_without_task2_memories"] == after1["task1"]
    mem = res["recorder"].memories["2"]
    assert set(mem.tags) == {"task1", "task2"}
    ids = mem.example_ids()
    assert ids.min() == 0 and ids.max() == res["train_x"].shape[0] - 1
    for layers in res["shares"].values():                      # shares are a decomposition
        for shares in layers.values():
            assert sum(shares.values()) == pytest.approx(1.0, abs=1e-10)
    # task-1 digits: in the output layer task 2's memories outvote task 1's
    out = res["shares"]["task1"]["2"]
    assert out["task2"] > out["task1"]
