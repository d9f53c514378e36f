"""PyTorch datasets that attach deterministic augmentation parameters to samples.

* :class:`AugmentedDataset` wraps a map-style dataset: ``ds[i]`` is
  ``(base[i], params)`` (or ``transform(base[i], params)``), the params those
  of sample id ``i`` (or of ``sample_id_from_key(key(i))``) in the current
  epoch. Results are the same for any number of DataLoader workers,
  persistent workers, batch size, shuffling and DistributedSampler ranks,
  because the params depend only on (seed, epoch, id).
* :class:`AugmentedIterableDataset` streams ids ``0 .. num_samples - 1``
  split across ranks and DataLoader workers without overlap or gaps.
* :class:`EpochSampler` (from :mod:`dpa.sampler`) feeds an
  ``AugmentedDataset`` keys that carry their epoch: the recommended way,
  where the epoch cannot be forgotten, lost in a worker or mixed.

Both datasets keep their epoch in shared memory (:class:`dpa.epochs.SharedEpoch`),
so ``set_epoch`` reaches persistent workers, and have ``state_dict()`` /
``load_state_dict()`` carrying (seed, epoch, config fingerprint,
``STREAM_VERSION``): a state from another config is refused.

This module imports torch; ``import dpa`` does not import it.
"""

from __future__ import annotations

import inspect
import sys
from collections import OrderedDict
from itertools import repeat
from operator import itemgetter
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from dpa import validate
from dpa.config import AugmentationConfig
from dpa.distributed.env import resolve_rank
from dpa.distributed.splitter import DistributedRangeSplitter
from dpa.epochs import EpochAware, SharedEpoch, check_state, find_epoch_aware
from dpa.generate import generator_for
from dpa.keys import check_epoch, sample_id_from_key
from dpa.sampler import EpochSampler, epoch_order
from dpa.stream import ParamBatch, param_rows
from dpa.version import STREAM_VERSION

__all__ = [
    "AugmentedDataset",
    "AugmentedIterableDataset",
    "SampleInfo",
    "EpochSampler",
    "epoch_order",
    "SharedEpoch",
    "EpochAware",
    "find_epoch_aware",
]


class SampleInfo(NamedTuple):
    """Whose params these are: what a transform needs beyond the params to reproduce them.

    ``padding`` is True for a padded duplicate (see :class:`EpochSampler`).

    A transform declared with three parameters, ``transform(item, params, sample)``,
    receives one; pass it on to :func:`dpa.apply.apply_params`, whose noise
    field is made from the sample id, seed and epoch::

        def augment(item, params, sample):
            image, label = item
            return apply_params(image, params, sample_ids=sample.sample_id, seed=sample.seed, epoch=sample.epoch), label
    """

    sample_id: int
    seed: int
    epoch: int
    padding: bool = False
    """True for a duplicate that :class:`EpochSampler` added to even out ranks (leave it out of metrics)."""


def _plan(config: Any, seed: Any, epoch: Any) -> Any:
    """The :class:`dpa.generator.EpochPlan` of (config, seed, epoch): checks all three, kept with the config."""
    return generator_for(config, seed).plan(epoch=epoch)


