"""The bad-input matrix of docs/ERRORS.md: every public entry point, what it refuses and how.

One row per refusal: the call, the exception type, and a fragment the message
must contain (it names the argument, the value and the valid range). Nothing
is clamped or wrapped silently.
"""

from __future__ import annotations

import importlib.util
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


class _BadDrawSpec(dpa.Spec):
    """A kind whose program reads a draw it did not declare (refused when its spec is made)."""

    kind = "test_bad_draw"

    def program(self, b):
        return b.unit(1)

P = dpa.gen_augmentation_params
B = dpa.gen_augmentation_batch
S = dpa.stream_augmentation_chunks
C = dpa.AugmentationConfig

TINY = 2.0**-1022  # the smallest normal double

# Every spec the library refuses because it would give a non-finite value, a value
# outside its range, or compute outside the domain of a building block (docs/SPEC.md
# section 5.3), and every wrongly typed field: (case, spec, exception, message fragment).
REFUSED_SPECS = [
    # numbers
    ("uniform NaN", {"kind": "uniform", "low": math.nan, "high": 1}, ValueError, "uniform.low must be finite; got nan"),
    ("uniform subnormal low", {"kind": "uniform", "low": 5e-324, "high": 1e-320}, ValueError,
     "uniform.low must be 0 or at least 2**-1022 = 2.2250738585072014e-308 in magnitude"),
    ("uniform int beyond a double", {"kind": "uniform", "low": 0, "high": 2**53 + 1}, ValueError,
     "uniform.high must be exactly representable as a double; got 9007199254740993"),
    ("uniform int overflowing a double", {"kind": "uniform", "low": 0, "high": 10**400}, ValueError, "uniform.high must be"),
    ("uniform bool bound", {"kind": "uniform", "low": False, "high": 1}, TypeError, "uniform.low must be a real number; got False"),
    ("uniform string bound", {"kind": "uniform", "low": "0", "high": 1}, TypeError, "uniform.low must be a real number; got '0'"),
    ("uniform subnormal identity", {"kind": "uniform", "low": 0, "high": 1, "p": 0.5, "identity": 1e-310}, ValueError,
     "uniform.identity must be 0 or at least 2**-1022"),
    ("p subnormal", {"kind": "bernoulli", "p": 5e-324}, ValueError, "bernoulli.p must be 0 or at least 2**-1022"),
    ("p NaN", {"kind": "bernoulli", "p": math.nan}, ValueError, "bernoulli.p must be finite; got nan"),
    # uniform steps
    ("uniform width overflows", {"kind": "uniform", "low": -1e308, "high": 1e308}, ValueError,
     "uniform: high - low must be at most 1.7976931348623157e+308 (the largest double); got 1e+308 - -1e+308, which overflows"),
    ("uniform width underflows", {"kind": "uniform", "low": 0.0, "high": 1e-300}, ValueError,
     "uniform: high - low must be 0 or at least 2**-990 = 9.556619453472961e-299, so that its step (high - low) * 2**-32 is a normal double; got 1e-300"),
    ("uniform width of two smallest normals", {"kind": "uniform", "low": TINY, "high": 2 * TINY}, ValueError,
     "uniform: high - low must be 0 or at least 2**-990"),
    # log_uniform: exp's domain
    ("log_uniform low 0", {"kind": "log_uniform", "low": 0, "high": 1}, ValueError, "log_uniform.low must be > 0; got 0.0"),
    ("log_uniform low below exp(-708)", {"kind": "log_uniform", "low": 3e-308, "high": 1}, ValueError,
     "log_uniform.low must be in [3.30755300363822e-308, 8.218407461555439e+307], where its log lies in [-708, 709], "
     "the domain of dpa's exp; got 3e-308"),
    ("log_uniform high above exp(709)", {"kind": "log_uniform", "low": 1, "high": 1e308}, ValueError,
     "log_uniform.high must be in [3.30755300363822e-308, 8.218407461555439e+307]"),
    ("log_uniform subnormal low", {"kind": "log_uniform", "low": 1e-320, "high": 1e-300}, ValueError,
     "log_uniform.low must be 0 or at least 2**-1022"),
    ("log_uniform inverted", {"kind": "log_uniform", "low": 2, "high": 1}, ValueError, "log_uniform: low must be <= high"),
    # normal
    ("normal std overflows", {"kind": "normal", "mean": 0, "std": 1e308}, ValueError,
     "normal: mean - std * 6.337957754553789 and mean + std * 6.337957754553789 (the largest |ndtri| of a 32-bit draw) "
     "must be finite, at most 1.7976931348623157e+308 in magnitude; got mean=0.0, std=1e+308"),
    ("normal mean near the top", {"kind": "normal", "mean": 1.7e308, "std": 1e307}, ValueError, "must be finite"),
    ("normal negative std", {"kind": "normal", "mean": 0, "std": -1}, ValueError, "normal.std must be >= 0; got -1.0"),
    ("normal subnormal std", {"kind": "normal", "mean": 0, "std": 1e-310}, ValueError, "normal.std must be 0 or at least 2**-1022"),
    ("normal infinite std", {"kind": "normal", "mean": 0, "std": math.inf}, ValueError, "normal.std must be finite; got inf"),
    # truncated normal
    ("truncated std 0", {"kind": "truncated_normal", "mean": 0, "std": 0, "low": -1, "high": 1}, ValueError,
     "truncated_normal.std must be > 0; got 0.0"),
    ("truncated window overflows", {"kind": "truncated_normal", "mean": 0, "std": 1e307, "low": -1e308, "high": 1e308},
     ValueError, "truncated_normal: |mean| + 31 * std must be finite (every value mean + std * z has |z| <= 30); got mean=0.0, std=1e+307"),
    ("truncated bound beyond 30 std", {"kind": "truncated_normal", "mean": 0, "std": 1, "low": -31, "high": 1}, ValueError,
     "truncated_normal.low must lie within 30 std of the mean, in [-30.0, 30.0]; got -31.0"),
    ("truncated empty", {"kind": "truncated_normal", "mean": 0, "std": 1, "low": 1, "high": 1}, ValueError,
     "truncated_normal: low must be < high; got low=1.0, high=1.0"),
    # integer
    ("integer float bound", {"kind": "integer", "low": 0, "high": 3.0}, TypeError,
     "integer.high must be an integer in [-2**62, 2**62]; got 3.0 of type float"),
    ("integer bool bound", {"kind": "integer", "low": False, "high": 3}, TypeError, "integer.low must be an integer"),
    ("integer beyond 2**62", {"kind": "integer", "low": 0, "high": 2**62 + 1}, ValueError,
     "integer.high must be in [-2**62, 2**62]; got 4611686018427387905"),
    ("integer too many values", {"kind": "integer", "low": 0, "high": 2**32}, ValueError,
     "integer: high - low + 1 must be <= 2**32; got 4294967297"),
    ("integer float identity", {"kind": "integer", "low": 0, "high": 3, "p": 0.5, "identity": 0.0}, TypeError,
     "integer.identity must be an integer in [-2**63, 2**63); got 0.0 of type float"),
    ("integer identity beyond int64", {"kind": "integer", "low": 0, "high": 3, "p": 0.5, "identity": 2**63}, ValueError,
     "integer.identity must be in [-2**63, 2**63); got 9223372036854775808"),
    ("permutation float n", {"kind": "permutation", "n": 12.0}, TypeError, "permutation.n must be an integer in [2, 12]; got 12.0 of type float"),
    ("permutation n 13", {"kind": "permutation", "n": 13}, ValueError, "permutation.n must be in [2, 12]; got 13"),
    # choice
    ("choice value beyond int64", {"kind": "choice", "values": [0, 2**63]}, ValueError,
     "choice.values[1] must be in [-2**63, 2**63); got 9223372036854775808"),
    ("choice mixed int beyond a double", {"kind": "choice", "values": [0.5, 2**53 + 1]}, ValueError,
     "choice.values[1] must be exactly representable as a double; got 9007199254740993"),
    ("choice float identity of int values", {"kind": "choice", "values": [1, 2], "p": 0.5, "identity": 0.0}, TypeError,
     "choice.identity must be an integer in [-2**63, 2**63); got 0.0 of type float"),
    ("choice huge int weight", {"kind": "choice", "values": [1, 2], "weights": [10**400, 1]}, ValueError,
     "choice.weights[0] must be finite"),
    ("choice subnormal weight", {"kind": "choice", "values": [1, 2], "weights": [1e-320, 1]}, ValueError,
     "choice.weights[0] must be 0 or at least 2**-1022"),
    ("choice all weights zero", {"kind": "choice", "values": [1, 2], "weights": [0, 0]}, ValueError,
     "choice.weights must be >= 0 with a positive sum; got [0.0, 0.0]"),
    ("choice negative weight", {"kind": "choice", "values": [1, 2], "weights": [2, -1]}, ValueError,
     "choice.weights must be >= 0 with a positive sum"),
    ("choice NaN value", {"kind": "choice", "values": [1.0, math.nan]}, ValueError, "choice.values[1] must be finite; got nan"),
    # boxes
    ("box scale too small", {"kind": "resized_crop", "scale": [1e-200, 1.0]}, ValueError,
     "resized_crop.scale[0] must be >= 2**-511 = 1.4916681462400413e-154 (so that s * r, with r >= s, is a normal number "
     "and h = s / w never divides by zero); got 1e-200"),
    ("box ratio below exp(-708)", {"kind": "erasing", "ratio": [1e-310, 1.0]}, ValueError, "erasing.ratio[0] must be 0 or at least 2**-1022"),
    ("box ratio beyond exp(709)", {"kind": "resized_crop", "ratio": [1.0, 1e308]}, ValueError,
     "resized_crop.ratio[1] must be in [3.30755300363822e-308, 8.218407461555439e+307]"),
    ("box ratio normal but below exp(-708)", {"kind": "resized_crop", "ratio": [3e-308, 1.0]}, ValueError,
     "resized_crop.ratio[0] must be in [3.30755300363822e-308"),
    ("box scale above 1", {"kind": "erasing", "scale": [0.5, 1.5]}, ValueError, "erasing.scale must satisfy 0 < low <= high <= 1"),
    ("box ratio 0", {"kind": "resized_crop", "ratio": [0, 1]}, ValueError, "resized_crop.ratio must be > 0"),
    ("box scale not a pair", {"kind": "resized_crop", "scale": [0.5]}, TypeError, "resized_crop.scale must be a pair [low, high]"),
]

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
    ("stream: chunk_size 2.5", lambda: S(10, CFG, chunk_size=2.5), TypeError, "chunk_size must be an integer >= 1; got 2.5 of type float"),
    ("stream: chunk_size 5.0", lambda: S(10, CFG, chunk_size=5.0), TypeError, "chunk_size must be an integer >= 1; got 5.0"),
    ("stream: start 2.0", lambda: S(10, CFG, start=2.0), TypeError, "start must be an integer"),
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
    ("config: parameter given twice in JSON", lambda: C.from_json('{"a": {"kind": "bernoulli"}, "a": {"kind": "bernoulli", "p": 0.1}}'),
     ValueError, "the key 'a' appears twice in one JSON object"),
    ("config: field given twice in JSON", lambda: C.from_json('{"a": {"kind": "uniform", "low": 0, "high": 1, "high": 9}}'),
     ValueError, "the key 'high' appears twice in one JSON object"),
    ("config: name with a newline", lambda: C({"rot\n": {"kind": "bernoulli"}}), ValueError, "parameter name must be"),
    ("config: name with a path separator", lambda: C({"a/b": {"kind": "bernoulli"}}), ValueError, "no spaces, control characters or path separators"),
    ("config: name with a backslash", lambda: C({"a\\b": {"kind": "bernoulli"}}), ValueError, "parameter name must be"),
    ("config: name with a tab", lambda: C({"a\tb": {"kind": "bernoulli"}}), ValueError, "parameter name must be"),
    ("config: name too long", lambda: C({"a" * 201: {"kind": "bernoulli"}}), ValueError, "at most 200 characters"),
    ("config: truncated JSON", lambda: C.from_json('{"a": {"kind": "uniform", "low": 0, "high"'), ValueError, "config is not valid JSON"),
    ("config: JSON not a dict", lambda: C.from_json("[1]"), TypeError, "a config must be a dict"),
    *[(f"spec: {case}", (lambda spec=spec: C({"x": spec})), exc, fragment) for case, spec, exc, fragment in REFUSED_SPECS],
    ("preset: unknown", lambda: dpa.get_preset("wild"), ValueError, "unknown preset 'wild'; valid presets: ['mild', 'moderate', 'aggressive']"),
    # --- kernel and keys
    ("kernel: int out of range", lambda: xxh64_pair(2**64, 0, 0), ValueError, "a must be in [0, 2**64)"),
    ("kernel: signed array", lambda: xxh64_pair(np.array([1]), 0, 0), TypeError, "must be a numpy uint64 array"),
    ("key: not a string", lambda: dpa.sample_id_from_key(42), TypeError, "key must be a str, bytes or os.PathLike"),
    ("key: lone surrogate", lambda: dpa.sample_id_from_key("caf\udce9.jpg"), ValueError, "cannot be encoded as UTF-8"),
    # --- distributed
    ("splitter: world_size < 1", lambda: DistributedRangeSplitter(10, 0), ValueError, "world_size must be in [1, 2**64); got 0"),
    ("splitter: world_size >= 2**64", lambda: DistributedRangeSplitter(10, 2**64), ValueError,
     "world_size must be in [1, 2**64); got 18446744073709551616"),
    ("distributed stream: world_size >= 2**64", lambda: next(stream_distributed_augmentation_chunks(10, 0, 2**64, CFG)),
     ValueError, "world_size must be in [1, 2**64); got 18446744073709551616"),
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
    ("checkpoint: field given twice in JSON", lambda: ElasticCheckpoint.from_json(
        '{"epoch": 0, "consumed": 1, "num_samples": 4, "fingerprint": "f", "consumed": 3}'), ValueError,
     "checkpoint is not valid: the key 'consumed' appears twice in one JSON object"),
    ("checkpoint: float consumed", lambda: ElasticCheckpoint(epoch=0, consumed=1.0, num_samples=4, fingerprint="f"), TypeError,
     "consumed must be an integer >= 0; got 1.0 of type float"),
    ("checkpoint: consumed > num_samples", lambda: ElasticCheckpoint(epoch=0, consumed=5, num_samples=4, fingerprint="f"), ValueError,
     "consumed must be in [0, num_samples=4]; got 5"),
    ("checkpoint: bool stream_version", lambda: ElasticCheckpoint.from_json(
        '{"epoch": 0, "consumed": 1, "num_samples": 4, "fingerprint": "f", "stream_version": true}'), TypeError,
     "stream_version must be an integer >= 1; got True"),
    ("checkpoint: fingerprint not a string", lambda: ElasticCheckpoint(epoch=0, consumed=1, num_samples=4, fingerprint=5),
     TypeError, "fingerprint must be a str"),
    ("checkpoint: num_samples > 2**64", lambda: ElasticCheckpoint(epoch=0, consumed=1, num_samples=2**64 + 1, fingerprint="f"),
     ValueError, "num_samples must be in [0, 2**64]"),
    ("checkpoint: missing field", lambda: ElasticCheckpoint.from_json('{"epoch": 0, "consumed": 1, "num_samples": 4}'),
     ValueError, "checkpoint is missing field(s) ['fingerprint']"),
    ("checkpoint: from_progress with a bool world_size", lambda: ElasticCheckpoint.from_progress(CFG, 10, True, 1), TypeError,
     "world_size must be an integer in [1, 2**64); got True"),
    ("checkpoint: from_progress with world_size 0", lambda: ElasticCheckpoint.from_progress(CFG, 10, 0, 1), ValueError,
     "world_size must be in [1, 2**64); got 0"),
    ("checkpoint: from_progress from beyond the end", lambda: ElasticCheckpoint.from_progress(CFG, 10, 2, 1, start=11),
     ValueError, "start must be in [0, num_samples] = [0, 10]; got 11"),
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
    ("batch config: memory infinite", lambda: BatchConfig(max_memory_mb=math.inf), ValueError,
     "BatchConfig.max_memory_mb must be finite"),
    ("batch config: memory beyond a double", lambda: BatchConfig(max_memory_mb=10**400), ValueError,
     "BatchConfig.max_memory_mb must be finite"),
    ("batch config: num_batches < 1", lambda: BatchConfig(num_batches=0), ValueError, "num_batches must be >= 1"),
    ("batch config: latency <= 0", lambda: BatchConfig(target_latency_s=0), ValueError, "target_latency_s must be > 0"),
    ("batch processor: unknown strategy", lambda: BatchProcessor("fastest"), ValueError, "unknown batching strategy 'fastest'"),
    ("batch processor: strategy named twice, differently",
     lambda: BatchProcessor("adaptive", BatchConfig(strategy="sequential")), ValueError, "name the strategy once"),
    ("benchmark config: iterations < 1", lambda: BenchmarkConfig(iterations=0), ValueError, "iterations must be >= 1; got 0"),
    # --- dpa.Generator and spec programs
    ("generator: not a config", lambda: dpa.Generator([1, 2]), TypeError, "config must be an AugmentationConfig"),
    ("generator: float seed", lambda: dpa.Generator(CFG, seed=1.5), TypeError, "seed must be an integer in [0, 2**64)"),
    ("generator: seed >= 2**64", lambda: dpa.Generator(CFG, seed=2**64), ValueError, "seed must be in [0, 2**64)"),
    ("generator: epoch >= 2**32", lambda: dpa.Generator(CFG).params(0, epoch=2**32), ValueError,
     "epoch must be in [0, 2**32); got 4294967296"),
    ("generator: bool epoch", lambda: dpa.Generator(CFG).batch([0], epoch=True), TypeError, "epoch must be an integer"),
    ("generator: unknown executor", lambda: dpa.Generator(CFG).batch([0], executor="gpu"), ValueError,
     "executor must be None or one of ['compiled', 'numpy', 'torch', 'python']; got 'gpu'"),
    ("generator: compiled executor switched off", lambda: dpa.Generator(CFG, compiled=False).batch([0], executor="compiled"),
     ValueError, "executor='compiled' needs the C kernel"),
    ("distributed stream: no config", lambda: stream_distributed_augmentation_chunks(10, 0, 2), TypeError,
     "stream_distributed_augmentation_chunks() needs config="),
    ("spec program: a draw the kind does not declare", lambda: C({"x": _BadDrawSpec()}), TypeError,
     "test_bad_draw program: draw index must be an integer in [0, 1) (n_draws); got 1"),
]

