"""The registry behind the Reproductions page: every number the book compares with a source.

A *row* names one quantity a source reports (the paper's notebooks, a primary source's
code or its committed results), the source's value as the source states it, how the
book's value is compared with it (:class:`Expect`), and the *experiment* that computes the
book's value. :func:`run` computes every row and gives each a verdict, ``"reproduced"``
when the book's value meets the expectation and ``"differs"`` when it does not; a row that
differs says why in its ``note`` and names the ``switch`` that runs the source's setting.

Rows live in one module per chapter (``kvlib/reproductions/ch*.py``); experiments are
cached per device, so rows that read several numbers off one run compute it once::

    python -m kvlib reproductions --out DIR      # reproductions.json + reproductions.md

Explained in the appendix, §Reproductions.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from kvlib import _checks as check

__all__ = ["Expect", "approx", "at_least", "at_most", "equals", "Row", "Result", "experiment",
           "row", "rows", "run", "markdown", "write"]

_KINDS = ("approx", "at_least", "at_most", "equals")


@dataclass(frozen=True)
class Expect:
    """How a book value is compared with a source value.

    ``approx``: within ``tol`` (absolute, or a fraction of ``value`` if ``relative``);
    ``at_least`` / ``at_most``: a one-sided bound; ``equals``: exactly (booleans, labels).
    """

    kind: str
    value: Any
    tol: float = 0.0
    relative: bool = False

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind: expected one of {', '.join(_KINDS)}, got {self.kind!r}")
        if self.kind != "equals":
            check.number("value", self.value)
        if self.kind == "approx" and not check.number("tol", self.tol) > 0:
            raise ValueError(f"tol: expected a positive number for an approximate comparison, "
                             f"got {self.tol!r}")
        if not isinstance(self.relative, bool):
            raise TypeError(f"relative: expected True or False, got {self.relative!r}")

    def holds(self, x: Any) -> bool:
        """Whether the book's value ``x`` meets this expectation (NaN never does)."""
        if self.kind == "equals":
            return x == self.value
        if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
            return False
        if self.kind == "at_least":
            return x >= self.value
        if self.kind == "at_most":
            return x <= self.value
        bound = self.tol * abs(self.value) if self.relative else self.tol
        return abs(x - self.value) <= bound

    def text(self) -> str:
        """The comparison as the page shows it, e.g. ``0.0227 ± 10 %`` or ``≥ 0.95``."""
        v = _fmt(self.value)
        if self.kind == "equals":
            return f"= {v}"
        if self.kind == "at_least":
            return f"≥ {v}"
        if self.kind == "at_most":
            return f"≤ {v}"
        tol = f"{100 * self.tol:g} %" if self.relative else _fmt(self.tol)
        return f"{v} ± {tol}"


def approx(value: float, tol: float, relative: bool = False) -> Expect:
    """Within ``tol`` of ``value`` (``relative``: ``tol`` is a fraction of ``value``)."""
    return Expect("approx", value, tol, relative)


def at_least(value: float) -> Expect:
    """At least ``value``."""
    return Expect("at_least", value)


def at_most(value: float) -> Expect:
    """At most ``value``."""
    return Expect("at_most", value)


def equals(value: Any) -> Expect:
    """Exactly ``value``."""
    return Expect("equals", value)


