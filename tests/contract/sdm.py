"""Contract examples for kvlib.sdm (Kanerva's sparse distributed memory)."""
import torch

from contract import ex
from kvlib import lookalikes, sdm


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _bits(*shape, seed=0):
    return torch.randint(0, 2, shape, generator=_g(seed)).float()


def _memory(written=True):
    m = sdm.SparseDistributedMemory(16, 40, radius=6, seed=0)
    if written:
        m.write(_bits(5, 16, seed=1), _bits(5, 3, seed=2))
    return m


def _episodes():
    x = torch.rand(2, 4, 16, generator=_g(3))
    return lookalikes.EpisodeBatch(x=x, cues=(x + 0.2 * torch.randn(2, 4, 16, generator=_g(4))).clamp(0, 1))


EXAMPLES = {
    "binary_address": ex(lambda: dict(x=torch.rand(3, 16, generator=_g()), threshold=0.5)),
    "SparseDistributedMemory": ex(lambda: dict(n_bits=16, n_locations=40, radius=None, n_stored=5,
                                               threshold=0.5, seed=0, device="cpu")),
    "SparseDistributedMemory.distances": ex(lambda: dict(address=_bits(3, 16)),
                                            target=lambda: _memory().distances),
    "SparseDistributedMemory.activate": ex(lambda: dict(address=_bits(3, 16)),
                                           target=lambda: _memory().activate),
    "SparseDistributedMemory.write": ex(lambda: dict(address=_bits(3, 16), data=_bits(3, 3, seed=5)),
                                        target=lambda: _memory().write),
    "SparseDistributedMemory.read": ex(lambda: dict(address=_bits(3, 16)), target=lambda: _memory().read),
    "SparseDistributedMemory.overlap": ex(lambda: dict(q=_bits(2, 3, 16), k=_bits(2, 4, 16, seed=1)),
                                          target=lambda: _memory().overlap),
    "SparseDistributedMemory.read_dual": ex(lambda: dict(q=_bits(2, 3, 16), k=_bits(2, 4, 16, seed=1),
                                                         data=_bits(2, 4, 3, seed=2), return_weights=True),
                                            target=lambda: _memory().read_dual),
    "SparseDistributedMemory.scores": ex(lambda: dict(cues=torch.rand(2, 4, 16, generator=_g(3)),
                                                      x=torch.rand(2, 4, 16, generator=_g(4))),
                                         target=lambda: _memory().scores),
    "sdm_accuracy": ex(lambda: dict(sdm=_memory(False), episodes=_episodes(), seed=0)),
    "sdm_episode_statistics": ex(lambda: dict(sdm=_memory(False), x=torch.rand(4, 16, generator=_g(5)),
                                              cues=torch.rand(4, 16, generator=_g(6)))),
}
