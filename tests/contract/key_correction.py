"""Contract examples for kvlib.key_correction (a small scaffold: periods (2, 3), 36 states)."""
import torch

from contract import ex
from kvlib import hopfield
from kvlib import scaffold as sf


def _sc():
    return sf.vector_hash(20, periods=(2, 3), generator=torch.Generator().manual_seed(0))


def _pm1(P, n, seed):
    return hopfield.random_patterns(P, n, torch.Generator().manual_seed(seed))


def _memory():
    return sf.ScaffoldMemory(_sc()).store(_pm1(5, 12, 1))


def _g_in():
    return torch.rand(3, 13, generator=torch.Generator().manual_seed(2))


EXAMPLES = {
    "nearest_scaffold_state": ex(lambda: dict(scaffold=_sc(), g_in=_g_in())),
    "recall_without_cleanup": ex(lambda: dict(memory=_memory(), cue=_pm1(3, 12, 3))),
    "key_correction_sweep": ex(lambda: dict(n_patterns=(4, 8), flips=(0.0, 0.1), n_hippocampal=20,
                                            n_sensory=12, periods=(2, 3), seed=0, device="cpu",
                                            progress=False)),
}
