"""Contract examples for kvlib.interference (§4.1, free recall)."""
import torch

from contract import ex
from kvlib import interference as I


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _memory():
    return I.study_lists([3, 2], participants=3, d=8, generator=_g())


SMALL = dict(participants=3, d=8, seed=0, device="cpu")

EXAMPLES = {
    "ListMemory": ex(lambda: dict(keys=_memory().keys, list_id=_memory().list_id,
                                  contexts=_memory().contexts)),
    "study_lists": ex(lambda: dict(lengths=[3, 2], participants=3, d=8, item_share=0.35, list_overlap=0.2,
                                   generator=_g(), device="cpu")),
    "recall_list": ex(lambda: dict(memory=_memory(), target=0, beta=8.0, attempts=4, generator=_g(1),
                                   capacity=4)),
    "list_length_curve": ex(lambda: dict(lengths=[3, 5], attempts=[2, 4], beta=8.0, item_share=0.35,
                                         cue_noise=1.0, **SMALL)),
    "recovery_curve": ex(lambda: dict(length=5, max_attempts=6, first_attempts=2, beta=8.0, item_share=0.35,
                                      cue_noise=1.0, **SMALL)),
    "list_before_last": ex(lambda: dict(target_lengths=[3], last_lengths=[2, 4], attempts=3, beta=8.0,
                                        item_share=0.35, list_overlap=0.0, capacity=4, **SMALL)),
    "last_list_effect": ex(lambda: dict(result=I.list_before_last([3], [2, 4], participants=3, d=8),
                                        model="key_value"), options={"model"}),
}


def _curves():
    return dict(curve=I.list_length_curve(**EXAMPLES["list_length_curve"].kwargs()),
                recovery=I.recovery_curve(**EXAMPLES["recovery_curve"].kwargs()))


EXAMPLES["list_length_numbers"] = ex(_curves)
EXAMPLES["list_before_last_numbers"] = ex(lambda: dict(result=I.list_before_last([5, 10, 20], [2, 4],
                                                                                 participants=3, d=8)))
