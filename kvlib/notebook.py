"""What a chapter notebook needs besides the science: glued numbers and checked numbers.

* :func:`glue` puts a computed value into the prose (myst-nb's ``glue`` when the book is
  built; a no-op fallback elsewhere, so a chapter runs in Colab without Jupyter Book).
* :func:`interact` moves one drawing function two ways: live controls (ipywidgets) in
  Jupyter, Colab and Binder, and, on a static page (the HTML book, committed outputs), an
  animated twin that plays without a kernel, with a note saying where the live control is.
* :func:`check` prints a number the test suite compares with the committed output, with the
  tolerance it is compared at written beside it (``label: 0.0227  (± 0.002)``). The test
  suite's nbval hook (``conftest.py``) compares such lines with :func:`outputs_agree`: the
  text must be identical, and every number within the stated tolerance of the committed
  one. A tolerance is chosen to cover floating-point noise across CPUs, thread counts and
  GPUs, and no more, so a genuine change still fails.

Explained in ``CONTRIBUTING.md`` (§Notebooks).
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["glue", "check", "outputs_agree", "static_page", "interact"]


def static_page() -> bool:
    """Whether outputs are being made for a static page (``KVLIB_STATIC=1``, set by
    ``make book`` and ``make notebooks``; ``KVLIB_PROGRESS=0`` counts too)."""
    flag = os.environ.get("KVLIB_STATIC", "").strip().lower() in ("1", "true", "yes", "on")
    return flag or os.environ.get("KVLIB_PROGRESS", "").strip().lower() in ("0", "false", "no", "off")


def glue(name: str, value: Any, display: bool = False) -> None:
    """Make ``value`` available to the prose as ``{glue:text}`name```.

    With myst-nb installed (the book build) this is ``myst_nb.glue``; without it (Colab,
    a plain Jupyter) the value is shown if ``display`` and otherwise nothing happens.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty string, got {name!r}")
    if not isinstance(display, bool):
        raise TypeError(f"display: expected True or False, got {display!r}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show
            show(value)
        return
    myst_glue(name, value, display=display)


_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?\b(?:nan|inf)\b")
_TOL = re.compile(r"\s+\(± ([0-9.eE+-]+)\)\s*$")


def _format(value: Any, digits: int) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if hasattr(value, "tolist"):                      # tensors and numpy values
        return _format(value.tolist(), digits)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format(v, digits) for v in value) + "]"
    raise TypeError(f"value: expected a number, bool, string or a list of them, got "
                    f"{type(value).__name__}")


def check(label: str, value: Any, tol: float | None = None) -> None:
    """Print ``label: value`` for nbval, compared at absolute tolerance ``tol`` (``None``: exactly).

    Floats are printed with one digit more than ``tol`` resolves. Booleans, strings and
    integers without a tolerance must match exactly.

    >>> check("final loss", 0.022712, tol=0.002)
    final loss: 0.0227  (± 0.002)
    >>> check("identity holds to 1e-10", True)
    identity holds to 1e-10: True
    """
    if not isinstance(label, str) or not label or "\n" in label:
        raise ValueError(f"label: expected a one-line non-empty string, got {label!r}")
    if tol is None:
        print(f"{label}: {_format(value, 6)}")
        return
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not math.isfinite(tol) \
            or tol <= 0:
        raise ValueError(f"tol: expected a positive finite number or None, got {tol!r}")
    digits = max(0, 1 - math.floor(math.log10(tol)))
    print(f"{label}: {_format(value, digits)}  (± {tol:g})")


def _numbers(text: str) -> tuple[str, list[float], list[int]]:
    """The text with numbers replaced by ``#``, the numbers, and their printed decimals."""
    values, decimals = [], []
    for m in _NUMBER.finditer(text):
        tok = m.group(0)
        values.append(float(tok))
        mant = tok.lower().split("e")[0]
        decimals.append(len(mant.split(".")[1]) if "." in mant else 0)
    return _NUMBER.sub("#", text), values, decimals


def _line_agrees(ref: str, new: str) -> bool:
    m, mn = _TOL.search(ref), _TOL.search(new)
    if m is None:
        return ref == new
    if mn is None or mn.group(1) != m.group(1):           # the same stated tolerance
        return False
    tol = float(m.group(1))
    skel_r, val_r, dec_r = _numbers(ref[: m.start()])
    skel_n, val_n, dec_n = _numbers(new[: mn.start()])
    if skel_r != skel_n or len(val_r) != len(val_n):
        return False
    for a, b, da, db in zip(val_r, val_n, dec_r, dec_n):
        if math.isnan(a) or math.isnan(b):
            if not (math.isnan(a) and math.isnan(b)):
                return False
            continue
        slack = 0.5 * 10.0 ** -da + 0.5 * 10.0 ** -db     # both sides were rounded when printed
        if not abs(a - b) <= tol + slack:
            return False
    return True


