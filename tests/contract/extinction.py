"""Contract examples for kvlib.extinction (§4.1, responses that come back)."""
import torch

from contract import ex

EXAMPLES = {
    "context_drift": ex(lambda: dict(inputs=torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(0)),
                                     drift=0.3)),
    "extinction_recovery": ex(lambda: dict(delays=[1, 3], acquisition=2, extinction=2, reminder_lead=1,
                                           animals=2, d=4, drift=0.3, beta=20.0, cs_weight=0.5,
                                           us_salience=3.0, iti=1, learning_rate=0.3, seed=0, device="cpu")),
    "amnesia_recovery": ex(lambda: dict(test_delay=6, late_agent=3, acquisition=2, integration=1.5, window=4,
                                        lead=1, animals=2, d=4, drift=0.3, beta=50.0, threshold=0.75,
                                        cs_weight=0.5, us_salience=3.0, iti=1, seed=0, device="cpu")),
}


def _runs():
    from kvlib.extinction import amnesia_recovery, extinction_recovery
    return dict(recovery=extinction_recovery(**EXAMPLES["extinction_recovery"].kwargs()),
                amnesia=amnesia_recovery(**EXAMPLES["amnesia_recovery"].kwargs()))


EXAMPLES["returning_response_numbers"] = ex(_runs)
