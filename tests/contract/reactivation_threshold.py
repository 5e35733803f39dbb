"""Contract examples for kvlib.reactivation_threshold."""
from contract import ex

EXAMPLES = {
    "recovery_beta": ex(lambda: dict(betas=[1.0, 1.5, 2.0], accuracies=[40.0, 96.0, 99.0], level=95.0)),
}
