"""Contract examples for kvlib.dual_identity (MNIST runs at a tiny size)."""
import torch

from contract import ex
from contract.dualform import _recorded

F64 = torch.float64


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 6, generator=g, dtype=F64), torch.randint(3, (16,), generator=g)


def _identity_kwargs():
    x, y = _data()
    return dict(setting="sgd", x=x, y=y, x_test=x[:4], sizes=(6, 4, 3), steps=3, batch_size=4,
                lr=0.05, weight_decay=0.01, seed=0)


_RUN = dict(n_train=48, n_test=8, steps=3, batch_size=16, hidden=4, lr=0.05, weight_decay=0.01, seed=0)

EXAMPLES = {
    "layer_errors": ex(lambda: dict(model=_recorded()[0], memories=_recorded()[1], x=_data()[0][:4],
                                    decay=True)),
    "identity_errors": ex(_identity_kwargs, options={"setting"}),
    "mnist_run": ex(lambda: dict(device="cpu", setting="momentum", **_RUN), options={"device", "setting"}),
    "dual_form_identity": ex(lambda: dict(device="cpu", progress=False, keep_sgd_run=False, **_RUN),
                             options={"device"}, timeout=60.0),
    "adam_update_ranks": ex(lambda: dict(d_in=4, d_out=3, steps=2, lr=1e-2, seed=0)),
}
