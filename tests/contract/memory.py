"""Contract examples for kvlib.memory (correlation memory and capacity on MNIST)."""
import torch

from contract import ex
from kvlib import memory as M


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _images(n=12, d=16, seed=0):
    return torch.rand(n, d, generator=_g(seed))


def _memory():
    mem = M.CorrelationMemory(4, 2)
    mem.write(torch.randn(5, 4, generator=_g()), torch.randn(5, 2, generator=_g(1)))
    return mem


SIMS = {"similarity", "separation", "corruption", "setting"}

EXAMPLES = {
    "CorrelationMemory": ex(lambda: dict(d_k=4, d_v=2, device="cpu", dtype=torch.float64)),
    "CorrelationMemory.write": ex(lambda: dict(keys=torch.randn(5, 4, generator=_g()),
                                               values=torch.randn(5, 2, generator=_g(1)), rate=0.5),
                                  target=lambda: M.CorrelationMemory(4, 2).write),
    "CorrelationMemory.read": ex(lambda: dict(queries=torch.randn(3, 4, generator=_g(2))),
                                 target=lambda: _memory().read),
    "CorrelationMemory.read_dual": ex(lambda: dict(queries=torch.randn(3, 4, generator=_g(2)),
                                                   similarity="dot", separation="identity"),
                                      target=lambda: _memory().read_dual,
                                      options={"similarity", "separation"}),
    "mnist_memories": ex(lambda: dict(n=8, seed=0, labels=False, train=False, device="cpu")),
    "nearest_other": ex(lambda: dict(images=_images())),
    "corrupt": ex(lambda: dict(x=_images(), kind="noise", level=0.5, generator=_g(), clip=True),
                  options={"kind"}),
    "retrieval_accuracy": ex(lambda: dict(stored=_images(), queries=_images(seed=1), similarity="euclidean",
                                          separation="softmax", beta=2.0, tolerance=5.0, setting="book",
                                          normalize_scores=False),
                             options={"similarity", "separation", "setting"}),
    "capacity_curve": ex(lambda: dict(images=_images(), n_stored=[4, 8], similarity="cosine",
                                      separation="softmax", corruption="noise", level=0.3, beta=5.0,
                                      tolerance=5.0, seed=0, setting="book", clip=False,
                                      normalize_scores=False), options=SIMS),
    "capacity_by_separation": ex(lambda: dict(images=_images(), n_stored=[4, 8],
                                              separations={"max": ("max", {}, 1.0),
                                                           "softmax": ("softmax", {}, 5.0)},
                                              similarity="cosine", corruption="mask", level=0.5,
                                              tolerance=5.0, seed=0, setting="book", clip=False,
                                              normalize_scores=False),
                                 options={"similarity", "corruption", "setting"}),
    "noise_tradeoff": ex(lambda: dict(images=_images(), noise_levels=[0.5, 1.0], betas=[0.5, 2.0],
                                      tolerance=5.0, seed=0, progress=False)),
}

EXEMPT = {}
