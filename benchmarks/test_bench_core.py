"""Core throughput: the kernel, batch generation and the scalar path, beside peer baselines.

Run:  pytest benchmarks/test_bench_core.py --benchmark-enable --benchmark-only
Each benchmark's ``extra_info`` carries its rate (digests/s or samples/s);
peers run in the same process so ratios hold on a noisy machine. In the
default test run (--benchmark-disable) each case runs once, as a smoke test.
"""

from __future__ import annotations

import numpy as np
import pytest

import dpa
from dpa.prng import xxh64_pair

N_KERNEL = 1 << 22
N_BATCH = 1 << 20
N_SCALAR = 20_000


def _rate(benchmark, n: int, unit: str) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.rounds:
        benchmark.extra_info[f"{unit}_per_s"] = n / stats.stats.min


@pytest.fixture(scope="module")
def kernel_inputs():
    rng = np.random.default_rng(0)
    return rng.integers(0, 2**64, size=(2, N_KERNEL), dtype=np.uint64, endpoint=False)


def test_kernel_xxh64_pair(benchmark, kernel_inputs) -> None:
    a, b = kernel_inputs
    out = benchmark(xxh64_pair, a, b, 12345)
    assert out.shape == (N_KERNEL,)
    _rate(benchmark, N_KERNEL, "digests")


def test_kernel_xxh64_pair_into_out(benchmark, kernel_inputs) -> None:
    """The same, writing into a preallocated array (out=), as a loop over chunks would."""
    a, b = kernel_inputs
    out = np.empty(N_KERNEL, dtype=np.uint64)
    benchmark(xxh64_pair, a, b, 12345, out=out)
    np.testing.assert_array_equal(out[:1000], xxh64_pair(a[:1000], b[:1000], 12345))
    _rate(benchmark, N_KERNEL, "digests")


def test_kernel_naive_expression(benchmark, kernel_inputs) -> None:
    """The same hash as one numpy expression with temporaries (the slow way), for comparison."""
    from dpa import prng

    P1, P2, P3, P4 = (np.uint64(x) for x in (prng.PRIME64_1, prng.PRIME64_2, prng.PRIME64_3, prng.PRIME64_4))

    def rotl(x, r):
        return (x << np.uint64(r)) | (x >> np.uint64(64 - r))

    def naive(a, b, seed):
        h = np.uint64((seed + prng.PRIME64_5 + 16) % 2**64) ^ (rotl(a * P2, 31) * P1)
        h = rotl(h, 27) * P1 + P4
        h = h ^ (rotl(b * P2, 31) * P1)
        h = rotl(h, 27) * P1 + P4
        h = h ^ (h >> np.uint64(33))
        h = h * P2
        h = h ^ (h >> np.uint64(29))
        h = h * P3
        return h ^ (h >> np.uint64(32))

    a, b = kernel_inputs
    out = benchmark(naive, a, b, 12345)
    np.testing.assert_array_equal(out[:1000], xxh64_pair(a[:1000], b[:1000], 12345))
    _rate(benchmark, N_KERNEL, "digests")


@pytest.mark.parametrize("preset", dpa.preset_names())
def test_batch_numpy(benchmark, preset: str) -> None:
    cfg = dpa.get_preset(preset)
    ids = np.arange(N_BATCH, dtype=np.uint64)
    out = benchmark(dpa.gen_augmentation_batch, ids, cfg, 7, 1)
    assert len(out["rotation"]) == N_BATCH
    benchmark.extra_info["values_per_sample"] = len(cfg.outputs)
    _rate(benchmark, N_BATCH, "samples")


def test_batch_numpy_kernel_fallback(benchmark) -> None:
    """`moderate` on the numpy kernels, as where dpa was installed without a C compiler (same bits)."""
    gen = dpa.Generator(dpa.get_preset("moderate"), seed=7, compiled=False)
    ids = np.arange(N_BATCH, dtype=np.uint64)
    out = benchmark(gen.batch, ids, epoch=1)
    assert len(out["rotation"]) == N_BATCH
    _rate(benchmark, N_BATCH, "samples")


