"""Summaries of attention weights: concentration, Lorenz shares, the source's per-class views."""
from __future__ import annotations

import pytest
import torch

from kvlib import attention_stats as A

F64 = torch.float64


def test_concentration_extremes_and_lorenz():
    N = 1000
    one = torch.zeros(2, N, dtype=F64)
    one[:, 17] = 3.0
    c = A.attention_concentration(one, (0.001, 0.5))
    assert torch.allclose(c["top_0.001"], torch.ones(2, dtype=F64))
    assert torch.allclose(c["participation"], torch.full((2,), 1 / N, dtype=F64))
    flat = torch.ones(1, N, dtype=F64)
    c = A.attention_concentration(flat, (0.001, 0.01, 0.5))
    for f in (0.001, 0.01, 0.5):
        assert c[f"top_{f:g}"].item() == pytest.approx(f)
    assert c["participation"].item() == pytest.approx(1.0)
    assert c["peak_to_median"].item() == pytest.approx(1.0)
    # a geometric profile: the top k of N hold (1 - r^k) / (1 - r^N)
    r = 0.99
    geo = r ** torch.arange(N, dtype=F64)[None].flip(-1)
    share = A.lorenz(geo, [0.01, 0.1])
    assert torch.allclose(share[0], torch.tensor([(1 - r ** k) / (1 - r ** N) for k in (10, 100)],
                                                 dtype=F64), atol=1e-12)
    with pytest.raises(ValueError, match="fractions"):
        A.lorenz(flat, [0.0])
    with pytest.raises(ValueError, match="att"):
        A.attention_concentration(-flat)


def test_class_views_vote_and_top_k_on_planted_patterns():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    att = torch.tensor([[5.0, 4.0, 1.0, 1.0, 0.5, 0.5],      # top and vote: class 0
                        [3.0, 0.0, 2.0, 2.0, 0.1, 0.0]], dtype=F64)   # top: 0, vote: 1
    v = A.class_views(att, labels, torch.tensor([0, 1]), torch.tensor([0, 2]), k=1, n_classes=3)
    assert v["vote"].tolist() == [0, 1]
    assert v["vote_is_label"].tolist() == [1.0, 1.0]
    assert v["vote_is_output"].tolist() == [1.0, 0.0]
    assert v["same_class_top"].tolist() == [1.0, 0.0]
    per = A.sorted_per_class(att[0], labels, fraction=0.5, n_classes=3)
    assert [t.tolist() for t in per] == [[5.0], [1.0], [0.5]]
    steps = torch.tensor([0, 0, 1, 1, 2, 2])
    assert A.aggregate(att, steps).tolist() == [[9.0, 2.0, 1.0], [3.0, 4.0, 0.1]]


def test_shuffled_queries_keep_their_values_and_lose_their_order():
    x = torch.arange(24, dtype=F64).view(2, 12)
    s = A.shuffle_queries(x, torch.Generator().manual_seed(0))
    assert torch.equal(s.sort(-1).values, x)
    assert not torch.equal(s, x)
    with pytest.raises(TypeError, match="generator"):
        A.shuffle_queries(x, 0)


def test_an_all_zero_query_gives_zero_shares_not_nan():
    c = A.attention_concentration(torch.zeros(1, 10, dtype=F64), (0.1,))
    assert all(float(v) == 0 for v in c.values())


def test_one_sort_serves_both_summaries():
    att = torch.rand(3, 50, generator=torch.Generator().manual_seed(0), dtype=F64)
    desc = A.sorted_weights(att)
    assert (desc[:, :-1] >= desc[:, 1:]).all()
    for key, value in A.attention_concentration(att, (0.1, 0.5)).items():
        assert torch.equal(value, A.attention_concentration(desc, (0.1, 0.5), presorted=True)[key])
    assert torch.equal(A.lorenz(att, [0.2]), A.lorenz(desc, [0.2], presorted=True))
