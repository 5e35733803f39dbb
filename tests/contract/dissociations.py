"""Contract examples for kvlib.dissociations (§4.2, damage to keys or to values)."""
import torch

from contract import ex

EXAMPLES = {
    "degrade": ex(lambda: dict(x=torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), loss=0.5,
                               generator=torch.Generator().manual_seed(1))),
    "recognition_auc": ex(lambda: dict(old=torch.tensor([0.9, 0.4, 0.7]), new=torch.tensor([0.2, 0.5]))),
    "memory_lesions": ex(lambda: dict(levels=[0.0, 0.5], items=4, subjects=2, d_key=4, d_value=4, beta=20.0,
                                      cue_noise=2.0, recall_criterion=0.5, seed=0, device="cpu")),
}


def _lesions():
    from kvlib.dissociations import memory_lesions
    return memory_lesions(levels=[0.0, 0.9, 1.0], items=4, subjects=2, d_key=4, d_value=4, seed=0)


EXAMPLES["lesion_numbers"] = ex(lambda: dict(result=_lesions()))
