"""The ``dpa`` command line: generate, inspect, verify, ranges, bench.

    dpa generate --preset moderate --num-samples 1000000 --out params/
    dpa inspect --preset aggressive --rows 5
    dpa verify params/
    dpa ranges --num-samples 1000 --world-size 8 --pad
    dpa bench --json

Exit codes (docs/CLI.md):

    0    success (verify: every value identical)
    1    verify found a difference or a damaged output
    2    bad usage or input: an argument, a config file, an output path
    3    refused: the output exists, is not a dpa output, is locked by
         another writer, or an interrupted run needs --resume/--overwrite
    4    I/O error or not enough space (the message names the path)
    70   internal error (a bug: please report it)
    130  interrupted (Ctrl-C); 141 stdout closed early (a pipe)

Every error is one line on stderr starting ``dpa: error:``; no traceback.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import stat
import sys
import textwrap
from typing import Any, Callable, Sequence

from dpa.config import AugmentationConfig
from dpa.presets import get_preset, preset_names
from dpa.prng import compiled_kernel
from dpa.version import STREAM_VERSION, __version__

__all__ = ["main", "build_parser", "EXIT_CODES"]

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE, EXIT_REFUSED, EXIT_IO = 0, 1, 2, 3, 4
EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 70, 130, 141
EXIT_CODES = {
    EXIT_OK: "success (verify: every value identical)",
    EXIT_MISMATCH: "verify found a difference or a damaged output",
    EXIT_USAGE: "bad usage or input (an argument, a config file, an output path)",
    EXIT_REFUSED: "refused: the output exists, is not a dpa output, is locked, or an interrupted run needs --resume or --overwrite",
    EXIT_IO: "I/O error or not enough space",
    EXIT_INTERNAL: "internal error (a bug in dpa)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_BROKEN_PIPE: "standard output closed early (a pipe)",
}
_MAX_CONFIG_BYTES = 64 << 20
_MAX_MESSAGE = 2000


class _UsageError(Exception):
    """Bad input found by the command line itself (exit 2); the message names the option."""


class _Parser(argparse.ArgumentParser):
    """argparse with dpa's error line (``dpa: error: ...``) and defaults shown in every option's help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"dpa: error: {message}\n")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written (examples keep their lines); each option's default appended to its help."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default is not None and action.default is not False and action.default != argparse.SUPPRESS
        if shown and "%(default)" not in text and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _para(text: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=78)


_DECIMAL = re.compile(r"\s*[+-]?[0-9]+\s*")


def _int_arg(low: int, high: int | None = None, name: str = "value") -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            # Decimal first: int("010", 0) refuses a leading zero; 0x/0o/0b prefixes still work.
            value = int(text, 10) if _DECIMAL.fullmatch(text) else int(text, 0)
        except ValueError:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise argparse.ArgumentTypeError(f"{name} must be an integer; got {shown!r}") from None
        if value < low or (high is not None and value >= high):
            limit = {2**64: "2**64", 2**32: "2**32", 2**64 + 1: "2**64 + 1"}.get(high, str(high))
            rng = f"in [{low}, {limit})" if high is not None else f">= {low}"
            shown = str(value) if len(str(value)) <= 40 else f"a {len(str(abs(value)))}-digit number"
            raise argparse.ArgumentTypeError(f"{name} must be {rng}; got {shown}")
        return value

    return parse


