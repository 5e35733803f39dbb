"""Key-value memory for question answering: keys built for matching answer paraphrased questions.

Memory networks answer a question by reading a memory of facts (End-to-end memory networks,
Sukhbaatar et al. 2015); key-value memory networks (Miller et al. 2016) give each memory a
*key* used only for matching (here the fact's subject and relation) and a *value* used only
for answering (its object), and train the question's embedding so that questions find keys.
This module builds a tiny synthetic knowledge base (:func:`make_knowledge_base`) and asks it
questions in two phrasings: the canonical one uses the relation's own word (``"born_in"``),
a paraphrase uses a synonym (``"birthplace"``) and different filler words. Three readers:

* ``"autoassociative"``: each fact is stored as one pattern (the sum of the fixed random codes
  of its subject, relation and object words) serving as both key and value, and the question's
  code cues it: content-addressable recall, as in a Hopfield network or Kanerva's memory (the
  cue's own code is subtracted from the read before the answer is decoded, our choice);
* ``"kv-untrained"``: separate keys (subject + relation) and values (object), the question
  embedded by the same fixed codes: a key-value memory whose keys are not built for matching;
* ``"kv-trained"``: the same memory with the word embedding of questions and keys (Miller et
  al.'s ``A``) and of values and answers (``B``) trained end to end on some questions.

Every read is one :func:`kvlib.kernels.retrieve` (dot similarity, softmax). What holds by
construction: with fixed codes a paraphrase shares no relation word with the stored fact,
so the first two readers can match only the subject. The finding (:func:`paraphrase_accuracy`)
is whether training on paraphrases of *some* facts teaches the question map to find the keys of
facts it never saw asked in that phrasing. Explained in Chapter 1, §Key-value memory for
question answering. Axis names: F facts, Q questions, W words, D embedding dims.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import cpu_threads
from kvlib.device import generator as seed_stream

__all__ = ["KnowledgeBase", "make_knowledge_base", "READERS", "answer_questions", "train_qa_memory",
           "paraphrase_accuracy"]

#: The three readers compared (see the module's docstring).
READERS = ("autoassociative", "kv-untrained", "kv-trained")
_CANONICAL_FILLERS = ("what", "is", "the", "of")
_PARAPHRASE_FILLERS = ("tell", "me", "which", "for")


@dataclass(frozen=True)
class KnowledgeBase:
    """Facts ``(subject, relation, object)`` and questions about them, as word ids.

    ``vocab``: the words; ``facts`` (F, 3): word ids of subject, canonical relation word, object;
    ``canonical``, ``paraphrase`` (F, L): the word ids of each fact's question in the two
    phrasings (bags of words, one row per fact); ``objects``: the word ids of all answers;
    ``train_paraphrase`` (F,) bool: facts whose paraphrase is used for training.
    """

    vocab: tuple[str, ...]
    facts: torch.Tensor
    canonical: torch.Tensor
    paraphrase: torch.Tensor
    objects: torch.Tensor
    train_paraphrase: torch.Tensor


def make_knowledge_base(n_subjects: int = 40, n_relations: int = 5, n_objects: int = 30, *,
                        train_fraction: float = 0.5, seed: int = 0) -> KnowledgeBase:
    """Every subject has every relation, each to an object drawn at random (seed stream ``"qa kb"``).

    Words: ``s0..``, ``o0..``, relation ``r{i}`` and its synonym ``r{i}_syn``, and the two sets of
    filler words. A random ``train_fraction`` of the *subjects* have their paraphrased questions
    in the training set; the other subjects' paraphrases are the test of generalisation.

    >>> kb = make_knowledge_base(4, 2, 3); tuple(kb.facts.shape), tuple(kb.paraphrase.shape)
    ((8, 3), (8, 6))
    """
    S = check.count("n_subjects", n_subjects, 2)
    R = check.count("n_relations", n_relations, 1)
    n_obj = check.count("n_objects", n_objects, 2)
    frac = check.number("train_fraction", train_fraction, low=0.0, high=1.0)
    g = seed_stream(check.seed("seed", seed), "qa kb")
    vocab = ([f"s{i}" for i in range(S)] + [f"o{i}" for i in range(n_obj)] + [f"r{i}" for i in range(R)]
             + [f"r{i}_syn" for i in range(R)] + list(_CANONICAL_FILLERS) + list(_PARAPHRASE_FILLERS))
    ids = {w: i for i, w in enumerate(vocab)}
    subj = torch.arange(S).repeat_interleave(R)                              # (F,)
    rel = torch.arange(R).repeat(S)                                          # (F,)
    obj = torch.randint(n_obj, (S * R,), generator=g)
    facts = torch.stack([subj, S + n_obj + rel, S + obj], dim=1)                 # (F, 3) word ids
    can = torch.tensor([ids[w] for w in _CANONICAL_FILLERS]).expand(S * R, -1)
    par = torch.tensor([ids[w] for w in _PARAPHRASE_FILLERS]).expand(S * R, -1)
    canonical = torch.cat([facts[:, :2], can], dim=1)                        # subject, r_i, fillers
    paraphrase = torch.cat([facts[:, :1], (S + n_obj + R + rel)[:, None], par], dim=1)   # r_i_syn
    chosen = torch.randperm(S, generator=g)[: round(frac * S)]
    train = torch.zeros(S, dtype=torch.bool)
    train[chosen] = True
    return KnowledgeBase(tuple(vocab), facts, canonical, paraphrase, torch.arange(S, S + n_obj),
                         train[subj])


def _check_kb(kb: object) -> KnowledgeBase:
    if not isinstance(kb, KnowledgeBase):
        raise TypeError(f"kb: expected a KnowledgeBase (from make_knowledge_base), got {type(kb).__name__}")
    return kb


def _bag(E: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """Sum of the embeddings of each row's words: (W, D), (Q, L) → (Q, D)."""
    return E[words].sum(dim=1)