def outputs_agree(reference: str, new: str) -> bool:
    """Whether printed output ``new`` agrees with the committed ``reference``.

    Lines are compared one by one: a line ending in ``(± tol)`` (see :func:`check`) agrees
    when its text is the same and each number is within ``tol`` (plus the rounding of
    printing) of the reference's; any other line must be identical.

    >>> outputs_agree("mi: 0.05  (± 0.02)", "mi: 0.04  (± 0.02)")
    True
    >>> outputs_agree("mi: 0.05  (± 0.02)", "mi: 0.09  (± 0.02)")
    False
    """
    for name, text in (("reference", reference), ("new", new)):
        if not isinstance(text, str):
            raise TypeError(f"{name}: expected the printed output as a string, got {type(text).__name__}")
    ref_lines: Sequence[str] = reference.rstrip("\n").split("\n")
    new_lines: Sequence[str] = new.rstrip("\n").split("\n")
    return len(ref_lines) == len(new_lines) and all(
        _line_agrees(r, n) for r, n in zip(ref_lines, new_lines))


def _control(name: str, values: Sequence, initial: Any):
    import ipywidgets as widgets
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return widgets.SelectionSlider(options=list(values), value=initial, description=name,
                                       continuous_update=False)
    return widgets.Dropdown(options=list(values), value=initial, description=name)


def interact(draw: Callable[..., Any], controls: Mapping[str, Sequence], animate: str | None = None,
             *, initial: Mapping[str, Any] | None = None, figsize: tuple[float, float] = (7.0, 3.4),
             dpi: int = 72, interval: int = 400, static: bool | None = None):
    """Show ``draw`` with live controls, or, on a static page, as its animated twin.

    ``draw(fig, **values)`` draws one state into the empty matplotlib figure ``fig``.
    ``controls`` maps each keyword of ``draw`` to the values its control offers (numbers:
    a slider over them; anything else: a drop-down). Live (Jupyter, Colab, Binder): one
    ipywidgets control per keyword, redrawn on change; works with ipywidgets 7 and 8.
    Static (``static``, default :func:`static_page`): a note that the control is live in
    Jupyter, Colab or Binder, then a ``matplotlib`` animation through the values of
    ``animate`` (default: the first control), the others held at ``initial`` (default:
    each control's first value), which plays in the HTML book without a kernel.
    Displays its output itself and returns ``None`` (so a cell ending in the call shows it once).
    """
    if not callable(draw):
        raise TypeError(f"draw: expected a callable draw(fig, **values), got {draw!r}")
    if not isinstance(controls, Mapping) or not controls:
        raise ValueError(f"controls: expected a non-empty mapping name -> values, got {controls!r}")
    for name, values in controls.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"controls[{name!r}]: expected a non-empty list of values, got {values!r}")
    if static is not None and not isinstance(static, bool):
        raise TypeError(f"static: expected True, False or None, got {static!r}")
    for name, n in (("interval", interval), ("dpi", dpi)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{name}: expected a positive int, got {n!r}")
    animate = next(iter(controls)) if animate is None else animate
    if animate not in controls:
        raise ValueError(f"animate: expected one of {', '.join(map(repr, controls))}, got {animate!r}")
    start = {name: values[0] for name, values in controls.items()}
    for name, value in dict(initial or {}).items():
        if name not in controls or value not in list(controls[name]):
            raise ValueError(f"initial[{name!r}]: expected one of the control's values, got {value!r}")
        start[name] = value
    static = static_page() if static is None else static

    import matplotlib.pyplot as plt
    from IPython.display import HTML, Markdown, display

    if not static:
        import ipywidgets as widgets

        def show(**values: Any) -> None:
            fig = plt.figure(figsize=figsize)
            draw(fig, **values)
            plt.show()

        display(widgets.interactive(show, **{n: _control(n, v, start[n]) for n, v in controls.items()}))
        return None

    from matplotlib import animation
    frames = list(controls[animate])
    fig = plt.figure(figsize=figsize, dpi=dpi)

    def frame(i: int) -> None:
        fig.clear()
        draw(fig, **{**start, animate: frames[i]})

    anim = animation.FuncAnimation(fig, frame, frames=len(frames), interval=interval)
    plt.close(fig)
    live = ", ".join(f"`{n}`" for n in controls)
    display(Markdown(f"*Interactive in Jupyter, Colab or Binder (launch buttons at the top of the "
                     f"page): controls for {live}. Here the figure plays through `{animate}`.*"))
    display(HTML(f'<div class="kvlib-twin">{anim.to_jshtml(default_mode="once")}</div>'))
    return None
