"""EpochSampler: keys that carry their epoch, a reproducible order, a DistributedSampler split, resumable.

Real DataLoader worker processes (fork and spawn, persistent or not).
"""

from __future__ import annotations

import numpy as np
import pytest
import xxhash

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader, DistributedSampler  # noqa: E402

import dpa  # noqa: E402
from dpa.data import AugmentedDataset, EpochSampler, SampleInfo, epoch_order  # noqa: E402

CFG = dpa.get_preset("moderate")
N, SEED = 53, 9


def reference(epoch: int) -> dict[int, float]:
    """index -> rotation in ``epoch`` (the ids are the indices)."""
    return dict(enumerate(dpa.gen_augmentation_batch(range(N), CFG, seed=SEED, epoch=epoch)["rotation"].tolist()))


def record(sample_ids, params):
    return [(int(i), float(r)) for i, r in zip(sample_ids.tolist(), params["rotation"].tolist())]


def oracle_order(n: int, seed: int, epoch: int) -> list[int]:
    """The order as docs/TRAINING.md specifies it, computed with the xxhash package alone."""
    key = xxhash.xxh64_intdigest(b"dpa:sampler:order", seed)
    digests = [
        xxhash.xxh64_intdigest(i.to_bytes(8, "little") + (epoch << 32).to_bytes(8, "little"), key) for i in range(n)
    ]
    return sorted(range(n), key=lambda i: (digests[i], i))


def test_epoch_order_is_the_specified_pure_function_of_seed_and_epoch() -> None:
    torch.manual_seed(1)
    np.random.seed(1)
    first = epoch_order(1000, seed=3, epoch=2)
    torch.manual_seed(2)  # global random state plays no part
    np.random.seed(2)
    assert first.tolist() == epoch_order(1000, 3, 2).tolist() == oracle_order(1000, 3, 2)
    assert sorted(first.tolist()) == list(range(1000))
    assert first.tolist() != epoch_order(1000, 3, 3).tolist()  # another epoch, another order
    assert first.tolist() != epoch_order(1000, 4, 2).tolist()  # another seed, another order
    assert epoch_order(0, 0, 0).tolist() == []


