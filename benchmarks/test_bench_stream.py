"""Streaming and rank splitting throughput, beside the batch API in the same process.

Run:  pytest benchmarks/test_bench_stream.py --benchmark-enable --benchmark-only
Compare ``samples_per_s`` of the stream cases with ``test_batch_reference``.
"""

from __future__ import annotations

import numpy as np
import pytest

import dpa
from dpa.distributed import DistributedRangeSplitter, stream_distributed_augmentation_chunks

N = 1 << 20
CFG = dpa.get_preset("moderate")


def _rate(benchmark, n: int) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.rounds:
        benchmark.extra_info["samples_per_s"] = n / stats.stats.min


def test_batch_reference(benchmark) -> None:
    ids = np.arange(N, dtype=np.uint64)
    benchmark(dpa.gen_augmentation_batch, ids, CFG)
    _rate(benchmark, N)


@pytest.mark.parametrize("chunk_size", [10_000, 100_000])
def test_chunk_stream(benchmark, chunk_size: int) -> None:
    def run():
        return sum(len(c) for c in dpa.stream_augmentation_chunks(N, CFG, chunk_size=chunk_size))

    assert benchmark(run) == N
    _rate(benchmark, N)


def test_per_sample_stream(benchmark) -> None:
    n = N // 16

    def run():
        count = 0
        for _ in dpa.stream_augmentation_chain(n, CFG):
            count += 1
        return count

    assert benchmark(run) == n
    _rate(benchmark, n)


def test_rank_stream_world_8(benchmark) -> None:
    """Rank 3 of 8 streaming its share of 8 * N ids (N samples), to compare with test_chunk_stream."""

    def run():
        return sum(len(c) for c in stream_distributed_augmentation_chunks(8 * N, 3, 8, CFG, chunk_size=10_000))

    assert benchmark(run) == N
    _rate(benchmark, N)


def test_rank_splitting_alone(benchmark) -> None:
    """Only the id mapping of a rank's share (no generation): the splitting overhead."""
    s = DistributedRangeSplitter(8 * N, 8)

    def run():
        return sum(len(s.indices(3, lo, min(lo + 10_000, N))) for lo in range(0, N, 10_000))

    assert benchmark(run) == N
    _rate(benchmark, N)
