"""Contract examples for kvlib.random_key_capacity (random keys in a fast weight)."""
from contract import ex

EXAMPLES = {
    "effective_dimension": ex(lambda: dict(features="elu1", d_key=4, n=64, seed=0), options={"features"}),
    "associative_capacity": ex(lambda: dict(n_pairs=[4, 8], d_key=4, d_value=8,
                                            features=["identity", "dpfp1", "softmax"], seeds=1, beta=4.0,
                                            rule="delta", device="cpu"), options={"rule"}),
    "accuracy_crossing": ex(lambda: dict(n_pairs=[10, 100, 1000], accuracy=[1.0, 0.75, 0.25], level=0.5),
                            result_nonfinite_ok=True),     # inf: the accuracy never falls below level
}
