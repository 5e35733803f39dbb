"""Contract examples for kvlib.toy (Figure 2's toy model; a few pairs and steps per call)."""
import torch

from contract import ex
from kvlib.toy import ToySetting, init_pairs, train_toy


def _pairs():
    k, v, _ = init_pairs(6, 2, seed=0)
    return k, v


def _run_fields():
    run = train_toy(2, n_pairs=6, steps=4, snapshots=2)
    return dict(keys=run.keys, values=run.values, steps=run.steps, loss=run.loss, classes=run.classes,
                n_classes=2, setting=ToySetting())


def _train_kwargs(**extra):
    return dict(n_classes=2, n_pairs=8, steps=5, method="fast", snapshots=2, dtype=torch.float32,
                device="cpu", progress=False, **extra)


EXAMPLES = {
    "ToySetting": ex(lambda: dict(detach="memory", zero_grad=False, scale=0.5, lr=3e-4, seed=42,
                                  balanced=False), options={"detach"}),
    "ToySetting.resolved_scale": ex(lambda: dict(d=2), target=lambda: ToySetting().resolved_scale),
    "ToyRun": ex(_run_fields),
    "init_pairs": ex(lambda: dict(n_pairs=10, n_classes=2, seed=1, balanced=True)),
    "toy_readout": ex(lambda: dict(keys=_pairs()[0], values=_pairs()[1], queries=_pairs()[0][:3],
                                   scale=0.7, detach="memory"), options={"detach"}),
    "train_toy": ex(lambda: _train_kwargs(detach="memory", zero_grad=False, scale=0.7, lr=3e-4,
                                          seed=1, balanced=False),
                    options={"detach", "method", "device"}),
    "train_toys": ex(lambda: _train_kwargs(settings=[{}, {"zero_grad": True, "detach": "none"}]),
                     options={"method", "device"}),
    "benchmark_toy": ex(lambda: dict(n_classes=2, repeats=1, device="cpu", steps=3),
                        options={"device"}, timeout=60.0),
}
