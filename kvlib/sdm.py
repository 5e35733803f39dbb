"""Kanerva's sparse distributed memory: random hard locations, a Hamming radius, counters.

The review's example of a random scaffold for a memory's addresses (paper §2.2) is Kanerva's
sparse distributed memory (SDM; Kanerva 1988). It is built here as he built it:

* **hard locations**: ``M`` fixed random binary addresses of ``n`` bits, drawn once;
* **activation**: an address activates every hard location within Hamming distance ``r``
  of it. Hard locations are uniform, so the distance from any address to one of them is
  Binomial(n, 1/2) and the activated fraction is a binomial tail
  (:func:`kvlib.sdm_theory.activation_probability`);
  the radius is set so that Kanerva's recommended fraction ``(2 M T)^(-1/3)`` for ``T``
  stored words activates (:func:`kvlib.sdm_theory.kanerva_fraction`, Kanerva 1993);
* **write and read**: writing adds the data word, as ±1, to counters at the activated
  locations; reading sums the counters of the locations the read address activates and
  thresholds the sums at 0.

In the review's terms the read is a key-value read over the hard locations (keys: their
addresses; similarity: minus the Hamming distance; separation: the radius threshold;
values: the counters), one :func:`kvlib.kernels.retrieve`. Over the stored items (the dual
form of Eq 3) the same sums are ``Σ_n O(q, k_n) (2 v_n − 1)``, ``O`` counting the hard
locations a read and a write address share. Kanerva's analysis of the memory (activation,
overlap, critical distance) is its own module, :mod:`kvlib.sdm_theory`.

As Chapter 2's fifth scaffold an image's address is its thresholded pixels (:func:`binary_address`,
our choice: the review names no encoding), and its score for a stored item is the number of
hard locations it shares with the cue (:func:`sdm_accuracy`). Explained in Chapter 2, §Five
ways to give a memory its addresses.

Axis vocabulary (``book/appendix/notation.md``): M hard locations, n address bits, T stored
words, u data bits, B episodes, N items per episode.
"""
from __future__ import annotations

import torch

from kvlib import _checks as check
from kvlib import kernels
from kvlib.device import generator as seed_stream
from kvlib.lookalikes import EpisodeBatch, diagonal_accuracy
from kvlib.sdm_theory import activation_probability, intersection_curve, kanerva_fraction, radius_for_fraction

__all__ = ["binary_address", "SparseDistributedMemory", "sdm_accuracy", "sdm_episode_statistics"]


