import shutil

import pytest
import torch

from conftest import requires_data
from kvlib import data as kdata
from kvlib.data import DataError, load_classes


@requires_data
def test_mnist_counts_match_the_paper():
    x, y = load_classes("mnist", [0, 1], train=True)
    assert x.shape == (12665, 784) and x.dtype == torch.float32
    assert y.bincount().tolist() == [5923, 6742]
    assert 0.0 <= x.min() and x.max() <= 1.0
    xt, yt = load_classes("mnist", [0, 1], train=False)
    assert len(xt) == 2115


@requires_data
def test_fashion_pairs_and_relabelling():
    x, y = load_classes("fashion", [2, 3], train=False, relabel=[2, 3])
    assert len(x) == 2000 and sorted(y.unique().tolist()) == [2, 3]
    x, y = load_classes("fashion", [0, 1], train=True, relabel=[2, 3])
    assert y.bincount(minlength=4).tolist() == [0, 0, 6000, 6000]


@pytest.mark.parametrize("kwargs, match", [
    (dict(dataset="cifar", classes=[0]), "dataset"),
    (dict(dataset="mnist", classes=[10]), "classes"),
    (dict(dataset="mnist", classes=[]), "classes"),
    (dict(dataset="mnist", classes=[1, 1]), "distinct"),
    (dict(dataset="mnist", classes=[0, 1], relabel=[0]), "relabel"),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_classes(**kwargs)


def test_offline_and_missing_is_one_clear_error(tmp_path, monkeypatch):
    import torchvision

    def no_network(self, *a, **k):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")
    monkeypatch.setattr(torchvision.datasets.MNIST, "download", no_network)
    monkeypatch.setenv("KVLIB_DATA", str(tmp_path))
    kdata._load_split.cache_clear()
    with pytest.raises(DataError) as err:
        load_classes("mnist", [0, 1])
    msg = str(err.value)
    assert "KVLIB_DATA" in msg and "MNIST/raw/train-images-idx3-ubyte" in msg


@requires_data
def test_truncated_file_is_a_clear_error(tmp_path):
    src = kdata.data_root() / "MNIST" / "raw"
    dst = tmp_path / "MNIST" / "raw"
    dst.mkdir(parents=True)
    for f in src.iterdir():
        shutil.copy(f, dst / f.name)
    img = dst / "t10k-images-idx3-ubyte"
    img.write_bytes(img.read_bytes()[:100_000])
    kdata._load_split.cache_clear()
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_classes("mnist", [0, 1], train=False, root=tmp_path)
    img.write_bytes(b"\x1f\x8b" + b"\0" * 30)        # a gzip file left compressed
    kdata._load_split.cache_clear()
    with pytest.raises(DataError, match="IDX"):
        load_classes("mnist", [0, 1], train=False, root=tmp_path)


def _copy_split(tmp_path, folder="MNIST"):
    src = kdata.data_root() / folder / "raw"
    dst = tmp_path / folder / "raw"
    dst.mkdir(parents=True)
    for f in src.iterdir():
        shutil.copy(f, dst / f.name)
    kdata._load_split.cache_clear()
    return dst


@requires_data
def test_the_shipped_files_are_the_published_ones():
    for name in ("mnist", "fashion"):
        kdata.verify(name)                      # SHA-256 of all four files


@requires_data
def test_an_altered_pixel_is_a_clear_error(tmp_path):
    dst = _copy_split(tmp_path)
    img = dst / "t10k-images-idx3-ubyte"
    raw = bytearray(img.read_bytes())
    raw[16 + 28 * 14 + 14] ^= 0xFF              # one pixel of the first test image
    img.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="not the published MNIST file"):
        load_classes("mnist", [0, 1], train=False, root=tmp_path)
    with pytest.raises(DataError, match="SHA-256"):
        kdata.verify("mnist", root=tmp_path)


@requires_data
def test_out_of_range_labels_with_a_valid_header_are_a_clear_error(tmp_path):
    dst = _copy_split(tmp_path)
    lab = dst / "t10k-labels-idx1-ubyte"
    raw = bytearray(lab.read_bytes())
    raw[8:] = bytes([200]) * (len(raw) - 8)     # header intact, every label 200
    lab.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_classes("mnist", [0, 1], train=False, root=tmp_path)


def test_verify_names_a_missing_file(tmp_path):
    with pytest.raises(DataError, match="missing"):
        kdata.verify("fashion", root=tmp_path)
    with pytest.raises(ValueError, match="dataset"):
        kdata.fetch("cifar10", root=tmp_path)
