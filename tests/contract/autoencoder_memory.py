"""Contract examples for kvlib.autoencoder_memory (tiny networks: 20 features, 8 hidden, 5 labels)."""
import torch

from contract import ex
from kvlib import autoencoder_memory as am
from kvlib import hopfield

EXEMPT = {"MESH_AUTOENCODER_COMMITTED": "a dict of committed numbers"}


def _S(P=6, n=20, seed=0):
    return hopfield.random_patterns(P, n, torch.Generator().manual_seed(seed))


EXAMPLES = {
    "synapse_count": ex(lambda: dict(n_sensory=20, n_hidden=8, n_label=5)),
    "train_autoencoder": ex(lambda: dict(S=_S(), n_hidden=8, n_label=5, steps=2, lr=1e-2, seed=0,
                                         progress=False)),
    "autoencoder_recall": ex(lambda: dict(weights=am.train_autoencoder(_S(), 8, 5, steps=2),
                                          cue=_S(3, seed=1), n_iter=5)),
    "scaffold_vs_autoencoder": ex(lambda: dict(n_patterns=(4, 8), n_label=6, k=2, n_hidden=10,
                                               cue_flips=(0.0,), steps=2, lr=1e-2, seed=0, device="cpu",
                                               progress=False)),
}
