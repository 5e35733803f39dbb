"""Contract examples for kvlib.continual: a 784-4-4 network trained on random images in
milliseconds (train_continual), and the paper's data only where the loader is the point."""
import os

import pytest
import torch

from contract import ex
from kvlib.continual import ContinualConfig, make_model, train_continual

_ROOT = os.environ.get("KVLIB_DATA")


def _root():
    if not _ROOT:
        pytest.skip("KVLIB_DATA is not set: run_continual loads MNIST and Fashion-MNIST")
    return _ROOT


def _config():
    return ContinualConfig(hidden=4, batch_size=8, epochs_per_task=1)


def _data():
    """Random pixel images, labels 0-1 (Task 1) and 2-3 (Task 2)."""
    g = torch.Generator().manual_seed(0)

    def split(n, low):
        return torch.rand(n, 784, generator=g), torch.randint(low, low + 2, (n,), generator=g)
    return {"task1": (split(16, 0), split(8, 0)), "task2": (split(16, 2), split(8, 2))}


def _run():
    return train_continual(_config(), _data())


def _queries():
    return torch.rand(5, 784, generator=torch.Generator().manual_seed(1))


def _run_fields():
    run = _run()
    return dict(config=run.config, model=run.model, memories=run.memories, task1_acc=run.task1_acc,
                task2_acc=run.task2_acc, test=run.test, footprint=run.footprint)


def _weights():
    model = make_model(4, seed=0)
    return (model[0].weight.detach(), model[2].weight.detach())


EXAMPLES = {
    "ContinualConfig": ex(lambda: dict(setting="notebook", hidden=4, lr=6e-4, batch_size=8,
                                       epochs_per_task=1, seed=0, shuffle=False, mnist_classes=(0, 1),
                                       fashion_classes=(2, 3), beta_scales_w0=True, n_train=32),
                          options={"setting"}),
    "ContinualRun": ex(_run_fields),
    "make_model": ex(lambda: dict(hidden=4, seed=0)),
    "train_continual": ex(lambda: dict(config=_config(), data=_data(), device="cpu", progress=False),
                          options={"device"}),
    # data_root: a missing folder is kvlib.data's contract (and would be created inside the data
    # folder here); the strict cases are kept
    "run_continual": ex(lambda: dict(config=ContinualConfig(hidden=4, epochs_per_task=1, n_train=64),
                                     device="cpu", progress=False, data_root=_root()),
                        options={"device"}, timeout=60.0, skip={"data_root"},
                        extra=(("empty string", "data_root", "", "strict"),
                               ("number", "data_root", 3, "strict"))),
    "accuracy": ex(lambda: dict(model_or_weights=_weights(), x=_queries(), y=torch.tensor([0, 1, 2, 3, 0]))),
    "reactivated_weights": ex(lambda: dict(run=_run(), beta=1.5, layers=["0", "2"], scale_w0=True)),
    "beta_sweep": ex(lambda: dict(run=_run(), betas=[1.0, 1.5], layers=["0"], scale_w0=False)),
    "layer_sweeps": ex(lambda: dict(run=_run(), betas=[1.0, 1.5])),
    "fraction_sweep": ex(lambda: dict(run=_run(), fractions=[0.5, 1.0], betas=[1.0, 1.5], seed=0)),
    "reactivation_states": ex(lambda: dict(run=_run(), betas=[1.0, 1.5], n_images=2)),
    "readout_difference": ex(lambda: dict(run=_run(), x=_queries())),
    "scaled_keys_vs_values": ex(lambda: dict(run=_run(), beta=1.7, layer="0"), options={"layer"}),
    "task_attention_share": ex(lambda: dict(run=_run(), x=_queries(), beta=1.5)),
    "config_dict": ex(lambda: dict(cfg=_config())),
}
