"""Contract examples for kvlib.position_codes (tiny worlds: 3 × 3 places, a few steps)."""
import torch

from contract import ex
from kvlib import position_codes as pc

EXEMPT = {"WORLDS": "a tuple of names", "CODES": "a tuple of names", "POSITION_CASES": "a tuple of pairs"}

EXAMPLES = {
    "RingCode": ex(lambda: dict(n=6, amplitude=0.1, device="cpu")),
    "RingCode.step": ex(lambda: dict(g=pc.RingCode(6).codebook[:2], moves=torch.tensor([0, 1])),
                        target=lambda: pc.RingCode(6).step),
    "sinusoidal_code": ex(lambda: dict(n_steps=5, n_g=6, amplitude=0.1, base=10000.0, device="cpu")),
    "code_walk": ex(lambda: dict(world="torus", code="ring", size=3, n_steps=6, n_envs=2, n_obs=10, n_x=5,
                                 seed=0, device="cpu"), options={"world", "code"}),
    "position_code_experiment": ex(lambda: dict(cases=(("loop", "ring"),), size=3, n_steps=6, n_envs=2,
                                                seed=0,
                                                device="cpu")),
}