if HAS_TORCH:
    import torch

    from dpa.apply import apply_params, noise_field
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
        ("dataset: float tensor index", lambda: AugmentedDataset([1, 2, 3], CFG)[torch.tensor(2.7)], TypeError,
         "index must be an integer; got tensor(2.7000)"),
        ("dataset: bool tensor index", lambda: AugmentedDataset([1, 2, 3], CFG)[torch.tensor(True)], TypeError,
         "index must be an integer; got tensor(True)"),
        ("dataset: chunk_size 2.5", lambda: AugmentedDataset([1, 2, 3], CFG, chunk_size=2.5), TypeError,
         "chunk_size must be an integer >= 1; got 2.5 of type float"),
        ("batch: meta device", lambda: B([0], CFG, backend="torch", device="meta"), ValueError,
         "device must be a CPU or CUDA device; got 'meta' (a 'meta' tensor holds no data)"),
        ("noise field: meta device", lambda: noise_field((1, 1, 2, 2), [0], device="meta"), ValueError,
         "device must be a CPU or CUDA device; got 'meta'"),
        ("noise field: no batch dimension", lambda: noise_field((), []), ValueError,
         "shape must be (B, ...) with a batch dimension; got ()"),
        ("noise field: float shape", lambda: noise_field((1.5, 1, 2, 2), [0]), TypeError, "shape[0] must be an integer >= 0; got 1.5"),
        ("batch: unknown device", lambda: B([0], CFG, backend="torch", device="gpu0"), ValueError,
         "device must be a torch device such as 'cpu' or 'cuda'; got 'gpu0'"),
        ("apply: wrong rank", lambda: apply_params(torch.zeros(4, 4), {}), ValueError, "shape (C, H, W) or (B, C, H, W)"),
        ("apply: wrong dtype", lambda: apply_params(torch.zeros(3, 4, 4, dtype=torch.int16), {}), TypeError, "uint8 or floating point"),
        ("apply: missing key", lambda: apply_params(torch.zeros(3, 4, 4), {"crop_x": 0.0}), ValueError, "but miss"),
        ("apply: batch length mismatch", lambda: apply_params(torch.zeros(2, 3, 4, 4), {"hflip": [True]}), ValueError,
         "must be a number or have one value per image (2)"),
    ]
    if not torch.cuda.is_available():
        MATRIX.append(("batch: CUDA without CUDA", lambda: B([0], CFG, backend="torch", device="cuda"), ValueError,
                       "torch.cuda.is_available() is False"))

    from dpa.apply import noise_field

    MATRIX.append(("apply: noise field without a name", lambda: noise_field((1, 2), [0], name=""), ValueError,
                   "name must be a non-empty string"))

