"""Contract examples for kvlib.learned_capacity (capacities with learned keys)."""
from contract import ex

EXAMPLES = {
    "retrieval_capacity": ex(lambda: dict(scale="small", features=["elu1"], d_key=4, ratios=[1.0],
                                          max_steps=2, value_in_key=False, rule="sum", level=0.01, seed=0,
                                          device="cpu", progress=False, test_every=1, test_sequences=1),
                             options={"scale", "rule"}),
    "capacity_from_losses": ex(lambda: dict(n_keys=[20, 40, 60], losses=[0.0009, 0.0008, 0.0246],
                                            level=0.01)),
}
