"""dpa.batch: pluggable batching strategies over parameter streams.

>>> import dpa
>>> from dpa.batch import BatchProcessor, BatchStrategy, BatchConfig
>>> proc = BatchProcessor(BatchConfig(strategy=BatchStrategy.ROUND_ROBIN, batch_size=2, num_batches=3))
>>> [b.sample_ids.tolist() for b in proc.process_stream(dpa.stream_augmentation_chunks(6, dpa.get_preset("mild")))]
[[0, 3], [1, 4], [2, 5]]
"""

from dpa.batch.config import BatchConfig, BatchStrategy
from dpa.batch.processor import BatchProcessor, BatchStats, available_memory_mb
from dpa.batch.strategies import (
    AdaptiveStrategy,
    BatchingStrategy,
    MemoryOptimizedStrategy,
    RoundRobinStrategy,
    SequentialStrategy,
    register_strategy,
    strategy_names,
)

__all__ = [
    "AdaptiveStrategy",
    "BatchConfig",
    "BatchProcessor",
    "BatchStats",
    "BatchStrategy",
    "BatchingStrategy",
    "MemoryOptimizedStrategy",
    "RoundRobinStrategy",
    "SequentialStrategy",
    "available_memory_mb",
    "register_strategy",
    "strategy_names",
]
