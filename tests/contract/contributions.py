"""Contract examples for kvlib.contributions."""
import torch

from contract import ex
from contract.dualform import _memory, _query, _recorded

F64 = torch.float64


def _labels(n, seed):
    return torch.randint(3, (n,), generator=torch.Generator().manual_seed(seed))


def _study_kwargs():
    model, rec = _recorded()
    g = torch.Generator().manual_seed(3)
    return dict(model=model, recorder=rec, x_train=torch.rand(12, 6, generator=g, dtype=F64),
                y_train=_labels(12, 4), x_test=torch.rand(5, 6, generator=g, dtype=F64), y_test=_labels(5, 5),
                n_queries=4, k=3, n_shown=2, n_top=2)


EXAMPLES = {
    "example_contributions": ex(lambda: dict(memory=_memory(), x=_query(), n_examples=12, decay=True)),
    "example_scores": ex(lambda: dict(memory=_memory(), x=_query(), by="support", n_examples=12,
                                      decay=True), options={"by"}),
    "top_examples": ex(lambda: dict(memory=_memory(), x=_query(), k=2, by="magnitude", n_examples=12),
                       options={"by"}),
    "contribution_concentration": ex(lambda: dict(
        contrib=torch.rand(2, 8, 3, generator=torch.Generator().manual_seed(0)), top_fraction=0.25)),
    "retrieval_stats": ex(lambda: dict(memory=_memory(), inputs=_query(), example_labels=_labels(12, 1),
                                       query_labels=_labels(3, 2), k=3, batch=2, top_fraction=0.25)),
    "retrieval_study": ex(_study_kwargs),
}
