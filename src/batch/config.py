"""BatchStrategy and BatchConfig: which batching strategy, and its bounds."""

from __future__ import annotations

import enum
import math
import numbers
from dataclasses import dataclass
from typing import Any

from dpa import validate

__all__ = ["BatchStrategy", "BatchConfig"]


class BatchStrategy(str, enum.Enum):
    """The built-in strategies; their values are the names they are registered under."""

    SEQUENTIAL = "sequential"  # consecutive samples, fixed batch_size
    ROUND_ROBIN = "round_robin"  # num_batches interleaved batches per window
    MEMORY_OPTIMIZED = "memory_optimized"  # size from bytes per sample and available memory
    ADAPTIVE = "adaptive"  # size steered by the consumer's measured time per batch


def _positive_int(name: str, value: Any) -> int:
    return validate.count(value, f"BatchConfig.{name}")


def _positive_float(name: str, value: Any, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"BatchConfig.{name} must be a number > 0; got {value!r}")
    raw = value
    try:
        value = float(value)
    except OverflowError:  # an int beyond the largest double
        value = math.inf
    if math.isinf(value):
        shown = f"an integer of {len(str(abs(raw)))} digits" if isinstance(raw, numbers.Integral) else repr(raw)
        raise ValueError(f"BatchConfig.{name} must be finite (a number > 0); got {shown}")
    if not value > 0 or value != value or (high is not None and value > high):
        rng = f"in (0, {high}]" if high is not None else "> 0"
        raise ValueError(f"BatchConfig.{name} must be {rng}; got {value}")
    return value


@dataclass(frozen=True)
class BatchConfig:
    """Bounds and targets of a batching strategy; ``BatchConfig(strategy=s)`` works for each built-in.

    Attributes:
        strategy: a :class:`BatchStrategy` or the name of a registered strategy;
            None (the default) leaves the choice to :class:`~dpa.batch.BatchProcessor`
            (its ``strategy`` argument, else SEQUENTIAL).
        batch_size: SEQUENTIAL's and ROUND_ROBIN's batch size; ADAPTIVE's first size.
        min_batch_size, max_batch_size: bounds for MEMORY_OPTIMIZED and ADAPTIVE
            (``min <= batch_size <= max``).
        max_memory_mb: MEMORY_OPTIMIZED never builds a batch larger than this.
        memory_fraction: the share of currently available memory a batch may use (0, 1].
        num_batches: ROUND_ROBIN's interleaved batches per window.
        target_latency_s: ADAPTIVE aims at this consumer time per batch; None
            means "best throughput" instead.
    """

    strategy: Any = None
    batch_size: int = 256
    min_batch_size: int = 1
    max_batch_size: int = 1 << 20
    max_memory_mb: float = 512.0
    memory_fraction: float = 0.25
    num_batches: int = 4
    target_latency_s: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.strategy, str) and not isinstance(self.strategy, BatchStrategy):
            try:
                object.__setattr__(self, "strategy", BatchStrategy(self.strategy))
            except ValueError:
                pass  # a user-registered name, checked when the processor is built
        elif self.strategy is not None and not isinstance(self.strategy, BatchStrategy):
            raise TypeError(f"BatchConfig.strategy must be a BatchStrategy or a registered name; got {self.strategy!r}")
        for name in ("batch_size", "min_batch_size", "max_batch_size", "num_batches"):
            object.__setattr__(self, name, _positive_int(name, getattr(self, name)))
        if self.min_batch_size > self.max_batch_size:
            raise ValueError(
                f"BatchConfig: min_batch_size must be <= max_batch_size; got {self.min_batch_size} > {self.max_batch_size}"
            )
        if not self.min_batch_size <= self.batch_size <= self.max_batch_size:
            raise ValueError(
                f"BatchConfig.batch_size must be in [min_batch_size, max_batch_size] = "
                f"[{self.min_batch_size}, {self.max_batch_size}]; got {self.batch_size}"
            )
        object.__setattr__(self, "max_memory_mb", _positive_float("max_memory_mb", self.max_memory_mb))
        object.__setattr__(self, "memory_fraction", _positive_float("memory_fraction", self.memory_fraction, 1.0))
        if self.target_latency_s is not None:
            object.__setattr__(self, "target_latency_s", _positive_float("target_latency_s", self.target_latency_s))

    @property
    def strategy_name(self) -> str:
        """The strategy's registered name (``"sequential"`` when none is set)."""
        if self.strategy is None:
            return BatchStrategy.SEQUENTIAL.value
        return self.strategy.value if isinstance(self.strategy, BatchStrategy) else str(self.strategy)
