"""Per-item cost of AugmentedDataset's params (target: under 5 us amortised), and through a DataLoader.

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


# -- through a DataLoader with 2 workers: EpochSampler keys against today's shuffled indices ----------
#
# Target: the EpochSampler path costs within 10% of today's per item. The loaders return len(batch),
# so what is measured is dpa's part and the DataLoader's own machinery (sampler, index queues, the
# workers' batched fetch), not collation. The two run in alternate rounds of one test (today's path
# in each round's untimed setup, timed by hand), so that the load of a shared machine, which drifts
# over seconds, falls on both alike. Wall and CPU time (main process and workers) per item, fastest
# round of each, go to extra_info; the timed stats are the EpochSampler path's:
#   OMP_NUM_THREADS=1 pytest benchmarks/test_bench_data.py -k loader --benchmark-enable --benchmark-only


def _cpu_seconds(proc) -> float:
    total = sum(proc.cpu_times()[:2])
    for child in proc.children(recursive=True):
        total += sum(child.cpu_times()[:2])
    return total


def test_loader_epoch_sampler_against_shuffled_indices_2_workers(benchmark) -> None:
    import time

    import psutil
    from torch.utils.data import DataLoader

    from dpa.data import EpochSampler

    n = 2_000 if benchmark.disabled else N
    ds = AugmentedDataset(range(n), CFG)
    common = {"batch_size": 256, "num_workers": 2, "persistent_workers": True, "collate_fn": len}
    today = DataLoader(ds, shuffle=True, **common)
    keyed = DataLoader(ds, sampler=EpochSampler(ds), **common)
    assert sum(today) == n and sum(keyed) == n  # starts the workers (not timed)
    me = psutil.Process()
    figures: dict[str, list[tuple[float, float]]] = {"today": [], "sampler": []}

    def epoch(loader, name: str) -> None:
        cpu, wall = _cpu_seconds(me), time.perf_counter()
        assert sum(loader) == n
        figures[name].append((time.perf_counter() - wall, _cpu_seconds(me) - cpu))

    benchmark.pedantic(lambda: epoch(keyed, "sampler"), setup=lambda: epoch(today, "today"), rounds=9, warmup_rounds=1)
    for name, runs in figures.items():
        benchmark.extra_info[f"{name}_wall_us_per_item"] = min(w for w, _ in runs) / n * 1e6
        benchmark.extra_info[f"{name}_cpu_us_per_item"] = min(c for _, c in runs) / n * 1e6
    info = benchmark.extra_info
    # psutil's CPU clock ticks in 10 ms: a short run (benchmarks disabled, 2,000 items) can read 0.
    for kind in ("wall", "cpu"):
        today_us = info[f"today_{kind}_us_per_item"]
        info[f"{kind}_ratio"] = info[f"sampler_{kind}_us_per_item"] / today_us if today_us > 0 else None
