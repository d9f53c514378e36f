"""The epoch as data: one value every DataLoader worker sees, fixed once per pass, and saved with the run.

Half of a dpa key is the epoch, and it must not get lost between the
process that decides it and the worker processes that use it. This module
holds the pieces dpa's datasets, samplers and integrations share:

* :class:`SharedEpoch` -- an epoch number in shared memory, so that
  ``set_epoch`` in the main process reaches DataLoader workers, persistent
  ones included; :meth:`SharedEpoch.pass_epoch` gives every worker of one
  pass the same epoch, so a pass never mixes two epochs.
* :class:`EpochAware` -- the protocol of dpa's epoch-carrying objects
  (what :class:`dpa.integrations.lightning.EpochCallback` looks for).
* :func:`find_epoch_aware` -- every such object reachable from a DataLoader.
* :func:`check_state` -- the refusal of a saved state that belongs to
  another config, seed or stream version.

This module imports torch; ``import dpa`` does not import it.
"""

from __future__ import annotations

import multiprocessing
import os
import weakref
from typing import Any, Iterator, Mapping, Protocol, runtime_checkable

import torch
from torch.utils.data import DistributedSampler, get_worker_info

from dpa.keys import check_epoch
from dpa.prng import MASK64, xxh64_pair_int

__all__ = ["SharedEpoch", "EpochAware", "find_epoch_aware", "check_state"]

# Slots of the shared tensor: the epoch asked for, the claim of the pass in
# progress (its token and the epoch it fixed), and whether set() was called.
_REQUESTED, _TOKEN, _CLAIMED, _SET = 0, 1, 2, 3
_NO_TOKEN = 0

_LIVE: "weakref.WeakSet[SharedEpoch]" = weakref.WeakSet()


def _refresh_before_fork() -> None:
    # A forked DataLoader worker copies every attribute as it is now: make
    # each snapshot the current shared value (a worker of another loader may
    # have changed it, e.g. when resuming from a state), and number the copy.
    for shared in list(_LIVE):
        shared._snapshot = shared.value
        shared._copies += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_refresh_before_fork)


