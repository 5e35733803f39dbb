"""Contract examples for kvlib.device."""
from contract import ex

EXAMPLES = {
    "get_device": ex(lambda: dict(device="cpu", verbose=False)),
    "seed_everything": ex(lambda: dict(seed=3)),
    "describe_device": ex(lambda: dict(device="cpu")),
    # n: None is a documented value ("leave the setting alone"), so it is driven by hand
    "cpu_threads": ex(lambda: dict(n=1), skip={"n"},
                      extra=(("fraction", "n", 1.5, "strict"), ("string", "n", "1", "strict"),
                             ("bool", "n", True, "strict"), ("zero", "n", 0, "strict"),
                             ("NaN", "n", float("nan"), "strict"))),
    # iterable: anything tqdm iterates over (a string too)
    "progress": ex(lambda: dict(iterable=[1, 2], enabled=False), skip={"iterable"}),
    "float64_device": ex(lambda: dict(device="cpu")),
    "synchronize": ex(lambda: dict(device="cpu")),
    "best_time": ex(lambda: dict(fn=lambda: None, device="cpu", repeats=2, warmup=0)),
    "generator": ex(lambda: dict(seed=0, stream="keys")),
}
