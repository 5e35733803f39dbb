"""Contract examples for kvlib.episodic (Chapter 5's read)."""
import torch

from contract import ex


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _qkv():
    g = _g()
    return dict(queries=torch.randn(3, 4, generator=g), keys=torch.randn(5, 4, generator=g),
                values=torch.randn(5, 2, generator=g))


EXAMPLES = {
    "weighted_recall": ex(lambda: dict(**_qkv(), beta=2.0, mask=torch.tensor([True, True, False, True, True]),
                              nothing=0.5, return_weights=True)),
    "sample_recall": ex(lambda: dict(queries=_qkv()["queries"], keys=_qkv()["keys"], beta=2.0, attempts=3,
                                     generator=_g(1), mask=torch.tensor([True, True, False, True, True]))),
    "random_unit": ex(lambda: dict(shape=(3, 4), generator=_g(), device="cpu")),
    "noisy_cue": ex(lambda: dict(x=torch.randn(3, 4, generator=_g()), noise=0.5, generator=_g(1))),
    "mean_se": ex(lambda: dict(x=torch.randn(6, 2, generator=_g()), dim=0)),
}
