"""Contract examples for kvlib.toy_geometry (a two-class toy run of a few pairs and steps)."""
from contract import ex
from kvlib.toy import train_toy


def _run():
    return train_toy(2, n_pairs=8, steps=6, snapshots=3)


EXAMPLES = {
    "snapshot_index": ex(lambda: dict(run=_run(), at_step=2)),
    "quadrant_share": ex(lambda: dict(run=_run(), at_step=None)),
    "class_direction_cosine": ex(lambda: dict(run=_run(), at_step=4)),
    "value_gap": ex(lambda: dict(run=_run(), at_step=6)),
    "value_progress": ex(lambda: dict(run=_run(), at_step=2)),
    "key_drift": ex(lambda: dict(run=_run(), since_step=2)),
}
