"""kvlib.memory: correlation memory (Eqs 1-3) and capacity on MNIST."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import requires_data, tol
from kvlib import memory as M

# --- correlation matrix memory ------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 12), st.integers(1, 9), st.integers(0, 10**6))
def test_dual_form_equals_matrix_form(n, d_k, d_v, seed):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randn(n, d_k, generator=g, dtype=torch.float64)
    vals = torch.randn(n, d_v, generator=g, dtype=torch.float64)
    rate = torch.rand(n, generator=g, dtype=torch.float64)
    q = torch.randn(5, d_k, generator=g, dtype=torch.float64)
    mem = M.CorrelationMemory(d_k, d_v, dtype=torch.float64)
    mem.write(keys[: n // 2], vals[: n // 2], rate[: n // 2])            # two writes: Eq 1 accumulates
    mem.write(keys[n // 2:], vals[n // 2:], rate[n // 2:])
    torch.testing.assert_close(mem.read(q), mem.read_dual(q), atol=tol(torch.float64), rtol=0)
    # and both equal the explicit sum over stored pairs, Σ (q·kₙ) ηₙ vₙ (Eq 3)
    explicit = ((q @ keys.T) * rate) @ vals
    torch.testing.assert_close(mem.read(q), explicit, atol=tol(torch.float64), rtol=0)
    assert len(mem) == n


def test_orthonormal_keys_give_perfect_heteroassociation():
    keys = torch.eye(6, dtype=torch.float64)[:4]
    vals = torch.randn(4, 3, dtype=torch.float64)
    mem = M.CorrelationMemory(6, 3, dtype=torch.float64)
    mem.write(keys, vals)
    torch.testing.assert_close(mem.read(keys), vals)


def test_correlation_memory_errors():
    mem = M.CorrelationMemory(4, 2)
    with pytest.raises(ValueError, match=r"keys: expected shape \(N, 4\)"):
        mem.write(torch.zeros(3, 5), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"values: expected 3 rows"):
        mem.write(torch.zeros(3, 4), torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"keys: expected dtype torch.float32"):
        mem.write(torch.zeros(3, 4, dtype=torch.float64), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"rate: expected a number or a tensor of shape \(3,\)"):
        mem.write(torch.zeros(3, 4), torch.zeros(3, 2), torch.ones(2))
    with pytest.raises(ValueError, match=r"d_k: expected an integer > 0"):
        M.CorrelationMemory(0, 2)


# --- corruption and capacity --------------------------------------------------------------

def test_corrupt():
    x = torch.rand(5, 784)
    masked = M.corrupt(x, "mask", 0.5)
    assert torch.equal(masked[:, :392], x[:, :392]) and (masked[:, 392:] == 0).all()
    assert torch.equal(M.corrupt(x, "mask", 0.0), x)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    n1, n2 = M.corrupt(x, "noise", 0.5, generator=g1), M.corrupt(x, "noise", 0.5, generator=g2)
    assert torch.equal(n1, n2)
    assert abs(float((n1 - x).std()) - 0.5) < 0.02
    with pytest.raises(ValueError, match=r"kind: expected one of noise, mask, got 'blur'"):
        M.corrupt(x, "blur")
    with pytest.raises(ValueError, match=r"level: expected a masked fraction in \[0, 1\], got 1.5"):
        M.corrupt(x, "mask", 1.5)


def test_capacity_curve_equals_direct_retrieval():
    g = torch.Generator().manual_seed(0)
    imgs = torch.rand(60, 30, generator=g)
    sizes = [10, 60]
    curve = M.capacity_curve(imgs, sizes, similarity="cosine", separation="softmax", beta=30.0,
                             corruption="noise", level=0.3, tolerance=0.5)
    q = M.corrupt(imgs, "noise", 0.3, generator=torch.Generator().manual_seed(0))
    direct = [M.retrieval_accuracy(imgs[:n], q[:n], "cosine", "softmax", beta=30.0, tolerance=0.5)
              for n in sizes]
    assert curve == direct


def test_clipped_noise_is_millidges_perturbation():
    """Their gaussian_perturb_image: |x + ε| clamped to [0, 1]."""
    x = torch.rand(6, 50)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    clipped = M.corrupt(x, "noise", 0.5, generator=g1, clip=True)
    raw = M.corrupt(x, "noise", 0.5, generator=g2)
    torch.testing.assert_close(clipped, raw.abs().clamp(0, 1))
    assert float(clipped.min()) >= 0 and float(clipped.max()) <= 1


def _millidge_reference(imgs, queries, n, sim, sep, sep_param, threshold):
    """Millidge et al.'s PC_retrieve_store_continuous, one query at a time as their code does it:
    scores sim(X, z), divided by their sum, separated, divided by their sum, X.T @ weights, and
    correct when the summed squared difference is at most the threshold."""
    X, correct = imgs[:n], 0
    for j in range(n):
        z = queries[j]
        if sim == "manhattan":
            s = 1.0 / (z - X).abs().sum(1)
        elif sim == "euclidean":
            s = 1.0 / (z - X).square().sum(1)
        else:                                                  # their normalized_dot_product
            s = (X / X.sum(1, keepdim=True)) @ (z / z.sum())
        s = s / s.sum()
        if sep == "max":
            w = torch.nn.functional.one_hot(s.argmax(), n).to(s.dtype)
        elif sep == "softmax":
            w = torch.softmax(sep_param * s, 0)
        else:
            w = s ** sep_param
        w = w / w.sum()
        correct += int(float((X[j] - X.T @ w).square().sum()) <= threshold)
    return correct / n


@pytest.mark.parametrize("sim,sep,param", [("manhattan", "max", 1.0), ("euclidean", "softmax", 1000.0),
                                           ("dot", "max", 1.0), ("manhattan", "polynomial", 3)])
def test_millidge_setting_is_their_retrieval_loop(sim, sep, param):
    g = torch.Generator().manual_seed(0)
    imgs = (torch.rand(40, 64, generator=g, dtype=torch.float64) ** 3)        # images in [0, 1]
    sizes = [10, 40]
    kw = {"degree": param} if sep == "polynomial" else {}
    beta = param if sep == "softmax" else 1.0
    for corruption, level in (("noise", 0.3), ("mask", 0.5)):
        got = M.capacity_curve(imgs, sizes, similarity=sim, separation=sep, beta=beta, corruption=corruption,
                               level=level, setting="millidge", tolerance=2.0, **kw)
        queries = M.corrupt(imgs, corruption, level, generator=torch.Generator().manual_seed(0),
                            clip=corruption == "noise")
        want = [_millidge_reference(imgs, queries, n, sim, sep, param, 2.0) for n in sizes]
        assert got == want, (corruption, got, want)


@pytest.fixture(scope="module")
def mnist():
    return M.mnist_memories(300)


@requires_data
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distances_beat_the_dot_product_in_millidges_setting(seed):
    """Millidge et al.'s finding, in their setting (training digits, noise σ = 0.5 clipped, max
    separation, their L1-normalised dot product, error ≤ 60): both distances retrieve more."""
    imgs = M.mnist_memories(1000, train=True, seed=seed)
    acc = {s: M.capacity_curve(imgs, [1000], similarity=s, separation="max", corruption="noise", level=0.5,
                               setting="millidge", seed=seed)[0] for s in ("dot", "euclidean", "manhattan")}
    assert min(acc["euclidean"], acc["manhattan"]) > acc["dot"] + 0.02


@requires_data
@pytest.mark.parametrize("seed", [0, 1])
def test_similarity_ordering_on_mnist(mnist, seed):
    def acc(sim, query, level):
        return M.capacity_curve(mnist, [300], similarity=sim, separation="max", corruption=query,
                                level=level, tolerance=5.0, seed=seed)[0]
    noise = {s: acc(s, "noise", 1.5) for s in ("dot", "cosine", "euclidean", "manhattan")}
    # Gaussian noise: the distances and the cosine beat the raw dot product by a wide margin.
    assert min(noise["cosine"], noise["euclidean"], noise["manhattan"]) > noise["dot"] + 0.15
    assert noise["euclidean"] > noise["manhattan"]
    # Half-masked queries: cosine > Manhattan > Euclidean (zeros look like missing ink to a distance).
    masked = {s: acc(s, "mask", 0.5) for s in ("cosine", "euclidean", "manhattan")}
    assert masked["cosine"] > masked["manhattan"] > masked["euclidean"]


@requires_data
def test_separation_ordering_on_mnist(mnist):
    def acc(sep, beta=1.0, **p):
        return M.capacity_curve(mnist, [300], similarity="cosine", separation=sep, beta=beta,
                                corruption="noise", level=1.5, tolerance=5.0, **p)[0]
    ident, p2, p10, p50, mx = acc("identity"), acc("polynomial", degree=2), acc("polynomial", degree=10), \
        acc("polynomial", degree=50), acc("max")
    assert ident <= p2 < p10 < p50 <= mx + 0.02
    assert acc("softmax", beta=50.0) < acc("softmax", beta=500.0) <= mx + 0.02
    assert mx > 0.7 and ident < 0.05


@requires_data
def test_softmax_beats_max_in_error_under_heavy_noise(mnist):
    betas = [0.05, 0.1, 0.2, 0.4, 1.0, 3.0]
    res = M.noise_tradeoff(mnist[:200], [1.5, 2.5], betas, tolerance=5.0)
    for i, sigma in enumerate(res["noise_levels"]):
        mse = res["mse_softmax"][i]
        best = min(range(len(betas)), key=mse.__getitem__)
        assert mse[best] < 0.9 * res["mse_max"][i]                      # finite β: lower error
        assert 0.3 < betas[best] * 2 * sigma ** 2 < 3.0                 # near the Bayes β = 1/(2σ²)
        assert res["acc_max"][i] >= max(res["acc_softmax"][i]) - 0.02   # max: most exact retrievals
