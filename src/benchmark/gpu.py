"""``dpa bench --backend torch --device cuda``'s GPU rows: the fused Triton kernel beside the torch kernels.

Both paths run in the same process, selected through their documented
environment switch (the fused kernel is the default; ``DPA_DISABLE_TRITON=1``,
read on every call, turns it off): per preset at the suite's sample count (issue 16 measures 16 M
ids), and for batches of 64, 256 and 4096 ids, whose per-call time (host to
result, the device synchronised) is the latency a training step sees.
"""

from __future__ import annotations

import importlib.util
import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from dpa.benchmark.metrics import BenchmarkMetrics
from dpa.benchmark.runner import BenchmarkRunner

__all__ = ["GPU_PATHS", "LATENCY_BATCHES", "gpu_cases"]

GPU_PATHS = {"torch kernels": {"DPA_DISABLE_TRITON": "1"}, "fused triton": {"DPA_DISABLE_TRITON": "0"}}
LATENCY_BATCHES = (64, 256, 4096)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def gpu_cases(
    case: Callable[[str, Callable[[], BenchmarkMetrics]], BenchmarkMetrics],
    runner: BenchmarkRunner,
    presets: list[str],
    samples: int,
    main: Any,
) -> dict[str, float]:
    """Run the GPU rows through ``case(name, fn)``; returns ``{"batch P fused triton / torch kernels": ratio}``.

    Args:
        case: the suite's case recorder (runs ``fn`` and names its metrics).
        runner: a runner whose config has ``backend="torch"`` and a CUDA device.
        presets: the presets to measure at ``samples`` ids.
        samples: ids per throughput run.
        main: the config of the latency rows.

    Without triton, only the torch-kernel rows run. A fused row records in
    its ``extra["fused_kernel_ran"]`` whether the kernel computed it (False
    after a failed first-run check: the torch kernels did, with a warning).
    """
    import dpa

    paths = GPU_PATHS if importlib.util.find_spec("triton") else {"torch kernels": GPU_PATHS["torch kernels"]}
    ratios = {}
    for p in presets:
        rates = {}
        for label, env in paths.items():
            with _environment(env):
                m = case(f"batch {p} {label}", lambda p=p: runner.benchmark_generation(samples, dpa.get_preset(p)))
            _note_kernel(m, label, dpa.get_preset(p), runner)
            rates[label] = m.throughput_samples_per_second
        if len(rates) == 2:
            ratios[f"batch {p} fused triton / torch kernels"] = rates["fused triton"] / rates["torch kernels"]
    for n in LATENCY_BATCHES:
        for label, env in paths.items():
            with _environment(env):
                m = case(f"batch of {n} {label}", lambda n=n: runner.benchmark_generation(n, main))
            m.extra["us_per_call"] = m.seconds_median * 1e6
            _note_kernel(m, label, main, runner)
    return ratios


def _note_kernel(m: BenchmarkMetrics, label: str, config: Any, runner: BenchmarkRunner) -> None:
    if label != "fused triton":
        return
    from dpa._gpu import runtime
    from dpa.generate import generator_for

    plan = generator_for(config, runner.config.seed).plan(epoch=0)
    m.extra["fused_kernel_ran"] = runtime.active(plan, runner.config.device)
