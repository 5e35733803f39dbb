"""Chapter 2's retrieval task: episodes of look-alike or mixed items, partial noisy cues, the score."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import requires_data
from kvlib import lookalikes as L
from kvlib.keymaps import KeyMaps


def test_class_table_lists_each_class_in_data_set_order():
    y = torch.tensor([2, 0, 2, 1, 0, 1, 1, 2, 0])
    table = L.class_table(y)
    assert table.tolist() == [[1, 4, 8], [3, 5, 6], [0, 2, 7]]
    assert L.class_table(y, per_class=2).tolist() == [[1, 4], [3, 5], [0, 2]]
    with pytest.raises(ValueError, match="per_class"):
        L.class_table(y, per_class=4)
    with pytest.raises(TypeError, match="y"):
        L.class_table(y.float())


def test_episodes_are_look_alikes_or_mixed():
    y = torch.arange(10).repeat_interleave(30)
    table = L.class_table(y)
    assert table.shape == (10, 30) and (y[table] == torch.arange(10)[:, None]).all()
    g = torch.Generator().manual_seed(0)
    idx = L.sample_episodes(table, 50, 12, True, g)
    labels = y[idx]
    assert (labels == labels[:, :1]).all()                  # one class per episode
    assert all(len(set(r.tolist())) == 12 for r in idx)     # distinct items
    mixed = y[L.sample_episodes(table, 50, 12, False, g)]
    assert (mixed != mixed[:, :1]).any(1).float().mean() > 0.9
    with pytest.raises(ValueError, match="n_items"):
        L.sample_episodes(table, 2, 31, True, g)
    with pytest.raises(TypeError, match="generator"):
        L.sample_episodes(table, 2, 3, True, None)


def test_partial_noisy_cue_keeps_and_perturbs_at_the_stated_rates():
    g = torch.Generator().manual_seed(0)
    x = torch.ones(400, 500)
    kept = L.partial_noisy_cue(x, 0.3, 0.0, g)
    p = kept.mean().item()                                  # Bernoulli(0.3) over 200,000 pixels
    assert abs(p - 0.3) < 4 * math.sqrt(0.3 * 0.7 / x.numel())
    noisy = L.partial_noisy_cue(torch.zeros(400, 500), 1.0, 0.5, g)
    assert noisy.std().item() == pytest.approx(0.5, rel=0.01)
    assert torch.equal(L.partial_noisy_cue(x, 1.0, 0.0, g), x)   # keep everything, no noise


def test_partial_noisy_cue_on_uint8_images_keeps_the_noise():
    # issue 12: a uint8 image was cast back to uint8 after adding the noise, truncating it away
    img = torch.randint(0, 256, (4, 784), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    cue_int = L.partial_noisy_cue(img, 0.5, 0.3, torch.Generator().manual_seed(2))
    cue_float = L.partial_noisy_cue(img.float(), 0.5, 0.3, torch.Generator().manual_seed(2))
    assert cue_int.is_floating_point()
    assert torch.equal(cue_int, cue_float)                  # converted exactly, not rescaled
    assert (cue_int != cue_int.round()).float().mean() > 0.99   # the noise is there


def test_diagonal_accuracy_breaks_ties_fairly():
    g = torch.Generator().manual_seed(0)
    S = torch.eye(16)[None].repeat(4, 1, 1) + 0.01 * torch.rand(4, 16, 16, generator=g)
    assert L.diagonal_accuracy(S) == 1.0
    assert L.diagonal_accuracy(-S) == 0.0
    # every score tied: a fair tie-break is right 1 time in 16 (6,400 cues)
    acc = L.diagonal_accuracy(torch.ones(400, 16, 16))
    assert abs(acc - 1 / 16) < 4 * math.sqrt(1 / 16 * 15 / 16 / 6400)
    with pytest.raises(ValueError, match="scores"):
        L.diagonal_accuracy(torch.ones(3, 4, 5))


def test_cued_item_accuracy_of_clean_cues_is_perfect():
    g = torch.Generator().manual_seed(0)
    x = torch.eye(16)[None].repeat(4, 1, 1) + 0.01 * torch.rand(4, 16, 16, generator=g)
    maps = KeyMaps("autoassociative", d_in=16)
    assert L.cued_item_accuracy(maps, L.EpisodeBatch(x, x.clone())) == 1.0
    with pytest.raises(TypeError, match="memory"):
        L.cued_item_accuracy(object(), L.EpisodeBatch(x, x))
    with pytest.raises(ValueError, match="x, cues"):
        L.EpisodeBatch(x, x[:, :3])


def test_make_episodes_rejects_a_table_of_another_data_set():
    table = L.class_table(torch.arange(3).repeat_interleave(5))
    with pytest.raises(ValueError, match="table"):
        L.make_episodes(torch.rand(10, 4), table, 2, 3, True, 0.5, 0.1, torch.Generator())


@requires_data
def test_mnist_episodes_are_reproducible_test_digits():
    a = L.mnist_test_episodes(n_items=8, n_episodes=5, seed=3)
    b = L.mnist_test_episodes(n_items=8, n_episodes=5, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.cues, b.cues)
    assert a.x.shape == (5, 8, 784) and 0 <= float(a.x.min()) and float(a.x.max()) <= 1
    c = L.mnist_test_episodes(n_items=8, n_episodes=5, seed=4)
    assert not torch.equal(a.x, c.x)
    ex = L.mnist_example_episode(n_items=8, seed=3)
    assert ex.x.shape == (1, 8, 784) and not torch.equal(ex.x[0], a.x[0])   # its own stream
