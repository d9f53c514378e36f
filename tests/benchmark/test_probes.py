"""The measurement code itself: probes, metrics, peers' invariance, the runner and `dpa bench`."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import dpa
from dpa.benchmark import (
    BenchmarkConfig,
    BenchmarkMetrics,
    BenchmarkRunner,
    available_peers,
    check_invariance,
    measure_memory,
    measure_time,
)
from dpa.benchmark.peers import dpa_peer
from tests.conftest import requires_torch


# No assertion here depends on how busy the machine is: a sleep lasts *at least*
# its length (never "at most"), and CPU shares are checked against a clock the
# test controls, with CPU work measured in CPU time.


def test_a_known_sleep_measures_as_its_length() -> None:
    with measure_time() as t:
        time.sleep(0.2)
    assert t.elapsed_seconds >= 0.2  # a sleep can overrun on a loaded machine, never fall short
    assert t.cpu_seconds < t.elapsed_seconds  # sleeping costs (almost) no CPU
    assert t["elapsed_seconds"] == t.elapsed_seconds  # dict-style access, as in the original documents


def test_busy_work_shows_as_cpu() -> None:
    """0.06 s of CPU work inside a block that (by the injected clock) lasted 0.1 s is at least 60% CPU."""
    ticks = iter([10.0, 10.1])
    with measure_time(clock=lambda: next(ticks)) as t:
        start = time.process_time()
        while time.process_time() - start < 0.06:  # CPU time: the same work however loaded the machine is
            pass
    assert t.elapsed_seconds == pytest.approx(0.1)
    assert t.cpu_seconds >= 0.06
    assert t.cpu_percent == pytest.approx(100 * t.cpu_seconds / 0.1)
    assert t.cpu_percent >= 60


def test_a_known_allocation_shows_in_delta_mb() -> None:
    with measure_memory() as m:
        block = np.ones(200 * 1024 * 1024 // 8)  # 200 MiB, touched
    assert 180 <= m.delta_mb <= 260, m
    assert m.peak_mb >= m.end_mb >= m.start_mb
    del block


def test_a_freed_allocation_shows_in_the_peak() -> None:
    with measure_memory(interval=0.001) as m:
        block = np.ones(150 * 1024 * 1024 // 8)
        seen = m.samples
        while m.samples < seen + 2:  # wait for the sampler to read RSS with the block alive, however long it takes
            time.sleep(0.001)
        del block
    assert m.peak_delta_mb >= 120, m
    assert m.delta_mb < 60


def test_metrics_json_round_trip() -> None:
    r = BenchmarkRunner(BenchmarkConfig(iterations=2, warmup=0))
    m = r.benchmark_generation(5000, dpa.get_preset("mild"))
    again = BenchmarkMetrics.from_json(m.to_json())
    assert again == m
    assert m.throughput_min <= m.throughput_samples_per_second <= m.throughput_max
    assert m.latency_ms_p50 is not None and m.environment["cpu_model"]
    with pytest.raises(ValueError, match="unknown metrics field"):
        BenchmarkMetrics.from_dict({**m.to_dict(), "bogus": 1})


def test_runner_cases() -> None:
    r = BenchmarkRunner(BenchmarkConfig(iterations=1, warmup=0, measure_memory=False))
    cfg = dpa.get_preset("mild")
    assert r.benchmark_scalar(200, cfg).samples == 200
    assert r.benchmark_stream(3000, cfg, per_sample=True).samples == 3000
    assert [m.name for m in r.compare({"mild": cfg, "moderate": dpa.get_preset("moderate")}, n=1000)] == [
        "batch mild", "batch moderate"]
    d = r.benchmark_distributed(20_000, cfg, 2)
    assert d.extra["world_size"] == 2 and d.throughput_samples_per_second > 0
    with pytest.raises(ValueError, match="unknown or unavailable peer"):
        r.benchmark_peer("numpy_magic", 10, 4)


@pytest.mark.parametrize(
    "kwargs, exc, fragment",
    [
        ({"iterations": 0}, ValueError, "iterations must be >= 1; got 0"),
        ({"warmup": -1}, ValueError, "warmup must be >= 0"),
        ({"chunk_size": 0}, ValueError, "chunk_size must be >= 1"),
        ({"iterations": 1.5}, TypeError, "iterations must be an integer"),
        ({"backend": "jax"}, ValueError, "backend must be 'numpy' or 'torch'"),
        ({"device": "cuda"}, ValueError, "needs backend='torch'"),
        # Checked when the config is made, as every other seed is (they failed at run time, or never).
        ({"seed": 2.5}, TypeError, "BenchmarkConfig.seed must be an integer in [0, 2**64); got 2.5"),
        ({"seed": -1}, ValueError, "BenchmarkConfig.seed must be in [0, 2**64); got -1"),
        ({"seed": 2**64}, ValueError, "BenchmarkConfig.seed must be in [0, 2**64)"),
        ({"measure_memory": "yes"}, TypeError, "BenchmarkConfig.measure_memory must be True or False; got 'yes'"),
        pytest.param({"backend": "torch", "device": "meta"}, ValueError, "device must be a CPU or CUDA device; got 'meta'",
                     marks=requires_torch),
    ],
)
def test_bad_benchmark_config(kwargs, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        BenchmarkConfig(**kwargs)
    assert fragment in str(info.value)


def test_peer_invariance_is_measured_not_assumed() -> None:
    peers = available_peers()
    # Per-sample seeding keeps values per sample; one generator per worker does not.
    assert check_invariance(peers["numpy_default_rng"]) == {"batch_size": True, "workers": True}
    assert check_invariance(peers["numpy_philox_fill"])["workers"] is False
    assert check_invariance(dpa_peer(dpa.get_preset("moderate"))) == {"batch_size": True, "workers": True}
    if "torch_generator" in peers:
        assert check_invariance(peers["torch_generator"]) == {"batch_size": True, "workers": True}
    if "kornia" in peers:
        assert check_invariance(peers["kornia"]) == {"batch_size": False, "workers": False}


def test_cli_bench_json_names_each_peer() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "dpa.cli", "bench", "--quick", "--preset", "mild", "--processes", "1", "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    names = [m["name"] for m in data["results"]]
    for peer in available_peers():
        assert f"peer {peer}" in names
        assert any(key.endswith(f"/ {peer}") for key in data["ratios"])
    assert "batch mild" in names and "kernel xxh64_pair (digests/s)" in names and "distributed 1 process" in names
    assert {"batching sequential", "batching round_robin", "batching memory_optimized", "batching adaptive"} <= set(names)
    assert all(m["throughput_samples_per_second"] > 0 for m in data["results"])


def test_cli_bench_refuses_a_device_without_torch_backend() -> None:
    r = subprocess.run([sys.executable, "-m", "dpa.cli", "bench", "--device", "cuda"], capture_output=True, text=True)
    assert r.returncode == 2 and "needs --backend torch" in r.stderr


def test_cli_bench_plot(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "bench.png"
    r = subprocess.run(
        [sys.executable, "-m", "dpa.cli", "bench", "--quick", "--preset", "mild", "--processes", "2", "--plot", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 1000 and "plot written" in r.stdout


def test_cli_bench_table_names_the_kernel_and_only_the_chosen_preset() -> None:
    """The table (stdout is a pipe here) names the kernel, is not cut at 80 columns, and says nothing of moderate under mild."""
    from dpa.benchmark import describe_environment

    r = subprocess.run(
        [sys.executable, "-m", "dpa.cli", "bench", "--samples", "1000", "--iterations", "1", "--preset", "mild",
         "--processes", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert f"kernel: {describe_environment()['kernel']}" in r.stdout
    assert "moderate" not in r.stdout and "scalar mild / numpy_default_rng:" in r.stdout
    assert "batching memory_optimized" in r.stdout and "…" not in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) > 100
