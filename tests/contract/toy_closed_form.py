"""Contract examples for kvlib.toy_closed_form (two toy problems of four pairs, three Adam steps)."""
import torch

from contract import ex


def _problem():
    g = torch.Generator().manual_seed(0)
    keys, values = torch.rand(2, 4, 2, generator=g), torch.rand(2, 4, 2, generator=g)
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])[torch.randint(2, (2, 4), generator=g)]   # (2, 4, 2)
    return dict(keys=keys, values=values, targets=targets)


EXAMPLES = {
    "closed_form_adam": ex(lambda: dict(**_problem(), scale=0.7, lr=1e-3, query_role=True,
                                        memory_role=[False, True], accumulate=True, steps=3,
                                        snapshot_steps=[1, 3], progress=False)),
}
