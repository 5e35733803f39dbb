"""Contract examples for kvlib.error_salience."""
import torch

from contract import ex
from contract.dualform import _memory, _query, _recorded

F64 = torch.float64


def _study_kwargs():
    model, rec = _recorded()
    return dict(model=model, recorder=rec, x_test=torch.rand(5, 6, generator=torch.Generator().manual_seed(3),
                                                             dtype=F64),
                n_queries=4, fractions=(0.25, 0.5), n_shuffles=2, seed=0)


EXAMPLES = {
    "error_strengths": ex(lambda: dict(memory=_memory(), decay=True)),
    "salient_set": ex(lambda: dict(memory=_memory(), fraction=0.25, order="largest_in_step",
                                   generator=torch.Generator().manual_seed(0), decay=True),
                      options={"order"}),
    "salience_shares": ex(lambda: dict(memory=_memory(), x=_query(), fraction=0.25, order="shuffled",
                                       generator=torch.Generator().manual_seed(0), decay=True),
                          options={"order"}),
    "salience_curves": ex(lambda: dict(memory=_memory(), x=_query(), fractions=(0.25, 0.5), n_shuffles=2,
                                       seed=0, decay=True, batch=2)),
    "salience_study": ex(_study_kwargs),
}
