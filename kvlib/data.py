"""MNIST and Fashion-MNIST, restricted to a few classes, as flat float tensors.

Data are read through torchvision from the folder named by the environment
variable ``KVLIB_DATA`` (default ``~/.cache/kvlib/data``), in torchvision's own
layout::

    $KVLIB_DATA/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
    $KVLIB_DATA/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte

Missing files are downloaded by torchvision when the machine is online (it checks
the MD5 of each compressed file); offline, one :class:`DataError` says what to put
where. Every file, downloaded or put there by hand, is then checked against the
SHA-256 of the published file (:data:`SHA256`), so a truncated, corrupt or
substituted file is one clear :class:`DataError`, never a reshape traceback from deep
inside numpy or a silently different data set. :func:`fetch` downloads and checks
both data sets ahead of time (Binder's build does).

Credits: MNIST, LeCun, Cortes & Burges (CC BY-SA 3.0); Fashion-MNIST, Xiao,
Rasul & Vollgraf 2017, Zalando SE (MIT licence).
"""
from __future__ import annotations

import functools
import hashlib
import os
import struct
from collections.abc import Sequence
from pathlib import Path

import torch

__all__ = ["DataError", "data_root", "load_classes", "fetch", "verify", "DATASETS",
           "FASHION_CLASSES", "SHA256"]

DATASETS = {"mnist": "MNIST", "fashion": "FashionMNIST", "fashionmnist": "FashionMNIST",
            "fashion-mnist": "FashionMNIST"}

#: Fashion-MNIST label names, by index.
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
          False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000)}


#: SHA-256 of the uncompressed IDX files as published (MNIST: LeCun et al.; Fashion-MNIST:
#: Xiao et al., github.com/zalandoresearch/fashion-mnist). The MNIST files' MD5s are the
#: widely listed 6bbc9ace…, a25bea73…, 2646ac64…, 27ae3e4e….
SHA256 = {
    "MNIST": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "FashionMNIST": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}


