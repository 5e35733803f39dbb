"""Contract examples for kvlib.separation_completion."""
import torch

from contract import ex

F64 = torch.float64
SMALL = dict(d=24, units=60, clusters=3, members=2, cues=4)


def _pm1(rows, cols, seed):
    return torch.randint(0, 2, (rows, cols), generator=torch.Generator().manual_seed(seed)).to(F64) * 2 - 1


def _khot(rows, cols, k, seed):
    idx = torch.rand(rows, cols, generator=torch.Generator().manual_seed(seed)).topk(k, dim=1).indices
    return torch.zeros(rows, cols, dtype=F64).scatter_(1, idx, 1.0)


def _ca3_kwargs():
    from kvlib.separation_completion import ca3_weights
    return dict(weights=ca3_weights(_pm1(3, 16, 0)), cues=_pm1(2, 16, 1), active=None, max_steps=5)


EXAMPLES = {
    "flip_exactly": ex(lambda: dict(x=_pm1(3, 10, 0), fraction=0.2,
                                    generator=torch.Generator().manual_seed(1))),
    "code_similarity": ex(lambda: dict(a=_pm1(3, 10, 0), b=_pm1(3, 10, 1))),
    "dentate_code": ex(lambda: dict(x=_pm1(3, 10, 0), active=4,
                                    weights=torch.randn(10, 30, generator=torch.Generator().manual_seed(2),
                                                        dtype=F64))),
    "ca3_weights": ex(lambda: dict(keys=_khot(3, 20, 4, 0), sparse=True)),
    "ca3_complete": ex(_ca3_kwargs),
    "clustered_keys": ex(lambda: dict(clusters=3, members=2, d=12, spread=0.1,
                                      generator=torch.Generator().manual_seed(0))),
    "similarity_transfer": ex(lambda: dict(similarities=(0.0, 0.5, 1.0), active=5, spread=0.1, seed=0,
                                           **SMALL)),
    "key_path_recall": ex(lambda: dict(noise=(0.0, 0.2), paths=("direct", "separation+completion"), active=5,
                                       spread=0.1, value_dims=8, seeds=1, seed=0, **SMALL)),
    "separation_completion_tradeoff": ex(lambda: dict(actives=(5, 10), noise=0.2, spread=0.1, seed=0,
                                                      **SMALL)),
}


def _runs():
    from kvlib import separation_completion as sc
    return dict(transfer=sc.similarity_transfer(similarities=(0.0, 0.5, 1.0), active=5, seed=0, **SMALL),
                recall=sc.key_path_recall(noise=(0.0, 0.2), active=5, seeds=1, seed=0, **SMALL),
                tradeoff=sc.separation_completion_tradeoff(actives=(5, 10), noise=0.2, seed=0, **SMALL),
                active=5)


EXAMPLES["nearest_value"] = ex(lambda: dict(curve=[1.0, 2.0, 3.0], grid=[0.0, 0.5, 1.0], x=0.4))
EXAMPLES["separation_completion_numbers"] = ex(_runs)
