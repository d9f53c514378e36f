"""Streams: same values as the batch API for any chunking and start, in constant memory."""

from __future__ import annotations

import gc

import numpy as np
import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dpa
from tests.conftest import requires_torch

CFG = dpa.get_preset("moderate")


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 2000), chunk=st.integers(1, 700), start_frac=st.floats(0, 1), seed=st.integers(0, 2**64 - 1))
def test_chunks_equal_the_batch_api(n: int, chunk: int, start_frac: float, seed: int) -> None:
    start = int(n * start_frac)
    chunks = list(dpa.stream_augmentation_chunks(n, CFG, seed=seed, epoch=2, chunk_size=chunk, start=start))
    assert all(len(c) == chunk for c in chunks[:-1])
    ids = np.concatenate([c.sample_ids for c in chunks]) if chunks else np.empty(0, dtype=np.uint64)
    np.testing.assert_array_equal(ids, np.arange(start, n, dtype=np.uint64))
    ref = dpa.gen_augmentation_batch(range(start, n), CFG, seed=seed, epoch=2)
    for name in ref:
        got = np.concatenate([c.params[name] for c in chunks]) if chunks else ref[name][:0]
        np.testing.assert_array_equal(got, ref[name])


def test_chain_equals_scalar_and_resumes_anywhere() -> None:
    full = list(dpa.stream_augmentation_chain(500, CFG, seed=9, chunk_size=64))
    assert full[123] == dpa.gen_augmentation_params(123, CFG, seed=9)
    for start in (0, 1, 63, 64, 65, 499, 500):
        tail = list(dpa.stream_augmentation_chain(500, CFG, seed=9, chunk_size=64, start=start))
        assert tail == full[start:]


def test_infinite_stream_runs_to_the_last_id() -> None:
    s = dpa.stream_augmentation_chunks(float("inf"), CFG, chunk_size=3, start=2**64 - 5)
    ids = [int(i) for c in s for i in c.sample_ids]
    assert ids == [2**64 - 5 + i for i in range(5)]
    endless = dpa.stream_augmentation_chain(float("inf"), CFG, seed=4)
    first = [next(endless) for _ in range(25_000)]
    assert first[24_999] == dpa.gen_augmentation_params(24_999, CFG, seed=4)


def test_param_batch() -> None:
    batch = next(dpa.stream_augmentation_chunks(100, CFG, chunk_size=10, start=5))
    assert len(batch) == 10
    rows = batch.to_dicts()
    assert rows[0] == dpa.gen_augmentation_params(5, CFG)
    assert list(batch)[3] == rows[3]
    sel = batch.select(batch.params["hflip"])
    assert len(sel) == int(batch.params["hflip"].sum())


@requires_torch
def test_param_batch_to_torch() -> None:
    import torch

    batch = next(dpa.stream_augmentation_chunks(100, CFG, chunk_size=10))
    t = batch.to_torch()
    assert t["rotation"].dtype == torch.float64 and t["hflip"].dtype == torch.bool
    np.testing.assert_array_equal(t["rotation"].numpy(), batch.params["rotation"])


@pytest.mark.parametrize(
    "kwargs, exc, fragment",
    [
        ({"num_samples": -1}, ValueError, "num_samples must be in [0, 2**64] or float('inf'); got -1"),
        ({"num_samples": 2**64 + 1}, ValueError, "num_samples must be in [0, 2**64]"),
        ({"num_samples": 10.5}, TypeError, "num_samples must be an integer"),
        ({"num_samples": float("nan")}, TypeError, "num_samples must be an integer"),
        ({"num_samples": 10, "chunk_size": 0}, ValueError, "chunk_size must be >= 1; got 0"),
        ({"num_samples": 10, "chunk_size": 2.0}, TypeError, "chunk_size must be an integer"),
        ({"num_samples": 10, "start": 11}, ValueError, "start must be in [0, num_samples] = [0, 10]; got 11"),
        ({"num_samples": 10, "start": -1}, ValueError, "start must be in [0, num_samples]"),
        ({"num_samples": 10, "seed": -1}, ValueError, "seed must be in [0, 2**64)"),
        ({"num_samples": 10, "epoch": 2**32}, ValueError, "epoch must be in [0, 2**32)"),
    ],
)
@pytest.mark.parametrize("fn", [dpa.stream_augmentation_chunks, dpa.stream_augmentation_chain])
def test_bad_input_is_refused_before_the_first_item(fn, kwargs, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        fn(config=CFG, **kwargs)  # no next(): the call itself must raise
    assert fragment in str(info.value)


def test_memory_is_constant() -> None:
    """Stream 20 million samples; RSS after the first million must stop growing (psutil, this process)."""
    proc = psutil.Process()
    cfg = dpa.get_preset("mild")
    gc.collect()
    readings = []
    seen = 0
    for chunk in dpa.stream_augmentation_chunks(20_000_000, cfg, chunk_size=100_000):
        seen += len(chunk)
        if seen % 1_000_000 == 0:
            readings.append(proc.memory_info().rss)
    assert seen == 20_000_000
    growth = max(readings[1:]) - readings[0]
    assert growth < 8 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB after the first million"
