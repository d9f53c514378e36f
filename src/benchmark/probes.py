"""Time, memory and CPU probes: context managers that fill a result object on exit.

>>> from dpa.benchmark import measure_time
>>> with measure_time() as t:
...     _ = sum(range(1000))
>>> t.elapsed_seconds > 0
True
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import psutil

__all__ = ["TimeResult", "MemoryResult", "measure_time", "measure_memory", "rss_mb"]

_MB = 1024 * 1024


def rss_mb(process: psutil.Process | None = None) -> float:
    """Resident set size of ``process`` (default: this one) in MiB."""
    return (process or psutil.Process()).memory_info().rss / _MB


@dataclass
class TimeResult:
    """Filled when the ``measure_time`` block exits.

    Attributes:
        elapsed_seconds: wall-clock time (``time.perf_counter``).
        cpu_seconds: user + system CPU time of this process over the block.
        cpu_percent: ``100 * cpu_seconds / elapsed_seconds`` (100 = one core busy).
    """

    elapsed_seconds: float = 0.0
    cpu_seconds: float = 0.0
    cpu_percent: float = 0.0

    def __getitem__(self, key: str) -> float:  # the original documents index it like a dict
        return getattr(self, key)


@dataclass
class MemoryResult:
    """Filled when the ``measure_memory`` block exits (MiB of resident memory of this process).

    Attributes:
        start_mb, end_mb: RSS before and after the block.
        peak_mb: the highest RSS sampled during the block.
        delta_mb: ``end_mb - start_mb``.
        peak_delta_mb: ``peak_mb - start_mb``.
        samples: how many readings were taken.
    """

    start_mb: float = 0.0
    end_mb: float = 0.0
    peak_mb: float = 0.0
    delta_mb: float = 0.0
    peak_delta_mb: float = 0.0
    samples: int = 0

    def __getitem__(self, key: str) -> float:
        return getattr(self, key)


@contextmanager
def measure_time(clock: Callable[[], float] = time.perf_counter) -> Iterator[TimeResult]:
    """Measure wall-clock and CPU time of the block."""
    result = TimeResult()
    # process_time reads CLOCK_PROCESS_CPUTIME_ID (all threads, ns resolution);
    # psutil's cpu_times tick in 10 ms, too coarse for short blocks.
    cpu0 = time.process_time()
    t0 = clock()
    try:
        yield result
    finally:
        elapsed = clock() - t0
        cpu = time.process_time() - cpu0
        result.elapsed_seconds = elapsed
        result.cpu_seconds = cpu
        result.cpu_percent = 100.0 * cpu / elapsed if elapsed > 0 else 0.0


@contextmanager
def measure_memory(interval: float = 0.002) -> Iterator[MemoryResult]:
    """Measure this process's RSS over the block; a background thread samples the peak every ``interval`` s.

    Inside the block, ``start_mb``, ``peak_mb`` and ``samples`` are kept up
    to date by the sampler (so a caller can wait for a reading); the rest is
    filled on exit.
    """
    result = MemoryResult()
    proc = psutil.Process()
    start = rss_mb(proc)
    result.start_mb = result.peak_mb = start
    result.samples = 1
    peak = [start]
    count = [1]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            peak[0] = max(peak[0], rss_mb(proc))
            count[0] += 1
            result.peak_mb, result.samples = peak[0], count[0]

    thread = threading.Thread(target=sample, name="dpa-measure-memory", daemon=True)
    thread.start()
    try:
        yield result
    finally:
        end = rss_mb(proc)  # read before the sampler stops, so a block's last allocation counts
        stop.set()
        thread.join()
        result.start_mb = start
        result.end_mb = end
        result.peak_mb = max(peak[0], end)
        result.delta_mb = end - start
        result.peak_delta_mb = result.peak_mb - start
        result.samples = count[0] + 1
