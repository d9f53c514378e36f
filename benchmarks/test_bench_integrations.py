"""What dpa.integrations.torchvision costs per image, in a DataLoader worker (target: under 10% of the pipeline's time).

Each item of a real DataLoader worker runs the same 224x224 uint8 image through
the user's own torchvision v2 pipeline (its own random draws) and through
``deterministic(pipeline)`` (dpa's draws), in alternating order, timing each
with ``time.perf_counter`` inside the worker (no transfer between processes in
the figures). The overhead is the mean difference per image, as a fraction of
the pipeline's own mean time. Both see the same distribution of augmentations
(the same hyperparameters), so over a few hundred images the work compares.

Run:  OMP_NUM_THREADS=1 pytest benchmarks/test_bench_integrations.py --benchmark-enable --benchmark-only -s
"""

from __future__ import annotations

import statistics
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from dpa.integrations.torchvision import deterministic  # noqa: E402

N = 400
WARMUP = 10


def imagenet_recipe() -> v2.Compose:
    """A common ImageNet training pipeline (torchvision's reference recipe, trimmed)."""
    return v2.Compose([
        v2.RandomResizedCrop(224, antialias=True),
        v2.RandomHorizontalFlip(),
        v2.TrivialAugmentWide(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        v2.RandomErasing(0.25),
    ])


def jitter_recipe() -> v2.Compose:
    """Crop, flip and colour jitter (the classic SimCLR-style pipeline), on uint8."""
    return v2.Compose([
        v2.RandomResizedCrop(224, antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        v2.RandomGrayscale(0.2),
    ])


class Paired(Dataset):
    """Item i: seconds of (the pipeline's own call, the deterministic call, dpa's values alone) on one image.

    The two calls alternate in order from item to item, so drift in the machine's load hits both alike.
    """

    def __init__(self, make, n: int) -> None:
        self.pipeline = make()
        self.dt = deterministic(make(), seed=0)
        gen = torch.Generator().manual_seed(0)
        self.images = [torch.randint(0, 256, (3, 224, 224), dtype=torch.uint8, generator=gen) for _ in range(8)]
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[float, float, float]:
        x = self.images[i % len(self.images)]
        start = time.perf_counter()
        self.dt.params(i, 0)  # dpa's part alone: this image's values
        times = {"params": time.perf_counter() - start}
        for which in (("own", "dpa") if i % 2 else ("dpa", "own")):
            start = time.perf_counter()
            if which == "own":
                self.pipeline(x)
            else:
                self.dt(x, sample_id=i, epoch=0)
            times[which] = time.perf_counter() - start
        return times["own"], times["dpa"], times["params"]


def _measure(make, n: int) -> dict[str, float]:
    loader = DataLoader(Paired(make, n), batch_size=None, num_workers=1)  # a real worker (one torch thread)
    pairs = list(loader)[min(WARMUP, n // 2):]
    own = statistics.fmean(p[0] for p in pairs)
    ours = statistics.fmean(p[1] for p in pairs)
    params = statistics.fmean(p[2] for p in pairs)
    return {"own_us": own * 1e6, "dpa_us": ours * 1e6, "overhead_us": (ours - own) * 1e6,
            "overhead_pct": (ours - own) / own * 100, "params_us": params * 1e6, "images": len(pairs)}


@pytest.mark.parametrize("make", [imagenet_recipe, jitter_recipe], ids=["imagenet", "jitter"])
def test_torchvision_overhead_per_image_in_a_worker(benchmark, make) -> None:
    n = 6 if benchmark.disabled else N  # the default test run only smoke-tests it
    result = benchmark.pedantic(_measure, args=(make, n), rounds=1, iterations=1)
    assert result["images"] > 0 and result["own_us"] > 0
    benchmark.extra_info.update({k: round(v, 2) for k, v in result.items()})
    if not benchmark.disabled:
        print(
            f"\n{make.__name__}: pipeline {result['own_us']:.0f} us/image, deterministic {result['dpa_us']:.0f} us/image, "
            f"overhead {result['overhead_us']:+.0f} us ({result['overhead_pct']:+.1f}%), of which dpa's values "
            f"{result['params_us']:.1f} us, over {result['images']} images"
        )
