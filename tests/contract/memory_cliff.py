"""Contract examples for kvlib.memory_cliff (classical against modern Hopfield capacity)."""
import torch

from contract import ex

EXAMPLES = {
    "modern_hopfield": ex(lambda: dict(patterns=torch.randn(6, 8, generator=torch.Generator().manual_seed(0)),
                                       probes=torch.randn(3, 8, generator=torch.Generator().manual_seed(1)),
                                       beta=0.5, steps=2)),
    "hopfield_capacity": ex(lambda: dict(n_neurons=20, loads=[0.1, 0.3], flip=0.1, n_probes=4, beta=0.3,
                                         update="sync", sweeps=5, seeds=1, device="cpu", progress=False),
                            options={"update"}),
}
