"""dpa bench's GPU rows (dpa.benchmark.gpu): named, timed and paired per path, the environment restored.

The rows only mean something on CUDA; here they run on the CPU, where both
switches lead to the same kernels, to check the plumbing.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

import dpa
from dpa.benchmark import BenchmarkConfig, BenchmarkRunner
from dpa.benchmark.gpu import LATENCY_BATCHES, gpu_cases
from tests.conftest import requires_torch


@requires_torch
def test_gpu_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DPA_TRITON", raising=False)
    monkeypatch.setenv("DPA_DISABLE_TRITON", "0")
    runner = BenchmarkRunner(BenchmarkConfig(iterations=1, warmup=0, measure_memory=False, backend="torch", device="cpu"))
    results = []
    seen_env = []

    def case(name, fn):
        seen_env.append((os.environ.get("DPA_TRITON"), os.environ.get("DPA_DISABLE_TRITON")))
        m = fn()
        m.name = name
        results.append(m)
        return m

    ratios = gpu_cases(case, runner, ["mild"], 500, dpa.get_preset("moderate"))
    paths = ["torch kernels", "fused triton"] if importlib.util.find_spec("triton") else ["torch kernels"]
    expected = [f"batch mild {p}" for p in paths] + [f"batch of {n} {p}" for n in LATENCY_BATCHES for p in paths]
    assert [m.name for m in results] == expected
    assert all(m.extra["us_per_call"] > 0 for m in results if m.name.startswith("batch of"))
    assert [m.samples for m in results[len(paths):]] == [n for n in LATENCY_BATCHES for _ in paths]
    assert seen_env[0][1] == "1"  # the torch row disables the fused kernel
    if len(paths) == 2:
        assert seen_env[1] == (None, "0")  # the fused row leaves it on (the default)
        # On CPU tensors outside Triton's interpreter the kernel is not asked, and the row says so.
        assert [m.extra["fused_kernel_ran"] for m in results if m.name.endswith("fused triton")] == [False] * 4
        key = "batch mild fused triton / torch kernels"
        assert set(ratios) == {key} and ratios[key] > 0
    assert os.environ.get("DPA_TRITON") is None and os.environ["DPA_DISABLE_TRITON"] == "0"  # restored
