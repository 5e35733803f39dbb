"""Contract examples for kvlib.sdm_capacity (capacity and critical distance of Kanerva's SDM)."""
from contract import ex
from kvlib import sdm_capacity as sc


def _mem():
    return sc.written_memory(32, 100, 5, seed=0)


EXAMPLES = {
    "written_memory": ex(lambda: dict(n_bits=32, n_locations=100, n_stored=5, seed=0, device="cpu")),
    "one_read_error": ex(lambda: dict(n_bits=32, n_locations=100, n_stored=5, distance=3, n_cues=8, seed=0,
                                      device="cpu")),
    "theory_capacity": ex(lambda: dict(n_bits=32, n_locations=100, distance=3, error=0.05)),
    "sdm_capacity": ex(lambda: dict(n_bits=32, n_locations=100, distance=3, error=0.05, n_cues=8, seeds=(0,),
                                    span=2.0, points=2, device="cpu")),
    "converged_fraction": ex(lambda: dict(sdm=_mem()[0], words=_mem()[1], distance=2, n_reads=2, n_cues=4,
                                          seed=0)),
    "one_step_map": ex(lambda: dict(sdm=_mem()[0], words=_mem()[1], distances=[0, 2], n_cues=4, seed=0)),
    "measured_critical_distance": ex(lambda: dict(n_bits=32, n_locations=100, n_stored=5, n_reads=2,
                                                  n_cues=4, seed=0, device="cpu")),
    "one_step_critical_distance": ex(lambda: dict(n_bits=32, n_locations=100, n_stored=5, n_cues=4, seed=0,
                                                  device="cpu")),
    "sdm_size_sweep": ex(lambda: dict(n_bits=32, locations=(50, 100), distance=3, error=0.05,
                                      n_stored_critical=5, seeds=(0,), n_cues=4, device="cpu",
                                      progress=False)),
}