def binary_address(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """An image's binary address: each entry of ``x`` above ``threshold`` is a 1, the rest 0.

    Returns a float32 tensor of 0s and 1s with ``x``'s shape (integer images are compared as
    they are, exactly). Thresholding the pixels is our choice of address (the review names
    no encoding); Kanerva's analysis assumes addresses spread uniformly over ``{0, 1}^n``,
    which image addresses are not. Explained in Chapter 2, §Five ways to give a memory its addresses.

    >>> binary_address(torch.tensor([0.2, 0.7, 0.5]))
    tensor([0., 1., 0.])
    """
    x = check.tensor("x", x, dtype="float")
    threshold = check.number("threshold", threshold)
    return (x > threshold).to(torch.float32)


def _hamming(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamming distances between binary rows, ``(..., N, n), (..., K, n) -> (..., N, K)``."""
    return a.sum(-1)[..., None] + b.sum(-1)[..., None, :] - 2 * a @ b.transpose(-1, -2)


class SparseDistributedMemory:
    """Kanerva's sparse distributed memory (1988): hard locations, a radius, counters.

    ``n_locations`` (M) hard locations with uniform random ``n_bits``-bit addresses, drawn
    once from ``seed`` on the CPU. An address activates every hard location within Hamming
    distance ``radius`` of it; if ``radius`` is not given it is set so that Kanerva's
    recommended fraction :func:`kvlib.sdm_theory.kanerva_fraction` of ``M`` activates for ``n_stored``
    words (Kanerva 1993). :meth:`write` adds each data word, as ±1, to the counters of the
    locations its address activates; :meth:`read` sums the counters of the locations the
    read address activates and thresholds the sums at 0 (a 1 where the sum is positive).
    Addresses and data are tensors of 0s and 1s (any real dtype; they are checked).

    Read as a key-value memory the same read is a dual form (Eq 3): the sums equal
    ``sum_n O(q, k_n) (2 v_n - 1)``, where ``O`` counts the hard locations a read address
    ``q`` and a write address ``k_n`` share (:meth:`overlap`, :meth:`read_dual`). Used as
    Chapter 2's fifth scaffold, images become addresses by :func:`binary_address` with
    ``threshold`` (:meth:`scores`). Explained in Chapter 2, §Five ways to give a memory its addresses.
    """

    def __init__(self, n_bits: int, n_locations: int, radius: int | None = None, *,
                 n_stored: int | None = None, threshold: float = 0.5, seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        n_bits = check.count("n_bits", n_bits, 1)
        n_locations = check.count("n_locations", n_locations, 1)
        if n_bits * n_locations > 2 ** 31:
            raise ValueError(f"n_locations: expected n_bits x n_locations <= 2**31 hard-location bits, "
                             f"got {n_bits} x {n_locations}")
        if n_stored is not None:
            n_stored = check.count("n_stored", n_stored, 1)
        if radius is None:
            if n_stored is None:
                raise ValueError("radius, n_stored: give a radius, or the number of words to "
                                 "store so Kanerva's fraction (2 M T)^(-1/3) can set it; got neither")
            radius = radius_for_fraction(n_bits, kanerva_fraction(n_locations, n_stored))
        self.radius = check.count("radius", radius, 0)
        self.threshold = check.number("threshold", threshold)
        self.n_bits, self.n_locations = n_bits, n_locations
        dev = check.device("device", device)
        g = seed_stream(check.seed("seed", seed), "hard locations")
        self.locations = torch.randint(0, 2, (n_locations, n_bits), generator=g).to(
            dev, torch.float32)                                            # (M, n)
        self.counters: torch.Tensor | None = None                         # (M, u) once written

    @property
    def fraction(self) -> float:
        """The fraction of hard locations an address activates, on average (Kanerva's binomial)."""
        return activation_probability(self.n_bits, self.radius)

    def _bits(self, name: str, a: object, width: int | None = None, ndim: int | None = None
              ) -> torch.Tensor:
        """A tensor of 0s and 1s on the memory's device and dtype, ``width`` bits in its last axis."""
        a = check.tensor(name, a, ndim=ndim, like=self.locations, like_name="the hard locations")
        if a.ndim < 1 or (width is not None and a.shape[-1] != width):
            raise ValueError(f"{name}: expected {width} bits in the last axis, got shape {tuple(a.shape)}")
        if a.numel() and not bool(((a == 0) | (a == 1)).all()):
            raise ValueError(f"{name}: expected entries 0 and 1 only, got values such as "
                             f"{a[(a != 0) & (a != 1)][:3].tolist()}")
        return a

    def _closeness(self, q: torch.Tensor, locations: torch.Tensor) -> torch.Tensor:
        """Minus the Hamming distance of each address to each location: ``(..., b, n) -> (..., b, M)``."""
        return -(q.sum(-1, keepdim=True) + locations.sum(-1) - 2 * q @ locations.T)

    def _activation(self, a: torch.Tensor) -> torch.Tensor:
        """Activations of checked addresses: the radius as a threshold separation, ``(..., M)``.

        ``kernels.threshold`` at ``-radius`` on minus the distances, in place on the fresh scores.
        """
        return kernels.threshold(self._closeness(a, self.locations), -self.radius, inplace=True)

    def _shared(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Hard locations common to each read and write address (the dual form's similarity)."""
        return self._activation(q) @ self._activation(k).transpose(-1, -2)      # (..., Nq, Nk)

    def distances(self, address: torch.Tensor) -> torch.Tensor:
        """Hamming distance from each address to each hard location, ``(..., n) -> (..., M)``."""
        return -self._closeness(self._bits("address", address, self.n_bits), self.locations)

    def activate(self, address: torch.Tensor) -> torch.Tensor:
        """The hard locations each address activates (within ``radius``), ``(..., M)`` of 0/1.

        The radius is the separation: :func:`kvlib.kernels.threshold` at ``-radius`` on minus
        the distances.
        """
        return self._activation(self._bits("address", address, self.n_bits))

    def write(self, address: torch.Tensor, data: torch.Tensor) -> None:
        """Add each word of ``data`` (``(T, u)`` of 0/1) as ±1 to the counters its address activates."""
        address = self._bits("address", address, self.n_bits, ndim=2)
        data = self._bits("data", data, ndim=2)
        if data.shape[0] != address.shape[0]:
            raise ValueError(f"data: expected one word per address ({address.shape[0]}), got shape "
                             f"{tuple(data.shape)}")
        if self.counters is not None and data.shape[1] != self.counters.shape[1]:
            raise ValueError(f"data: expected words of {self.counters.shape[1]} bits (as written "
                             f"before), got shape {tuple(data.shape)}")
        inc = self.activate(address).transpose(0, 1) @ (2 * data - 1)     # (M, u) write rule
        self.counters = inc if self.counters is None else self.counters + inc

    def read(self, address: torch.Tensor) -> torch.Tensor:
        """Sum the counters of the activated locations and threshold at 0: ``(..., n) -> (..., u)``.

        One :func:`kvlib.kernels.retrieve` over the hard locations: similarity minus the
        Hamming distance, separation the threshold at ``-radius``, values the counters.
        """
        if self.counters is None:
            raise ValueError("address: nothing has been written to this memory yet; write() first")
        a = self._bits("address", address, self.n_bits)
        sums = kernels.retrieve(a, self.locations, self.counters, similarity=self._closeness,
                                separation="threshold", threshold=-self.radius)   # (..., u)
        return (sums > 0).to(self.locations.dtype)

    def _blocks(self, q: torch.Tensor, k: torch.Tensor):
        """Blocks of episodes small enough that the ``(b, N, M)`` activations stay near 64 MB."""
        step = max(1, 2 ** 24 // (max(q.shape[1], k.shape[1], 1) * self.n_locations))
        return range(0, q.shape[0], step), step

    def _pair(self, q: object, k: object) -> tuple[torch.Tensor, torch.Tensor]:
        q = self._bits("q", q, self.n_bits, ndim=3)
        k = self._bits("k", k, self.n_bits, ndim=3)
        if q.shape[0] != k.shape[0]:
            raise ValueError(f"q, k: expected the same number of episodes B in (B, N, n), got shapes "
                             f"{tuple(q.shape)} and {tuple(k.shape)}")
        return q, k

    def overlap(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Hard locations common to read and write addresses, ``(B, Nq, n), (B, Nk, n) -> (B, Nq, Nk)``.

        The similarity of the dual form (the dot product of the two activation patterns),
        computed a block of episodes at a time.
        """
        q, k = self._pair(q, k)
        starts, step = self._blocks(q, k)
        out = [self._shared(q[i:i + step], k[i:i + step]) for i in starts]
        return torch.cat(out) if out else q.new_zeros(0, q.shape[1], k.shape[1])

    def read_dual(self, q: torch.Tensor, k: torch.Tensor, data: torch.Tensor, *,
                  return_weights: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The counter sums a read at ``q`` gets after writing ``data`` at ``k``, without counters.

        ``sum_n O(q, k_n) (2 v_n - 1)``: ``(B, Nq, n), (B, Nk, n), (B, Nk, u) -> (B, Nq, u)``,
        one :func:`kvlib.kernels.retrieve` per block of episodes (similarity: the shared
        locations :meth:`overlap` counts; separation ``"identity"``). Thresholding at 0 gives
        :meth:`read`. ``return_weights``: also return the shared counts ``O`` (B, Nq, Nk).
        """
        q, k = self._pair(q, k)
        data = self._bits("data", data, ndim=3)
        if data.shape[:2] != k.shape[:2]:
            raise ValueError(f"data: expected one word per write address, shape ({k.shape[0]}, "
                             f"{k.shape[1]}, u), got {tuple(data.shape)}")
        check.flag("return_weights", return_weights)
        starts, step = self._blocks(q, k)
        sums = [q.new_zeros(0, q.shape[1], data.shape[2])]
        common = [q.new_zeros(0, q.shape[1], k.shape[1])]
        for i in starts:
            s, w = kernels.retrieve(q[i:i + step], k[i:i + step], 2 * data[i:i + step] - 1,
                                    similarity=self._shared, separation="identity", return_weights=True)
            sums.append(s)                                                # (b, Nq, u)
            common.append(w)                                              # (b, Nq, Nk)
        return (torch.cat(sums), torch.cat(common)) if return_weights else torch.cat(sums)

    def scores(self, cues: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Scaffold scores: hard locations each cue shares with each stored image, ``(B, N, N)``.

        ``cues``, ``x``: ``(B, N, n)`` images, turned into addresses by :func:`binary_address`.
        """
        x = check.tensor("x", x, ndim=3)
        cues = check.tensor("cues", cues, ndim=3)
        if cues.shape != x.shape:
            raise ValueError(f"cues, x: expected one cue per stored image, shapes (B, N, n) alike; "
                             f"got {tuple(cues.shape)} and {tuple(x.shape)}")
        if x.shape[-1] != self.n_bits:
            raise ValueError(f"x: expected {self.n_bits} pixels in the last axis, got shape {tuple(x.shape)}")
        return self.overlap(binary_address(cues, self.threshold), binary_address(x, self.threshold))


def sdm_accuracy(sdm: SparseDistributedMemory, episodes: EpisodeBatch, seed: int = 0) -> dict:
    """The SDM on the look-alike retrieval task, three ways: ``{"scaffold", "read", "limit"}``.

    * ``"scaffold"``: the item sharing the most hard locations with the cue is chosen
      (the SDM's query-key score, as :func:`kvlib.lookalikes.cued_item_accuracy` scores it);
    * ``"read"``: Kanerva's own read. Each episode's binary images are written at their own
      addresses (autoassociative, as Kanerva uses the memory), the cue's address is read
      (in the dual form, :meth:`SparseDistributedMemory.read_dual`), and the read is right if
      the stored image nearest to it in Hamming distance is the cued one;
    * ``"limit"``: infinitely many hard locations (same radius). The share of locations a cue
      and an item have in common then tends to the intersection probability of their distance
      (:func:`kvlib.sdm_theory.intersection_curve`), which falls with distance but is equal at
      ``2k - 1`` and ``2k`` (Hamming balls), so the limit is nearly, not exactly, the nearest
      neighbour.

    Ties are broken at random with ``seed``. One pass computes the shared counts for the
    first two. Explained in Chapter 2, §Accuracy of each scaffold.
    """
    if not isinstance(sdm, SparseDistributedMemory):
        raise TypeError(f"sdm: expected a SparseDistributedMemory, got {type(sdm).__name__}")
    if not isinstance(episodes, EpisodeBatch):
        raise TypeError(f"episodes: expected an EpisodeBatch, got {type(episodes).__name__}")
    seed = check.seed("seed", seed)
    if episodes.x.shape[-1] != sdm.n_bits:
        raise ValueError(f"episodes: expected items of {sdm.n_bits} pixels, got shape "
                         f"{tuple(episodes.x.shape)}")
    with torch.no_grad():
        a_q = binary_address(episodes.cues, sdm.threshold).to(sdm.locations)   # (B, N, n)
        a_x = binary_address(episodes.x, sdm.threshold).to(sdm.locations)
        sums, common = sdm.read_dual(a_q, a_x, a_x, return_weights=True)     # (B, N, n), (B, N, N)
        words = (sums > 0).to(a_x.dtype)                                      # Kanerva's read of each cue
        d = _hamming(a_q, a_x).round().long()                                # (B, N, N)
        p2 = intersection_curve(sdm.n_bits, sdm.radius).to(torch.float32).to(d.device)
        return {"scaffold": diagonal_accuracy(common, seed),
                "read": diagonal_accuracy(-_hamming(words, a_x), seed),
                "limit": diagonal_accuracy(p2[d], seed)}


def sdm_episode_statistics(sdm: SparseDistributedMemory, x: torch.Tensor, cues: torch.Tensor) -> dict:
    """Why the SDM scaffold confuses look-alikes, in one episode (``x``, ``cues``: ``(N, n)`` images).

    Returns the mean shared hard locations of a cue with its own item and with each other item
    (``common_own``, ``common_other``), the Hamming distances cue-own, cue-other and
    item-item (``hamming_own``, ``hamming_other``, ``hamming_items``), the mean number of
    locations an item activates (``n_active``), and how far Kanerva's read of each cue lands
    from the cued item and from the episode's bitwise majority (``read_to_cued``,
    ``read_to_majority``). Explained in Chapter 2, §Accuracy of each scaffold.
    """
    if not isinstance(sdm, SparseDistributedMemory):
        raise TypeError(f"sdm: expected a SparseDistributedMemory, got {type(sdm).__name__}")
    x = check.tensor("x", x, ndim=2)
    cues = check.tensor("cues", cues, ndim=2)
    if cues.shape != x.shape:
        raise ValueError(f"cues, x: expected one cue per item, shapes (N, n) alike; got "
                         f"{tuple(cues.shape)} and {tuple(x.shape)}")
    if x.shape[0] < 2 or x.shape[1] != sdm.n_bits:
        raise ValueError(f"x: expected at least 2 items of {sdm.n_bits} pixels, got shape {tuple(x.shape)}")
    with torch.no_grad():
        a_x = binary_address(x, sdm.threshold).to(sdm.locations)[None]       # (1, N, n)
        a_q = binary_address(cues, sdm.threshold).to(sdm.locations)[None]
        sums, common = sdm.read_dual(a_q, a_x, a_x, return_weights=True)
        words, common = (sums[0] > 0).to(a_x.dtype), common[0]               # (N, n), (N, N)
        off = ~torch.eye(x.shape[0], dtype=torch.bool, device=common.device)
        ham, ham_items = _hamming(a_q, a_x)[0], _hamming(a_x, a_x)[0]         # (N, N) each
        majority = (a_x[0].mean(0) > 0.5).to(a_x.dtype)                      # (n,)
        return {"common_own": float(common.diagonal().mean()), "common_other": float(common[off].mean()),
                "hamming_own": float(ham.diagonal().mean()), "hamming_other": float(ham[off].mean()),
                "hamming_items": float(ham_items[off].mean()),
                "n_active": float(sdm.activate(a_x[0]).sum(-1).mean()),
                "read_to_cued": float((words != a_x[0]).sum(-1).float().mean()),
                "read_to_majority": float((words != majority).sum(-1).float().mean())}