class SharedEpoch:
    """An epoch number that every DataLoader worker process sees, fixed once per pass.

    ``set(e)`` in any process is seen by all processes holding a copy of
    this object (forked or spawned DataLoader workers, persistent ones too):
    the value lives in shared memory. :meth:`pass_epoch` is what an
    iterable dataset calls when a pass starts: every worker of the pass gets
    the same epoch, whenever ``set`` is called, so a pass never mixes two
    epochs.

    When a change takes effect, exactly: a pass of non-persistent workers
    (and the first pass of persistent ones) uses the epoch in effect when
    ``iter(loader)`` created its workers; a later pass of persistent
    workers uses the epoch in effect when its first worker starts it (just
    after ``iter(loader)``); in the main process (``num_workers=0``), the
    epoch in effect when the pass starts. Call ``set_epoch`` before
    ``iter(loader)`` (before the ``for`` loop): a call made during a pass
    applies to the next pass, never to part of one.

    Args:
        epoch: the starting value, in ``[0, 2**32)``.

    >>> e = SharedEpoch(3)
    >>> e.value, e.pass_epoch()
    (3, 3)
    >>> e.set(4); e.value
    4
    """

    def __init__(self, epoch: int = 0) -> None:
        epoch = check_epoch(epoch)
        self._shared = torch.zeros(4, dtype=torch.int64).share_memory_()
        self._shared[_REQUESTED] = epoch
        # A spawn-context lock works in forked and in spawned workers alike
        # (a fork-context one cannot be sent to a spawned process).
        self._lock = multiprocessing.get_context("spawn").Lock()
        self._snapshot = epoch
        self._pid = os.getpid()
        self._passes = 0
        # Copies made for worker processes, counted in the process that makes
        # them: a loader starts its workers one after another, in the order of
        # their ids, so ``copies - worker id`` is the same in all its workers
        # and differs from every other loader's (see pass_epoch).
        self._copies = 0
        _LIVE.add(self)

    @property
    def value(self) -> int:
        """The epoch in effect now (what the next pass will use)."""
        # A numpy view of the shared tensor: reading it costs ~0.1 us where
        # indexing the tensor costs a few, and datasets read it per item.
        view = self.__dict__.get("_view")
        if view is None:
            view = self._view = self._shared.numpy()
        return int(view[_REQUESTED])

    def set(self, epoch: int) -> None:
        """Make ``epoch`` the epoch in effect, in this process and every other holding a copy.

        Raises:
            TypeError, ValueError: ``epoch`` not an integer in ``[0, 2**32)``.
        """
        epoch = check_epoch(epoch)
        with self._lock:
            self._shared[_REQUESTED] = epoch
            self._shared[_SET] = 1
        self._snapshot = epoch

    def restore(self, epoch: int) -> None:
        """Make ``epoch``, from a saved state, the epoch in effect unless :meth:`set` was called since this was made.

        A restarted run builds a fresh object, then calls ``set`` for the
        epoch it resumes or starts; torchdata's ``StatefulDataLoader`` loads
        the saved state only when the next pass starts, after that call (in
        each worker process), and the run's own choice must win. Without such
        a call, the saved epoch applies.

        Raises:
            TypeError, ValueError: ``epoch`` not an integer in ``[0, 2**32)``.

        >>> e = SharedEpoch(); e.restore(5); e.value
        5
        >>> e.set(6); e.restore(5); e.value
        6
        """
        epoch = check_epoch(epoch)
        with self._lock:
            if int(self._shared[_SET]) == 0:
                self._shared[_REQUESTED] = epoch
        self._snapshot = self.value

    def pass_epoch(self) -> int:
        """The epoch of a pass that starts now in this process; the same for every worker of the pass.

        Counts the passes this process has started, so call it exactly once
        per pass (at the start of ``__iter__``).
        """
        pid = os.getpid()
        if pid != self._pid:  # a fresh copy in a new worker process
            self._pid, self._passes = pid, 0
        k = self._passes
        self._passes += 1
        info = get_worker_info()
        if info is None:
            return self.value
        if k == 0:
            # The workers of this pass were all created from the main
            # process's object inside iter(loader): their snapshots agree.
            return self._snapshot
        # A later pass of persistent workers: the first worker to start it
        # fixes its epoch, the others read it. A pass is named by its loader
        # and the pass number, hashed to a nonzero int63. The loader is named
        # by its base seed (shared by its workers) and by the number of its
        # workers' copies: a loader made again with the same seeded generator
        # has the same base seed, and would read its predecessor's claims.
        base = (info.seed - info.id) & MASK64
        loader = (self._copies - info.id) & MASK64
        token = (xxh64_pair_int(base, k, loader) >> 1) or 1
        with self._lock:
            if int(self._shared[_TOKEN]) == token:
                return int(self._shared[_CLAIMED])
            epoch = int(self._shared[_REQUESTED])
            self._shared[_CLAIMED] = epoch
            self._shared[_TOKEN] = token
            return epoch

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_view", None)
        state["_snapshot"] = self.value
        if multiprocessing.context.get_spawning_popen() is not None:  # a copy for a (spawned) worker
            self._copies += 1
            state["_copies"] = self._copies
        else:
            # Pickled for storage or a copy, not for a worker process: the
            # lock cannot travel, and the copy gets its own shared memory.
            state.pop("_lock")
            state["_shared"] = self._shared.clone()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "_lock" not in state:
            self._lock = multiprocessing.get_context("spawn").Lock()
            self._shared = self._shared.share_memory_()
        _LIVE.add(self)

    def __repr__(self) -> str:
        return f"SharedEpoch({self.value})"


@runtime_checkable
class EpochAware(Protocol):
    """What dpa's epoch-carrying objects share (datasets, :class:`~dpa.data.EpochSampler`, integration helpers).

    ``epoch`` is the object's current epoch, ``set_epoch`` changes it, and
    ``dpa_identity()`` names what a saved state must match to be resumed
    (kind, config fingerprint, seed, stream version, ...), as a dict of
    plain values that compare equal across processes.
    """

    @property
    def epoch(self) -> int: ...

    def set_epoch(self, epoch: int) -> None: ...

    def dpa_identity(self) -> dict[str, Any]: ...