def _check_transform(transform: Any) -> bool:
    """Validate a transform; True when it takes a third argument (the :class:`SampleInfo`).

    It does when it has three required positional parameters, or ``*args``.
    """
    if transform is None:
        return False
    if not callable(transform):
        raise TypeError(
            f"transform must be callable(item, params) or callable(item, params, sample), or None; "
            f"got {type(transform).__name__}"
        )
    try:
        sig = inspect.signature(transform)
    except (TypeError, ValueError):  # some builtins and C callables have none: call with two
        return False
    params = list(sig.parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    required = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    return len(required) >= 3


def _cached_row_bytes(plan: Any) -> int:
    """Memory of one cached sample: its dict, its value objects and its list slot.

    Measured on a real row, built as the cache builds them (about 1.4 KB for
    `moderate`'s 24 outputs: Python objects, not the 192 bytes of the arrays).
    Small ints and bools are shared objects, so this errs on the large side.
    """
    row = param_rows(plan.numpy(np.zeros(1, dtype=np.uint64)))[0]
    return sys.getsizeof(row) + sum(sys.getsizeof(v) for v in row.values()) + 8


class AugmentedDataset(Dataset):
    """A map-style dataset returning ``(base[i], params)`` with dpa params for sample ``i``.

    Args:
        base: any map-style dataset (``len`` and ``__getitem__``).
        config: an :class:`~dpa.AugmentationConfig` (e.g. ``dpa.get_preset("moderate")``).
        seed: the run's seed.
        transform: optional ``transform(item, params) -> sample``, or
            ``transform(item, params, sample)`` with a :class:`SampleInfo`
            (sample id, seed, epoch -- what :func:`dpa.apply.apply_params`
            needs for its noise field -- and padding); its result replaces
            the ``(item, params)`` pair.
        key: optional ``key(i) -> str | bytes | PathLike``: the sample id is
            then :func:`dpa.sample_id_from_key` of it, so params follow a file
            and not its position in the list.
        epoch: the starting epoch of plain indices (change it with :meth:`set_epoch`).
        chunk_size: params are generated this many indices at a time and cached.
        cache_mb: memory bound of the params cache, per process.

    Indices are integers, or the ``(epoch, index)`` keys of an
    :class:`EpochSampler` (``(epoch, index, True)`` for a padded duplicate),
    which carry their own epoch: feeding the dataset with one is the
    recommended way, as the epoch then cannot be forgotten or mixed. Plain
    integers use the dataset's epoch, kept in shared memory so that
    :meth:`set_epoch` reaches DataLoader workers. :meth:`state_dict` /
    :meth:`load_state_dict` save and restore it, refusing a state of
    another config.

    Params are computed in chunks of consecutive indices and cached (bounded
    by ``cache_mb``), so sequential or repeated access costs a fraction of a
    microsecond per item. DataLoader's batched fetch (``__getitems__``)
    computes a whole batch's params in one call, whatever the order. When
    shuffled access to a dataset larger than the cache keeps missing, single
    items fall back to the scalar path instead of computing chunks for
    nothing.

    >>> import dpa
    >>> ds = AugmentedDataset(list(range(10)), dpa.get_preset("mild"), seed=3)
    >>> item, params = ds[4]
    >>> item, params == dpa.gen_augmentation_params(4, dpa.get_preset("mild"), seed=3)
    (4, True)
    >>> ds[(2, 4)][1] == dpa.gen_augmentation_params(4, dpa.get_preset("mild"), seed=3, epoch=2)
    True
    """

    def __init__(
        self,
        base: Any,
        config: AugmentationConfig,
        seed: int = 0,
        transform: Callable[..., Any] | None = None,
        key: Callable[[int], Any] | None = None,
        epoch: int = 0,
        chunk_size: int = 1024,
        cache_mb: float = 64.0,
    ) -> None:
        if not hasattr(base, "__getitem__") or not hasattr(base, "__len__"):
            raise TypeError(f"base must be a map-style dataset with __getitem__ and __len__; got {type(base).__name__}")
        self._transform_takes_sample = _check_transform(transform)
        if key is not None and not callable(key):
            raise TypeError(f"key must be callable(index) -> str or None; got {type(key).__name__}")
        chunk_size = validate.count(chunk_size, "chunk_size")
        if not cache_mb > 0:
            raise ValueError(f"cache_mb must be > 0; got {cache_mb!r}")
        self.base = base
        self.plan = _plan(config, seed, epoch)  # validates config, seed and epoch now
        self.config, self.seed = self.plan.config, seed
        # The epoch lives in shared memory: DataLoader workers (persistent ones
        # too) hold copies of this object, and must all see set_epoch().
        self._epoch = SharedEpoch(epoch)
        self.transform, self.key = transform, key
        self.chunk_size = chunk_size
        self._max_chunks = max(1, int(cache_mb * 2**20) // (_cached_row_bytes(self.plan) * chunk_size))
        self._cache: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self._served = 0
        self._computed = 0
        self._last_chunk = -1

    def __len__(self) -> int:
        return len(self.base)

    #: :class:`EpochSampler` keys ``(epoch, index[, padding])`` are accepted as indices.
    accepts_epoch_keys = True

    @property
    def epoch(self) -> int:
        """The epoch of plain integer indices (keys from :class:`EpochSampler` carry their own)."""
        return self._epoch.value

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s params from now on, in this process and in every DataLoader worker.

        Call it before each epoch, before ``iter(loader)``, as with
        DistributedSampler; persistent workers see it too (the epoch is kept
        in shared memory). Items a DataLoader has already prefetched keep the
        epoch they were made with, so a call during a pass can mix epochs
        within it: feed the loader with :class:`EpochSampler`, whose keys
        carry their epoch, to make that impossible (then this method is not
        needed at all).

        Raises:
            TypeError, ValueError: ``epoch`` not an integer in ``[0, 2**32)``.
        """
        self._epoch.set(epoch)
        self._use_epoch(self._epoch.value)

    def _use_epoch(self, epoch: Any) -> None:
        if epoch != self.plan.epoch or type(epoch) is not int:
            self.plan = _plan(self.config, self.seed, epoch)  # validates it
            self._cache.clear()

    @property
    def plan_epoch(self) -> int:
        return self.plan.epoch

    # -- state -----------------------------------------------------------------
    def dpa_identity(self) -> dict[str, Any]:
        """What a saved state must match: the config's fingerprint, the seed and dpa's stream version."""
        return {
            "kind": "AugmentedDataset",
            "stream_version": STREAM_VERSION,
            "fingerprint": self.config.fingerprint(),
            "seed": self.seed,
        }

    def state_dict(self) -> dict[str, Any]:
        """``dpa_identity()`` and the epoch, as plain values (torchdata's ``StatefulDataLoader`` saves it).

        >>> import dpa
        >>> ds = AugmentedDataset(range(4), dpa.get_preset("mild"), seed=1, epoch=2)
        >>> ds.state_dict()["epoch"], ds.state_dict()["seed"]
        (2, 1)
        """
        return {**self.dpa_identity(), "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take the epoch of a saved :meth:`state_dict`, refusing one from another config, seed or stream version.

        The saved epoch applies unless :meth:`set_epoch` was called on this
        dataset (in any process) since it was made: a restarted loop's own
        ``set_epoch`` wins, also when torchdata's ``StatefulDataLoader`` loads
        the state after it (it does so when the next pass starts, in each
        worker), as when the saved epoch had ended and the loop set the next.

        Raises:
            TypeError: ``state`` is not a dict.
            ValueError: the state belongs to another config (fingerprint),
                seed or stream version (every difference is named), or its
                epoch is not in ``[0, 2**32)``.
        """
        check_state(state, self.dpa_identity(), what="this AugmentedDataset")
        self._epoch.restore(check_epoch(state.get("epoch"), "state['epoch']"))
        self._use_epoch(self._epoch.value)

    def sample_id(self, index: int) -> int:
        """The sample id of ``index``: the index itself, or the id of ``key(index)``."""
        return sample_id_from_key(self.key(index)) if self.key is not None else index

    def _index(self, index: Any) -> int:
        # An integer: int, numpy integer, 0-d integer tensor; a float or bool
        # tensor is refused, never truncated (dpa.validate.index).
        return validate.index(index, len(self.base))

    def _chunk(self, c: int) -> list[dict[str, Any]]:
        rows = self._cache.get(c)
        if rows is None:
            self._last_chunk = -1
            lo = c * self.chunk_size
            hi = min(lo + self.chunk_size, len(self.base))
            ids = [self.sample_id(i) for i in range(lo, hi)] if self.key is not None else range(lo, hi)
            rows = param_rows(self.plan.numpy(np.asarray(ids, dtype=np.uint64)))
            self._cache[c] = rows
            self._computed += hi - lo
            if len(self._cache) > self._max_chunks:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(c)
        return rows

    def params(self, index: Any) -> dict[str, Any]:
        """The params of ``index`` in the current epoch, or of an :class:`EpochSampler` key (plain Python values)."""
        if type(index) is tuple:
            epoch, index, _ = _split_key(index)
        else:
            epoch = self.epoch
        i = index if type(index) is int and 0 <= index < len(self.base) else self._index(index)
        return self._params(i, epoch)

    def _params(self, i: int, epoch: Any) -> dict[str, Any]:
        if epoch != self.plan.epoch or type(epoch) is not int:
            self._use_epoch(epoch)
        self._served += 1
        c = i // self.chunk_size
        rows = self._cache.get(c)
        if rows is None:
            if self._computed > 2 * self._served + 2 * self.chunk_size:
                # Chunks are being computed for a few items each (shuffled access
                # to more samples than the cache holds): one sample costs less
                # (about 1 us, where a cached row costs 1.7 us to make).
                return self.plan.scalar(self.sample_id(i))
            rows = self._chunk(c)
        elif c != self._last_chunk:
            self._cache.move_to_end(c)
        self._last_chunk = c
        return rows[i - c * self.chunk_size]

    def _item(self, i: int, params: dict[str, Any], sample_id: int | None = None, padding: bool = False) -> Any:
        item = self.base[i]
        if self.transform is None:
            return item, params
        if self._transform_takes_sample:
            sid = self.sample_id(i) if sample_id is None else sample_id
            return self.transform(item, params, SampleInfo(sid, self.plan.seed, self.plan.epoch, padding))
        return self.transform(item, params)

    def __getitem__(self, index: Any) -> Any:
        if type(index) is tuple:
            epoch, index, padding = _split_key(index)
            i = self._index(index)
            return self._item(i, self._params(i, epoch), padding=padding)
        i = self._index(index)
        return self._item(i, self._params(i, self.epoch))

    def __getitems__(self, indices: list[Any]) -> list[Any]:
        """A batch at once (DataLoader calls this when it exists): one generation call for all params.

        ``indices`` are integers, or :class:`EpochSampler` keys (a batch may
        hold keys of several epochs: each gets its own epoch's params).
        """
        if indices and type(indices[0]) is tuple:
            return self._keyed_items(indices)
        self._use_epoch(self.epoch)
        return self._batch([self._index(i) for i in indices], repeat(False))

    def _batch(self, idx: list[int], padding: Iterable[bool]) -> list[Any]:
        ids = np.array([self.sample_id(i) for i in idx], dtype=np.uint64) if self.key is not None else np.array(
            idx, dtype=np.uint64)
        params = param_rows(self.plan.numpy(ids))
        return [self._item(i, p, sid, pad) for i, p, sid, pad in zip(idx, params, ids.tolist(), padding)]

    def _keyed_items(self, keys: list[Any]) -> list[Any]:
        # The usual batch, from one EpochSampler pass: (epoch, index) pairs of one epoch, in range.
        # Checked with C-level map/set calls, no Python code per key: it runs for every item.
        try:
            lengths, epochs = set(map(len, keys)), set(map(itemgetter(0), keys))
        except TypeError:
            lengths, epochs = {0}, set()
        if lengths == {2} and len(epochs) == 1:
            idx = list(map(itemgetter(1), keys))
            n = len(self.base)
            if set(map(type, idx)) == {int} and min(idx) >= 0 and max(idx) < n:
                self._use_epoch(epochs.pop())
                return self._batch(idx, repeat(False))
        split = [_split_key(k) if type(k) is tuple else _plain_key(k) for k in keys]
        out: list[Any] = [None] * len(keys)
        for epoch in sorted({e for e, _, _ in split}, key=repr):
            where = [k for k, (e, _, _) in enumerate(split) if e == epoch]
            self._use_epoch(epoch)
            got = self._batch([self._index(split[k][1]) for k in where], [split[k][2] for k in where])
            for k, item in zip(where, got):
                out[k] = item
        return out


def _split_key(key: tuple) -> tuple[Any, Any, bool]:
    """``(epoch, index, padding)`` of an :class:`EpochSampler` key ``(epoch, index)`` or ``(epoch, index, padding)``."""
    if len(key) == 2:
        return key[0], key[1], False
    if len(key) == 3 and isinstance(key[2], bool):
        return key
    raise TypeError(
        f"a key must be an integer index or an EpochSampler key (epoch, index) or (epoch, index, padding); got {key!r}"
    )


def _plain_key(index: Any) -> tuple[Any, Any, bool]:
    raise TypeError(f"a batch mixes EpochSampler keys and plain indices ({index!r}): use one sampler")


class AugmentedIterableDataset(IterableDataset):
    """Streams ``(item, params)`` for ids ``0 .. num_samples - 1``, split across ranks and DataLoader workers.

    Every (rank, worker) pair takes its own strided share (``DistributedRangeSplitter``
    over ``world_size * num_workers`` parts), so together they cover every id
    exactly once, with the params of a single-process run.

    Args:
        num_samples: how many ids.
        config, seed, epoch: as for :func:`dpa.gen_augmentation_batch`.
        source: optional ``source(sample_id) -> item``; default the id itself.
        rank, world_size: default from ``torch.distributed`` or torchrun's environment.
        chunk_size: params generated per chunk.
        transform: optional ``transform(item, params)`` or ``transform(item, params, sample)``
            (see :class:`SampleInfo`).

    The epoch: :meth:`set_epoch` reaches every DataLoader worker, persistent
    ones included (it is kept in shared memory), and takes effect at the
    next pass: each pass reads the epoch once, when it starts, and all its
    workers use the same one, so a pass never mixes two epochs. Call it
    before ``iter(loader)``; a call made while a pass runs applies to the
    following pass (see :class:`dpa.epochs.SharedEpoch` for the exact
    rule). The epoch does not advance by itself.

    Resuming: :meth:`state_dict` records the pass's epoch and how many items
    this process (or this DataLoader worker: torchdata's ``StatefulDataLoader``
    keeps one state per worker) has yielded; :meth:`load_state_dict` makes
    the next pass continue from there. A state from another config, seed,
    length, stream version or split is refused.

    >>> import dpa
    >>> ds = AugmentedIterableDataset(5, dpa.get_preset("mild"), seed=3, epoch=1)
    >>> [sid for sid, params in ds]
    [0, 1, 2, 3, 4]
    >>> it = iter(ds); _ = next(it), next(it)
    >>> state = ds.state_dict(); state["position"], state["epoch"]
    (2, 1)
    >>> fresh = AugmentedIterableDataset(5, dpa.get_preset("mild"), seed=3)
    >>> fresh.load_state_dict(state); [sid for sid, params in fresh]
    [2, 3, 4]
    """

    def __init__(
        self,
        num_samples: int,
        config: AugmentationConfig,
        seed: int = 0,
        epoch: int = 0,
        source: Callable[[int], Any] | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        chunk_size: int = 1024,
        transform: Callable[..., Any] | None = None,
    ) -> None:
        plan = _plan(config, seed, epoch)  # validates config, seed and epoch
        self.config, self.seed = plan.config, seed
        self._epoch = SharedEpoch(epoch)
        self.num_samples = DistributedRangeSplitter(num_samples, 1).num_samples  # validates
        self.rank, self.world_size = resolve_rank(rank, world_size)
        self.chunk_size = validate.count(chunk_size, "chunk_size")
        self._transform_takes_sample = _check_transform(transform)
        self.source, self.transform = source, transform
        self._pass: list[int] | None = None  # [epoch, position, part, parts] of the pass in progress here
        self._resume: dict[str, Any] | None = None

    @property
    def epoch(self) -> int:
        """The epoch the next pass will use."""
        return self._epoch.value

    @property
    def plan(self) -> Any:
        return _plan(self.config, self.seed, self.epoch)

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` from the next pass on, in this process and in every DataLoader worker.

        Raises:
            TypeError, ValueError: ``epoch`` not an integer in ``[0, 2**32)``.
        """
        self._epoch.set(epoch)

    def shard(self) -> tuple[int, int]:
        """``(part, parts)`` of this process: rank and DataLoader worker combined."""
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        return self.rank * workers + worker, self.world_size * workers

    def __iter__(self) -> Iterator[Any]:
        # Not a generator function: the pass starts (its epoch is fixed, a
        # loaded state is taken) when iter() is called, which is when
        # DataLoader workers and torchdata expect it to.
        part, parts = self.shard()
        epoch, start = self._epoch.pass_epoch(), 0
        resume, self._resume = self._resume, None
        if resume is not None:
            if (resume["part"], resume["parts"]) != (part, parts):
                raise ValueError(
                    f"this state was saved by part {resume['part']} of {resume['parts']} (rank x DataLoader worker); "
                    f"it is being resumed by part {part} of {parts}: resume with the same number of ranks and workers"
                )
            epoch, start = resume["epoch"], resume["position"]
        self._pass = [epoch, start, part, parts]
        return self._items(self._pass)

    def _items(self, state: list[int]) -> Iterator[Any]:
        epoch, start, part, parts = state
        plan = _plan(self.config, self.seed, epoch)
        splitter = DistributedRangeSplitter(self.num_samples, parts)
        count = splitter.num_samples_for(part)
        for lo in range(start, count, self.chunk_size):
            ids = splitter.indices(part, lo, min(lo + self.chunk_size, count))
            chunk = ParamBatch(ids, plan.numpy(ids))
            for sid, params in zip(ids.tolist(), chunk.to_dicts()):
                item = self.source(sid) if self.source is not None else sid
                state[1] += 1
                if self.transform is None:
                    yield item, params
                elif self._transform_takes_sample:
                    yield self.transform(item, params, SampleInfo(sid, plan.seed, plan.epoch))
                else:
                    yield self.transform(item, params)

    # -- state -----------------------------------------------------------------
    def dpa_identity(self) -> dict[str, Any]:
        """What a saved state must match: config fingerprint, seed, stream version and length."""
        return {
            "kind": "AugmentedIterableDataset",
            "stream_version": STREAM_VERSION,
            "fingerprint": self.config.fingerprint(),
            "seed": self.seed,
            "num_samples": self.num_samples,
        }

    def state_dict(self) -> dict[str, Any]:
        """The pass in progress in this process: its epoch, items yielded, and which share (part of parts) it is.

        Before any pass: the next pass's epoch at position 0.
        """
        if self._resume is not None:
            r = self._resume
            epoch, position, part, parts = r["epoch"], r["position"], r["part"], r["parts"]
        elif self._pass is not None:
            epoch, position, part, parts = self._pass
        else:
            (part, parts), epoch, position = self.shard(), self.epoch, 0
        return {**self.dpa_identity(), "epoch": epoch, "position": position, "part": part, "parts": parts}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Make the next pass continue the saved one: its epoch, from the item after the last one yielded.

        The epoch also becomes the dataset's epoch (for later passes, and in
        every worker), unless :meth:`set_epoch` was called on this dataset
        since it was made: a restarted loop's own ``set_epoch`` for the pass
        after the saved one wins, also when torchdata loads the state after
        it (when the next pass starts, in each worker).

        Raises:
            TypeError: ``state`` is not a dict.
            ValueError: a state of another config, seed, length or stream
                version (each difference named), or with fields out of range.
        """
        check_state(state, self.dpa_identity(), what="this AugmentedIterableDataset")
        epoch = check_epoch(state.get("epoch"), "state['epoch']")
        parts = state.get("parts")
        if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
            raise ValueError(f"state['parts'] must be an integer >= 1; got {parts!r}")
        part = state.get("part")
        if isinstance(part, bool) or not isinstance(part, int) or not 0 <= part < parts:
            raise ValueError(f"state['part'] must be an integer in [0, {parts}); got {part!r}")
        count = DistributedRangeSplitter(self.num_samples, parts).num_samples_for(part)
        position = state.get("position")
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= count:
            raise ValueError(f"state['position'] must be an integer in [0, {count}]; got {position!r}")
        self._epoch.restore(epoch)
        self._resume = {"epoch": epoch, "position": position, "part": part, "parts": parts}
