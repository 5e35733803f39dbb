"""Contract examples for kvlib.pointers (§4.3, keys matched, values not retrieved)."""
from contract import ex

EXAMPLES = {
    "familiarity_recollection": ex(lambda: dict(people=6, subjects=2, d=4, context_weight=0.5, cue_noise=1.0,
                                                beta=30.0, threshold=0.6, strength_range=(0.3, 1.0),
                                                recall_criterion=0.5, readout_noise=2.0, false_alarms=0.05,
                                                letters=3, seed=0, device="cpu")),
    "change_detection": ex(lambda: dict(memory_sizes=[5, 8], set_size=2, trials=3, subjects=2, d=4,
                                        pointer_noise=3.0, beta=30.0, false_alarms=0.05, seed=0,
                                        device="cpu")),
}


def _runs():
    from kvlib.pointers import change_detection, familiarity_recollection
    return dict(faces=familiarity_recollection(**EXAMPLES["familiarity_recollection"].kwargs()),
                change=change_detection(**EXAMPLES["change_detection"].kwargs()))


EXAMPLES["pointer_numbers"] = ex(_runs)
