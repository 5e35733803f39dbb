"""Contract examples for kvlib.notebook."""
from contract import ex

EXAMPLES = {
    "glue": ex(lambda: dict(name="x", value=1.0, display=False)),
    "check": ex(lambda: dict(label="x", value=0.5, tol=0.1)),
    "outputs_agree": ex(lambda: dict(reference="x: 0.5  (± 0.1)", new="x: 0.55  (± 0.1)")),
}
