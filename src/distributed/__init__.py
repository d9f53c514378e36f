"""dpa.distributed: rank-aware range splitting and per-rank parameter streams.

Every rank gets its own share of the sample ids, with params that do not
depend on how many ranks there are (they depend only on the ids), and an
interrupted epoch resumes with the same or a different number of ranks.
Importing this package never requires torch.

>>> import dpa
>>> from dpa.distributed import DistributedRangeSplitter
>>> DistributedRangeSplitter(10, 4).validate_ranges().indices(1).tolist()
[1, 5, 9]
"""

from dpa.distributed.checkpoint import ElasticCheckpoint
from dpa.distributed.consistency import RankMismatchError, assert_consistent_across_ranks
from dpa.distributed.env import get_rank_world_size
from dpa.distributed.params import (
    gen_distributed_augmentation_params,
    stream_distributed_augmentation_chain,
    stream_distributed_augmentation_chunks,
)
from dpa.distributed.splitter import DistributedRangeSplitter

__all__ = [
    "DistributedRangeSplitter",
    "ElasticCheckpoint",
    "RankMismatchError",
    "assert_consistent_across_ranks",
    "gen_distributed_augmentation_params",
    "get_rank_world_size",
    "stream_distributed_augmentation_chain",
    "stream_distributed_augmentation_chunks",
]
