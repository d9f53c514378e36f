"""What dpa's kornia and albumentations adapters cost beside the pipelines they wrap (one CPU thread).

* kornia: a batch of 64 x 3 x 224 x 224 through an ImageNet-style
  ``AugmentationSequential``, run by kornia with its own random params and by
  ``dpa.integrations.kornia.deterministic`` with dpa's; and the params alone.
* albumentations: one 224 x 224 uint8 image through a ``Compose``, the same way.

Each ``*_overhead`` case times the library's own call and dpa's call in
alternation (the same images, interleaved rounds, so a busy machine slows
both alike) and records ``overhead = dpa / own - 1`` from the fastest round
of each in ``extra_info``. The ``noise`` variants add a Gaussian noise
transform, whose field dpa makes with ``dpa.apply.noise_field``.

Run:  OMP_NUM_THREADS=1 pytest benchmarks/test_bench_integrations_ka.py --benchmark-enable --benchmark-only
      (add -s to see the overheads printed)
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
K = pytest.importorskip("kornia.augmentation")
Al = pytest.importorskip("albumentations")

from dpa.integrations.albumentations import deterministic as albu_deterministic  # noqa: E402
from dpa.integrations.kornia import deterministic as kornia_deterministic  # noqa: E402

BATCH, SIZE = 64, 224


def kornia_pipeline(noise: bool):
    mods = [
        K.RandomResizedCrop((SIZE, SIZE), scale=(0.08, 1.0)),
        K.RandomHorizontalFlip(),
        K.RandomAffine(15.0, translate=(0.1, 0.1), scale=(0.9, 1.1), p=0.5),
        K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
        K.RandomGrayscale(p=0.2),
        K.RandomGaussianBlur((23, 23), (0.1, 2.0), p=0.5),
        K.RandomErasing(p=0.25),
    ]
    if noise:
        mods.insert(6, K.RandomGaussianNoise(std=0.05, p=0.5))
    return K.AugmentationSequential(*mods)


def albu_pipeline(noise: bool):
    ts = [
        Al.RandomResizedCrop((SIZE, SIZE)),
        Al.HorizontalFlip(),
        Al.Affine(rotate=(-15, 15), scale=(0.9, 1.1), p=0.5),
        Al.OneOf([Al.ColorJitter(0.4, 0.4, 0.4, 0.1), Al.HueSaturationValue(), Al.RandomBrightnessContrast()], p=0.8),
        Al.ToGray(p=0.2),
        Al.GaussianBlur(p=0.5),
        Al.CoarseDropout(p=0.25),
    ]
    if noise:
        ts.append(Al.GaussNoise(p=0.5))
    return Al.Compose(ts)


def _interleaved(benchmark, own, dpa, rounds: int) -> dict:
    """Time ``own`` and ``dpa`` alternately; the fastest round of each, and dpa's overhead."""
    times: dict[str, list[float]] = {"own": [], "dpa": []}

    def pair():
        for name, fn in (("own", own), ("dpa", dpa)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)

    benchmark.pedantic(pair, rounds=rounds, iterations=1, warmup_rounds=0 if benchmark.disabled else 1)
    best = {k: min(v) for k, v in times.items()}
    info = {"own_s": best["own"], "dpa_s": best["dpa"], "overhead": best["dpa"] / best["own"] - 1.0}
    benchmark.extra_info.update(info)
    print(f"\n{benchmark.name}: own {best['own'] * 1e3:.2f} ms, dpa {best['dpa'] * 1e3:.2f} ms, "
          f"overhead {info['overhead']:+.1%}")
    return info


@pytest.mark.parametrize("noise", [False, True], ids=["plain", "noise"])
def test_kornia_batch_overhead(benchmark, noise: bool) -> None:
    n = BATCH if not benchmark.disabled else 4  # the default test run only smoke-tests it
    x = torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    aug = kornia_pipeline(noise)
    dk = kornia_deterministic(aug, seed=0)
    epoch = iter(range(10**6))
    info = _interleaved(benchmark, lambda: aug(x), lambda: dk(x, sample_ids=range(n), epoch=next(epoch)), rounds=5)
    assert info["dpa_s"] > 0


def test_kornia_params_only(benchmark) -> None:
    """dpa's own work per batch: the values and kornia's params dicts (no image touched)."""
    dk = kornia_deterministic(kornia_pipeline(noise=False), seed=0)
    out = benchmark(dk.kornia_params, (BATCH, 3, SIZE, SIZE), range(BATCH), 0)
    assert len(out) == 7


@pytest.mark.parametrize("noise", [False, True], ids=["plain", "noise"])
def test_albumentations_image_overhead(benchmark, noise: bool) -> None:
    x = (np.random.default_rng(0).random((SIZE, SIZE, 3)) * 255).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comp = albu_pipeline(noise)
    da = albu_deterministic(comp, seed=0)
    per_round = 100 if not benchmark.disabled else 2
    ids = iter(range(10**9))

    def own():
        for _ in range(per_round):
            comp(image=x)

    def dpa():
        for _ in range(per_round):
            da(image=x, sample_id=next(ids), epoch=0)

    info = _interleaved(benchmark, own, dpa, rounds=5)
    benchmark.extra_info["own_ms_per_image"] = info["own_s"] / per_round * 1e3
    benchmark.extra_info["dpa_ms_per_image"] = info["dpa_s"] / per_round * 1e3


def test_albumentations_params_only(benchmark) -> None:
    """dpa's own work per image: the sample's values (the params dicts are built as albumentations builds them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        da = albu_deterministic(albu_pipeline(noise=False), seed=0)
    out = benchmark(da.params, 12345, 0)
    assert "Affine.rotate" in out
