"""Contract examples for kvlib.random_features (random Fourier and FAVOR+ features)."""
from contract.kernels import EXAMPLES as _READ
from kvlib import random_features as R

EXAMPLES = {name: example for name, example in _READ.items()
            if name.split(".")[0] in R.__all__}
