"""Per-rank params and streams (in one process): ranks' union == a single-process run."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dpa
from dpa.distributed import (
    DistributedRangeSplitter,
    ElasticCheckpoint,
    gen_distributed_augmentation_params,
    get_rank_world_size,
    stream_distributed_augmentation_chain,
    stream_distributed_augmentation_chunks,
)
from dpa.distributed.env import resolve_rank

CFG = dpa.get_preset("moderate")


def test_local_index_maps_to_the_strided_global_id() -> None:
    for w in (1, 3, 8):
        for r in range(w):
            for local in (0, 1, 17):
                assert gen_distributed_augmentation_params(local, r, w, CFG, seed=5, epoch=1) == \
                    dpa.gen_augmentation_params(local * w + r, CFG, seed=5, epoch=1)
    # Different ranks, same local id: different samples, different params.
    a = gen_distributed_augmentation_params(42, 0, 8, CFG)
    b = gen_distributed_augmentation_params(42, 1, 8, CFG)
    assert a != b


def test_contiguous_mode_needs_the_length() -> None:
    with pytest.raises(ValueError, match="needs num_samples"):
        gen_distributed_augmentation_params(0, 0, 2, CFG, mode="contiguous")
    p = gen_distributed_augmentation_params(2, 1, 3, CFG, mode="contiguous", num_samples=10)
    assert p == dpa.gen_augmentation_params(6, CFG)


def test_local_index_beyond_the_id_domain() -> None:
    with pytest.raises(ValueError, match="beyond the last id"):
        gen_distributed_augmentation_params(2**64 - 1, 1, 2, CFG)


@settings(max_examples=40, deadline=None)
@given(
    n=st.one_of(st.integers(0, 4), st.integers(0, 1500)),
    w=st.integers(1, 9),
    mode=st.sampled_from(["strided", "contiguous"]),
    extra=st.sampled_from(["none", "drop_last", "pad"]),
    chunk=st.integers(1, 300),
)
def test_rank_streams_equal_the_batch_api_and_cover_exactly(n, w, mode, extra, chunk) -> None:
    drop_last, pad = extra == "drop_last", extra == "pad"
    splitter = DistributedRangeSplitter(n, w, mode=mode, drop_last=drop_last, pad=pad)
    seen = []
    for r in range(w):
        chunks = list(stream_distributed_augmentation_chunks(
            n, r, w, CFG, seed=3, chunk_size=chunk, mode=mode, drop_last=drop_last, pad=pad))
        ids = np.concatenate([c.sample_ids for c in chunks]) if chunks else np.empty(0, np.uint64)
        np.testing.assert_array_equal(ids, splitter.indices(r))
        if chunks:
            ref = dpa.gen_augmentation_batch(ids, CFG, seed=3)
            for name in ref:
                np.testing.assert_array_equal(np.concatenate([c.params[name] for c in chunks]), ref[name])
            pad_mask = np.concatenate([c.padding if c.padding is not None else np.zeros(len(c), bool) for c in chunks])
            seen.extend(ids[~pad_mask].tolist())
    expected = n - (n % w if drop_last else 0)
    assert sorted(seen) == list(range(expected))


def test_chain_and_start() -> None:
    rows = list(stream_distributed_augmentation_chain(100, 2, 4, CFG, seed=1, chunk_size=7))
    assert len(rows) == 25 and rows[3] == dpa.gen_augmentation_params(14, CFG, seed=1)
    tail = list(stream_distributed_augmentation_chain(100, 2, 4, CFG, seed=1, chunk_size=7, start=10))
    assert tail == rows[10:]


def test_elastic_resume_from_4_to_3_ranks() -> None:
    n, steps = 1003, 100
    first_run = {}
    for r in range(4):
        for row_id, chunk in enumerate(stream_distributed_augmentation_chunks(n, r, 4, CFG, seed=7, epoch=2, chunk_size=steps)):
            if row_id == 0:  # every rank consumed `steps` samples, then the job died
                first_run.update(zip(chunk.sample_ids.tolist(), chunk.params["rotation"].tolist()))
    ck = ElasticCheckpoint.from_progress(CFG, num_samples=n, world_size=4, steps=steps, seed=7, epoch=2)
    assert ck.consumed == 400 and sorted(first_run) == list(range(400))
    ck = ElasticCheckpoint.from_json(ck.to_json())
    second_run = {}
    for r in range(3):
        for chunk in stream_distributed_augmentation_chunks(n, r, 3, CFG, seed=7, epoch=2, checkpoint=ck):
            for i, v in zip(chunk.sample_ids.tolist(), chunk.params["rotation"].tolist()):
                assert i not in second_run and i not in first_run
                second_run[i] = v
    assert sorted(first_run) + sorted(second_run) == list(range(n))
    ref = dpa.gen_augmentation_batch(range(n), CFG, seed=7, epoch=2)["rotation"].tolist()
    assert [{**first_run, **second_run}[i] for i in range(n)] == ref


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"seed": 8}, "seed 7 != 8"),
        ({"epoch": 3}, "epoch 2 != 3"),
        ({"config": dpa.get_preset("mild")}, "config fingerprint"),
        ({"num_samples": 999}, "num_samples 1003 != 999"),
    ],
)
def test_checkpoint_from_another_stream_is_refused(kwargs, fragment) -> None:
    ck = ElasticCheckpoint.from_progress(CFG, num_samples=1003, world_size=4, steps=10, seed=7, epoch=2)
    args = {"num_samples": 1003, "rank": 0, "world_size": 3, "config": CFG, "seed": 7, "epoch": 2, "checkpoint": ck}
    args.update(kwargs)
    with pytest.raises(ValueError, match="checkpoint does not match this stream") as info:
        stream_distributed_augmentation_chunks(**args)
    assert fragment in str(info.value)


def test_bad_checkpoints() -> None:
    with pytest.raises(ValueError, match=r"consumed must be in \[0, num_samples=10\]; got 11"):
        ElasticCheckpoint(epoch=0, consumed=11, num_samples=10, fingerprint="x")
    with pytest.raises(ValueError, match="unknown checkpoint field"):
        ElasticCheckpoint.from_dict({"epoch": 0, "consumed": 0, "num_samples": 1, "fingerprint": "x", "rank": 1})
    with pytest.raises(ValueError, match="not valid JSON"):
        ElasticCheckpoint.from_json("{")


@pytest.mark.parametrize(
    "kwargs, exc, fragment",
    [
        ({"rank": 3, "world_size": 3}, ValueError, "rank must be in [0, world_size=3); got 3"),
        ({"rank": -1, "world_size": 3}, ValueError, "rank must be in [0, world_size=3); got -1"),
        ({"rank": 0, "world_size": 0}, ValueError, "world_size must be in [1, 2**64); got 0"),
        ({"num_samples": -5}, ValueError, "num_samples must be in [0, 2**64]"),
        ({"num_samples": float("inf")}, ValueError, "num_samples must be finite"),
        ({"chunk_size": 0}, ValueError, "chunk_size must be >= 1; got 0"),
        ({"start": 35}, ValueError, "start must be in [0, 34] (rank 0's share); got 35"),
        ({"mode": "zigzag"}, ValueError, "mode must be one of"),
    ],
)
def test_stream_bad_input(kwargs, exc, fragment) -> None:
    args = {"num_samples": 100, "rank": 0, "world_size": 3, "config": CFG}
    args.update(kwargs)
    with pytest.raises(exc) as info:
        stream_distributed_augmentation_chunks(**args)
    assert fragment in str(info.value)


def test_rank_discovery_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert get_rank_world_size() == (0, 1)
    assert get_rank_world_size({"RANK": "2", "WORLD_SIZE": "4", "LOCAL_RANK": "0"}) == (2, 4)
    with pytest.raises(ValueError, match="WORLD_SIZE is missing"):
        get_rank_world_size({"RANK": "1"})
    with pytest.raises(ValueError, match="RANK must be an integer; got 'one'"):
        get_rank_world_size({"RANK": "one", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match=r"rank must be in \[0, world_size=2\); got 5"):
        get_rank_world_size({"RANK": "5", "WORLD_SIZE": "2"})
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert resolve_rank(None, None) == (1, 3)
    assert resolve_rank(0, None) == (0, 3)
    p = gen_distributed_augmentation_params(4, None, None, CFG)
    assert p == dpa.gen_augmentation_params(13, CFG)


def test_import_does_not_need_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
        "import dpa, dpa.distributed, dpa.batch, dpa.benchmark\n"
        "print(dpa.distributed.get_rank_world_size())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(0, 1)"


def test_options_after_config_still_work_positionally_with_a_deprecation_warning() -> None:
    """dpa 1.0's all-positional calls keep their meaning; keywords are the documented call."""
    from dpa.distributed import stream_distributed_augmentation_chain as chain

    keyword = [c.sample_ids.tolist() for c in stream_distributed_augmentation_chunks(10, 1, 3, CFG, seed=5, epoch=2, chunk_size=2)]
    with pytest.warns(DeprecationWarning, match="pass seed, epoch, chunk_size by keyword"):
        positional = [c.sample_ids.tolist() for c in stream_distributed_augmentation_chunks(10, 1, 3, CFG, 5, 2, 2)]
    assert positional == keyword == [[1, 4], [7]]
    with pytest.warns(DeprecationWarning):
        assert list(chain(10, 1, 3, CFG, 5, 2)) == list(chain(10, 1, 3, CFG, seed=5, epoch=2))
    with pytest.warns(DeprecationWarning):
        assert gen_distributed_augmentation_params(5, 2, 4, CFG, 3, 1) == gen_distributed_augmentation_params(
            sample_id=5, rank=2, world_size=4, config=CFG, seed=3, epoch=1)
    with pytest.raises(TypeError, match="multiple values for argument 'seed'"):
        stream_distributed_augmentation_chunks(10, 1, 3, CFG, 5, seed=5)
    with pytest.raises(TypeError, match="at most 12 positional arguments"):
        stream_distributed_augmentation_chunks(10, 1, 3, CFG, 0, 0, 10, 0, "strided", False, False, None, 1)
