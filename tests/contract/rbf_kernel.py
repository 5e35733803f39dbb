"""Contract examples for kvlib.rbf_kernel (kernel-smoother reads: exponential, RBF, Laplacian)."""
import torch

from contract import ex


def _x(N, d=6, seed=0):
    return torch.rand(N, d, generator=torch.Generator().manual_seed(seed)) + 0.1


EXAMPLES = {
    "smoother_read": ex(lambda: dict(queries=_x(3), keys=_x(8, seed=1), values=_x(8, 2, seed=2),
                                     kernel="rbf", bandwidth=1.0), options={"kernel"}),
    "naive_smoother_read": ex(lambda: dict(queries=_x(3), keys=_x(8, seed=1), values=_x(8, 2, seed=2),
                                           bandwidth=1.0)),
    "rbf_dot_gap": ex(lambda: dict(n_keys=20, d=4, query_norm=2.0, bandwidth=0.5, seed=0)),
    "smoother_capacity": ex(lambda: dict(images=_x(20), n_stored=(5, 20), kernel_names=("rbf", "exponential"),
                                         bandwidths={"rbf": (0.5, 1.0)}, noise=0.1, n_cues=10, tolerance=0.05,
                                         unit_norm=False, seed=0, progress=False)),
}
