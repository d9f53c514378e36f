"""A user-registered kind built from the primitives runs at a built-in kind's speed (both compiled).

Run:  pytest benchmarks/test_bench_kinds.py --benchmark-enable --benchmark-only
Compare ``test_user_kind_batch`` with ``test_builtin_kind_batch`` (same draw
count, a similar formula): the user kind reaches the C kernel the same way
a built-in one does, through its spec program.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

import dpa
from dpa.specs import spec_kinds

N = 1 << 20
PARAMS = 8


@dataclass(frozen=True)
class _JitterSpec(dpa.Spec):
    """center + (u - 0.5) * width for one draw u: a user's uniform, written from the primitives."""

    kind: ClassVar[str] = "bench_jitter"
    center: float = 0.0
    width: float = 1.0

    def program(self, b: Any) -> Any:
        return self.center + (b.unit(0) - 0.5) * self.width


if "bench_jitter" not in spec_kinds():
    dpa.register_spec(_JitterSpec)

BUILTIN = dpa.AugmentationConfig({f"p{i}": {"kind": "uniform", "low": -i - 1.0, "high": i + 1.0} for i in range(PARAMS)})
USER = dpa.AugmentationConfig({f"p{i}": _JitterSpec(center=0.0, width=2.0 * i + 2.0) for i in range(PARAMS)})


def _rate(benchmark, n: int) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.rounds:
        benchmark.extra_info["samples_per_s"] = n / stats.stats.min


def _run(benchmark, cfg: dpa.AugmentationConfig) -> None:
    gen = dpa.Generator(cfg, seed=3)
    ids = np.arange(N, dtype=np.uint64)
    out = benchmark(gen.batch, ids, epoch=1)
    assert len(out["p0"]) == N and gen.compiled == (dpa.prng.compiled_kernel() is not None)
    benchmark.extra_info["draws_per_param"] = cfg["p0"].n_draws
    _rate(benchmark, N)


def test_builtin_kind_batch(benchmark) -> None:
    _run(benchmark, BUILTIN)


def test_user_kind_batch(benchmark) -> None:
    _run(benchmark, USER)
