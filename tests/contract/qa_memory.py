"""Contract examples for kvlib.qa_memory (a key-value memory answering questions about facts)."""
from contract import ex
from kvlib import qa_memory as qm


def _kb():
    return qm.make_knowledge_base(4, 2, 3, seed=0)


EXAMPLES = {
    "KnowledgeBase": ex(lambda: {k: getattr(_kb(), k) for k in ("vocab", "facts", "canonical", "paraphrase",
                                                                 "objects", "train_paraphrase")},
                        skip={"vocab", "facts", "canonical", "paraphrase", "objects", "train_paraphrase"}),
    "make_knowledge_base": ex(lambda: dict(n_subjects=4, n_relations=2, n_objects=3, train_fraction=0.5,
                                           seed=0)),
    "answer_questions": ex(lambda: dict(kb=_kb(), questions=_kb().canonical, reader="kv-untrained",
                                        embeddings=None, dim=8, beta=4.0, seed=0), options={"reader"}),
    "train_qa_memory": ex(lambda: dict(kb=_kb(), dim=8, steps=3, lr=0.02, beta=4.0, seed=0)),
    "paraphrase_accuracy": ex(lambda: dict(n_subjects=4, n_relations=2, n_objects=3, dim=8, steps=3, beta=4.0,
                                           train_fraction=0.5, fixed_betas=(4.0,), seeds=(0,))),
}