def _children(obj: Any) -> Iterator[Any]:
    """Objects an epoch-aware object may hide behind: datasets, samplers and their wrappers."""
    for name in ("dataset", "sampler", "batch_sampler", "_sampler"):
        child = obj.__dict__.get(name) if hasattr(obj, "__dict__") else None
        if child is not None:
            yield child
    datasets = getattr(obj, "datasets", None)  # torch ConcatDataset
    if isinstance(datasets, (list, tuple)):
        yield from datasets
    fmt = getattr(obj, "format", None)  # a HuggingFace dataset's with_transform() transform
    if isinstance(fmt, Mapping) and isinstance(fmt.get("format_kwargs"), Mapping):
        transform = fmt["format_kwargs"].get("transform")
        if transform is not None:
            yield transform
    pipeline = obj.__dict__.get("pipeline") if hasattr(obj, "__dict__") else None  # a WebDataset's stages
    if isinstance(pipeline, list):
        yield from pipeline
    # A HuggingFace IterableDataset's chain of example iterables, and a map()'s function.
    for name in ("_ex_iterable", "ex_iterable", "function"):
        child = obj.__dict__.get(name) if hasattr(obj, "__dict__") else None
        if child is not None:
            yield child


def find_epoch_aware(root: Any, *, samplers: bool = False) -> list[Any]:
    """Every :class:`EpochAware` object reachable from ``root`` (a DataLoader, a dataset, a sampler).

    Walks a DataLoader's dataset, sampler and batch sampler, the datasets
    wrapped by ``Subset``/``ConcatDataset``, Lightning's sampler wrappers, a
    HuggingFace dataset's ``with_transform`` transform (or a streaming one's
    ``map`` function) and a WebDataset pipeline's stages. Each object is
    listed once (breadth first: nearer objects first).

    Args:
        root: where to start.
        samplers: also list ``torch.utils.data.DistributedSampler`` objects
            that are not dpa's (for example the one Lightning injects), which
            have an epoch of their own.

    >>> import dpa
    >>> from dpa.data import AugmentedDataset, EpochSampler
    >>> ds = AugmentedDataset(list(range(8)), dpa.get_preset("mild"))
    >>> loader = torch.utils.data.DataLoader(ds, sampler=EpochSampler(ds), batch_size=4)
    >>> [type(o).__name__ for o in find_epoch_aware(loader)]
    ['AugmentedDataset', 'EpochSampler']
    """
    found: dict[int, Any] = {}
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop(0)
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float)):
            continue
        seen.add(id(obj))
        if isinstance(obj, EpochAware) or (samplers and isinstance(obj, DistributedSampler)):
            found[id(obj)] = obj
        stack.extend(_children(obj))
    return list(found.values())


def check_state(state: Any, expected: Mapping[str, Any], *, what: str) -> None:
    """Raise ValueError unless ``state`` agrees with ``expected`` on every key of ``expected``.

    Args:
        state: a saved state (a dict).
        expected: the identity of the object loading it (``dpa_identity()``).
        what: how to name the object in the message.

    Raises:
        TypeError: ``state`` is not a dict.
        ValueError: naming every field that differs (a config fingerprint,
            a seed, a stream version...), or that is missing.

    >>> check_state({"kind": "x", "seed": 1}, {"kind": "x", "seed": 2}, what="this dataset")
    Traceback (most recent call last):
    ...
    ValueError: state does not match this dataset: seed 1 != 2
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"a state must be a dict (from state_dict()); got {type(state).__name__}")
    problems = []
    for key, want in expected.items():
        if key not in state:
            problems.append(f"{key} missing (expected {want!r})")
        elif state[key] != want:
            problems.append(f"{key} {state[key]!r} != {want!r}")
    if problems:
        raise ValueError(f"state does not match {what}: " + "; ".join(problems))

