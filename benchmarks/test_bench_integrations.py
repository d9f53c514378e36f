"""What dpa.integrations.torchvision costs per image, in a DataLoader worker (target: under 10% of the pipeline's time).

In a real DataLoader worker (one torch thread), each round runs 100 images of
224 x 224 uint8 through the user's own torchvision v2 pipeline (its own draws;
the global generator reseeded each round) and through
``deterministic(pipeline)`` (dpa's draws for ids 0..99), the two passes in
alternating order from round to round, timed with ``time.perf_counter``
inside the worker. Every transform's kernel (``transform``, and the auto
augment ops) is timed too, so each pass splits into the kernels' time and the
time outside them: for the deterministic pass that outside time is all the
adapter does (dpa's values, walking the pipeline, building params, v2's own
input handling), measured on the very images it runs, whatever augmentations
they happen to draw. The overhead reported is that outside time as a fraction
of the pipeline's own time per image (and, for comparison, torchvision's own
outside time: its ``make_params`` draws and input handling). Figures are the
fastest of 5 rounds, the least disturbed by other processes.

Run:  OMP_NUM_THREADS=1 pytest benchmarks/test_bench_integrations.py --benchmark-enable --benchmark-only -s
"""

from __future__ import annotations

import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from dpa.integrations.torchvision import deterministic  # noqa: E402

IMAGES = 100
ROUNDS = 5


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


class _KernelClock:
    """Accumulates the time spent inside the transforms' kernels of a pipeline (instance attributes wrap them)."""

    def __init__(self, pipeline) -> None:
        self.seconds = 0.0
        stack = [pipeline]
        while stack:
            t = stack.pop()
            stack.extend(getattr(t, "transforms", []))
            for name in ("transform", "_apply_image_or_video_transform"):
                if hasattr(t, name):
                    setattr(t, name, self._timed(getattr(t, name)))

    def _timed(self, kernel):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return kernel(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


class Rounds(Dataset):
    """Item r: per image, (own total, own outside kernels, deterministic total, deterministic outside kernels, values)."""

    def __init__(self, make, images: int, rounds: int) -> None:
        self.pipeline = make()
        self.dt = deterministic(make(), seed=0)
        self.own_clock, self.dpa_clock = _KernelClock(self.pipeline), _KernelClock(self.dt.transform)
        gen = torch.Generator().manual_seed(0)
        self.images = [torch.randint(0, 256, (3, 224, 224), dtype=torch.uint8, generator=gen) for _ in range(8)]
        self.n, self.rounds = images, rounds

    def __len__(self) -> int:
        return self.rounds

    def _own(self) -> tuple[float, float]:
        torch.manual_seed(0)  # the same draws, so the same work, every round
        self.own_clock.seconds = 0.0
        start = time.perf_counter()
        for i in range(self.n):
            self.pipeline(self.images[i % len(self.images)])
        total = time.perf_counter() - start
        return total / self.n, (total - self.own_clock.seconds) / self.n

    def _dpa(self) -> tuple[float, float]:
        self.dpa_clock.seconds = 0.0
        start = time.perf_counter()
        for i in range(self.n):
            self.dt(self.images[i % len(self.images)], sample_id=i, epoch=0)
        total = time.perf_counter() - start
        return total / self.n, (total - self.dpa_clock.seconds) / self.n

    def __getitem__(self, r: int) -> tuple[float, ...]:
        if r % 2:
            own, ours = self._own(), self._dpa()
        else:
            ours, own = self._dpa(), self._own()
        start = time.perf_counter()
        for i in range(self.n):
            self.dt.params(i, 0)
        return (*own, *ours, (time.perf_counter() - start) / self.n)


def _measure(make, images: int, rounds: int) -> dict[str, float]:
    loader = DataLoader(Rounds(make, images, rounds), batch_size=None, num_workers=1)  # a real worker
    results = list(loader)
    best = [min(r[k] for r in results) * 1e6 for k in range(5)]
    own, own_outside, ours, ours_outside, values = best
    return {"own_us": own, "own_outside_us": own_outside, "dpa_us": ours, "dpa_outside_us": ours_outside,
            "values_us": values, "overhead_pct": ours_outside / own * 100}


@pytest.mark.parametrize("make", [imagenet_recipe, jitter_recipe], ids=["imagenet", "jitter"])
def test_torchvision_overhead_per_image_in_a_worker(benchmark, make) -> None:
    images, rounds = (2, 2) if benchmark.disabled else (IMAGES, ROUNDS)  # the default test run only smoke-tests it
    result = benchmark.pedantic(_measure, args=(make, images, rounds), rounds=1, iterations=1)
    assert result["own_us"] > 0 and result["dpa_us"] > 0
    benchmark.extra_info.update({k: round(v, 2) for k, v in result.items()})
    if not benchmark.disabled:
        print(
            f"\n{make.__name__}: pipeline {result['own_us']:.0f} us/image ({result['own_outside_us']:.0f} outside its "
            f"kernels); deterministic {result['dpa_us']:.0f} us/image ({result['dpa_outside_us']:.0f} outside the "
            f"kernels: the adapter's overhead, {result['overhead_pct']:.1f}% of the pipeline's time; dpa's values "
            f"{result['values_us']:.1f}); fastest of {ROUNDS} rounds of {IMAGES} images"
        )
