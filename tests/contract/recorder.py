"""Contract examples for kvlib.recorder."""
import torch

from contract import ex
from kvlib.recorder import MemoryRecorder
from kvlib.training import make_mlp


def _model_and_optimizer():
    model = make_mlp((4, 3, 2), seed=0)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def _recorder_kwargs():
    model, opt = _model_and_optimizer()
    return dict(model=model, optimizer=opt, layers=["0", "2"], approximate=False, store_device="cpu")


def _recorder():
    return MemoryRecorder(**_recorder_kwargs())


EXAMPLES = {
    "MemoryRecorder": ex(_recorder_kwargs, options={"store_device"}),
    "MemoryRecorder.phase": ex(lambda: dict(tag="task1"), target=lambda: _recorder().phase),
    "MemoryRecorder.set_example_ids": ex(lambda: dict(ids=torch.arange(4)),
                                         target=lambda: _recorder().set_example_ids),
    "check_optimizer": ex(lambda: dict(optimizer=_model_and_optimizer()[1])),
}