def _codes(kb: KnowledgeBase, dim: int, seed: int) -> torch.Tensor:
    g = seed_stream(seed, "qa codes")
    return torch.randn(len(kb.vocab), dim, generator=g) / dim ** 0.5          # (W, D) fixed codes


def _logits(kb: KnowledgeBase, A: torch.Tensor, B: torch.Tensor, questions: torch.Tensor,
            reader: str, beta: float) -> torch.Tensor:
    """Scores of every candidate answer for each question: (Q, n_objects)."""
    q = _bag(A, questions)                                                   # (Q, D)
    if reader == "autoassociative":
        patterns = _bag(A, kb.facts)                                         # (F, D): key = value
        read = kernels.retrieve(q, patterns, patterns, "dot", "softmax", beta=beta)
        read = read - q                                                      # drop the cue's own words
    else:
        keys = _bag(A, kb.facts[:, :2])                                      # (F, D) subject + relation
        read = kernels.retrieve(q, keys, B[kb.facts[:, 2]], "dot", "softmax", beta=beta)
    return read @ B[kb.objects].T                                            # (Q, n_objects)


def answer_questions(kb: KnowledgeBase, questions: torch.Tensor, reader: str = "kv-untrained", *,
                     embeddings: tuple[torch.Tensor, torch.Tensor] | None = None, dim: int = 128,
                     beta: float = 4.0, seed: int = 0) -> torch.Tensor:
    """The answer word id each reader gives to each question (rows of word ids): (Q,).

    ``embeddings``: ``(A, B)`` from :func:`train_qa_memory` for ``"kv-trained"``; the other
    readers use fixed random codes (``dim`` dims, seed stream ``"qa codes"``) for both.
    """
    kb = _check_kb(kb)
    questions = check.tensor("questions", questions, ndim=2, dtype="int", nonempty=True)
    if int(questions.min()) < 0 or int(questions.max()) >= len(kb.vocab):
        raise ValueError(f"questions: expected word ids in 0..{len(kb.vocab) - 1}, got "
                         f"{int(questions.min())}..{int(questions.max())}")
    reader = check.option("reader", reader, READERS)
    beta = check.positive("beta", beta)
    if reader == "kv-trained":
        if not (isinstance(embeddings, tuple) and len(embeddings) == 2
                and all(isinstance(e, torch.Tensor) and e.shape[0] == len(kb.vocab) for e in embeddings)):
            raise ValueError("embeddings: expected (A, B) from train_qa_memory for reader='kv-trained', "
                             f"got {type(embeddings).__name__}")
        A, B = embeddings
    else:
        A = B = _codes(kb, check.count("dim", dim, 1), check.seed("seed", seed))
    with torch.no_grad():
        best = _logits(kb, A.detach(), B.detach(), questions, reader, beta).argmax(dim=1)
    return kb.objects[best]


