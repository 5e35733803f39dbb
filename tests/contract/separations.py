"""Contract examples for kvlib.separations (the separations σ of a read)."""
import torch

from contract import ex
from contract.kernels import EXAMPLES as _READ
from kvlib import separations as S

EXAMPLES = {name: _READ[name] for name in S.__all__ if name in _READ}
EXAMPLES["accepted_settings"] = ex(lambda: dict(func=S.topk))
EXAMPLES["check_mask"] = ex(lambda: dict(mask=torch.tensor([True, False, True]), shape=(2, 3), device="cpu"))
