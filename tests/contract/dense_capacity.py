"""Contract examples for kvlib.dense_capacity (Krotov & Hopfield's dense associative memory)."""
import torch

from contract import ex


def _pm1(P, d, seed=0):
    return 2.0 * torch.randint(0, 2, (P, d), generator=torch.Generator().manual_seed(seed)) - 1.0


EXAMPLES = {
    "energy": ex(lambda: dict(states=_pm1(2, 8), patterns=_pm1(5, 8, 1), kind="polynomial", degree=3),
                 options={"kind"}),
    "energy_field": ex(lambda: dict(states=_pm1(2, 8), patterns=_pm1(5, 8, 1), kind="polynomial", degree=3),
                       options={"kind"}),
    "dense_step": ex(lambda: dict(states=_pm1(2, 8), patterns=_pm1(5, 8, 1), kind="exponential", degree=2),
                     options={"kind"}),
    "flip_cues": ex(lambda: dict(patterns=_pm1(3, 8), n_flips=2, generator=torch.Generator().manual_seed(0))),
    "dense_bit_error": ex(lambda: dict(n_patterns=10, d=12, kind="polynomial", degree=3, flip=0.1, n_cues=4,
                                       seed=0, device="cpu"), options={"kind"}),
    "dense_capacity": ex(lambda: dict(d=10, kind="polynomial", degree=2, flip=0.1, error=0.05, n_cues=8,
                                      seeds=(0,), device="cpu"), options={"kind"}),
    "capacity_estimate": ex(lambda: dict(d=20, degree=3, flip=0.1, error=0.01)),
    "overlap_rate": ex(lambda: dict(flip=0.1)),
    "capacity_scaling": ex(lambda: dict(dims=(10, 20), degrees=(2,), exponential_dims=(6, 8), flip=0.1,
                                        error=0.05, n_cues=8, seeds=(0,), device="cpu", progress=False)),
}
