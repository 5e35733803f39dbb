"""Chapter 2: learned key/query maps vs fixed scaffolds (Eqs 7-9); drifting context and contiguity."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from conftest import requires_data, tol
from kvlib import representations as R


# ----------------------------------------------------------------------------- scaffolds
def test_thumbnail_is_block_averaging():
    x = torch.rand(5, 784)
    P = R.thumbnail_matrix()
    ref = F.avg_pool2d(x.view(5, 1, 28, 28), 4).reshape(5, 49)
    assert torch.allclose(x @ P, ref, atol=tol(torch.float32))
    with pytest.raises(ValueError, match="block"):
        R.thumbnail_matrix(28, 5)


def test_keymaps_kinds():
    x = torch.rand(3, 784)
    auto = R.make_keymaps("autoassociative")
    assert torch.equal(auto.keys(x), x) and torch.equal(auto.queries(x), x)
    rnd = R.make_keymaps("random", d_key=20, seed=1)
    assert rnd.keys(x).shape == (3, 20) and torch.equal(rnd.keys(x), rnd.queries(x))
    assert not list(rnd.parameters())                       # a fixed scaffold learns nothing
    learned = R.make_keymaps("learned", d_key=20, seed=1)
    assert len(list(learned.parameters())) == 2             # W_k and W_q (Eqs 7, 9)
    assert torch.equal(learned.keys(x), rnd.keys(x))        # starts as the random scaffold
    with pytest.raises(ValueError, match="kind"):
        R.make_keymaps("hash")
    with pytest.raises(ValueError, match="SparseDistributedMemory"):
        R.make_keymaps("sdm")
    with pytest.raises(ValueError, match="d_key"):
        R.make_keymaps("index", d_key=50)


def test_attend_is_softmax_attention():
    g = torch.Generator().manual_seed(0)
    q, K, V = (torch.randn(2, n, d, generator=g) for n, d in ((3, 4), (5, 4), (5, 6)))
    S, out = R.attend(q, K, V)
    ref = torch.softmax(q @ K.transpose(1, 2) / 2.0, -1) @ V
    assert torch.allclose(out, ref, atol=tol(torch.float32))
    assert S.shape == (2, 3, 5)
    with pytest.raises(ValueError, match="q, K"):
        R.attend(q, K[..., :3])


def test_episodes_are_look_alikes_or_mixed():
    y = torch.arange(10).repeat_interleave(30)
    table = R.class_table(y)
    assert table.shape == (10, 30) and (y[table] == torch.arange(10)[:, None]).all()
    g = torch.Generator().manual_seed(0)
    idx = R.sample_episodes(table, 50, 12, True, g)
    labels = y[idx]
    assert (labels == labels[:, :1]).all()                  # one class per episode
    assert all(len(set(r.tolist())) == 12 for r in idx)     # distinct items
    mixed = y[R.sample_episodes(table, 50, 12, False, g)]
    assert (mixed != mixed[:, :1]).any(1).float().mean() > 0.9
    with pytest.raises(ValueError, match="n_items"):
        R.sample_episodes(table, 2, 31, True, g)


def test_retrieval_accuracy_is_perfect_for_clean_cues_and_chance_for_tied_scores():
    g = torch.Generator().manual_seed(0)
    x = torch.eye(16)[None].repeat(4, 1, 1) + 0.01 * torch.rand(4, 16, 16, generator=g)
    ep = R.EpisodeBatch(x, x.clone())
    maps = R.KeyMaps("autoassociative", d_in=16)
    assert R.retrieval_accuracy(maps, ep) == 1.0
    # every key identical: every score ties, so a fair tie-break is right 1 time in 16
    const = R.EpisodeBatch(torch.ones(400, 16, 16), torch.rand(400, 16, 16, generator=g))
    acc = R.retrieval_accuracy(maps, const)
    assert abs(acc - 1 / 16) < 4 * math.sqrt(1 / 16 * 15 / 16 / 6400)


def test_key_similarity_and_offdiagonal():
    K = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    S = R.key_similarity(K)
    assert torch.allclose(S.diagonal(), torch.ones(3))
    assert S[0, 1].item() == pytest.approx(0.0, abs=1e-7)
    assert R.mean_offdiagonal(S) == pytest.approx((2 * math.sqrt(0.5) * 2) / 6, rel=1e-6)


@pytest.fixture(scope="module")
def scaffold_results():
    return [R.compare_scaffolds(train_steps=250, n_test_episodes=60, seed=s) for s in (0, 1)]


@requires_data
def test_learned_keys_beat_every_fixed_scaffold_on_look_alikes(scaffold_results):
    # the review's claim (§2.2): keys learned for discrimination beat fixed scaffolds
    for res in scaffold_results:
        acc = res["accuracy"]
        assert list(acc) == list(R.SCAFFOLDS)
        for k in R.SCAFFOLDS[:-1]:
            assert acc["learned"] > acc[k] + 0.1, k
        # look-alike episodes are harder than mixed ones for every fixed scaffold
        for k in ("autoassociative", "random", "index", "sdm"):
            assert res["accuracy_mixed"][k] > acc[k]
        assert res["loss"][-1] < 0.5 * res["loss"][0]


@requires_data
def test_random_projection_to_fewer_dimensions_loses_to_the_pixels(scaffold_results):
    # a 49-dim random projection keeps inner products only roughly (Johnson-Lindenstrauss):
    # it must lose to the raw pixels it compresses
    for res in scaffold_results:
        assert res["accuracy"]["autoassociative"] > res["accuracy"]["random"] + 0.1


@requires_data
def test_learning_separates_the_keys(scaffold_results):
    for res in scaffold_results:
        off = res["offdiag"]
        assert off["learned keys, after"] < off["learned keys, before"] - 0.1
        assert off["learned keys, after"] < off["inputs (autoassociative keys)"] - 0.1


@requires_data
def test_sdm_scaffold_is_kanervas_design_and_tends_to_its_limit(scaffold_results):
    for res in scaffold_results:
        sdm = res["sdm"]
        # Kanerva (1993): the radius activates about (2 M T)^(-1/3) of the hard locations
        assert sdm["activation_probability"] == pytest.approx(sdm["kanerva_fraction"], rel=0.1)
        assert sdm["active_fraction_measured"] == pytest.approx(sdm["activation_probability"], rel=0.25)
        # with finitely many locations the count of common locations is a noisy estimate of its
        # expectation, so the SDM does not beat its infinite-memory limit (beyond noise)
        assert res["accuracy"]["sdm"] < sdm["limit_accuracy"] + 0.03
        assert res["accuracy_mixed"]["sdm"] < sdm["limit_accuracy_mixed"] + 0.03


# ------------------------------------------------------------- sparse distributed memory
def test_activation_probability_is_the_binomial_tail():
    # Kanerva's example: radius 451 of 1000 bits activates about 1 in 1000 locations
    assert R.activation_probability(1000, 451) == pytest.approx(0.001, rel=0.1)
    assert R.radius_for_fraction(1000, 0.001) == 451
    assert R.activation_probability(11, 5) == pytest.approx(0.5, abs=1e-15)   # symmetry
    assert R.activation_probability(20, 20) == 1.0
    assert R.activation_probability(20, 0) == 2.0 ** -20
    # normal approximation to the tail at n = 1000, radius n/2 - 2 sd
    z = (450.5 - 500) / math.sqrt(250)
    assert R.activation_probability(1000, 450) == pytest.approx(0.5 * math.erfc(-z / math.sqrt(2)),
                                                                 rel=0.1)


@pytest.mark.parametrize("radius", [100, 110, 120])
def test_sampled_hard_locations_activate_the_binomial_fraction(radius):
    sdm = R.SparseDistributedMemory(256, 20_000, radius=radius, seed=radius)
    g = torch.Generator().manual_seed(1)
    a = torch.randint(0, 2, (200, 256), generator=g).float()
    p = R.activation_probability(256, radius)
    frac = sdm.activate(a).mean().item()
    assert abs(frac - p) < 4 * math.sqrt(p * (1 - p) / (200 * 20_000)) + 0.05 * p


def test_intersection_probability_identities_float64():
    n, r = 64, 26
    p = R.activation_probability(n, r)
    curve = [R.intersection_probability(n, r, d) for d in range(n + 1)]
    assert curve[0] == pytest.approx(p, abs=1e-15)
    # falls with distance, in steps of two: balls at distance 2k - 1 and 2k meet equally
    for k in range(1, r + 1):
        assert curve[2 * k - 1] == pytest.approx(curve[2 * k], rel=1e-12)
        assert curve[2 * k - 2] > curve[2 * k - 1]
    assert all(c == 0.0 for c in curve[2 * r + 1:])                            # balls apart
    assert R._intersection_curve(n, r).tolist() == curve                       # the fast path, exactly
    # a uniform random second address is independent of the location: E_d[P_2(d)] = p^2
    weights = [math.comb(n, d) / 2 ** n for d in range(n + 1)]
    assert sum(w * c for w, c in zip(weights, curve)) == pytest.approx(p * p, abs=1e-12)


def test_shared_locations_follow_the_intersection_probability():
    n, M, r, d = 256, 20_000, 115, 40
    sdm = R.SparseDistributedMemory(n, M, radius=r, seed=3)
    g = torch.Generator().manual_seed(4)
    q = torch.randint(0, 2, (1, 100, n), generator=g).float()
    flip = torch.rand(1, 100, n, generator=g).argsort(-1)[..., :d]
    k = q.clone().scatter_(2, flip, 1 - q.gather(2, flip))                      # d bits apart
    common = sdm.overlap(q, k).diagonal(dim1=1, dim2=2)                         # (1, 100)
    expected = M * R.intersection_probability(n, r, d)
    assert abs(common.mean().item() - expected) < 4 * math.sqrt(expected / 100) + 0.05 * expected


def test_sdm_read_is_the_dual_form_of_its_counters():
    g = torch.Generator().manual_seed(0)
    sdm = R.SparseDistributedMemory(64, 500, radius=26, seed=1)
    addr = torch.randint(0, 2, (20, 64), generator=g).float()
    data = torch.randint(0, 2, (20, 10), generator=g).float()
    sdm.write(addr, data)
    q = torch.randint(0, 2, (7, 64), generator=g).float()
    sums = sdm.activate(q) @ sdm.counters                                      # Kanerva's read sums
    assert torch.equal(sums, sdm.read_dual(q[None], addr[None], data[None])[0])
    assert torch.equal(sdm.read(q), (sums > 0).float())
    with pytest.raises(ValueError, match="address"):
        sdm.activate(torch.zeros(3, 63))
    with pytest.raises(ValueError, match="radius, n_stored"):
        R.SparseDistributedMemory(64, 500)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sdm_recalls_a_word_from_inside_the_critical_distance_only(seed):
    # Kanerva (1988): iterated reading converges on a stored word from inside the critical
    # distance and wanders off from outside it; the distance comes from read_error's analysis
    n, M, T = 256, 4000, 100
    sdm = R.SparseDistributedMemory(n, M, n_stored=T, seed=seed)
    assert sdm.fraction == pytest.approx(R.kanerva_fraction(M, T), rel=0.1)
    dc = R.critical_distance(n, M, sdm.radius, T)
    assert dc is not None and 10 < dc < n // 3
    g = torch.Generator().manual_seed(100 + seed)
    words = torch.randint(0, 2, (T, n), generator=g).float()
    sdm.write(words, words)
    assert torch.equal(sdm.read(words[:10]), words[:10])                      # at the address itself
    for d0, converges in ((dc // 2, True), ((3 * dc) // 2, False)):
        target = words[torch.randint(T, (100,), generator=g)]
        flip = torch.rand(100, n, generator=g).argsort(-1)[:, :d0]
        a = target.clone().scatter_(1, flip, 1 - target.gather(1, flip))
        for _ in range(8):
            a = sdm.read(a)
        final = (a != target).sum(-1)
        if converges:
            assert (final <= 0.05 * n).float().mean() > 0.8
        else:
            assert (final >= dc).float().mean() > 0.8


def test_one_read_matches_the_signal_to_noise_analysis():
    n, M, T = 256, 4000, 100
    sdm = R.SparseDistributedMemory(n, M, n_stored=T, seed=5)
    g = torch.Generator().manual_seed(6)
    words = torch.randint(0, 2, (T, n), generator=g).float()
    sdm.write(words, words)
    for d0 in (30, 50):
        target = words[torch.randint(T, (300,), generator=g)]
        flip = torch.rand(300, n, generator=g).argsort(-1)[:, :d0]
        a = target.clone().scatter_(1, flip, 1 - target.gather(1, flip))
        measured = (sdm.read(a) != target).float().mean().item()
        predicted = R.read_error(d0, n, M, sdm.radius, T)
        assert measured == pytest.approx(predicted, rel=0.35), d0


# ----------------------------------------------------------------------- temporal context
def _recurrence(f, c0, drift):
    """Teaching copy: the TCM-style drift as an explicit loop (the library uses one matmul)."""
    rho = math.sqrt(1 - drift ** 2)
    c, out = c0, []
    for t in range(f.shape[1]):
        c = rho * c + drift * f[:, t]
        out.append(c)
    return F.normalize(torch.stack(out, 1), dim=-1)


@pytest.mark.parametrize("drift", [0.0, 0.2, 0.7, 1.0])
def test_drifting_context_matches_the_recurrence(drift):
    g = torch.Generator().manual_seed(3)
    keys, items = R.drifting_context(5, 9, 16, drift, g)
    g = torch.Generator().manual_seed(3)                    # redraw the same f and c0
    f = F.normalize(torch.randn(5, 9, 16, generator=g), dim=-1)
    c0 = F.normalize(torch.randn(5, 16, generator=g), dim=-1)
    assert torch.allclose(items, f)
    assert torch.allclose(keys, _recurrence(f, c0, drift), atol=1e-5)


def test_context_extremes():
    g = torch.Generator().manual_seed(0)
    keys, items = R.drifting_context(3, 6, 8, 0.0, g)
    assert torch.allclose(keys, keys[:, :1].expand_as(keys))   # no drift: one common address
    keys, items = R.drifting_context(3, 6, 8, 1.0, g)
    assert torch.allclose(keys, items, atol=1e-6)               # full drift: a fresh one each time
    sims = torch.einsum("btd,bsd->bts", *R.drifting_context(200, 8, 64, 0.4, g)[:1] * 2).mean(0)
    assert (sims[0, 1:].diff() < 0).all()                       # similarity falls with distance


def test_crp_by_lag_by_hand():
    # list of 4; recalls 1 -> 2 -> 0. Transition 1->2 makes lag +1 with lags -1, +1, +2
    # possible (0, 2, 3 unrecalled); transition 2->0 makes lag -2 with -2, +1 possible (0, 3).
    lags, crp = R.crp_by_lag(torch.tensor([[1, 2, 0]]), 4)
    table = dict(zip(lags.tolist(), crp.tolist()))
    assert table[1] == 0.5 and table[-2] == 1.0 and table[-1] == 0.0 and table[2] == 0.0
    assert all(math.isnan(table[lag]) for lag in (-3, 0, 3))
    with pytest.raises(ValueError, match="order"):
        R.crp_by_lag(torch.tensor([[1]]), 4)


def test_free_recall_recalls_distinct_items():
    g = torch.Generator().manual_seed(0)
    keys, items = R.drifting_context(50, 10, 32, 0.5, g)
    order = R.free_recall(keys, items, 0.5, 10, g)
    assert torch.equal(order.sort(1).values, torch.arange(10).expand(50, 10))
    with pytest.raises(ValueError, match="n_recalls"):
        R.free_recall(keys, items, 0.5, 11, g)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contiguity_peaks_at_plus_one_and_is_forward_asymmetric(seed):
    lags, crp = R.temporal_contiguity(0.5, seed=seed)
    table = dict(zip(lags.tolist(), crp.tolist()))
    assert max(table[lag] for lag in table if lag != 0) == table[1]
    assert max(table[lag] for lag in table if lag < 0) == table[-1]
    assert table[1] > 1.3 * table[-1]                  # forward asymmetry
    assert table[-1] > 2 * table[-5]                   # contiguity on the backward side too


@pytest.mark.parametrize("seed", [0, 1])
def test_forward_asymmetry_comes_from_the_items_own_features(seed):
    # Howard & Kahana (2002): retrieved context carries the item's own features, which
    # entered the context only after the item; reinstating the study context alone is
    # nearly symmetric at lag +-1
    ratio = {}
    for reinstate in (0.0, 0.3, 1.0):
        lags, crp = R.temporal_contiguity(0.5, reinstate=reinstate, seed=seed)
        table = dict(zip(lags.tolist(), crp.tolist()))
        ratio[reinstate] = table[1] / table[-1]
    assert ratio[0.0] > ratio[0.3] > ratio[1.0]
    assert ratio[1.0] < 1.25 < 1.5 < ratio[0.3]


@pytest.mark.parametrize("drift", [0.0, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_contiguity_vanishes_without_a_slowly_drifting_context(drift, seed):
    lags, crp = R.temporal_contiguity(drift, seed=seed)
    vals = crp[~crp.isnan()]
    assert vals.max() / vals.min() < 1.4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_same_recall_on_gpu():
    a = R.temporal_contiguity(0.5, n_lists=300, seed=0)[1]
    b = R.temporal_contiguity(0.5, n_lists=300, seed=0, device="cuda")[1].cpu()
    assert torch.allclose(a, b, equal_nan=True, atol=0.02)


def test_fit_inverse_temperature_extremes():
    grid = torch.tensor([0.1, 1.0, 10.0])
    S = torch.eye(5)[None]                              # right item always scores highest
    assert R.fit_inverse_temperature(S, grid) == pytest.approx(10.0)
    assert R.fit_inverse_temperature(-S, grid) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="S"):
        R.fit_inverse_temperature(torch.zeros(2, 3, 4))
