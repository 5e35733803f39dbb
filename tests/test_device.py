import pytest
import torch

from kvlib.device import describe_device, get_device, seed_everything


def test_explicit_cpu_is_honoured():
    assert get_device("cpu") == torch.device("cpu")


def test_auto_picks_an_available_device():
    dev = get_device()
    assert dev.type in ("cpu", "cuda", "mps")
    if torch.cuda.is_available():
        assert dev.type == "cuda"
    assert isinstance(describe_device(dev), str)


def test_env_variable_is_honoured(monkeypatch):
    monkeypatch.setenv("KVLIB_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


@pytest.mark.parametrize("bad", ["gpu", "tpu", "cuda:banana", 3.5])
def test_unknown_device_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="device"):
        get_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_unavailable_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        get_device("cuda")


def test_seeding_reproduces_draws():
    seed_everything(3)
    a = torch.rand(4)
    g = seed_everything(3)
    assert torch.equal(a, torch.rand(4))
    assert torch.equal(torch.rand(2, generator=g), torch.rand(2, generator=torch.Generator().manual_seed(3)))
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)


def test_cpu_threads_restores_the_setting():
    from kvlib.device import cpu_threads
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n: expected"):
        with cpu_threads(0):
            pass
