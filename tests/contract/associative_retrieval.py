"""Contract examples for kvlib.associative_retrieval (Schlag et al.'s setting 1)."""
from contract import ex

EXAMPLES = {
    "associative_retrieval": ex(lambda: dict(runs=[("elu1", 4), ("softmax", 4)], d_key=4, rule="sum",
                                             value_in_key=True, batch_size=2, lr=1e-3, max_steps=2,
                                             test_every=1, test_sequences=1, stop_loss=1e-3, patience=2,
                                             max_queries=4, seed=0, device="cpu", progress=False),
                                options={"rule"}),
    "rank_bound": ex(lambda: dict(n_keys=128, m=64)),
}
