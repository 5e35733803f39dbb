"""Tests for kvlib.key_correction: the scaffold's clean-up as a key-value read, and what it buys
against cue noise (Chapter 4, §4.5)."""
from __future__ import annotations

import pytest
import torch

from kvlib import hopfield
from kvlib import key_correction as kc
from kvlib import scaffold as sf

SMALL = dict(n_hippocampal=200, n_sensory=900, periods=(2, 3, 5))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cleanup_is_a_nearest_state_read_of_the_codebook(seed):
    # By construction: the codebooks list every state, so the best-scoring state is the
    # module-wise winner-take-all (Vector-HaSH) or the global top-K (MESH).
    g = torch.Generator().manual_seed(seed)
    for sc in (sf.vector_hash(60, (2, 3, 5), generator=g), sf.mesh(40, n_label=9, k=3, generator=g)):
        g_in = torch.rand(64, sc.n_g, generator=g, dtype=torch.float64).to(sc.codebook.dtype)
        assert torch.equal(kc.nearest_scaffold_state(sc, g_in), sc.clean(g_in))


def test_without_cleanup_clean_cues_are_exact_up_to_the_hidden_size():
    # Pseudoinverse binding: with P <= n_h <= n_s the clean keys are reproduced and read out exactly.
    sc = sf.vector_hash(200, (2, 3, 5), generator=torch.Generator().manual_seed(0))
    S = hopfield.random_patterns(200, 900, torch.Generator().manual_seed(1))
    mem = sf.ScaffoldMemory(sc).store(S)
    assert torch.equal(kc.recall_without_cleanup(mem, S), S)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cleanup_rescues_noisy_cues_at_full_load(seed):
    # The finding: with P = n_h stored patterns and 10 % of the cue bits flipped, the read-out
    # trained on exact keys amplifies the key's noise (error near chance) unless the attractor
    # corrects the key first. Measured: clean-up <= 0.06, none >= 0.37 (4 seeds).
    r = kc.key_correction_sweep((200,), (0.1,), seed=seed, progress=False, **SMALL)
    cleaned, raw = r["error"]["cleanup"][0][0], r["error"]["none"][0][0]
    assert cleaned < 0.12 and raw > 0.25 and raw > 3 * cleaned
    assert r["key_recovered"][0][0] > 0.8


@pytest.mark.parametrize("seed", [0, 1])
def test_key_recovery_falls_with_cue_noise(seed):
    r = kc.key_correction_sweep((100,), (0.0, 0.2, 0.45), seed=seed, progress=False, **SMALL)
    ok = r["key_recovered"][0]
    assert ok[0] > ok[2] + 0.3 and ok[0] >= ok[1] >= ok[2]


def test_sweep_refuses_more_patterns_than_states():
    with pytest.raises(ValueError, match="n_patterns: expected at most 900"):
        kc.key_correction_sweep((901,), (0.1,), progress=False, **SMALL)


def test_readout_gain_peaks_where_the_readout_is_square():
    # W_hs = H⁺S is fitted on P hidden states of n_h cells; the smallest singular value of H
    # approaches zero at P = n_h, so the read-out's gain peaks there (measured: ~10³ times the
    # gain at P = n_h / 4).
    r = kc.key_correction_sweep((50, 200, 600), (0.0,), progress=False, **SMALL)
    g50, g200, g600 = r["readout_gain"]
    assert g200 > 10 * g50 and g200 > 10 * g600
