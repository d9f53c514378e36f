"""dpa.validate: one rule per kind of argument, so the same mistake gets the same exception everywhere."""

from __future__ import annotations

import functools
import math
import tempfile

import numpy as np
import pytest

import dpa
from dpa import validate
from dpa.batch import BatchConfig
from dpa.benchmark import BenchmarkConfig
from dpa.distributed import (
    DistributedRangeSplitter,
    ElasticCheckpoint,
    stream_distributed_augmentation_chain,
    stream_distributed_augmentation_chunks,
)
from dpa.store import verify_params, write_params
from tests.conftest import HAS_TORCH

CFG = dpa.get_preset("mild")


@functools.lru_cache(maxsize=None)
def _stored() -> str:
    return str(write_params(tempfile.mkdtemp() + "/o", CFG, 3))


def _consume(it) -> None:
    for _ in it:
        break


# Every entry point that takes a chunk (or batch) size, as a function of that size.
CHUNK_SIZE_TAKERS = {
    "stream_augmentation_chunks": lambda c: _consume(dpa.stream_augmentation_chunks(10, CFG, chunk_size=c)),
    "stream_augmentation_chain": lambda c: _consume(dpa.stream_augmentation_chain(10, CFG, chunk_size=c)),
    "stream_distributed_augmentation_chunks": lambda c: _consume(stream_distributed_augmentation_chunks(10, 0, 2, CFG, chunk_size=c)),
    "stream_distributed_augmentation_chain": lambda c: _consume(stream_distributed_augmentation_chain(10, 0, 2, CFG, chunk_size=c)),
    "BenchmarkConfig": lambda c: BenchmarkConfig(chunk_size=c),
    "BatchConfig": lambda c: BatchConfig(batch_size=c, max_batch_size=max(8, c if isinstance(c, int) else 8)),
    "write_params": lambda c: write_params(tempfile.mkdtemp() + "/o", CFG, 3, chunk_size=c),
    "verify_params": lambda c: verify_params(_stored(), chunk_size=c),
}
if HAS_TORCH:
    from dpa.data import AugmentedDataset, AugmentedIterableDataset

    CHUNK_SIZE_TAKERS["AugmentedDataset"] = lambda c: AugmentedDataset(list(range(10)), CFG, chunk_size=c)
    CHUNK_SIZE_TAKERS["AugmentedIterableDataset"] = lambda c: AugmentedIterableDataset(10, CFG, rank=0, world_size=1, chunk_size=c)


def _integer_likes() -> list:
    out = [np.int64(5), np.uint8(5), np.array(5)]
    if HAS_TORCH:
        import torch

        out.append(torch.tensor(5))
    return out


def _non_integers() -> list:
    out = [2.5, 5.0, True, np.float64(5.0), np.bool_(True), "5", None, np.array([5])]
    if HAS_TORCH:
        import torch

        out += [torch.tensor(5.0), torch.tensor(True), torch.tensor([5])]
    return out


@pytest.mark.parametrize("entry", list(CHUNK_SIZE_TAKERS))
def test_chunk_size_is_checked_alike_everywhere(entry: str) -> None:
    take = CHUNK_SIZE_TAKERS[entry]
    take(5)
    for value in _integer_likes():
        take(value)  # numpy and 0-d integers are integers everywhere
    for value in _non_integers():
        with pytest.raises(TypeError, match="must be an integer"):
            take(value)
    for value in (0, -3):
        with pytest.raises(ValueError, match=">= 1; got"):
            take(value)


SEED_TAKERS = {
    "gen_augmentation_params": lambda s: dpa.gen_augmentation_params(0, CFG, seed=s),
    "gen_augmentation_batch": lambda s: dpa.gen_augmentation_batch([0], CFG, seed=s),
    "stream_augmentation_chunks": lambda s: dpa.stream_augmentation_chunks(10, CFG, seed=s),
    "stream_distributed_augmentation_chunks": lambda s: stream_distributed_augmentation_chunks(10, 0, 1, CFG, seed=s),
    "ElasticCheckpoint": lambda s: ElasticCheckpoint(epoch=0, consumed=0, num_samples=1, fingerprint="f", seed=s),
    "write_params": lambda s: write_params(tempfile.mkdtemp() + "/o", CFG, 3, seed=s),
}
if HAS_TORCH:
    SEED_TAKERS["AugmentedDataset"] = lambda s: AugmentedDataset([1], CFG, seed=s)


@pytest.mark.parametrize("entry", list(SEED_TAKERS))
@pytest.mark.parametrize("arg", ["seed", "epoch"])
def test_seeds_and_epochs_are_checked_alike_everywhere(entry: str, arg: str) -> None:
    take = SEED_TAKERS[entry]
    if arg == "epoch":
        take = {
            "gen_augmentation_params": lambda e: dpa.gen_augmentation_params(0, CFG, epoch=e),
            "gen_augmentation_batch": lambda e: dpa.gen_augmentation_batch([0], CFG, epoch=e),
            "stream_augmentation_chunks": lambda e: dpa.stream_augmentation_chunks(10, CFG, epoch=e),
            "stream_distributed_augmentation_chunks": lambda e: stream_distributed_augmentation_chunks(10, 0, 1, CFG, epoch=e),
            "ElasticCheckpoint": lambda e: ElasticCheckpoint(epoch=e, consumed=0, num_samples=1, fingerprint="f"),
            "AugmentedDataset": lambda e: AugmentedDataset([1], CFG, epoch=e),
            "write_params": lambda e: write_params(tempfile.mkdtemp() + "/o", CFG, 3, epoch=e),
        }[entry]
    take(3)
    take(np.uint32(3))
    for value in (3.0, True, math.nan, "3"):
        with pytest.raises(TypeError, match=f"{arg} must be an integer"):
            take(value)
    with pytest.raises(ValueError, match=f"{arg} must be in"):
        take(-1)


