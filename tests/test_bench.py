import ast
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from kvlib.bench import BUDGETS, to_markdown
from kvlib.book_runs import BookNotFound, checked_numbers, checked_outputs, toc_notebooks
from kvlib.figures.registry import _jsonable, figures, register

ROOT = Path(__file__).resolve().parent.parent


def test_checked_numbers_reads_only_checked_cells():
    nb = nbformat.v4.new_notebook()
    a = nbformat.v4.new_code_cell("print(1)", metadata={"tags": ["nbval-check-output"]})
    a.outputs = [nbformat.v4.new_output("stream", text="acc 99.7 and -1.5e-3, n=12\n")]
    b = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(2)")     # a comment is not the tag
    b.outputs = [nbformat.v4.new_output("stream", text="7.0\n")]
    c = nbformat.v4.new_code_cell("print(3)", metadata={"tags": ["hide-input"]})
    c.outputs = [nbformat.v4.new_output("stream", text="8.0\n")]
    nb.cells = [a, b, c]
    assert checked_numbers(nb) == [99.7, -1.5e-3, 12.0]
    assert checked_outputs(nb) == ["acc 99.7 and -1.5e-3, n=12\n"]


def test_toc_lists_existing_notebooks_in_book_order():
    nbs = toc_notebooks(ROOT)
    assert nbs and all(p.suffix == ".ipynb" and p.exists() for p in nbs)
    chapters = [p.name for p in nbs if p.parent == ROOT / "book"]
    assert chapters == sorted(chapters) and len(chapters) >= 6


def test_a_folder_without_a_book_is_named(tmp_path):
    with pytest.raises(BookNotFound, match="no _toc.yml"):
        toc_notebooks(tmp_path)


@pytest.mark.parametrize("argv", [["notebooks"], ["bench", "--out", "x"], ["notebooks", "--book", "nowhere"]])
def test_book_commands_outside_a_checkout_say_so_in_one_line(tmp_path, argv):
    """Run where an installed kvlib runs: a folder that is not the book's checkout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "kvlib", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no book in ") and "--book DIR" in lines[0], \
        proc.stderr
    assert not (tmp_path / "x").exists(), "nothing is benchmarked before the book is found"


def _declared() -> set[str]:
    """Distributions kvlib declares: its dependencies and the ``bench`` extra."""
    import tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["bench"]
    return {canonicalize_name(Requirement(r).name) for r in reqs}


@pytest.mark.parametrize("module", ["kvlib/bench.py", "kvlib/__main__.py"])
def test_book_commands_import_only_what_kvlib_declares(module):
    """Every third-party import of the bench/notebooks commands is a declared distribution."""
    tree = ast.parse((ROOT / module).read_text())
    mods = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    mods |= {n.module.split(".")[0] for n in ast.walk(tree)
             if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module}
    # modules named in strings (the child process that executes a notebook imports these)
    src = (ROOT / module).read_text()
    mods |= {m for m in ("nbformat", "nbclient", "yaml", "ipykernel") if f"import {m}" in src or
             f"from {m} " in src or f"{m!r}" in src or f'"{m}"' in src}
    third = sorted(m for m in mods if m not in sys.stdlib_module_names and m != "kvlib")
    dists = importlib.metadata.packages_distributions()
    declared = _declared()
    for m in third:
        names = {canonicalize_name(d) for d in dists.get(m, [])}
        assert names & declared, f"{module} imports {m} ({sorted(names)}), which kvlib does not declare"


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


def test_notebook_runs_check_their_arguments(tmp_path):
    from kvlib.book_runs import execute_notebook, run_notebooks
    nb = Path(__file__).resolve().parent.parent / "book" / "01_kernels.ipynb"
    for kwargs, name in ((dict(path=3), "path"), (dict(path=tmp_path / "none.ipynb"), "path"),
                         (dict(path=nb, device="tpu"), "device"), (dict(path=nb, timeout=0), "timeout"),
                         (dict(path=nb, timeout=True), "timeout")):
        with pytest.raises((TypeError, ValueError), match=name):
            execute_notebook(**kwargs)
    for kwargs, name in ((dict(paths="a.ipynb"), "paths"), (dict(paths=[3]), r"paths\[0\]"),
                         (dict(paths=[nb], repeats=0), "repeats"), (dict(paths=[nb], device="x"), "device"),
                         (dict(paths=[nb], compare_to_committed="yes"), "compare_to_committed")):
        with pytest.raises((TypeError, ValueError), match=name):
            run_notebooks(**kwargs)


def test_benchmarks_check_their_arguments(tmp_path):
    from kvlib import bench
    for fn in (bench.bench_kernels, bench.run_bench):
        for kwargs, name in ((dict(device="tpu"), "device"), (dict(repeats=0), "repeats"),
                             (dict(repeats=1.5), "repeats"), (dict(quick="yes"), "quick")):
            with pytest.raises((TypeError, ValueError), match=name):
                fn(**kwargs)
    with pytest.raises(TypeError, match="notebooks"):
        bench.run_bench(tmp_path, notebooks="no")
    with pytest.raises(TypeError, match="rec"):
        to_markdown({"device": "cpu"})
