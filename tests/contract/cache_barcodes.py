"""Contract examples for kvlib.cache_barcodes (§4.2, one address per cache)."""
import torch

from contract import ex


def _g(seed):
    return torch.Generator().manual_seed(seed)


EXAMPLES = {
    "place_code": ex(lambda: dict(sites=4, cells=8, width=0.05, device="cpu")),
    "sparse_expansion": ex(lambda: dict(x=torch.randn(3, 4, generator=_g(0)),
                                        weights=torch.randn(4, 10, generator=_g(1)), active=3)),
    "cache_retrieval": ex(lambda: dict(caches_per_site=[2, 3], sites=3, birds=2, place_cells=6,
                                       episode_dims=4, units=20, active=4, place_weight=0.5, cue_noise=1.0,
                                       beta=30.0, value_dims=4, seed=0, device="cpu")),
}


def _caches():
    from kvlib.cache_barcodes import cache_retrieval
    return cache_retrieval(**EXAMPLES["cache_retrieval"].kwargs())


EXAMPLES["cache_numbers"] = ex(lambda: dict(result=_caches()))
