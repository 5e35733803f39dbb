"""Contract examples for kvlib.similarities (the similarities S of a read, and feature maps)."""
import torch

from contract import ex
from contract.kernels import EXAMPLES as _READ
from kvlib import similarities as S


def _rows(n, seed):
    return torch.randn(n, 4, generator=torch.Generator().manual_seed(seed))


EXAMPLES = {name: _READ[name] for name in S.__all__ if name in _READ}
EXAMPLES["check_rows"] = ex(lambda: dict(queries=_rows(3, 0), keys=_rows(5, 1)))
