"""Shared test helpers: device-aware tolerances and data availability."""
from __future__ import annotations

import os

import pytest
import torch

from kvlib.data import data_root


def tol(dtype: torch.dtype, device: torch.device | str = "cpu") -> float:
    """One tolerance helper for the whole suite: exact-ish in float64, looser in float32 on GPUs."""
    if dtype == torch.float64:
        return 1e-10
    return 1e-5 if torch.device(device).type == "cpu" else 1e-4


def _have_data() -> bool:
    root = data_root()
    return (root / "MNIST" / "raw" / "train-images-idx3-ubyte").exists() and \
        (root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()


#: Data-backed tests skip only where nobody promised data: with KVLIB_DATA set (as .ci/run
#: sets it) or under CI, missing data is a failure, not a skip.
requires_data = pytest.mark.skipif(
    not _have_data() and not os.environ.get("CI") and not os.environ.get("KVLIB_DATA"),
    reason="MNIST/Fashion-MNIST not found and KVLIB_DATA not set (CI always provides them)")
