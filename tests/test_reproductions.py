"""kvlib.reproductions: the registry is well formed and a verdict follows from its numbers.

The verdicts themselves are checked where they are computed: the Reproductions page
(book/appendix/reproductions.ipynb) prints every row's verdict in a checked cell, so nbval
fails when one changes.
"""
from __future__ import annotations

import json
import math

import pytest

from kvlib import reproductions as R
from kvlib.reproductions import registry


def test_expectations_hold_exactly_where_they_should():
    assert R.approx(0.0227, 0.1, relative=True).holds(0.0240)
    assert not R.approx(0.0227, 0.1, relative=True).holds(0.0251)
    assert R.approx(9.13, 0.3).holds(9.125) and not R.approx(9.13, 0.3).holds(9.5)
    assert R.at_least(0.95).holds(0.95) and not R.at_least(0.95).holds(0.9499)
    assert R.at_most(2).holds(1) and not R.at_most(2).holds(3)
    assert R.equals(True).holds(True) and not R.equals(True).holds(False)
    for e in (R.approx(1.0, 0.1), R.at_least(0.0), R.at_most(1.0)):
        assert not e.holds(math.nan) and not e.holds("1.0")
    assert R.approx(0.0227, 0.1, relative=True).text() == "0.0227 ± 10 %"
    assert R.at_least(0.95).text() == "≥ 0.95"
    with pytest.raises(ValueError, match="kind"):
        R.Expect("close", 1.0)
    with pytest.raises(ValueError, match="tol"):
        R.approx(1.0, 0.0)


def test_every_row_is_complete_and_unique():
    rows = R.rows()
    assert rows, "no rows declared"
    assert len({r.key for r in rows}) == len(rows)
    for r in rows:
        assert r.experiment in registry._EXPERIMENTS, r.key
        assert r.source and r.where and r.source_value and r.quantity, r.key
        assert 1 <= r.chapter <= 6


def test_a_verdict_is_computed_from_the_value(monkeypatch):
    @R.experiment("_test-exp")
    def _exp(device):
        return {"x": 0.5, "y": 2.0}
    ok = registry.Row(key="_t1", chapter=1, quantity="q", source="s", where="w", source_value="0.5",
                      expect=R.approx(0.5, 0.01), experiment="_test-exp", field="x")
    bad = registry.Row(key="_t2", chapter=1, quantity="q", source="s", where="w", source_value="1",
                       expect=R.at_most(1.0), experiment="_test-exp", field="y", note="why")
    monkeypatch.setattr(registry, "_ROWS", {"_t1": ok, "_t2": bad})
    monkeypatch.setattr(registry, "_load", lambda: None)
    res = R.run(device="cpu")
    assert [r.verdict for r in res] == ["reproduced", "differs"]
    md = R.markdown(res)
    assert md.count("\n") == 4 and "❌ differs" in md and "why" in md
    with pytest.raises(ValueError, match="keys: unknown rows"):
        R.run(keys=["nope"], device="cpu")


def test_write_gives_json_and_markdown(tmp_path, monkeypatch):
    @R.experiment("_test-exp2")
    def _exp(device):
        return {"x": 1.0}
    r = registry.Row(key="_t3", chapter=2, quantity="q", source="s", where="w", source_value="1",
                     expect=R.approx(1.0, 0.1), experiment="_test-exp2", field="x")
    monkeypatch.setattr(registry, "_ROWS", {"_t3": r})
    monkeypatch.setattr(registry, "_load", lambda: None)
    js, md = R.write(R.run(device="cpu"), tmp_path)
    rec = json.loads(js.read_text())["rows"][0]
    assert rec["verdict"] == "reproduced" and rec["expect"] == "1 ± 0.1"
    assert "## Chapter 2" in md.read_text()


def test_run_checks_its_arguments():
    from kvlib import reproductions
    for kwargs, name in ((dict(keys="fig2-loss-2classes"), "keys"), (dict(keys=["no-such-row"]), "keys"),
                         (dict(chapter=7), "chapter"), (dict(chapter=True), "chapter"),
                         (dict(device="tpu"), "device"), (dict(progress="yes"), "progress")):
        with pytest.raises((TypeError, ValueError), match=name):
            reproductions.run(**kwargs)
    with pytest.raises(ValueError, match="name"):
        reproductions.experiment("")
