"""Contract examples for kvlib.metamemory (§4.3)."""
import torch

from contract import ex
from kvlib import metamemory as M


def _memory():
    return M.study_trivia(questions=8, d=4, d_v=2, generator=torch.Generator().manual_seed(0))


EXAMPLES = {
    "TriviaMemory": ex(lambda: dict(keys=_memory().keys, values=_memory().values, x=_memory().x,
                                    strength=_memory().strength)),
    "study_trivia": ex(lambda: dict(questions=8, d=4, d_v=2, strength_range=(0.2, 1.0),
                                    generator=torch.Generator().manual_seed(0), device="cpu")),
    "feeling_of_knowing": ex(lambda: dict(questions=40, d=16, d_v=4, beta=24.0, cue_noise=0.9,
                                          recall_threshold=0.5, recognition_noise=0.05, prime_similarity=0.3,
                                          strength_range=(0.2, 1.0), seed=0, device="cpu")),
    "judgment_steps": ex(lambda: dict(questions=10, d=8, beta=24.0, glimpse_noise=4.0, confidence=0.95,
                                      max_steps=5, strength_range=(0.2, 1.0), seed=0, device="cpu")),
}


def _runs():
    from kvlib.metamemory import feeling_of_knowing, judgment_steps
    return dict(fok=feeling_of_knowing(**EXAMPLES["feeling_of_knowing"].kwargs()),
                steps=judgment_steps(**EXAMPLES["judgment_steps"].kwargs()))


EXAMPLES["metamemory_numbers"] = ex(_runs)
