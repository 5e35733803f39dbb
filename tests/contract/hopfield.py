"""Contract examples for kvlib.hopfield."""
import torch

from contract import ex
from kvlib import hopfield as H


def _X(P=4, N=6, seed=0):
    return H.random_patterns(P, N, torch.Generator().manual_seed(seed))


EXAMPLES = {
    "random_patterns": ex(lambda: dict(n=3, d=4, generator=torch.Generator().manual_seed(0), device="cpu")),
    "hopfield_weights": ex(lambda: dict(patterns=_X(), rule="bounded", diagonal=False, normalize=False,
                                        bound=0.3, start=torch.zeros(6, 6)), options={"rule"}),
    "recall": ex(lambda: dict(weights=H.hopfield_weights(_X()), cues=_X(3, 6, 1), max_steps=10,
                              update="sync", ties="zero", stop="fixed-point",
                              generator=torch.Generator().manual_seed(0)),
                 options={"update", "ties", "stop"},
                 extra=(("async", "update", "async", "lenient"),)),
    "overlap": ex(lambda: dict(states=_X(3, 6, 1), targets=_X(3, 6, 2))),
    "pinv_solve": ex(lambda: dict(X=torch.randn(4, 6, generator=torch.Generator().manual_seed(0)),
                                  Y=torch.randn(4, 2, generator=torch.Generator().manual_seed(1)))),
}