def test_kernel_xxh64_pair_numpy_fallback(benchmark, kernel_inputs) -> None:
    """xxh64_pair on the numpy kernels (in place, cache-sized blocks), for comparison with the compiled one."""
    from dpa import prng

    a, b = kernel_inputs
    out = np.empty(N_KERNEL, dtype=np.uint64)
    benchmark(prng._xxh64_pair_numpy, a, b, 12345, out, False)
    np.testing.assert_array_equal(out[:1000], xxh64_pair(a[:1000], b[:1000], 12345))
    _rate(benchmark, N_KERNEL, "digests")


def test_peer_numpy_philox_fill_float32(benchmark) -> None:
    """numpy's C generator filling as many float32 values as `moderate` has outputs (the CPU ceiling)."""
    k = len(dpa.get_preset("moderate").outputs)
    gen = np.random.Generator(np.random.Philox(7))
    out = np.empty(N_BATCH * k, dtype=np.float32)
    benchmark(gen.random, dtype=np.float32, out=out)
    benchmark.extra_info["values_per_sample"] = k
    _rate(benchmark, N_BATCH, "samples")


def test_peer_kornia_forward_parameters(benchmark) -> None:
    """kornia's batched parameter generators for RandomAffine + ColorJitter + RandomHorizontalFlip
    (what `moderate` covers and more), one call each for N_BATCH samples. Not per-sample
    deterministic: the values depend on the batch and the global torch RNG. Optional peer."""
    pytest.importorskip("kornia")
    import kornia.augmentation as K
    import torch

    augs = [
        K.RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5, p=1.0),
        K.ColorJitter(0.2, 0.2, 0.2, 0.05, p=1.0),
        K.RandomHorizontalFlip(p=0.5),
    ]
    shape = torch.Size([N_BATCH, 3, 32, 32])

    def run():
        return [aug.forward_parameters(shape) for aug in augs]

    out = benchmark(run)
    assert out[0]["angle"].shape == (N_BATCH,)
    _rate(benchmark, N_BATCH, "samples")


@pytest.mark.parametrize("preset", ["moderate"])
def test_batch_torch_cpu(benchmark, preset: str) -> None:
    torch = pytest.importorskip("torch")
    cfg = dpa.get_preset(preset)
    ids = torch.arange(N_BATCH, dtype=torch.int64)
    out = benchmark(dpa.gen_augmentation_batch, ids, cfg, 7, 1, "torch")
    assert out["rotation"].shape == (N_BATCH,)
    _rate(benchmark, N_BATCH, "samples")


def _random_ids(n: int) -> list[int]:
    return [int(x) for x in np.random.default_rng(5).integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)]


def test_scalar_dpa(benchmark) -> None:
    cfg = dpa.get_preset("moderate")
    ids = _random_ids(N_SCALAR)
    gen = dpa.gen_augmentation_params

    def run():
        for i in ids:
            gen(i, cfg, 3, 0)

    benchmark(run)
    _rate(benchmark, N_SCALAR, "samples")


def test_peer_scalar_numpy_default_rng(benchmark) -> None:
    """Per-sample seeding the numpy way: default_rng([seed, id]) drawing as many values as `moderate` has outputs."""
    k = len(dpa.get_preset("moderate").outputs)
    ids = _random_ids(N_SCALAR // 10)

    def run():
        for i in ids:
            np.random.default_rng([3, i]).random(k)

    benchmark(run)
    _rate(benchmark, N_SCALAR // 10, "samples")


def test_peer_scalar_torch_generator(benchmark) -> None:
    """Per-sample seeding the torch way: Generator().manual_seed(...) drawing as many values."""
    torch = pytest.importorskip("torch")
    k = len(dpa.get_preset("moderate").outputs)
    ids = [i % 2**63 for i in _random_ids(N_SCALAR)]
    g = torch.Generator()

    def run():
        for i in ids:
            g.manual_seed(i)
            torch.rand(k, generator=g)

    benchmark(run)
    _rate(benchmark, N_SCALAR, "samples")