class DataError(RuntimeError):
    """The data set could not be found, fetched or read."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$KVLIB_DATA``, else ``~/.cache/kvlib/data``."""
    if root is not None:
        if not isinstance(root, (str, os.PathLike)) or not str(root).strip():
            raise TypeError(f"root: expected a folder path or None, got {type(root).__name__} {root!r}")
        return Path(root).expanduser()
    env = os.environ.get("KVLIB_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "kvlib" / "data"


def _layout(folder: str) -> str:
    names = [f"{folder}/raw/{_FILES[t][i]}" for t in (True, False) for i in (0, 1)]
    return "\n  ".join(names)


def _check_idx(path: Path, expected_n: int, is_images: bool) -> None:
    """Check an IDX file's header and length against what it should hold."""
    size = path.stat().st_size
    header = 16 if is_images else 8
    with open(path, "rb") as fh:
        head = fh.read(header)
    if len(head) < header:
        raise DataError(f"{path} is truncated ({size} bytes): not an IDX file. Delete it and fetch it again.")
    magic, n = struct.unpack(">II", head[:8])
    want_magic = 2051 if is_images else 2049
    if magic != want_magic:
        raise DataError(f"{path} is not an IDX {'image' if is_images else 'label'} file "
                        f"(magic number {magic}, expected {want_magic}); is it still gzip-compressed?")
    per_item = 28 * 28 if is_images else 1
    want_size = header + n * per_item
    if n != expected_n or size != want_size:
        raise DataError(f"{path} is truncated or corrupt: {size} bytes for {n} items, expected "
                        f"{header + expected_n * per_item} bytes for {expected_n} items. "
                        "Delete it and fetch it again.")


@functools.lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _check_hash(path: Path, folder: str) -> None:
    """``path`` must be the published file of that name (SHA-256), else a clear error."""
    st = path.stat()
    got, want = _sha256(str(path), st.st_size, st.st_mtime_ns), SHA256[folder][path.name]
    if got != want:
        raise DataError(f"{path} is not the published {folder} file: its SHA-256 is {got[:12]}…, "
                        f"expected {want[:12]}… (corrupt, altered or a different data set). "
                        "Delete it and fetch it again.")


@functools.lru_cache(maxsize=8)
def _load_split(folder: str, root: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    import torchvision  # imported here: importing kvlib.data stays cheap

    cls = getattr(torchvision.datasets, folder)
    raw = Path(root) / folder / "raw"
    img_name, lab_name, n = _FILES[train]
    present = (raw / img_name).exists() and (raw / lab_name).exists()
    if not present:
        try:
            cls(root=root, train=train, download=True)
        except Exception as err:  # torchvision raises RuntimeError, URLError, OSError, ...
            raise DataError(
                f"{folder} is not in the data folder {root} (root, else KVLIB_DATA) and could not be "
                f"downloaded ({type(err).__name__}: {err}).\n"
                f"Offline? Put the uncompressed IDX files there, in torchvision's layout:\n  "
                f"{_layout(folder)}\nand point the environment variable KVLIB_DATA at the folder "
                f"that holds {folder}/ (now KVLIB_DATA={os.environ.get('KVLIB_DATA', '<unset>')})."
            ) from None
    _check_idx(raw / img_name, n, True)
    _check_idx(raw / lab_name, n, False)
    _check_hash(raw / img_name, folder)
    _check_hash(raw / lab_name, folder)
    try:
        ds = cls(root=root, train=train, download=False)
    except Exception as err:
        raise DataError(f"torchvision could not read {folder} from {root}: {err}") from err
    if ds.targets.numel() and not (0 <= int(ds.targets.min()) and int(ds.targets.max()) <= 9):
        raise DataError(f"{raw / lab_name} holds labels outside 0..9: not a {folder} label file")
    return ds.data, ds.targets


def _folder(dataset: str) -> str:
    if not isinstance(dataset, str):
        raise TypeError(f"dataset: expected one of {sorted(set(DATASETS))}, got {dataset!r}")
    key = dataset.lower()
    if key not in DATASETS:
        raise ValueError(f"dataset: expected one of {sorted(set(DATASETS))}, got {dataset!r}")
    return DATASETS[key]


def fetch(dataset: str, root: str | os.PathLike | None = None) -> Path:
    """Make sure both splits of ``dataset`` are in the data folder and are the published files.

    Downloads what is missing (online), then checks all four files' SHA-256; returns the
    folder holding ``raw/``. Raises :class:`DataError` with what to do otherwise.
    """
    folder = _folder(dataset)
    for train in (True, False):
        _load_split(folder, str(data_root(root)), train)
    return data_root(root) / folder


def verify(dataset: str, root: str | os.PathLike | None = None) -> None:
    """Check, without downloading, that ``dataset``'s four files are present and published ones."""
    folder = _folder(dataset)
    raw = data_root(root) / folder / "raw"
    for train in (True, False):
        img, lab, n = _FILES[train]
        for name, is_images in ((img, True), (lab, False)):
            if not (raw / name).exists():
                raise DataError(f"{raw / name} is missing from the data folder (root, else KVLIB_DATA); "
                               f"expected the layout:\n  {_layout(folder)}")
            _check_idx(raw / name, n, is_images)
            _check_hash(raw / name, folder)


def load_classes(dataset: str, classes: Sequence[int], train: bool = True, *,
                 root: str | os.PathLike | None = None, relabel: Sequence[int] | None = None,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of ``classes`` from MNIST or Fashion-MNIST, in the data set's own order.

    Returns ``x`` of shape ``(N, 784)`` with pixel values in ``[0, 1]`` (as
    ``transforms.ToTensor`` gives) and integer labels ``y`` of shape ``(N,)``.
    ``relabel`` maps the i-th class of ``classes`` to ``relabel[i]`` (default: keep labels).

    >>> x, y = load_classes("mnist", [0, 1], train=False)   # doctest: +SKIP
    >>> x.shape, y.unique().tolist()                        # doctest: +SKIP
    (torch.Size([2115, 784]), [0, 1])
    """
    folder = _folder(dataset)
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise TypeError(f"classes: expected a list of ints in 0..9, got {classes!r}")
    classes = list(classes)
    if not isinstance(train, bool):
        raise TypeError(f"train: expected True (training split) or False (test split), got {train!r}")
    if not classes or any((not isinstance(c, int)) or isinstance(c, bool) or not 0 <= c <= 9
                          for c in classes):
        raise ValueError(f"classes: expected a non-empty list of ints in 0..9, got {classes!r}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes: expected distinct classes, got {classes!r}")
    if relabel is not None:
        if isinstance(relabel, (str, bytes)) or not hasattr(relabel, "__iter__"):
            raise TypeError(f"relabel: expected a list of int labels, one per class, got {relabel!r}")
        relabel = list(relabel)
        if any(isinstance(r, bool) or not isinstance(r, int) for r in relabel):
            raise ValueError(f"relabel: expected int labels, got {relabel!r}")
        if len(relabel) != len(classes):
            raise ValueError(f"relabel: expected {len(classes)} labels (one per class), got {relabel!r}")
    data, targets = _load_split(folder, str(data_root(root)), train)
    mask = torch.isin(targets, torch.tensor(classes))
    x = data[mask].reshape(-1, 28 * 28).to(dtype=dtype) / 255.0   # (N, 784)
    y = targets[mask].clone()
    if relabel is not None:
        lut = torch.arange(10)
        lut[torch.tensor(classes)] = torch.tensor(relabel)
        y = lut[y]
    return x.to(device), y.to(device)
