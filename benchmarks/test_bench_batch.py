"""Batching strategies over a chunk stream, beside raw chunk streaming in the same process.

Run:  pytest benchmarks/test_bench_batch.py --benchmark-enable --benchmark-only
The target: SEQUENTIAL adds at most 10% over ``test_raw_chunk_stream``.
"""

from __future__ import annotations

import pytest

import dpa
from dpa.batch import BatchConfig, BatchProcessor, BatchStrategy

N = 1 << 20
CFG = dpa.get_preset("moderate")


def _rate(benchmark) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.rounds:
        benchmark.extra_info["samples_per_s"] = N / stats.stats.min


def test_raw_chunk_stream(benchmark) -> None:
    assert benchmark(lambda: sum(len(c) for c in dpa.stream_augmentation_chunks(N, CFG, chunk_size=10_000))) == N
    _rate(benchmark)


@pytest.mark.parametrize("strategy", list(BatchStrategy))
def test_strategy(benchmark, strategy: BatchStrategy) -> None:
    config = BatchConfig(strategy=strategy, batch_size=10_000, max_batch_size=1 << 17, max_memory_mb=64)

    def run():
        proc = BatchProcessor(strategy, config)
        return sum(len(b) for b in proc.process_stream(dpa.stream_augmentation_chunks(N, CFG, chunk_size=10_000)))

    assert benchmark(run) == N
    _rate(benchmark)
