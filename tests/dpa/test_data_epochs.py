"""The epoch reaches every worker and never mixes: AugmentedIterableDataset, SharedEpoch, dataset states.

Real DataLoader worker processes (fork and spawn, persistent).
"""

from __future__ import annotations

import pickle

import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader  # noqa: E402

import dpa  # noqa: E402
from dpa.data import AugmentedDataset, AugmentedIterableDataset, SharedEpoch  # noqa: E402

CFG = dpa.get_preset("mild")
N, SEED = 300, 4
_REF: dict[int, list[float]] = {}


def reference(epoch: int) -> list[float]:
    if epoch not in _REF:
        _REF[epoch] = dpa.gen_augmentation_batch(range(N), CFG, seed=SEED, epoch=epoch)["rotation"].tolist()
    return _REF[epoch]


def epochs_seen(batches, candidates=(0, 1, 2, 3)) -> dict[int, int]:
    """epoch -> how many items carried that epoch's params."""
    counts: dict[int, int] = {}
    for ids, params in batches:
        for i, r in zip(ids.tolist(), params["rotation"].tolist()):
            matches = [e for e in candidates if reference(e)[i] == r]
            assert len(matches) == 1, f"item {i}: params of no single epoch"
            counts[matches[0]] = counts.get(matches[0], 0) + 1
    return counts


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_set_epoch_reaches_persistent_workers(context: str) -> None:
    ds = AugmentedIterableDataset(N, CFG, seed=SEED, chunk_size=16)
    loader = DataLoader(ds, batch_size=10, num_workers=2, persistent_workers=True, multiprocessing_context=context)
    for epoch in range(3):
        ds.set_epoch(epoch)
        assert epochs_seen(loader) == {epoch: N}  # every item, every worker: this epoch


@pytest.mark.parametrize("workers", [0, 2])
def test_a_pass_never_mixes_epochs(workers: int) -> None:
    ds = AugmentedIterableDataset(N, CFG, seed=SEED, chunk_size=8)
    loader = DataLoader(ds, batch_size=10, num_workers=workers, persistent_workers=workers > 0)
    assert epochs_seen(loader) == {0: N}
    for _ in range(2):  # the second round: a later pass of the same persistent workers
        # A change during a pass (after some batches were made and prefetched) applies to the next pass.
        it = iter(loader)
        batches = [next(it) for _ in range(3)]
        ds.set_epoch(ds.epoch + 1)
        assert epochs_seen(batches + list(it)) == {ds.epoch - 1: N}
        assert epochs_seen(loader) == {ds.epoch: N}
    # A change right after iter(loader) lands in this pass or the next, never in part of one.
    it = iter(loader)
    ds.set_epoch(0)
    assert len(epochs_seen(it)) == 1


def test_without_workers_a_change_after_iter_applies_to_the_next_pass() -> None:
    ds = AugmentedIterableDataset(N, CFG, seed=SEED, chunk_size=8)
    loader = DataLoader(ds, batch_size=10)
    it = iter(loader)
    ds.set_epoch(3)
    assert epochs_seen(it) == {0: N}
    assert epochs_seen(loader) == {3: N}


def test_state_dict_resumes_mid_stream_in_a_fresh_object() -> None:
    ds = AugmentedIterableDataset(N, CFG, seed=SEED, epoch=2, rank=1, world_size=3)
    whole = list(AugmentedIterableDataset(N, CFG, seed=SEED, epoch=2, rank=1, world_size=3))
    it = iter(ds)
    head = [next(it) for _ in range(37)]
    state = ds.state_dict()
    assert (state["epoch"], state["position"], state["part"], state["parts"]) == (2, 37, 1, 3)
    fresh = AugmentedIterableDataset(N, CFG, seed=SEED, rank=1, world_size=3)  # a restarted process: epoch 0
    fresh.load_state_dict(pickle.loads(pickle.dumps(state)))
    assert fresh.epoch == 2
    assert head + list(fresh) == whole
    assert list(fresh) == whole  # later passes start at the beginning, in the restored epoch


@pytest.mark.parametrize(
    "other, fragment",
    [
        ({"config": dpa.get_preset("moderate")}, "fingerprint"),
        ({"seed": SEED + 1}, f"seed {SEED} != {SEED + 1}"),
        ({"num_samples": N + 1}, f"num_samples {N} != {N + 1}"),
    ],
)
def test_a_state_from_another_stream_is_refused(other: dict, fragment: str) -> None:
    state = AugmentedIterableDataset(N, CFG, seed=SEED).state_dict()
    args = {"num_samples": N, "config": CFG, "seed": SEED, **other}
    with pytest.raises(ValueError, match="state does not match this AugmentedIterableDataset") as info:
        AugmentedIterableDataset(**args).load_state_dict(state)
    assert fragment in str(info.value)