@pytest.mark.parametrize(
    "n, replicas, drop_last",
    [
        (10, 3, False),  # 10 = 3 * 4 - 2: two ranks get a padded duplicate
        (10, 3, True),   # the tail (id 9) is dropped: 3 each
        (12, 4, False),  # even split, no padding
        (2, 3, False),   # fewer samples than ranks: rank 2 takes a duplicate
        (2, 3, True),    # ... or nothing at all
        (7, 1, False),   # one process
    ],
)
def test_split_is_distributed_samplers_with_padding_marked(n: int, replicas: int, drop_last: bool) -> None:
    ds = AugmentedDataset(list(range(n)), CFG)
    seen = []
    for rank in range(replicas):
        ours = EpochSampler(ds, shuffle=False, num_replicas=replicas, rank=rank, drop_last=drop_last)
        theirs = DistributedSampler(ds, num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        keys = list(ours)
        assert [k[1] for k in keys] == list(theirs) and len(ours) == len(theirs)
        padded = [len(k) == 3 and k[2] for k in keys]
        # DistributedSampler pads by wrapping around: position rank + j * replicas >= n is a duplicate.
        assert padded == [rank + j * replicas >= n for j in range(len(keys))]
        seen += [k[1] for k in keys if len(k) == 2]
        # Shuffled: the same positions, of the shuffled order.
        shuffled = EpochSampler(ds, num_replicas=replicas, rank=rank, drop_last=drop_last)
        order = epoch_order(n, 0, 0).tolist()
        assert [k[1] for k in shuffled] == [order[(rank + j * replicas) % n] for j in range(len(keys))]
    total = (n // replicas) * replicas if drop_last else n
    assert sorted(seen) == list(range(total))  # every index once, padding aside


@pytest.mark.parametrize(
    "workers, context, persistent",
    [
        (0, None, False),
        (2, "fork", True),
        (2, "spawn", True),  # macOS's and Windows' default: the dataset is pickled into each worker
        (3, "fork", False),
    ],
)
def test_a_plain_loop_gets_a_fresh_deterministic_epoch_each_pass(workers: int, context, persistent: bool) -> None:
    """for epoch in range(E): for batch in loader -- no set_epoch anywhere -- epoch e's order and params."""
    ds = AugmentedDataset(list(range(N)), CFG, seed=SEED)
    sampler = EpochSampler(ds)
    loader = DataLoader(ds, batch_size=4, sampler=sampler, num_workers=workers, persistent_workers=persistent,
                        multiprocessing_context=context)
    for epoch in range(3):
        got = [pair for ids, params in loader for pair in record(ids, params)]
        assert [i for i, _ in got] == epoch_order(N, SEED, epoch).tolist()  # the order: a function of (seed, epoch)
        ref = reference(epoch)
        assert got == [(i, ref[i]) for i, _ in got]  # the params: epoch e's
    assert ds.epoch == 0  # the dataset's own epoch was never needed


def test_set_epoch_names_the_next_pass_and_never_splits_one() -> None:
    ds = AugmentedDataset(list(range(N)), CFG, seed=SEED)
    sampler = EpochSampler(ds, epoch=4)
    loader = DataLoader(ds, batch_size=5, sampler=sampler, num_workers=2, persistent_workers=True)

    def epochs_of_a_pass(change_after: int | None = None, to: int = 0) -> set[int]:
        seen = set()
        for k, (ids, params) in enumerate(loader):
            ref_by_epoch = {e: reference(e) for e in (4, 5, 9, 10, to)}
            for i, r in record(ids, params):
                seen |= {e for e, ref in ref_by_epoch.items() if ref[i] == r}
            if k == change_after:
                sampler.set_epoch(to)  # a call in the middle of a pass...
                ds.set_epoch(to)  # ...even on the dataset: keys carry their epoch
        return seen

    assert epochs_of_a_pass(change_after=2, to=9) == {4}  # ...does not touch the pass in progress
    assert epochs_of_a_pass() == {9}  # it names the next one
    assert epochs_of_a_pass() == {10}  # then the count goes on
    # A framework that calls set_epoch(e) just after starting pass e (Lightning does) changes nothing.
    it = iter(loader)
    next(it)
    assert sampler.epoch == 11
    sampler.set_epoch(11)
    list(it)
    assert [k[0] for k in list(sampler)[:1]] == [12]


def test_state_dict_resumes_a_pass_where_it_stopped() -> None:
    ds = AugmentedDataset(list(range(N)), CFG, seed=SEED)
    whole = [list(EpochSampler(ds, num_replicas=2, rank=1)) for _ in range(1)][0]
    sampler = EpochSampler(ds, num_replicas=2, rank=1)
    it = iter(sampler)
    head = [next(it) for _ in range(10)]
    state = sampler.state_dict()
    assert (state["epoch"], state["position"], state["next_epoch"]) == (0, 10, 1)
    fresh = EpochSampler(AugmentedDataset(list(range(N)), CFG, seed=SEED), num_replicas=2, rank=1)
    fresh.load_state_dict(state)
    assert fresh.epoch == 0
    assert head + list(fresh) == whole
    assert list(fresh)[0][0] == 1  # and the next pass is epoch 1
    # A state saved at the very end of a pass resumes an empty rest, then the next epoch.
    done = EpochSampler(ds, num_replicas=2, rank=1)
    list(done)
    again = EpochSampler(ds, num_replicas=2, rank=1)
    again.load_state_dict(done.state_dict())
    assert list(again) == [] and list(again)[0][0] == 1


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"seed": 10}, "seed 9 != 10"),  # another order
        ({"num_replicas": 3, "rank": 1}, "num_replicas 2 != 3"),  # positions are per rank: no elastic resume here
        ({"shuffle": False}, "shuffle True != False"),
        ({"length": N + 1}, f"dataset_length {N} != {N + 1}"),
    ],
)
def test_a_state_from_another_sampler_is_refused(change: dict, fragment: str) -> None:
    ds = AugmentedDataset(list(range(N)), CFG, seed=SEED)
    state = EpochSampler(ds, num_replicas=2, rank=1).state_dict()
    length = change.pop("length", N)
    args = {"num_replicas": 2, "rank": 1, **change}
    other = EpochSampler(AugmentedDataset(list(range(length)), CFG, seed=SEED), **args)
    with pytest.raises(ValueError, match="state does not match this EpochSampler") as info:
        other.load_state_dict(state)
    assert fragment in str(info.value)


