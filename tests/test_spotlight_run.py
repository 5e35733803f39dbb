"""Irie et al.'s training setting, recorded: the source's configuration and an exact dual form."""
from __future__ import annotations

import pytest
import torch

from conftest import requires_data, tol
from kvlib import attribution as A
from kvlib.spotlight_run import SpotlightConfig, train_recorded

F64 = torch.float64


def test_config_settings_and_errors():
    src = SpotlightConfig.source()
    assert (src.hidden, src.steps, src.batch_size, src.lr, src.momentum, src.grad_clip) == \
        ((800, 800), 5000, 128, 3e-3, 0.9, 1.0)                # the source's sweep and defaults
    assert SpotlightConfig.named("source", hidden=[64, 64], dtype="float64").hidden == (64, 64)
    with pytest.raises(ValueError, match="setting"):
        SpotlightConfig.named("paper")
    with pytest.raises(ValueError, match="width"):
        SpotlightConfig.named("book", width=3)
    with pytest.raises(ValueError, match="steps"):
        SpotlightConfig(steps=0)


@requires_data
def test_mnist_run_is_exactly_a_dual_form_in_float64():
    run = train_recorded(SpotlightConfig(hidden=(32, 32), steps=40, n_train=2000, n_queries=20,
                                             grad_clip=0.3))      # low enough to clip often
    assert any(s < 1 for s in run.clip_scales)
    assert max(A.attention_identity_error(run).values()) <= tol(F64)


@requires_data
def test_spotlight_study_shows_a_correctly_classified_digit():
    run = train_recorded(SpotlightConfig(hidden=(16, 16), steps=30, n_train=1000, n_queries=20))
    study = A.spotlight_study(run)
    assert max(study["identity"].values()) <= tol(F64)
    q = study["views"]["label"]
    assert len(study["views"]["layers"]) == 3 and 0 <= q < 10
    with torch.no_grad():
        pred = run.model(run.x_query).argmax(-1)
    first = int((pred == run.y_query).nonzero()[0])
    assert q == int(run.y_query[first])
    for curves in study["curves"].values():               # shares rise to 1 at the full set
        assert curves["real"][-1] == pytest.approx(1.0) and curves["shuffled"][-1] == pytest.approx(1.0)
