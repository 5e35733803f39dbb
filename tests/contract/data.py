"""Contract examples for kvlib.data (MNIST and Fashion-MNIST from KVLIB_DATA)."""
import os

import pytest

from contract import ex

_ROOT = os.environ.get("KVLIB_DATA")


def _root():
    if not _ROOT:
        pytest.skip("KVLIB_DATA is not set: the data contract needs the data sets")
    return _ROOT


# root: a missing folder would start a download into it (fetch, load_classes), so only bad types
# are driven there; verify covers the missing folder without downloading
_ROOT_CASES = (("number", "root", 3, "strict"), ("empty string", "root", "", "strict"))

EXAMPLES = {
    "data_root": ex(lambda: dict(root="/tmp/kvlib-data")),
    "fetch": ex(lambda: dict(dataset="mnist", root=_root()), options={"dataset"}, skip={"root"},
                extra=_ROOT_CASES),
    "verify": ex(lambda: dict(dataset="mnist", root=_root()), options={"dataset"}),
    "load_classes": ex(lambda: dict(dataset="mnist", classes=[0, 1], train=False, root=_root(),
                                    relabel=[1, 0]), options={"dataset"}, timeout=60.0, skip={"root"},
                       extra=_ROOT_CASES),
}
EXEMPT = {"DataError": "an exception class"}
