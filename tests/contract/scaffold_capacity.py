"""Contract examples for kvlib.scaffold_capacity (tiny loads and scaffolds)."""
import torch

from contract import ex
from kvlib import scaffold as sf


def _mesh():
    return sf.mesh(20, n_label=6, k=2, generator=torch.Generator().manual_seed(0))


EXAMPLES = {
    "stable_state_sweep": ex(lambda: dict(n_hippocampal=[10, 20], periods=(2, 3), seeds=(0,),
                                          with_mesh=False, device="cpu", progress=False)),
    "scaffold_cleanup_error": ex(lambda: dict(scaffold=_mesh(), flip=0.2, n_stored=10,
                                              generator=torch.Generator().manual_seed(0))),
    "cleanup_errors": ex(lambda: dict(n_hippocampal=(20,), seeds=(0,), flip=0.2, device="cpu")),
    "matched_hopfield_size": ex(lambda: dict(n_s=816, n_h=300, n_g=18)),
    "hopfield_curve": ex(lambda: dict(n_patterns=[2, 5], N=20, rule="bounded", cue_flip=0.05, bound=0.3,
                                      n_runs=1, n_test=3, max_steps=10, seed=0, device="cpu",
                                      progress=False), options={"rule"},
                         extra=(("pinv", "rule", "pinv", "lenient"),)),
    "mesh_capacity": ex(lambda: dict(n_patterns=[5, 10], n_sensory=[12], n_hippocampal=20, n_label=6, k=2,
                                     n_runs=1, cue_flip=0.05, seed=0, device="cpu", progress=False)),
    "vector_hash_curve": ex(lambda: dict(n_patterns=[5, 10], n_hippocampal=20, periods=(2, 3), seed=0,
                                         device="cpu")),
    "basin_curve": ex(lambda: dict(n_patterns=10, flips=[0.0, 0.2], n_hippocampal=20, periods=(2, 3),
                                   n_draws=1, seed=0, device="cpu")),
    "capacity_sweep": ex(lambda: dict(n_patterns=[5, 10], n_hippocampal=20, n_sensory=16, periods=(2, 3),
                                      models=["vector-hash", "hopfield", "pinv-hopfield", "bounded-hopfield"],
                                      cue_flip=0.05, n_test=4, n_hopfield=16, bound=0.3, max_steps=10,
                                      seed=0, device="cpu", progress=False, keep_examples=4),
                         # n_test=None is meaningful (test every stored pattern) though the default is
                         # 128, so the engine's "None must be rejected" case does not apply: own cases
                         skip={"n_test"}, timeout=30.0,
                         extra=(("all", "n_test", None, "lenient"), ("fraction", "n_test", 2.5, "strict"),
                                ("zero", "n_test", 0, "strict"), ("string", "n_test", "4", "strict"))),
}
