"""Chapter 2's registered figures: each runs at its small size and writes finite numbers."""
from __future__ import annotations

import json

import pytest

from conftest import requires_data
from kvlib.figures.registry import figures, reproduce

CH2 = sorted(name for name, f in figures().items() if f.chapter.startswith("2 "))


def test_the_chapter_registers_every_figure_it_shows():
    assert set(CH2) == {"lookalike-episode", "learned-keys-loss", "learned-vs-random-keys", "attention-maps",
                        "context-similarity", "temporal-contiguity", "crp-by-drift"}


@requires_data
@pytest.mark.parametrize("name", CH2)
def test_figure_runs_small(name, tmp_path):
    record = reproduce(name, out=tmp_path, device="cpu", progress=False, **figures()[name].small)
    assert (tmp_path / f"{name}.png").stat().st_size > 1000
    json.loads((tmp_path / f"{name}.json").read_text())             # strict JSON: no NaN tokens
    assert record["provenance"]["figure"] == name
