import nbformat
import pytest

from kvlib.bench import BUDGETS, checked_numbers, to_markdown, toc_notebooks
from kvlib.reproduce import _jsonable, figures, register


def test_checked_numbers_reads_only_checked_cells():
    nb = nbformat.v4.new_notebook()
    a = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)")
    a.outputs = [nbformat.v4.new_output("stream", text="acc 99.7 and -1.5e-3, n=12\n")]
    b = nbformat.v4.new_code_cell("print(2)")
    b.outputs = [nbformat.v4.new_output("stream", text="7.0\n")]
    nb.cells = [a, b]
    assert checked_numbers(nb) == [99.7, -1.5e-3, 12.0]


def test_toc_lists_existing_notebooks_in_book_order():
    nbs = toc_notebooks()
    assert nbs and all(p.suffix == ".ipynb" and p.exists() for p in nbs)
    assert [p.name for p in nbs] == sorted(p.name for p in nbs)


def _record(ratio, speedup, fig3_s, nb_s):
    return {"device_description": "CPU", "torch": "x", "threads": 2, "time": "now",
            "kernels": {"retrieve": {"n_queries": 1, "n_keys": 1, "dim": 1, "retrieve_s": 1.0,
                                     "retrieve_gflops": 1.0, "matmul_s": 1.0, "matmul_gflops": 1.0,
                                     "throughput_ratio": ratio},
                        "fastweights": {"rule": "delta", "seq_len": [4096], "recurrent_s": [1.0],
                                        "parallel_s": [0.1], "chunked_s": [0.01], "max_abs_diff": 1e-6,
                                        "speedup_chunked_vs_recurrent": speedup},
                        "dualform": {"n_memories": 10, "queries": 2, "readout_s": 0.1, "weights_s": 0.01,
                                     "max_abs_diff": 0.0},
                        "reproduce_fig3": {"seconds": fig3_s, "runs": 3},
                        "scaffold_sweep": {"seconds": 5.0}},
            "notebooks": [{"notebook": "a.ipynb", "wall_s": nb_s, "peak_mib": 500.0,
                           "checked_numbers": 3, "max_abs_diff": 0.0}]}


def test_markdown_reports_budgets_honestly():
    good = to_markdown(_record(0.8, 40, 9.0, 60))
    assert "**missed**" not in good
    bad = to_markdown(_record(0.3, 4, 30.0, BUDGETS["book_total_s"] + 1))
    assert bad.count("**missed**") == 4


def test_registry_and_json():
    assert {"fig2a", "fig2b", "fig3"} <= set(figures())
    with pytest.raises(ValueError, match="registered twice"):
        register("fig3", "x", "y")(lambda device, progress=True: None)
    import torch
    assert _jsonable({"a": torch.tensor([1.5]), "b": (1, 2)}) == {"a": [1.5], "b": [1, 2]}
