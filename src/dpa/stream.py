"""Streaming: parameters of a range of sample ids, chunk by chunk, in constant memory.

A stream covers the ids ``start .. num_samples - 1`` in order (``num_samples``
may be ``float('inf')``: then the stream runs to the last id, ``2**64 - 1``).
It holds no state beyond its position: resuming at any ``start`` is O(1) and
gives exactly the values an unbroken stream would have given, because every
value is a pure function of its id. Chunks equal ``gen_augmentation_batch``
of their ids, whatever the chunk size. These functions are the seed
document's; :meth:`dpa.Generator.chunks` and :meth:`dpa.Generator.stream`
are the same streams on a generator you keep.
"""

from __future__ import annotations

from typing import Any, Iterator

from dpa.chunk import ParamBatch, check_stream_args, param_rows
from dpa.generate import generator_for

__all__ = ["ParamBatch", "param_rows", "stream_augmentation_chunks", "stream_augmentation_chain", "check_stream_args"]


def stream_augmentation_chunks(
    num_samples: int | float,
    config: Any,
    seed: int = 0,
    epoch: int = 0,
    chunk_size: int = 10_000,
    start: int = 0,
) -> Iterator[ParamBatch]:
    """Stream the parameters of ids ``start .. num_samples - 1`` as :class:`ParamBatch` chunks.

    Args:
        num_samples: one past the last id; an int in ``[0, 2**64]`` or ``float('inf')``.
        config: an :class:`~dpa.AugmentationConfig`.
        seed, epoch: as for :func:`dpa.gen_augmentation_batch`.
        chunk_size: samples per chunk (memory is about 8 bytes x outputs x chunk_size).
        start: the first id, to resume a stream anywhere in O(1).

    Returns:
        An iterator of chunks; chunk ``k`` covers ids
        ``start + k * chunk_size ..`` and equals ``gen_augmentation_batch`` of them.

    Raises:
        TypeError, ValueError: as :func:`check_stream_args`, or a bad seed,
        epoch or config. All checks happen here, before the first chunk.

    >>> import dpa
    >>> chunks = list(dpa.stream_augmentation_chunks(10, dpa.get_preset("mild"), chunk_size=4, start=3))
    >>> [len(c) for c in chunks], int(chunks[0].sample_ids[0])
    ([4, 3], 3)
    """
    check_stream_args(num_samples, chunk_size, start)  # in the seed document's order: these before the config
    return generator_for(config, seed).chunks(num_samples, epoch=epoch, chunk_size=chunk_size, start=start)


def stream_augmentation_chain(
    num_samples: int | float,
    config: Any,
    seed: int = 0,
    epoch: int = 0,
    chunk_size: int = 10_000,
    start: int = 0,
) -> Iterator[dict[str, Any]]:
    """Stream per-sample parameter dicts for ids ``start .. num_samples - 1``, generated chunk-wise.

    Same arguments as :func:`stream_augmentation_chunks`; each item equals
    ``gen_augmentation_params(id, config, seed, epoch)``. Memory is constant
    whatever ``num_samples`` is.

    >>> import dpa
    >>> s = dpa.stream_augmentation_chain(float("inf"), dpa.get_preset("mild"), seed=1)
    >>> next(s) == dpa.gen_augmentation_params(0, dpa.get_preset("mild"), seed=1)
    True
    """
    chunks = stream_augmentation_chunks(num_samples, config, seed, epoch, chunk_size, start)
    return (row for chunk in chunks for row in chunk.to_dicts())
