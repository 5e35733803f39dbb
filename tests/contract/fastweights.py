"""Contract examples for kvlib.fastweights (linear attention as a fast weight programmer)."""
import torch

from contract import ex


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _qkv(T=10, d_k=4, d_v=3):
    return dict(q=torch.rand(T, d_k, generator=_g()), k=torch.rand(T, d_k, generator=_g(1)),
                v=torch.randn(T, d_v, generator=_g(2)))


def _lr(T=10):
    return torch.rand(T, generator=_g(3))


EXAMPLES = {
    "recurrent": ex(lambda: dict(**_qkv(), rule="delta", lr=_lr(), normalize=False), options={"rule"}),
    "parallel": ex(lambda: dict(**_qkv(), rule="delta", lr=_lr(), normalize=False), options={"rule"}),
    "chunked": ex(lambda: dict(**_qkv(), rule="delta", lr=_lr(), normalize=False, chunk_size=4),
                  options={"rule"}),
    "fast_weights": ex(lambda: dict(**_qkv(), rule="sum", form="chunked", lr=None, normalize=True,
                                    chunk_size=4), options={"rule", "form"}),
    "sum_normalize": ex(lambda: dict(phi=torch.rand(5, 4, generator=_g()) + 0.1)),
    "delta_values": ex(lambda: dict(k=torch.rand(6, 4, generator=_g()), v=torch.randn(6, 2, generator=_g(1)),
                                    lr=torch.rand(6, generator=_g(2)))),
    "benchmark_forms": ex(lambda: dict(seq_lens=[8, 16], d_k=4, d_v=4, rule="delta", chunk_size=4, repeats=1,
                                       device="cpu", seed=0, threads=1), options={"rule"}),
    "feature_map": ex(lambda: dict(features="dpfp2"), options={"features"}),
    "feature_dim": ex(lambda: dict(features="favor8", d_key=4), options={"features"}),
}
