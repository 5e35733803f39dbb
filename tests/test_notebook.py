"""kvlib.notebook: checked numbers compare within their stated tolerance, and nothing else passes."""
from __future__ import annotations

import pytest

from kvlib.notebook import check, glue, outputs_agree


def _printed(capsys, *args, **kw) -> str:
    check(*args, **kw)
    return capsys.readouterr().out


def test_check_prints_the_tolerance_and_enough_digits(capsys):
    assert _printed(capsys, "loss", 0.022712, tol=0.002) == "loss: 0.0227  (± 0.002)\n"
    assert _printed(capsys, "acc (%)", [9.125, 98.53], tol=0.3) == "acc (%): [9.12, 98.53]  (± 0.3)\n"
    assert _printed(capsys, "holds", True) == "holds: True\n"


def test_noise_within_tolerance_passes_and_a_real_change_fails():
    ref = "hopfield MI per bit at P = 400, 1600, 3600: [0.07, 0.05, 0.05]  (± 0.02)\n"
    assert outputs_agree(ref, ref.replace("0.05]", "0.04]"))          # rounding-boundary noise
    assert not outputs_agree(ref, ref.replace("0.05]", "0.02]"))      # a change of 0.03
    assert not outputs_agree(ref, ref.replace("(± 0.02)", "(± 0.5)"))  # the tolerance is part of the text
    assert not outputs_agree(ref, ref.replace("hopfield", "vector-hash"))
    assert not outputs_agree(ref, ref + "one more line\n")
    assert not outputs_agree("x: [0.1, 0.2]  (± 0.01)", "x: [0.1]  (± 0.01)")


def test_lines_without_a_tolerance_must_be_identical():
    assert outputs_agree("holds: True\nloss: 0.1  (± 0.05)", "holds: True\nloss: 0.12  (± 0.05)")
    assert not outputs_agree("holds: True", "holds: False")
    assert not outputs_agree("capacity: 10", "capacity: 11")
    assert not outputs_agree("x: nan  (± 0.1)", "x: 0.0  (± 0.1)")


def test_bad_arguments():
    with pytest.raises(ValueError, match="tol: expected a positive finite number"):
        check("x", 1.0, tol=0)
    with pytest.raises(ValueError, match="label: expected a one-line"):
        check("a\nb", 1.0)
    with pytest.raises(TypeError, match="value: expected a number"):
        check("x", object(), tol=1.0)
    with pytest.raises(ValueError, match="name: expected a non-empty string"):
        glue("", 1)


def test_interact_draws_every_frame_of_the_twin_and_checks_its_controls():
    import matplotlib
    matplotlib.use("Agg")
    from kvlib.notebook import interact
    seen = []

    def draw(fig, beta=1.0, kind="a"):
        seen.append((beta, kind))
        fig.add_subplot().plot([0, 1], [0, beta])

    interact(draw, {"beta": [1.0, 1.5, 2.0], "kind": ["a", "b"]}, initial={"kind": "b"}, static=True)
    assert {(1.0, "b"), (1.5, "b"), (2.0, "b")} <= set(seen)       # every frame, others held
    with pytest.raises(ValueError, match="animate"):
        interact(draw, {"beta": [1.0]}, animate="gamma", static=True)
    with pytest.raises(ValueError, match=r"controls\['beta'\]"):
        interact(draw, {"beta": []}, static=True)
    with pytest.raises(ValueError, match=r"initial\['beta'\]"):
        interact(draw, {"beta": [1.0]}, initial={"beta": 3.0}, static=True)
    with pytest.raises(TypeError, match="draw"):
        interact(None, {"beta": [1.0]}, static=True)
