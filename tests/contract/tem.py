"""Contract examples for kvlib.tem (a 4 × 4 torus, short walks)."""
import torch

from contract import ex
from kvlib import tem


def _torus():
    return tem.Torus(4)


def _memory():
    return tem.TEMMemory(_torus().n_g, 3, batch=2)


def _rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _g(B=2):
    tor = _torus()
    return tor.code(torch.tensor([[0, 1], [2, 3]])[:B])


EXAMPLES = {
    "Torus": ex(lambda: dict(size=4, max_frequency=None, amplitude=0.1, device="cpu")),
    "Torus.index": ex(lambda: dict(xy=torch.tensor([[0, 1], [5, -1]])), target=lambda: _torus().index),
    "Torus.code": ex(lambda: dict(xy=torch.tensor([[0, 1], [5, -1]])), target=lambda: _torus().code),
    "Torus.step": ex(lambda: dict(g=_g(), actions=torch.tensor([0, 3])), target=lambda: _torus().step),
    "random_walk": ex(lambda: dict(n_steps=5, n_walks=2, start=(0, 1),
                                   generator=torch.Generator().manual_seed(0))),
    "two_hot_codes": ex(lambda: dict(n_obs=6, n_cells=4)),
    "TEMMemory": ex(lambda: dict(n_g=4, n_x=3, batch=2, lam=0.9999, eta=0.5, kappa=0.8, n_iter=5,
                                 device="cpu")),
    "TEMMemory.conjunction": ex(lambda: dict(g=_g(), x=_rand(2, 3)),
                                target=lambda: _memory().conjunction),
    "TEMMemory.query": ex(lambda: dict(g=_g()), target=lambda: _memory().query),
    "TEMMemory.attractor": ex(lambda: dict(h=_rand(2, _torus().n_g * 3)),
                              target=lambda: _memory().attractor),
    "TEMMemory.hebbian": ex(lambda: dict(p=_rand(2, _torus().n_g * 3),
                                         p_hat=_rand(2, _torus().n_g * 3, seed=1)),
                            target=lambda: _memory().hebbian),
    "TEMMemory.read_x": ex(lambda: dict(p=_rand(2, _torus().n_g * 3)),
                           target=lambda: _memory().read_x),
    "tem_walk": ex(lambda: dict(torus=_torus(), n_steps=8, n_envs=2, n_obs=6, n_x=4,
                                generator=torch.Generator().manual_seed(0))),
    "tem_experiment": ex(lambda: dict(torus=_torus(), n_steps=8, n_envs=2, bins=(0.0, 0.5, 1.0), seed=0,
                                      device="cpu")),
}
