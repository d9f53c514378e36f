"""dpa.benchmark: throughput, memory and CPU measurement beside peer baselines.

Planned (issue 6): ``BenchmarkRunner``, ``BenchmarkConfig``, ``measure_time``, ``measure_memory``.
"""

__all__: list[str] = []
