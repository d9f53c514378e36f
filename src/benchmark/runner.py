"""BenchmarkRunner: throughput of dpa's paths and of peer baselines, measured in one process.

>>> import dpa
>>> from dpa.benchmark import BenchmarkConfig, BenchmarkRunner
>>> runner = BenchmarkRunner(BenchmarkConfig(iterations=2, warmup=0, measure_memory=False))
>>> m = runner.benchmark_generation(1000, dpa.get_preset("mild"))
>>> m.samples, m.throughput_samples_per_second > 0
(1000, True)
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from dpa import validate
from dpa.benchmark.environment import describe_environment
from dpa.benchmark.metrics import BenchmarkMetrics, latency_percentiles, summarise_times
from dpa.benchmark.peers import available_peers, check_invariance
from dpa.benchmark.probes import measure_memory, measure_time

__all__ = ["BenchmarkConfig", "BenchmarkRunner"]


@dataclass(frozen=True)
class BenchmarkConfig:
    """How to measure.

    Attributes:
        iterations: timed runs per case (the median is reported), >= 1.
        warmup: untimed runs first, >= 0.
        measure_memory: sample RSS during one extra run (psutil).
        measure_cpu: record CPU utilisation of the timed runs.
        backend: ``"numpy"`` or ``"torch"`` for batch generation.
        device: torch device with ``backend="torch"`` (``"cuda"``).
        chunk_size: samples per chunk for streams and latency figures, >= 1.
        seed: the dpa seed used.
    """

    iterations: int = 10
    warmup: int = 1
    measure_memory: bool = True
    measure_cpu: bool = True
    backend: str = "numpy"
    device: str | None = None
    chunk_size: int = 10_000
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("iterations", 1), ("warmup", 0), ("chunk_size", 1)):
            validate.integer(getattr(self, name), f"BenchmarkConfig.{name}", low)
        if self.backend not in ("numpy", "torch"):
            raise ValueError(f"BenchmarkConfig.backend must be 'numpy' or 'torch'; got {self.backend!r}")
        if self.device is not None and self.backend != "torch":
            raise ValueError(f"BenchmarkConfig.device={self.device!r} needs backend='torch'")
        object.__setattr__(self, "seed", validate.seed(self.seed, "BenchmarkConfig.seed"))
        for name in ("measure_memory", "measure_cpu"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"BenchmarkConfig.{name} must be True or False; got {getattr(self, name)!r}")
        if self.backend == "torch":
            # Checked here as gen_augmentation_batch checks it, not half-way through a run.
            try:
                import torch  # noqa: F401
            except ImportError:
                raise ValueError("BenchmarkConfig.backend='torch' needs PyTorch: pip install 'dpa[torch]'") from None
            validate.torch_device(self.device)


def _check_n(n: Any) -> int:
    return validate.count(n, "n")


class BenchmarkRunner:
    """Runs benchmark cases under one :class:`BenchmarkConfig`; every method returns :class:`BenchmarkMetrics`."""

    def __init__(self, config: BenchmarkConfig | None = None) -> None:
        self.config = config or BenchmarkConfig()
        self.environment = describe_environment(self.config.backend, self.config.device)

    # -- core measuring loop ------------------------------------------------------
    def _measure(self, name: str, samples: int, fn: Callable[[], Any], **fields: Any) -> BenchmarkMetrics:
        cfg = self.config
        for _ in range(cfg.warmup):
            fn()
        times, cpu = [], []
        for _ in range(cfg.iterations):
            with measure_time() as t:
                fn()
                _sync(cfg.device)
            times.append(t.elapsed_seconds)
            cpu.append(t.cpu_percent)
        peak = delta = None
        if cfg.measure_memory:
            with measure_memory() as m:
                fn()
            peak, delta = m.peak_mb, m.peak_delta_mb
        return BenchmarkMetrics(
            name=name,
            samples=samples,
            iterations=cfg.iterations,
            peak_rss_mb=peak,
            rss_delta_mb=delta,
            cpu_percent=float(np.median(cpu)) if cfg.measure_cpu else None,
            environment=self.environment,
            **summarise_times(times, samples),
            **fields,
        )

    def _chunk_latencies(self, n: int, config: Any) -> dict[str, float | None]:
        import dpa

        lat = []
        stream = dpa.stream_augmentation_chunks(n, config, seed=self.config.seed, chunk_size=self.config.chunk_size)
        while True:
            t0 = time.perf_counter()
            chunk = next(stream, None)
            if chunk is None:
                break
            lat.append(time.perf_counter() - t0)
        return latency_percentiles(lat)

    # -- dpa's paths ------------------------------------------------------------------
    def benchmark_generation(self, n: int, config: Any, name: str | None = None) -> BenchmarkMetrics:
        """``gen_augmentation_batch`` of ``n`` ids (backend and device from the config)."""
        import dpa

        n = _check_n(n)
        cfg = self.config
        if cfg.backend == "torch":
            import torch

            ids: Any = torch.arange(n, dtype=torch.int64, device=cfg.device or "cpu")
            if ids.is_cuda:  # uint64 ids need no check for negative values, so a call does not sync the device
                ids = ids.to(torch.uint64)
        else:
            ids = np.arange(n, dtype=np.uint64)
        fn = lambda: dpa.gen_augmentation_batch(ids, config, seed=cfg.seed, backend=cfg.backend, device=cfg.device)  # noqa: E731
        label = name or f"batch {cfg.backend}{'/' + cfg.device if cfg.device else ''}"
        return self._measure(
            label, n, fn, deterministic_per_sample=True, extra={"outputs": len(config.outputs)}, **self._chunk_latencies(n, config)
        )

    def benchmark_scalar(self, n: int, config: Any, name: str = "scalar") -> BenchmarkMetrics:
        """``gen_augmentation_params`` called once per sample, on random ids."""
        import dpa

        n = _check_n(n)
        ids = [int(i) for i in np.random.default_rng(5).integers(0, 2**64, n, dtype=np.uint64, endpoint=False)]
        gen, seed = dpa.gen_augmentation_params, self.config.seed

        def fn() -> None:
            for i in ids:
                gen(i, config, seed)

        return self._measure(name, n, fn, deterministic_per_sample=True)

    def benchmark_stream(self, n: int, config: Any, per_sample: bool = False, name: str | None = None) -> BenchmarkMetrics:
        """``stream_augmentation_chunks`` (or, with ``per_sample``, ``stream_augmentation_chain``)."""
        import dpa

        n = _check_n(n)
        cs, seed = self.config.chunk_size, self.config.seed
        if per_sample:
            fn = lambda: sum(1 for _ in dpa.stream_augmentation_chain(n, config, seed=seed, chunk_size=cs))  # noqa: E731
        else:
            fn = lambda: sum(len(c) for c in dpa.stream_augmentation_chunks(n, config, seed=seed, chunk_size=cs))  # noqa: E731
        label = name or (f"stream per-sample (chunk {cs})" if per_sample else f"stream chunks of {cs}")
        return self._measure(label, n, fn, deterministic_per_sample=True, **self._chunk_latencies(n, config))

    def benchmark_distributed(self, n: int, config: Any, world_size: int, name: str | None = None) -> BenchmarkMetrics:
        """``world_size`` real processes, each streaming its rank's share of ``n`` ids at once.

        Throughput is ``n`` over the time from the common start to the last
        rank's finish; one process per rank, each single-threaded.
        """
        n = _check_n(n)
        world_size = validate.integer(world_size, "world_size", 1)
        ctx = mp.get_context("spawn")
        cfg_dict = config.to_dict()
        times = []
        with ctx.Pool(world_size, initializer=_worker_init) as pool:
            for it in range(self.config.warmup + self.config.iterations):
                start_at = time.time() + 0.2  # a common start, after every worker has its task
                args = [(cfg_dict, n, r, world_size, self.config.seed, self.config.chunk_size, start_at) for r in range(world_size)]
                ends = pool.starmap(_rank_job, args)
                if it >= self.config.warmup:
                    times.append(max(ends) - start_at)
        return BenchmarkMetrics(
            name=name or f"distributed {world_size} process{'es' if world_size > 1 else ''}",
            samples=n,
            iterations=self.config.iterations,
            deterministic_per_sample=True,
            environment=self.environment,
            extra={"world_size": world_size},
            **summarise_times(times, n),
        )

    def benchmark_batching(self, n: int, config: Any, strategy: Any, name: str | None = None) -> BenchmarkMetrics:
        """A :class:`dpa.batch.BatchProcessor` with ``strategy`` over a chunk stream of ``n`` samples."""
        import dpa
        from dpa.batch import BatchConfig, BatchProcessor

        n = _check_n(n)
        cs, seed = self.config.chunk_size, self.config.seed
        bcfg = BatchConfig(strategy=strategy, batch_size=cs, max_batch_size=max(cs, 1 << 17), max_memory_mb=64)

        def fn() -> int:
            proc = BatchProcessor(strategy, bcfg)
            return sum(len(b) for b in proc.process_stream(dpa.stream_augmentation_chunks(n, config, seed=seed, chunk_size=cs)))

        label = name or f"batching {getattr(strategy, 'value', strategy)}"
        return self._measure(label, n, fn, deterministic_per_sample=True)

    def benchmark_kernel(self, n: int = 1 << 22) -> BenchmarkMetrics:
        """``dpa.prng.xxh64_pair`` over ``n`` random pairs into a preallocated array (digests, not samples)."""
        from dpa.prng import xxh64_pair

        n = _check_n(n)
        a, b = np.random.default_rng(0).integers(0, 2**64, (2, n), dtype=np.uint64, endpoint=False)
        out = np.empty(n, dtype=np.uint64)
        return self._measure("kernel xxh64_pair (digests/s)", n, lambda: xxh64_pair(a, b, 12345, out=out))

    def compare(self, configs: Mapping[str, Any], n: int = 100_000) -> list[BenchmarkMetrics]:
        """``benchmark_generation`` of each named config (for example the presets)."""
        return [self.benchmark_generation(n, cfg, name=f"batch {name}") for name, cfg in configs.items()]

    # -- peers --------------------------------------------------------------------------
    def benchmark_peer(self, peer_name: str, n: int, values_per_sample: int) -> BenchmarkMetrics:
        """A peer from :func:`dpa.benchmark.peers.available_peers` generating ``values_per_sample`` values for ``n`` samples."""
        peers = available_peers()
        if peer_name not in peers:
            raise ValueError(f"unknown or unavailable peer {peer_name!r}; available here: {sorted(peers)}")
        peer = peers[peer_name]
        n = _check_n(n)
        inv = check_invariance(peer)
        return self._measure(
            f"peer {peer_name}",
            n,
            lambda: peer.run(n, values_per_sample),
            deterministic_per_sample=inv["batch_size"] and inv["workers"],
            notes=peer.description,
            extra={"invariant_to_batch_size": inv["batch_size"], "invariant_to_workers": inv["workers"]},
        )


def _sync(device: str | None) -> None:
    if device and str(device).startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _worker_init() -> None:
    import os

    os.environ["OMP_NUM_THREADS"] = "1"


def _rank_job(cfg_dict: dict, n: int, rank: int, world: int, seed: int, chunk: int, start_at: float) -> float:
    import dpa
    from dpa.distributed import stream_distributed_augmentation_chunks

    config = dpa.AugmentationConfig.from_dict(cfg_dict)
    stream = stream_distributed_augmentation_chunks(n, rank, world, config, seed=seed, chunk_size=chunk)
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    for _ in stream:
        pass
    return time.time()

