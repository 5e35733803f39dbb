"""Contract examples for kvlib.plasticity."""
import torch

from contract import ex
from kvlib import hopfield
from kvlib import plasticity as pl


def _items(n=4, d=6, seed=0):
    return hopfield.random_patterns(n, d, torch.Generator().manual_seed(seed))


def _memory():
    mem = pl.SlotMemory(3, 4, local="lru", generator=torch.Generator().manual_seed(0))
    mem.write(torch.tensor([1.0, -1.0, 1.0, 1.0]))
    return mem


def _streams(seed=0, R=2, T=5, n=3, d=4):
    g = torch.Generator().manual_seed(seed)
    X = (torch.randint(0, 2, (R, T, d), generator=g) * 2 - 1).double()
    G = torch.zeros(R, T, n, dtype=torch.float64)
    G[:, torch.arange(T), torch.arange(T) % n] = 1.0
    return dict(X=X, G=G, K0=torch.zeros(R, n, d, dtype=torch.float64),
                V0=torch.full((R, n, d), 1e-10, dtype=torch.float64))


EXAMPLES = {
    "random_rate": ex(lambda: dict(n_slots=40, p_random=None)),
    "SlotMemory": ex(lambda: dict(n_slots=3, d_key=4, local="random", p_random=0.5, beta=1.0,
                                  value_rule="eq13", tie_noise=1e-10,
                                  generator=torch.Generator().manual_seed(0), device="cpu"),
                     options={"local", "value_rule"}),
    "SlotMemory.write": ex(lambda: dict(x=torch.tensor([1.0, -1.0, -1.0, 1.0]), v=None, mu=1,
                                        gamma=torch.tensor([0.0, 1.0, 0.0])),
                           target=lambda: _memory().write),
    "SlotMemory.recall": ex(lambda: dict(q=torch.tensor([[1.0, -1.0, 1.0, 0.0]]), touch=True),
                            target=lambda: _memory().recall),
    "SlotMemory.attention": ex(lambda: dict(q=torch.tensor([[1.0, -1.0, 1.0, 0.0]])),
                               target=lambda: _memory().attention),
    "partial_cue": ex(lambda: dict(items=_items(), fraction_zeroed=0.6,
                                   generator=torch.Generator().manual_seed(1), exact=False)),
    "bit_accuracy": ex(lambda: dict(recalled=torch.randn(4, 6, generator=torch.Generator().manual_seed(2)),
                                    target=_items())),
    "write_changes": ex(lambda: dict(n_slots=4, dim=5, n_filled=2, seed=0, device="cpu")),
    "last_writes": ex(lambda: dict(G=_streams()["G"])),
    "write_streams": ex(lambda: dict(**_streams(), value_rule="eq13", beta=1.0, lr_value=0.5),
                        options={"value_rule"}),
    "final_weights": ex(lambda: dict(**_streams(), value_rule="eq13", beta=1.0, lr_value=0.5, last=None),
                        options={"value_rule"}),
    "read_slots": ex(lambda: dict(keys=torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0)),
                                  values=torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(1)),
                                  cues=torch.randn(2, 5, 4, generator=torch.Generator().manual_seed(2)),
                                  beta=1.0)),
}
