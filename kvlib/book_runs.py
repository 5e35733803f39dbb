"""The book's notebooks, found from ``_toc.yml`` and executed in fresh processes.

A chapter is in the book by being listed in ``_toc.yml``; :func:`toc_notebooks` lists them in
book order. :func:`execute_notebook` runs one in a fresh kernel (``KVLIB_DEVICE`` set to the
device asked for) and returns its wall time, peak memory and the numbers its checked cells
print (cell tag ``nbval-check-output``, printed by :func:`kvlib.notebook.check`);
:func:`run_notebooks` compares those with the committed outputs within their stated
tolerances, as the test suite does. ``python -m kvlib notebooks`` and ``python -m kvlib
bench`` (:mod:`kvlib.bench`) call them.

The notebooks are book files, not part of the installed package: these functions read them from
a checkout of the book (``root``, default the current folder) and need the ``bench`` extra
(PyYAML, nbformat, nbclient, ipykernel).
"""
from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

__all__ = ["CHECK_TAG", "BookNotFound", "book_root", "toc_files", "toc_notebooks", "checked_numbers",
           "checked_outputs", "execute_notebook", "run_notebooks"]

#: The nbval cell tag of checked cells (see ``conftest.py`` and ``kvlib.notebook.check``).
CHECK_TAG = "nbval-check-output"

_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


class BookNotFound(FileNotFoundError, ValueError):
    """No book (a folder holding ``_toc.yml``) where one was expected."""


def book_root(root: str | os.PathLike | None = None) -> Path:
    """The book's folder: ``root`` (default: the current folder), which must hold ``_toc.yml``.

    Raises :class:`BookNotFound` with a one-line message when it does not: the notebooks
    are in a checkout of the book, never in the installed package.
    """
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root: expected a folder path or None, got {type(root).__name__} {root!r}")
    folder = Path(root if root is not None else os.getcwd()).expanduser().resolve()
    if not (folder / "_toc.yml").is_file():
        raise BookNotFound(f"no book in {folder} (root: no _toc.yml there): run this from a checkout "
                           "of kv-memory-book, or pass --book DIR")
    return folder


def toc_files(root: str | os.PathLike | None = None) -> list[str]:
    """Every page listed in the book's ``_toc.yml`` (the root page first), as paths without suffix.

    ``root`` is the book's folder (default: the current folder, see :func:`book_root`).
    """
    import yaml

    root = book_root(root)
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(toc.get("parts", toc.get("chapters", [])))
    return [toc["root"]] + files


def toc_notebooks(root: str | os.PathLike | None = None) -> list[Path]:
    """Every ``.ipynb`` listed in the book's ``_toc.yml``, in book order."""
    root = book_root(root)
    return [root / f"{f}.ipynb" for f in toc_files(root) if (root / f"{f}.ipynb").exists()]


def _is_checked(cell: dict) -> bool:
    return cell.get("cell_type") == "code" and CHECK_TAG in cell.get("metadata", {}).get("tags", [])


def checked_outputs(nb: dict) -> list[str]:
    """The text each checked cell (tag ``nbval-check-output``) printed, one string per cell.

    Standard output and displayed results only: warnings on standard error are not results.
    """
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise TypeError(f"nb: expected a notebook as a dict with a 'cells' list (nbformat.read), "
                        f"got {type(nb).__name__}")
    texts = []
    for cell in nb["cells"]:
        if not _is_checked(cell):
            continue
        text = ""
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") != "stdout":
                continue
            t = out.get("text") or out.get("data", {}).get("text/plain", "")
            text += "".join(t) if isinstance(t, list) else t
        texts.append(text)
    return texts


def checked_numbers(nb: dict) -> list[float]:
    """The numbers printed by the notebook's checked cells (tag ``nbval-check-output``), in order."""
    return [float(x) for text in checked_outputs(nb) for x in _NUMBER.findall(text)]


