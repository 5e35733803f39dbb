"""Contract examples for kvlib.slot_capacity (tiny sizes: each case runs in milliseconds)."""
import torch

from contract import ex

EXAMPLES = {
    "fig2_lengths": ex(lambda: dict(max_items=20, n=5)),
    "accuracy_curve": ex(lambda: dict(model="random", dim=8, n_items=5, n_slots=8, value_rule="eq13",
                                      hopfield_diagonal=True, fraction_zeroed=0.6, p_random=0.3, beta=1.0,
                                      seeds=[0, 1], lengths=[1, 5], device="cpu"),
                         options={"model", "value_rule"},
                         extra=(("hopfield", "model", "hopfield", "lenient"),
                                ("half the slots", "n_slots", "half", "lenient"),
                                ("unknown", "n_slots", "quarter", "strict"))),
    "fig2_curve": ex(lambda: dict(model="random", dim=8, max_items=12, repeats=2, device="cpu"),
                     options={"model"}, extra=(("auto", "repeats", "auto", "lenient"),)),
    "fig2b_curves": ex(lambda: dict(dim=6, max_items=8, repeats=2, n_slots=6, value_rule="replace",
                                    hopfield_diagonal=False, device="cpu", progress=False),
                       options={"value_rule"}, extra=(("N", "n_slots", "N", "lenient"),
                                                      ("unknown", "n_slots", "quarter", "strict"))),
    "capacity_runs": ex(lambda: dict(model="sequential", dim=8, seeds=[0, 1], threshold=0.98, n_slots=8,
                                     value_rule="replace", hopfield_diagonal=True, fraction_zeroed=0.6,
                                     p_random=0.4, beta=1.0, max_items=64, device="cpu"),
                        options={"model", "value_rule"}),
    "capacity_from_curve": ex(lambda: dict(curve=torch.tensor([1.0, 0.99, 0.5]), threshold=0.98)),
    "capacity_vs_size": ex(lambda: dict(dims=[8], models=["hopfield"], threshold=0.98, seeds=[0],
                                        n_slots=8, value_rule="replace", hopfield_diagonal=True,
                                        fraction_zeroed=0.6, p_random=0.4, max_items=64, device="cpu",
                                        progress=False), options={"value_rule"}),
    "rehearsal_experiment": ex(lambda: dict(n_slots=4, n_items=12, n_rehearsed=2, every=3,
                                            fraction_zeroed=0.6, value_rule="replace", seeds=[0],
                                            device="cpu"), options={"value_rule"}),
}
