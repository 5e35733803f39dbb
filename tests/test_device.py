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


@pytest.mark.parametrize("bad", ["gpu", "tpu", "cuda:banana", "", "cpu-bogus"])
def test_unknown_device_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="device: expected one of cpu, cuda, mps"):
        get_device(bad)
    with pytest.raises(ValueError, match="device: expected one of cpu, cuda, mps"):
        describe_device(bad)


@pytest.mark.parametrize("bad", [3.5, 3, ["cpu"]])
def test_a_device_of_the_wrong_type_is_a_type_error(bad):
    with pytest.raises(TypeError, match="device: expected a device name"):
        get_device(bad)


def test_a_bad_environment_variable_is_named(monkeypatch):
    monkeypatch.setenv("KVLIB_DEVICE", "tpu")
    with pytest.raises(ValueError, match="KVLIB_DEVICE"):
        get_device()


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


def test_named_seed_streams_are_reproducible_and_distinct():
    from kvlib.device import generator
    a = torch.rand(5, generator=generator(0, "keys"))
    assert torch.equal(a, torch.rand(5, generator=generator(0, "keys")))
    assert not torch.equal(a, torch.rand(5, generator=generator(0, "noise")))
    assert not torch.equal(a, torch.rand(5, generator=generator(1, "keys")))
    assert torch.equal(torch.rand(3, generator=generator(7)),
                       torch.rand(3, generator=torch.Generator().manual_seed(7)))
    # torch keeps only 32 bits of a seed: streams must differ within them, from every other stream
    names = ["hard locations", "addresses", "test episodes", "example episode", "bootstrap", "task2",
             "keys", "noise", "random projection", "training episodes"]
    draws = {n: tuple(torch.rand(4, generator=generator(0, n)).tolist()) for n in names}
    draws[""] = tuple(torch.rand(4, generator=generator(0)).tolist())
    assert len(set(draws.values())) == len(draws)
    with pytest.raises(ValueError, match="seed"):
        generator(-1)
    with pytest.raises(TypeError, match="stream"):
        generator(0, 3)


def test_float64_device_avoids_mps_only():
    from kvlib.device import float64_device
    assert float64_device("cpu") == torch.device("cpu")
