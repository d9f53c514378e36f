"""Per-item cost of AugmentedDataset's params (target: under 5 us amortised).

Run:  pytest benchmarks/test_bench_data.py --benchmark-enable --benchmark-only
"""

from __future__ import annotations

import numpy as np
import pytest

import dpa

pytest.importorskip("torch")
from dpa.data import AugmentedDataset  # noqa: E402

N = 100_000
CFG = dpa.get_preset("moderate")


def _per_item(benchmark, n: int) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.rounds:
        benchmark.extra_info["us_per_item"] = stats.stats.min / n * 1e6


def test_params_sequential(benchmark) -> None:
    """One epoch of in-order __getitem__ params (chunks cached)."""

    def run():
        ds = AugmentedDataset(range(N), CFG)
        for i in range(N):
            ds.params(i)

    benchmark(run)
    _per_item(benchmark, N)


def test_params_shuffled(benchmark) -> None:
    """One epoch in a random order (the dataset fits the cache)."""
    order = np.random.default_rng(0).permutation(N).tolist()

    def run():
        ds = AugmentedDataset(range(N), CFG)
        for i in order:
            ds.params(i)

    benchmark(run)
    _per_item(benchmark, N)


def test_getitems_batches_of_256(benchmark) -> None:
    """DataLoader's batched fetch: params for 256 random indices per call."""
    order = np.random.default_rng(0).permutation(N).tolist()
    ds = AugmentedDataset(range(N), CFG)

    def run():
        for lo in range(0, N, 256):
            ds.__getitems__(order[lo : lo + 256])

    benchmark(run)
    _per_item(benchmark, N)
