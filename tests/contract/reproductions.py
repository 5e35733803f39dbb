"""Contract examples for kvlib.reproductions (the registry behind the Reproductions page)."""
import tempfile

from contract import ex
from kvlib.reproductions import Result, Row, approx


def _row(**kw):
    base = dict(key="demo", chapter=6, quantity="final loss", source="a paper", where="Fig 2",
                source_value="0.0227", expect=approx(0.0227, 0.002), experiment="demo", field="loss")
    base.update(kw)
    return base


def _results():
    return [Result(Row(**_row()), 0.0226, "reproduced", 1.5)]


EXAMPLES = {
    "Expect": ex(lambda: dict(kind="approx", value=0.5, tol=0.1, relative=False), options={"kind"}),
    "approx": ex(lambda: dict(value=0.5, tol=0.1, relative=True)),
    "at_least": ex(lambda: dict(value=0.5)),
    "at_most": ex(lambda: dict(value=0.5)),
    # value: compared with == (a bool, a label or a number), so any value is valid
    "equals": ex(lambda: dict(value=True), skip={"value"}),
    # string fields are free text; the engine's "unknown option" and "empty string" cases are lenient
    "Row": ex(lambda: _row()),
    # value: the book's value, whatever the experiment computes (NaN then "differs")
    "Result": ex(lambda: dict(row=Row(**_row()), value=0.0226, verdict="reproduced", seconds=1.5),
                 skip={"value"}, options={"verdict"}),
    "rows": ex(lambda: dict(chapter=6)),
    "markdown": ex(lambda: dict(results=_results(), chapter=6)),
    "write": ex(lambda: dict(results=_results(), out=tempfile.mkdtemp())),
}
_GLOBAL = ("declares into the one registry of the Reproductions page, so driving it with bad input "
           "would leave demo entries there; its checks are tested in tests/test_reproductions.py")
EXEMPT = {
    "experiment": _GLOBAL,
    "row": _GLOBAL + " (it builds a Row, which is driven here)",
    "run": "computes the source comparisons (minutes); its argument checks are tested in "
           "tests/test_reproductions.py::test_run_checks_its_arguments",
}
