"""Contract examples for kvlib.keymaps (learned key/query maps and fixed scaffolds)."""
import torch

from contract import ex
from kvlib import keymaps, lookalikes


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _x(*shape, seed=0):
    return torch.rand(*shape, generator=_g(seed))


def _maps(kind="random"):
    return keymaps.KeyMaps(kind, d_in=16, d_key=4, seed=0)


EXAMPLES = {
    "thumbnail_matrix": ex(lambda: dict(side=8, block=2, dtype=torch.float64)),
    "KeyMaps": ex(lambda: dict(kind="index", d_in=16, d_key=4, seed=0, device="cpu"), options={"kind"}),
    "KeyMaps.keys": ex(lambda: dict(x=_x(3, 16)), target=lambda: _maps().keys),
    "KeyMaps.queries": ex(lambda: dict(x=_x(3, 16)), target=lambda: _maps("learned").queries),
    "KeyMaps.scores": ex(lambda: dict(cues=_x(2, 3, 16), x=_x(2, 5, 16, seed=1)),
                         target=lambda: _maps().scores),
    "KeyMaps.attention": ex(lambda: dict(cues=_x(2, 3, 16), x=_x(2, 5, 16, seed=1), beta=2.0),
                            target=lambda: _maps().attention),
    "KeyMaps.read": ex(lambda: dict(cues=_x(2, 3, 16), x=_x(2, 5, 16, seed=1), beta=2.0),
                       target=lambda: _maps("learned").read),
    "make_keymaps": ex(lambda: dict(kind="random", d_key=8, seed=0, device="cpu"), options={"kind"}),
    "fit_inverse_temperature": ex(lambda: dict(S=torch.randn(2, 4, 4, generator=_g()),
                                               grid=torch.tensor([0.5, 1.0, 2.0]))),
    "best_temperature_attention": ex(lambda: dict(maps=_maps(), x=_x(2, 4, 16), cues=_x(2, 4, 16, seed=1))),
    "train_learned_keys": ex(lambda: dict(maps=_maps("learned"), images=_x(24, 16),
                                          table=lookalikes.class_table(torch.arange(4).repeat_interleave(6)),
                                          steps=2, n_episodes=2, n_items=3, keep=0.5, noise=0.3, lr=1e-2,
                                          seed=0, progress=False)),
    "key_similarity": ex(lambda: dict(K=torch.randn(5, 3, generator=_g()))),
    "mean_offdiagonal": ex(lambda: dict(S=torch.randn(4, 4, generator=_g()))),
    "fixed_scaffold_accuracy": ex(lambda: dict(maps=keymaps.make_keymaps("random", d_key=8), device="cpu",
                                               correlated=False, n_items=4, n_episodes=2, seed=0)),
    "compare_scaffolds": ex(lambda: dict(device="cpu", n_items=4, keep=0.5, noise=0.3, d_key=16,
                                         train_steps=2, lr=3e-3, n_test_episodes=2, n_locations=50, seed=0,
                                         progress=False), timeout=60.0),
}
