"""One contract for every public function: bad input is a clear error, never a silent wrong answer.

See :mod:`contract` for how examples are declared and :mod:`contract.engine` for
the cases and how outcomes are classified. Set ``KVLIB_CONTRACT_REPORT=path.json`` to write
the per-function counts.
"""
from __future__ import annotations

import importlib
import json
import os
import pkgutil

import pytest
from contract import Example
from contract.engine import drive

import kvlib
from kvlib.data import DataError

CLEAR = (ValueError, TypeError, DataError)


def _public_modules() -> list[str]:
    out = []
    for info in pkgutil.walk_packages(kvlib.__path__, "kvlib."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]) or parts[1] in ("figures",):
            continue
        if parts[1] == "reproductions" and len(parts) == 3 and parts[2] != "registry":
            continue                      # chapter row declarations: data, not functions
        out.append(info.name)
    return sorted(out)


def _examples(modname: str) -> tuple[dict, dict]:
    short = modname.split(".")[-1] if modname.count(".") == 1 else modname.split(".")[1]
    try:
        mod = importlib.import_module(f"contract.{short}")
    except ModuleNotFoundError:
        return {}, {}
    return getattr(mod, "EXAMPLES", {}), getattr(mod, "EXEMPT", {})


def _targets() -> list[tuple[str, str]]:
    out = []
    for modname in _public_modules():
        mod = importlib.import_module(modname)
        examples, _ = _examples(modname)
        names = [n for n in getattr(mod, "__all__", []) if callable(getattr(mod, n, None))]
        names += [n for n in examples if "." in n]            # methods: "Class.method"
        out += [(modname, n) for n in names]
    return out


TARGETS = _targets()
_REPORT: dict[str, dict] = {}


@pytest.mark.parametrize("modname,name", TARGETS, ids=[f"{m}.{n}" for m, n in TARGETS])
def test_public_callable_keeps_the_contract(modname, name):
    examples, exempt = _examples(modname)
    if name in exempt:
        pytest.skip(f"exempt: {exempt[name]}")
    assert name in examples, (f"{modname}.{name} is exported but has no contract example in "
                              f"tests/contract/ (add one, or an EXEMPT entry with its reason)")
    example: Example = examples[name]
    mod = importlib.import_module(modname)
    func = example.target() if example.target else getattr(mod, name)
    res = drive(func, example, CLEAR)
    _REPORT[f"{modname}.{name}"] = res["counts"]
    assert not res["failures"], "\n".join(res["failures"])


def teardown_module(module) -> None:
    path = os.environ.get("KVLIB_CONTRACT_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump(_REPORT, fh, indent=1)