def _add_config_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_mutually_exclusive_group(required=required)
    presets = ", ".join(preset_names())
    g.add_argument("--preset", choices=preset_names(), metavar="NAME",
                   help=f"a built-in preset: {presets}" + ("" if required else " (default: moderate)"))
    g.add_argument("--config", metavar="FILE.json",
                   help="a config file: JSON of named parameter specs (AugmentationConfig.save writes one)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``dpa`` command (every option with its help and default)."""
    parser = _Parser(
        prog="dpa",
        description=f"Deterministic data-augmentation parameters (stream version {STREAM_VERSION}).",
        epilog="exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())
        + "\n\nRun 'dpa COMMAND --help' for a command's options; docs/CLI.md has the details.",
    )
    kernel = "compiled kernel" if compiled_kernel() is not None else "numpy kernel, no compiled one"
    parser.add_argument("--version", action="version", help="show dpa's version, stream version and kernel, and exit",
                        version=f"dpa {__version__} (stream version {STREAM_VERSION}, {kernel})")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    gen = sub.add_parser(
        "generate", help="write parameters for a range of sample ids to .npy files",
        description=_para("Write every parameter of ids START .. START+N-1 to DIR: one .npy per output plus "
                          "metadata.json. Safe at every instant: a killed or failed run leaves DIR as it was, and the "
                          "same command with --resume finishes it with identical bytes. Exit 0 when written, "
                          "2 for bad input, 3 when refused, 4 for an I/O error or a full disk."),
        epilog="examples:\n  dpa generate --preset moderate -n 1000000 --out params/\n"
               "  dpa generate --config my.json -n 50000000 --seed 3 --epoch 1 --out params/ --resume",
    )
    _add_config_args(gen)
    gen.add_argument("--num-samples", "-n", metavar="N", required=True, type=_int_arg(0, 2**64, "--num-samples"),
                     help="how many samples (ids START .. START+N-1), in [0, 2**64)")
    gen.add_argument("--seed", metavar="S", type=_int_arg(0, 2**64, "--seed"), default=0, help="the seed, in [0, 2**64)")
    gen.add_argument("--epoch", metavar="E", type=_int_arg(0, 2**32, "--epoch"), default=0, help="the epoch, in [0, 2**32)")
    gen.add_argument("--start", metavar="K", type=_int_arg(0, 2**64, "--start"), default=0, help="the first sample id")
    gen.add_argument("--chunk-size", metavar="C", type=_int_arg(1, None, "--chunk-size"), default=1 << 18,
                     help="samples generated at a time; memory is about C x 200 bytes; any C gives the same files")
    gen.add_argument("--out", "-o", metavar="DIR", required=True,
                     help="the output directory; built in DIR.partial/ and renamed to DIR when complete")
    gen.add_argument("--overwrite", action="store_true",
                     help="replace an existing dpa output in DIR (only once the new one is complete), "
                          "or discard an interrupted run; never replaces a directory that is not a dpa output")
    gen.add_argument("--resume", action="store_true",
                     help="finish an interrupted run of this same command, checking what it wrote first; "
                          "succeeds at once if DIR is already complete; starts from scratch if nothing is there")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar (one is shown only on a terminal)")

    ins = sub.add_parser("inspect", help="show a preset or config as a table, with a few sample rows",
                         description=_para("Show a config's parameters and a few rows of generated values."))
    _add_config_args(ins, required=False)
    ins.add_argument("--rows", metavar="R", type=_int_arg(0, 1001, "--rows"), default=5,
                     help="sample rows to show, in [0, 1000]")
    ins.add_argument("--seed", metavar="S", type=_int_arg(0, 2**64, "--seed"), default=0, help="the seed of the rows")
    ins.add_argument("--epoch", metavar="E", type=_int_arg(0, 2**32, "--epoch"), default=0, help="the epoch of the rows")
    ins.add_argument("--start", metavar="K", type=_int_arg(0, 2**64, "--start"), default=0, help="the first sample id shown")
    ins.add_argument("--json", action="store_true", help="print the config as JSON instead of tables")

    ver = sub.add_parser("verify", help="check an output directory strictly and compare every value bit for bit",
                         description=_para("Check DIR's metadata and files strictly (format, sizes, headers, "
                                           "no links, nothing outside DIR) and regenerate every value to compare it "
                                           "bit for bit, in bounded memory. Exit 0 when identical, 1 naming the first "
                                           "difference or damage, 2 when DIR is not a dpa output."))
    ver.add_argument("directory", metavar="DIR", help="an output directory written by 'dpa generate'")
    ver.add_argument("--no-progress", action="store_true", help="no progress bar (one is shown only on a terminal)")

    rng = sub.add_parser("ranges", help="show (and check) which sample ids each rank takes",
                         description=_para("Split N sample ids over W ranks and check that every id is taken "
                                           "exactly once."))
    rng.add_argument("--num-samples", "-n", metavar="N", required=True, type=_int_arg(0, 2**64 + 1, "--num-samples"),
                     help="how many sample ids to split, in [0, 2**64]")
    rng.add_argument("--world-size", "-w", metavar="W", required=True, type=_int_arg(1, None, "--world-size"),
                     help="how many ranks (processes), >= 1")
    rng.add_argument("--mode", choices=["strided", "contiguous"], default="strided",
                     help="strided: rank r takes r, r+W, ... (DistributedSampler's split); contiguous: one block per rank")
    extra = rng.add_mutually_exclusive_group()
    extra.add_argument("--drop-last", action="store_true", help="every rank takes N // W ids; the rest are dropped")
    extra.add_argument("--pad", action="store_true", help="every rank takes ceil(N / W) ids, wrapping around (padding marked)")
    rng.add_argument("--start", metavar="K", type=_int_arg(0, 2**64 + 1, "--start"), default=0,
                     help="ids already consumed (an elastic restart)")
    rng.add_argument("--json", action="store_true", help="every rank as JSON (the table shows at most 64 ranks)")

    bench = sub.add_parser("bench", help="measure throughput beside peer baselines (one core per process)",
                           description=_para("Measure dpa's paths beside peer baselines in the same process, "
                                             "one core per process; the table names the kernel that ran."))
    bench.add_argument("--preset", action="append", choices=preset_names(), metavar="NAME",
                       help=f"a preset to measure ({', '.join(preset_names())}); repeat for several (default: all)")
    bench.add_argument("--backend", choices=["numpy", "torch"], default="numpy", help="the batch backend measured")
    bench.add_argument("--device", metavar="DEVICE", default=None,
                       help="torch device such as cuda (needs --backend torch; default: cpu)")
    bench.add_argument("--samples", metavar="N", type=_int_arg(1000, None, "--samples"), default=1_000_000,
                       help="samples per case, >= 1000")
    bench.add_argument("--iterations", metavar="I", type=_int_arg(1, None, "--iterations"), default=5,
                       help="timed runs per case (the median is reported)")
    bench.add_argument("--processes", metavar="P", type=_int_arg(1, None, "--processes"), default=None,
                       help="largest process count for the distributed case (default: the usable cores)")
    bench.add_argument("--quick", action="store_true", help="a smoke run: 100,000 samples, 2 iterations")
    bench.add_argument("--json", action="store_true", help="results as JSON on stdout instead of a table")
    bench.add_argument("--plot", metavar="FILE.png", help="plot throughput against chunk size and processes (matplotlib)")
    return parser


# -- shared helpers -------------------------------------------------------------------
def _load_config(args: argparse.Namespace) -> tuple[AugmentationConfig, str]:
    if args.config is not None:
        return _read_config_file(args.config), args.config
    name = args.preset or "moderate"
    return get_preset(name), f"preset {name}"


def _read_config_file(path: str) -> AugmentationConfig:
    """Load ``--config``; any failure, whatever raises it, becomes one line naming the file."""
    if not path:
        raise _UsageError("--config must name a JSON file; got an empty path")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _UsageError(f"--config {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise _UsageError(f"--config {path} is a directory, not a JSON file")
    if stat.S_ISREG(st.st_mode) and st.st_size > _MAX_CONFIG_BYTES:
        raise _UsageError(f"--config {path} is {st.st_size:,} bytes; a config file is at most {_MAX_CONFIG_BYTES:,}")
    try:
        # Capped read: a device or a pipe (/dev/zero, a FIFO) has no size to check up front.
        with open(path, "rb") as fh:
            data = fh.read(_MAX_CONFIG_BYTES + 1)
        if len(data) > _MAX_CONFIG_BYTES:
            raise _UsageError(f"--config {path} holds more than {_MAX_CONFIG_BYTES:,} bytes; "
                              f"a config file is at most {_MAX_CONFIG_BYTES:,}")
        return AugmentationConfig.from_json(data.decode("utf-8"))
    except _UsageError:
        raise
    except RecursionError:
        problem = "it is nested too deeply to be a config"
    except MemoryError:
        problem = "it is too large to read"
    except OverflowError as exc:
        problem = f"a number in it is out of range ({exc})"
    except UnicodeDecodeError:
        problem = "it is not UTF-8 text"
    except OSError as exc:
        problem = exc.strerror or str(exc)
    except Exception as exc:  # whatever the config layer raises for a bad file
        problem = str(exc) or type(exc).__name__
        for prefix in (f"{path}: ", f"{os.fspath(path)}: "):
            problem = problem[len(prefix):] if problem.startswith(prefix) else problem
    raise _UsageError(f"--config {path}: {problem}")


def _progress(total: int | None, label: str, disabled: bool) -> tuple[Any, Callable[[int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    disable=disabled, transient=False)
    task = prog.add_task(label, total=total)
    return prog, (lambda done: prog.update(task, completed=done))


def _console() -> Any:
    """A rich console on stdout that never cuts a table: a terminal's width, else as wide as the table needs."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich would exit 1 (verify's "mismatch"); main() turns this into dpa's 141.
            raise BrokenPipeError(errno.EPIPE, "standard output was closed")

    return _Console(highlight=False) if sys.stdout.isatty() else _Console(width=100_000, highlight=False)


def _print_table(console: Any, title: str, table: Any) -> None:
    """``title`` on its own line (never wrapped to the table's width), then ``table``."""
    console.print(title, style="bold", markup=False)
    console.print(table)


def _cell(value: Any) -> str:
    """Text for a table cell, shown as is (square brackets are not rich markup)."""
    from rich.markup import escape

    return escape(str(value))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _spec_fields(spec_dict: dict[str, Any]) -> str:
    parts = [f"{k}={_fmt(v) if not isinstance(v, list) else '[' + ', '.join(_fmt(x) for x in v) + ']'}"
             for k, v in spec_dict.items() if k not in ("kind", "p", "identity")]
    return " ".join(parts)


# -- commands ---------------------------------------------------------------------------
def _cmd_generate(args: argparse.Namespace) -> int:
    from dpa.store import StoreNote, write_params

    config, source = _load_config(args)
    if not args.out:
        raise _UsageError("--out must name a directory; got an empty path")
    n, start = args.num_samples, args.start
    if n and start + n - 1 >= 2**64:
        raise _UsageError(f"--start {start} + --num-samples {n} - 1 must be < 2**64 (the last sample id is 2**64 - 1)")
    kinds: set[str] = set()

    def note(item: StoreNote) -> None:
        kinds.add(item.kind)
        print(f"dpa: note: {item.message}", file=sys.stderr)

    prog, update = _progress(n, "generating", args.no_progress or not sys.stderr.isatty())
    with prog:
        out = write_params(args.out, config, n, seed=args.seed, epoch=args.epoch, start=start,
                           chunk_size=args.chunk_size, overwrite=args.overwrite, resume=args.resume,
                           progress=update, notes=note)
    ids = f"ids {start}..{start + n - 1}" if n else "an empty id range"
    what = f"{n:,} samples x {len(config.outputs)} outputs of {source} (seed {args.seed}, epoch {args.epoch}, {ids})"
    if "complete" in kinds:
        print(f"already complete: {what} in {out}; nothing written")
    else:
        print(f"wrote {what} to {out}")
    return EXIT_OK


def _cmd_inspect(args: argparse.Namespace) -> int:
    from rich.table import Table

    from dpa.generate import gen_augmentation_batch

    config, source = _load_config(args)
    if args.json:
        print(config.to_json())
        return EXIT_OK
    console = _console()
    table = Table()
    for col in ("parameter", "kind", "range / fields", "p", "identity", "outputs"):
        table.add_column(col)
    for name, spec in config.items():
        outs = [o.name for o in config.outputs if o.param == name]
        table.add_row(*map(_cell, (name, spec.kind, _spec_fields(spec.to_dict()), _fmt(spec.p),
                                   _fmt(spec.identity_value()) if spec.gated else "-", ", ".join(outs))))
    _print_table(console, f"{source}: {len(config)} parameters, {len(config.outputs)} outputs, "
                          f"fingerprint {config.fingerprint()}", table)
    if args.rows:
        rows = Table()
        rows.add_column("output")
        ids = [args.start + i for i in range(args.rows) if args.start + i < 2**64]
        for i in ids:
            rows.add_column(str(i), justify="right")
        batch = gen_augmentation_batch(ids, config, seed=args.seed, epoch=args.epoch)
        for name, arr in batch.items():
            rows.add_row(_cell(name), *(_fmt(v.item()) for v in arr))
        cut = f"; only {len(ids)} of {args.rows} rows: the last sample id is 2**64 - 1" if len(ids) < args.rows else ""
        _print_table(console, f"sample ids {args.start}.. (seed {args.seed}, epoch {args.epoch}{cut})", rows)
    return EXIT_OK


def _cmd_ranges(args: argparse.Namespace) -> int:
    from dpa.distributed import DistributedRangeSplitter

    if args.start > args.num_samples:
        raise _UsageError(f"--start must be in [0, --num-samples] = [0, {args.num_samples}]; got {args.start}")
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
        return EXIT_OK
    from rich.table import Table

    table = Table()
    for col in ("rank", "samples", "first ids", "padded", "range"):
        table.add_column(col, justify="right" if col != "first ids" else "left")
    for row in rows:
        table.add_row(
            str(row["rank"]), str(row["samples"]), ", ".join(map(str, row["first_ids"])) + (" ..." if row["samples"] > 3 else ""),
            str(row["padding"]), f"[{row['range'][0]}, {row['range'][1]})" if row["range"] else "-",
        )
    console = _console()
    _print_table(console, f"{s!r}: valid (every id exactly once{', padding marked' if args.pad else ''})", table)
    if shown < args.world_size:
        console.print(f"... and {args.world_size - shown} more ranks (--json lists all)")
    return EXIT_OK


def _cmd_bench(args: argparse.Namespace) -> int:
    from dpa.benchmark import BenchmarkConfig, metrics_table
    from dpa.benchmark.suite import run_suite

    if args.device and args.backend != "torch":
        raise _UsageError(f"--device {args.device} needs --backend torch")
    if args.backend == "torch":
        try:
            import torch
        except ImportError:
            raise _UsageError("--backend torch needs PyTorch: pip install torch") from None
        if args.device:
            try:
                torch.empty(1, device=args.device)
            except Exception as exc:  # an unknown device string, or no such device on this machine
                reason = (str(exc).splitlines() or [type(exc).__name__])[0]
                raise _UsageError(f"--device {args.device}: torch cannot use it ({reason})") from None
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise _UsageError("--plot needs matplotlib: pip install matplotlib") from None
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
        return EXIT_OK
    out = _console()
    env = suite.results[0].environment
    _print_table(out, f"dpa bench ({env['cpu_model']}; kernel: {env['kernel']}; backend {env['backend']} on "
                      f"{env['device']}; one core per process)", metrics_table(suite.results, title=None))
    for name, ratio in suite.ratios.items():
        out.print(f"  {name}: {ratio:.2f}x")
    if args.plot:
        out.print(f"plot written to {args.plot}")
    return EXIT_OK


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
    from dpa.store import DamagedOutputError, read_metadata, verify_params

    if not args.directory:
        raise _UsageError("DIR must name a directory; got an empty path")
    try:
        total = read_metadata(args.directory)["num_samples"]
    except DamagedOutputError as exc:
        print(f"dpa: error: MISMATCH in {args.directory}: {exc.cli_message()}", file=sys.stderr)
        return EXIT_MISMATCH
    prog, update = _progress(total, "verifying", args.no_progress or not sys.stderr.isatty())
    with prog:
        result = verify_params(args.directory, progress=update)
    if result.ok:
        print(f"OK: {args.directory}: {result.message}")
        return EXIT_OK
    print(f"dpa: error: MISMATCH in {args.directory}: {result.message}", file=sys.stderr)
    return EXIT_MISMATCH


_HANDLERS = {"generate": _cmd_generate, "inspect": _cmd_inspect, "verify": _cmd_verify, "ranges": _cmd_ranges,
             "bench": _cmd_bench}


def _classify(exc: BaseException, command: str) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that ended ``command``."""
    from dpa.store import (DamagedOutputError, NoSpaceError, NotAnOutputError, StoreError, StoreIOError)

    if isinstance(exc, StoreError):
        if isinstance(exc, (NoSpaceError, StoreIOError)):
            code = EXIT_IO
        elif isinstance(exc, DamagedOutputError) and command == "verify":
            code = EXIT_MISMATCH
        elif isinstance(exc, NotAnOutputError) and command == "verify":
            code = EXIT_USAGE
        else:
            code = EXIT_REFUSED
        return code, exc.cli_message()
    if isinstance(exc, _UsageError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, OSError):
        from dpa.store.errors import shorten

        where = f"{shorten(exc.filename)}: " if exc.filename else ""
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.ENAMETOOLONG, errno.ENOTDIR, errno.ELOOP, errno.ENOENT, errno.EISDIR):
            return EXIT_USAGE, f"{where}{reason}"
        return EXIT_IO, f"{where}{reason}"
    if isinstance(exc, MemoryError):
        hint = {"generate": " (try a smaller --chunk-size)", "bench": " (try a smaller --samples)"}.get(command, "")
        return EXIT_IO, f"out of memory{hint}"
    if isinstance(exc, RecursionError):
        return EXIT_USAGE, "an input is nested too deeply"
    if isinstance(exc, (ValueError, TypeError, OverflowError, LookupError)):
        return EXIT_USAGE, str(exc) or type(exc).__name__
    return EXIT_INTERNAL, f"internal error ({type(exc).__name__}: {exc}); please report it"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dpa`` console script; returns the exit code (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return _HANDLERS[args.command](args)
    except KeyboardInterrupt:
        hint = "; rerun the same command with --resume to finish it" if args.command == "generate" else ""
        print(f"dpa: error: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        try:  # stdout's reader went away (dpa inspect | head): say nothing more
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # every failure becomes one line and an exit code, never a traceback
        code, message = _classify(exc, args.command)
        if len(message) > _MAX_MESSAGE:
            message = message[:_MAX_MESSAGE] + " ..."
        print(f"dpa: error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
