"""Contract examples for kvlib.kernels (the one read)."""
import torch

from contract import ex
from kvlib import kernels as K


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _qkv():
    g = _g()
    return dict(queries=torch.randn(3, 4, generator=g), keys=torch.randn(5, 4, generator=g),
                values=torch.randn(5, 2, generator=g))


def _qk():
    d = _qkv()
    return dict(queries=d["queries"], keys=d["keys"])


def _scores():
    return dict(scores=torch.randn(3, 5, generator=_g(1)))


#: σ sanitises ±inf and NaN scores (a NaN or -inf score never wins), by design.
SCORES_OK = {"nonfinite_ok": {"scores"}}


SIMS = {name: ex(_qk) for name in ("dot", "scaled_dot", "cosine", "euclidean", "manhattan", "elu1",
                                   "l1_dot", "inverse_euclidean", "inverse_manhattan")}
SIMS["rbf"] = ex(lambda: dict(**_qk(), bandwidth=1.5))
SIMS["dpfp"] = ex(lambda: dict(**_qk(), nu=2))

EXAMPLES = {
    **SIMS,
    "get_similarity": ex(lambda: dict(similarity="cosine"), options={"similarity"}),
    "get_separation": ex(lambda: dict(separation="softmax"), options={"separation"}),
    "identity_features": ex(lambda: dict(x=torch.randn(3, 4, generator=_g()))),
    "elu_plus_one": ex(lambda: dict(x=torch.randn(3, 4, generator=_g()))),
    "dpfp_features": ex(lambda: dict(x=torch.randn(3, 4, generator=_g()), nu=2)),
    "RandomFourierFeatures": ex(lambda: dict(d=4, n_features=8, bandwidth=1.0, orthogonal=True,
                                             generator=_g(), device="cpu")),
    "RandomFourierFeatures.__call__": ex(
        lambda: dict(x=torch.randn(3, 4, generator=_g())),
        target=lambda: K.RandomFourierFeatures(4, 8, generator=_g())),
    "PositiveRandomFeatures": ex(lambda: dict(d=4, n_features=8, orthogonal=True, generator=_g(),
                                              device="cpu")),
    "PositiveRandomFeatures.__call__": ex(
        lambda: dict(x=torch.randn(3, 4, generator=_g())),
        target=lambda: K.PositiveRandomFeatures(4, 8, generator=_g())),
    "feature_kernel": ex(lambda: dict(phi=K.elu_plus_one)),
    "identity": ex(_scores),
    "softmax": ex(lambda: dict(**_scores(), beta=2.0), **SCORES_OK),
    "hardmax": ex(_scores, **SCORES_OK),
    "threshold": ex(lambda: dict(**_scores(), threshold=0.1), **SCORES_OK),
    "polynomial": ex(lambda: dict(**_scores(), degree=3.0)),
    "topk": ex(lambda: dict(**_scores(), k=2), **SCORES_OK),
    "separate": ex(lambda: dict(**_scores(), separation="softmax", beta=2.0, normalize=False,
                                normalize_scores=False, mask=torch.ones(5, dtype=torch.bool)),
                   options={"separation"}, **SCORES_OK),
    "retrieve": ex(lambda: dict(**_qkv(), similarity="cosine", separation="softmax", beta=2.0,
                                normalize=False, normalize_scores=False,
                                mask=torch.ones(5, dtype=torch.bool), min_score=-10.0, sample=False,
                                generator=_g(), chunk_size=2, return_weights=False, full=False),
                   options={"similarity", "separation"}),
    "favor_attention": ex(lambda: dict(**_qkv(), features=K.PositiveRandomFeatures(4, 16, generator=_g()))),
    "random_feature_error": ex(lambda: dict(n_features=[8, 16], n_queries=4, n_keys=6, dim=4, dim_v=2,
                                            seeds=1, orthogonal=True, rff=True, device="cpu")),
    "benchmark_retrieve": ex(lambda: dict(n_queries=4, n_keys=8, dim=4, device="cpu", repeats=1,
                                          chunk_size=None, seed=0)),
}

EXEMPT = {
    "Read": "a NamedTuple of results (values, weights, found, index); nothing to validate",
}
