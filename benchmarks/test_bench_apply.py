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


@pytest.mark.parametrize("executor", ["compiled", "numpy"])
def test_noise_field_per_image(benchmark, executor: str) -> None:
    """dpa.apply.noise_field of one 3x224x224 image (the Gaussian-noise step's cost), compiled vs numpy in one run.

    Compare the two rows' means: the compiled kernel's hash -> open unit -> ndtri
    loop against numpy's ufuncs, which spend ~90% of the time in ndtri.
    """
    if executor == "compiled" and dpa.prng.compiled_kernel() is None:
        pytest.skip("dpa._ckernel is not built here")
    from dpa.apply import noise_field

    ids = iter(range(10**9))
    out = benchmark(lambda: noise_field((1, 3, 224, 224), [next(ids)], seed=1, executor=executor))
    assert out.shape == (1, 3, 224, 224)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.rounds:
        benchmark.extra_info["ms_per_image"] = 1e3 * stats.stats.mean
