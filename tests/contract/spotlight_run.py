"""Contract examples for kvlib.spotlight_run."""
import torch

from contract import ex
from contract.attribution import _run
from kvlib.spotlight_run import SpotlightConfig

F64 = torch.float64

_SMALL = dict(hidden=(4,), steps=2, batch_size=16, lr=3e-3, momentum=0.9, n_train=64, n_queries=4,
              normalize=True, dtype=F64, seed=0)


def _run_kwargs():
    run = _run()
    return dict(config=run.config, model=run.model, recorder=run.recorder, x_train=run.x_train,
                y_train=run.y_train, x_query=run.x_query, y_query=run.y_query,
                clip_scales=run.clip_scales, losses=[2.3, 2.2, 2.2, 2.1])


EXAMPLES = {
    # grad_clip=None is a valid value (no clipping), so it is not perturbed to None
    "SpotlightConfig": ex(lambda: dict(grad_clip=1.0, **_SMALL), skip={"grad_clip"},
                          extra=(("zero", "grad_clip", 0.0, "strict"),
                                 ("NaN", "grad_clip", float("nan"), "strict"),
                                 ("string", "grad_clip", "1", "strict"))),
    "SpotlightConfig.named": ex(lambda: dict(setting="book", steps=3), target=lambda: SpotlightConfig.named,
                                options={"setting"}),
    "SpotlightConfig.source": ex(lambda: dict(steps=3), target=lambda: SpotlightConfig.source),
    "SpotlightRun": ex(_run_kwargs),
    "SpotlightRun.pattern_labels": ex(lambda: dict(layer="2"), target=lambda: _run().pattern_labels,
                                      options={"layer"}),
    "train_recorded": ex(lambda: dict(config=SpotlightConfig(**_SMALL), device="cpu", progress=False),
                         options={"device"}),
}
