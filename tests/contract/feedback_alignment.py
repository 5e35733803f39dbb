"""Contract examples for kvlib.feedback_alignment (tiny maps: 16 pixels, 8 hidden units)."""
import torch

from contract import ex
from kvlib import feedback_alignment as fa
from kvlib import lookalikes

EXEMPT = {"LEARNING_RULES": "a tuple of names"}


def _x(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _maps(rule="feedback-alignment"):
    return fa.HiddenKeyMaps(rule, d_in=16, n_hidden=8, d_key=4, seed=0)


def _table():
    return lookalikes.class_table(torch.arange(4).repeat_interleave(6))


EXAMPLES = {
    "HiddenKeyMaps": ex(lambda: dict(rule="backprop", d_in=16, n_hidden=8, d_key=4, seed=0, device="cpu"),
                        options={"rule"}),
    "HiddenKeyMaps.keys": ex(lambda: dict(x=_x(3, 16)), target=lambda: _maps().keys),
    "HiddenKeyMaps.scores": ex(lambda: dict(cues=_x(2, 3, 16), x=_x(2, 5, 16, seed=1)),
                               target=lambda: _maps().scores),
    "train_hidden_key_maps": ex(lambda: dict(maps=_maps(), images=_x(24, 16), table=_table(), steps=2,
                                             n_episodes=2, n_items=3, keep=0.5, noise=0.3, lr=1e-2, seed=0,
                                             progress=False)),
    "update_angle": ex(lambda: dict(maps=_maps(), images=_x(24, 16), table=_table(), n_episodes=2, n_items=3,
                                    keep=0.5, noise=0.3, seed=0)),
    "compare_learning_rules": ex(lambda: dict(device="cpu", rules=("feedback-alignment",), n_hidden=8,
                                              d_key=4, steps=2, n_episodes=2, lr=1e-3, n_test_episodes=2,
                                              seed=0, progress=False), timeout=60.0),
}