@dataclass(frozen=True)
class Row:
    """One quantity the book compares with a source.

    ``source``: who reports it, ``where``: the file, figure or table (``url`` links to it);
    ``source_value``: the value as the source states it; ``expect``: the comparison;
    ``experiment`` and ``field``: what computes the book's value; ``setting``: whose
    setting the book's value is computed in; ``note``: one line, why a row differs or
    what exactly is compared; ``switch``: the argument that runs the source's setting.
    """

    key: str
    chapter: int
    quantity: str
    source: str
    where: str
    source_value: str
    expect: Expect
    experiment: str
    field: str
    setting: str = "the source's"
    note: str = ""
    switch: str = ""
    url: str = ""

    def __post_init__(self) -> None:
        for f in ("key", "quantity", "source", "where", "source_value", "experiment", "field",
                  "setting", "note", "switch", "url"):
            v = getattr(self, f)
            if not isinstance(v, str):
                raise TypeError(f"{f}: expected a string, got {type(v).__name__} {v!r}")
        for f in ("key", "quantity", "source", "experiment", "field"):
            if not getattr(self, f).strip():
                raise ValueError(f"{f}: expected a non-empty string")
        if isinstance(self.chapter, bool) or not isinstance(self.chapter, int) or not 1 <= self.chapter <= 6:
            raise ValueError(f"chapter: expected 1 to 6, got {self.chapter!r}")
        if not isinstance(self.expect, Expect):
            raise TypeError(f"expect: expected an Expect (approx, at_least, at_most, equals), got "
                            f"{self.expect!r}")


@dataclass
class Result:
    """A computed row: the book's ``value`` and the ``verdict``."""

    row: Row
    value: Any
    verdict: str
    seconds: float = field(default=0.0)

    def __post_init__(self) -> None:
        if not isinstance(self.row, Row):
            raise TypeError(f"row: expected a Row, got {type(self.row).__name__}")
        if self.verdict not in ("reproduced", "differs"):
            raise ValueError(f"verdict: expected 'reproduced' or 'differs', got {self.verdict!r}")
        check.number("seconds", self.seconds, low=0)

    @property
    def key(self) -> str:
        return self.row.key


_EXPERIMENTS: dict[str, Callable[[torch.device], dict]] = {}
_ROWS: dict[str, Row] = {}
_CACHE: dict[tuple[str, str], tuple[dict, float]] = {}


