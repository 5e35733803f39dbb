"""Contract examples for kvlib.temporal_context (drifting context, free recall, lag-CRP)."""
import torch

from contract import ex
from kvlib import temporal_context as tc


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _lists():
    return tc.drifting_context(3, 6, 8, 0.5, _g())


EXAMPLES = {
    "drifting_context": ex(lambda: dict(n_lists=3, length=6, dim=8, drift=0.5, generator=_g(), device="cpu")),
    "context_recall_order": ex(lambda: dict(keys=_lists()[0], items=_lists()[1], drift=0.5, n_recalls=4,
                                            generator=_g(1), sensitivity=10.0, reinstate=0.3)),
    "crp_by_lag": ex(lambda: dict(order=torch.tensor([[1, 2, 0], [3, 2, 4]]), length=5, max_lag=2),
                     result_nonfinite_ok=True),            # NaN at lag 0 and at lags never possible
    "temporal_contiguity": ex(lambda: dict(drift=0.5, n_lists=20, length=6, dim=8, n_recalls=3,
                                           sensitivity=10.0, reinstate=0.3, max_lag=2, seed=0, device="cpu"),
                              result_nonfinite_ok=True),
    "contiguity_by_drift": ex(lambda: dict(drifts=[0.0, 0.5], n_lists=10, length=5, n_recalls=3),
                              result_nonfinite_ok=True),
    "context_similarity": ex(lambda: dict(drift=0.5, n_lists=4, length=5, dim=8, seed=0)),
}
