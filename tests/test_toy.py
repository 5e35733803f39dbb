import pytest
import torch

from kvlib.toy import CLASS_FEATURES, init_pairs, toy_readout, train_toy


def test_initialisation_follows_the_paper():
    k, v, c = init_pairs(200, 2, seed=42)
    assert k.shape == v.shape == (200, 2)
    assert 0 <= k.min() and k.max() < 1 and 0 <= v.min() and v.max() < 1
    _, _, cb = init_pairs(300, 3, seed=1, balanced=True)
    assert cb.bincount().tolist() == [100, 100, 100]


def test_readout_is_attention_over_sigmoid_values():
    k, v, _ = init_pairs(10, 2)
    out = toy_readout(k, v)
    attn = torch.softmax(k @ k.T / 2 ** 0.5, -1)
    assert torch.allclose(out, attn @ torch.sigmoid(v), atol=1e-6)
    with pytest.raises(ValueError, match="keys, values"):
        toy_readout(k, v[:3])


def test_keys_separate_and_values_store_the_class_features():
    run = train_toy(2)                            # the paper's setting: 200 pairs, 5,000 steps
    assert run.final_loss < 0.1 < run.loss[0]
    keys, vals, c = run.keys[-1], run.values[-1], run.classes
    m0, m1 = keys[c == 0].mean(0), keys[c == 1].mean(0)
    assert torch.dot(m0, m1) < 0                  # opposite quadrants
    for cls in (0, 1):                            # values sit nearer their own feature
        mean_v = vals[c == cls].mean(0)
        own = (mean_v - CLASS_FEATURES[cls]).norm()
        other = (mean_v - CLASS_FEATURES[1 - cls]).norm()
        assert own < 0.5 * other


def test_detached_queries_do_not_learn_in_the_paper_budget():
    run = train_toy(2, detach_queries=True, steps=2000)
    assert run.final_loss > 0.2


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_classes"):
        train_toy(4)
    with pytest.raises(ValueError, match="steps"):
        train_toy(2, steps=0)
