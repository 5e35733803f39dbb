"""Contract examples for kvlib.scaffold (small scaffolds: periods (2, 3), 36 states)."""
import torch

from contract import ex
from kvlib import hopfield
from kvlib import scaffold as sf


def _sc():
    return sf.vector_hash(20, periods=(2, 3), generator=torch.Generator().manual_seed(0))


def _S(P=5, n=12, seed=1):
    return hopfield.random_patterns(P, n, torch.Generator().manual_seed(seed))


def _memory():
    return sf.ScaffoldMemory(_sc()).store(_S())


EXAMPLES = {
    "grid_codebook": ex(lambda: dict(periods=(2, 3), order="raster", device="cpu"), options={"order"}),
    "khot_codebook": ex(lambda: dict(n_cells=6, k=2, generator=torch.Generator().manual_seed(0),
                                     shuffle=True, device="cpu")),
    "module_wta": ex(lambda: dict(x=torch.randn(3, 5, generator=torch.Generator().manual_seed(0)),
                                  module_sizes=(2, 3))),
    "top_k": ex(lambda: dict(x=torch.randn(3, 5, generator=torch.Generator().manual_seed(0)), k=2)),
    "Scaffold": ex(lambda: dict(codebook=torch.eye(3), W_gh=torch.ones(3, 4), W_hg=torch.ones(4, 3),
                                H=torch.ones(3, 4), units="sign", threshold=0.0, k=1),
                   options={"units"}),
    "vector_hash": ex(lambda: dict(n_hippocampal=20, periods=(2, 3), threshold=0.5, connectivity=0.6,
                                   order="vector-hash", generator=torch.Generator().manual_seed(0),
                                   device="cpu"), options={"order"}),
    "mesh": ex(lambda: dict(n_hippocampal=20, n_label=6, k=2, generator=torch.Generator().manual_seed(0),
                            device="cpu")),
    "Scaffold.cycle": ex(lambda: dict(h=torch.rand(3, 20, generator=torch.Generator().manual_seed(0)),
                                      n_iter=2),
                         target=lambda: _sc().cycle),
    "stable_state_count": ex(lambda: dict(scaffold=_sc())),
    "grid_state": ex(lambda: dict(position=(1, 2), n_hippocampal=20, periods=(2, 3), seed=0, device="cpu")),
    "ScaffoldMemory": ex(lambda: dict(scaffold=_sc())),
    "ScaffoldMemory.store": ex(lambda: dict(S=_S(), gram=None),
                               target=lambda: sf.ScaffoldMemory(_sc()).store),
    "ScaffoldMemory.recall": ex(lambda: dict(cue=_S(), n_iter=1, details=False),
                                target=lambda: _memory().recall),
}