def test_a_state_for_another_rank_or_position_is_refused() -> None:
    ds = AugmentedDataset(list(range(N)), CFG, seed=SEED)
    state = EpochSampler(ds, num_replicas=2, rank=1).state_dict()
    with pytest.raises(ValueError, match="rank 1 != 0"):
        EpochSampler(ds, num_replicas=2, rank=0).load_state_dict(state)
    with pytest.raises(ValueError, match=r"state\['position'\] must be an integer in \[0, 27\]; got 28"):
        EpochSampler(ds, num_replicas=2, rank=1).load_state_dict({**state, "position": 28})
    with pytest.raises(TypeError, match="a state must be a dict"):
        EpochSampler(ds).load_state_dict([1, 2])


def test_padding_reaches_a_three_argument_transform() -> None:
    ds = AugmentedDataset(list(range(10)), CFG, seed=SEED, transform=lambda item, params, sample: sample)
    sampler = EpochSampler(ds, num_replicas=3, rank=2, epoch=6)
    got = [info for batch in DataLoader(ds, batch_size=3, sampler=sampler, num_workers=2, collate_fn=list)
           for info in batch]
    idx, pad = sampler.indices(6)
    assert got == [SampleInfo(i, SEED, 6, p) for i, p in zip(idx.tolist(), pad.tolist())]
    assert pad.tolist() == [False, False, False, True]


def test_the_dataset_takes_keys_of_any_epoch() -> None:
    ds = AugmentedDataset(list(range(N)), CFG, seed=SEED, epoch=1)
    assert ds[(3, 7)][1] == dpa.gen_augmentation_params(7, CFG, seed=SEED, epoch=3)
    assert ds.params((5, 7, True)) == dpa.gen_augmentation_params(7, CFG, seed=SEED, epoch=5)
    assert ds[7][1] == dpa.gen_augmentation_params(7, CFG, seed=SEED, epoch=1)  # plain indices: the dataset's epoch
    batch = ds.__getitems__([(2, 1), (0, 2), (2, 3)])  # keys of two epochs in one batch
    assert [p for _, p in batch] == [dpa.gen_augmentation_params(i, CFG, seed=SEED, epoch=e) for e, i in
                                     [(2, 1), (0, 2), (2, 3)]]
    with pytest.raises(TypeError, match="a key must be an integer index or an EpochSampler key"):
        ds[(1, 2, 3, 4)]
    with pytest.raises(ValueError, match=r"epoch must be in \[0, 2\*\*32\)"):
        ds[(2**32, 1)]
    with pytest.raises(IndexError, match=f"index {N} out of range"):
        ds[(0, N)]


def test_the_epoch_never_wraps_around() -> None:
    ds = AugmentedDataset(list(range(4)), CFG)
    sampler = EpochSampler(ds, epoch=2**32 - 1)
    assert {k[0] for k in sampler} == {2**32 - 1}
    with pytest.raises(ValueError, match=r"the next epoch must be in \[0, 2\*\*32\); got 4294967296"):
        list(sampler)


@pytest.mark.parametrize(
    "kwargs, exc, fragment",
    [
        ({"dataset": list(range(5))}, TypeError, "EpochSampler yields (epoch, index) keys, which list does not accept"),
        ({"shuffle": 1}, TypeError, "shuffle must be True or False; got 1"),
        ({"drop_last": None}, TypeError, "drop_last must be True or False; got None"),
        ({"seed": -1}, ValueError, "seed must be in [0, 2**64)"),
        ({"epoch": 2**32}, ValueError, "epoch must be in [0, 2**32)"),
        ({"num_replicas": 2, "rank": 2}, ValueError, "rank"),
        ({"num_replicas": 0, "rank": 0}, ValueError, "world_size"),
    ],
)
def test_bad_arguments(kwargs, exc, fragment) -> None:
    args = {"dataset": AugmentedDataset(list(range(5)), CFG), **kwargs}
    with pytest.raises(exc) as info:
        EpochSampler(args.pop("dataset"), **args)
    assert fragment in str(info.value)


def test_the_seed_defaults_to_the_datasets() -> None:
    assert EpochSampler(AugmentedDataset(list(range(5)), CFG, seed=12)).seed == 12
