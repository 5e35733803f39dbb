"""Key-value memory for question answering (Sukhbaatar et al. 2015; Miller et al. 2016): keys and
queries trained for matching answer paraphrases of facts never asked that way; a content-addressable
store, or keys not built for matching, can match only the subject."""
from __future__ import annotations

import pytest
import torch

from kvlib import qa_memory as qm


@pytest.fixture(scope="module")
def result():
    return qm.paraphrase_accuracy(seeds=(0, 1, 2))


def test_the_knowledge_base_is_as_described():
    kb = qm.make_knowledge_base(10, 3, 8, seed=0)
    assert kb.facts.shape == (30, 3) and kb.paraphrase.shape == kb.canonical.shape
    # a paraphrase shares exactly one word (the subject) with its fact's key; a canonical question two
    for f, p, c in zip(kb.facts, kb.paraphrase, kb.canonical):
        assert len(set(p.tolist()) & set(f[:2].tolist())) == 1
        assert len(set(c.tolist()) & set(f[:2].tolist())) == 2
    assert int(kb.train_paraphrase.sum()) == 15               # half the subjects, all their relations


def test_trained_keys_answer_held_out_paraphrases(result):
    acc = result["accuracy"]["kv-trained"]
    assert acc["canonical"] >= 0.95 and acc["paraphrase"] >= 0.9


def test_fixed_codes_match_only_the_subject_on_paraphrases(result):
    chance = result["chance_given_subject"]
    for reader in ("autoassociative", "kv-untrained"):
        assert result["accuracy"][reader]["paraphrase"] <= chance + 0.15, reader
    trained = result["accuracy"]["kv-trained"]["paraphrase"]
    fixed = max(result["accuracy"][r]["paraphrase"] for r in ("autoassociative", "kv-untrained"))
    assert trained > fixed + 0.5


def test_separate_keys_beat_the_autoassociative_store_on_canonical_questions(result):
    # the stored object's code is matched against the question's filler words: noise only the store has
    acc = result["accuracy"]
    assert acc["kv-untrained"]["canonical"] > acc["autoassociative"]["canonical"]


def test_without_paraphrases_in_training_the_synonym_is_never_learned():
    r = qm.paraphrase_accuracy(train_fraction=0.0, seeds=(0, 1))
    assert r["accuracy"]["kv-trained"]["paraphrase"] <= r["chance_given_subject"] + 0.2
    assert r["accuracy"]["kv-trained"]["canonical"] >= 0.95


def test_bad_arguments_name_themselves():
    kb = qm.make_knowledge_base(4, 2, 3)
    with pytest.raises(ValueError, match="reader"):
        qm.answer_questions(kb, kb.canonical, "hopfield")
    with pytest.raises(ValueError, match="embeddings"):
        qm.answer_questions(kb, kb.canonical, "kv-trained")
    with pytest.raises(ValueError, match="questions"):
        qm.answer_questions(kb, torch.full((1, 3), 999), "kv-untrained")