def test_a_state_from_another_split_is_refused_when_the_pass_starts() -> None:
    state = AugmentedIterableDataset(N, CFG, seed=SEED, rank=0, world_size=2).state_dict()
    ds = AugmentedIterableDataset(N, CFG, seed=SEED, rank=0, world_size=3)
    ds.load_state_dict(state)
    with pytest.raises(ValueError, match="saved by part 0 of 2 .* resumed by part 0 of 3"):
        iter(ds)
    with pytest.raises(ValueError, match=r"state\['position'\] must be an integer in \[0, 150\]; got 151"):
        ds.load_state_dict({**state, "position": 151})


def test_augmented_dataset_state_carries_seed_epoch_fingerprint_and_stream_version() -> None:
    ds = AugmentedDataset(list(range(10)), CFG, seed=SEED, epoch=5)
    state = ds.state_dict()
    assert state == {"kind": "AugmentedDataset", "stream_version": dpa.STREAM_VERSION,
                     "fingerprint": CFG.fingerprint(), "seed": SEED, "epoch": 5}
    fresh = AugmentedDataset(list(range(10)), CFG, seed=SEED)
    fresh.load_state_dict(state)
    assert fresh.epoch == 5 and fresh[3][1] == dpa.gen_augmentation_params(3, CFG, seed=SEED, epoch=5)
    with pytest.raises(ValueError, match="state does not match this AugmentedDataset: fingerprint"):
        AugmentedDataset(list(range(10)), dpa.get_preset("moderate"), seed=SEED).load_state_dict(state)
    with pytest.raises(ValueError, match="stream_version 99 != 1"):
        fresh.load_state_dict({**state, "stream_version": 99})
    with pytest.raises(ValueError, match="kind 'AugmentedIterableDataset' != 'AugmentedDataset'"):
        fresh.load_state_dict({**state, "kind": "AugmentedIterableDataset"})


def test_shared_epoch_copies() -> None:
    shared = SharedEpoch(3)
    copy = pickle.loads(pickle.dumps(shared))  # a copy for storage is independent...
    shared.set(4)
    assert (shared.value, copy.value) == (4, 3)
    copy.set(7)
    assert shared.value == 4
    with pytest.raises(ValueError, match=r"epoch must be in \[0, 2\*\*32\); got -1"):
        shared.set(-1)
    with pytest.raises(TypeError, match="epoch must be an integer"):
        SharedEpoch(1.0)


def test_find_epoch_aware_looks_behind_wrappers() -> None:
    from torch.utils.data import ConcatDataset, DistributedSampler, Subset

    from dpa.data import EpochSampler, find_epoch_aware

    a = AugmentedDataset(list(range(10)), CFG)
    b = AugmentedDataset(list(range(5)), CFG, seed=1)
    stream = AugmentedIterableDataset(7, CFG)
    loader = DataLoader(ConcatDataset([Subset(a, [1, 2]), b]), batch_size=2)
    found = find_epoch_aware(loader)
    assert len(found) == 2 and {id(o) for o in found} == {id(a), id(b)}
    keyed = DataLoader(a, sampler=EpochSampler(a), batch_size=2)
    assert [type(o).__name__ for o in find_epoch_aware(keyed)] == ["AugmentedDataset", "EpochSampler"]
    injected = DataLoader(b, sampler=DistributedSampler(b, num_replicas=2, rank=0), batch_size=2)
    assert find_epoch_aware(injected) == [b]  # a DistributedSampler of torch's only when asked for
    assert [type(o).__name__ for o in find_epoch_aware(injected, samplers=True)] == ["AugmentedDataset",
                                                                                    "DistributedSampler"]
    assert find_epoch_aware(DataLoader(stream, batch_size=2)) == [stream]


def test_a_new_loader_with_the_same_worker_seeds_gets_the_epoch_in_effect() -> None:
    # A loader made again with the same seeded generator has the same worker seeds as the one before:
    # its persistent workers once read the old loader's claim of their second pass (epoch 1, not 11).
    ds = AugmentedIterableDataset(40, CFG, seed=SEED, chunk_size=8)

    def loader():
        return DataLoader(ds, batch_size=10, num_workers=2, persistent_workers=True,
                          generator=torch.Generator().manual_seed(0))

    old = loader()
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        assert {e for _, params in old for e in params["rotation"].tolist()} == set(reference(epoch)[:40])
    del old
    new = loader()
    for epoch in (10, 11, 12):
        ds.set_epoch(epoch)
        got = [r for _, params in new for r in params["rotation"].tolist()]
        want = dpa.gen_augmentation_batch(range(40), CFG, seed=SEED, epoch=epoch)["rotation"].tolist()
        assert sorted(got) == sorted(want)
