"""ElasticCheckpoint records its split mode: only a strided run's progress is a prefix of the ids."""

from __future__ import annotations

import json

import pytest

import dpa
from dpa.distributed import ElasticCheckpoint, stream_distributed_augmentation_chunks

CFG = dpa.get_preset("mild")


def test_resuming_a_contiguous_run_is_refused() -> None:
    """10 ids, 2 contiguous ranks, 2 steps, then 3 ranks: ids 2, 3 were never processed and 5, 6 twice."""
    ck = ElasticCheckpoint.from_progress(CFG, num_samples=10, world_size=2, steps=2)
    with pytest.raises(ValueError, match="an ElasticCheckpoint needs mode='strided'; got mode='contiguous'"):
        next(stream_distributed_augmentation_chunks(10, 0, 3, CFG, mode="contiguous", checkpoint=ck))
    with pytest.raises(ValueError, match="contiguous ranks consume the start of each rank's block"):
        ElasticCheckpoint.from_progress(CFG, num_samples=10, world_size=2, steps=2, mode="contiguous")


def test_the_strided_run_it_describes_resumes_exactly() -> None:
    done = []
    for rank in range(2):
        done += next(stream_distributed_augmentation_chunks(10, rank, 2, CFG, chunk_size=2)).sample_ids.tolist()
    ck = ElasticCheckpoint.from_json(ElasticCheckpoint.from_progress(CFG, 10, 2, 2).to_json())
    for rank in range(3):
        for chunk in stream_distributed_augmentation_chunks(10, rank, 3, CFG, checkpoint=ck):
            done += chunk.sample_ids.tolist()
    assert sorted(done) == list(range(10))


def test_the_mode_is_recorded_and_checked() -> None:
    ck = ElasticCheckpoint.from_progress(CFG, num_samples=10, world_size=2, steps=2)
    data = json.loads(ck.to_json())
    assert data["mode"] == "strided"
    # A checkpoint written before the mode was recorded was a strided one.
    del data["mode"]
    assert ElasticCheckpoint.from_dict(data) == ck
    with pytest.raises(ValueError, match="needs mode='strided'; got mode='contiguous'"):
        ElasticCheckpoint.from_dict({**data, "mode": "contiguous"})
    with pytest.raises(ValueError, match="needs mode='strided'; got mode='diagonal'"):
        ck.check(CFG, seed=0, epoch=0, num_samples=10, mode="diagonal")


def test_from_progress_counts_padding_and_short_last_chunks_to_the_end() -> None:
    # 3 ranks over 10 ids take 4 steps (the last one pads 2 ranks): the epoch is done.
    assert ElasticCheckpoint.from_progress(CFG, 10, 3, 4).consumed == 10
    assert ElasticCheckpoint.from_progress(CFG, 10, 3, 3).consumed == 9
    # chunks of 4 from 2 ranks' 5 ids: 2 chunks "are" 8 steps, the second one short
    assert ElasticCheckpoint.from_progress(CFG, 10, 2, 8).consumed == 10
