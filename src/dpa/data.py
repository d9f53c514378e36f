"""PyTorch datasets that attach deterministic augmentation parameters to samples.

* :class:`AugmentedDataset` wraps a map-style dataset: ``ds[i]`` is
  ``(base[i], params)`` (or ``transform(base[i], params)``), the params those
  of sample id ``i`` (or of ``sample_id_from_key(key(i))``) in the current
  epoch. Results are the same for any number of DataLoader workers,
  persistent workers, batch size, shuffling and DistributedSampler ranks,
  because the params depend only on (seed, epoch, id).
* :class:`AugmentedIterableDataset` streams ids ``0 .. num_samples - 1``
  split across ranks and DataLoader workers without overlap or gaps.

This module imports torch; ``import dpa`` does not import it.
"""

from __future__ import annotations

import inspect
import sys
from collections import OrderedDict
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from dpa.config import AugmentationConfig
from dpa.distributed.env import resolve_rank
from dpa.distributed.splitter import DistributedRangeSplitter
from dpa.generate import _plan
from dpa.keys import check_epoch, sample_id_from_key
from dpa.stream import ParamBatch, param_rows

__all__ = ["AugmentedDataset", "AugmentedIterableDataset", "SampleInfo"]


class SampleInfo(NamedTuple):
    """Whose params these are: what a transform needs beyond the params to reproduce them.

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
            (sample id, seed, epoch: what :func:`dpa.apply.apply_params`
            needs for its noise field); its result replaces the
            ``(item, params)`` pair.
        key: optional ``key(i) -> str | bytes | PathLike``: the sample id is
            then :func:`dpa.sample_id_from_key` of it, so params follow a file
            and not its position in the list.
        epoch: the starting epoch (change it with :meth:`set_epoch`).
        chunk_size: params are generated this many indices at a time and cached.
        cache_mb: memory bound of the params cache, per process.

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
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be an integer >= 1; got {chunk_size!r}")
        if not cache_mb > 0:
            raise ValueError(f"cache_mb must be > 0; got {cache_mb!r}")
        self.base = base
        self.plan = _plan(config, seed, epoch)  # validates config, seed and epoch now
        self.config, self.seed = self.plan.config, seed
        # The epoch lives in shared memory: DataLoader workers (persistent ones
        # too) hold copies of this object, and must all see set_epoch().
        self._epoch = torch.tensor([check_epoch(epoch)], dtype=torch.int64).share_memory_()
        self.transform, self.key = transform, key
        self.chunk_size = chunk_size
        self._max_chunks = max(1, int(cache_mb * 2**20) // (_cached_row_bytes(self.plan) * chunk_size))
        self._cache: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self._served = 0
        self._computed = 0
        self._last_chunk = -1

    def __len__(self) -> int:
        return len(self.base)

    @property
    def epoch(self) -> int:
        # A numpy view of the shared tensor: reading it costs ~0.1 us where
        # indexing the tensor costs a few, on every item. Made per process.
        view = self.__dict__.get("_epoch_view")
        if view is None:
            view = self._epoch_view = self._epoch.numpy()
        return int(view[0])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_epoch_view", None)  # DataLoader workers re-make it over the shared memory
        return state

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s params from now on, in this process and in every DataLoader worker.

        Call it before each epoch, as with DistributedSampler; persistent
        workers see it too (the epoch is kept in shared memory).
        """
        self._epoch[0] = check_epoch(epoch)
        self._sync_epoch()

    def _sync_epoch(self) -> None:
        epoch = self.epoch
        if self.plan_epoch != epoch:
            self.plan = _plan(self.config, self.seed, epoch)
            self._cache.clear()

    @property
    def plan_epoch(self) -> int:
        return self.plan.epoch

    def sample_id(self, index: int) -> int:
        """The sample id of ``index``: the index itself, or the id of ``key(index)``."""
        return sample_id_from_key(self.key(index)) if self.key is not None else index

    def _index(self, index: Any) -> int:
        if isinstance(index, torch.Tensor):
            index = int(index)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an integer; got {type(index).__name__}")
        n = len(self.base)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} samples")
        return int(index) % n if n else int(index)

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

    def params(self, index: int) -> dict[str, Any]:
        """The params of ``index`` in the current epoch (plain Python values)."""
        if self.epoch != self.plan.epoch:
            self._sync_epoch()
        i = index if type(index) is int and 0 <= index < len(self.base) else self._index(index)
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

    def _item(self, i: int, params: dict[str, Any], sample_id: int | None = None) -> Any:
        item = self.base[i]
        if self.transform is None:
            return item, params
        if self._transform_takes_sample:
            sid = self.sample_id(i) if sample_id is None else sample_id
            return self.transform(item, params, SampleInfo(sid, self.plan.seed, self.plan.epoch))
        return self.transform(item, params)

    def __getitem__(self, index: Any) -> Any:
        i = self._index(index)
        return self._item(i, self.params(i))

    def __getitems__(self, indices: list[int]) -> list[Any]:
        """A batch at once (DataLoader calls this when it exists): one generation call for all params."""
        self._sync_epoch()
        idx = [self._index(i) for i in indices]
        ids = np.array([self.sample_id(i) for i in idx], dtype=np.uint64)
        params = param_rows(self.plan.numpy(ids))
        return [self._item(i, p, sid) for i, p, sid in zip(idx, params, ids.tolist())]


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
        self.plan = _plan(config, seed, epoch)
        self.config, self.seed, self.epoch = self.plan.config, seed, check_epoch(epoch)
        self.num_samples = DistributedRangeSplitter(num_samples, 1).num_samples  # validates
        self.rank, self.world_size = resolve_rank(rank, world_size)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be an integer >= 1; got {chunk_size!r}")
        self.chunk_size = chunk_size
        self._transform_takes_sample = _check_transform(transform)
        self.source, self.transform = source, transform

    def set_epoch(self, epoch: int) -> None:
        self.epoch = check_epoch(epoch)
        self.plan = _plan(self.config, self.seed, self.epoch)

    def shard(self) -> tuple[int, int]:
        """``(part, parts)`` of this process: rank and DataLoader worker combined."""
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        return self.rank * workers + worker, self.world_size * workers

    def __iter__(self) -> Iterator[Any]:
        part, parts = self.shard()
        splitter = DistributedRangeSplitter(self.num_samples, parts)
        count = splitter.num_samples_for(part)
        for lo in range(0, count, self.chunk_size):
            ids = splitter.indices(part, lo, min(lo + self.chunk_size, count))
            chunk = ParamBatch(ids, self.plan.numpy(ids))
            for sid, params in zip(ids.tolist(), chunk.to_dicts()):
                item = self.source(sid) if self.source is not None else sid
                if self.transform is None:
                    yield item, params
                elif self._transform_takes_sample:
                    yield self.transform(item, params, SampleInfo(sid, self.plan.seed, self.plan.epoch))
                else:
                    yield self.transform(item, params)
