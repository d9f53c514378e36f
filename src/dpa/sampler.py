"""EpochSampler: a sampler whose keys carry their epoch, so the epoch cannot be lost or mixed.

The sampler yields ``(epoch, index)`` keys (``(epoch, index, True)`` for a
padded duplicate) and :class:`dpa.data.AugmentedDataset` accepts them: the
epoch travels with every index through the DataLoader's queues, so no
shared state can race with prefetching workers, whatever ``num_workers``,
``persistent_workers`` or the start method.

* Its k-th pass uses epoch ``epoch + k`` (``epoch`` from the constructor)
  unless :meth:`EpochSampler.set_epoch` names another: a plain
  ``for epoch in range(E): for batch in loader:`` loop gets a fresh epoch
  each pass without calling anything.
* Its order is a pure function of (seed, epoch, dataset length):
  :func:`epoch_order`, made with dpa's own hash, never torch's or numpy's
  global random state; so both the order and the params reproduce for any
  number of workers, 0 included.
* It splits like ``torch.utils.data.DistributedSampler`` (rank r takes
  positions r, r + W, ... of the shuffled order, padded by wrapping around,
  or ``drop_last``), and marks padded duplicates.
* ``state_dict()`` / ``load_state_dict()`` save and restore the epoch and
  the position in the pass, for mid-epoch resumption (torchdata's
  ``StatefulDataLoader`` calls them).

This module imports torch; ``import dpa`` does not import it.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any, Iterator

import numpy as np
from torch.utils.data import DistributedSampler

from dpa.distributed.env import resolve_rank
from dpa.distributed.splitter import DistributedRangeSplitter
from dpa.epochs import check_state
from dpa.keys import check_epoch, check_seed, counter_word
from dpa.prng import xxh64_bytes, xxh64_pair
from dpa.version import STREAM_VERSION

__all__ = ["EpochSampler", "epoch_order"]

_ORDER_KEY_PREFIX = b"dpa:sampler:order"
# Keys are made this many at a time: the pass's position is then read from the
# chunk's list iterator, with no Python code run per key.
_CHUNK = 1024


def epoch_order(num_samples: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of indices ``0 .. num_samples - 1`` in ``epoch`` (an int64 array).

    Index ``i`` is ranked by ``XXH64(i, (epoch << 32), K)`` (the 16-byte
    pair of :func:`dpa.prng.xxh64_pair`) with the key
    ``K = XXH64(b"dpa:sampler:order", seed)``; the order sorts those
    digests, ties (probability about ``n**2 / 2**65``) by index. It depends
    on nothing else: not on torch's or numpy's random state, the process,
    the machine, the number of workers or ranks. Cost: O(n log n) per epoch,
    16 bytes per sample.

    Args:
        num_samples: how many indices, ``>= 0``.
        seed: in ``[0, 2**64)``; epoch: in ``[0, 2**32)``.

    Raises:
        TypeError, ValueError: an argument outside its range.

    >>> order = epoch_order(10, seed=0, epoch=0)
    >>> sorted(order.tolist()) == list(range(10)), bool((order == epoch_order(10, 0, 0)).all())
    (True, True)
    >>> bool((order != epoch_order(10, 0, 1)).any())
    True
    """
    n = DistributedRangeSplitter(num_samples, 1).num_samples  # validates
    key = xxh64_bytes(_ORDER_KEY_PREFIX, check_seed(seed))
    digests = xxh64_pair(np.arange(n, dtype=np.uint64), counter_word(check_epoch(epoch), 0), key)
    return np.argsort(digests, kind="stable").astype(np.int64, copy=False)


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return value