def train_qa_memory(kb: KnowledgeBase, *, dim: int = 128, steps: int = 200, lr: float = 0.02,
                    beta: float = 4.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Train Miller et al.'s embeddings ``A`` (questions and keys) and ``B`` (values, answers).

    Full-batch Adam on the cross-entropy of the answer over the training questions: every
    canonical question and the paraphrases of the facts in ``kb.train_paraphrase``. Both start
    from the fixed codes (so an untrained word keeps its code). ``lr`` in (0, 1]. Returns
    ``(A, B)``, detached.
    """
    kb = _check_kb(kb)
    dim = check.count("dim", dim, 1)
    steps = check.count("steps", steps, 1)
    lr = check.number("lr", lr, low=0.0, high=1.0, low_open=True)
    beta = check.positive("beta", beta)
    codes = _codes(kb, dim, check.seed("seed", seed))
    A = codes.clone().requires_grad_(True)
    B = codes.clone().requires_grad_(True)
    questions = torch.cat([kb.canonical, kb.paraphrase[kb.train_paraphrase]])
    facts = torch.cat([torch.arange(len(kb.facts)), torch.nonzero(kb.train_paraphrase)[:, 0]])
    target = kb.facts[facts, 2] - kb.objects[0]                              # index among the objects
    opt = torch.optim.Adam([A, B], lr=lr)
    with cpu_threads(1):                                  # many tiny steps: one thread is faster
        for _ in range(steps):                                               # optimisation steps
            opt.zero_grad()
            loss = F.cross_entropy(_logits(kb, A, B, questions, "kv-trained", beta), target)
            loss.backward()
            opt.step()
    check.finite_result("loss", loss.detach().item())
    return A.detach(), B.detach()


def paraphrase_accuracy(n_subjects: int = 40, n_relations: int = 5, n_objects: int = 30, *,
                        dim: int = 128, steps: int = 200, beta: float = 4.0, train_fraction: float = 0.5,
                        fixed_betas: Sequence[float] = (4.0, 8.0, 16.0, 32.0),
                        seeds: Sequence[int] = (0, 1, 2)) -> dict:
    """Accuracy of each reader on canonical questions and on held-out paraphrases, mean over seeds.

    ``"paraphrase"``: the paraphrases of the facts whose paraphrases were *not* trained on
    (the subjects outside ``train_fraction``; with ``train_fraction=0`` no paraphrase is trained
    on); ``"canonical"``: every canonical question; ``"chance_given_subject"``:
    ``1 / n_relations``, what matching the subject alone can reach when each relation's
    object is different. The trained reader is trained and read at ``beta`` (it can rescale its
    embeddings, so it learns its own sharpness); each fixed-code reader is read at the β of
    ``fixed_betas`` that answers most *canonical* questions (chosen without the test questions;
    returned as ``"beta"``). Explained in Chapter 1, §Key-value memory for question answering.
    """
    seeds = check.sequence("seeds", seeds, check.seed)
    betas = check.sequence("fixed_betas", fixed_betas, check.positive)
    out = {r: {"canonical": 0.0, "paraphrase": 0.0} for r in READERS}
    chosen: dict[str, list[float]] = {r: [] for r in READERS}
    for seed in seeds:                                                       # independent worlds
        kb = make_knowledge_base(n_subjects, n_relations, n_objects, train_fraction=train_fraction, seed=seed)
        emb = train_qa_memory(kb, dim=dim, steps=steps, beta=beta, seed=seed)
        held = ~kb.train_paraphrase
        for r in READERS:
            def acc(questions, truth, b, r=r, kb=kb, emb=emb, seed=seed):
                kw = dict(embeddings=emb if r == "kv-trained" else None, dim=dim, beta=b, seed=seed)
                return float((answer_questions(kb, questions, r, **kw) == truth).double().mean())
            b = beta if r == "kv-trained" else max(betas, key=lambda x: acc(kb.canonical, kb.facts[:, 2], x))
            chosen[r].append(b)
            out[r]["canonical"] += acc(kb.canonical, kb.facts[:, 2], b) / len(seeds)
            out[r]["paraphrase"] += acc(kb.paraphrase[held], kb.facts[held, 2], b) / len(seeds)
    return {"accuracy": out, "beta": chosen, "chance_given_subject": 1.0 / n_relations,
            "n_subjects": n_subjects, "n_relations": n_relations, "n_objects": n_objects,
            "seeds": list(seeds)}
