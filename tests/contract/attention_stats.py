"""Contract examples for kvlib.attention_stats."""
import torch

from contract import ex

F64 = torch.float64


def _q():
    return torch.rand(3, 6, generator=torch.Generator().manual_seed(1), dtype=F64)


def _att():
    return torch.rand(3, 40, generator=torch.Generator().manual_seed(2), dtype=F64)


EXAMPLES = {
    "aggregate": ex(lambda: dict(att=_att(), index=torch.arange(40) // 10, n=5)),
    "attention_concentration": ex(lambda: dict(att=_att(), fractions=(0.1, 0.5), presorted=False)),
    "lorenz": ex(lambda: dict(att=_att(), fractions=[0.1, 0.5], presorted=False)),
    "shuffle_queries": ex(lambda: dict(x=_q(), generator=torch.Generator().manual_seed(0))),
    "class_views": ex(lambda: dict(att=_att(), pattern_labels=torch.arange(40) % 10,
                                   query_labels=torch.tensor([0, 1, 2]), predictions=torch.tensor([0, 1, 1]),
                                   k=3, n_classes=10)),
    "sorted_per_class": ex(lambda: dict(att=_att()[0], pattern_labels=torch.arange(40) % 10,
                                        fraction=0.5, n_classes=10)),
    "sorted_weights": ex(lambda: dict(att=_att())),
}