class EpochSampler(DistributedSampler):
    """The recommended way to feed a dpa dataset: keys that carry their epoch, a reproducible order, resumable.

    Yields ``(epoch, index)`` tuples -- ``(epoch, index, True)`` for a
    padded duplicate -- which :class:`dpa.data.AugmentedDataset` accepts
    as indices: each item gets the params of the epoch its key names, so
    ``set_epoch`` on the dataset is not needed, and prefetching workers
    cannot see a half-changed epoch.

    Args:
        dataset: a dataset that accepts epoch keys (its class sets
            ``accepts_epoch_keys = True``, as :class:`~dpa.data.AugmentedDataset`
            does; wrap other datasets in one). Only its length is read here.
        shuffle: shuffle with :func:`epoch_order` (else indices in order).
        seed: the order's seed; default the dataset's ``seed`` (else 0).
        num_replicas, rank: the distributed split; default from
            ``torch.distributed`` or torchrun's environment (one process
            when neither is set).
        drop_last: leave out the tail so that every rank gets
            ``len // num_replicas`` indices (else pad by wrapping around, as
            ``DistributedSampler`` does, and mark the duplicates).
        epoch: the epoch of the first pass.

    Passes and epochs: each pass (each ``iter()`` that yields) uses the
    epoch :meth:`set_epoch` named, else the previous pass's epoch plus one.
    ``set_epoch(e)`` while the latest pass started is epoch ``e`` changes
    nothing (Lightning calls it just after starting a pass). Subclassing
    ``DistributedSampler`` tells Lightning and other frameworks that the
    sampler already splits across ranks, so they keep it instead of
    wrapping it in a second split.

    Raises:
        TypeError: a dataset that does not accept epoch keys; flags that are not bools.
        ValueError: a bad seed, epoch, rank or number of replicas.

    >>> import dpa
    >>> from dpa.data import AugmentedDataset
    >>> ds = AugmentedDataset(list(range(10)), dpa.get_preset("mild"), seed=7)
    >>> sampler = EpochSampler(ds, num_replicas=3, rank=2)
    >>> keys = list(sampler)
    >>> len(keys), keys[0][0], keys[-1][2]            # 4 keys of epoch 0, the last one padding
    (4, 0, True)
    >>> [key[0] for key in list(sampler)[:1]]           # the next pass is epoch 1
    [1]
    """

    def __init__(
        self,
        dataset: Any,
        *,
        shuffle: bool = True,
        seed: int | None = None,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = False,
        epoch: int = 0,
    ) -> None:
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"dataset must have a length; got {type(dataset).__name__}")
        if not getattr(dataset, "accepts_epoch_keys", False):
            raise TypeError(
                f"EpochSampler yields (epoch, index) keys, which {type(dataset).__name__} does not accept: "
                f"wrap it, AugmentedDataset(your_dataset, config, ...), and give the sampler that"
            )
        self.dataset = dataset
        self.shuffle = _check_flag("shuffle", shuffle)
        self.drop_last = _check_flag("drop_last", drop_last)
        if seed is None:
            own = getattr(dataset, "seed", 0)
            seed = own if isinstance(own, int) and not isinstance(own, bool) else 0
        self.seed = check_seed(seed)
        self.rank, self.num_replicas = resolve_rank(rank, num_replicas)
        self._next_epoch = check_epoch(epoch)
        self._pass_epoch: int | None = None  # epoch of the latest pass started
        self._cursor: tuple[int, int, Any] = (0, 0, None)  # (first position, length, iterator) of the chunk
        self._pending: dict[str, Any] | None = None  # a loaded state, resumed by the next pass
        self._pending_owner: object | None = None

    # -- sizes -----------------------------------------------------------------
    def _splitter(self) -> DistributedRangeSplitter:
        return DistributedRangeSplitter(
            len(self.dataset), self.num_replicas, pad=not self.drop_last, drop_last=self.drop_last
        )

    @property
    def num_samples(self) -> int:
        """Keys per pass on this rank (padding included), as ``DistributedSampler.num_samples``."""
        return self._splitter().num_samples_for(self.rank)

    @property
    def total_size(self) -> int:
        """Keys per pass over all ranks (padding included)."""
        return len(self._splitter())

    def __len__(self) -> int:
        return self.num_samples

    # -- the epoch -------------------------------------------------------------
    @property
    def epoch(self) -> int:
        """The epoch of the latest pass started, or the one :meth:`set_epoch` named for the next pass."""
        if self._pending is not None:
            return int(self._pending["epoch"])
        if self._pass_epoch is not None and self._next_epoch == self._pass_epoch + 1:
            return self._pass_epoch
        return self._next_epoch

    @epoch.setter
    def epoch(self, value: int) -> None:  # DistributedSampler's attribute, assigned by some frameworks
        self.set_epoch(value)

    @property
    def pass_epoch(self) -> int | None:
        """The epoch of the latest pass started (or about to resume), None before the first."""
        return int(self._pending["epoch"]) if self._pending is not None else self._pass_epoch

    def set_epoch(self, epoch: int) -> None:
        """Make ``epoch`` the epoch of the next pass (DistributedSampler's method, same meaning).

        When the latest pass started is already epoch ``epoch`` (a framework
        calling it just after starting the pass), nothing changes: the next
        pass stays ``epoch + 1``. A loaded state for another epoch is dropped.

        Raises:
            TypeError, ValueError: ``epoch`` not an integer in ``[0, 2**32)``.
        """
        epoch = check_epoch(epoch)
        if self._pending is not None:
            if int(self._pending["epoch"]) == epoch:
                return
            self._pending = self._pending_owner = None
        elif self._pass_epoch == epoch and self._next_epoch == epoch + 1:
            return
        self._next_epoch = epoch

    # -- keys ------------------------------------------------------------------
    def indices(self, epoch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """This rank's dataset indices in ``epoch``'s pass (default :attr:`epoch`), and the padding mask beside them.

        >>> import dpa
        >>> from dpa.data import AugmentedDataset
        >>> ds = AugmentedDataset(list(range(5)), dpa.get_preset("mild"))
        >>> idx, pad = EpochSampler(ds, shuffle=False, num_replicas=2, rank=1).indices()
        >>> idx.tolist(), pad.tolist()
        ([1, 3, 0], [False, False, True])
        """
        epoch = self.epoch if epoch is None else check_epoch(epoch)
        splitter = self._splitter()
        positions = splitter.indices(self.rank).astype(np.int64)
        padding = splitter.is_padding(self.rank)
        if self.shuffle:
            positions = epoch_order(splitter.num_samples, self.seed, epoch)[positions]
        return positions, padding

    def __iter__(self) -> Iterator[tuple]:
        owner = object()
        if self._pending is not None and self._pending_owner is None:
            self._pending_owner = owner  # the first iterator made after load_state_dict resumes it
        return self._keys(owner)

    def _keys(self, owner: object) -> Iterator[tuple]:
        # Runs at the first next(): iterators made and dropped without
        # yielding (DataLoader and torchdata make a few) use no epoch. A
        # loaded state is resumed by the iterator that owns it; when another
        # runs first, the owner was dropped (torchdata does so when the saved
        # pass had ended) and the state's next pass starts instead.
        pending, start = self._pending, 0
        if pending is not None and self._pending_owner in (None, owner):
            epoch, start = int(pending["epoch"]), int(pending["position"])
        else:
            epoch = check_epoch(self._next_epoch, "the next epoch")
        self._pending = self._pending_owner = None
        self._pass_epoch, self._next_epoch = epoch, epoch + 1
        self._cursor = (start, 0, None)
        idx, padding = self.indices(epoch)
        real = int(np.count_nonzero(~padding))  # padded duplicates come last
        keys = idx.tolist()
        for lo, hi, padded in ((start, real, False), (max(start, real), len(keys), True)):
            for c in range(lo, hi, _CHUNK):
                part = keys[c : min(c + _CHUNK, hi)]
                chunk = list(zip(repeat(epoch), part, repeat(True)) if padded else zip(repeat(epoch), part))
                it = iter(chunk)
                self._cursor = (c, len(chunk), it)
                yield from it
        self._cursor = (len(keys), 0, None)

    @property
    def _position(self) -> int:
        """Keys the latest pass has handed out."""
        first, length, it = self._cursor
        return first + length - (it.__length_hint__() if it is not None else 0)

    # -- state -----------------------------------------------------------------
    def dpa_identity(self) -> dict[str, Any]:
        """What a saved state must match: the order's seed, shuffling, length and number of replicas.

        The same on every rank (a state also records its ``rank``, checked on loading).
        """
        return {
            "kind": "EpochSampler",
            "stream_version": STREAM_VERSION,
            "seed": self.seed,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
            "dataset_length": len(self.dataset),
            "num_replicas": self.num_replicas,
        }

    def state_dict(self) -> dict[str, Any]:
        """The epoch and position of the pass in progress (plain values), beside :meth:`dpa_identity`.

        ``position`` counts the keys this sampler has handed out in the
        pass; a DataLoader with workers has fetched fewer than that (it
        prefetches), which torchdata's ``StatefulDataLoader`` accounts for by
        taking the sampler's state when each batch is sent. ``next_epoch`` is
        the epoch of the pass after it.
        """
        if self._pending is not None:
            epoch, position = int(self._pending["epoch"]), int(self._pending["position"])
            next_epoch = int(self._pending["next_epoch"])
        elif self._pass_epoch is not None:
            epoch, position, next_epoch = self._pass_epoch, self._position, self._next_epoch
        else:
            epoch, position, next_epoch = self._next_epoch, 0, self._next_epoch
        return {
            **self.dpa_identity(), "rank": self.rank, "epoch": epoch, "position": position, "next_epoch": next_epoch
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`: the next pass continues that pass's epoch from its position.

        A state whose pass had ended resumes with an empty rest of that pass,
        then ``next_epoch``; torchdata's loader, which knows the pass had ended,
        starts ``next_epoch`` at once.

        Raises:
            TypeError: ``state`` is not a dict.
            ValueError: a state of another seed, length, split, rank or stream
                version (all named), or a position outside the pass.
        """
        check_state(state, {**self.dpa_identity(), "rank": self.rank}, what="this EpochSampler")
        epoch = check_epoch(state.get("epoch"), "state['epoch']")
        next_epoch = check_epoch(state.get("next_epoch"), "state['next_epoch']")
        position = state.get("position")
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= self.num_samples:
            raise ValueError(f"state['position'] must be an integer in [0, {self.num_samples}]; got {position!r}")
        self._pass_epoch, self._cursor = None, (0, 0, None)
        self._next_epoch = next_epoch
        self._pending = {"epoch": epoch, "position": position, "next_epoch": next_epoch}
        self._pending_owner = None

    def __repr__(self) -> str:
        return (
            f"EpochSampler(len={len(self.dataset)}, shuffle={self.shuffle}, seed={self.seed}, epoch={self.epoch}, "
            f"num_replicas={self.num_replicas}, rank={self.rank}, drop_last={self.drop_last})"
        )
