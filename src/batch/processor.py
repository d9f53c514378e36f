"""BatchProcessor: re-batch a parameter stream with a pluggable strategy."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from dpa.batch.config import BatchConfig, BatchStrategy
from dpa.batch.strategies import BatchingStrategy, make_strategy
from dpa.stream import ParamBatch

__all__ = ["BatchProcessor", "BatchStats", "available_memory_mb"]


def available_memory_mb() -> float:
    """Memory the OS could give this process now (psutil's ``available``), in MiB."""
    import psutil

    return psutil.virtual_memory().available / (1024 * 1024)


@dataclass
class BatchStats:
    """What a processor did: batch count, samples, sizes chosen, and why (recent decisions)."""

    batches: int = 0
    samples: int = 0
    sizes: Counter = field(default_factory=Counter)
    decisions: list[tuple[int, str]] = field(default_factory=list)

    @property
    def min_size(self) -> int | None:
        return min(self.sizes) if self.sizes else None

    @property
    def max_size(self) -> int | None:
        return max(self.sizes) if self.sizes else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "samples": self.samples,
            "sizes": {str(k): v for k, v in sorted(self.sizes.items())},
            "decisions": [list(d) for d in self.decisions],
        }


class _Buffer:
    """Pending samples, as a list of chunks; ``take(n)`` returns the first n as one ParamBatch."""

    def __init__(self) -> None:
        self.chunks: list[ParamBatch] = []
        self.size = 0

    def push(self, chunk: ParamBatch) -> None:
        if len(chunk):
            self.chunks.append(chunk)
            self.size += len(chunk)

    def take(self, n: int) -> ParamBatch:
        parts, need = [], n
        while need:
            head = self.chunks[0]
            if len(head) <= need:
                parts.append(self.chunks.pop(0))
                need -= len(head)
            else:
                parts.append(_slice(head, slice(0, need)))
                self.chunks[0] = _slice(head, slice(need, None))
                need = 0
        self.size -= n
        return parts[0] if len(parts) == 1 else _concat(parts)


def _slice(b: ParamBatch, index: Any) -> ParamBatch:
    return ParamBatch(b.sample_ids[index], {k: v[index] for k, v in b.params.items()},
                      None if b.padding is None else b.padding[index])


def _concat(parts: list[ParamBatch]) -> ParamBatch:
    padding = None
    if any(p.padding is not None for p in parts):
        padding = np.concatenate([p.padding if p.padding is not None else np.zeros(len(p), bool) for p in parts])
    return ParamBatch(
        np.concatenate([p.sample_ids for p in parts]),
        {k: np.concatenate([p.params[k] for p in parts]) for k in parts[0].params},
        padding,
    )


def _rows_to_batch(ids: list[int], rows: list[Mapping[str, Any]]) -> ParamBatch:
    names = list(rows[0])
    params = {}
    for name in names:
        col = [r[name] for r in rows]
        first = col[0]
        dtype = np.bool_ if isinstance(first, (bool, np.bool_)) else np.int64 if isinstance(first, (int, np.integer)) else np.float64
        params[name] = np.array(col, dtype=dtype)
    return ParamBatch(np.array(ids, dtype=np.uint64), params)


