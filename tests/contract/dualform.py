"""Contract examples for kvlib.dualform: the layer memory and whole networks read from it."""
import torch

from contract import ex
from kvlib.recorder import MemoryRecorder
from kvlib.training import make_mlp

F64 = torch.float64


def _recorded():
    """A 6-5-3 MLP after three SGD steps in two phases, every pair recorded with its example."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 6, generator=g, dtype=F64), torch.randint(3, (12,), generator=g)
    model = make_mlp((6, 5, 3), seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = MemoryRecorder(model, opt)
    for step, tag in enumerate(("task1", "task1", "task2")):
        with rec.phase(tag):
            idx = torch.arange(4 * step, 4 * step + 4)
            rec.set_example_ids(idx)
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    rec.remove()
    return model, rec


def _memory():
    return _recorded()[1].memories["0"]


def _query():
    return torch.randn(3, 6, generator=torch.Generator().manual_seed(1), dtype=F64)


def _memory_kwargs():
    g = torch.Generator().manual_seed(2)
    return dict(name="m", W0=torch.randn(2, 3, generator=g, dtype=F64), has_bias=False,
                keys=[torch.randn(4, 3, generator=g, dtype=F64)],
                values=[torch.randn(4, 2, generator=g, dtype=F64)], decay=[1.0], tags=["train"],
                ids=[torch.arange(4)])


def _network_kwargs(**extra):
    model, rec = _recorded()
    return dict(model=model, memories=rec, x=_query(), **extra)


EXAMPLES = {
    "LayerMemory": ex(_memory_kwargs),
    "LayerMemory.forward": ex(lambda: dict(x=_query(), scale={"task1": 1.5}, scale_w0=True,
                                           tags=["task1", "task2"], include_w0=True, decay=True, chunk=5),
                              target=lambda: _memory().forward),
    "LayerMemory.weight": ex(lambda: dict(scale={"task1": 1.5}, scale_w0=False, tags=["task1"],
                                          include_w0=True, decay=True), target=lambda: _memory().weight),
    "LayerMemory.attention": ex(lambda: dict(x=_query()), target=lambda: _memory().attention),
    "LayerMemory.tag_outputs": ex(lambda: dict(x=_query(), decay=True), target=lambda: _memory().tag_outputs),
    "LayerMemory.tag_shares": ex(lambda: dict(x=_query(), decay=True), target=lambda: _memory().tag_shares),
    "LayerMemory.step_weights": ex(lambda: dict(decay=True), target=lambda: _memory().step_weights),
    "dual_forward": ex(lambda: _network_kwargs(scale={"task2": 0.0}, scale_w0=False, decay=True,
                                               tags=["task1", "task2"])),
    "layer_io": ex(lambda: dict(model=_recorded()[0], names=["0", "2"], x=_query())),
    "model_input": ex(lambda: dict(model=_recorded()[0], x=_query(), name="x")),
}
