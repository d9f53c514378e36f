"""The exit-code table of docs/CLI.md, one row per case, and no traceback for any input.

    0 success · 1 verify mismatch · 2 bad usage or input · 3 refused ·
    4 I/O or space · 70 internal error · 130 interrupted · 141 broken pipe
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from dpa.cli import EXIT_CODES, main
from dpa.store.fsops import OutputLock
from tests.dpa.store_helpers import assert_clean_error, assert_same_output, dpa_process, run_dpa

GEN = ["generate", "--preset", "mild", "-n", "500", "--no-progress"]


def made(tmp: Path) -> Path:
    out = tmp / "made"
    assert main([*GEN, "--out", str(out)]) == 0
    return out


def write(tmp: Path, name: str, text: str) -> str:
    (tmp / name).write_text(text)
    return str(tmp / name)


def write_bytes(tmp: Path, name: str, data: bytes) -> str:
    (tmp / name).write_bytes(data)
    return str(tmp / name)


def dangling(tmp: Path) -> str:
    os.symlink(tmp / "gone", tmp / "link")
    return str(tmp / "link")


def partial_run(tmp: Path) -> Path:
    """An interrupted run of GEN into tmp/p (stopped by a simulated full disk after its files were made)."""
    os.environ["DPA_TEST_ENOSPC_AT"] = "files-ready"
    try:
        assert main([*GEN, "--out", str(tmp / "p")]) == 4
    finally:
        del os.environ["DPA_TEST_ENOSPC_AT"]
    return tmp / "p"


def tampered(tmp: Path) -> str:
    out = made(tmp)
    with open(out / "hue.npy", "ab") as fh:
        fh.write(b"\0" * 8)
    return str(out)


DEEP = "[" * 200_000 + "]" * 200_000
BIG_INT = '{"a": {"kind": "uniform", "low": 0, "high": 1' + "0" * 400 + "}}"

# (id, argv built in tmp_path, exit code, fragment of stderr)
TABLE = [
    # 0: success
    ("generate", lambda t: [*GEN, "--out", str(t / "o")], 0, ""),
    ("generate -n 0", lambda t: ["generate", "--preset", "mild", "-n", "0", "--out", str(t / "o")], 0, ""),
    ("generate -n 010 (a leading zero is decimal)", lambda t: ["generate", "--preset", "mild", "-n", "010", "--out", str(t / "o")], 0, ""),
    ("ranges --seed-like 0x10", lambda t: ["ranges", "-n", "0x10", "-w", "3"], 0, ""),
    ("verify", lambda t: ["verify", str(made(t))], 0, ""),
    ("resume of a complete output", lambda t: [*GEN, "--out", str(made(t)), "--resume"], 0, ""),
    ("inspect", lambda t: ["inspect", "--preset", "mild", "--rows", "2"], 0, ""),
    ("ranges", lambda t: ["ranges", "-n", "10", "-w", "3"], 0, ""),
    ("--help", lambda t: ["--help"], 0, ""),
    ("generate --help", lambda t: ["generate", "--help"], 0, ""),
    ("--version", lambda t: ["--version"], 0, ""),
    # 1: verify found a difference or damage
    ("verify of a damaged output", lambda t: ["verify", tampered(t)], 1, "trailing data"),
    ("verify of a list as metadata", lambda t: ["verify", str(Path(write(t, "metadata.json", "[]")).parent)], 1, "JSON list"),
    # 2: bad usage or input
    ("no command", lambda t: [], 2, "required"),
    ("unknown command", lambda t: ["frobnicate"], 2, "invalid choice"),
    ("missing --num-samples", lambda t: ["generate", "--preset", "mild", "--out", "x"], 2, "--num-samples"),
    ("negative -n", lambda t: ["generate", "--preset", "mild", "-n", "-1", "--out", "x"], 2, "--num-samples must be in [0, 2**64)"),
    ("-n 2**64", lambda t: ["generate", "--preset", "mild", "-n", str(2**64), "--out", "x"], 2, "--num-samples must be"),
    ("-n of 5000 digits", lambda t: ["generate", "--preset", "mild", "-n", "9" * 5000, "--out", "x"], 2, "--num-samples must be"),
    ("-n not a number", lambda t: ["generate", "--preset", "mild", "-n", "ten", "--out", "x"], 2, "must be an integer"),
    ("--epoch 2**32", lambda t: ["generate", "--preset", "mild", "-n", "1", "--epoch", str(2**32), "--out", "x"], 2, "--epoch"),
    ("ids past 2**64", lambda t: ["generate", "--preset", "mild", "-n", "2", "--start", str(2**64 - 1), "--out", "x"], 2,
     "must be < 2**64"),
    ("--chunk-size 0", lambda t: [*GEN, "--chunk-size", "0", "--out", "x"], 2, "--chunk-size must be >= 1"),
    ("--out empty", lambda t: [*GEN, "--out", ""], 2, "--out must name a directory"),
    ("--out /", lambda t: [*GEN, "--out", "/"], 2, "names no directory"),
    ("--out name too long", lambda t: [*GEN, "--out", str(t / ("a" * 250))], 2, "bytes long"),
    ("--out path too long", lambda t: [*GEN, "--out", str(t / ("a/" * 3000))], 2, "File name too long"),
    ("--out dangling link", lambda t: [*GEN, "--out", dangling(t)], 2, "which does not exist"),
    # A name dpa gives the siblings of another output: that output's run would adopt it (.partial) or delete it.
    ("--out named like a sibling", lambda t: [*GEN, "--out", str(t / "params.dpa-trash")], 2, "'.dpa-trash'"),
    ("--out named like a partial", lambda t: [*GEN, "--out", str(t / "params.partial")], 2, "'.partial'"),
    ("--out under a file", lambda t: [*GEN, "--out", write(t, "f", "x") + "/out"], 2, "not a directory"),
    ("--config a directory", lambda t: [*GEN[:1], "--config", str(t), "-n", "1", "--out", "x"], 2, "is a directory"),
    ("--config missing", lambda t: [*GEN[:1], "--config", str(t / "no.json"), "-n", "1", "--out", "x"], 2,
     "No such file"),
    ("--config empty path", lambda t: [*GEN[:1], "--config", "", "-n", "1", "--out", "x"], 2, "empty path"),
    ("--config not JSON", lambda t: [*GEN[:1], "--config", write(t, "c.json", "{"), "-n", "1", "--out", "x"], 2,
     "not valid JSON"),
    ("--config nested 200k deep", lambda t: [*GEN[:1], "--config", write(t, "c.json", DEEP), "-n", "1", "--out", "x"], 2,
     "c.json"),
    ("--config with 10**400", lambda t: [*GEN[:1], "--config", write(t, "c.json", BIG_INT), "-n", "1", "--out", "x"], 2,
     "c.json"),
    ("--config a list", lambda t: [*GEN[:1], "--config", write(t, "c.json", "[1]"), "-n", "1", "--out", "x"], 2, "c.json"),
    ("--config not UTF-8", lambda t: [*GEN[:1], "--config", write_bytes(t, "c.json", b"\xff\xfe\x00"), "-n", "1",
                                      "--out", "x"], 2, "c.json"),
    ("--config a bad spec", lambda t: [*GEN[:1], "--config", write(t, "c.json", '{"a": {"kind": "gauss"}}'), "-n", "1",
                                       "--out", "x"], 2, "unknown spec kind"),
    ("verify of nothing", lambda t: ["verify", str(t / "nothing")], 2, "does not exist"),
    ("verify of an empty path", lambda t: ["verify", ""], 2, "empty path"),
    ("verify of a directory without metadata", lambda t: ["verify", str(t)], 2, "metadata.json does not exist"),
    ("ranges -w 0", lambda t: ["ranges", "-n", "10", "-w", "0"], 2, "--world-size must be >= 1"),
    ("ranges --start past the end", lambda t: ["ranges", "-n", "10", "-w", "3", "--start", "11"], 2,
     "--start must be in [0, --num-samples] = [0, 10]; got 11"),
    ("ranges --pad --drop-last", lambda t: ["ranges", "-n", "10", "-w", "2", "--pad", "--drop-last"], 2, "not allowed"),
    ("inspect --rows 5000", lambda t: ["inspect", "--rows", "5000"], 2, "--rows must be in [0, 1001)"),
    ("bench --device without torch", lambda t: ["bench", "--device", "cuda"], 2, "needs --backend torch"),
    ("bench --device unknown to torch", lambda t: ["bench", "--backend", "torch", "--device", "nonsense", "--quick"], 2,
     "--device nonsense"),
    # 3: refused
    ("output exists", lambda t: [*GEN, "--out", str(made(t))], 3, "already exists"),
    ("interrupted run without --resume", lambda t: [*GEN, "--out", str(partial_run(t))], 3, "--resume"),
    ("--overwrite of a directory that is not dpa's",
     lambda t: [*GEN, "--out", str(Path(write(t, "thesis.tex", "x")).parent), "--overwrite"], 3, "is not a dpa output"),
    ("--overwrite of a file", lambda t: [*GEN, "--out", write(t, "f", "x"), "--overwrite"], 3, "is not a dpa output"),
    ("--resume with another seed", lambda t: [*GEN, "--out", str(partial_run(t)), "--resume", "--seed", "1"], 3,
     "different seed"),
    # 4: I/O or space
    ("not enough space", lambda t: [*GEN[:4], str(10**14), "--out", str(t / "o")], 4, "not enough space"),
]


@pytest.mark.parametrize("argv, code, fragment", [r[1:] for r in TABLE], ids=[r[0] for r in TABLE])
def test_exit_code(argv, code, fragment, tmp_path, capsys) -> None:
    args = argv(tmp_path)
    capsys.readouterr()
    assert main(args) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in EXIT_CODES
    if code:
        errors = [line for line in err.splitlines() if line.startswith("dpa: error: ")]
        assert len(errors) == 1, err
        assert fragment in errors[0], err


def test_locked_is_exit_3(tmp_path, capsys) -> None:
    with OutputLock(tmp_path / "o.dpa-lock", tmp_path / "o"):
        assert main([*GEN, "--out", str(tmp_path / "o")]) == 3
    assert "being written by another dpa process" in capsys.readouterr().err


def test_disk_full_is_exit_4(tmp_path) -> None:
    r = run_dpa(*GEN, "--out", str(tmp_path / "o"), env={"DPA_TEST_ENOSPC_AT": "npy-allocated:3"})
    assert r.returncode == 4 and r.stderr.startswith("dpa: error: not enough space") and "Traceback" not in r.stderr


def test_ctrl_c_is_exit_130_and_resumable(tmp_path, capsys) -> None:
    out = tmp_path / "o"
    proc = dpa_process(*GEN, "--chunk-size", "100", "--out", str(out), env={"DPA_TEST_STOP_AT": "chunk-written:2"})
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)
    proc.send_signal(signal.SIGINT)  # delivered when it continues
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate()
    assert proc.returncode == 130
    assert err.strip() == "dpa: error: interrupted; rerun the same command with --resume to finish it"
    ref = tmp_path / "ref"
    assert main([*GEN, "--out", str(ref)]) == 0
    assert main([*GEN, "--out", str(out), "--resume"]) == 0
    assert_same_output(out, ref)


def test_closed_pipe_is_exit_141_without_noise() -> None:
    proc = dpa_process("ranges", "-n", "1000000", "-w", "5000", "--json")
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait()
    assert proc.returncode == 141 and err == ""


def test_real_processes_never_show_a_traceback(tmp_path) -> None:
    (tmp_path / "deep.json").write_text(DEEP)
    cases = [
        ["generate", "--config", str(tmp_path / "deep.json"), "-n", "1", "--out", str(tmp_path / "o")],
        ["generate", "--config", str(tmp_path), "-n", "1", "--out", str(tmp_path / "o")],
        ["generate", "--preset", "mild", "-n", "18446744073709551615", "--out", str(tmp_path / "o")],
        ["verify", str(tmp_path)],
        ["generate", "--preset", "mild", "-n", "-5", "--out", "x"],
    ]
    for args in cases:
        r = run_dpa(*args)
        assert r.returncode in (2, 4) and "Traceback" not in r.stderr, (args, r.stderr)
        assert r.stderr.strip().splitlines()[-1].startswith("dpa: error: "), r.stderr


def test_exit_codes_are_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "CLI.md").read_text()
    for code in EXIT_CODES:
        assert f"| {code} |" in doc, code
    assert json.dumps(sorted(EXIT_CODES)) == "[0, 1, 2, 3, 4, 70, 130, 141]"


def test_an_unexpected_exception_is_an_internal_error() -> None:
    from dpa.cli import _classify

    assert _classify(RuntimeError("boom"), "generate") == (70, "internal error (RuntimeError: boom); please report it")


def test_a_table_into_a_closed_pipe_is_exit_141_too() -> None:
    # rich's own handling of a broken pipe exits 1, verify's "mismatch" code. The table (about 300 kB)
    # is more than a pipe holds, so the write after the close is certain to fail.
    proc = dpa_process("inspect", "--rows", "1000")
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait()
    assert proc.returncode == 141 and err == ""


def test_a_config_that_never_ends_is_refused_in_bounded_memory(tmp_path) -> None:
    # /dev/zero is not a regular file, so its size cannot be checked up front: the read itself is capped.
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    proc = dpa_process("generate", "--config", "/dev/zero", "-n", "1", "--out", str(tmp_path / "o"), preexec_fn=cap)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert_clean_error(err, "--config /dev/zero", "at most")


def test_bench_torch_backend_without_torch_is_bad_usage(monkeypatch, capsys) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    assert main(["bench", "--backend", "torch", "--quick", "--processes", "1"]) == 2
    assert_clean_error(capsys.readouterr().err, "--backend torch", "pip install torch")


def test_out_of_memory_hints_at_the_command_s_own_option() -> None:
    from dpa.cli import _classify

    assert _classify(MemoryError(), "generate") == (4, "out of memory (try a smaller --chunk-size)")
    assert _classify(MemoryError(), "bench") == (4, "out of memory (try a smaller --samples)")  # bench has no --chunk-size
