"""Contract examples for kvlib.book_runs (finding and executing the book's notebooks)."""
from pathlib import Path

from contract import ex

ROOT = str(Path(__file__).resolve().parents[2])
_NB = {"cells": [{"cell_type": "code", "metadata": {"tags": ["nbval-check-output"]},
                  "outputs": [{"output_type": "stream", "name": "stdout", "text": "x: 0.5  (± 0.1)\n"}]}]}

EXAMPLES = {
    "book_root": ex(lambda: dict(root=ROOT)),
    "toc_files": ex(lambda: dict(root=ROOT)),
    "toc_notebooks": ex(lambda: dict(root=ROOT)),
    "checked_outputs": ex(lambda: dict(nb=_NB)),
    "checked_numbers": ex(lambda: dict(nb=_NB)),
}
EXEMPT = {
    "BookNotFound": "an exception class",
    "execute_notebook": "every call starts a Jupyter kernel (seconds); its argument checks are "
                        "tested in tests/test_bench.py::test_notebook_runs_check_their_arguments",
    "run_notebooks": "executes whole notebooks; argument checks tested in "
                     "tests/test_bench.py::test_notebook_runs_check_their_arguments",
}
