"""Tests for kvlib.autoencoder_memory: an autoencoder with MESH's synapses against MESH's fixed
scaffold (Chapter 4, §4.7)."""
from __future__ import annotations

import pytest
import torch

from kvlib import autoencoder_memory as am
from kvlib import hopfield
from kvlib import scaffold as sf


def test_the_autoencoder_has_meshs_synapses():
    # By construction: feature → hidden → label → hidden → feature, the four matrices of MESH.
    S = hopfield.random_patterns(6, 20, torch.Generator().manual_seed(0))
    W = am.train_autoencoder(S, 8, 5, steps=2)
    sc = sf.mesh(8, 5, 2, generator=torch.Generator().manual_seed(0))
    mem = sf.ScaffoldMemory(sc).store(hopfield.random_patterns(6, 20, torch.Generator().manual_seed(1)))
    mesh_synapses = mem.W_sh.numel() + mem.W_hs.numel() + sc.W_gh.numel() + sc.W_hg.numel()
    assert sum(w.numel() for w in W) == mesh_synapses == am.synapse_count(20, 8, 5)


def test_iterated_recall_stops_at_a_fixed_point():
    S = hopfield.random_patterns(10, 40, torch.Generator().manual_seed(0))
    W = am.train_autoencoder(S, 20, 6, steps=200)
    out = am.autoencoder_recall(W, S, n_iter=100)
    if out["n_passes"] < 100:
        assert torch.equal(am.autoencoder_recall(W, out["final"], n_iter=1)["first"], out["final"])


@pytest.mark.parametrize("seed", [0, 1])
def test_the_scaffold_beats_the_autoencoder_as_an_attractor_memory(seed):
    # The finding (MESH's comparison, at a quarter of its size: N_H = 80, N_F = 220). Measured over
    # 2 seeds: with 5 % of the cue flipped at P = N_H, MESH 0.000-0.017 wrong bits, the iterated
    # autoencoder 0.25-0.26; clean cues at P = 2 N_H: MESH 0.16-0.17, iterated autoencoder 0.41-0.44;
    # one pass of the autoencoder reconstructs its clean training patterns (<= 0.03).
    r = am.scaffold_vs_autoencoder((80, 160), seed=seed)
    e = r["error"]
    assert e["mesh"][0.05][0] < 0.06 and e["autoencoder, iterated"][0.05][0] > 0.15
    assert e["mesh"][0.0][1] < 0.25 and e["autoencoder, iterated"][0.0][1] > 0.3
    assert max(e["autoencoder, one pass"][0.0]) < 0.06
