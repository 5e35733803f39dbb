"""Contract examples for kvlib.device."""
from contract import ex

EXAMPLES = {
    "get_device": ex(lambda: dict(device="cpu", verbose=False)),
    "seed_everything": ex(lambda: dict(seed=3)),
    "describe_device": ex(lambda: dict(device="cpu")),
    "cpu_threads": ex(lambda: dict(n=1)),
    "progress": ex(lambda: dict(iterable=[1, 2], enabled=False)),
}
