"""Batching strategies: a tiny base class, the four built-ins, and the registry.

A strategy decides, window by window, how many samples to take from the
stream and how to split them into batches; after each batch the processor
tells it how long the consumer took. Strategies see sizes and times only,
never the values, so every strategy yields every sample exactly once with
the values the stream carried.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from dpa.batch.config import BatchConfig, BatchStrategy

__all__ = [
    "BatchingStrategy",
    "SequentialStrategy",
    "RoundRobinStrategy",
    "MemoryOptimizedStrategy",
    "AdaptiveStrategy",
    "register_strategy",
    "strategy_names",
    "make_strategy",
]

MemoryProbe = Callable[[], float]  # available memory, MiB
Clock = Callable[[], float]  # seconds


class BatchingStrategy:
    """Base class. Override :meth:`window` (and :meth:`split`, :meth:`observe` where needed).

    Attributes:
        config: the :class:`BatchConfig`.
        bytes_per_sample: set by the processor from the first chunk (ids + all outputs).
        decisions: ``(size, reason)`` of recent choices, for ``BatchProcessor.stats``.
    """

    name = "base"

    def __init__(self, config: BatchConfig, memory_probe: MemoryProbe, clock: Clock) -> None:
        self.config = config
        self.memory_probe = memory_probe
        self.clock = clock
        self.bytes_per_sample: int | None = None
        self.decisions: list[tuple[int, str]] = []

    def window(self) -> int:
        """How many samples to take for the next window (>= 1)."""
        return self.config.batch_size

    def split(self, n: int) -> list[Any]:
        """Positions of each batch within a window of ``n`` samples: slices or index arrays."""
        return [slice(0, n)]

    def observe(self, batch_size: int, seconds: float) -> None:
        """The consumer took ``seconds`` for a batch of ``batch_size`` samples."""

    def _decide(self, size: int, reason: str) -> int:
        self.decisions.append((size, reason))
        del self.decisions[:-100]
        return size


class SequentialStrategy(BatchingStrategy):
    """Consecutive samples in batches of ``batch_size`` (the last may be smaller)."""

    name = BatchStrategy.SEQUENTIAL.value


class RoundRobinStrategy(BatchingStrategy):
    """Windows of ``num_batches * batch_size`` samples dealt out like cards.

    Batch ``j`` of a window takes positions ``j, j + num_batches, ...``, so
    each batch sees a spread of the stream rather than one run of it.
    """

    name = BatchStrategy.ROUND_ROBIN.value

    def window(self) -> int:
        return self.config.batch_size * self.config.num_batches

    def split(self, n: int) -> list[Any]:
        k = min(self.config.num_batches, n)
        return [np.arange(j, n, k) for j in range(k)]


class MemoryOptimizedStrategy(BatchingStrategy):
    """Batch size from the bytes a sample's params take and the memory available now.

    ``size = budget // bytes_per_sample``, with ``budget = min(max_memory_mb,
    memory_fraction * available)``, clamped to ``[min_batch_size,
    max_batch_size]``. It is read afresh for every batch, so it shrinks under
    memory pressure and grows back when the pressure eases. A batch never
    exceeds ``max_memory_mb``: if even ``min_batch_size`` samples would, the
    processor raises instead of breaking the bound.
    """

    name = BatchStrategy.MEMORY_OPTIMIZED.value

    def window(self) -> int:
        cfg = self.config
        bps = self.bytes_per_sample or 8
        available = float(self.memory_probe())
        budget_mb = min(cfg.max_memory_mb, cfg.memory_fraction * available)
        size = int(budget_mb * 1024 * 1024) // bps
        hard_cap = int(cfg.max_memory_mb * 1024 * 1024) // bps
        if cfg.min_batch_size > hard_cap:
            raise ValueError(
                f"min_batch_size={cfg.min_batch_size} samples of {bps} bytes exceed max_memory_mb={cfg.max_memory_mb}; "
                f"lower min_batch_size to at most {hard_cap} or raise max_memory_mb"
            )
        clamped = min(max(size, cfg.min_batch_size), cfg.max_batch_size, hard_cap)
        reason = (
            f"available {available:.0f} MiB x {cfg.memory_fraction} vs max {cfg.max_memory_mb:.0f} MiB -> budget "
            f"{budget_mb:.1f} MiB / {bps} B per sample = {size}"
        )
        if clamped != size:
            reason += f", clamped to [{cfg.min_batch_size}, {min(cfg.max_batch_size, hard_cap)}]"
        return self._decide(clamped, reason)


class AdaptiveStrategy(BatchingStrategy):
    """Batch size steered by the consumer's measured time per batch, within ``[min, max]``.

    With ``target_latency_s``: the time per sample is tracked as an
    exponential average and the next size is ``target / time_per_sample``,
    moved at most a factor of 2 per batch and only when it differs by more
    than 5% (so it settles instead of oscillating). Without a target: a
    hill climb on throughput (samples/s), growing by 25% while throughput
    improves by more than 2%, then stepping back once and holding.
    """

    name = BatchStrategy.ADAPTIVE.value
    _ALPHA = 0.5  # weight of the newest measurement
    _DEADBAND = 0.05
    _STEP = 1.25

    def __init__(self, config: BatchConfig, memory_probe: MemoryProbe, clock: Clock) -> None:
        super().__init__(config, memory_probe, clock)
        self.size = config.batch_size
        self._per_sample: float | None = None
        self._best: tuple[float, int] | None = None  # (throughput, size)
        self._settled = False

    def _clamp(self, size: float) -> int:
        return int(min(max(round(size), self.config.min_batch_size), self.config.max_batch_size))

    def window(self) -> int:
        return self.size

    def observe(self, batch_size: int, seconds: float) -> None:
        if batch_size <= 0 or seconds <= 0 or not math.isfinite(seconds):
            return
        if batch_size < self.size:  # the stream's short last batch says little
            return
        if self.config.target_latency_s is not None:
            self._toward_target(batch_size, seconds)
        else:
            self._climb(batch_size, seconds)

    def _toward_target(self, batch_size: int, seconds: float) -> None:
        per = seconds / batch_size
        self._per_sample = per if self._per_sample is None else self._ALPHA * per + (1 - self._ALPHA) * self._per_sample
        ideal = self.config.target_latency_s / self._per_sample
        step = min(max(ideal, self.size / 2), self.size * 2)
        new = self._clamp(step)
        if abs(new - self.size) > self._DEADBAND * self.size:
            self.size = self._decide(
                new, f"{seconds * 1e3:.2f} ms for {batch_size} -> {self._per_sample * 1e6:.3f} us/sample; "
                     f"target {self.config.target_latency_s * 1e3:.2f} ms -> {ideal:.0f}"
            )

    def _climb(self, batch_size: int, seconds: float) -> None:
        rate = batch_size / seconds
        if self._settled:
            return
        if self._best is None or rate > self._best[0] * 1.02:
            self._best = (rate, batch_size)
            grown = self._clamp(self.size * self._STEP)
            if grown == self.size:
                self._settled = True
                self._decide(self.size, f"{rate:.0f} samples/s at the upper bound {self.size}: holding")
                return
            self.size = self._decide(grown, f"{rate:.0f} samples/s at {batch_size} improved: trying {grown}")
        else:
            self._settled = True
            self.size = self._decide(
                self._best[1], f"{rate:.0f} samples/s at {batch_size} is no better than {self._best[0]:.0f} at "
                               f"{self._best[1]}: holding {self._best[1]}"
            )


# --------------------------------------------------------------------------- registry

StrategyFactory = Callable[[BatchConfig, MemoryProbe, Clock], BatchingStrategy]
_REGISTRY: dict[str, StrategyFactory] = {}


def register_strategy(name: str, factory: StrategyFactory, *, replace: bool = False) -> None:
    """Make ``factory(config, memory_probe, clock)`` available as strategy ``name``.

    Raises:
        ValueError: the name is taken (pass ``replace=True`` to override) or empty.
        TypeError: the factory is not callable.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"strategy name must be a non-empty string; got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory must be callable; got {type(factory).__name__}")
    if name in _REGISTRY and not replace:
        raise ValueError(f"strategy {name!r} is already registered; pass replace=True to override it")
    _REGISTRY[name] = factory


def strategy_names() -> list[str]:
    return sorted(_REGISTRY)


def make_strategy(config: BatchConfig, memory_probe: MemoryProbe, clock: Clock) -> BatchingStrategy:
    name = config.strategy_name
    if name not in _REGISTRY:
        raise ValueError(f"unknown batching strategy {name!r}; registered: {strategy_names()}")
    strategy = _REGISTRY[name](config, memory_probe, clock)
    if not isinstance(strategy, BatchingStrategy):
        raise TypeError(f"strategy factory {name!r} returned {type(strategy).__name__}, not a BatchingStrategy")
    return strategy


for _cls in (SequentialStrategy, RoundRobinStrategy, MemoryOptimizedStrategy, AdaptiveStrategy):
    register_strategy(_cls.name, _cls)