def _notebook_path(name: str, path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected the path of a .ipynb file, got {type(path).__name__} {path!r}")
    path = Path(path)
    if path.suffix != ".ipynb" or not path.is_file():
        raise ValueError(f"{name}: expected an existing .ipynb file, got {str(path)!r}")
    return path


def _device_name(device: object) -> str:
    from kvlib.device import get_device
    return get_device(device).type if device != "auto" else "auto"


def execute_notebook(path: str | Path, device: str = "cpu", timeout: int = 1200) -> dict:
    """Execute one notebook in a fresh process; return its wall time, peak memory and numbers.

    The kernel runs with ``KVLIB_DEVICE=device``; the executed notebook is not written back.
    """
    path = _notebook_path("path", path)
    device = _device_name(device)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        raise ValueError(f"timeout: expected a positive number of seconds (int), got {timeout!r}")
    code = (
        "import json,sys,nbformat,time,resource;from nbclient import NotebookClient;"
        "nb=nbformat.read(sys.argv[1],as_version=4);t=time.perf_counter();"
        "NotebookClient(nb,timeout=int(sys.argv[2]),kernel_name='python3',"
        "resources={'metadata':{'path':sys.argv[3]}}).execute();"
        "w=time.perf_counter()-t;m=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024;"
        "print('@@'+json.dumps({'wall_s':w,'peak_mib':m,'nb':nb}))"
    )
    env = dict(os.environ, KVLIB_DEVICE=device, MPLBACKEND="Agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(timeout), str(path.parent)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{path.name} failed on {device}:\n{proc.stderr[-3000:]}")
    payload = json.loads(proc.stdout.split("@@", 1)[1])
    return {"notebook": path.name, "device": device, "wall_s": payload["wall_s"],
            "peak_mib": payload["peak_mib"],            # the kernel's peak resident memory
            "numbers": checked_numbers(payload["nb"]), "checked": checked_outputs(payload["nb"])}


def run_notebooks(paths: list[Path] | None = None, device: str = "cpu", repeats: int = 1,
                  compare_to_committed: bool = True, root: str | os.PathLike | None = None) -> list[dict]:
    """Execute every notebook ``repeats`` times; median wall time, peak memory, result drift.

    ``paths`` default to the notebooks of the book in ``root`` (see :func:`toc_notebooks`).
    Against the committed outputs, each row records the largest difference of a checked
    number (``max_abs_diff``) and whether every checked cell agrees within the tolerances it
    states (``within_tolerance``, compared as the test suite does, with
    ``kvlib.notebook.outputs_agree``).
    """
    import nbformat

    from kvlib.notebook import outputs_agree

    if paths is not None and (isinstance(paths, (str, os.PathLike)) or not hasattr(paths, "__iter__")):
        raise TypeError(f"paths: expected a list of notebook paths or None, got {paths!r}")
    paths = toc_notebooks(root) if paths is None else \
        [_notebook_path(f"paths[{i}]", p) for i, p in enumerate(paths)]
    device = _device_name(device)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: expected a positive int, got {repeats!r}")
    if not isinstance(compare_to_committed, bool):
        raise TypeError(f"compare_to_committed: expected True or False, got {compare_to_committed!r}")
    rows = []
    for p in paths:
        runs = [execute_notebook(p, device) for _ in range(repeats)]
        row = {"notebook": p.name, "device": device,
               "wall_s": statistics.median(r["wall_s"] for r in runs),
               "peak_mib": max((r["peak_mib"] or 0) for r in runs) or None}
        if compare_to_committed:
            committed = nbformat.read(p, as_version=4)
            ref, got = checked_numbers(committed), runs[-1]["numbers"]
            ref_text, got_text = checked_outputs(committed), runs[-1]["checked"]
            row["checked_numbers"] = len(ref)
            row["max_abs_diff"] = (max((abs(a - b) for a, b in zip(ref, got)), default=0.0)
                                   if len(ref) == len(got) else float("nan"))
            row["within_tolerance"] = len(ref_text) == len(got_text) and all(
                outputs_agree(a, b) for a, b in zip(ref_text, got_text))
        rows.append(row)
        print(f"{p.name:32s} {row['wall_s']:7.1f} s  peak {row['peak_mib'] or float('nan'):7.0f} MiB"
              + (f"  checked numbers vs committed: max |diff| {row['max_abs_diff']:.3g}, "
                 f"{'within' if row['within_tolerance'] else 'OUTSIDE'} the stated tolerances"
                 if compare_to_committed else ""), flush=True)
    return rows
