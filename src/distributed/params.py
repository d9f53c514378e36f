"""Per-rank parameters: one sample by rank-local index, or a rank's whole share as a stream.

A rank's params are those of the global samples it is assigned, so they do
not depend on the number of ranks: the union over ranks is exactly a
single-process run.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, Callable, Iterator, TypeVar

from dpa import validate
from dpa.chunk import ParamBatch, check_stream_args
from dpa.distributed.checkpoint import ElasticCheckpoint
from dpa.distributed.env import resolve_rank
from dpa.distributed.splitter import DistributedRangeSplitter
from dpa.generate import gen_augmentation_params, generator_for
from dpa.keys import check_sample_id

__all__ = [
    "gen_distributed_augmentation_params",
    "stream_distributed_augmentation_chunks",
    "stream_distributed_augmentation_chain",
]


_F = TypeVar("_F", bound=Callable[..., Any])


def _positional_options(*names: str) -> Callable[[_F], _F]:
    """Accept the options ``names`` after ``config`` positionally too, as dpa 1.0 did (with a DeprecationWarning).

    The functions take four positional parameters and keyword-only options,
    so a call reads ``f(n, config=cfg, seed=s)`` rather than
    ``f(n, None, None, cfg, s)``; calls written for the old all-positional
    signature keep working.
    """

    def wrap(fn: _F) -> _F:
        @functools.wraps(fn)
        def call(*args: Any, **kw: Any) -> Any:
            args, options = args[:4], args[4:]
            if options:
                if len(options) > len(names):
                    raise TypeError(f"{fn.__name__}() takes at most {4 + len(names)} positional arguments "
                                    f"({4 + len(options)} given)")
                for name, value in zip(names, options):
                    if name in kw:
                        raise TypeError(f"{fn.__name__}() got multiple values for argument {name!r}")
                    kw[name] = value
                warnings.warn(
                    f"{fn.__name__}(): pass {', '.join(names[: len(options)])} by keyword "
                    f"(positional options after config are deprecated)",
                    DeprecationWarning,
                    stacklevel=2,
                )
            return fn(*args, **kw)

        return call  # type: ignore[return-value]

    return wrap


def _need_config(config: Any, function: str) -> Any:
    if config is None:
        raise TypeError(f"{function}() needs config= (an AugmentationConfig or a dict of specs)")
    return config


@_positional_options("seed", "epoch", "mode", "num_samples")
def gen_distributed_augmentation_params(
    sample_id: int,
    rank: int | None = None,
    world_size: int | None = None,
    config: Any = None,
    *,
    seed: int = 0,
    epoch: int = 0,
    mode: str = "strided",
    num_samples: int | None = None,
) -> dict[str, Any]:
    """The params of ``rank``'s ``sample_id``-th sample (a rank-local index).

    In the default strided mode the global id is ``sample_id * world_size +
    rank`` (DistributedSampler's order), which needs no dataset length; the
    contiguous mode needs ``num_samples``. ``rank``/``world_size`` may be
    left out to discover them (:func:`dpa.distributed.get_rank_world_size`):
    ``gen_distributed_augmentation_params(5, config=cfg)`` inside torchrun.

    Raises:
        TypeError: no ``config``.
        ValueError: rank outside ``[0, world_size)``, ``world_size < 1``, a
            global id >= 2**64, contiguous mode without ``num_samples``, or a
            local index beyond the rank's share.

    >>> import dpa
    >>> cfg = dpa.get_preset("mild")
    >>> gen_distributed_augmentation_params(5, 2, 4, cfg) == dpa.gen_augmentation_params(22, cfg)
    True
    """
    config = _need_config(config, "gen_distributed_augmentation_params")
    rank, world_size = resolve_rank(rank, world_size)
    if mode == "strided" and num_samples is None:
        local = check_sample_id(sample_id, "sample_id")
        global_id = local * world_size + rank
        if global_id >= 1 << 64:
            raise ValueError(
                f"sample_id {local} of rank {rank} maps to global id {global_id}, beyond the last id 2**64 - 1"
            )
        return gen_augmentation_params(global_id, config, seed=seed, epoch=epoch)
    if num_samples is None:
        raise ValueError(f"mode={mode!r} needs num_samples (the dataset length) to place rank blocks")
    splitter = DistributedRangeSplitter(num_samples, world_size, mode=mode)
    return gen_augmentation_params(splitter.local_to_global(sample_id, rank), config, seed=seed, epoch=epoch)


def _rank_ids(splitter: DistributedRangeSplitter, rank: int, start: int, chunk_size: int) -> Iterator[Any]:
    count = splitter.num_samples_for(rank)
    for lo in range(start, count, chunk_size):
        hi = min(lo + chunk_size, count)
        yield splitter.indices(rank, lo, hi), splitter.is_padding(rank, lo, hi) if splitter.pad else None


@_positional_options("seed", "epoch", "chunk_size", "start", "mode", "drop_last", "pad", "checkpoint")
def stream_distributed_augmentation_chunks(
    num_samples: int,
    rank: int | None = None,
    world_size: int | None = None,
    config: Any = None,
    *,
    seed: int = 0,
    epoch: int = 0,
    chunk_size: int = 10_000,
    start: int = 0,
    mode: str = "strided",
    drop_last: bool = False,
    pad: bool = False,
    checkpoint: ElasticCheckpoint | None = None,
) -> Iterator[ParamBatch]:
    """Stream ``rank``'s share of ids ``0 .. num_samples - 1`` as :class:`~dpa.ParamBatch` chunks.

    Call it as ``stream_distributed_augmentation_chunks(len(dataset), config=cfg, seed=s, epoch=e)``
    inside torchrun (rank and world size are discovered), or with
    ``rank, world_size`` given: ``(n, rank, world_size, cfg, seed=s)``.
    Everything after ``config`` is keyword-only (calls that pass it
    positionally, as dpa 1.0's signature allowed, still work, with a
    DeprecationWarning).

    The order is :meth:`DistributedRangeSplitter.indices` order; with
    ``pad=True`` each chunk's ``padding`` marks duplicates. ``start`` skips
    that many of the rank's own samples (O(1)). ``checkpoint`` resumes an
    interrupted epoch with any world size: the ids it records as consumed
    are left out and the rest split among the current ranks (it must match
    ``config``, ``seed`` and ``epoch``).

    Raises:
        TypeError, ValueError: bad rank, world size, num_samples (which must
        be finite here), chunk_size or start, no config, or a checkpoint from
        another config.
    """
    config = _need_config(config, "stream_distributed_augmentation_chunks")
    if isinstance(num_samples, float) and math.isinf(num_samples):
        raise ValueError("num_samples must be finite to split it across ranks; got inf")
    rank, world_size = resolve_rank(rank, world_size)
    check_stream_args(num_samples, chunk_size, 0)
    gen = generator_for(config, seed)
    gen.sampler(epoch=epoch)  # checks the epoch now, not at the first chunk
    first = 0
    if checkpoint is not None:
        first = checkpoint.check(gen.config, seed=gen.seed, epoch=epoch, num_samples=num_samples, mode=mode)
    splitter = DistributedRangeSplitter(num_samples, world_size, mode=mode, drop_last=drop_last, pad=pad, start=first)
    count = splitter.num_samples_for(rank)
    start = validate.integer(start, "start", 0, count, text=f"in [0, {count}] (rank {rank}'s share)")
    return gen.chunks_of(_rank_ids(splitter, rank, start, chunk_size), epoch=epoch)


@_positional_options("seed", "epoch", "chunk_size", "start", "mode", "drop_last", "pad", "checkpoint")
def stream_distributed_augmentation_chain(
    num_samples: int,
    rank: int | None = None,
    world_size: int | None = None,
    config: Any = None,
    *,
    seed: int = 0,
    epoch: int = 0,
    chunk_size: int = 10_000,
    start: int = 0,
    mode: str = "strided",
    drop_last: bool = False,
    pad: bool = False,
    checkpoint: ElasticCheckpoint | None = None,
) -> Iterator[dict[str, Any]]:
    """Per-sample param dicts of ``rank``'s share; the arguments of :func:`stream_distributed_augmentation_chunks`.

    >>> import dpa
    >>> cfg = dpa.get_preset("mild")
    >>> rows = list(stream_distributed_augmentation_chain(10, 1, 3, cfg))
    >>> len(rows), rows[1] == dpa.gen_augmentation_params(4, cfg)
    (3, True)
    """
    chunks = stream_distributed_augmentation_chunks(
        num_samples, rank, world_size, config, seed=seed, epoch=epoch, chunk_size=chunk_size, start=start, mode=mode,
        drop_last=drop_last, pad=pad, checkpoint=checkpoint,
    )
    return (row for chunk in chunks for row in chunk.to_dicts())
