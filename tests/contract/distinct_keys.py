"""Contract examples for kvlib.distinct_keys (§4.2)."""
from contract import ex

EXAMPLES = {
    "context_fear": ex(lambda: dict(days=[1, 3], reminder=True, keys=True, rats=3, beta=20.0, threshold=0.75,
                                    detail_memories=100.0, memories_per_day=4.0, context_similarity=0.5,
                                    cue_noise=0.2, d=8, seed=0, device="cpu")),
    "context_fear_conditions": ex(lambda: dict(long_delay=3.0, seed=0, device="cpu", rats=3, d=8,
                                               memories_per_day=4.0)),
    "repulsion": ex(lambda: dict(steps=3, pairs=2, participants=3, d=8, pair_similarity=0.8,
                                 other_similarity=0.2, cue_noise=0.3, beta=10.0, lr_range=(0.03, 1.0),
                                 release_steps=2, record_every=2, seed=0, device="cpu", progress=False),
                    # the correlation across participants is NaN (undefined) when discrimination does
                    # not vary, as at beta = 1e4 where every participant retrieves perfectly
                    result_nonfinite_ok=True),
}


def _repulsion():
    from kvlib.distinct_keys import repulsion
    return repulsion(**EXAMPLES["repulsion"].kwargs())


# rep_cross is NaN by design when the pairmates' keys never fall below the others' (a 3-step run)
EXAMPLES["repulsion_numbers"] = ex(lambda: dict(result=_repulsion()), result_nonfinite_ok=True)
