"""dpa.distributed: rank-aware range splitting and per-rank parameter streams.

Planned (issue 3): ``DistributedRangeSplitter``, ``gen_distributed_augmentation_params``,
``stream_distributed_augmentation_chain``. Importing this package never requires torch.
"""

__all__: list[str] = []
