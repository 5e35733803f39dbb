"""Contract examples for kvlib.long_retention (§4.1, decades and minutes)."""
import torch

from contract import ex


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


EXAMPLES = {
    "long_contexts": ex(lambda: dict(inputs=torch.randn(2, 300, 3, generator=_g()), drift=0.1)),
    "retention_curves": ex(lambda: dict(intervals=[1, 5], list_length=3, subjects=2, d=4, drift=0.1,
                                        item_weight=0.8, cue_noise=1.0, beta=20.0, threshold=0.4, seed=0,
                                        device="cpu")),
}


def _curves():
    from kvlib.long_retention import retention_curves
    return retention_curves(**{**EXAMPLES["retention_curves"].kwargs(), "intervals": [1, 10, 100]})


EXAMPLES["retention_numbers"] = ex(lambda: dict(result=_curves()))
