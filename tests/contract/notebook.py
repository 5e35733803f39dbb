"""Contract examples for kvlib.notebook."""
import matplotlib

from contract import ex

matplotlib.use("Agg")


def _draw(fig, beta):
    fig.add_subplot().plot([0, 1], [0, beta])


EXAMPLES = {
    # value: anything the prose may show (a number, a string, a table), so it is not perturbed
    "glue": ex(lambda: dict(name="x", value=1.0, display=False), skip={"value"}),
    # value: any printable result; a NaN prints as "nan" and then fails nbval against a number
    "check": ex(lambda: dict(label="x", value=0.5, tol=0.1), skip={"value"}),
    "outputs_agree": ex(lambda: dict(reference="x: 0.5  (± 0.1)", new="x: 0.55  (± 0.1)")),
    "static_page": ex(lambda: dict()),
    "interact": ex(lambda: dict(draw=_draw, controls={"beta": [1.0, 2.0]}, static=True, interval=100),
                   timeout=60.0),
}
