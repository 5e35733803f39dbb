"""Contract examples for kvlib.binary_channel."""
import torch

from contract import ex
from kvlib import hopfield


def _S(P=5, n=12, seed=1):
    return hopfield.random_patterns(P, n, torch.Generator().manual_seed(seed))


EXAMPLES = {
    "flip_bits": ex(lambda: dict(x=_S(), p=0.1, generator=torch.Generator().manual_seed(0))),
    "feature_error": ex(lambda: dict(recalled=_S(seed=2), target=_S())),
    "mutual_information": ex(lambda: dict(error=0.1),
                             extra=(("tensor", "error", torch.tensor([0.0, 0.2]), "lenient"),)),
}
