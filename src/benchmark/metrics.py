"""BenchmarkMetrics: what one benchmark case measured, with JSON export and a readable table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Sequence

import numpy as np

__all__ = ["BenchmarkMetrics", "metrics_table", "summarise_times"]


@dataclass
class BenchmarkMetrics:
    """One case: throughput over repeated timed runs, latency per chunk, memory, CPU, environment.

    Throughputs are samples per second; ``throughput_samples_per_second``
    is the median (the name the original DPA documents use).
    """

    name: str
    samples: int
    iterations: int
    throughput_samples_per_second: float
    throughput_min: float
    throughput_max: float
    seconds_median: float
    latency_ms_p50: float | None = None
    latency_ms_p90: float | None = None
    latency_ms_p99: float | None = None
    peak_rss_mb: float | None = None
    rss_delta_mb: float | None = None
    cpu_percent: float | None = None
    deterministic_per_sample: bool | None = None
    notes: str = ""
    environment: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BenchmarkMetrics":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown metrics field(s) {unknown}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "BenchmarkMetrics":
        return cls.from_dict(json.loads(text))


def summarise_times(seconds: Sequence[float], samples: int) -> dict[str, float]:
    """Median/min/max throughput of timed runs of ``samples`` samples each."""
    arr = np.asarray(seconds, dtype=np.float64)
    return {
        "throughput_samples_per_second": samples / float(np.median(arr)),
        "throughput_min": samples / float(arr.max()),
        "throughput_max": samples / float(arr.min()),
        "seconds_median": float(np.median(arr)),
    }


def latency_percentiles(chunk_seconds: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p99 of per-chunk latencies, in milliseconds."""
    if not len(chunk_seconds):
        return {"latency_ms_p50": None, "latency_ms_p90": None, "latency_ms_p99": None}
    ms = np.asarray(chunk_seconds) * 1e3
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"latency_ms_p50": float(p50), "latency_ms_p90": float(p90), "latency_ms_p99": float(p99)}


def _fmt_rate(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M/s"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k/s"
    return f"{x:.0f} /s"


def metrics_table(results: Sequence[BenchmarkMetrics], baseline: str | None = None, title: str | None = "dpa bench") -> Any:
    """A rich Table of results; with ``baseline``, a column of each rate divided by that case's (``title=None``: none)."""
    from rich.table import Table

    base = next((r for r in results if r.name == baseline), None)
    table = Table(title=title)
    for col in ("case", "samples/s (median)", "min..max", "p99 chunk ms", "peak RSS MiB", "CPU %", "per-sample determ."):
        table.add_column(col, justify="left" if col == "case" else "right")
    if base is not None:
        table.add_column(f"x {baseline}", justify="right")
    for r in results:
        row = [
            r.name,
            _fmt_rate(r.throughput_samples_per_second),
            f"{_fmt_rate(r.throughput_min)}..{_fmt_rate(r.throughput_max)}",
            f"{r.latency_ms_p99:.2f}" if r.latency_ms_p99 is not None else "-",
            f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb is not None else "-",
            f"{r.cpu_percent:.0f}" if r.cpu_percent is not None else "-",
            {True: "yes", False: "no", None: "-"}[r.deterministic_per_sample],
        ]
        if base is not None:
            row.append(f"{r.throughput_samples_per_second / base.throughput_samples_per_second:.2f}")
        table.add_row(*row)
    return table
