"""Every registered figure runs at its small size and writes a PNG and strict JSON.

``kvlib.figures.registry.register(..., small={...})`` names settings that make a figure run
in a second or two; this is the smoke test that keeps every figure of the book runnable from
the command line (``python -m kvlib reproduce NAME``), including those no notebook shows.
"""
from __future__ import annotations

import json

import pytest

from conftest import requires_data
from kvlib.figures.registry import figures, reproduce

FIGURES = figures()


def test_every_figure_has_a_small_setting_and_a_description():
    for name, fig in FIGURES.items():
        assert fig.description and fig.chapter[:1] in "123456", name
        assert isinstance(fig.small, dict), name


@requires_data
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_runs_small(name, tmp_path):
    record = reproduce(name, out=tmp_path, device="cpu", progress=False, **FIGURES[name].small)
    assert (tmp_path / f"{name}.png").stat().st_size > 1000
    json.loads((tmp_path / f"{name}.json").read_text())             # strict JSON: no NaN tokens
    assert record["provenance"]["figure"] == name


def test_a_diverged_result_is_refused(tmp_path, monkeypatch):
    import matplotlib

    from kvlib.figures import registry
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def bad(device, progress=True):
        return plt.figure(), {"loss": float("nan")}
    monkeypatch.setitem(registry._REGISTRY, "_bad", registry.Figure("_bad", bad, "6 x", "diverges"))
    monkeypatch.setattr(registry, "figures", lambda: dict(registry._REGISTRY))
    with pytest.raises(ValueError, match=r"data\['loss'\]: the computation gave nan"):
        reproduce("_bad", out=tmp_path, device="cpu")
    assert not (tmp_path / "_bad.json").exists()
    with pytest.raises(ValueError, match="settings: figure '_bad' accepts none; got lr"):
        reproduce("_bad", out=tmp_path, device="cpu", lr=1.0)