def test_counts_positions_and_ranks_refuse_floats_everywhere() -> None:
    cases = [
        lambda: dpa.stream_augmentation_chunks(10.0, CFG),
        lambda: dpa.stream_augmentation_chunks(10, CFG, start=1.0),
        lambda: stream_distributed_augmentation_chunks(10, 0, 2, CFG, start=1.0),
        lambda: stream_distributed_augmentation_chunks(10, 0.0, 2, CFG),
        lambda: stream_distributed_augmentation_chunks(10, 0, 2.0, CFG),
        lambda: DistributedRangeSplitter(10.0, 2),
        lambda: DistributedRangeSplitter(10, 2, start=1.0),
        lambda: DistributedRangeSplitter(10, 2).indices(1.0),
        lambda: ElasticCheckpoint(epoch=0, consumed=1, num_samples=4.0, fingerprint="f"),
        lambda: ElasticCheckpoint.from_progress(CFG, 10, 2, steps=1.0),
        lambda: write_params(tempfile.mkdtemp() + "/o", CFG, 3.0),
        lambda: write_params(tempfile.mkdtemp() + "/o", CFG, 3, start=1.0),
    ]
    for call in cases:
        with pytest.raises(TypeError, match="must be an integer"):
            call()
    assert DistributedRangeSplitter(np.int64(10), np.int32(2), start=np.uint8(1)).indices(np.int64(1)).tolist() == [2, 4, 6, 8]


def test_ids_are_integers_in_every_container() -> None:
    for bad in ([1.0], [True], np.array([True]), np.array([1.5]), [np.float64(1)]):
        with pytest.raises(TypeError):
            dpa.gen_augmentation_batch(bad, CFG)
    ref = dpa.gen_augmentation_batch([5, 6], CFG)
    for good in ([np.int64(5), np.uint64(6)], np.array([5, 6], dtype=np.int16)):
        got = dpa.gen_augmentation_batch(good, CFG)
        assert all((got[k] == ref[k]).all() for k in ref)


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_dataset_indices() -> None:
    import torch

    ds = AugmentedDataset(list(range(10)), CFG)
    assert ds[torch.tensor(2)][0] == ds[2][0] == ds[np.int64(2)][0] == ds[-8][0] == 2
    for bad in (torch.tensor(2.7), torch.tensor(True), torch.tensor([1, 2]), 2.0, True, np.bool_(False), "2"):
        with pytest.raises(TypeError, match="index must be an integer"):
            ds[bad]
    with pytest.raises(IndexError, match="index 10 out of range for a dataset of 10 samples"):
        ds[torch.tensor(10)]


def test_as_integer() -> None:
    assert validate.as_integer(2**64 - 1) == 2**64 - 1
    assert validate.as_integer(np.uint64(2**64 - 1)) == 2**64 - 1
    assert validate.as_integer(np.array(-3, dtype=np.int8)) == -3
    for bad in (3.0, True, np.bool_(True), np.array(3.0), np.array([3]), None, "3", 3 + 0j):
        assert validate.as_integer(bad) is None, bad


@pytest.mark.parametrize(
    "name, ok",
    [
        ("rotation", True), ("crop.x", True), ("_private", True), ("a-b", True), ("a" * 200, True),
        ("rot\n", False), ("a/b", False), ("a\\b", False), ("a\x00", False), ("a\tb", False), ("", False),
        ("1abc", False), (".hidden", False), ("-x", False), ("a b", False), ("é", False), ("a" * 201, False), (3, False),
    ],
)
def test_param_names(name, ok: bool) -> None:
    if ok:
        assert validate.param_name(name) == name
    else:
        with pytest.raises(ValueError, match="parameter name must be"):
            validate.param_name(name)


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_devices() -> None:
    import torch

    assert validate.torch_device(None) == torch.device("cpu")
    assert validate.torch_device("cpu").type == "cpu"
    for bad in ("meta", "nonsense", 3.5):
        with pytest.raises(ValueError, match="device must be"):
            validate.torch_device(bad)


def test_load_json_refuses_repeated_keys_at_any_depth() -> None:
    assert validate.load_json('{"a": {"b": 1}, "c": [{"b": 2}, {"b": 3}]}', "x") == {"a": {"b": 1}, "c": [{"b": 2}, {"b": 3}]}
    for text in ('{"a": 1, "a": 1}', '{"a": {"b": 1, "b": 2}}', '[{"k": 1, "k": 2}]'):
        with pytest.raises(ValueError, match="appears twice"):
            validate.load_json(text, "x")
    with pytest.raises(ValueError, match="x is not valid JSON: Expecting value at line 1 column 6"):
        validate.load_json('{"a":', "x")
    with pytest.raises(TypeError, match="x JSON must be a str or bytes"):
        validate.load_json({"a": 1}, "x")
