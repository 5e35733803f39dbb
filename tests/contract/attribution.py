"""Contract examples for kvlib.attribution (a tiny run recorded with the source's optimiser)."""
import torch
from torch import nn

from contract import ex
from kvlib.recorder import MemoryRecorder
from kvlib.spotlight_run import SpotlightConfig, SpotlightRun
from kvlib.training import make_mlp

F64 = torch.float64


def _run():
    """784 inputs as in the source, ten classes, four SGD steps with momentum and clipping."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(40, 784, generator=g, dtype=F64), torch.arange(40) % 10
    model = make_mlp((784, 6, 6, 10), seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rec = MemoryRecorder(model, opt, approximate=True)
    scales = []
    for step in range(4):
        idx = torch.arange(10 * step, 10 * step + 10)
        rec.set_example_ids(idx)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        norm = float(nn.utils.clip_grad_norm_(model.parameters(), 1.0))
        scales.append(min(1.0, 1.0 / (norm + 1e-6)))
        opt.step()
    rec.remove()
    cfg = SpotlightConfig(hidden=(6, 6), steps=4, batch_size=10, lr=0.05, n_train=40, n_queries=5)
    return SpotlightRun(cfg, model, rec, x, y, x[:5].clone(), y[:5].clone(), scales)


def _memory():
    return _run().recorder.memories["2"]


def _q():
    return torch.rand(3, 6, generator=torch.Generator().manual_seed(1), dtype=F64)


EXAMPLES = {
    "raw_attention": ex(lambda: dict(memory=_memory(), x=_q(), absolute=True, include_bias=False)),
    "pattern_steps": ex(lambda: dict(memory=_memory())),
    "pattern_weights": ex(lambda: dict(memory=_memory(), momentum=0.9, clip_scales=[1.0, 0.5, 1.0, 1.0])),
    "dual_readout": ex(lambda: dict(memory=_memory(), x=_q(), weights=torch.ones(40, dtype=F64))),
    "attention_identity_error": ex(lambda: dict(run=_run(), x=torch.rand(
        2, 784, generator=torch.Generator().manual_seed(3), dtype=F64))),
    "spotlight_stats": ex(lambda: dict(run=_run(), layers=["0", "4"], k=3, fractions=(0.1, 0.5), seed=0,
                                       by="step", curve=(0.5, 1.0)), options={"by"}),
    "spotlight_views": ex(lambda: dict(run=_run(), query=1)),
    "spotlight_study": ex(lambda: dict(run=_run(), query=1, curve=(0.5, 1.0))),
    "attention_summary": ex(lambda: dict(memory=_memory(), x=_q(), example_labels=torch.arange(40) % 10,
                                         query_labels=torch.tensor([0, 1, 2]), k=3, fraction=0.25)),
}
