"""Contract examples for kvlib.lookalikes (Chapter 2's retrieval task with look-alike items)."""
import torch

from contract import ex
from kvlib import keymaps, lookalikes


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _labels():
    return torch.arange(4).repeat_interleave(6)                       # 4 classes x 6 examples


def _images():
    return torch.rand(24, 16, generator=_g(1))


def _episodes():
    x = torch.rand(2, 5, 16, generator=_g(2))
    return lookalikes.EpisodeBatch(x=x, cues=x + 0.1 * torch.randn(2, 5, 16, generator=_g(3)))


def _scores():
    return torch.randn(2, 5, 5, generator=_g(4))


EXAMPLES = {
    "class_table": ex(lambda: dict(y=_labels(), per_class=5)),
    "sample_episodes": ex(lambda: dict(table=lookalikes.class_table(_labels()), n_episodes=3, n_items=4,
                                       correlated=True, generator=_g())),
    "partial_noisy_cue": ex(lambda: dict(x=_images(), keep=0.5, noise=0.3, generator=_g())),
    "EpisodeBatch": ex(lambda: dict(x=torch.rand(2, 5, 16, generator=_g(2)),
                                    cues=torch.rand(2, 5, 16, generator=_g(3)))),
    "make_episodes": ex(lambda: dict(images=_images(), table=lookalikes.class_table(_labels()),
                                     n_episodes=3, n_items=4, correlated=False, keep=0.5, noise=0.3,
                                     generator=_g())),
    "mnist_test_episodes": ex(lambda: dict(device="cpu", correlated=True, n_items=4, keep=0.5, noise=0.3,
                                           n_episodes=2, seed=0)),
    "mnist_example_episode": ex(lambda: dict(device="cpu", n_items=4, keep=0.5, noise=0.3, seed=0)),
    "diagonal_accuracy": ex(lambda: dict(scores=_scores(), seed=0)),
    "cued_item_accuracy": ex(lambda: dict(memory=keymaps.KeyMaps("random", d_in=16, d_key=4),
                                          episodes=_episodes(), seed=0)),
}