if HAS_TORCH and importlib.util.find_spec("torchvision") is not None:
    from torchvision.transforms import v2

    from dpa.integrations.torchvision import UnsupportedTransformError, deterministic

    MATRIX += [
        ("torchvision: a random transform dpa cannot drive", lambda: deterministic(v2.MixUp(num_classes=3), seed=0),
         UnsupportedTransformError, "torchvision transform MixUp is random and dpa cannot drive it"),
        ("torchvision: inverted range", lambda: deterministic(v2.RandomRotation((10, -10)), seed=0), ValueError,
         "RandomRotation: its hyperparameters cannot be a dpa config"),
        ("torchvision: a name that matches nothing", lambda: deterministic(v2.RandomRotation(5), seed=0, names={"Rotation": "r"}),
         ValueError, "names= has keys that match no random transform"),
        ("torchvision: bad seed", lambda: deterministic(v2.RandomRotation(5), seed=2**64), ValueError, "seed must be in [0, 2**64)"),
        ("torchvision: bad sample id", lambda: deterministic(v2.RandomRotation(5), seed=0)(torch.zeros(1, 2, 2), sample_id=-1, epoch=0),
         ValueError, "sample_id must be in [0, 2**64); got -1"),
    ]


@pytest.mark.parametrize("case, call, exc, fragment", MATRIX, ids=[row[0] for row in MATRIX])
def test_bad_input_matrix(case, call, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value), f"{case}: {info.value}"
