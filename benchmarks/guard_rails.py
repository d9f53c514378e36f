"""The speed guard rails of the spec-program design, as same-process ratios (one CPU thread).

Each case and its peer run in alternation, round after round, and each keeps
its fastest round: the load of a shared machine drifts over seconds and falls
on both alike, and the fastest round is the least disturbed one. The ratios:

* batch ``moderate`` (1M ids) against numpy's Philox filling as many float32
  values (target >= 2x) and against kornia's ``forward_parameters`` for
  RandomAffine + ColorJitter + RandomHorizontalFlip (target >= 1.5x);
* scalar ``gen_augmentation_params`` against a reseeded ``torch.Generator``
  per sample drawing as many values (target >= 2x);
* ``stream_augmentation_chunks`` (chunks of 10,000) against one batch of the
  same 1M ids (target: the stream is faster, ratio > 1);
* a user-registered kind written from the primitives against a built-in kind
  of the same draw count, 8 params, 1M ids (target: time ratio <= 1.5).

Run:  OMP_NUM_THREADS=1 python benchmarks/guard_rails.py [--rounds 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

import dpa

N_BATCH = 1 << 20
N_SCALAR = 20_000
PARAMS = 8


def _fastest(cases: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    best = {name: float("inf") for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _batch_cases() -> dict[str, Callable[[], Any]]:
    cfg = dpa.get_preset("moderate")
    ids = np.arange(N_BATCH, dtype=np.uint64)
    philox = np.random.Generator(np.random.Philox(7))
    fill = np.empty(N_BATCH * len(cfg.outputs), dtype=np.float32)
    cases = {
        "batch": lambda: dpa.gen_augmentation_batch(ids, cfg, 7, 1),
        "philox": lambda: philox.random(dtype=np.float32, out=fill),
        "stream": lambda: sum(len(c) for c in dpa.stream_augmentation_chunks(N_BATCH, cfg, 7, 1, 10_000)),
    }
    try:
        import kornia.augmentation as K
        import torch
    except ImportError:
        return cases
    augs = [
        K.RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5, p=1.0),
        K.ColorJitter(0.2, 0.2, 0.2, 0.05, p=1.0),
        K.RandomHorizontalFlip(p=0.5),
    ]
    shape = torch.Size([N_BATCH, 3, 32, 32])
    cases["kornia"] = lambda: [aug.forward_parameters(shape) for aug in augs]
    return cases


def _scalar_cases() -> dict[str, Callable[[], Any]]:
    cfg = dpa.get_preset("moderate")
    k = len(cfg.outputs)
    ids = [int(x) for x in np.random.default_rng(5).integers(0, 2**64, size=N_SCALAR, dtype=np.uint64)]

    def scalar() -> None:
        for i in ids:
            dpa.gen_augmentation_params(i, cfg, 3, 0)

    cases: dict[str, Callable[[], Any]] = {"scalar": scalar}
    try:
        import torch
    except ImportError:
        return cases
    g = torch.Generator()

    def torch_generator() -> None:
        for i in ids:
            g.manual_seed(i % 2**63)
            torch.rand(k, generator=g)

    cases["torch_generator"] = torch_generator
    return cases


def _kind_cases() -> dict[str, Callable[[], Any]]:
    if not hasattr(dpa, "Generator"):  # before the spec-program design: user kinds did not run compiled
        return {}

    @dataclass(frozen=True)
    class _Jitter(dpa.Spec):
        kind: ClassVar[str] = "guard_rail_jitter"
        center: float = 0.0
        width: float = 1.0

        def program(self, b: Any) -> Any:
            return self.center + (b.unit(0) - 0.5) * self.width

    from dpa.specs import spec_kinds

    if _Jitter.kind not in spec_kinds():
        dpa.register_spec(_Jitter)
    builtin = dpa.AugmentationConfig({f"p{i}": {"kind": "uniform", "low": -i - 1.0, "high": i + 1.0} for i in range(PARAMS)})
    user = dpa.AugmentationConfig({f"p{i}": _Jitter(center=0.0, width=2.0 * i + 2.0) for i in range(PARAMS)})
    ids = np.arange(N_BATCH, dtype=np.uint64)
    g_builtin, g_user = dpa.Generator(builtin, seed=3), dpa.Generator(user, seed=3)
    return {"builtin_kind": lambda: g_builtin.batch(ids, epoch=1), "user_kind": lambda: g_user.batch(ids, epoch=1)}


def measure(rounds: int) -> dict[str, float]:
    """Every case's fastest time in seconds, and the guard-rail ratios (``*_x``: higher is better)."""
    best: dict[str, float] = {}
    for cases in (_batch_cases(), _scalar_cases(), _kind_cases()):
        best.update(_fastest(cases, rounds))
    ratios = {
        "batch_vs_philox_x": ("philox", "batch"),
        "batch_vs_kornia_x": ("kornia", "batch"),
        "scalar_vs_torch_generator_x": ("torch_generator", "scalar"),
        "stream_vs_one_batch_x": ("batch", "stream"),
        "user_kind_time_ratio": ("user_kind", "builtin_kind"),
    }
    out = dict(best)
    for name, (num, den) in ratios.items():
        if num in best and den in best:
            out[name] = best[num] / best[den]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds per case (fastest kept); default 7")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = measure(args.rounds)
    for name, value in figures.items():
        unit = "" if name.endswith(("_x", "_ratio")) else " s"
        print(f"{name:30s} {value:10.4f}{unit}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
