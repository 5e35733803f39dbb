"""Contract examples for kvlib.astrocytes."""
import torch

from contract import ex
from kvlib import astrocytes as A


def _f():
    return A.random_features(4, 16, torch.Generator().manual_seed(0))


def _x(n, seed, d=4):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) / 2


def _net():
    net = A.NeuronAstrocyteNetwork(_f())
    net.write(_x(5, 1), _x(5, 2, 3))
    return net


EXAMPLES = {
    "random_features": ex(lambda: dict(d=4, m=16, generator=torch.Generator().manual_seed(0), device="cpu")),
    "kernel_attention": ex(lambda: dict(Q=_x(3, 0), K=_x(5, 1), V=_x(5, 2, 3), features=_f(),
                                        mask=torch.tensor([True, False, True, True, True]))),
    "NeuronAstrocyteNetwork": ex(lambda: dict(features=_f())),
    "NeuronAstrocyteNetwork.write": ex(lambda: dict(K=_x(5, 1), V=_x(5, 2, 3)),
                                       target=lambda: A.NeuronAstrocyteNetwork(_f()).write),
    "NeuronAstrocyteNetwork.read": ex(lambda: dict(Q=_x(3, 0)), target=lambda: _net().read),
    "astrocyte_error_curve": ex(lambda: dict(n_features=[8, 16], d=4, n_memories=5, n_queries=3, seeds=[0],
                                             device="cpu")),
    "astrocyte_comparison": ex(lambda: dict(m=16, n_features=[8, 16], n_memories=5, n_queries=3, d=4, seed=0,
                                            device="cpu")),
}
