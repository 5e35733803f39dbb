"""Contract examples for kvlib.accessibility (§4.1, Berens et al. 2020)."""
import torch

from contract import ex

SMALL = dict(n_pairs=4, participants=2, d=8, seed=0, device="cpu")


def _errors():
    g = torch.Generator().manual_seed(0)
    return torch.cat([0.2 * torch.randn(40, generator=g), 6.2 * torch.rand(10, generator=g) - 3.1])


EXAMPLES = {
    "word_location_errors": ex(lambda: dict(intervals=[1, 2], beta=100.0, cue_noise=1.5,
                                            encoding_sd_deg=20.0, interference_rate=3.0, **SMALL)),
    "fit_guess_vonmises": ex(lambda: dict(errors=_errors(), iterations=50, tol=1e-6,
                                          init=(torch.tensor(0.5), torch.tensor(4.0)))),
    "circular_sd_deg": ex(lambda: dict(kappa=torch.tensor([1.5, 4.0, 40.0]))),
    "mixture_density": ex(lambda: dict(errors_deg=torch.tensor([-90.0, 0.0, 45.0]), p=0.7, kappa=4.0)),
    "accessibility_precision": ex(lambda: dict(intervals=[1, 2], n_boot=10, seed=0, device="cpu", n_pairs=4,
                                               participants=3, d=8, interference_rate=3.0)),
}


def _sweep():
    from kvlib.accessibility import accessibility_precision
    return accessibility_precision(**EXAMPLES["accessibility_precision"].kwargs())


EXAMPLES["accessibility_numbers"] = ex(lambda: dict(result=_sweep()))
