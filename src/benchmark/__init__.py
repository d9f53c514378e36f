"""dpa.benchmark: throughput, memory and CPU measurement beside peer baselines.

>>> from dpa.benchmark import BenchmarkRunner, BenchmarkConfig, measure_time, measure_memory
>>> with measure_time() as t, measure_memory() as m:
...     data = bytearray(8 * 1024 * 1024)
>>> t.elapsed_seconds >= 0 and m.peak_mb >= m.start_mb
True

``dpa bench`` runs the standard set from the command line; the pytest-benchmark
suite in benchmarks/ covers the same cases for regression tracking.
"""

from dpa.benchmark.environment import describe_environment
from dpa.benchmark.metrics import BenchmarkMetrics, metrics_table
from dpa.benchmark.peers import Peer, available_peers, check_invariance
from dpa.benchmark.probes import MemoryResult, TimeResult, measure_memory, measure_time
from dpa.benchmark.runner import BenchmarkConfig, BenchmarkRunner

__all__ = [
    "BenchmarkConfig",
    "BenchmarkMetrics",
    "BenchmarkRunner",
    "MemoryResult",
    "Peer",
    "TimeResult",
    "available_peers",
    "check_invariance",
    "describe_environment",
    "measure_memory",
    "measure_time",
    "metrics_table",
]
