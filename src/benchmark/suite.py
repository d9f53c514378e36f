"""The standard benchmark set behind ``dpa bench``: dpa's paths beside peer baselines, with ratios."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

from dpa.benchmark.gpu import gpu_cases
from dpa.benchmark.metrics import BenchmarkMetrics
from dpa.benchmark.peers import available_peers
from dpa.benchmark.runner import BenchmarkConfig, BenchmarkRunner

__all__ = ["SuiteResult", "run_suite"]

# Peers that cost per sample run on fewer samples so the suite stays short.
_PER_SAMPLE_DIVISOR = {"numpy_default_rng": 200, "torch_generator": 50}


@dataclass
class SuiteResult:
    """All cases of one suite run, and dpa's ratio to each peer (same process, same run)."""

    results: list[BenchmarkMetrics]
    ratios: dict[str, float] = field(default_factory=dict)

    def by_name(self, name: str) -> BenchmarkMetrics:
        return next(r for r in self.results if r.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results], "ratios": self.ratios}


def run_suite(
    presets: list[str],
    samples: int = 1_000_000,
    config: BenchmarkConfig | None = None,
    processes: int | None = None,
    chunk_sizes: tuple[int, ...] = (1_000, 10_000, 100_000),
    on_case: Callable[[str], None] | None = None,
) -> SuiteResult:
    """Run the standard set; ``on_case(name)`` is called before each case (for a progress bar).

    The scalar, stream, batching and distributed cases use ``moderate`` when
    it is among ``presets``, else the first preset, and are named after it
    (``"scalar mild"``), as are the ratios computed from them.
    """
    import dpa

    config = config or BenchmarkConfig(iterations=5, warmup=1)
    runner = BenchmarkRunner(config)
    if processes is None:
        processes = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    main_name = "moderate" if "moderate" in presets else presets[0]
    main = dpa.get_preset(main_name)
    k = len(main.outputs)
    results: list[BenchmarkMetrics] = []

    def case(name: str, fn: Callable[[], BenchmarkMetrics]) -> BenchmarkMetrics:
        if on_case:
            on_case(name)
        m = fn()
        m.name = name
        results.append(m)
        return m

    case("kernel xxh64_pair (digests/s)", lambda: runner.benchmark_kernel(max(samples, 1 << 20)))
    for p in presets:
        case(f"batch {p}", lambda p=p: runner.benchmark_generation(samples, dpa.get_preset(p)))
    gpu_ratios = gpu_cases(case, runner, presets, samples, main) if str(config.device).startswith("cuda") else {}
    scalar = case(f"scalar {main_name}", lambda: runner.benchmark_scalar(max(samples // 50, 100), main))
    if config.backend == "numpy":
        for cs in chunk_sizes:
            sub = BenchmarkRunner(BenchmarkConfig(**{**config.__dict__, "chunk_size": cs}))
            case(f"stream chunks of {cs}", lambda sub=sub: sub.benchmark_stream(samples, main))
        case("stream per-sample", lambda: runner.benchmark_stream(max(samples // 10, 100), main, per_sample=True))
        from dpa.batch import BatchStrategy

        for strategy in BatchStrategy:
            case(f"batching {strategy.value}", lambda s=strategy: runner.benchmark_batching(samples, main, s))
        for w in range(1, processes + 1):
            case(
                f"distributed {w} process{'es' if w > 1 else ''}",
                lambda w=w: runner.benchmark_distributed(samples * 4, main, w),
            )
    for name in available_peers():
        n = max(samples // _PER_SAMPLE_DIVISOR.get(name, 1), 100)
        case(f"peer {name}", lambda name=name, n=n: runner.benchmark_peer(name, n, k))
    batch = next(r for r in results if r.name == f"batch {main_name}")
    ratios = {}
    for r in results:
        if r.name.startswith("peer "):
            peer = r.name[5:]
            mine = scalar if peer in _PER_SAMPLE_DIVISOR else batch
            ratios[f"{mine.name} / {peer}"] = mine.throughput_samples_per_second / r.throughput_samples_per_second
    return SuiteResult(results, {**ratios, **gpu_ratios})
