"""The ``dpa`` command line: generate, inspect, verify, ranges, bench.

    dpa generate --preset moderate --num-samples 1000000 --out params/
    dpa inspect --preset aggressive --rows 5
    dpa verify params/
    dpa ranges --num-samples 1000 --world-size 8 --pad
    dpa bench --json

Exit codes: 0 success, 1 verification found a difference, 2 bad usage or
input (argparse's convention), 3 the output already exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from dpa.config import AugmentationConfig
from dpa.presets import get_preset, preset_names
from dpa.prng import compiled_kernel
from dpa.version import STREAM_VERSION, __version__

__all__ = ["main", "build_parser"]


def _int_arg(low: int, high: int | None = None, name: str = "value"):
    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer; got {text!r}") from None
        if value < low or (high is not None and value >= high):
            shown = {2**64: "2**64", 2**32: "2**32", 2**64 + 1: "2**64 + 1"}.get(high, str(high))
            rng = f"in [{low}, {shown})" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"{name} must be {rng}; got {value}")
        return value

    return parse


def _add_config_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_mutually_exclusive_group(required=required)
    g.add_argument("--preset", choices=preset_names(), help="a built-in preset")
    g.add_argument("--config", metavar="FILE.json", help="a config saved with AugmentationConfig.save()")


def _load_config(args: argparse.Namespace) -> tuple[AugmentationConfig, str]:
    if args.config:
        return AugmentationConfig.load(args.config), args.config
    name = args.preset or "moderate"
    return get_preset(name), f"preset {name}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dpa", description="Deterministic data-augmentation parameters (stream version %d)." % STREAM_VERSION
    )
    kernel = "compiled kernel" if compiled_kernel() is not None else "numpy kernel, no compiled one"
    parser.add_argument("--version", action="version", version=f"dpa {__version__} (stream version {STREAM_VERSION}, {kernel})")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="write parameters for a range of sample ids to .npy files")
    _add_config_args(gen)
    gen.add_argument("--num-samples", "-n", required=True, type=_int_arg(0, 2**64, "--num-samples"))
    gen.add_argument("--seed", type=_int_arg(0, 2**64, "--seed"), default=0)
    gen.add_argument("--epoch", type=_int_arg(0, 2**32, "--epoch"), default=0)
    gen.add_argument("--start", type=_int_arg(0, 2**64, "--start"), default=0, help="first sample id (default 0)")
    gen.add_argument("--chunk-size", type=_int_arg(1, None, "--chunk-size"), default=1 << 18)
    gen.add_argument("--out", "-o", required=True, metavar="DIR", help="output directory (must not exist)")
    gen.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    gen.add_argument("--resume", action="store_true", help="finish an interrupted run (DIR.partial)")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")

    ins = sub.add_parser("inspect", help="show a preset or config as a table, with a few sample rows")
    _add_config_args(ins, required=False)
    ins.add_argument("--rows", type=_int_arg(0, 1001, "--rows"), default=5)
    ins.add_argument("--seed", type=_int_arg(0, 2**64, "--seed"), default=0)
    ins.add_argument("--epoch", type=_int_arg(0, 2**32, "--epoch"), default=0)
    ins.add_argument("--start", type=_int_arg(0, 2**64, "--start"), default=0)
    ins.add_argument("--json", action="store_true", help="print the config as JSON instead")

    rng = sub.add_parser("ranges", help="show (and check) which sample ids each rank takes")
    rng.add_argument("--num-samples", "-n", required=True, type=_int_arg(0, 2**64 + 1, "--num-samples"))
    rng.add_argument("--world-size", "-w", required=True, type=_int_arg(1, None, "--world-size"))
    rng.add_argument("--mode", choices=["strided", "contiguous"], default="strided")
    extra = rng.add_mutually_exclusive_group()
    extra.add_argument("--drop-last", action="store_true", help="every rank takes num_samples // world_size")
    extra.add_argument("--pad", action="store_true", help="every rank takes ceil(num_samples / world_size), wrapping")
    rng.add_argument("--start", type=_int_arg(0, 2**64 + 1, "--start"), default=0, help="ids already consumed")
    rng.add_argument("--json", action="store_true")

    bench = sub.add_parser("bench", help="measure throughput beside peer baselines (one core per process)")
    bench.add_argument("--preset", action="append", choices=preset_names(), help="repeat for several (default: all)")
    bench.add_argument("--backend", choices=["numpy", "torch"], default="numpy")
    bench.add_argument("--device", default=None, help="torch device, e.g. cuda (with --backend torch)")
    bench.add_argument("--samples", type=_int_arg(1000, None, "--samples"), default=1_000_000)
    bench.add_argument("--iterations", type=_int_arg(1, None, "--iterations"), default=5)
    bench.add_argument("--processes", type=_int_arg(1, None, "--processes"), default=None,
                       help="largest process count for the distributed case (default: usable cores)")
    bench.add_argument("--quick", action="store_true", help="100k samples, 2 iterations: a smoke run")
    bench.add_argument("--json", action="store_true", help="results as JSON on stdout instead of a table")
    bench.add_argument("--plot", metavar="FILE.png", help="plot throughput against chunk size and processes (matplotlib)")

    ver = sub.add_parser("verify", help="regenerate an output directory and compare it bit for bit")
    ver.add_argument("directory", metavar="DIR")
    ver.add_argument("--no-progress", action="store_true")
    return parser


def _progress(total: int, label: str, disabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    prog = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=disabled,
        transient=False,
    )
    task = prog.add_task(label, total=total)
    return prog, (lambda done: prog.update(task, completed=done))


def _cmd_generate(args: argparse.Namespace) -> int:
    from dpa.store import write_params

    config, source = _load_config(args)
    prog, update = _progress(args.num_samples, "generating", args.no_progress or not sys.stderr.isatty())
    try:
        with prog:
            out = write_params(
                args.out,
                config,
                args.num_samples,
                seed=args.seed,
                epoch=args.epoch,
                start=args.start,
                chunk_size=args.chunk_size,
                overwrite=args.overwrite,
                resume=args.resume,
                progress=update,
            )
    except FileExistsError as exc:
        print(f"dpa generate: {exc}", file=sys.stderr)
        return 3
    print(
        f"wrote {args.num_samples} samples x {len(config.outputs)} outputs of {source} "
        f"(seed {args.seed}, epoch {args.epoch}, ids {args.start}..{args.start + max(args.num_samples, 1) - 1}) to {out}"
    )
    return 0


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _spec_fields(spec_dict: dict[str, Any]) -> str:
    parts = [f"{k}={_fmt(v) if not isinstance(v, list) else '[' + ', '.join(_fmt(x) for x in v) + ']'}"
             for k, v in spec_dict.items() if k not in ("kind", "p", "identity")]
    return " ".join(parts)


def _cmd_inspect(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from dpa.generate import gen_augmentation_batch

    config, source = _load_config(args)
    if args.json:
        print(config.to_json())
        return 0
    console = Console()
    table = Table(title=f"{source}: {len(config)} parameters, {len(config.outputs)} outputs, fingerprint {config.fingerprint()}")
    for col in ("parameter", "kind", "range / fields", "p", "identity", "outputs"):
        table.add_column(col)
    for name, spec in config.items():
        d = spec.to_dict()
        outs = [o.name for o in config.outputs if o.param == name]
        table.add_row(
            name, spec.kind, _spec_fields(d), _fmt(spec.p), _fmt(spec.identity_value()) if spec.gated else "-",
            ", ".join(outs),
        )
    console.print(table)
    if args.rows:
        rows = Table(title=f"sample ids {args.start}.. (seed {args.seed}, epoch {args.epoch})")
        rows.add_column("output")
        ids = [args.start + i for i in range(args.rows) if args.start + i < 2**64]
        for i in ids:
            rows.add_column(str(i), justify="right")
        batch = gen_augmentation_batch(ids, config, seed=args.seed, epoch=args.epoch)
        for name, arr in batch.items():
            rows.add_row(name, *(_fmt(v.item()) for v in arr))
        console.print(rows)
    return 0


def _cmd_ranges(args: argparse.Namespace) -> int:
    from dpa.distributed import DistributedRangeSplitter

    s = DistributedRangeSplitter(
        args.num_samples, args.world_size, mode=args.mode, drop_last=args.drop_last, pad=args.pad, start=args.start
    )
    s.validate_ranges()
    rows = []
    shown = args.world_size if args.world_size <= 64 or args.json else 8
    for r in range(shown):
        count = s.num_samples_for(r)
        head = s.indices(r, 0, min(count, 3)).tolist()
        # Shares differ by at most one, so a rank has at most one padded
        # sample, its last: no need to materialise a huge share.
        padding = int(s.is_padding(r, max(count - 1, 0), count).sum()) if count else 0
        rows.append({"rank": r, "samples": count, "first_ids": head, "padding": padding,
                     "range": [s.range_for(r).start, s.range_for(r).stop] if args.mode == "contiguous" else None})
    if args.json:
        print(json.dumps({"splitter": repr(s), "valid": True, "ranks": rows}, indent=1))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{s!r}: valid (every id exactly once{', padding marked' if args.pad else ''})")
    for col in ("rank", "samples", "first ids", "padded", "range"):
        table.add_column(col, justify="right" if col != "first ids" else "left")
    for row in rows:
        table.add_row(
            str(row["rank"]), str(row["samples"]), ", ".join(map(str, row["first_ids"])) + (" ..." if row["samples"] > 3 else ""),
            str(row["padding"]), f"[{row['range'][0]}, {row['range'][1]})" if row["range"] else "-",
        )
    Console().print(table)
    if shown < args.world_size:
        print(f"... and {args.world_size - shown} more ranks (--json lists all)")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from dpa.benchmark import BenchmarkConfig, metrics_table
    from dpa.benchmark.suite import run_suite

    if args.device and args.backend != "torch":
        raise ValueError(f"--device {args.device} needs --backend torch")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ValueError("--plot needs matplotlib: pip install matplotlib") from None
    try:
        import torch

        torch.set_num_threads(1)  # figures are per core; processes give the scaling
    except ImportError:
        pass
    samples, iterations = (100_000, 2) if args.quick else (args.samples, args.iterations)
    config = BenchmarkConfig(iterations=iterations, warmup=1, backend=args.backend, device=args.device)
    presets = args.preset or preset_names()
    from rich.console import Console
    from rich.progress import Progress

    err = Console(stderr=True)
    with Progress(console=err, transient=True, disable=not err.is_terminal) as prog:
        task = prog.add_task("benchmarking", total=None)
        suite = run_suite(presets, samples, config, args.processes, on_case=lambda n: prog.update(task, description=n))
    if args.plot:
        _plot(suite, args.plot)
    if args.json:
        print(json.dumps(suite.to_dict(), indent=1))
        return 0
    out = Console(width=None if sys.stdout.isatty() else 150)
    out.print(metrics_table(suite.results, title=f"dpa bench ({suite.results[0].environment['cpu_model']}, one core per process)"))
    for name, ratio in suite.ratios.items():
        out.print(f"  {name}: {ratio:.2f}x")
    if args.plot:
        out.print(f"plot written to {args.plot}")
    return 0


def _plot(suite: Any, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    chunks = [(int(r.name.split()[-1]), r.throughput_samples_per_second / 1e6) for r in suite.results
              if r.name.startswith("stream chunks of")]
    procs = [(r.extra["world_size"], r.throughput_samples_per_second / 1e6) for r in suite.results
             if r.name.startswith("distributed")]
    if chunks:
        ax1.plot(*zip(*chunks), marker="o")
        ax1.set_xscale("log")
    ax1.set(xlabel="chunk size", ylabel="M samples/s", title="stream throughput vs chunk size")
    if procs:
        ax2.plot(*zip(*procs), marker="o")
    ax2.set(xlabel="processes", ylabel="M samples/s", title="throughput vs processes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _cmd_verify(args: argparse.Namespace) -> int:
    from dpa.store import read_metadata, verify_params

    meta = read_metadata(args.directory)
    prog, update = _progress(meta["num_samples"], "verifying", args.no_progress or not sys.stderr.isatty())
    with prog:
        result = verify_params(args.directory, progress=update)
    if result.ok:
        print(f"OK: {args.directory}: {result.message}")
        return 0
    print(f"MISMATCH: {args.directory}: {result.message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dpa`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "generate": _cmd_generate, "inspect": _cmd_inspect, "verify": _cmd_verify, "ranges": _cmd_ranges, "bench": _cmd_bench,
    }
    try:
        return handlers[args.command](args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"dpa {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
