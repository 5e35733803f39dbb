"""Contract examples for kvlib.sdm_theory (Kanerva's analysis of the sparse distributed memory)."""
from contract import ex

EXAMPLES = {
    "activation_probability": ex(lambda: dict(n_bits=20, radius=8)),
    "intersection_probability": ex(lambda: dict(n_bits=20, radius=8, distance=4)),
    "intersection_curve": ex(lambda: dict(n_bits=20, radius=8)),
    "kanerva_fraction": ex(lambda: dict(n_locations=100, n_stored=5)),
    "radius_for_fraction": ex(lambda: dict(n_bits=20, fraction=0.1)),
    "read_error": ex(lambda: dict(distance=3, n_bits=20, n_locations=50, radius=8, n_stored=5)),
    "critical_distance": ex(lambda: dict(n_bits=20, n_locations=50, radius=8, n_stored=5)),
}
