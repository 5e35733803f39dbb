"""Contract examples for kvlib.training (small sizes: each call trains for milliseconds)."""
import torch

from contract import ex
from kvlib.training import make_mlp

F64 = torch.float64


def _classifier_kwargs():
    g = torch.Generator().manual_seed(0)
    model = make_mlp((5, 4, 3), seed=0)
    return dict(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                x=torch.randn(10, 5, generator=g, dtype=F64), y=torch.randint(3, (10,), generator=g),
                epochs=2, steps=3, batch_size=4, id_offset=0, seed=1, shuffle=True, progress=False)


EXAMPLES = {
    "make_mlp": ex(lambda: dict(sizes=(4, 3, 2), bias=True, seed=0, dtype=F64, device="cpu"),
                   options={"device"}),
    "train_classifier": ex(_classifier_kwargs),
    "train_layer": ex(lambda: dict(d_in=3, d_out=2, steps=3, batch_size=2, lr=0.05, momentum=0.5,
                                   weight_decay=0.01, approximate=True, seed=0)),
    # n_per_task=None is valid (all images), so it is not perturbed to None
    "sequential_tasks": ex(lambda: dict(device="cpu", hidden=4, epochs=1, batch_size=32, lr=0.05,
                                        n_per_task=64, seed=0, progress=False), options={"device"},
                           skip={"n_per_task"},
                           extra=(("zero", "n_per_task", 0, "strict"),
                                  ("negative", "n_per_task", -1, "strict"),
                                  ("fraction", "n_per_task", 64.5, "strict"),
                                  ("string", "n_per_task", "64", "strict"))),
}
