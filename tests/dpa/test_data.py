"""AugmentedDataset / AugmentedIterableDataset with real DataLoader worker processes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader, DistributedSampler  # noqa: E402

import dpa  # noqa: E402
from dpa.data import AugmentedDataset, AugmentedIterableDataset, SampleInfo  # noqa: E402

CFG = dpa.get_preset("moderate")
N = 103


class Squares(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return N

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.tensor([float(i), float(i * i)])


def collect(loader) -> dict[int, dict[str, float]]:
    """index -> params, from whatever order the loader produced."""
    out = {}
    for items, params in loader:
        for k, idx in enumerate(items[:, 0].long().tolist()):
            out[idx] = {name: params[name][k].item() for name in params}
    return out


def reference(epoch: int = 0, seed: int = 5) -> dict[int, dict[str, float]]:
    batch = dpa.gen_augmentation_batch(range(N), CFG, seed=seed, epoch=epoch)
    return {i: {name: batch[name][i].item() for name in batch} for i in range(N)}


@pytest.mark.parametrize("workers", [0, 2, 3])
@pytest.mark.parametrize("batch_size", [1, 7])
@pytest.mark.parametrize("shuffle", [False, True])
def test_same_params_for_any_workers_batch_size_and_order(workers: int, batch_size: int, shuffle: bool) -> None:
    ds = AugmentedDataset(Squares(), CFG, seed=5)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=shuffle, num_workers=workers,
                        generator=torch.Generator().manual_seed(1))
    got = collect(loader)
    assert got == reference()


def test_params_collate_into_tensors() -> None:
    ds = AugmentedDataset(Squares(), CFG, seed=5)
    items, params = next(iter(DataLoader(ds, batch_size=4)))
    assert params["rotation"].dtype == torch.float64 and params["rotation"].shape == (4,)
    assert params["hflip"].dtype == torch.bool
    assert params["color_order_0"].dtype == torch.int64


@pytest.mark.parametrize("context", [None, "spawn"])  # None: the platform's default (fork on Linux)
def test_set_epoch_changes_params_and_persistent_workers_follow(context: str | None) -> None:
    """Spawned workers get the dataset pickled (macOS's and Windows' default): it must survive that too."""
    ds = AugmentedDataset(Squares(), CFG, seed=5)
    loader = DataLoader(ds, batch_size=8, num_workers=2, persistent_workers=True, multiprocessing_context=context)
    first = collect(loader)
    ds.set_epoch(1)  # the persistent workers hold their own copies of ds: they must see this too
    second = collect(loader)
    ds.set_epoch(2)
    third = collect(loader)
    assert first == reference(epoch=0)
    assert second == reference(epoch=1)
    assert third == reference(epoch=2)
    assert first != second


def test_distributed_sampler_ranks_union_equals_one_process() -> None:
    ds = AugmentedDataset(Squares(), CFG, seed=5)
    seen = {}
    for rank in range(2):
        sampler = DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=3)
        sampler.set_epoch(0)
        part = collect(DataLoader(ds, batch_size=5, sampler=sampler, num_workers=2))
        for k, v in part.items():
            assert seen.setdefault(k, v) == v  # a padded duplicate carries the same params
    assert seen == reference()


def test_transform_and_keys() -> None:
    files = [f"img_{i:03d}.png" for i in range(N)]
    ds = AugmentedDataset(files, CFG, seed=2, key=lambda i: files[i], transform=lambda item, p: (item, p["rotation"]))
    name, rot = ds[10]
    assert name == "img_010.png"
    assert rot == dpa.gen_augmentation_params(dpa.sample_id_from_key("img_010.png"), CFG, seed=2)["rotation"]
    # Re-ordering the files keeps each file's params.
    shuffled = list(reversed(files))
    ds2 = AugmentedDataset(shuffled, CFG, seed=2, key=lambda i: shuffled[i], transform=lambda item, p: (item, p["rotation"]))
    assert dict(ds2[k] for k in range(N)) == dict(ds[k] for k in range(N))


def test_a_three_argument_transform_gets_the_sample_id_seed_and_epoch() -> None:
    files = [f"img_{i:03d}.png" for i in range(N)]
    ds = AugmentedDataset(files, CFG, seed=2, key=lambda i: files[i], transform=lambda item, p, sample: sample)
    ds.set_epoch(4)
    want = SampleInfo(dpa.sample_id_from_key("img_010.png"), 2, 4)
    assert ds[10] == want
    assert ds.__getitems__([10, 11])[0] == want
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=list)
    got = [info for batch in loader for info in batch]
    assert got == [SampleInfo(dpa.sample_id_from_key(f), 2, 4) for f in files]


class _NoSignature:
    """A callable whose signature cannot be read (as with some C functions)."""

    @property
    def __signature__(self):
        raise ValueError("no signature")

    def __call__(self, item, params):
        return item


@pytest.mark.parametrize(
    "transform, takes_sample",
    [
        (lambda item, params: None, False),
        (lambda item, params, flag=False: None, False),
        (lambda item, params, sample: None, True),
        (lambda *args: None, True),
        (_NoSignature(), False),
    ],
)
def test_which_transforms_get_a_sample_info(transform, takes_sample) -> None:
    from dpa.data import _check_transform

    assert _check_transform(transform) is takes_sample


def test_datasets_pickle_and_keep_their_params() -> None:
    import pickle

    ds = AugmentedDataset(Squares(), CFG, seed=5)
    ds.set_epoch(3)
    copy = pickle.loads(pickle.dumps(ds))
    assert copy.epoch == 3 and copy.plan.compiled == ds.plan.compiled
    assert [copy.params(i) for i in range(N)] == [ds.params(i) for i in range(N)]
    it = AugmentedIterableDataset(20, CFG, seed=2, epoch=1)
    assert list(pickle.loads(pickle.dumps(it))) == list(it)


def test_iterable_dataset_passes_sample_info() -> None:
    ds = AugmentedIterableDataset(10, CFG, seed=3, epoch=2, transform=lambda item, p, sample: (item, sample))
    assert list(ds) == [(i, SampleInfo(i, 3, 2)) for i in range(10)]


def test_chunked_cache_and_scalar_fallback_agree() -> None:
    ds = AugmentedDataset(Squares(), CFG, seed=5, chunk_size=8, cache_mb=0.001)
    order = np.random.default_rng(0).permutation(N).tolist() * 3
    ref = reference()
    for i in order:
        assert ds.params(i) == ref[i]
    assert ds[-1][1] == ref[N - 1]


@pytest.mark.parametrize(
    "kwargs, exc, fragment",
    [
        ({"base": 5}, TypeError, "base must be a map-style dataset"),
        ({"transform": 3}, TypeError, "transform must be callable"),
        ({"key": "x"}, TypeError, "key must be callable"),
        ({"chunk_size": 0}, ValueError, "chunk_size must be >= 1; got 0"),
        ({"seed": -1}, ValueError, "seed must be in [0, 2**64)"),
        ({"epoch": 2**32}, ValueError, "epoch must be in [0, 2**32)"),
    ],
)
def test_bad_arguments(kwargs, exc, fragment) -> None:
    args = {"base": Squares(), "config": CFG}
    args.update(kwargs)
    with pytest.raises(exc) as info:
        AugmentedDataset(**args)
    assert fragment in str(info.value)


def test_bad_index() -> None:
    ds = AugmentedDataset(Squares(), CFG)
    with pytest.raises(IndexError, match="index 103 out of range for a dataset of 103 samples"):
        ds[N]
    with pytest.raises(TypeError, match="index must be an integer; got 1.0 of type float"):
        ds[1.0]


@pytest.mark.parametrize("workers", [0, 2, 3])
def test_iterable_dataset_splits_workers_and_ranks_exactly(workers: int) -> None:
    seen = []
    for rank in range(2):
        ds = AugmentedIterableDataset(N, CFG, seed=5, rank=rank, world_size=2, chunk_size=10)
        for ids, params in DataLoader(ds, batch_size=4, num_workers=workers):
            for k, sid in enumerate(ids.tolist()):
                seen.append(sid)
                assert params["rotation"][k].item() == reference()[sid]["rotation"]
    assert sorted(seen) == list(range(N))


def test_identical_augmented_tensors_for_any_workers() -> None:
    from dpa.apply import apply_params

    class Images(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 24

        def __getitem__(self, i: int):
            g = torch.Generator().manual_seed(i)
            return torch.rand(3, 16, 16, generator=g), i

    def augment(item, params, sample):
        image, index = item
        return apply_params(image, params, sample_ids=sample.sample_id, seed=sample.seed, epoch=sample.epoch), index

    ds = AugmentedDataset(Images(), dpa.get_preset("aggressive"), seed=7, transform=augment)
    ds.set_epoch(1)
    results = []
    for workers, batch in ((0, 1), (2, 5), (3, 8)):
        got = {}
        for images, idx in DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                                      generator=torch.Generator().manual_seed(workers)):
            for k, i in enumerate(idx.tolist()):
                got[i] = images[k]
        results.append(got)
    for other in results[1:]:
        assert all(torch.equal(results[0][i], other[i]) for i in range(24))


def test_params_cache_keeps_to_cache_mb() -> None:
    """cache_mb bounds the real memory of the cached dicts (it once counted only the arrays' 8 bytes a value)."""
    import gc

    import psutil

    proc = psutil.Process()
    ds = AugmentedDataset(range(200_000), CFG, cache_mb=16)
    gc.collect()
    before = proc.memory_info().rss
    for i in range(200_000):
        ds.params(i)
    gc.collect()
    grown = (proc.memory_info().rss - before) / 2**20
    assert grown < 32, f"the params cache grew RSS by {grown:.0f} MiB with cache_mb=16"