class BatchProcessor:
    """Re-batches a parameter stream with a strategy.

    Name the strategy once: ``BatchProcessor(BatchConfig(strategy=..., batch_size=...))``,
    ``BatchProcessor(BatchStrategy.ROUND_ROBIN, BatchConfig(batch_size=...))``
    or ``BatchProcessor("adaptive")``. Both forms of the original documents
    work too (``BatchProcessor(s, BatchConfig(strategy=s, ...))``), as long as
    the two agree.

    Args:
        strategy: a :class:`BatchStrategy`, a name given to :func:`register_strategy`,
            or a :class:`BatchConfig` (then ``config`` is left out).
        config: a :class:`BatchConfig` (default: the defaults).
        memory_probe: returns available memory in MiB (default: psutil); tests
            inject pressure through it.
        clock: returns seconds (default ``time.perf_counter``); tests inject time.

    Raises:
        TypeError: ``config`` is not a BatchConfig, or a config given twice.
        ValueError: ``strategy`` and ``config.strategy`` name different
            strategies, or the strategy is not registered.

    >>> import dpa
    >>> from dpa.batch import BatchProcessor, BatchStrategy, BatchConfig
    >>> proc = BatchProcessor(BatchConfig(batch_size=300))
    >>> stream = dpa.stream_augmentation_chunks(1000, dpa.get_preset("mild"), chunk_size=128)
    >>> [len(b) for b in proc.process_stream(stream)]
    [300, 300, 300, 100]
    """

    def __init__(
        self,
        strategy: BatchStrategy | str | BatchConfig | None = None,
        config: BatchConfig | None = None,
        *,
        memory_probe: Callable[[], float] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if isinstance(strategy, BatchConfig):
            if config is not None:
                raise TypeError("BatchProcessor(config) takes one BatchConfig; got a second one as config")
            strategy, config = None, strategy
        if config is None:
            config = BatchConfig()
        elif not isinstance(config, BatchConfig):
            raise TypeError(f"config must be a BatchConfig; got {type(config).__name__}")
        if strategy is not None:
            chosen = BatchConfig(strategy=strategy).strategy_name
            if config.strategy is not None and config.strategy_name != chosen:
                raise ValueError(f"strategy {chosen!r} disagrees with config.strategy {config.strategy_name!r}; "
                                 f"name the strategy once")
            config = dataclasses.replace(config, strategy=strategy)
        self.config = config
        self.memory_probe = memory_probe or available_memory_mb
        self.clock = clock or time.perf_counter
        self.strategy: BatchingStrategy = make_strategy(config, self.memory_probe, self.clock)
        self.stats = BatchStats()

    def process_stream(self, stream: Iterable[Any], *, start_id: int = 0) -> Iterator[ParamBatch]:
        """Yield :class:`~dpa.ParamBatch` batches holding every sample of ``stream`` exactly once.

        ``stream`` yields ``ParamBatch`` chunks (``stream_augmentation_chunks``),
        per-sample dicts (``stream_augmentation_chain``; they carry no id, so
        they are numbered ``start_id, start_id + 1, ...`` in stream order), or
        ``(sample_id, dict)`` pairs. The time between yielding a batch and
        being asked for the next is the consumer's time, fed to the strategy.
        """
        buffer = _Buffer()
        pull = _Puller(iter(stream), buffer, start_id, self._note_bytes)
        strategy, stats = self.strategy, self.stats
        pull.fill(1)  # the first chunk tells the strategy how many bytes a sample takes
        while True:
            want = strategy.window()
            pull.fill(want)
            if buffer.size == 0:
                return
            window = buffer.take(min(want, buffer.size))
            for part in strategy.split(len(window)):
                batch = _slice(window, part)
                stats.batches += 1
                stats.samples += len(batch)
                stats.sizes[len(batch)] += 1
                t0 = self.clock()
                yield batch
                strategy.observe(len(batch), self.clock() - t0)
            stats.decisions = list(strategy.decisions)

    def _note_bytes(self, chunk: ParamBatch) -> None:
        if self.strategy.bytes_per_sample is None and len(chunk):
            per = chunk.sample_ids.itemsize + sum(np.asarray(v).itemsize for v in chunk.params.values())
            self.strategy.bytes_per_sample = per


class _Puller:
    """Moves stream items into the buffer until it holds enough samples or the stream ends."""

    def __init__(self, items: Iterator[Any], buffer: _Buffer, start_id: int, on_chunk: Callable[[ParamBatch], None]):
        self.items, self.buffer, self.next_id, self.on_chunk = items, buffer, start_id, on_chunk
        self.exhausted = False

    def fill(self, want: int) -> None:
        rows: list[Mapping[str, Any]] = []
        row_ids: list[int] = []
        while not self.exhausted and self.buffer.size + len(rows) < want:
            item = next(self.items, None)
            if item is None:
                self.exhausted = True
                break
            if isinstance(item, ParamBatch):
                self._flush(rows, row_ids)
                rows, row_ids = [], []
                self.buffer.push(item)
                self.on_chunk(item)
                continue
            if isinstance(item, tuple) and len(item) == 2:
                sid, item = item
            else:
                sid, self.next_id = self.next_id, self.next_id + 1
            if not isinstance(item, Mapping):
                raise TypeError(
                    f"stream items must be ParamBatch chunks, param dicts or (id, dict) pairs; got {type(item).__name__}"
                )
            rows.append(item)
            row_ids.append(int(sid))
        self._flush(rows, row_ids)

    def _flush(self, rows: list[Mapping[str, Any]], row_ids: list[int]) -> None:
        if rows:
            chunk = _rows_to_batch(row_ids, rows)
            self.buffer.push(chunk)
            self.on_chunk(chunk)