def experiment(name: str) -> Callable:
    """Register ``func(device) -> dict`` as the experiment ``name`` (computed once per device)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name: expected a non-empty experiment name, got {name!r}")

    def deco(func: Callable[[torch.device], dict]) -> Callable:
        if name in _EXPERIMENTS and _EXPERIMENTS[name].__module__ != func.__module__:
            raise ValueError(f"experiment {name!r} registered twice")
        _EXPERIMENTS[name] = func
        return func
    return deco


def row(**kwargs: Any) -> Row:
    """Declare a row (see :class:`Row` for the fields); keys are unique."""
    r = Row(**kwargs)
    if r.key in _ROWS and _ROWS[r.key] != r:
        raise ValueError(f"row {r.key!r} declared twice")
    if not 1 <= r.chapter <= 6:
        raise ValueError(f"chapter: expected 1 to 6, got {r.chapter!r}")
    _ROWS[r.key] = r
    return r


def _load() -> None:
    # Explicit, so the registry's contents are visible here (no discovery at run time).
    from kvlib.reproductions import (  # noqa: F401
        ch1_kernels,
        ch1_models,
        ch2_representations,
        ch3_dualform,
        ch4_substrates,
        ch5_evidence,
        ch6_simulations,
    )


def _chapter(chapter: Any) -> None:
    if chapter is not None and (isinstance(chapter, bool) or not isinstance(chapter, int)
                                or not 1 <= chapter <= 6):
        raise ValueError(f"chapter: expected 1 to 6 or None, got {chapter!r}")


def _results(results: Any) -> list[Result]:
    if isinstance(results, (str, bytes)) or not isinstance(results, (list, tuple)) or \
            not all(isinstance(r, Result) for r in results):
        raise TypeError(f"results: expected a list of Result (what run returns), got {results!r}"[:200])
    return list(results)


def rows(chapter: int | None = None) -> list[Row]:
    """Every declared row (of one chapter if given), in chapter order, then declaration order."""
    _chapter(chapter)
    _load()
    out = [r for r in _ROWS.values() if chapter is None or r.chapter == chapter]
    return sorted(out, key=lambda r: r.chapter)


def _compute(name: str, device: torch.device) -> tuple[dict, float]:
    key = (name, str(device))
    if key not in _CACHE:
        if name not in _EXPERIMENTS:
            raise ValueError(f"experiment: unknown experiment {name!r}")
        t0 = time.perf_counter()
        res = _EXPERIMENTS[name](device)
        _CACHE[key] = (res, time.perf_counter() - t0)
    return _CACHE[key]


def run(keys: Iterable[str] | None = None, chapter: int | None = None,
        device: str | torch.device | None = None, progress: bool = False) -> list[Result]:
    """Compute the rows (all, those named in ``keys``, or one chapter's) and their verdicts."""
    from kvlib.device import get_device
    from kvlib.device import progress as progress_bar
    dev = get_device(device)
    if not isinstance(progress, bool):
        raise TypeError(f"progress: expected True or False, got {progress!r}")
    todo = rows(chapter)
    if keys is not None:
        if isinstance(keys, (str, bytes)) or not hasattr(keys, "__iter__"):
            raise TypeError(f"keys: expected a list of row keys or None, got {keys!r}")
        keys = list(keys)
        known = {r.key for r in rows()}
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise ValueError(f"keys: unknown rows {', '.join(unknown)}; valid rows are: "
                             f"{', '.join(sorted(known))}")
        todo = [r for r in todo if r.key in keys]
    out = []
    for r in progress_bar(todo, enabled=progress, desc="reproductions"):
        res, seconds = _compute(r.experiment, dev)
        if r.field not in res:
            raise ValueError(f"row {r.key!r}: experiment {r.experiment!r} has no field {r.field!r}")
        value = res[r.field]
        if isinstance(value, torch.Tensor):
            value = value.item()
        out.append(Result(r, value, "reproduced" if r.expect.holds(value) else "differs", seconds))
    return out


def _fmt(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, float):
        return str(x)
    if x == 0 or not math.isfinite(x):
        return str(x)
    return f"{x:.4g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.2e}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(results: list[Result], chapter: int | None = None) -> str:
    """The results as a Markdown table (one chapter's, if given)."""
    results = _results(results)
    _chapter(chapter)
    sel = [r for r in results if chapter is None or r.row.chapter == chapter]
    lines = ["| quantity | source | source's value | book's value | compared as | setting | verdict "
             "| why, and the source's setting |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for res in sel:
        r = res.row
        where = f"[{r.where}]({r.url})" if r.url else r.where
        why = r.note + (f" Source's setting: `{r.switch}`." if r.switch else "")
        mark = "✅ reproduced" if res.verdict == "reproduced" else "❌ differs"
        lines.append("| " + " | ".join(_cell(c) for c in (
            r.quantity, f"{r.source}, {where}", r.source_value, _fmt(res.value), r.expect.text(),
            r.setting, mark, why.strip())) + " |")
    return "\n".join(lines) + "\n"


def write(results: list[Result], out: str | Path) -> tuple[Path, Path]:
    """Write ``reproductions.json`` and ``reproductions.md`` into ``out``; return both paths."""
    results = _results(results)
    if not isinstance(out, (str, os.PathLike)) or not str(out).strip():
        raise TypeError(f"out: expected a folder path, got {out!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for res in results:
        rec = asdict(res.row)
        rec["expect"] = res.row.expect.text()
        rec.update(value=res.value, verdict=res.verdict, seconds=round(res.seconds, 3))
        records.append(rec)
    js, md = out / "reproductions.json", out / "reproductions.md"
    js.write_text(json.dumps({"rows": records}, indent=1, allow_nan=False))
    parts = ["# Reproductions\n"]
    for ch in sorted({r.row.chapter for r in results}):
        parts += [f"\n## Chapter {ch}\n\n", markdown(results, ch)]
    md.write_text("".join(parts))
    return js, md
