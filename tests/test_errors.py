"""The bad-input matrix of docs/ERRORS.md: every public entry point, what it refuses and how.

One row per refusal: the call, the exception type, and a fragment the message
must contain (it names the argument, the value and the valid range). Nothing
is clamped or wrapped silently.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import dpa
from dpa.batch import BatchConfig, BatchProcessor
from dpa.benchmark import BenchmarkConfig
from dpa.distributed import (
    DistributedRangeSplitter,
    ElasticCheckpoint,
    gen_distributed_augmentation_params,
    stream_distributed_augmentation_chunks,
)
from dpa.prng import xxh64_pair
from tests.conftest import HAS_TORCH

CFG = dpa.get_preset("mild")
P = dpa.gen_augmentation_params
B = dpa.gen_augmentation_batch
S = dpa.stream_augmentation_chunks
C = dpa.AugmentationConfig

MATRIX = [
    # --- gen_augmentation_params
    ("params: negative id", lambda: P(-1, CFG), ValueError, "sample_id must be in [0, 2**64); got -1"),
    ("params: id >= 2**64", lambda: P(2**64, CFG), ValueError, "sample_id must be in [0, 2**64); got 18446744073709551616"),
    ("params: float id", lambda: P(1.0, CFG), TypeError, "sample_id must be an integer in [0, 2**64); got 1.0"),
    ("params: string id", lambda: P("7", CFG), TypeError, "sample_id must be an integer"),
    ("params: bool id", lambda: P(True, CFG), TypeError, "sample_id must be an integer"),
    ("params: negative seed", lambda: P(0, CFG, seed=-1), ValueError, "seed must be in [0, 2**64); got -1"),
    ("params: seed >= 2**64", lambda: P(0, CFG, seed=2**64), ValueError, "seed must be in [0, 2**64)"),
    ("params: epoch >= 2**32", lambda: P(0, CFG, epoch=2**32), ValueError, "epoch must be in [0, 2**32); got 4294967296"),
    ("params: NaN epoch", lambda: P(0, CFG, epoch=math.nan), TypeError, "epoch must be an integer"),
    ("params: not a config", lambda: P(0, "moderate"), TypeError, "config must be an AugmentationConfig"),
    # --- gen_augmentation_batch
    ("batch: negative id", lambda: B([0, -1], CFG), ValueError, "sample_ids[1] must be in [0, 2**64); got -1"),
    ("batch: id >= 2**64", lambda: B([2**64], CFG), ValueError, "sample_ids[0] must be in [0, 2**64)"),
    ("batch: float ids", lambda: B(np.array([1.0]), CFG), TypeError, "got an array of dtype float64"),
    ("batch: 2-D ids", lambda: B(np.zeros((2, 2), np.uint64), CFG), ValueError, "sample_ids must be 1-D"),
    ("batch: one int", lambda: B(5, CFG), TypeError, "use gen_augmentation_params for one sample"),
    ("batch: unknown backend", lambda: B([0], CFG, backend="jax"), ValueError, "backend must be one of ['numpy', 'torch']"),
    ("batch: device without torch", lambda: B([0], CFG, device="cuda"), ValueError, "needs backend='torch'"),
    # --- streams
    ("stream: negative num_samples", lambda: S(-1, CFG), ValueError, "num_samples must be in [0, 2**64] or float('inf'); got -1"),
    ("stream: num_samples NaN", lambda: S(math.nan, CFG), TypeError, "num_samples must be an integer"),
    ("stream: chunk_size < 1", lambda: S(10, CFG, chunk_size=0), ValueError, "chunk_size must be >= 1; got 0"),
    ("stream: start beyond", lambda: S(10, CFG, start=11), ValueError, "start must be in [0, num_samples] = [0, 10]; got 11"),
    # --- configs and specs
    ("config: empty", lambda: C({}), ValueError, "needs at least one parameter"),
    ("config: unknown kind", lambda: C({"a": {"kind": "gauss"}}), ValueError, "unknown spec kind 'gauss'"),
    ("config: inverted range", lambda: C({"a": {"kind": "uniform", "low": 2, "high": 1}}), ValueError,
     "low must be <= high; got low=2.0, high=1.0"),
    ("config: NaN bound", lambda: C({"a": {"kind": "uniform", "low": math.nan, "high": 1}}), ValueError,
     "uniform.low must be finite; got nan"),
    ("config: inf bound", lambda: C({"a": {"kind": "normal", "mean": 0, "std": math.inf}}), ValueError, "normal.std must be finite"),
    ("config: p > 1", lambda: C({"a": {"kind": "bernoulli", "p": 1.5}}), ValueError, "bernoulli.p must be a probability in [0, 1]; got 1.5"),
    ("config: p < 0", lambda: C({"a": {"kind": "uniform", "low": 0, "high": 1, "p": -0.1, "identity": 0}}), ValueError,
     "uniform.p must be a probability in [0, 1]; got -0.1"),
    ("config: bad name", lambda: C({"": {"kind": "bernoulli", "p": 0.5}}), ValueError, "parameter name must be"),
    ("config: clashing outputs", lambda: C({"c": {"kind": "resized_crop"}, "c_x": {"kind": "bernoulli", "p": 0.5}}), ValueError,
     "clashes with an output of parameter 'c'"),
    ("config: malformed JSON", lambda: C.from_json('{"a": '), ValueError, "config is not valid JSON"),
    ("config: truncated JSON", lambda: C.from_json('{"a": {"kind": "uniform", "low": 0, "high"'), ValueError, "config is not valid JSON"),
    ("config: JSON not a dict", lambda: C.from_json("[1]"), TypeError, "a config must be a dict"),
    ("preset: unknown", lambda: dpa.get_preset("wild"), ValueError, "unknown preset 'wild'; valid presets: ['mild', 'moderate', 'aggressive']"),
    # --- kernel and keys
    ("kernel: int out of range", lambda: xxh64_pair(2**64, 0, 0), ValueError, "a must be in [0, 2**64)"),
    ("kernel: signed array", lambda: xxh64_pair(np.array([1]), 0, 0), TypeError, "must be a numpy uint64 array"),
    ("key: not a string", lambda: dpa.sample_id_from_key(42), TypeError, "key must be a str, bytes or os.PathLike"),
    # --- distributed
    ("splitter: world_size < 1", lambda: DistributedRangeSplitter(10, 0), ValueError, "world_size must be >= 1; got 0"),
    ("splitter: rank >= world_size", lambda: DistributedRangeSplitter(10, 2).indices(2), ValueError,
     "rank must be in [0, world_size=2); got 2"),
    ("splitter: negative num_samples", lambda: DistributedRangeSplitter(-1, 2), ValueError, "num_samples must be in [0, 2**64]; got -1"),
    ("splitter: pad and drop_last", lambda: DistributedRangeSplitter(10, 2, pad=True, drop_last=True), ValueError,
     "drop_last and pad cannot both be True"),
    ("distributed params: rank >= world_size", lambda: gen_distributed_augmentation_params(0, 4, 4, CFG), ValueError,
     "rank must be in [0, world_size=4); got 4"),
    ("distributed stream: chunk_size < 1", lambda: stream_distributed_augmentation_chunks(10, 0, 2, CFG, chunk_size=0), ValueError,
     "chunk_size must be >= 1"),
    ("distributed stream: checkpoint of another config",
     lambda: stream_distributed_augmentation_chunks(10, 0, 2, CFG, checkpoint=ElasticCheckpoint.from_progress(
         dpa.get_preset("moderate"), 10, 2, 1)), ValueError, "checkpoint does not match this stream: config fingerprint"),
    ("checkpoint: consumed > num_samples", lambda: ElasticCheckpoint(epoch=0, consumed=5, num_samples=4, fingerprint="f"), ValueError,
     "consumed must be in [0, num_samples=4]; got 5"),
    ("checkpoint: contiguous mode", lambda: ElasticCheckpoint.from_progress(CFG, 10, 2, 2, mode="contiguous"), ValueError,
     "an ElasticCheckpoint needs mode='strided'; got mode='contiguous'"),
    ("distributed stream: contiguous resume",
     lambda: stream_distributed_augmentation_chunks(10, 0, 3, CFG, mode="contiguous",
                                                    checkpoint=ElasticCheckpoint.from_progress(CFG, 10, 2, 2)),
     ValueError, "an ElasticCheckpoint needs mode='strided'"),
    # --- batching and benchmarks
    ("batch config: batch_size < 1", lambda: BatchConfig(batch_size=0), ValueError, "BatchConfig.batch_size must be >= 1; got 0"),
    ("batch config: min > max", lambda: BatchConfig(min_batch_size=9, max_batch_size=8, batch_size=8), ValueError,
     "min_batch_size must be <= max_batch_size"),
    ("batch config: memory <= 0", lambda: BatchConfig(max_memory_mb=-1), ValueError, "max_memory_mb must be > 0"),
    ("batch config: num_batches < 1", lambda: BatchConfig(num_batches=0), ValueError, "num_batches must be >= 1"),
    ("batch config: latency <= 0", lambda: BatchConfig(target_latency_s=0), ValueError, "target_latency_s must be > 0"),
    ("batch processor: unknown strategy", lambda: BatchProcessor("fastest"), ValueError, "unknown batching strategy 'fastest'"),
    ("benchmark config: iterations < 1", lambda: BenchmarkConfig(iterations=0), ValueError, "iterations must be >= 1; got 0"),
]

if HAS_TORCH:
    import torch

    from dpa.apply import apply_params
    from dpa.data import AugmentedDataset, AugmentedIterableDataset, EpochSampler, SharedEpoch

    MATRIX += [
        ("batch: negative id tensor", lambda: B(torch.tensor([3, -1]), CFG, backend="torch"), ValueError,
         "sample_ids[1] must be in [0, 2**64); got -1"),
        ("dataset: not a dataset", lambda: AugmentedDataset(3, CFG), TypeError, "base must be a map-style dataset"),
        ("dataset: index out of range", lambda: AugmentedDataset([1, 2], CFG)[2], IndexError, "index 2 out of range for a dataset of 2"),
        ("dataset: malformed key", lambda: AugmentedDataset([1, 2], CFG)[(0, 1, 2, 3)], TypeError,
         "a key must be an integer index or an EpochSampler key (epoch, index) or (epoch, index, padding)"),
        ("dataset: key epoch >= 2**32", lambda: AugmentedDataset([1, 2], CFG)[(2**32, 0)], ValueError,
         "epoch must be in [0, 2**32); got 4294967296"),
        ("dataset: state of another config", lambda: AugmentedDataset([1], CFG).load_state_dict(
            AugmentedDataset([1], dpa.get_preset("moderate")).state_dict()), ValueError,
         "state does not match this AugmentedDataset: fingerprint"),
        ("iterable dataset: state of another length", lambda: AugmentedIterableDataset(5, CFG).load_state_dict(
            AugmentedIterableDataset(6, CFG).state_dict()), ValueError, "num_samples 6 != 5"),
        ("sampler: dataset without epoch keys", lambda: EpochSampler([1, 2]), TypeError,
         "EpochSampler yields (epoch, index) keys, which list does not accept"),
        ("sampler: state of another seed", lambda: EpochSampler(AugmentedDataset([1], CFG, seed=1)).load_state_dict(
            EpochSampler(AugmentedDataset([1], CFG, seed=2)).state_dict()), ValueError,
         "state does not match this EpochSampler: seed 2 != 1"),
        ("sampler: flag not a bool", lambda: EpochSampler(AugmentedDataset([1], CFG), shuffle="yes"), TypeError,
         "shuffle must be True or False; got 'yes'"),
        ("shared epoch: out of range", lambda: SharedEpoch(2**32), ValueError, "epoch must be in [0, 2**32)"),
        ("apply: wrong rank", lambda: apply_params(torch.zeros(4, 4), {}), ValueError, "shape (C, H, W) or (B, C, H, W)"),
        ("apply: wrong dtype", lambda: apply_params(torch.zeros(3, 4, 4, dtype=torch.int16), {}), TypeError, "uint8 or floating point"),
        ("apply: missing key", lambda: apply_params(torch.zeros(3, 4, 4), {"crop_x": 0.0}), ValueError, "but miss"),
        ("apply: batch length mismatch", lambda: apply_params(torch.zeros(2, 3, 4, 4), {"hflip": [True]}), ValueError,
         "must be a number or have one value per image (2)"),
    ]
    if not torch.cuda.is_available():
        MATRIX.append(("batch: CUDA without CUDA", lambda: B([0], CFG, backend="torch", device="cuda"), ValueError,
                       "torch.cuda.is_available() is False"))


@pytest.mark.parametrize("case, call, exc, fragment", MATRIX, ids=[row[0] for row in MATRIX])
def test_bad_input_matrix(case, call, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value), f"{case}: {info.value}"
