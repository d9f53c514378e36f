"""apply_params on a batch of 256 3x224x224 float images on the CPU (one thread).

Run:  pytest benchmarks/test_bench_apply.py --benchmark-enable --benchmark-only
"""

from __future__ import annotations

import pytest

import dpa

torch = pytest.importorskip("torch")
from dpa.apply import apply_params  # noqa: E402

B = 256


@pytest.mark.parametrize("preset", ["mild", "moderate"])
def test_apply_params_batch_256(benchmark, preset: str) -> None:
    n = 8 if benchmark.disabled else B  # the default test run only smoke-tests it
    x = torch.rand(n, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    ids = list(range(n))
    params = dpa.gen_augmentation_batch(ids, dpa.get_preset(preset), backend="torch")
    out = benchmark(apply_params, x, params, ids)
    assert out.shape == x.shape
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.rounds:
        benchmark.extra_info["images_per_s"] = n / stats.stats.min
